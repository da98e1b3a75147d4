#include "state/state_map.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <mutex>

#include "core/encoding.h"

namespace verity::state {

namespace {
// A page is its root's subtree down four levels, in pre-order, one tag per
// position (docs/state.md, "Pages"); a root page then has the big-endian
// height of the batch that last wrote it.
constexpr std::uint8_t kEmptyTag = 0;
constexpr std::uint8_t kLeafTag = 1;   // path, value hash
constexpr std::uint8_t kInnerTag = 2;  // both children follow (above the fourth level)
constexpr std::uint8_t kExitTag = 3;   // hash, be64 version: an inner node four levels down, the root of its own page
constexpr std::uint8_t kNearExitTag = 4;  // the same, with varint(the page's version - its version) in place of be64
constexpr unsigned kPageLevels = 4;
constexpr std::size_t kMaxPageNodes = 31;  // 1 + 2 + 4 + 8 + 16 positions
constexpr std::size_t kOrphanEntryBytes = 8 + 32;  // an orphan list's entry: be64 version, hash

using Node = StateMap::Node;
using Page = StateMap::Page;

// Parses one position `rel` levels below the root of a page written at
// `height` into `nodes` (reserved for kMaxPageNodes, so pointers into it
// stay valid); returns the subtree's hash, and where its node went in *at
// (null: empty or exit). Sets *bad on any malformed input.
Hash256 parse_position(Reader& r, unsigned rel, std::uint64_t height, std::vector<Node>& nodes, const Node** at,
                       bool* bad) {
  *at = nullptr;
  const std::uint8_t tag = r.u8();
  if (!r.ok()) {
    *bad = true;
    return {};
  }
  switch (tag) {
    case kEmptyTag:
      if (rel == 0) *bad = true;
      return kEmptySubtree;
    case kLeafTag: {
      Node n;
      n.leaf = true;
      n.a = r.fixed<32, HashTag>();
      n.b = r.fixed<32, HashTag>();
      if (!r.ok() || nodes.size() == kMaxPageNodes) {
        *bad = true;
        return {};
      }
      nodes.push_back(n);
      *at = &nodes.back();
      return state_leaf_hash(n.a, n.b);
    }
    case kInnerTag: {
      if (rel >= kPageLevels || nodes.size() == kMaxPageNodes) {
        *bad = true;
        return {};
      }
      const std::size_t i = nodes.size();
      nodes.emplace_back();
      const Node *left = nullptr, *right = nullptr;
      const Hash256 lh = parse_position(r, rel + 1, height, nodes, &left, bad);
      if (*bad) return {};
      const Hash256 rh = parse_position(r, rel + 1, height, nodes, &right, bad);
      if (*bad) return {};
      nodes[i] = Node{lh, rh, {left, right}, false};
      *at = &nodes[i];
      return state_node_hash(lh, rh);
    }
    case kExitTag: {
      const Hash256 h = r.fixed<32, HashTag>();
      const auto version = r.fixed<8, HashTag>();
      const std::uint64_t v = read_be(version.view());
      if (rel != kPageLevels || !r.ok() || h == kEmptySubtree || v >> 63) *bad = true;
      *at = StateMap::exit_to(v);
      return h;
    }
    case kNearExitTag: {
      const Hash256 h = r.fixed<32, HashTag>();
      const std::uint64_t behind = r.varint();
      if (rel != kPageLevels || !r.ok() || h == kEmptySubtree || behind > height || (height - behind) >> 63) {
        *bad = true;
        return {};
      }
      *at = StateMap::exit_to(height - behind);
      return h;
    }
    default:
      *bad = true;
      return {};
  }
}

}  // namespace

StateMap::PageRef StateMap::Page::copy_of(std::span<const Node> from) {
  static_assert(std::is_trivially_copyable_v<Node> && std::is_trivially_destructible_v<Node>);
  static_assert(sizeof(Page) % alignof(Node) == 0);
  auto* page = new (::operator new(sizeof(Page) + from.size() * sizeof(Node))) Page;
  page->count_ = static_cast<std::uint32_t>(from.size());
  Node* to = page->first();
  std::memcpy(static_cast<void*>(to), from.data(), from.size() * sizeof(Node));
  for (std::size_t i = 0; i < from.size(); ++i)
    for (auto& c : to[i].child)
      if (c && !is_exit(c)) c = to + (c - from.data());
  return PageRef(page);
}

namespace {
// Where emit_position writes a page: its bytes (at most kMaxPageNodes
// positions of at most a leaf's 65 bytes each) and its nodes, in fixed
// buffers with no capacity checks on the way.
constexpr std::size_t kMaxPageBytes = kMaxPageNodes * (1 + 32 + 32);
struct PageOut {
  std::array<std::uint8_t, kMaxPageBytes + 8> bytes;  // + a root page's height
  std::array<Node, kMaxPageNodes> nodes;
  std::size_t size = 0, count = 0;
  void clear() { size = count = 0; }
  void put(std::uint8_t b) { bytes[size++] = b; }
  void put(const Hash256& h) {
    std::memcpy(bytes.data() + size, h.data.data(), 32);
    size += 32;
  }
  void put_be(std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) put(static_cast<std::uint8_t>(v >> shift));
  }
  // An unsigned LEB128, as Writer::varint writes it (core/encoding.h).
  void put_varint(std::uint64_t v) {
    while (v >= 0x80) {
      put(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    put(static_cast<std::uint8_t>(v));
  }
  ByteView view() const { return {bytes.data(), size}; }
  std::span<const Node> page() const { return {nodes.data(), count}; }
};

// Appends the encoding of the position holding subtree (`hash`, `n`), `rel`
// levels below the root of a page written at `height`, and its node, to
// `out`; *at is where its node went (null: empty; an exit). Every node
// above the fourth level of a page the map made is in memory: it was read
// with its old page, or made by this apply (StateMap::update); a page root
// four levels down is an exit, or was made by this apply (written at
// `height` too).
void emit_position(const Hash256& hash, const Node* n, unsigned rel, std::uint64_t height, PageOut& out,
                   const Node** at) {
  *at = nullptr;
  if (hash == kEmptySubtree) {
    out.put(kEmptyTag);
    return;
  }
  if (!n) std::abort();  // a non-empty subtree not in memory: a bug in update()
  const bool exit = StateMap::is_exit(n);
  if (!exit && n->leaf) {
    out.put(kLeafTag);
    out.put(n->a);
    out.put(n->b);
    Node& copy = out.nodes[out.count++];
    copy = Node{n->a, n->b, {nullptr, nullptr}, true};
    *at = &copy;
    return;
  }
  if (rel == kPageLevels) {
    // Most pages below were written a few versions back: a varint of how
    // far back takes 1 to 3 bytes where a be64 takes 8.
    const std::uint64_t version = exit ? StateMap::exit_version(n) : height;
    out.put(version <= height ? kNearExitTag : kExitTag);
    out.put(hash);
    if (version <= height)
      out.put_varint(height - version);
    else
      out.put_be(version);
    *at = StateMap::exit_to(version);
    return;
  }
  if (exit) std::abort();  // a page root above the fourth level: a bug in update()
  out.put(kInnerTag);
  Node& copy = out.nodes[out.count++];
  const Node *left = nullptr, *right = nullptr;
  emit_position(n->a, n->child[0], rel + 1, height, out, &left);
  emit_position(n->b, n->child[1], rel + 1, height, out, &right);
  copy = Node{n->a, n->b, {left, right}, false};
  *at = &copy;
}
}  // namespace

Bytes orphans_key(std::uint64_t height) { return prefixed_key(kOrphansPrefix, be64(height)); }
Bytes state_page_key(const PageId& id) {
  if (id.version == kRootPage) return prefixed_key(kStateRootPrefix, id.hash.view());
  return prefixed_key(kStatePagePrefix, be64(id.version), id.hash.view());
}

Result<std::uint64_t> migrate_hash_led_pages(KvStore& store) {
  const Bytes prefix = prefixed_key(kHashLedPagePrefix, {});
  constexpr std::size_t kChunk = 4096;
  std::uint64_t moved = 0;
  Bytes start = prefix;  // after the keys moved (their deletions would be skipped again)
  for (;;) {
    WriteBatch batch;
    Status bad;
    auto scanned = store.scan_from(prefix, start, [&](ByteView key, ByteView value) {
      if (key.size() != prefix.size() + 32 + 8) {
        bad = local_error("state-corrupt", "a state page key of " + std::to_string(key.size()) + " bytes under " +
                                               std::string(kHashLedPagePrefix));
        return false;
      }
      const PageId id{Hash256::from_view(key.subspan(prefix.size(), 32)), read_be(key.subspan(prefix.size() + 32))};
      batch.put(state_page_key(id), value);
      batch.erase(key);
      start.assign(key.begin(), key.end());
      start.push_back(0);
      return batch.size() < 2 * kChunk;
    });
    if (!scanned) return scanned.error();
    if (!bad) return bad.error();
    if (batch.empty()) break;
    moved += batch.size() / 2;
    if (auto s = store.write(batch, /*sync=*/true); !s) return s.error();
  }
  if (moved > 0) {
    Bytes end = prefix;
    end.back() += 1;
    if (auto s = store.compact(prefix, end); !s) return s.error();
  }
  return moved;
}

std::uint64_t StateMap::page_position(unsigned depth, const Hash256& path) {
  if (depth > kMaxCachedDepth) return kNoPosition;
  std::uint64_t prefix = 0;
  for (unsigned i = 0; i < 8; ++i) prefix = prefix << 8 | path.data[i];
  prefix = depth == 0 ? 0 : prefix >> (64 - depth);
  return std::uint64_t{depth / kPageLevels} << 56 | prefix;
}

std::size_t StateMap::PageCache::home(std::uint64_t position) const {
  // Positions are small and sequential within a depth: mix them (a
  // multiplicative hash) before taking the top bits as the index.
  const std::uint64_t mixed = (position ^ (position >> 29)) * 0x9e3779b97f4a7c15ULL;
  return static_cast<std::size_t>(mixed >> 32) & (slots_.size() - 1);
}

StateMap::PageCache::Slot* StateMap::PageCache::slot_of(std::uint64_t position) {
  if (slots_.empty()) return nullptr;
  for (std::size_t i = home(position);; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i].position == position) return &slots_[i];
    if (slots_[i].position == kNoPosition) return nullptr;
  }
}

