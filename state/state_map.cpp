#include "state/state_map.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <mutex>

#include "core/encoding.h"

namespace verity::state {

namespace {
constexpr std::uint8_t kLeafTag = 1;
constexpr std::uint8_t kInnerTag = 2;

// A stored node: tag, a, b, then the height of the batch that last wrote it
// (8 bytes, absent in nodes written before pruning existed: height 0).
constexpr std::size_t kNodeBytes = 1 + 32 + 32;

// Linux's MADV_COLLAPSE (6.1 on), which Debian 12's glibc headers lack.
#ifdef MADV_COLLAPSE
constexpr int kMadvCollapse = MADV_COLLAPSE;
#else
constexpr int kMadvCollapse = 25;
#endif
}  // namespace

Bytes orphans_key(std::uint64_t height) { return prefixed_key(kOrphansPrefix, be64(height)); }
Bytes state_node_key(const Hash256& h) { return prefixed_key(kStateNodePrefix, h.view()); }

StateMap::NodeCache::NodeCache(std::size_t max_nodes) {
  static_assert(sizeof(Slot) == kStateCacheSlotBytes, "the cache's size in bytes counts slots of this size");
  sets_ = max_nodes / kWays;
  if (sets_ == 0) return;
  // Anonymous memory, zero until written (an all-zero slot is a free one:
  // Slot is an aggregate of bytes): a page takes memory only once a node
  // lands in it, so a small state (a devnet's) costs a few pages, not the
  // whole bound.
  void* p = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    sets_ = 0;
    return;
  }
  slots_ = static_cast<Slot*>(p);
}

// Once the table holds a node for every 16th of its 4 KiB pages, it
// goes over to transparent huge pages, where the kernel allows: lookups
// land all over the table, and 2 MiB pages spare the TLB misses and page
// faults of 4 KiB ones (at 10^6 entries, 17% of state_bench's rate). The
// pages already touched are collapsed into huge ones then, once
// (MADV_COLLAPSE, Linux 6.1, best effort), and later faults take huge
// pages. The collapse runs on the committing thread: 18 ms for 128 MiB,
// up to 350 ms where the kernel must first compact memory (measured on
// this project's 2-core machine), once per process, early (a node with a
// large state crosses 2,048 nodes in its first block). Leaving it to
// khugepaged instead (minutes) cost state_bench 15-20% at every size.
// Advised when made, the first node in each 2 MiB would make all of it
// resident: a devnet's validators held the whole bound for a few hundred
// nodes.
void StateMap::NodeCache::note_growth() {
  if (huge_pages_ || held_ < bytes() / 4096 / 16) return;
  huge_pages_ = true;
  ::madvise(slots_, bytes(), MADV_HUGEPAGE);  // advice only: without it, 4 KiB pages
  ::madvise(slots_, bytes(), kMadvCollapse);  // fails harmlessly (EINVAL) before Linux 6.1
}

StateMap::NodeCache::~NodeCache() {
  if (slots_) ::munmap(slots_, bytes());
}

StateMap::NodeCache::Slot* StateMap::NodeCache::set_of(const Hash256& hash) {
  // The set is the hash's first word scaled to [0, sets) (multiply and
  // shift: any number of sets, no division).
  const auto set = static_cast<std::size_t>((static_cast<unsigned __int128>(FirstWord{}(hash)) * sets_) >> 64);
  return &slots_[set * kWays];
}

const StateMap::Node* StateMap::NodeCache::find(const Hash256& hash) {
  if (sets_ == 0) return nullptr;
  Slot* set = set_of(hash);
  for (std::size_t i = 0; i < kWays; ++i)
    if (set[i].hash == hash) {
      set[i].used = true;
      return &set[i].node;
    }
  return nullptr;
}

void StateMap::NodeCache::erase(const Hash256& hash) {
  if (sets_ == 0) return;
  Slot* set = set_of(hash);
  for (std::size_t i = 0; i < kWays; ++i)
    if (set[i].hash == hash) {
      set[i].hash = kEmptySubtree;
      set[i].used = false;
      --held_;
      return;
    }
}

