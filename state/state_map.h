#pragma once
// The authenticated state map: a compact sparse Merkle tree (rules in
// core/state_proof.h) stored in pages (docs/state.md, "Pages"): for every
// inner node at a depth that is a multiple of 4, and for the root whatever
// it is, the store holds that node's subtree down four levels, with the
// leaves inside it and the hashes and versions of the pages below. A page
// is written once, under the height of the batch that made it (a root under
// its hash), and never rewritten, so every committed root stays readable
// and provable until pruned.
//
// apply() updates a batch of keys in one walk: the nodes on the union of
// their paths are rebuilt once each, O(k log n) hashes for k keys, never a
// rehash of the map. New nodes stay in memory until flush() moves the
// pages they make into the caller's WriteBatch, so a block's pages land
// in the block's batch. (Several applies before one flush write the pages
// of each; the chain applies once per flush.)
//
// Not thread-safe; the node has one writer.
//
// A map may keep a bounded cache of decoded pages (cache_bytes > 0): those
// it read from the store or flushed into a batch, by position in the tree
// (PageCache). Pages never change, so a cached page is always right; the
// cache only spares LevelDB reads and decoding. A map with a cache must
// stay on one thread, even for prove() (the node's consensus thread; views
// made for readers have none).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/state_proof.h"
#include "state/kv_store.h"
#include "state/state_view.h"

namespace verity::state {

// The page cache of the chain's own map unless the node's config says
// otherwise ([storage] state_cache_mb), and of state_bench.
constexpr std::size_t kStateCacheDefaultMb = 256;
constexpr std::size_t state_cache_bytes(std::size_t mb) { return mb << 20; }

// The store prefixes of state-map pages (the map's root pages, found by
// hash, and the others, found by version and hash) and of orphan lists; of
// the pages keyed by hash first, as written before 2026-12-05 (moved to
// kStatePagePrefix when a chain opens: migrate_hash_led_pages), and of the
// nodes of the format before pages (a store holding those is refused).
inline constexpr std::string_view kStatePagePrefix = "w/", kStateRootPrefix = "R/", kOrphansPrefix = "o/",
                                  kHashLedPagePrefix = "p/", kOldStateNodePrefix = "n/";

// Which page: the hash of its root and the height of the batch that wrote
// it, or kRootPage for a root of the map (a root is named by its hash
// alone: block headers carry it).
inline constexpr std::uint64_t kRootPage = ~std::uint64_t{0};
struct PageId {
  Hash256 hash;
  std::uint64_t version = kRootPage;
};

// The store key of the list of pages that the version at `height` dropped
// from the version before it ("o/" + be64(height): for each, be64 of its
// version (kRootPage for a root) and its hash, 40 bytes).
Bytes orphans_key(std::uint64_t height);
// The store key of a page: "R/" + hash for a root, "w/" + be64(version) +
// hash for the others. Led by the version, a batch's pages sort after all
// older ones and LevelDB appends them (its memtable inserts stay on one
// path, its compactions move new tables down without merging them);
// prune_state_nodes compacts the ranges it pruned, which LevelDB's own
// compactions, going by level size, would leave on disk (docs/state.md,
// "Pages").
Bytes state_page_key(const PageId& id);
// Moves the pages a store keeps under kHashLedPagePrefix ("p/" + hash +
// be64(version)) to their keys under kStatePagePrefix, in batches that
// each put the new keys and delete the old (so a crash midway leaves
// every page under one key or the other, and the next call goes on), then
// compacts the old range away. Returns how many it moved.
Result<std::uint64_t> migrate_hash_led_pages(KvStore& store);
inline Bytes state_root_key(const Hash256& root) { return state_page_key({root, kRootPage}); }

class StateMap {
 public:
  explicit StateMap(const KvStore& store, std::size_t cache_bytes = 0) : store_(store), cache_(cache_bytes) {}

