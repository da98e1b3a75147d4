#pragma once
// A validator set with stake-weighted voting power. Quorums need strictly
// more than 2/3 of the total power; with faulty power at most f < total/3,
// two quorums always share an honest validator.

#include <cstdint>
#include <optional>
#include <vector>

#include "core/encoding.h"
#include "core/hash.h"
#include "core/keys.h"

namespace verity {

inline constexpr std::size_t kMaxValidators = 1024;

struct Validator {
  PublicKey key;  // consensus key
  std::uint64_t power = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("key", s.key);
    f("power", s.power);
  }
  friend bool operator==(const Validator&, const Validator&) = default;
};

class ValidatorSet {
 public:
  ValidatorSet() = default;
  // Sorts by key. Reasons: "empty-validator-set", "too-many-validators",
  // "duplicate-validator", "zero-power", "power-overflow".
  static Result<ValidatorSet> create(std::vector<Validator> validators);

  const std::vector<Validator>& validators() const { return validators_; }
  std::size_t size() const { return validators_.size(); }
  std::uint64_t total_power() const { return total_power_; }
  std::optional<std::uint64_t> power_of(const PublicKey& key) const;
  std::optional<std::size_t> index_of(const PublicKey& key) const;

  // power > 2/3 of total, computed without overflow or rounding.
  bool is_quorum(std::uint64_t power) const;
  // power > 1/3 of total: at least one honest validator is among them.
  bool exceeds_one_third(std::uint64_t power) const;

  Hash256 hash() const;
  // The list of validators; decoding also checks the create() rules and
  // that the list is in ascending key order, which a field walk cannot
  // say, hence a codec of its own.
  void encode(Writer& w) const;
  static ValidatorSet decode(Reader& r);
  friend bool operator==(const ValidatorSet&, const ValidatorSet&) = default;

 private:
  std::vector<Validator> validators_;  // ascending by key, unique
  std::uint64_t total_power_ = 0;
};

}  // namespace verity