void StateMap::NodeCache::put(const Hash256& hash, const Node& node) {
  if (sets_ == 0 || hash == kEmptySubtree) return;
  Slot* set = set_of(hash);
  Slot* victim = nullptr;
  for (std::size_t i = 0; i < kWays; ++i) {
    if (set[i].hash == hash) return;  // nodes never change
    if (!victim && set[i].hash == kEmptySubtree) victim = &set[i];
  }
  if (!victim) {
    // A full set: inner nodes before leaves. An update walks a score of
    // inner nodes and ends at one leaf, which only updates of its own key
    // read again; and a map of n random keys has about 1.5 n inner nodes.
    // So once the map outgrows the cache, leaves give way (at 10^6 entries
    // and 128 MiB, store reads per update fell from 4.34 to 3.42 and
    // state_bench's rate rose by 15-20%). An inner node first takes a leaf
    // not used since the last sweep; then second chance (the first slot
    // not used since the last sweep; a sweep clears the marks it passes)
    // among the slots the node may take: any for an inner node, leaves
    // only for a leaf. A leaf that finds none is not cached.
    if (!node.leaf)
      for (std::size_t i = 0; i < kWays && !victim; ++i)
        if (set[i].node.leaf && !set[i].used) victim = &set[i];
    Slot* first = nullptr;
    for (std::size_t i = 0; i < kWays && !victim; ++i) {
      if (node.leaf && !set[i].node.leaf) continue;
      if (!first) first = &set[i];
      if (!set[i].used) victim = &set[i];
      set[i].used = false;
    }
    if (!victim) victim = first;
    if (!victim) return;
  } else {
    ++held_;
    note_growth();
  }
  victim->hash = hash;
  victim->node = node;
  victim->used = false;
}

Result<StateMap::Node> StateMap::load(const Hash256& hash) const {
  if (auto it = pending_.find(hash); it != pending_.end()) return it->second;
  if (const Node* cached = cache_.find(hash)) {
    ++cache_hits_;
    return *cached;
  }
  ++store_reads_;
  auto stored = load_stored(store_, hash);
  if (!stored) return stored.error();
  cache_.put(hash, stored->node);
  return stored->node;
}

Result<StateMap::Stored> StateMap::load_stored(const KvStore& store, const Hash256& hash) {
  auto raw = store.get(state_node_key(hash));
  if (!raw) return raw.error();
  if (!raw->has_value())
    return local_error("state-node-missing", "no state node " + hash.hex());
  const Bytes& bytes = **raw;
  Reader r(bytes);
  Stored out;
  std::uint8_t tag = r.u8();
  out.node.leaf = tag == kLeafTag;
  out.node.a = r.fixed<32, HashTag>();
  out.node.b = r.fixed<32, HashTag>();
  if (bytes.size() == kNodeBytes + 8) out.written_at = read_be(ByteView(bytes).subspan(kNodeBytes));
  if ((bytes.size() != kNodeBytes && bytes.size() != kNodeBytes + 8) || !r.ok() ||
      (tag != kLeafTag && tag != kInnerTag))
    return local_error("state-node-corrupt", "state node " + hash.hex() + " does not decode");
  return out;
}

StateMap::Sub StateMap::make_leaf(const Hash256& path, const Hash256& value_hash) {
  Hash256 h = state_leaf_hash(path, value_hash);
  pending_.emplace(h, Node{true, path, value_hash});
  return {h, Kind::leaf};
}

Result<StateMap::Kind> StateMap::kind_of(const Sub& sub) const {
  if (sub.kind != Kind::unknown) return sub.kind;
  if (sub.hash == kEmptySubtree) return Kind::inner;
  auto n = load(sub.hash);
  if (!n) return n.error();
  return n->leaf ? Kind::leaf : Kind::inner;
}

