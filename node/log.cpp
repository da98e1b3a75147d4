#include "node/log.h"

#include <chrono>
#include <ctime>
#include <iostream>

namespace verity::node {

std::optional<LogLevel> parse_log_level(std::string_view s) {
  if (s == "debug") return LogLevel::debug;
  if (s == "info") return LogLevel::info;
  if (s == "warn") return LogLevel::warn;
  if (s == "error") return LogLevel::error;
  return std::nullopt;
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO ";
    case LogLevel::warn: return "WARN ";
    case LogLevel::error: return "ERROR";
  }
  return "?";
}

const char* log_level_word(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "?";
}

Logger::Logger(LogLevel min, std::ostream* out) : min_(min), out_(out ? out : &std::cerr) {}

void Logger::write(LogLevel level, std::string_view component, std::string_view event, std::string_view fields) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  line.reserve(96 + fields.size());
  line += stamp;
  line += ' ';
  line += log_level_name(level);
  line += ' ';
  line += component;
  line += ' ';
  line += event;
  line += " h=" + std::to_string(height_.load()) + " v=" + std::to_string(view_.load());
  line += fields;
  line += '\n';
  std::lock_guard lock(mutex_);
  *out_ << line << std::flush;
}

void Fields::put(std::string_view key, std::string_view value) {
  s_ += ' ';
  s_ += key;
  s_ += '=';
  bool quote = value.empty() || value.find_first_of(" \t\"=\n") != std::string_view::npos;
  if (!quote) {
    s_ += value;
    return;
  }
  s_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') s_ += '\\';
    s_ += c == '\n' ? ' ' : c;
  }
  s_ += '"';
}

}  // namespace verity::node
