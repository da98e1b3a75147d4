#pragma once
// Who proposes: a rotation weighted by voting power, a pure function of
// the validator set, the height and the view (docs/consensus.md,
// "Proposer rotation", is the specification).
//
// Weights. The powers are divided by their greatest common divisor; if
// their sum is still above kMaxProposerPeriod, each weight becomes
// floor(power x kMaxProposerPeriod / total power) instead (a validator
// below 1/kMaxProposerPeriod of the power may then get no turn). The
// period P is the sum of the weights.
//
// Slots. CometBFT's proposer priorities (nginx's smooth weighted round
// robin) with the weights fixed for the set's lifetime: every validator
// starts at priority 0; at each of the P slots every priority grows by its
// weight, the highest (ties: lowest index in the set's key order) takes the
// slot, and its priority drops by P. After P slots every priority is 0
// again, so the table of P slots repeats, and in each period validator i
// holds exactly w_i slots, spread evenly.
//
// Height h (from 1) in view v: the owner of slot (h - 1 + v) mod P. Views
// are counted over the whole chain, not per height, so while nothing fails
// the heights walk the table slot by slot; a view change moves to the next
// slot, and the heights after it go on from there. A crashed validator
// costs one view change at each of its slots (two where the table gives it
// two slots in a row, as it may at the wrap of the table), and the share
// of the others stays their power share.

#include <cstdint>
#include <vector>

#include "core/validator_set.h"

namespace verity::consensus {

inline constexpr std::uint64_t kMaxProposerPeriod = 10'000;

class ProposerSchedule {
 public:
  // `set` must not be empty (ValidatorSet::create refuses an empty one).
  explicit ProposerSchedule(const ValidatorSet& set);

  // Index into the set's validators().
  std::size_t proposer_index(std::uint64_t height, std::uint64_t view) const {
    const std::uint64_t p = slots_.size();
    return slots_[((height % p) + (view % p) + p - 1) % p];
  }
  const PublicKey& proposer(std::uint64_t height, std::uint64_t view) const {
    return set_.validators()[proposer_index(height, view)].key;
  }
  const ValidatorSet& set() const { return set_; }
  std::uint64_t period() const { return slots_.size(); }
  const std::vector<std::uint64_t>& weights() const { return weights_; }
  // Slot -> index into the set's validators().
  const std::vector<std::uint16_t>& slots() const { return slots_; }

 private:
  ValidatorSet set_;
  std::vector<std::uint64_t> weights_;
  std::vector<std::uint16_t> slots_;
};

}  // namespace verity::consensus