// Keeps the tree compact: an empty pair is empty, and a single leaf beside
// an empty subtree floats up in place of the inner node. Only then does a
// child's kind matter, so only then is an untouched child read.
Result<StateMap::Sub> StateMap::make_inner(const Sub& left, const Sub& right) {
  const bool left_empty = left.hash == kEmptySubtree, right_empty = right.hash == kEmptySubtree;
  if (left_empty && right_empty) return Sub{kEmptySubtree, Kind::inner};
  if (left_empty || right_empty) {
    const Sub& other = left_empty ? right : left;
    auto kind = kind_of(other);
    if (!kind) return kind.error();
    if (*kind == Kind::leaf) return Sub{other.hash, Kind::leaf};
  }
  Hash256 h = state_node_hash(left.hash, right.hash);
  pending_.emplace(h, Node{false, left.hash, right.hash});
  return Sub{h, Kind::inner};
}

// [begin, end) are sorted by path, unique, and share the first `depth` bits
// of their paths with every entry under `node`.
Result<StateMap::Sub> StateMap::update(const Sub& node, unsigned depth, const Pending* begin,
                                       const Pending* end) {
  if (begin == end) return node;
  if (depth > 255) return local_error("state-map-too-deep", "paths collide");

  Sub left{kEmptySubtree, Kind::inner}, right{kEmptySubtree, Kind::inner};
  bool rebuilt_inner = false;
  if (node.hash != kEmptySubtree) {
    auto n = load(node.hash);
    if (!n) return n.error();
    if (n->leaf) {
      // A lone update of this very leaf: replace or delete it in place.
      if (end - begin == 1 && begin->path == n->a) {
        Sub out = begin->value_hash ? make_leaf(n->a, *begin->value_hash) : Sub{kEmptySubtree, Kind::inner};
        if (out.hash != node.hash) orphans_.push_back(node.hash);
        return out;
      }
      // Otherwise push the leaf one level down and merge below.
      (path_bit(n->a, depth) ? right : left) = Sub{node.hash, Kind::leaf};
    } else {
      // The children's kinds stay unknown: a child the updates walk into
      // is read there anyway, and the other one only if make_inner needs it.
      rebuilt_inner = true;
      left = {n->a, n->a == kEmptySubtree ? Kind::inner : Kind::unknown};
      right = {n->b, n->b == kEmptySubtree ? Kind::inner : Kind::unknown};
    }
  } else if (end - begin == 1) {
    return begin->value_hash ? make_leaf(begin->path, *begin->value_hash) : Sub{kEmptySubtree, Kind::inner};
  }

  const Pending* mid = std::partition_point(begin, end, [&](const Pending& p) { return !path_bit(p.path, depth); });
  auto new_left = update(left, depth + 1, begin, mid);
  if (!new_left) return new_left.error();
  auto new_right = update(right, depth + 1, mid, end);
  if (!new_right) return new_right.error();
  auto out = make_inner(*new_left, *new_right);
  // An inner node the walk rebuilt into something else is gone from the
  // new version (a leaf pushed down above is not: it lives on below).
  if (out && rebuilt_inner && out->hash != node.hash) orphans_.push_back(node.hash);
  return out;
}

Result<Hash256> StateMap::apply(const Hash256& root, std::vector<StateUpdate> updates) {
  std::vector<Pending> pend;
  pend.reserve(updates.size());
  for (auto& u : updates)
    pend.push_back({state_path(u.key), u.value ? std::optional<Hash256>(sha256(*u.value)) : std::nullopt});
  // Sort by path; of several updates to one key, keep the last.
  std::vector<std::size_t> order(pend.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return pend[x].path < pend[y].path; });
  std::vector<Pending> sorted;
  sorted.reserve(pend.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (!sorted.empty() && sorted.back().path == pend[order[i]].path)
      sorted.back() = pend[order[i]];
    else
      sorted.push_back(pend[order[i]]);
  }
  auto out = update(Sub{root, root == kEmptySubtree ? Kind::inner : Kind::unknown}, 0, sorted.data(), sorted.data() + sorted.size());
  if (!out) return out.error();
  return out->hash;
}