  // Returns the root after applying `updates` (a later update of a key wins)
  // to the map under `root`.
  Result<Hash256> apply(const Hash256& root, std::vector<StateUpdate> updates);
  // Moves the pages made since the last flush into `batch`, each marked as
  // written at `height`, and (when recording orphans) the list of the pages
  // that the new version no longer holds, under orphans_key(height).
  void flush(WriteBatch& batch, std::uint64_t height);
  // Drops unflushed nodes (e.g. after a block failed to verify).
  void discard();
  // Whether flush() writes orphan lists (for pruning; off for archive
  // nodes, which keep every version and need no list).
  void set_record_orphans(bool on) { record_orphans_ = on; }
  // Whether flush() deletes, in its own batch, the stored pages that the
  // new version no longer holds, instead of listing them: for a map whose
  // earlier versions no one reads (a snapshot's restore, one flush a chunk,
  // where each chunk rebuilds the pages of the levels above).
  void set_drop_replaced(bool on) { drop_replaced_ = on; }

  // A node in memory. An inner node's child points at the child's node,
  // is null where the child is empty, or is an exit (is_exit) where the
  // child is the root of another page, not loaded (an inner node at a
  // depth that is a multiple of 4): then it carries that page's version,
  // not an address. Leaves and the other inner nodes are always at hand.
  struct Node {
    Hash256 a, b;  // leaf: path, value hash; inner: left, right
    const Node* child[2] = {nullptr, nullptr};
    bool leaf = false;
  };
  static bool is_exit(const Node* p) { return (reinterpret_cast<std::uintptr_t>(p) & 1) != 0; }
  static std::uint64_t exit_version(const Node* p) { return reinterpret_cast<std::uintptr_t>(p) >> 1; }
  static const Node* exit_to(std::uint64_t version) {
    return reinterpret_cast<const Node*>(static_cast<std::uintptr_t>(version) << 1 | 1);
  }
  // A decoded page: nodes()[0] is its root; the others are its subtree
  // down four levels (children point into the same page). One allocation
  // with a count of references (not atomic: a page stays on the thread of
  // the map or the caller that read it).
  class PageRef;
  class Page {
   public:
    // A page holding a copy of `from`, whose children point into `from`.
    static PageRef copy_of(std::span<const Node> from);
    std::span<const Node> nodes() const { return {first(), count_}; }
    std::size_t bytes() const { return sizeof(Page) + count_ * sizeof(Node); }

   private:
    friend class PageRef;
    Page() = default;
    Node* first() const { return reinterpret_cast<Node*>(const_cast<Page*>(this) + 1); }
    mutable std::uint32_t refs_ = 0;
    std::uint32_t count_ = 0;
  };
  class PageRef {
   public:
    PageRef() = default;
    PageRef(const PageRef& o) : p_(o.p_) { if (p_) ++p_->refs_; }
    PageRef(PageRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    PageRef& operator=(PageRef o) noexcept {
      std::swap(p_, o.p_);
      return *this;
    }
    ~PageRef() {
      if (p_ && --p_->refs_ == 0) ::operator delete(const_cast<Page*>(p_));
    }
    const Page& operator*() const { return *p_; }
    const Page* operator->() const { return p_; }
    explicit operator bool() const { return p_ != nullptr; }

   private:
    friend class Page;
    explicit PageRef(const Page* p) : p_(p) { ++p_->refs_; }
    const Page* p_ = nullptr;
  };
  struct StoredPage {
    PageRef page;
    std::uint64_t written_at = 0;  // the height of the last batch that wrote it
  };
  // Reads a page and checks that it hashes to its root's hash.
  // Reasons: "state-node-missing", "state-node-corrupt".
  static Result<StoredPage> load_page(const KvStore& store, const PageId& id);
  // Only the height that last wrote a root page (nullopt: not stored),
  // unchecked.
  static Result<std::optional<std::uint64_t>> root_written_at(const KvStore& store, const Hash256& root);
  // Calls `visit(node)` for each node of the page, and `exit(PageId)` for
  // each page below it.
  template <typename Visit, typename Exit>
  static void walk_page(const Page& page, Visit&& visit, Exit&& exit);

  Result<StateProof> prove(const Hash256& root, ByteView key) const;

