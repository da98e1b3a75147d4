#define BOOST_TEST_MODULE validator_set_tests
#include <boost/test/unit_test.hpp>

#include "core/validator_set.h"

using namespace verity;

namespace {
PublicKey key(const char* name) { return SecretKey::derive_insecure(name).public_key(); }
}  // namespace

BOOST_AUTO_TEST_CASE(create_sorts_and_sums) {
  auto set = ValidatorSet::create({{key("v3"), 30}, {key("v1"), 10}, {key("v2"), 20}});
  BOOST_REQUIRE(set.ok());
  BOOST_TEST(set->total_power() == 60u);
  BOOST_TEST(set->size() == 3u);
  for (std::size_t i = 1; i < set->size(); ++i)
    BOOST_TEST(set->validators()[i - 1].key < set->validators()[i].key);
  BOOST_TEST(*set->power_of(key("v2")) == 20u);
  BOOST_TEST(!set->power_of(key("stranger")).has_value());
  // Insertion order does not change the set or its hash.
  auto again = ValidatorSet::create({{key("v1"), 10}, {key("v2"), 20}, {key("v3"), 30}});
  BOOST_TEST(again->hash() == set->hash());
}

BOOST_AUTO_TEST_CASE(quorum_is_strictly_more_than_two_thirds) {
  auto set = ValidatorSet::create({{key("a"), 1}, {key("b"), 1}, {key("c"), 1}, {key("d"), 1}});
  BOOST_TEST(!set->is_quorum(2));
  BOOST_TEST(set->is_quorum(3));  // 3 of 4 > 2/3
  auto three = ValidatorSet::create({{key("a"), 1}, {key("b"), 1}, {key("c"), 1}});
  BOOST_TEST(!three->is_quorum(2));  // exactly 2/3 is not enough
  BOOST_TEST(three->is_quorum(3));
  BOOST_TEST(!three->exceeds_one_third(1));
  BOOST_TEST(three->exceeds_one_third(2));
  // Near the top of the range there is no overflow.
  auto big = ValidatorSet::create({{key("a"), UINT64_MAX / 2}, {key("b"), UINT64_MAX / 2}});
  BOOST_TEST(!big->is_quorum(UINT64_MAX / 2));
  BOOST_TEST(big->is_quorum(UINT64_MAX - 1));
}

BOOST_AUTO_TEST_CASE(bad_sets_rejected) {
  BOOST_TEST(ValidatorSet::create({}).error().reason == "empty-validator-set");
  BOOST_TEST(ValidatorSet::create({{key("a"), 1}, {key("a"), 2}}).error().reason == "duplicate-validator");
  BOOST_TEST(ValidatorSet::create({{key("a"), 0}}).error().reason == "zero-power");
  BOOST_TEST(ValidatorSet::create({{key("a"), UINT64_MAX}, {key("b"), 1}}).error().reason == "power-overflow");
}

BOOST_AUTO_TEST_CASE(encoding_is_canonical) {
  auto set = ValidatorSet::create({{key("a"), 5}, {key("b"), 7}}).value();
  auto back = decode_exact<ValidatorSet>(encode(set));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((*back == set));
  // The same validators in descending order are rejected: one set, one encoding.
  Writer w;
  w.varint(2);
  for (auto it = set.validators().rbegin(); it != set.validators().rend(); ++it) {
    w.fixed(it->key);
    w.varint(it->power);
  }
  BOOST_TEST(decode_exact<ValidatorSet>(w.data()).error().reason == "decode-not-canonical");
}