const StateMap::PageRef* StateMap::PageCache::find(std::uint64_t position, const Hash256& hash) {
  Slot* s = slot_of(position);
  if (!s || s->hash != hash) return nullptr;
  s->used = true;
  return &s->page;
}

bool StateMap::PageCache::prefetch(std::uint64_t position) const {
  const Slot* s = slot_of(position);
  if (!s) return false;
  const char* at = reinterpret_cast<const char*>(&*s->page);
  for (std::size_t off = 0; off < s->bytes; off += 64) __builtin_prefetch(at + off);
  return true;
}

void StateMap::PageCache::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_ = std::vector<Slot>(old.empty() ? 1024 : old.size() * 2);
  for (auto& s : old) {
    if (s.position == kNoPosition) continue;
    std::size_t i = home(s.position);
    while (slots_[i].position != kNoPosition) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = std::move(s);
  }
  hand_ = 0;
}

// Deletes slot i, moving later slots of its probe run back (no tombstones).
void StateMap::PageCache::remove(std::size_t i) {
  const std::size_t mask = slots_.size() - 1;
  bytes_ -= slots_[i].bytes + kSlotBytes;
  --held_;
  slots_[i] = Slot{};
  for (std::size_t j = (i + 1) & mask; slots_[j].position != kNoPosition; j = (j + 1) & mask) {
    const std::size_t h = home(slots_[j].position);
    // Slot j may move to i if its home is not in (i, j] (cyclically).
    if (i <= j ? (h > i && h <= j) : (h > i || h <= j)) continue;
    slots_[i] = std::move(slots_[j]);
    slots_[j] = Slot{};
    i = j;
  }
}

