#pragma once
// Proofs against the authenticated state map's root, and the hashing rules
// of that map, so that anyone holding a root (from a header vouched for by
// a commit certificate) can check a value without any store.
//
// The map is a compact sparse Merkle tree over 256-bit paths, path =
// SHA-256(key). A subtree with no entry is the all-zero hash; a subtree with
// exactly one entry is that entry's leaf, wherever it sits; a subtree with
// two or more is an inner node. The root therefore depends only on the set
// of (key, value) pairs, never on the order they were written in.
//
//   leaf  = tagged_hash(state_leaf, path || SHA-256(value))
//   inner = tagged_hash(state_node, left || right)

#include <cstdint>
#include <optional>
#include <vector>

#include "core/encoding.h"
#include "core/hash.h"

namespace verity {

inline const Hash256 kEmptySubtree{};

Hash256 state_path(ByteView key);
Hash256 state_leaf_hash(const Hash256& path, const Hash256& value_hash);
Hash256 state_node_hash(const Hash256& left, const Hash256& right);
// Bit `depth` of a path, most significant bit of byte 0 first.
inline bool path_bit(const Hash256& path, unsigned depth) {
  return (path.data[depth / 8] >> (7 - depth % 8)) & 1;
}

struct StateProof {
  // Sibling hashes from the root down (siblings[0] is the root's other
  // child). Empty siblings are kEmptySubtree; the encoding compresses them.
  std::vector<Hash256> siblings;
  // Where the walk along the key's path ended, below the last sibling:
  //  - nothing: an empty subtree (the key is absent);
  //  - a leaf: if its path is the key's, the key is present and
  //    leaf_value_hash is the hash of its value; otherwise the key is
  //    absent and this is the one entry sharing its path prefix.
  std::optional<Hash256> leaf_path;
  Hash256 leaf_value_hash;

  // A codec of its own, not a fields() walk: the siblings travel as a
  // bitmap of the non-empty ones and then only those, and one presence
  // flag covers both leaf fields.
  void encode(Writer& w) const;
  static StateProof decode(Reader& r);
  friend bool operator==(const StateProof&, const StateProof&) = default;
};

// Checks that under `root`, `key` maps to `value` (or, with nullopt, that
// `key` is absent). Reasons: "proof-malformed", "proof-mismatch".
Status verify_state_proof(const Hash256& root, ByteView key, const std::optional<Bytes>& value,
                          const StateProof& proof);

}  // namespace verity
