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

Hash256 CommitCertificate::hash() const {
  return tagged_hash(Domain::commit_certificate, verity::encode(*this));
}

// --- header and block ------------------------------------------------------------

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

void Block::encode(Writer& w, std::vector<std::size_t>& tx_bounds) const {
  tx_bounds.clear();
  tx_bounds.reserve(transactions.size() + 1);
  // The walk of fields(), noting where each transaction starts.
  fields(*this, [&](const char*, const auto& field, auto... bounds) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::vector<Transaction>>) {
      w.varint(field.size());
      for (const auto& tx : field) {
        tx_bounds.push_back(w.size());
        encode_field(w, tx);
      }
      tx_bounds.push_back(w.size());
    } else {
      encode_field(w, field, bounds...);
    }
  });
}

const Hash256& empty_evidence_hash() {
  static const Hash256 h = evidence_hash({});
  return h;
}

Hash256 evidence_hash(const std::vector<DoubleSignEvidence>& evidence) {
  Writer w;
  encode_field(w, evidence, Max{kMaxBlockEvidence});
  return tagged_hash(Domain::evidence_list, w.data());
}

Result<Block> decode_block(ByteView bytes) {
  return decode_bounded<Block>(bytes, kMaxBlockBytes, "block-too-large");
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
