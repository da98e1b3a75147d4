#pragma once
// The messages of Verity's PBFT, and their canonical encoding.
//
//   Proposal    the primary's pre-prepare: a block and its `propose` vote
//   Vote        prepare or commit (core/vote.h)
//   ViewChange  a replica's request to move to a new view, carrying its
//               last commit certificate and its prepared certificate
//   NewView     the new primary's proof (a quorum of view changes) and the
//               proposal that the quorum forces or allows
//   Checkpoint  a signed (height, block hash) every K heights
//   Decision    a committed block with its commit certificate: sent to a
//               replica that shows it is behind; self-verifying
//
// Every message but Decision is signed by its sender with the chain id
// inside: votes and proposals through vote_digest(), the others through
// tagged_hash(consensus_message | checkpoint, chain id || body).

#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "core/block.h"
#include "core/vote.h"

namespace verity::consensus {

inline constexpr std::size_t kMaxMessageBytes = kMaxBlockBytes + 1024 * 1024;

struct Proposal {
  Vote vote;  // phase propose; block_hash == block.hash()
  Block block;
  // The vote is for this block. A block prepared in one view is proposed
  // again, unchanged, in later views: its header keeps the view it was
  // first proposed in, which is never above the vote's.
  bool consistent() const {
    return vote.phase == VotePhase::propose && vote.block_hash == block.hash() && vote.height == block.header.height &&
           block.header.view <= vote.view;
  }
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("vote", s.vote);
    f("block", s.block);
  }
  friend bool operator==(const Proposal&, const Proposal&) = default;
};

// A proposal and a quorum of prepare votes for it.
struct PreparedCertificate {
  Proposal proposal;
  std::vector<Vote> prepares;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("proposal", s.proposal);
    f("prepares", s.prepares, Max{kMaxValidators, 100});
  }
  friend bool operator==(const PreparedCertificate&, const PreparedCertificate&) = default;
};

// A message its validator signs (view change, new view, checkpoint): T
// lists what the signature signs in body_fields (every field but the
// signature) and gives digest(); encoded, the signature follows the body.
template <class T>
struct SignedByValidator {
  // Signs with `key`, which becomes the message's validator.
  void sign(std::string_view chain_id, const SecretKey& key) {
    T& m = static_cast<T&>(*this);
    m.validator = key.public_key();
    m.signature = key.sign(m.digest(chain_id));
  }
  bool verify(std::string_view chain_id) const {
    const T& m = static_cast<const T&>(*this);
    return verify_signature(m.validator, m.digest(chain_id), m.signature);
  }
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    T::body_fields(s, f);
    f("signature", s.signature);
  }
  friend bool operator==(const SignedByValidator&, const SignedByValidator&) = default;
};

struct ViewChange : SignedByValidator<ViewChange> {
  std::uint64_t new_view = 0;
  std::uint64_t committed_height = 0;
  CommitCertificate committed;  // certificate of committed_height (empty at 0)
  std::optional<PreparedCertificate> prepared;  // for committed_height + 1
  PublicKey validator;
  Signature signature;

  Hash256 digest(std::string_view chain_id) const;
  // What the signature signs (after a tag and the chain id): every field
  // but the signature.
  template <class Self, class F>
  static void body_fields(Self& s, F&& f) {
    f("new_view", s.new_view);
    f("committed_height", s.committed_height);
    f("committed", s.committed);
    f("prepared", s.prepared);
    f("validator", s.validator);
  }
  friend bool operator==(const ViewChange&, const ViewChange&) = default;
};

struct NewView : SignedByValidator<NewView> {
  std::uint64_t view = 0;
  std::vector<ViewChange> view_changes;
  Proposal proposal;
  PublicKey validator;
  Signature signature;

  Hash256 digest(std::string_view chain_id) const;
  // What the signature signs, as for a view change.
  template <class Self, class F>
  static void body_fields(Self& s, F&& f) {
    f("view", s.view);
    f("view_changes", s.view_changes, Max{kMaxValidators, 100});
    f("proposal", s.proposal);
    f("validator", s.validator);
  }
  friend bool operator==(const NewView&, const NewView&) = default;
};

struct Checkpoint : SignedByValidator<Checkpoint> {
  std::uint64_t height = 0;
  Hash256 block_hash;
  PublicKey validator;
  Signature signature;

  Hash256 digest(std::string_view chain_id) const;
  // What the signature signs (after the chain id).
  template <class Self, class F>
  static void body_fields(Self& s, F&& f) {
    f("height", s.height);
    f("block_hash", s.block_hash);
    f("validator", s.validator);
  }
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

struct Decision {
  Block block;
  CommitCertificate certificate;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("block", s.block);
    f("certificate", s.certificate);
  }
  friend bool operator==(const Decision&, const Decision&) = default;
};

using Message = std::variant<Proposal, Vote, ViewChange, NewView, Checkpoint, Decision>;

// The first byte of an encoded Message: which alternative follows.
inline constexpr std::uint8_t kProposalTag = 1, kVoteTag = 2, kViewChangeTag = 3, kNewViewTag = 4, kCheckpointTag = 5,
                       kDecisionTag = 6;

Bytes encode_message(const Message& m);
// Strict; reasons are the decoder's ("decode-...") or "message-too-large".
Result<Message> decode_message(ByteView bytes);

}  // namespace verity::consensus
