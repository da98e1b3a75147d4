#pragma once
// Reputation: a fixed-point score per validator (keyed by operator address)
// and per worker (keyed by worker key), in parts per million, 0 to
// 1,000,000, in integer arithmetic so every node computes the same value.
//
//   signing a commit        +1,000     missing a commit     -2,000
//   jailed for downtime   -250,000     double sign          set to 0
//   every epoch           decays by params.reputation_decay_bps
//
// A validator that signs every block of a 100-block epoch gains 100,000 and
// then loses 10%: its score converges to the maximum. Scores start at 0.

#include <cstdint>

#include "core/keys.h"
#include "state/state_view.h"

namespace verity::contracts {

inline constexpr std::uint64_t kReputationMax = 1'000'000;
inline constexpr std::int64_t kReputationSigned = 1'000;
inline constexpr std::int64_t kReputationMissed = -2'000;
inline constexpr std::int64_t kReputationJailed = -250'000;

// The arithmetic of scores, validators' and workers' alike:
// score + delta, clamped to [0, kReputationMax];
std::uint64_t adjusted_score(std::uint64_t score, std::int64_t delta);
// score - floor(score * bps / 10000).
std::uint64_t decayed_score(std::uint64_t score, std::uint64_t bps);

Bytes reputation_key(const PublicKey& who);
Result<std::uint64_t> reputation(const state::StateReader& state, const PublicKey& who);
// Adds delta, clamped to [0, kReputationMax].
Status adjust_reputation(state::StateOverlay& state, const PublicKey& who, std::int64_t delta);
Status reset_reputation(state::StateOverlay& state, const PublicKey& who);
// score -= floor(score * bps / 10000)
Status decay_reputation(state::StateOverlay& state, const PublicKey& who, std::uint64_t bps);

}  // namespace verity::contracts
