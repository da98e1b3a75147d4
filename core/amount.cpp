#include "core/amount.h"

#include "core/encoding.h"

namespace verity {

Result<Amount> Amount::checked_add(Amount other) const {
  std::uint64_t out;
  if (__builtin_add_overflow(units_, other.units_, &out))
    return make_error("amount-overflow", to_string() + " + " + other.to_string());
  return Amount(out);
}

Result<Amount> Amount::checked_sub(Amount other) const {
  if (other.units_ > units_)
    return make_error("amount-underflow", to_string() + " - " + other.to_string());
  return Amount(units_ - other.units_);
}

Result<Amount> Amount::checked_mul(std::uint64_t factor) const {
  std::uint64_t out;
  if (__builtin_mul_overflow(units_, factor, &out))
    return make_error("amount-overflow", to_string() + " * " + std::to_string(factor));
  return Amount(out);
}

Result<Amount> Amount::mul_div(std::uint64_t numerator, std::uint64_t denominator) const {
  if (denominator == 0) return make_error("division-by-zero", "mul_div by zero");
  unsigned __int128 wide = static_cast<unsigned __int128>(units_) * numerator / denominator;
  if (wide > UINT64_MAX)
    return make_error("amount-overflow", to_string() + " * " + std::to_string(numerator) + " / " +
                                             std::to_string(denominator));
  return Amount(static_cast<std::uint64_t>(wide));
}

Result<Amount> Amount::parse(std::string_view text) {
  if (text.empty()) return make_error("bad-amount", "empty amount");
  if (text.size() > 20) return make_error("bad-amount", "amount has more than 20 digits");
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return make_error("bad-amount", "amount must be decimal digits, got '" + std::string(text) + "'");
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, static_cast<unsigned>(c - '0'), &v))
      return make_error("bad-amount", "amount exceeds 18446744073709551615");
  }
  return Amount(v);
}

void Amount::encode(Writer& w) const { w.varint(units_); }
Amount Amount::decode(Reader& r) { return Amount(r.varint()); }

}  // namespace verity
