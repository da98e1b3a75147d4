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
//
// A map may keep a bounded cache of committed nodes (cache_nodes > 0):
// those it read from the store or flushed into a batch. Nodes never
// change, so a cached node is always right; the cache only spares LevelDB
// reads of the nodes near the root, which every block walks again. Two
// generations bound it: when the newer one holds cache_nodes / 2, it
// becomes the older one and the oldest is dropped; a hit in the older one
// moves the node to the newer. At most cache_nodes nodes (about 150 bytes
// each) are held. A map with a cache must stay on one thread, even for
// prove() (the node's consensus thread; views made for readers have none).

#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/state_proof.h"
#include "state/kv_store.h"
#include "state/state_view.h"

namespace verity::state {

class StateMap {
 public:
  explicit StateMap(const KvStore& store, std::size_t cache_nodes = 0) : store_(store), cache_nodes_(cache_nodes) {}

  // Returns the root after applying `updates` (a later update of a key wins)
  // to the map under `root`.
  Result<Hash256> apply(const Hash256& root, std::vector<StateUpdate> updates);
  // Moves the nodes created since the last flush into `batch`.
  void flush(WriteBatch& batch);
  // Drops unflushed nodes (e.g. after a block failed to verify).
  void discard() { pending_.clear(); }

  Result<StateProof> prove(const Hash256& root, ByteView key) const;

  // Nodes found in the cache and read from the store so far (for tests and
  // benchmarks), and the nodes the cache holds now.
  struct CacheCounters {
    std::uint64_t hits = 0, store_reads = 0;
    std::size_t held = 0;
  };
  CacheCounters cache_counters() const {
    return {cache_hits_, store_reads_, cache_new_.size() + cache_old_.size()};
  }

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

  struct FirstWord {  // node hashes are uniform: their first 8 bytes suffice
    std::size_t operator()(const Hash256& h) const {
      std::size_t v;
      std::memcpy(&v, h.data.data(), sizeof v);
      return v;
    }
  };
  using Cache = std::unordered_map<Hash256, Node, FirstWord>;
  void cache_put(const Hash256& hash, const Node& node) const;

  const KvStore& store_;
  std::map<Hash256, Node> pending_;
  std::size_t cache_nodes_;
  mutable Cache cache_new_, cache_old_;
  mutable std::uint64_t cache_hits_ = 0, store_reads_ = 0;
};

}  // namespace verity::state
