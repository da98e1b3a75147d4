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

// Bounds of the encoding: each string, and each list.
inline constexpr std::size_t kMaxReceiptText = 1024;
inline constexpr std::size_t kMaxReceiptItems = 256;

struct Event {
  std::string kind;  // "transfer", ...
  std::vector<std::pair<std::string, std::string>> attributes;

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("kind", s.kind, Max{kMaxReceiptText});
    f("attributes", s.attributes, Max{kMaxReceiptItems, 2}, Max{kMaxReceiptText});
  }
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

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("tx_id", s.tx_id);
    f("height", s.height);
    f("index", s.index);
    f("ok", s.ok);
    f("reason", s.reason, Max{kMaxReceiptText});
    f("fee_paid", s.fee_paid);
    f("events", s.events, Max{kMaxReceiptItems, 2});
  }
  friend bool operator==(const Receipt&, const Receipt&) = default;
};

}  // namespace verity