void StateMap::PageCache::evict_one() {
  for (;;) {
    hand_ = (hand_ + 1) & (slots_.size() - 1);
    Slot& s = slots_[hand_];
    if (s.position == kNoPosition) continue;
    if (s.used) {
      s.used = false;
      continue;
    }
    remove(hand_);
    return;
  }
}

void StateMap::PageCache::put(std::uint64_t position, const Hash256& hash, PageRef page, bool replace) {
  if (position == kNoPosition) return;
  const auto page_bytes = static_cast<std::uint32_t>(page->bytes());  // at most a page of kMaxPageNodes
  const std::size_t size = page_bytes + kSlotBytes;
  if (size > max_bytes_) return;
  if (Slot* s = slot_of(position)) {
    if (!replace) return;
    bytes_ = bytes_ - s->bytes + page_bytes;
    s->hash = hash;
    s->bytes = page_bytes;
    s->page = std::move(page);
    s->used = true;
  } else {
    while (bytes_ + size > max_bytes_ && held_ > 0) evict_one();
    if ((held_ + 1) * 2 > slots_.size()) grow();
    std::size_t i = home(position);
    while (slots_[i].position != kNoPosition) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = Slot{position, hash, std::move(page), page_bytes, false};
    bytes_ += size;
    ++held_;
  }
  while (bytes_ > max_bytes_ && held_ > 1) evict_one();
}

