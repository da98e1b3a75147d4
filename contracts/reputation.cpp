#include "contracts/reputation.h"

#include <algorithm>

#include "contracts/records.h"
#include "core/params.h"

namespace verity::contracts {

using Score = U64Record;

std::uint64_t adjusted_score(std::uint64_t score, std::int64_t delta) {
  const std::int64_t v = static_cast<std::int64_t>(score) + delta;
  return static_cast<std::uint64_t>(std::clamp<std::int64_t>(v, 0, kReputationMax));
}

std::uint64_t decayed_score(std::uint64_t score, std::uint64_t bps) {
  return score - static_cast<std::uint64_t>(static_cast<unsigned __int128>(score) * bps / kBpsDenominator);
}

Bytes reputation_key(const PublicKey& who) { return prefixed_key("rep/", who.view()); }

Result<std::uint64_t> reputation(const state::StateReader& state, const PublicKey& who) {
  auto s = load_record<Score>(state, reputation_key(who));
  if (!s) return s.error();
  return s->value;
}

Status adjust_reputation(state::StateOverlay& state, const PublicKey& who, std::int64_t delta) {
  auto s = reputation(state, who);
  if (!s) return s.error();
  store_record(state, reputation_key(who), Score{adjusted_score(*s, delta)});
  return {};
}

Status reset_reputation(state::StateOverlay& state, const PublicKey& who) {
  store_record(state, reputation_key(who), Score{0});
  return {};
}

Status decay_reputation(state::StateOverlay& state, const PublicKey& who, std::uint64_t bps) {
  auto s = reputation(state, who);
  if (!s) return s.error();
  if (*s == 0) return {};
  store_record(state, reputation_key(who), Score{decayed_score(*s, bps)});
  return {};
}

}  // namespace verity::contracts
