#include "contracts/reputation.h"

#include "contracts/records.h"
#include "core/params.h"

namespace verity::contracts {

namespace {
struct Score {
  std::uint64_t value = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("value", s.value);
  }
};
}  // namespace

Bytes reputation_key(const PublicKey& who) { return prefixed_key("rep/", who.view()); }

Result<std::uint64_t> reputation(const state::StateReader& state, const PublicKey& who) {
  auto s = load_record<Score>(state, reputation_key(who));
  if (!s) return s.error();
  return s->value;
}

Status adjust_reputation(state::StateOverlay& state, const PublicKey& who, std::int64_t delta) {
  auto s = reputation(state, who);
  if (!s) return s.error();
  std::int64_t v = static_cast<std::int64_t>(*s) + delta;
  if (v < 0) v = 0;
  if (v > static_cast<std::int64_t>(kReputationMax)) v = kReputationMax;
  store_record(state, reputation_key(who), Score{static_cast<std::uint64_t>(v)});
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
  store_record(state, reputation_key(who), Score{*s - *s * bps / kBpsDenominator});
  return {};
}

}  // namespace verity::contracts
