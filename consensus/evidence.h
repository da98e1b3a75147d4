#pragma once
// Turns conflicting votes into evidence. The engine feeds every vote whose
// signature it verified to an EquivocationDetector; the first vote of a
// validator in a slot is remembered, and a later vote for another block in
// the same slot yields DoubleSignEvidence that the slashing contract checks
// on its own. Memory is bounded: prune_below() forgets finished heights, and
// only one vote per (validator, phase, height, view) is kept.

#include <map>
#include <optional>
#include <tuple>

#include "core/vote.h"

namespace verity::consensus {

// Evidence from two votes if they equivocate, in canonical order (the vote
// for the smaller block hash first), so both orders give the same object.
std::optional<DoubleSignEvidence> make_evidence(const Vote& a, const Vote& b);

class EquivocationDetector {
 public:
  // `vote` must already be verified. Returns evidence the first time a
  // second, conflicting vote for a slot is seen.
  std::optional<DoubleSignEvidence> observe(const Vote& vote);
  void prune_below(std::uint64_t height);
  std::size_t size() const { return first_votes_.size(); }

 private:
  using Slot = std::tuple<std::uint64_t, std::uint64_t, std::uint8_t, PublicKey>;  // height, view, phase, validator
  std::map<Slot, Vote> first_votes_;
  std::map<Slot, bool> reported_;
};

}  // namespace verity::consensus
