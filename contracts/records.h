#pragma once
// Typed access to state for the contracts: a value of any type the codec
// knows (core/encoding.h) stored under a key, read back strictly. A stored
// value that does not decode is a local fault ("state-corrupt"): the
// node's own state is damaged, no transaction is to blame.

#include <optional>
#include <vector>

#include "core/amount.h"
#include "core/encoding.h"
#include "core/keys.h"
#include "state/state_view.h"

namespace verity::contracts {

// The record under `key`, or nullopt when absent.
template <class T>
Result<std::optional<T>> load_optional(const state::StateReader& state, ByteView key) {
  return decode_stored<T>(state.get(key));
}

// The record under `key`, or `absent` when there is none.
template <class T>
Result<T> load_record(const state::StateReader& state, ByteView key, T absent = T{}) {
  auto v = load_optional<T>(state, key);
  if (!v) return v.error();
  if (!v->has_value()) return absent;
  return std::move(**v);
}

template <class T>
void store_record(state::StateOverlay& state, ByteView key, const T& value) {
  state.put(key, encode(value));
}

// A list of records as one value. Lists kept in state are bounded by the
// protocol (unbonding entries per delegator, validators, ...).
template <class T>
struct RecordList {
  std::vector<T> items;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("items", s.items, Max{1'000'000});
  }
};

// Stores a list, or erases its key when it is empty (an absent list reads
// back as an empty one, and takes no space).
template <class T>
void store_list(state::StateOverlay& state, ByteView key, const RecordList<T>& list) {
  if (list.items.empty())
    state.erase(key);
  else
    store_record(state, key, list);
}

// Checked arithmetic on amounts kept in state. An overflow is the
// transaction's fault ("amount-overflow"); an underflow of something the
// contracts themselves keep balanced is the node's ("state-corrupt").
inline Status add_to(Amount& target, Amount v) {
  auto r = target.checked_add(v);
  if (!r) return r.error();
  target = *r;
  return {};
}
inline Status take_from(Amount& target, Amount v) {
  auto r = target.checked_sub(v);
  if (!r) return local_error("state-corrupt", "accounting underflow: " + r.error().detail);
  target = *r;
  return {};
}

// A number as a record (a counter, a score, an id in a list).
struct U64Record {
  std::uint64_t value = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("value", s.value);
  }
};

// A public key as a record, for lists of keys.
struct KeyRecord {
  PublicKey key;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("key", s.key);
  }
  friend auto operator<=>(const KeyRecord&, const KeyRecord&) = default;
};

}  // namespace verity::contracts