Result<StateMap::StoredPage> StateMap::load_page(const KvStore& store, const PageId& id) {
  auto raw = store.get(state_page_key(id));
  if (!raw) return raw.error();
  // Named only for an error (a read is on the walk's path).
  auto name = [&] {
    return (id.version == kRootPage ? "root page " : "page " + std::to_string(id.version) + "/") + id.hash.hex();
  };
  if (!raw->has_value()) return local_error("state-node-missing", "no state " + name());
  const Bytes& bytes = **raw;
  auto corrupt = [&](const std::string& why) { return local_error("state-node-corrupt", "state " + name() + " " + why); };
  const std::size_t suffix = id.version == kRootPage ? 8 : 0;
  if (bytes.size() < 1 + suffix) return corrupt("is cut short");
  const ByteView body = ByteView(bytes).first(bytes.size() - suffix);
  std::vector<Node> nodes;
  nodes.reserve(kMaxPageNodes);
  Reader r(body);
  const Node* top = nullptr;
  bool bad = false;
  const std::uint64_t written_at = suffix ? read_be(ByteView(bytes).last(8)) : id.version;
  const Hash256 h = parse_position(r, 0, written_at, nodes, &top, &bad);
  if (bad || r.remaining() != 0) return corrupt("does not decode");
  if (h != id.hash) return corrupt("hashes to " + h.hex());
  return StoredPage{Page::copy_of(nodes), written_at};
}

Result<std::optional<std::uint64_t>> StateMap::root_written_at(const KvStore& store, const Hash256& root) {
  auto raw = store.get(state_root_key(root));
  if (!raw) return raw.error();
  if (!raw->has_value()) return std::optional<std::uint64_t>{};
  if ((*raw)->size() < 1 + 8) return local_error("state-node-corrupt", "state root page " + root.hex() + " is cut short");
  return std::optional<std::uint64_t>{read_be(ByteView(**raw).last(8))};
}

Result<const Node*> StateMap::load_page_root(const PageId& id, std::uint64_t position, std::vector<PageRef>& pins) const {
  if (!roots_.empty())
    if (auto it = roots_.find(id.hash); it != roots_.end()) return it->second;
  if (const PageRef* page = cache_.find(position, id.hash)) {
    ++cache_hits_;
    pins.push_back(*page);
    return &pins.back()->nodes()[0];
  }
  ++store_reads_;
  auto stored = load_page(store_, id);
  if (!stored) return stored.error();
  cache_.put(position, id.hash, stored->page, /*replace=*/false);  // an older version's page leaves the newer one
  pins.push_back(std::move(stored->page));
  return &pins.back()->nodes()[0];
}

// The walk's time at size went mostly to waiting for the memory of cached
// pages, one page after the other down each path (and flush's to reading
// the old pages again). The pages on an update's path are found by
// position alone, with no walk, so while the walk works on one update the
// memory of the pages of the next few is already on its way: first the
// cache's slots (kSlotsAhead updates ahead), then the pages they hold
// (kPagesAhead ahead), whole, for flush reads every node of a page it
// replaces.
constexpr std::ptrdiff_t kSlotsAhead = 16, kPagesAhead = 8;
constexpr unsigned kFirstPrefetchDepth = 3 * kPageLevels;  // pages above are shared by most paths
constexpr unsigned kLastPrefetchDepth = 7 * kPageLevels;   // deeper than a map of 10^8 random paths

