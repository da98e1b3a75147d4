#define BOOST_TEST_MODULE amount_tests
#include <boost/test/unit_test.hpp>

#include "core/amount.h"
#include "core/encoding.h"

using namespace verity;

BOOST_AUTO_TEST_CASE(checked_arithmetic) {
  Amount a(10), b(3);
  BOOST_TEST(a.checked_add(b)->units() == 13u);
  BOOST_TEST(a.checked_sub(b)->units() == 7u);
  BOOST_TEST(a.checked_mul(4)->units() == 40u);
  BOOST_TEST(a.checked_sub(a)->is_zero());
}

BOOST_AUTO_TEST_CASE(overflow_and_underflow_are_errors) {
  BOOST_TEST(Amount::max().checked_add(Amount(1)).error().reason == "amount-overflow");
  BOOST_TEST(Amount(3).checked_sub(Amount(4)).error().reason == "amount-underflow");
  BOOST_TEST(Amount(0).checked_sub(Amount(1)).error().reason == "amount-underflow");
  BOOST_TEST(Amount(1ull << 32).checked_mul(1ull << 32).error().reason == "amount-overflow");
  BOOST_TEST(Amount::max().checked_add(Amount(0))->units() == UINT64_MAX);
}

BOOST_AUTO_TEST_CASE(mul_div_is_exact_floor) {
  // 5% of the maximum amount needs 128-bit intermediates.
  BOOST_TEST(Amount::max().mul_div(500, 10000)->units() == UINT64_MAX / 20);
  BOOST_TEST(Amount(999).mul_div(1, 10)->units() == 99u);
  BOOST_TEST(Amount(7).mul_div(0, 3)->is_zero());
  BOOST_TEST(Amount(7).mul_div(1, 0).error().reason == "division-by-zero");
  BOOST_TEST(Amount::max().mul_div(2, 1).error().reason == "amount-overflow");
}

BOOST_AUTO_TEST_CASE(decimal_strings) {
  BOOST_TEST(Amount::parse("0")->units() == 0u);
  BOOST_TEST(Amount::parse("18446744073709551615")->units() == UINT64_MAX);
  BOOST_TEST(Amount(1234567890123ull).to_string() == "1234567890123");
  for (const char* bad : {"", "-1", "+1", "1.5", "1e3", " 1", "1 ", "0x10", "18446744073709551616",
                          "99999999999999999999", "123456789012345678901"})
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(Amount::parse(bad).error().reason == "bad-amount"); }
}

BOOST_AUTO_TEST_CASE(encoding_round_trip) {
  for (std::uint64_t v : std::initializer_list<std::uint64_t>{0, 1, 1000000, UINT64_MAX}) {
    auto back = decode_exact<Amount>(encode(Amount(v)));
    BOOST_TEST(back->units() == v);
  }
}
