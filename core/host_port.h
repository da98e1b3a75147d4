#pragma once
// Network addresses as users write them: the one parser of HOST:PORT for
// every program (config listen addresses and peers, `verityd init
// --p2p-listen`, the clients' --rpc URLs).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace verity {

struct HostPort {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
  // "HOST:PORT", with an IPv6 host in brackets: what parse_host_port reads back.
  std::string str() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// "HOST:PORT" (IPv4 or a name; "[v6]:PORT" for IPv6). Port 0 is allowed
// only when `allow_zero` (tests: the OS picks). Reason "bad-address"; the
// detail quotes the text and says what is wrong.
Result<HostPort> parse_host_port(std::string_view s, bool allow_zero = false);

}  // namespace verity