void StateMap::prefetch_pages_of(const Pending& p, const Pending* before) const {
  for (unsigned depth = kFirstPrefetchDepth; depth <= kLastPrefetchDepth; depth += kPageLevels) {
    const std::uint64_t position = page_position(depth, p.path);
    // A page shared with the update before (sorted by path) is on its way.
    if (before && page_position(depth, before->path) == position) continue;
    if (!cache_.prefetch(position)) break;
  }
}

void StateMap::prefetch_ahead(const Pending* at) {
  if (!cache_.enabled()) return;
  Ahead& a = ahead_;
  auto upto = [&](std::ptrdiff_t n) { return a.end - at > n ? at + n : a.end; };
  for (const Pending* to = upto(kSlotsAhead); a.slots < to; ++a.slots)
    for (unsigned depth = kFirstPrefetchDepth; depth <= kLastPrefetchDepth; depth += kPageLevels)
      cache_.prefetch_slot(page_position(depth, a.slots->path));
  for (const Pending* to = upto(kPagesAhead); a.pages < to; ++a.pages)
    prefetch_pages_of(*a.pages, a.pages == a.begin ? nullptr : a.pages - 1);
}

StateMap::Sub StateMap::make_leaf(const Hash256& path, const Hash256& value_hash) {
  return {state_leaf_hash(path, value_hash), fresh_.make(Node{path, value_hash, {nullptr, nullptr}, true})};
}

// Keeps the tree compact: an empty pair is empty, and a single leaf beside
// an empty subtree floats up in place of the inner node. A leaf is always
// in memory (Node), so its kind costs no read.
StateMap::Sub StateMap::make_inner(const Sub& left, const Sub& right, unsigned depth, const Hash256& path) {
  if (left.empty() && right.empty()) return {};
  if (left.empty() && right.leaf()) return right;
  if (right.empty() && left.leaf()) return left;
  const Hash256 h = state_node_hash(left.hash, right.hash);
  const Node* n = fresh_.make(Node{left.hash, right.hash, {left.node, right.node}, false});
  if (depth % kPageLevels == 0) new_pages_.push_back({h, n, page_position(depth, path), depth == 0});
  return {h, n};
}

