#include "node/log.h"

#include <array>
#include <chrono>
#include <ctime>
#include <iostream>

#include "core/enum_names.h"

namespace verity::node {

namespace {
constexpr std::array<const char*, 4> kLevelWords = {"debug", "info", "warn", "error"};
constexpr std::array<const char*, 4> kLevelNames = {"DEBUG", "INFO ", "WARN ", "ERROR"};  // padded for log lines
constexpr std::array<const char*, 2> kFormatWords = {"text", "json"};

// The length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((at(i + k) >> 6) != 0x2) return 0;
  // Overlong forms, surrogates and code points above U+10FFFF are not UTF-8.
  if (n == 2 && c < 0xC2) return 0;
  if (n == 3 && ((c == 0xE0 && at(i + 1) < 0xA0) || (c == 0xED && at(i + 1) >= 0xA0))) return 0;
  if (n == 4 && ((c == 0xF0 && at(i + 1) < 0x90) || c > 0xF4 || (c == 0xF4 && at(i + 1) >= 0x90))) return 0;
  return n;
}

// `s` as a JSON string literal; bytes that are not UTF-8 become U+FFFD.
void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto u = static_cast<unsigned char>(s[i]);
    const std::size_t n = utf8_length(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      if (u == '"' || u == '\\') {
        out += '\\';
        out += static_cast<char>(u);
      } else if (u < 0x20) {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", u);
        out += esc;
      } else {
        out += static_cast<char>(u);
      }
      ++i;
    }
  }
  out += '"';
}

bool reserved(std::string_view key) {
  return key == "time" || key == "level" || key == "component" || key == "event" || key == "h" || key == "v";
}
}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view s) { return enum_from_name<LogFormat>(kFormatWords, s); }

const char* log_format_word(LogFormat format) { return enum_name(kFormatWords, format); }

std::optional<LogLevel> parse_log_level(std::string_view s) { return enum_from_name<LogLevel>(kLevelWords, s); }

const char* log_level_name(LogLevel level) { return enum_name(kLevelNames, level); }

const char* log_level_word(LogLevel level) { return enum_name(kLevelWords, level); }

Logger::Logger(LogLevel min, std::ostream* out) : min_(min), out_(out ? out : &std::cerr) {}

void Logger::write(LogLevel level, std::string_view component, std::string_view event, const Fields& fields) {
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
  if (format_ == LogFormat::json) {
    line.reserve(128 + fields.str().size());
    line += "{\"time\":";
    json_string(line, stamp);
    line += ",\"level\":";
    json_string(line, log_level_word(level));
    line += ",\"component\":";
    json_string(line, component);
    line += ",\"event\":";
    json_string(line, event);
    line += ",\"h\":" + std::to_string(height_.load()) + ",\"v\":" + std::to_string(view_.load());
    for (const auto& [key, value] : fields.pairs()) {
      line += ',';
      json_string(line, reserved(key) ? "field_" + key : key);
      line += ':';
      json_string(line, value);
    }
    line += "}\n";
    std::lock_guard lock(mutex_);
    *out_ << line << std::flush;
    return;
  }
  line.reserve(96 + fields.str().size());
  line += stamp;
  line += ' ';
  line += log_level_name(level);
  line += ' ';
  line += component;
  line += ' ';
  line += event;
  line += " h=" + std::to_string(height_.load()) + " v=" + std::to_string(view_.load());
  line += fields.str();
  line += '\n';
  std::lock_guard lock(mutex_);
  *out_ << line << std::flush;
}

void Fields::put(std::string_view key, std::string_view value) {
  pairs_.emplace_back(key, value);
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
