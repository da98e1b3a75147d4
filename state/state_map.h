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
// reads. It is a set-associative table (NodeCache below) of at most
// cache_nodes slots of about 100 bytes, reserved when the map is made and
// resident only where nodes landed (see NodeCache::note_growth). A
// map with a cache must stay on one thread, even for prove() (the node's
// consensus thread; views made for readers have none).

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/state_proof.h"
#include "state/kv_store.h"
#include "state/state_view.h"

namespace verity::state {

// What one cached node takes (a slot of StateMap's cache), to size the
// cache in bytes.
constexpr std::size_t kStateCacheSlotBytes = 32 + 1 + 32 + 32 + 1;
// The node cache of the chain's own map unless the node's config says
// otherwise ([storage] state_cache_mb), and of state_bench.
constexpr std::size_t kStateCacheDefaultMb = 128;
constexpr std::size_t state_cache_nodes(std::size_t mb) { return (mb << 20) / kStateCacheSlotBytes; }

// The store prefixes of state-map nodes and of orphan lists.
inline constexpr std::string_view kStateNodePrefix = "n/", kOrphansPrefix = "o/";

// The store key of the list of nodes that the version at `height` dropped
// from the version before it ("o/" + be64(height): their hashes, 32 bytes
// each).
Bytes orphans_key(std::uint64_t height);
// The store key of a state-map node ("n/" + its hash).
Bytes state_node_key(const Hash256& hash);

class StateMap {
 public:
  explicit StateMap(const KvStore& store, std::size_t cache_nodes = 0) : store_(store), cache_(cache_nodes) {}

  // Returns the root after applying `updates` (a later update of a key wins)
  // to the map under `root`.
  Result<Hash256> apply(const Hash256& root, std::vector<StateUpdate> updates);
  // Moves the nodes created since the last flush into `batch`, each marked
  // as written at `height`, and (when recording orphans) the list of the
  // nodes that the new version no longer holds, under orphans_key(height).
  void flush(WriteBatch& batch, std::uint64_t height);
  // Drops unflushed nodes (e.g. after a block failed to verify).
  void discard() {
    pending_.clear();
    orphans_.clear();
  }
  // Whether flush() writes orphan lists (for pruning; off for archive
  // nodes, which keep every version and need no list).
  void set_record_orphans(bool on) { record_orphans_ = on; }

  // A node as stored, with the height of the last batch that wrote it.
  struct Node {
    bool leaf = false;
    Hash256 a, b;  // leaf: path, value hash; inner: left, right
  };
  struct Stored {
    Node node;
    std::uint64_t written_at = 0;
  };
  static Result<Stored> load_stored(const KvStore& store, const Hash256& hash);

  Result<StateProof> prove(const Hash256& root, ByteView key) const;

  // Nodes found in the cache and read from the store so far (for tests and
  // benchmarks), and the nodes the cache holds now.
  struct CacheCounters {
    std::uint64_t hits = 0, store_reads = 0;
    std::size_t held = 0;
  };
  CacheCounters cache_counters() const { return {cache_hits_, store_reads_, cache_.held()}; }

 private:
  struct Pending {
    Hash256 path;
    std::optional<Hash256> value_hash;
  };
  // What a subtree's root is, as far as the walk knows: a child it has
  // not read is `unknown` (the empty subtree counts as inner).
  enum class Kind : std::uint8_t { unknown, leaf, inner };
  struct Sub {
    Hash256 hash;
    Kind kind = Kind::unknown;
  };

  Result<Node> load(const Hash256& hash) const;
  Result<Sub> update(const Sub& node, unsigned depth, const Pending* begin, const Pending* end);
  Result<Sub> make_inner(const Sub& left, const Sub& right);
  Result<Kind> kind_of(const Sub& sub) const;
  Sub make_leaf(const Hash256& path, const Hash256& value_hash);

  struct FirstWord {  // node hashes are uniform: their first 8 bytes suffice
    std::size_t operator()(const Hash256& h) const {
      std::size_t v;
      std::memcpy(&v, h.data.data(), sizeof v);
      return v;
    }
  };
  // A fixed table of ways x sets slots, allocated once: a node's set is
  // picked by its hash, and a full set replaces a slot not used since the
  // set was last swept (a second chance, as in CLOCK). Nothing is freed
  // or rehashed as nodes come and go, and the nodes every block walks
  // (near the root) stay.
  class NodeCache {
   public:
    explicit NodeCache(std::size_t max_nodes);
    ~NodeCache();
    NodeCache(const NodeCache&) = delete;
    NodeCache& operator=(const NodeCache&) = delete;
    const Node* find(const Hash256& hash);
    void put(const Hash256& hash, const Node& node);
    void erase(const Hash256& hash);
    std::size_t held() const { return held_; }

   private:
    static constexpr std::size_t kWays = 4;
    struct Slot {
      Hash256 hash;  // kEmptySubtree: a free slot (no node has that hash)
      Node node;
      bool used = false;
    };
    Slot* set_of(const Hash256& hash);
    void note_growth();
    std::size_t bytes() const { return sets_ * kWays * sizeof(Slot); }  // the table's size
    Slot* slots_ = nullptr;  // mmap'd: sets_ * kWays slots
    std::size_t sets_ = 0, held_ = 0;
    bool huge_pages_ = false;  // advised MADV_HUGEPAGE (note_growth)
  };

  const KvStore& store_;
  std::unordered_map<Hash256, Node, FirstWord> pending_;
  std::vector<Hash256> orphans_;
  bool record_orphans_ = false;
  mutable NodeCache cache_;
  mutable std::uint64_t cache_hits_ = 0, store_reads_ = 0;
};

// What one prune_state_nodes() call did.
struct PruneStats {
  std::uint64_t heights = 0;        // orphan lists done (one per committed height)
  std::uint64_t nodes_deleted = 0;  // state-map nodes deleted
  std::uint64_t nodes_kept = 0;     // listed nodes a later version wrote again
  std::uint64_t blocks_deleted = 0;  // blocks, with certificates and receipts (Chain::prune)
};

// Deletes the state-map nodes listed as dropped by the versions at heights
// up to `last` (orphans_key), oldest list first, whole lists only, until
// about `max_nodes` nodes were looked at; then the lists themselves. A
// node written again at or after the height that dropped it is kept: a
// later version holds it. The store is read, never a map, so this may run
// on its own thread while the map's owner commits, as long as both write
// under `write_mu`: each chunk of kPruneChunk nodes is checked and deleted
// under it, so that no commit writes a node again in between, and a commit
// waits for one chunk at most.
inline constexpr std::size_t kPruneChunk = 256;
Result<PruneStats> prune_state_nodes(KvStore& store, std::uint64_t last, std::size_t max_nodes, std::mutex& write_mu);

}  // namespace verity::state
