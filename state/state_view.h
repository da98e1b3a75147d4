#pragma once
// The view of state that contracts use, and the overlay that transactions
// write into. This header (and state_view.cpp) needs only core: it is the
// "state's view interface" that contracts/ may use.
//
// StateOverlay keeps every write of a block in memory over the committed
// state. checkpoint()/rollback() give each transaction an undo scope: a
// failed transaction's writes are rolled back, then its fee and nonce are
// charged outside the scope. changes() lists the net writes, sorted by key,
// for the state map and the block's write batch.

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace verity::state {

struct StateUpdate {
  Bytes key;
  std::optional<Bytes> value;  // nullopt deletes
};

class StateReader {
 public:
  virtual ~StateReader() = default;
  // nullopt when the key is absent.
  virtual Result<std::optional<Bytes>> get(ByteView key) const = 0;
};

class StateOverlay final : public StateReader {
 public:
  explicit StateOverlay(const StateReader& base) : base_(base) {}
  StateOverlay(const StateOverlay&) = delete;  // the journal points into writes_
  StateOverlay& operator=(const StateOverlay&) = delete;

  Result<std::optional<Bytes>> get(ByteView key) const override;
  void put(ByteView key, ByteView value);
  void erase(ByteView key);

  using Checkpoint = std::size_t;
  Checkpoint checkpoint() const { return journal_.size(); }
  // Undoes every write made since `cp`.
  void rollback(Checkpoint cp);

  std::vector<StateUpdate> changes() const;
  // The same, moved out: the overlay is left empty.
  std::vector<StateUpdate> take_changes();

 private:
  // Byte-wise order, as std::less<Bytes> (so changes() comes out in the
  // same order), and transparent: a lookup by ByteView allocates nothing.
  struct KeyLess {
    using is_transparent = void;
    bool operator()(ByteView a, ByteView b) const {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    }
  };
  using Writes = std::map<Bytes, std::optional<Bytes>, KeyLess>;
  void write(ByteView key, std::optional<Bytes> value);

  const StateReader& base_;
  Writes writes_;
  // For each write: its entry, and what the entry held before it (outer
  // nullopt: the overlay had no entry for the key, and rollback erases
  // it). Entries are erased only by rollback, newest first, so every
  // iterator here is valid.
  std::vector<std::pair<Writes::iterator, std::optional<std::optional<Bytes>>>> journal_;
};

}  // namespace verity::state
