#pragma once
// Leveled logs, one line per event, on stderr:
//
//   2026-11-21T10:00:00.123Z INFO  consensus committed h=12 v=0 hash=ab12cd34 txs=3
//
// time (UTC, ms), level, component, event, then key=value fields. In the
// json format (`verityd start --log-format json`) each line is one JSON
// object instead, the fields' values as strings:
//
//   {"time":"2026-11-21T10:00:00.123Z","level":"info","component":"consensus",
//    "event":"committed","h":12,"v":0,"hash":"ab12cd34","txs":"3"}
//
// (a field named like one of the first six gets "field_" before its name). Every
// line of the node carries the consensus height and view it was written at
// (h= v=), set by the node as they change. Lines are written whole under a
// mutex and flushed, so a crash keeps every line written before it.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace verity::node {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };
enum class LogFormat { text = 0, json = 1 };

// "text", "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view s);
const char* log_format_word(LogFormat format);

// "debug", "info", "warn", "error"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view s);
const char* log_level_name(LogLevel level);  // "INFO ": padded for log lines
const char* log_level_word(LogLevel level);  // "info": as in the config file

class Fields;

class Logger {
 public:
  explicit Logger(LogLevel min = LogLevel::info, std::ostream* out = nullptr);  // nullptr: std::cerr

  void set_min(LogLevel level) { min_ = level; }
  void set_format(LogFormat format) { format_ = format; }
  bool enabled(LogLevel level) const { return level >= min_; }
  void set_position(std::uint64_t height, std::uint64_t view) {
    height_ = height;
    view_ = view;
  }

  void write(LogLevel level, std::string_view component, std::string_view event, const Fields& fields);

 private:
  LogLevel min_;
  LogFormat format_ = LogFormat::text;
  std::ostream* out_;
  std::mutex mutex_;
  std::atomic<std::uint64_t> height_{0}, view_{0};
};

// Builds the key=value tail of a line: Fields().add("peer", p).add("n", 3).
// Values with spaces or quotes are quoted.
class Fields {
 public:
  template <class T>
  Fields& add(std::string_view key, const T& value) {
    std::ostringstream o;
    o << value;
    put(key, o.str());
    return *this;
  }
  Fields& add(std::string_view key, std::string_view value) {
    put(key, value);
    return *this;
  }
  Fields& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  Fields& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  // " key=value key=value" (values with spaces or quotes quoted).
  const std::string& str() const { return s_; }
  const std::vector<std::pair<std::string, std::string>>& pairs() const { return pairs_; }

 private:
  void put(std::string_view key, std::string_view value);
  std::string s_;
  std::vector<std::pair<std::string, std::string>> pairs_;
};

// A component's view of the logger: log.info("committed", Fields().add(...)).
class Log {
 public:
  Log(Logger& logger, std::string component) : logger_(&logger), component_(std::move(component)) {}
  void debug(std::string_view event, const Fields& f = {}) const { at(LogLevel::debug, event, f); }
  void info(std::string_view event, const Fields& f = {}) const { at(LogLevel::info, event, f); }
  void warn(std::string_view event, const Fields& f = {}) const { at(LogLevel::warn, event, f); }
  void error(std::string_view event, const Fields& f = {}) const { at(LogLevel::error, event, f); }
  bool enabled(LogLevel level) const { return logger_->enabled(level); }
  Logger& logger() const { return *logger_; }

 private:
  void at(LogLevel level, std::string_view event, const Fields& f) const {
    if (logger_->enabled(level)) logger_->write(level, component_, event, f);
  }
  Logger* logger_;
  std::string component_;
};

}  // namespace verity::node