  // Pages found in the cache and read from the store so far (for tests and
  // benchmarks), and the pages and bytes the cache holds now.
  struct CacheCounters {
    std::uint64_t hits = 0, store_reads = 0;
    std::size_t held = 0, bytes = 0;
  };
  CacheCounters cache_counters() const { return {cache_hits_, store_reads_, cache_.held(), cache_.bytes()}; }

 private:
  struct Pending {
    Hash256 path;
    std::optional<Hash256> value_hash;
  };
  // A subtree as the walk knows it: its hash and, unless it is empty or an
  // unloaded page root, its root node.
  struct Sub {
    Hash256 hash;
    const Node* node = nullptr;
    bool empty() const { return hash == kEmptySubtree; }
    bool leaf() const { return node && !is_exit(node) && node->leaf; }
  };

  // Where a page sits: its depth and the path bits above it (the cache's
  // key), or kNoPosition below kMaxCachedDepth (such pages are not cached;
  // no map of random paths reaches that depth).
  static constexpr unsigned kMaxCachedDepth = 56;
  static constexpr std::uint64_t kNoPosition = ~std::uint64_t{0};
  static std::uint64_t page_position(unsigned depth, const Hash256& path);
  Result<const Node*> load_page_root(const PageId& id, std::uint64_t position, std::vector<PageRef>& pins) const;
  Result<Sub> update(const Sub& node, unsigned depth, const Pending* begin, const Pending* end);
  void prefetch_ahead(const Pending* at);
  void prefetch_pages_of(const Pending& p, const Pending* before) const;
  Sub make_inner(const Sub& left, const Sub& right, unsigned depth, const Hash256& path);
  Sub make_leaf(const Hash256& path, const Hash256& value_hash);

  struct FirstWord {  // node hashes are uniform: their first 8 bytes suffice
    std::size_t operator()(const Hash256& h) const {
      std::size_t v;
      std::memcpy(&v, h.data.data(), sizeof v);
      return v;
    }
  };
  // Decoded pages by position, at most max_bytes of them (Page::bytes plus
  // the bookkeeping), the least recently used out first. A new version's
  // page takes the place of the one it replaces; a page read from the store
  // does not displace another version's. A page is found only under its
  // own hash.
  class PageCache {
   public:
    explicit PageCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}
    const PageRef* find(std::uint64_t position, const Hash256& hash);
    // Starts bringing the page at `position` (any version) into the CPU's
    // caches; false when none is cached there.
    bool prefetch(std::uint64_t position) const;
    // Only the slot where `position` would be.
    void prefetch_slot(std::uint64_t position) const {
      if (!slots_.empty()) __builtin_prefetch(&slots_[home(position)]);
    }
    void put(std::uint64_t position, const Hash256& hash, PageRef page, bool replace);
    bool enabled() const { return max_bytes_ > 0; }
    std::size_t held() const { return held_; }
    std::size_t bytes() const { return bytes_; }

   private:
    // An open-addressed table (linear probing, at most half full) of
    // slots: a lookup is one or two cache lines, with no allocation and
    // no list to splice. Eviction is CLOCK: a hand sweeps the slots and
    // takes the first page not found since it last passed.
    struct Slot {
      std::uint64_t position = kNoPosition;  // kNoPosition: free
      Hash256 hash;
      PageRef page;
      std::uint32_t bytes = 0;  // page->bytes(), at hand without a load of the page
      bool used = false;
    };
    static constexpr std::size_t kSlotBytes = sizeof(Slot) * 2;  // a page's share of the table
    std::size_t home(std::uint64_t position) const;
    Slot* slot_of(std::uint64_t position);
    const Slot* slot_of(std::uint64_t position) const { return const_cast<PageCache*>(this)->slot_of(position); }
    void grow();
    void evict_one();
    void remove(std::size_t i);
    std::vector<Slot> slots_;
    std::size_t max_bytes_, bytes_ = 0, held_ = 0, hand_ = 0;
  };

