#pragma once
// What executing a transaction produced: success or a stable failure
// reason, the fee paid, and the events the contracts emitted. A failed
// transaction still pays its fee and uses its nonce.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/amount.h"
#include "core/encoding.h"
#include "core/hash.h"

namespace verity {

struct Event {
  std::string kind;  // "transfer", ...
  std::vector<std::pair<std::string, std::string>> attributes;

  void encode(Writer& w) const;
  static Event decode(Reader& r);
  friend bool operator==(const Event&, const Event&) = default;
};

struct Receipt {
  Hash256 tx_id;
  std::uint64_t height = 0;
  std::uint64_t index = 0;  // position in the block
  bool ok = true;
  std::string reason;  // stable kebab-case reason when !ok
  Amount fee_paid;
  std::vector<Event> events;

  void encode(Writer& w) const;
  static Receipt decode(Reader& r);
  friend bool operator==(const Receipt&, const Receipt&) = default;
};

}  // namespace verity
