#pragma once
// SHA-256 with a distinct domain tag for each kind of object hashed or
// signed, so a signature or hash made for one kind can never be replayed as
// another (a vote can never pass for a transaction).
//
// tagged_hash(d, m) = SHA256(SHA256(tag) || SHA256(tag) || m), the
// construction of BIP-340, with tag = domain_tag(d). The tags are part of the
// protocol: changing one is a hard fork.

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/bytes.h"

namespace verity {

struct HashTag;
using Hash256 = FixedBytes<32, HashTag>;

enum class Domain : std::uint8_t {
  transaction_sign,  // what a sender signs
  transaction_id,    // the id of a signed transaction
  block_header,      // block id
  vote,              // consensus votes (prepare, commit, ...)
  checkpoint,        // consensus checkpoints
  task_commitment,   // commit-reveal of task results
  merkle_leaf,       // transaction Merkle tree leaves
  merkle_node,       // transaction Merkle tree inner nodes
  state_leaf,        // authenticated state map leaves
  state_node,        // authenticated state map inner nodes
  evidence,          // double-sign evidence
  peer_handshake,    // peer link authentication
  validator_set,     // hash of a validator set
  commit_certificate,
  consensus_message,  // other signed consensus messages (view change, ...)
  devnet_key,         // insecure devnet key derivation from a name
  genesis,            // the genesis document
  task_result,        // a task result (outcome, exit code, fuel, output), what workers commit to
  task_random,        // the deterministic random_get stream of a task, seeded from its id
  task_assignment,    // the draw that assigns a task to workers
  evidence_list,      // a block's evidence field
  snapshot_chunk,     // a chunk of a state snapshot (state/snapshot.h)
};
inline constexpr int kDomainCount = static_cast<int>(Domain::snapshot_chunk) + 1;

std::string_view domain_tag(Domain d);

// Plain SHA-256, for content addressing (e.g. WASM modules) and tests.
Hash256 sha256(ByteView data);

Hash256 tagged_hash(Domain d, ByteView data);

// Incremental form of tagged_hash, for objects hashed in pieces.
class TaggedHasher {
 public:
  explicit TaggedHasher(Domain d);
  ~TaggedHasher();
  TaggedHasher(const TaggedHasher&) = delete;
  TaggedHasher& operator=(const TaggedHasher&) = delete;

  TaggedHasher& update(ByteView data);
  Hash256 finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity
