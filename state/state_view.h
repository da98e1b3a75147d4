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

  Result<std::optional<Bytes>> get(ByteView key) const override;
  void put(ByteView key, ByteView value);
  void erase(ByteView key);

  using Checkpoint = std::size_t;
  Checkpoint checkpoint() const { return journal_.size(); }
  // Undoes every write made since `cp`.
  void rollback(Checkpoint cp);

  std::vector<StateUpdate> changes() const;

 private:
  void record(const Bytes& key);
  const StateReader& base_;
  std::map<Bytes, std::optional<Bytes>> writes_;
  // For each write: the key and what the overlay held before it (outer
  // nullopt: the overlay had no entry for the key).
  std::vector<std::pair<Bytes, std::optional<std::optional<Bytes>>>> journal_;
};

}  // namespace verity::state