// [begin, end) are sorted by path, unique, and share the first `depth` bits
// of their paths with every entry under `node`.
Result<StateMap::Sub> StateMap::update(const Sub& node, unsigned depth, const Pending* begin, const Pending* end) {
  if (begin == end) return node;
  if (end - begin == 1) prefetch_ahead(begin);
  if (depth > 255) return local_error("state-map-too-deep", "paths collide");

  Sub left, right;
  bool rebuilt_inner = false;
  // The page this subtree's root heads, as stored (nullopt: none, or one
  // this flush writes anyway).
  std::optional<PageId> stored_page;
  if (!node.empty()) {
    const Node* n = node.node;
    if (!n || is_exit(n)) {  // the map's root, or the root of a page below: not loaded yet
      if (!n && depth != 0) return local_error("state-map-internal", "a subtree at depth " + std::to_string(depth) + " is not in memory");
      stored_page = PageId{node.hash, n ? exit_version(n) : kRootPage};
      auto loaded = load_page_root(*stored_page, page_position(depth, begin->path), pins_);
      if (!loaded) return loaded.error();
      if (!roots_.empty() && roots_.contains(node.hash)) stored_page.reset();  // made by an earlier apply, not yet written
      n = *loaded;
    }
    if (n->leaf) {
      // A leaf has a page of its own only as the map's root (depth 0).
      // A lone update of this very leaf: replace or delete it in place.
      if (end - begin == 1 && begin->path == n->a) {
        Sub out = begin->value_hash ? make_leaf(n->a, *begin->value_hash) : Sub{};
        if (out.hash == node.hash) return node;
        if (stored_page) orphans_.push_back(*stored_page);
        return out;
      }
      // Otherwise push the leaf one level down and merge below.
      if (stored_page) orphans_.push_back(*stored_page);
      stored_page.reset();
      (path_bit(n->a, depth) ? right : left) = Sub{node.hash, n};
    } else {
      rebuilt_inner = true;
      left = {n->a, n->child[0]};
      right = {n->b, n->child[1]};
    }
  } else if (end - begin == 1) {
    return begin->value_hash ? make_leaf(begin->path, *begin->value_hash) : Sub{};
  }

  const Pending* mid = std::partition_point(begin, end, [&](const Pending& p) { return !path_bit(p.path, depth); });
  auto new_left = update(left, depth + 1, begin, mid);
  if (!new_left) return new_left.error();
  auto new_right = update(right, depth + 1, mid, end);
  if (!new_right) return new_right.error();
  Sub out = make_inner(*new_left, *new_right, depth, begin->path);
  if (rebuilt_inner && out.hash == node.hash) {
    // Unchanged (values written again as they were): keep the page as it
    // is stored instead of writing it again under a new version.
    if (depth % kPageLevels == 0 && !new_pages_.empty() && new_pages_.back().node == out.node) new_pages_.pop_back();
    return node.node ? node : out;
  }
  // A page the walk rebuilt into something else is gone from the new
  // version (a leaf pushed down above is not: it lives on below).
  if (stored_page) orphans_.push_back(*stored_page);
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
  ahead_ = {sorted.data(), sorted.data() + sorted.size(), sorted.data(), sorted.data()};
  auto out = update(Sub{root, nullptr}, 0, sorted.data(), sorted.data() + sorted.size());
  ahead_ = {};
  if (!out) return out.error();
  if (out->hash != root && !out->empty()) {
    // A root that is a leaf has a page of its own (an inner one got it
    // in make_inner).
    roots_[out->hash] = out->node;
    if (out->leaf()) new_pages_.push_back({out->hash, out->node, page_position(0, out->hash), true});
  }
  return out->hash;
}

void StateMap::discard() {
  fresh_.clear();
  new_pages_.clear();
  roots_.clear();
  pins_.clear();
  orphans_.clear();
}

constexpr std::size_t kFlushAhead = 4, kFlushSlotsAhead = 16;

void StateMap::flush(WriteBatch& batch, std::uint64_t height) {
  const auto by_hash = [](const NewPage& x, const NewPage& y) { return x.hash < y.hash; };
  std::sort(new_pages_.begin(), new_pages_.end(), by_hash);
  new_pages_.erase(std::unique(new_pages_.begin(), new_pages_.end(),
                               [](const NewPage& x, const NewPage& y) { return x.hash == y.hash; }),
                   new_pages_.end());
  const Bytes written_at = be64(height);
  // Pages under "w/" + be64(height) + hash, roots under "R/" + hash.
  std::array<std::uint8_t, kStatePagePrefix.size() + 8 + 32> key{};
  std::copy(kStatePagePrefix.begin(), kStatePagePrefix.end(), key.begin());
  std::copy(written_at.begin(), written_at.end(), key.begin() + kStatePagePrefix.size());
  auto out = std::make_unique<PageOut>();
  for (std::size_t i = 0; i < new_pages_.size(); ++i) {
    const NewPage& page = new_pages_[i];
    // The page a few ahead replaces, whose nodes it shares: on its way
    // while this one is encoded.
    if (i + kFlushSlotsAhead < new_pages_.size()) cache_.prefetch_slot(new_pages_[i + kFlushSlotsAhead].position);
    if (i + kFlushAhead < new_pages_.size()) cache_.prefetch(new_pages_[i + kFlushAhead].position);
    out->clear();
    const Node* top = nullptr;
    emit_position(page.hash, page.node, 0, height, *out, &top);
    if (page.root) {
      out->put_be(height);
      batch.put(state_root_key(page.hash), out->view());
    } else {
      std::copy(page.hash.data.begin(), page.hash.data.end(), key.begin() + kStatePagePrefix.size() + 8);
      batch.put(key, out->view());
    }
    // In the place of the page it replaces, if any.
    if (cache_.enabled()) cache_.put(page.position, page.hash, Page::copy_of(out->page()), /*replace=*/true);
  }
  // When recording, the pages the new version dropped are listed for
  // pruning. A root both dropped and written in this batch (possible only
  // when several applies share one flush) is kept: it may be live again.
  // When dropping, the batch itself deletes them, but for a page this
  // batch also writes (the same hash, so for a page other than a root the
  // same key).
  if (drop_replaced_) {
    for (const auto& id : orphans_)
      if (!std::binary_search(new_pages_.begin(), new_pages_.end(), NewPage{id.hash, nullptr, 0, true}, by_hash))
        batch.erase(state_page_key(id));
  } else if (record_orphans_) {
    Bytes list;
    list.reserve(orphans_.size() * kOrphanEntryBytes);
    for (const auto& id : orphans_) {
      if (id.version == kRootPage &&
          std::binary_search(new_pages_.begin(), new_pages_.end(), NewPage{id.hash, nullptr, 0, true}, by_hash))
        continue;
      append_be(list, id.version);
      list.insert(list.end(), id.hash.data.begin(), id.hash.data.end());
    }
    if (!list.empty()) batch.put(orphans_key(height), list);
  }
  discard();
}

