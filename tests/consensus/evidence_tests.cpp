#define BOOST_TEST_MODULE evidence_tests
#include <boost/test/unit_test.hpp>

#include "consensus/evidence.h"

using namespace verity;
using namespace verity::consensus;

namespace {
const std::string kChain = "verity-test-1";
Vote vote(const char* who, std::uint64_t height, std::uint64_t view, const char* block) {
  Vote v;
  v.phase = VotePhase::prepare;
  v.height = height;
  v.view = view;
  v.block_hash = sha256(as_bytes(block));
  v.sign(kChain, SecretKey::derive_insecure(who));
  return v;
}
}  // namespace

BOOST_AUTO_TEST_CASE(evidence_is_canonical) {
  auto a = vote("v1", 3, 0, "A"), b = vote("v1", 3, 0, "B");
  auto e1 = make_evidence(a, b), e2 = make_evidence(b, a);
  BOOST_REQUIRE(e1 && e2);
  BOOST_TEST((*e1 == *e2));
  BOOST_TEST(e1->verify(kChain).ok());
  BOOST_TEST(!make_evidence(a, a));
}

BOOST_AUTO_TEST_CASE(detector_reports_each_offence_once) {
  EquivocationDetector d;
  BOOST_TEST(!d.observe(vote("v1", 3, 0, "A")));
  BOOST_TEST(!d.observe(vote("v1", 3, 0, "A")));  // a duplicate is no offence
  BOOST_TEST(!d.observe(vote("v2", 3, 0, "B")));  // another validator
  BOOST_TEST(!d.observe(vote("v1", 3, 1, "B")));  // another view
  auto e = d.observe(vote("v1", 3, 0, "B"));
  BOOST_REQUIRE(e);
  BOOST_TEST(e->verify(kChain).ok());
  BOOST_TEST(!d.observe(vote("v1", 3, 0, "C")));  // already reported
  BOOST_TEST(d.observe(vote("v2", 3, 0, "C")).has_value());
  BOOST_TEST(!d.observe(vote("v3", 9, 0, "A")));
  d.prune_below(4);
  BOOST_TEST(d.size() == 1u);  // only height 9 remains
}
