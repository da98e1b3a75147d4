#pragma once
// A signed consensus vote (prepare or commit) for one block at one
// (height, view) slot. Commit votes are what commit certificates collect,
// so a commit vote's signature is exactly a CommitSignature.
//
// Two votes by one validator in the same slot and phase for different blocks
// are an equivocation: together they are evidence that the slashing contract
// can check on its own (both signatures verify, both name the same slot).

#include <cstdint>
#include <string>

#include "core/block.h"
#include "core/encoding.h"
#include "core/keys.h"

namespace verity::consensus {

struct Vote {
  VotePhase phase = VotePhase::prepare;
  std::uint64_t height = 0;
  std::uint64_t view = 0;
  Hash256 block_hash;
  PublicKey validator;
  Signature signature;

  Hash256 digest(std::string_view chain_id) const {
    return vote_digest(chain_id, phase, height, view, block_hash);
  }
  void sign(std::string_view chain_id, const SecretKey& key);
  bool verify(std::string_view chain_id) const;

  void encode(Writer& w) const;
  static Vote decode(Reader& r);  // unknown phase: "decode-bad-phase"
  friend bool operator==(const Vote&, const Vote&) = default;
};

// Same validator, phase, height and view, but different blocks.
bool is_equivocation(const Vote& a, const Vote& b);

}  // namespace verity::consensus
