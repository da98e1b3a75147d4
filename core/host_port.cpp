#include "core/host_port.h"

#include <cctype>
#include <charconv>

namespace verity {

std::string HostPort::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> parse_host_port(std::string_view s, bool allow_zero) {
  auto fail = [&](const std::string& why) {
    return make_error("bad-address", "expected HOST:PORT, got \"" + std::string(s) + "\"" + (why.empty() ? "" : ": " + why));
  };
  HostPort hp;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return fail("");
    hp.host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return fail("");
    hp.host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos) return fail("write IPv6 addresses as [ADDR]:PORT");
  }
  if (hp.host.empty()) return fail("empty host");
  for (char ch : hp.host)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == ':' || ch == '_'))
      return fail("bad character in host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535)
    return fail("port must be 0-65535");
  if (value == 0 && !allow_zero) return fail("port must not be 0");
  hp.port = static_cast<std::uint16_t>(value);
  return hp;
}

}  // namespace verity