void StateMap::flush(WriteBatch& batch, std::uint64_t height) {
  // Fixed-size key and value, filled in place: no allocation per node.
  std::array<std::uint8_t, kStateNodePrefix.size() + 32> key{};
  std::copy(kStateNodePrefix.begin(), kStateNodePrefix.end(), key.begin());
  std::array<std::uint8_t, kNodeBytes + 8> value{};
  const Bytes written_at = be64(height);
  std::copy(written_at.begin(), written_at.end(), value.begin() + kNodeBytes);
  batch.reserve(pending_.size() * (1 + 4 + key.size() + 4 + value.size()) + orphans_.size() * 32 + 64);
  for (const auto& [hash, node] : pending_) {
    std::copy(hash.data.begin(), hash.data.end(), key.begin() + kStateNodePrefix.size());
    value[0] = node.leaf ? kLeafTag : kInnerTag;
    std::copy(node.a.data.begin(), node.a.data.end(), value.begin() + 1);
    std::copy(node.b.data.begin(), node.b.data.end(), value.begin() + 33);
    batch.put(key, value);
    cache_.put(hash, node);
  }
  // The nodes the new version dropped leave the cache (room for live
  // ones) and, when recording, are listed for pruning. A node both
  // orphaned and written in this batch (possible only when several applies
  // share one flush) is kept: it may be live again.
  Bytes list;
  if (record_orphans_) list.reserve(orphans_.size() * 32);
  for (const auto& hash : orphans_) {
    if (pending_.contains(hash)) continue;
    cache_.erase(hash);
    if (record_orphans_) list.insert(list.end(), hash.data.begin(), hash.data.end());
  }
  if (!list.empty()) batch.put(orphans_key(height), list);
  pending_.clear();
  orphans_.clear();
}

Result<StateProof> StateMap::prove(const Hash256& root, ByteView key) const {
  Hash256 path = state_path(key);
  StateProof proof;
  Hash256 at = root;
  for (unsigned depth = 0; at != kEmptySubtree; ++depth) {
    auto n = load(at);
    if (!n) return n.error();
    if (n->leaf) {
      proof.leaf_path = n->a;
      proof.leaf_value_hash = n->b;
      break;
    }
    if (depth > 255) return local_error("state-map-too-deep", "paths collide");
    bool bit = path_bit(path, depth);
    proof.siblings.push_back(bit ? n->a : n->b);
    at = bit ? n->b : n->a;
  }
  return proof;
}

Result<PruneStats> prune_state_nodes(KvStore& store, std::uint64_t last, std::size_t max_nodes, std::mutex& write_mu) {
  PruneStats stats;
  const Bytes prefix = prefixed_key(kOrphansPrefix, {});
  std::vector<std::pair<std::uint64_t, Bytes>> lists;
  std::size_t listed = 0;
  auto scanned = store.scan(prefix, [&](ByteView key, ByteView value) {
    const std::uint64_t height = read_be(key.subspan(prefix.size()));
    if (height > last || (listed >= max_nodes && !lists.empty())) return false;
    lists.emplace_back(height, Bytes(value.begin(), value.end()));
    listed += value.size() / 32;
    return true;
  });
  if (!scanned) return scanned.error();
  for (const auto& [height, list] : lists) {
    if (list.size() % 32 != 0)
      return local_error("state-corrupt", "orphan list of height " + std::to_string(height) + " is cut");
    const std::size_t count = list.size() / 32;
    // Chunk by chunk; the last one (the only one of an empty list) also
    // deletes the list.
    std::size_t from = 0;
    do {
      const std::size_t to = std::min(count, from + kPruneChunk);
      std::lock_guard lock(write_mu);
      WriteBatch batch;
      for (std::size_t i = from; i < to; ++i) {
        const auto hash = Hash256::from_view(ByteView(list).subspan(i * 32, 32));
        auto stored = StateMap::load_stored(store, hash);
        if (!stored) {
          if (stored.error().reason == "state-node-missing") continue;  // deleted before a crash
          return stored.error();
        }
        // Written again at or after `height`: a later version holds it.
        if (stored->written_at >= height) {
          ++stats.nodes_kept;
          continue;
        }
        batch.erase(state_node_key(hash));
        ++stats.nodes_deleted;
      }
      if (to == count) batch.erase(orphans_key(height));
      if (auto s = store.write(batch, /*sync=*/false); !s) return s.error();
      from = to;
    } while (from < count);
    ++stats.heights;
  }
  return stats;
}

}  // namespace verity::state
