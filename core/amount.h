#pragma once
// Token amounts: unsigned 64-bit base units with checked arithmetic.
// Overflow and underflow are errors ("amount-overflow", "amount-underflow"),
// never a wrap. At the JSON edge amounts travel as decimal strings, because
// JSON numbers lose precision above 2^53.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace verity {

class Reader;
class Writer;

class Amount {
 public:
  constexpr Amount() = default;
  constexpr explicit Amount(std::uint64_t units) : units_(units) {}
  static constexpr Amount max() { return Amount(UINT64_MAX); }

  constexpr std::uint64_t units() const { return units_; }
  constexpr bool is_zero() const { return units_ == 0; }

  Result<Amount> checked_add(Amount other) const;
  Result<Amount> checked_sub(Amount other) const;
  Result<Amount> checked_mul(std::uint64_t factor) const;
  // floor(this * numerator / denominator), exact through 128-bit
  // intermediates; used for fractions such as a 5% slash. Errors:
  // "division-by-zero", "amount-overflow" (only when numerator > denominator).
  Result<Amount> mul_div(std::uint64_t numerator, std::uint64_t denominator) const;

  // Decimal digits only: no sign, no spaces, no exponent, at most 20 digits
  // and at most 2^64-1. Reason "bad-amount".
  static Result<Amount> parse(std::string_view decimal);
  std::string to_string() const { return std::to_string(units_); }

  void encode(Writer& w) const;
  static Amount decode(Reader& r);

  friend constexpr auto operator<=>(Amount, Amount) = default;

 private:
  std::uint64_t units_ = 0;
};

}  // namespace verity
