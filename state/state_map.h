#pragma once
// The authenticated state map: a compact sparse Merkle tree (rules in
// core/state_proof.h) whose nodes live in the KvStore under "n/" + hash.
// Nodes are content-addressed and never rewritten, so every committed root
// stays readable and provable (pruning old roots is future work).
//
// apply() updates a batch of keys in one walk: the nodes on the union of
// their paths are rebuilt once each, O(k log n) hashes for k keys, never a
// rehash of the map. New nodes stay in memory until flush() moves them into
// the caller's WriteBatch, so a block's nodes land in the block's batch.
//
// Not thread-safe; the node has one writer.

#include <map>
#include <optional>
#include <vector>

#include "core/state_proof.h"
#include "state/kv_store.h"
#include "state/state_view.h"

namespace verity::state {

class StateMap {
 public:
  explicit StateMap(const KvStore& store) : store_(store) {}

  // Returns the root after applying `updates` (a later update of a key wins)
  // to the map under `root`.
  Result<Hash256> apply(const Hash256& root, std::vector<StateUpdate> updates);
  // Moves the nodes created since the last flush into `batch`.
  void flush(WriteBatch& batch);
  // Drops unflushed nodes (e.g. after a block failed to verify).
  void discard() { pending_.clear(); }

  Result<StateProof> prove(const Hash256& root, ByteView key) const;

 private:
  struct Node {
    bool leaf = false;
    Hash256 a, b;  // leaf: path, value hash; inner: left, right
  };
  struct Pending {
    Hash256 path;
    std::optional<Hash256> value_hash;
  };
  struct Sub {
    Hash256 hash;
    bool is_leaf = false;
  };

  Result<Node> load(const Hash256& hash) const;
  Result<Sub> update(const Sub& node, unsigned depth, const Pending* begin, const Pending* end);
  Sub make_inner(const Sub& left, const Sub& right);
  Sub make_leaf(const Hash256& path, const Hash256& value_hash);

  const KvStore& store_;
  std::map<Hash256, Node> pending_;
};

}  // namespace verity::state
