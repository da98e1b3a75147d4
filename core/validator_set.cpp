#include "core/validator_set.h"

#include <algorithm>

namespace verity {

Result<ValidatorSet> ValidatorSet::create(std::vector<Validator> validators) {
  if (validators.empty()) return make_error("empty-validator-set", "a validator set needs a validator");
  if (validators.size() > kMaxValidators)
    return make_error("too-many-validators", std::to_string(validators.size()) + " > " +
                                                 std::to_string(kMaxValidators));
  std::sort(validators.begin(), validators.end(),
            [](const Validator& a, const Validator& b) { return a.key < b.key; });
  ValidatorSet set;
  for (std::size_t i = 0; i < validators.size(); ++i) {
    if (i > 0 && validators[i].key == validators[i - 1].key)
      return make_error("duplicate-validator", validators[i].key.hex());
    if (validators[i].power == 0) return make_error("zero-power", validators[i].key.hex());
    if (__builtin_add_overflow(set.total_power_, validators[i].power, &set.total_power_))
      return make_error("power-overflow", "total voting power exceeds 2^64-1");
  }
  set.validators_ = std::move(validators);
  return set;
}

std::optional<std::size_t> ValidatorSet::index_of(const PublicKey& key) const {
  auto it = std::lower_bound(validators_.begin(), validators_.end(), key,
                             [](const Validator& v, const PublicKey& k) { return v.key < k; });
  if (it == validators_.end() || it->key != key) return std::nullopt;
  return static_cast<std::size_t>(it - validators_.begin());
}

std::optional<std::uint64_t> ValidatorSet::power_of(const PublicKey& key) const {
  auto i = index_of(key);
  if (!i) return std::nullopt;
  return validators_[*i].power;
}

bool ValidatorSet::is_quorum(std::uint64_t power) const {
  return static_cast<unsigned __int128>(power) * 3 > static_cast<unsigned __int128>(total_power_) * 2;
}

bool ValidatorSet::exceeds_one_third(std::uint64_t power) const {
  return static_cast<unsigned __int128>(power) * 3 > total_power_;
}

namespace {
constexpr Max kListBound{kMaxValidators, 33};
}

void ValidatorSet::encode(Writer& w) const { encode_field(w, validators_, kListBound); }

ValidatorSet ValidatorSet::decode(Reader& r) {
  auto vs = decode_value<std::vector<Validator>>(r, kListBound);
  if (!r.ok()) return {};
  auto set = create(vs);
  if (!set) {
    r.fail(set.error().reason, set.error().detail);
    return {};
  }
  // Canonical: the encoded order must already be the sorted order.
  if (set->validators_ != vs) {
    r.fail("decode-not-canonical", "validators are not in ascending key order");
    return {};
  }
  return std::move(set).value();
}

Hash256 ValidatorSet::hash() const { return tagged_hash(Domain::validator_set, verity::encode(*this)); }

}  // namespace verity
