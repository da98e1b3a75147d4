#pragma once
// Signed consensus votes and the evidence two conflicting ones make.
//
// A vote (propose, prepare or commit) is for one block at one (height, view) slot;
// what a validator signs is vote_digest(), which holds the chain id. Commit
// votes are what commit certificates collect, so a commit vote's signature
// is exactly a CommitSignature.
//
// Two votes by one validator in the same slot and phase for different
// blocks are an equivocation. DoubleSignEvidence carries both, so that the
// slashing contract can check it on its own: both signatures verify under
// the chain id, and both name the same validator, phase, height and view.

#include <cstdint>
#include <string_view>

#include "core/encoding.h"
#include "core/hash.h"
#include "core/keys.h"

namespace verity {

// `propose` is the primary's signature on its pre-prepare: two different
// proposals for one slot are an equivocation like two different votes.
enum class VotePhase : std::uint8_t { prepare = 1, commit = 2, propose = 3 };
const char* vote_phase_name(VotePhase phase);  // "prepare", "commit", "propose"
// Decoding a phase: an unknown one fails with "decode-bad-phase".
void check_field(Reader& r, VotePhase phase);

// verify_signature() for a vote's digest, remembering the last 4,096
// signatures that verified (thread-safe). A commit vote is checked when it
// arrives, again in the certificate that commits its block, and again as
// the next block's last_commit: the memo spares the repeats. Only
// successes are kept, so the answer is always verify_signature()'s.
// Vote::sign() adds the signatures it makes: a validator's own vote comes
// back to it in certificates.
bool verify_vote_signature(const PublicKey& validator, const Hash256& digest, const Signature& signature);
// How many calls the memo answered so far (for tests).
std::uint64_t vote_signature_memo_hits();

Hash256 vote_digest(std::string_view chain_id, VotePhase phase, std::uint64_t height, std::uint64_t view,
                    const Hash256& block_hash);

struct Vote {
  VotePhase phase = VotePhase::prepare;
  std::uint64_t height = 0;
  std::uint64_t view = 0;
  Hash256 block_hash;
  PublicKey validator;
  Signature signature;

  Hash256 digest(std::string_view chain_id) const { return vote_digest(chain_id, phase, height, view, block_hash); }
  void sign(std::string_view chain_id, const SecretKey& key);
  bool verify(std::string_view chain_id) const;

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("phase", s.phase);
    f("height", s.height);
    f("view", s.view);
    f("block_hash", s.block_hash);
    f("validator", s.validator);
    f("signature", s.signature);
  }
  friend bool operator==(const Vote&, const Vote&) = default;
};

// Same validator, phase, height and view, but different blocks.
bool is_equivocation(const Vote& a, const Vote& b);

struct DoubleSignEvidence {
  Vote first;
  Vote second;

  // Reasons: "evidence-not-conflicting" (not the same slot, or the same
  // block), "evidence-bad-signature".
  Status verify(std::string_view chain_id) const;
  PublicKey validator() const { return first.validator; }
  std::uint64_t height() const { return first.height; }
  // Identifies the offence (validator, phase, height, view), whichever two
  // conflicting votes show it, so the same offence is punished once.
  Hash256 offence_id() const;

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("first", s.first);
    f("second", s.second);
  }
  friend bool operator==(const DoubleSignEvidence&, const DoubleSignEvidence&) = default;
};

}  // namespace verity