  // Nodes made since the last flush. They point at each other, so they
  // never move: blocks of nodes, the ones the last batch used kept for the
  // next (glibc's malloc and free of a node at a time cost a batch of
  // 1,000 updates at 10^6 entries about 2 ms).
  class NodeArena {
   public:
    Node* make(const Node& n) {
      if (used_ == kBlockNodes) {
        if (++block_ == blocks_.size()) blocks_.push_back(std::make_unique_for_overwrite<Node[]>(kBlockNodes));
        used_ = 0;
      }
      Node* out = &blocks_[block_][used_++];
      *out = n;
      return out;
    }
    void clear() {
      blocks_.resize(std::min(blocks_.size(), block_ + 1));
      block_ = 0;
      used_ = blocks_.empty() ? kBlockNodes : 0;
      if (blocks_.empty()) block_ = static_cast<std::size_t>(-1);
    }

   private:
    static constexpr std::size_t kBlockNodes = 4096;
    std::vector<std::unique_ptr<Node[]>> blocks_;
    std::size_t block_ = static_cast<std::size_t>(-1), used_ = kBlockNodes;
  };

  const KvStore& store_;
  NodeArena fresh_;
  // The new page roots (inner nodes made at depths that are multiples of
  // 4, and new map roots), the new roots by hash (a later apply may start
  // from one), and the loaded pages the new nodes point into.
  struct NewPage {
    Hash256 hash;
    const Node* node;
    std::uint64_t position;
    bool root;  // made at depth 0: a root page
  };
  std::vector<NewPage> new_pages_;
  std::unordered_map<Hash256, const Node*, FirstWord> roots_;
  std::vector<PageRef> pins_;
  std::vector<PageId> orphans_;
  bool record_orphans_ = false;
  bool drop_replaced_ = false;
  mutable PageCache cache_;
  // The walk's prefetching (prefetch_ahead): the batch's updates and the
  // next whose pages' slots, and whose pages, are to be brought in.
  struct Ahead {
    const Pending *begin = nullptr, *end = nullptr, *slots = nullptr, *pages = nullptr;
  } ahead_;
  mutable std::uint64_t cache_hits_ = 0, store_reads_ = 0;
};

template <typename Visit, typename Exit>
void StateMap::walk_page(const Page& page, Visit&& visit, Exit&& exit) {
  for (const Node& n : page.nodes()) {
    visit(n);
    if (n.leaf) continue;
    if (is_exit(n.child[0])) exit(PageId{n.a, exit_version(n.child[0])});
    if (is_exit(n.child[1])) exit(PageId{n.b, exit_version(n.child[1])});
  }
}

// What one prune_state_nodes() call did.
struct PruneStats {
  std::uint64_t heights = 0;        // orphan lists done (one per committed height)
  std::uint64_t nodes_deleted = 0;  // state-map pages deleted
  std::uint64_t nodes_kept = 0;     // listed pages a later version wrote again
  std::uint64_t blocks_deleted = 0;  // blocks, with certificates and receipts (Chain::prune)
};

// Deletes the state-map pages listed as dropped by the versions at heights
// up to `last` (orphans_key), oldest list first, whole lists only, until
// about `max_nodes` pages were looked at; then the lists themselves. A
// page's key names the batch that wrote it, so a page written again has
// another key, except a root: a root page written again at or after the
// height that dropped it is kept (a later version has that root). The
// store is read, never a map, so this may run on its own thread while the
// map's owner commits, as long as both write under `write_mu`: each chunk
// of kPruneChunk pages is checked and deleted under it, so that no commit
// writes a root again in between, and a commit waits for one chunk at most.
// Each time the lists done pass a multiple of kCompactHeights, the key
// range of the pages written at the kCompactHeights heights before it is
// compacted (KvStore::compact): pages are keyed by height, so their
// deletions would otherwise wait long for LevelDB's compactions, which go
// by level size (docs/state.md, "Pages").
inline constexpr std::size_t kPruneChunk = 256;
inline constexpr std::uint64_t kCompactHeights = 64;
Result<PruneStats> prune_state_nodes(KvStore& store, std::uint64_t last, std::size_t max_nodes, std::mutex& write_mu);

}  // namespace verity::state
