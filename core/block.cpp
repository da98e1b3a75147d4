#include "core/block.h"

namespace verity {

// --- commit certificate -------------------------------------------------------

Status CommitCertificate::verify(std::string_view chain_id, const ValidatorSet& validators) const {
  Hash256 digest = vote_digest(chain_id, VotePhase::commit, height, view, block_hash);
  std::uint64_t power = 0;
  for (std::size_t i = 0; i < signatures.size(); ++i) {
    const auto& s = signatures[i];
    if (i > 0 && !(signatures[i - 1].validator < s.validator))
      return make_error("cert-not-canonical", "signers must be unique and ascending");
    auto p = validators.power_of(s.validator);
    if (!p) return make_error("cert-unknown-signer", s.validator.hex());
    if (!verify_vote_signature(s.validator, digest, s.signature))
      return make_error("cert-bad-signature", s.validator.hex());
    power += *p;  // cannot overflow: the set's total fits in 64 bits
  }
  if (!validators.is_quorum(power))
    return make_error("cert-no-quorum", "signers hold " + std::to_string(power) + " of " +
                                            std::to_string(validators.total_power()));
  return {};
}

void CommitCertificate::encode(Writer& w) const {
  w.varint(height);
  w.varint(view);
  w.fixed(block_hash);
  w.varint(signatures.size());
  for (const auto& s : signatures) {
    w.fixed(s.validator);
    w.fixed(s.signature);
  }
}

CommitCertificate CommitCertificate::decode(Reader& r) {
  CommitCertificate c;
  c.height = r.varint();
  c.view = r.varint();
  c.block_hash = r.fixed<32, HashTag>();
  c.signatures.resize(r.count(kMaxValidators, 96));
  for (auto& s : c.signatures) {
    s.validator = r.fixed<32, PublicKeyTag>();
    s.signature = r.fixed<64, SignatureTag>();
  }
  return c;
}

Hash256 CommitCertificate::hash() const {
  return tagged_hash(Domain::commit_certificate, verity::encode(*this));
}

// --- header and block ------------------------------------------------------------

void BlockHeader::encode(Writer& w) const {
  w.string(chain_id);
  w.varint(height);
  w.varint(view);
  w.fixed(prev_hash);
  w.fixed(tx_root);
  w.fixed(state_root);
  w.fixed(last_commit_hash);
  w.fixed(evidence_hash);
  w.fixed(proposer);
  w.varint(timestamp_ms);
}

BlockHeader BlockHeader::decode(Reader& r) {
  BlockHeader h;
  h.chain_id = r.string(kMaxChainIdBytes);
  h.height = r.varint();
  h.view = r.varint();
  h.prev_hash = r.fixed<32, HashTag>();
  h.tx_root = r.fixed<32, HashTag>();
  h.state_root = r.fixed<32, HashTag>();
  h.last_commit_hash = r.fixed<32, HashTag>();
  h.evidence_hash = r.fixed<32, HashTag>();
  h.proposer = r.fixed<32, PublicKeyTag>();
  h.timestamp_ms = r.varint();
  return h;
}

Hash256 BlockHeader::hash() const { return tagged_hash(Domain::block_header, verity::encode(*this)); }

Status Block::check_body() const {
  std::vector<Hash256> ids;
  ids.reserve(transactions.size());
  for (const auto& tx : transactions) ids.push_back(tx.id());
  return check_body(ids);
}

Status Block::check_body(std::span<const Hash256> tx_ids) const {
  if (tx_ids.size() != transactions.size() || merkle_root(tx_ids) != header.tx_root)
    return make_error("bad-tx-root", "header tx_root does not match the transactions");
  if (last_commit.hash() != header.last_commit_hash)
    return make_error("bad-last-commit-hash", "header last_commit_hash does not match last_commit");
  if (verity::evidence_hash(evidence) != header.evidence_hash)
    return make_error("bad-evidence-hash", "header evidence_hash does not match the evidence");
  return {};
}

void Block::encode(Writer& w) const {
  header.encode(w);
  w.varint(transactions.size());
  for (const auto& tx : transactions) tx.encode(w);
  last_commit.encode(w);
  w.varint(evidence.size());
  for (const auto& e : evidence) e.encode(w);
}

void Block::encode(Writer& w, std::vector<std::size_t>& tx_bounds) const {
  tx_bounds.clear();
  tx_bounds.reserve(transactions.size() + 1);
  header.encode(w);
  w.varint(transactions.size());
  for (const auto& tx : transactions) {
    tx_bounds.push_back(w.size());
    tx.encode(w);
  }
  tx_bounds.push_back(w.size());
  last_commit.encode(w);
  w.varint(evidence.size());
  for (const auto& e : evidence) e.encode(w);
}

Block Block::decode(Reader& r) {
  Block b;
  b.header = BlockHeader::decode(r);
  // The smallest transaction is well over 100 bytes (key + signature).
  b.transactions.resize(r.count(kMaxBlockTransactions, 100));
  for (auto& tx : b.transactions) tx = Transaction::decode(r);
  b.last_commit = CommitCertificate::decode(r);
  b.evidence.resize(r.count(kMaxBlockEvidence, 200));
  for (auto& e : b.evidence) e = DoubleSignEvidence::decode(r);
  return b;
}

const Hash256& empty_evidence_hash() {
  static const Hash256 h = evidence_hash({});
  return h;
}

Hash256 evidence_hash(const std::vector<DoubleSignEvidence>& evidence) {
  Writer w;
  w.varint(evidence.size());
  for (const auto& e : evidence) e.encode(w);
  return tagged_hash(Domain::evidence_list, w.data());
}

Result<Block> decode_block(ByteView bytes) {
  if (bytes.size() > kMaxBlockBytes)
    return make_error("block-too-large", std::to_string(bytes.size()) + " bytes exceeds " +
                                             std::to_string(kMaxBlockBytes));
  return decode_exact<Block>(bytes);
}

// --- Merkle --------------------------------------------------------------------------

Hash256 merkle_root(std::span<const Hash256> leaves) {
  if (leaves.empty()) return tagged_hash(Domain::merkle_node, {});
  std::vector<Hash256> level;
  level.reserve(leaves.size());
  for (const auto& leaf : leaves) level.push_back(tagged_hash(Domain::merkle_leaf, leaf.view()));
  while (level.size() > 1) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 == level.size()) {
        level[out++] = level[i];  // odd one out: carried up, not duplicated
      } else {
        TaggedHasher h(Domain::merkle_node);
        h.update(level[i].view()).update(level[i + 1].view());
        level[out++] = h.finish();
      }
    }
    level.resize(out);
  }
  return level[0];
}

Hash256 transactions_root(const std::vector<Transaction>& txs) {
  std::vector<Hash256> ids;
  ids.reserve(txs.size());
  for (const auto& tx : txs) ids.push_back(tx.id());
  return merkle_root(ids);
}

}  // namespace verity
