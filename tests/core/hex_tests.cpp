#define BOOST_TEST_MODULE hex_tests
#include <boost/test/unit_test.hpp>

#include "core/hex.h"

using namespace verity;

BOOST_AUTO_TEST_CASE(round_trip) {
  std::vector<std::uint8_t> bytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  BOOST_TEST(to_hex(bytes) == "00017f80abff");
  auto back = from_hex("00017F80ABff");
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(*back == bytes);
  BOOST_TEST(from_hex("").ok());
}

BOOST_AUTO_TEST_CASE(rejects_bad_input) {
  BOOST_TEST(from_hex("abc").error().reason == "bad-hex");
  BOOST_TEST(from_hex("0g").error().reason == "bad-hex");
  BOOST_TEST(from_hex("0x00").error().reason == "bad-hex");
  BOOST_TEST(from_hex("00 ").error().reason == "bad-hex");
}
