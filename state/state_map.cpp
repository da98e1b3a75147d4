#include "state/state_map.h"

#include <algorithm>

#include "core/encoding.h"

namespace verity::state {

namespace {
constexpr std::uint8_t kLeafTag = 1;
constexpr std::uint8_t kInnerTag = 2;

Bytes node_key(const Hash256& h) { return prefixed_key("n/", h.view()); }
}  // namespace

void StateMap::cache_put(const Hash256& hash, const Node& node) const {
  if (cache_nodes_ == 0) return;
  if (cache_new_.size() >= std::max<std::size_t>(1, cache_nodes_ / 2)) {
    cache_old_ = std::move(cache_new_);
    cache_new_ = Cache();
  }
  cache_new_.insert_or_assign(hash, node);
}

Result<StateMap::Node> StateMap::load(const Hash256& hash) const {
  if (auto it = pending_.find(hash); it != pending_.end()) return it->second;
  if (cache_nodes_ > 0) {
    if (auto it = cache_new_.find(hash); it != cache_new_.end()) {
      ++cache_hits_;
      return it->second;
    }
    if (auto it = cache_old_.find(hash); it != cache_old_.end()) {
      ++cache_hits_;
      Node n = it->second;
      cache_old_.erase(it);
      cache_put(hash, n);
      return n;
    }
  }
  ++store_reads_;
  auto raw = store_.get(node_key(hash));
  if (!raw) return raw.error();
  if (!raw->has_value())
    return local_error("state-node-missing", "no state node " + hash.hex());
  Reader r(**raw);
  Node n;
  std::uint8_t tag = r.u8();
  n.leaf = tag == kLeafTag;
  n.a = r.fixed<32, HashTag>();
  n.b = r.fixed<32, HashTag>();
  if (!r.finish() || (tag != kLeafTag && tag != kInnerTag))
    return local_error("state-node-corrupt", "state node " + hash.hex() + " does not decode");
  cache_put(hash, n);
  return n;
}

StateMap::Sub StateMap::make_leaf(const Hash256& path, const Hash256& value_hash) {
  Hash256 h = state_leaf_hash(path, value_hash);
  pending_.emplace(h, Node{true, path, value_hash});
  return {h, true};
}

// Keeps the tree compact: an empty pair is empty, and a single leaf beside
// an empty subtree floats up in place of the inner node.
StateMap::Sub StateMap::make_inner(const Sub& left, const Sub& right) {
  if (left.hash == kEmptySubtree && right.hash == kEmptySubtree) return {kEmptySubtree, false};
  if (left.hash == kEmptySubtree && right.is_leaf) return right;
  if (right.hash == kEmptySubtree && left.is_leaf) return left;
  Hash256 h = state_node_hash(left.hash, right.hash);
  pending_.emplace(h, Node{false, left.hash, right.hash});
  return {h, false};
}

// [begin, end) are sorted by path, unique, and share the first `depth` bits
// of their paths with every entry under `node`.
Result<StateMap::Sub> StateMap::update(const Sub& node, unsigned depth, const Pending* begin,
                                       const Pending* end) {
  if (begin == end) return node;
  if (depth > 255) return local_error("state-map-too-deep", "paths collide");

  Sub left{kEmptySubtree, false}, right{kEmptySubtree, false};
  if (node.hash != kEmptySubtree) {
    auto n = load(node.hash);
    if (!n) return n.error();
    if (n->leaf) {
      // A lone update of this very leaf: replace or delete it in place.
      if (end - begin == 1 && begin->path == n->a)
        return begin->value_hash ? make_leaf(n->a, *begin->value_hash) : Sub{kEmptySubtree, false};
      // Otherwise push the leaf one level down and merge below.
      (path_bit(n->a, depth) ? right : left) = Sub{node.hash, true};
    } else {
      auto kind = [&](const Hash256& h) -> Result<bool> {
        if (h == kEmptySubtree) return false;
        auto c = load(h);
        if (!c) return c.error();
        return c->leaf;
      };
      auto lk = kind(n->a);
      if (!lk) return lk.error();
      auto rk = kind(n->b);
      if (!rk) return rk.error();
      left = {n->a, *lk};
      right = {n->b, *rk};
    }
  } else if (end - begin == 1) {
    return begin->value_hash ? make_leaf(begin->path, *begin->value_hash) : Sub{kEmptySubtree, false};
  }

  const Pending* mid = std::partition_point(begin, end, [&](const Pending& p) { return !path_bit(p.path, depth); });
  auto new_left = update(left, depth + 1, begin, mid);
  if (!new_left) return new_left.error();
  auto new_right = update(right, depth + 1, mid, end);
  if (!new_right) return new_right.error();
  return make_inner(*new_left, *new_right);
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
  Sub start{root, false};
  if (root != kEmptySubtree) {
    auto n = load(root);
    if (!n) return n.error();
    start.is_leaf = n->leaf;
  }
  auto out = update(start, 0, sorted.data(), sorted.data() + sorted.size());
  if (!out) return out.error();
  return out->hash;
}

void StateMap::flush(WriteBatch& batch) {
  for (const auto& [hash, node] : pending_) {
    Writer w;
    w.u8(node.leaf ? kLeafTag : kInnerTag);
    w.fixed(node.a);
    w.fixed(node.b);
    batch.put(node_key(hash), w.data());
    cache_put(hash, node);
  }
  pending_.clear();
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

}  // namespace verity::state
