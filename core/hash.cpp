#include "core/hash.h"

#include <cryptopp/sha.h>

#include <array>

namespace verity {

std::string_view domain_tag(Domain d) {
  switch (d) {
    case Domain::transaction_sign: return "verity/transaction-sign";
    case Domain::transaction_id: return "verity/transaction-id";
    case Domain::block_header: return "verity/block-header";
    case Domain::vote: return "verity/vote";
    case Domain::checkpoint: return "verity/checkpoint";
    case Domain::task_commitment: return "verity/task-commitment";
    case Domain::merkle_leaf: return "verity/merkle-leaf";
    case Domain::merkle_node: return "verity/merkle-node";
    case Domain::state_leaf: return "verity/state-leaf";
    case Domain::state_node: return "verity/state-node";
    case Domain::evidence: return "verity/evidence";
    case Domain::peer_handshake: return "verity/peer-handshake";
    case Domain::validator_set: return "verity/validator-set";
    case Domain::commit_certificate: return "verity/commit-certificate";
    case Domain::consensus_message: return "verity/consensus-message";
    case Domain::devnet_key: return "verity/devnet-key";
    case Domain::genesis: return "verity/genesis";
    case Domain::task_result: return "verity/task-result";
    case Domain::task_random: return "verity/task-random";
    case Domain::task_assignment: return "verity/task-assignment";
    case Domain::evidence_list: return "verity/evidence-list";
    case Domain::snapshot_chunk: return "verity/snapshot-chunk";
  }
  return "verity/unknown";
}

Hash256 sha256(ByteView data) {
  Hash256 out;
  CryptoPP::SHA256().CalculateDigest(out.data.data(), data.data(), data.size());
  return out;
}

namespace {
// One hasher per domain that has already absorbed SHA256(tag)||SHA256(tag);
// copying it saves hashing the 64-byte prefix on every call.
const CryptoPP::SHA256& prefixed(Domain d) {
  static const auto table = [] {
    std::array<CryptoPP::SHA256, kDomainCount> t;
    for (int i = 0; i < kDomainCount; ++i) {
      auto tag = domain_tag(static_cast<Domain>(i));
      Hash256 th = sha256(as_bytes(tag));
      t[i].Update(th.data.data(), th.size());
      t[i].Update(th.data.data(), th.size());
    }
    return t;
  }();
  return table[static_cast<int>(d)];
}
}  // namespace

struct TaggedHasher::Impl {
  CryptoPP::SHA256 sha;
};

TaggedHasher::TaggedHasher(Domain d) : impl_(std::make_unique<Impl>(Impl{prefixed(d)})) {}
TaggedHasher::~TaggedHasher() = default;

TaggedHasher& TaggedHasher::update(ByteView data) {
  impl_->sha.Update(data.data(), data.size());
  return *this;
}

Hash256 TaggedHasher::finish() {
  Hash256 out;
  impl_->sha.Final(out.data.data());
  return out;
}

Hash256 tagged_hash(Domain d, ByteView data) {
  CryptoPP::SHA256 sha(prefixed(d));
  sha.Update(data.data(), data.size());
  Hash256 out;
  sha.Final(out.data.data());
  return out;
}

}  // namespace verity