Result<StateProof> StateMap::prove(const Hash256& root, ByteView key) const {
  Hash256 path = state_path(key);
  StateProof proof;
  std::vector<PageRef> pins;
  Sub at{root, nullptr};
  for (unsigned depth = 0; !at.empty(); ++depth) {
    const Node* n = at.node;
    if (!n || is_exit(n)) {
      auto loaded = load_page_root(PageId{at.hash, n ? exit_version(n) : kRootPage}, page_position(depth, path), pins);
      if (!loaded) return loaded.error();
      n = *loaded;
    }
    if (n->leaf) {
      proof.leaf_path = n->a;
      proof.leaf_value_hash = n->b;
      break;
    }
    if (depth > 255) return local_error("state-map-too-deep", "paths collide");
    bool bit = path_bit(path, depth);
    proof.siblings.push_back(bit ? n->a : n->b);
    at = bit ? Sub{n->b, n->child[1]} : Sub{n->a, n->child[0]};
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
    listed += value.size() / kOrphanEntryBytes;
    return true;
  });
  if (!scanned) return scanned.error();
  for (const auto& [height, list] : lists) {
    if (list.size() % kOrphanEntryBytes != 0)
      return local_error("state-corrupt", "orphan list of height " + std::to_string(height) + " is cut");
    const std::size_t count = list.size() / kOrphanEntryBytes;
    // Chunk by chunk; the last one (the only one of an empty list) also
    // deletes the list.
    std::size_t from = 0;
    do {
      const std::size_t to = std::min(count, from + kPruneChunk);
      std::lock_guard lock(write_mu);
      WriteBatch batch;
      for (std::size_t i = from; i < to; ++i) {
        const ByteView entry = ByteView(list).subspan(i * kOrphanEntryBytes, kOrphanEntryBytes);
        const PageId id{Hash256::from_view(entry.subspan(8)), read_be(entry.first(8))};
        if (id.version == kRootPage) {
          auto written_at = StateMap::root_written_at(store, id.hash);
          if (!written_at) return written_at.error();
          if (!*written_at) continue;  // deleted before a crash
          // Written again at or after `height`: a later version has this root.
          if (**written_at >= height) {
            ++stats.nodes_kept;
            continue;
          }
        }
        batch.erase(state_page_key(id));
        ++stats.nodes_deleted;
      }
      if (to == count) batch.erase(orphans_key(height));
      if (auto s = store.write(batch, /*sync=*/false); !s) return s.error();
      from = to;
    } while (from < count);
    ++stats.heights;
  }
  // The ranges of kCompactHeights heights (from a multiple of it) whose
  // last height this call's lists passed: each range once, as the lists
  // come in order and a call does whole lists.
  if (!lists.empty()) {
    const std::uint64_t from = lists.front().first / kCompactHeights * kCompactHeights,
                        to = (lists.back().first + 1) / kCompactHeights * kCompactHeights;
    if (to > from) {
      if (auto s = store.compact(prefixed_key(kStatePagePrefix, be64(from)), prefixed_key(kStatePagePrefix, be64(to))); !s)
        return s.error();
    }
  }
  return stats;
}

}  // namespace verity::state
