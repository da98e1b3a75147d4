#include "core/state_proof.h"

#include <algorithm>
#include <array>

namespace verity {

Hash256 state_path(ByteView key) { return sha256(key); }

// Both hash 64 bytes from the stack (tagged_hash keeps the hasher there
// too): the state map hashes a dozen nodes per update, and a heap-held
// TaggedHasher was a malloc and a free each.
Hash256 state_leaf_hash(const Hash256& path, const Hash256& value_hash) {
  std::array<std::uint8_t, 64> m;
  std::copy(path.data.begin(), path.data.end(), m.begin());
  std::copy(value_hash.data.begin(), value_hash.data.end(), m.begin() + 32);
  return tagged_hash(Domain::state_leaf, m);
}

Hash256 state_node_hash(const Hash256& left, const Hash256& right) {
  std::array<std::uint8_t, 64> m;
  std::copy(left.data.begin(), left.data.end(), m.begin());
  std::copy(right.data.begin(), right.data.end(), m.begin() + 32);
  return tagged_hash(Domain::state_node, m);
}

void StateProof::encode(Writer& w) const {
  w.varint(siblings.size());
  // Bitmap of non-empty siblings, then only those.
  Bytes bitmap((siblings.size() + 7) / 8, 0);
  for (std::size_t i = 0; i < siblings.size(); ++i)
    if (siblings[i] != kEmptySubtree) bitmap[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  w.raw(bitmap);
  for (const auto& s : siblings)
    if (s != kEmptySubtree) w.fixed(s);
  w.boolean(leaf_path.has_value());
  if (leaf_path) {
    w.fixed(*leaf_path);
    w.fixed(leaf_value_hash);
  }
}

StateProof StateProof::decode(Reader& r) {
  StateProof p;
  std::uint64_t depth = r.varint();
  if (depth > 256) {
    r.fail("proof-malformed", "proof deeper than 256");
    return p;
  }
  p.siblings.resize(static_cast<std::size_t>(depth));
  std::vector<std::uint8_t> bitmap((p.siblings.size() + 7) / 8);
  for (auto& b : bitmap) b = r.u8();
  for (std::size_t i = 0; i < p.siblings.size(); ++i) {
    if (bitmap[i / 8] & (1u << (i % 8))) {
      p.siblings[i] = r.fixed<32, HashTag>();
      if (p.siblings[i] == kEmptySubtree) r.fail("decode-not-canonical", "empty sibling marked present");
    }
  }
  // Unused high bits of the bitmap must be zero: one proof, one encoding.
  if (depth % 8 != 0 && !bitmap.empty() && (bitmap.back() >> (depth % 8)) != 0)
    r.fail("decode-not-canonical", "bitmap padding bits set");
  if (r.boolean()) {
    p.leaf_path = r.fixed<32, HashTag>();
    p.leaf_value_hash = r.fixed<32, HashTag>();
  }
  return p;
}

Status verify_state_proof(const Hash256& root, ByteView key, const std::optional<Bytes>& value,
                          const StateProof& proof) {
  const std::size_t depth = proof.siblings.size();
  if (depth > 256) return make_error("proof-malformed", "proof deeper than 256");
  Hash256 path = state_path(key);
  Hash256 node;
  if (value) {
    // Inclusion: the walk must end at this key's own leaf with this value.
    if (!proof.leaf_path || *proof.leaf_path != path)
      return make_error("proof-mismatch", "proof does not end at the key's leaf");
    Hash256 value_hash = sha256(*value);
    if (proof.leaf_value_hash != value_hash)
      return make_error("proof-mismatch", "value does not match the proven leaf");
    node = state_leaf_hash(path, value_hash);
  } else if (!proof.leaf_path) {
    node = kEmptySubtree;  // the key's path runs into an empty subtree
  } else {
    // Non-inclusion by another leaf: it must sit on the key's path (share
    // the first `depth` bits) and be a different key.
    if (*proof.leaf_path == path) return make_error("proof-mismatch", "the key is present");
    for (std::size_t i = 0; i < depth; ++i)
      if (path_bit(*proof.leaf_path, static_cast<unsigned>(i)) != path_bit(path, static_cast<unsigned>(i)))
        return make_error("proof-mismatch", "the proof's leaf is not on the key's path");
    node = state_leaf_hash(*proof.leaf_path, proof.leaf_value_hash);
  }
  // An inner node never has an empty sibling next to a leaf or an empty
  // subtree: such a subtree would have been compacted. Reject the
  // non-canonical shape so that one state has one proof per key.
  if (depth > 0 && proof.siblings[depth - 1] == kEmptySubtree)
    return make_error("proof-malformed", "a leaf or empty subtree beside an empty sibling");
  for (std::size_t i = depth; i-- > 0;) {
    const Hash256& sibling = proof.siblings[i];
    node = path_bit(path, static_cast<unsigned>(i)) ? state_node_hash(sibling, node)
                                                    : state_node_hash(node, sibling);
  }
  if (node != root) return make_error("proof-mismatch", "computed root differs");
  return {};
}

}  // namespace verity
