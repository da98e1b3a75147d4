#include "consensus/evidence.h"

namespace verity::consensus {

std::optional<DoubleSignEvidence> make_evidence(const Vote& a, const Vote& b) {
  if (!is_equivocation(a, b)) return std::nullopt;
  return a.block_hash < b.block_hash ? DoubleSignEvidence{a, b} : DoubleSignEvidence{b, a};
}

std::optional<DoubleSignEvidence> EquivocationDetector::observe(const Vote& vote) {
  Slot slot{vote.height, vote.view, static_cast<std::uint8_t>(vote.phase), vote.validator};
  auto [it, inserted] = first_votes_.emplace(slot, vote);
  if (inserted) return std::nullopt;
  auto evidence = make_evidence(it->second, vote);
  if (!evidence || reported_[slot]) return std::nullopt;
  reported_[slot] = true;
  return evidence;
}

void EquivocationDetector::prune_below(std::uint64_t height) {
  Slot bound{height, 0, 0, PublicKey{}};
  first_votes_.erase(first_votes_.begin(), first_votes_.lower_bound(bound));
  reported_.erase(reported_.begin(), reported_.lower_bound(bound));
}

}  // namespace verity::consensus
