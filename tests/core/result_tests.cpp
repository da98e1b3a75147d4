#define BOOST_TEST_MODULE result_tests
#include <boost/test/unit_test.hpp>

#include "core/result.h"

using namespace verity;

namespace {
Result<int> half(int x) {
  if (x % 2 != 0) return make_error("odd-number", std::to_string(x) + " is odd");
  return x / 2;
}
}  // namespace

BOOST_AUTO_TEST_CASE(value_and_error) {
  auto a = half(8);
  BOOST_TEST(a.ok());
  BOOST_TEST(*a == 4);
  auto b = half(3);
  BOOST_TEST(!b.ok());
  BOOST_TEST(b.error().reason == "odd-number");
  BOOST_TEST(b.error().to_string() == "odd-number: 3 is odd");
  BOOST_TEST((b.error().fault == Fault::input));
}

BOOST_AUTO_TEST_CASE(status_and_local_fault) {
  Status ok;
  BOOST_TEST(ok.ok());
  Status bad = local_error("store-io-error", "disk full");
  BOOST_TEST(!bad.ok());
  BOOST_TEST((bad.error().fault == Fault::local));
  BOOST_TEST(bad.error().to_string() == "store-io-error: disk full");
}
