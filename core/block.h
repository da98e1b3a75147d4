#pragma once
// Blocks, their headers and commit certificates.
//
// The header of block h holds the state root *after* executing block h, so
// the commit certificate of h (votes by more than 2/3 of the voting power for
// the header hash) vouches for the state as well as for the transactions.
//
// Block h also carries `last_commit`, the commit certificate of block h-1
// that its proposer collected (empty at height 1). That makes "who signed
// the previous commit" part of the agreed chain, which rewards and downtime
// tracking need, while each node may have seen a different set of votes.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/encoding.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/transaction.h"
#include "core/validator_set.h"
#include "core/vote.h"

namespace verity {

inline constexpr std::size_t kMaxBlockBytes = 32 * 1024 * 1024;
inline constexpr std::size_t kMaxBlockTransactions = 100'000;
// Double-sign evidence a block may carry (each about 300 bytes).
inline constexpr std::size_t kMaxBlockEvidence = 64;

struct CommitSignature {
  PublicKey validator;
  Signature signature;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("validator", s.validator);
    f("signature", s.signature);
  }
  friend bool operator==(const CommitSignature&, const CommitSignature&) = default;
};

struct CommitCertificate {
  std::uint64_t height = 0;
  std::uint64_t view = 0;
  Hash256 block_hash;
  std::vector<CommitSignature> signatures;  // strictly ascending by validator

  bool empty() const { return signatures.empty(); }
  // Checks every signature against `validators` and that the signers hold a
  // quorum. Reasons: "cert-not-canonical" (unsorted or duplicate signer),
  // "cert-unknown-signer", "cert-bad-signature", "cert-no-quorum".
  Status verify(std::string_view chain_id, const ValidatorSet& validators) const;

  Hash256 hash() const;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("view", s.view);
    f("block_hash", s.block_hash);
    f("signatures", s.signatures, Max{kMaxValidators, 96});
  }
  friend bool operator==(const CommitCertificate&, const CommitCertificate&) = default;
};

// evidence_hash() of no evidence: what a header without evidence holds.
const Hash256& empty_evidence_hash();

struct BlockHeader {
  std::string chain_id;
  std::uint64_t height = 0;
  std::uint64_t view = 0;
  Hash256 prev_hash;         // header hash of block height-1
  Hash256 tx_root;           // merkle_root over transaction ids
  Hash256 state_root;        // state after executing this block
  Hash256 last_commit_hash;  // hash of the block's last_commit
  Hash256 evidence_hash = empty_evidence_hash();  // evidence_hash() of the block's evidence
  PublicKey proposer;
  // Milliseconds since the Unix epoch, as the proposer saw it. Informational
  // only: every protocol period is counted in blocks, never in time.
  std::uint64_t timestamp_ms = 0;

  Hash256 hash() const;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("chain_id", s.chain_id, Max{kMaxChainIdBytes});
    f("height", s.height);
    f("view", s.view);
    f("prev_hash", s.prev_hash);
    f("tx_root", s.tx_root);
    f("state_root", s.state_root);
    f("last_commit_hash", s.last_commit_hash);
    f("evidence_hash", s.evidence_hash);
    f("proposer", s.proposer);
    f("timestamp_ms", s.timestamp_ms);
  }
  friend bool operator==(const BlockHeader&, const BlockHeader&) = default;
};

struct Block {
  BlockHeader header;
  std::vector<Transaction> transactions;
  CommitCertificate last_commit;
  // Double signing seen by any node, for the chain to punish (each checked
  // by every validator in execution, once per offence).
  std::vector<DoubleSignEvidence> evidence;

  Hash256 hash() const { return header.hash(); }
  // The header's tx_root and last_commit_hash match the body. Reasons:
  // "bad-tx-root", "bad-last-commit-hash", "bad-evidence-hash".
  Status check_body() const;
  // The same, with the transactions' ids already at hand (tx_ids[i] must
  // be transactions[i].id(); the count must match): no re-encoding.
  Status check_body(std::span<const Hash256> tx_ids) const;

  // The smallest transaction is well over 100 bytes (key + signature);
  // double-sign evidence is about 300.
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("header", s.header);
    f("transactions", s.transactions, Max{kMaxBlockTransactions, 100});
    f("last_commit", s.last_commit);
    f("evidence", s.evidence, Max{kMaxBlockEvidence, 200});
  }
  // encode(*this), and where each transaction's encoding lies in it:
  // transactions[i] is bytes [tx_bounds[i], tx_bounds[i + 1]) of w's data
  // (n + 1 bounds). A transaction's id is the tagged hash of its slice.
  void encode(Writer& w, std::vector<std::size_t>& tx_bounds) const;
  friend bool operator==(const Block&, const Block&) = default;
};

Result<Block> decode_block(ByteView bytes);

// A binary Merkle tree over leaves, with distinct domain tags for leaves and
// inner nodes (so an inner node cannot pass for a leaf). An odd node at the
// end of a level is carried up unchanged, never paired with itself: the
// duplication Bitcoin uses lets two different lists share a root
// (CVE-2012-2459). The empty tree's root is tagged_hash(merkle_node, "").
Hash256 merkle_root(std::span<const Hash256> leaves);
// tagged_hash(evidence_list, varint count || each evidence's encoding).
Hash256 evidence_hash(const std::vector<DoubleSignEvidence>& evidence);
Hash256 transactions_root(const std::vector<Transaction>& txs);

}  // namespace verity
