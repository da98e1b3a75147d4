#define BOOST_TEST_MODULE vote_tests
#include <boost/test/unit_test.hpp>

#include "core/vote.h"

using namespace verity;

namespace {
const std::string kChain = "verity-test-1";

Vote make_vote(const SecretKey& key, VotePhase phase, std::uint64_t height, std::uint64_t view, const char* block) {
  Vote v;
  v.phase = phase;
  v.height = height;
  v.view = view;
  v.block_hash = sha256(as_bytes(block));
  v.sign(kChain, key);
  return v;
}
}  // namespace

BOOST_AUTO_TEST_CASE(sign_verify_round_trip) {
  auto key = SecretKey::derive_insecure("v1");
  Vote v = make_vote(key, VotePhase::commit, 5, 1, "b");
  BOOST_TEST(v.verify(kChain));
  BOOST_TEST(!v.verify("other-chain"));
  auto back = decode_exact<Vote>(encode(v));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((*back == v));
  BOOST_TEST(back->verify(kChain));
  BOOST_TEST(verify_signature(v.validator, vote_digest(kChain, VotePhase::commit, 5, 1, v.block_hash), v.signature));
  Vote as_prepare = v;
  as_prepare.phase = VotePhase::prepare;
  BOOST_TEST(!as_prepare.verify(kChain));  // a commit signature is not a prepare
}

// A vote verified once is answered from the memo the next times (as in the
// certificate and the next block's last_commit); a signature that differs
// in one bit is still checked, and fails.
BOOST_AUTO_TEST_CASE(verified_votes_are_remembered_and_only_those) {
  auto key = SecretKey::derive_insecure("memo");
  // Signed as a peer would have (not through Vote::sign, which remembers).
  Vote v;
  v.phase = VotePhase::commit;
  v.height = 77;
  v.block_hash = sha256(as_bytes("memo-block"));
  v.validator = key.public_key();
  v.signature = key.sign(v.digest(kChain));
  const auto h0 = vote_signature_memo_hits();
  BOOST_TEST(v.verify(kChain));
  BOOST_TEST(vote_signature_memo_hits() == h0);
  BOOST_TEST(v.verify(kChain));
  BOOST_TEST(verify_vote_signature(v.validator, v.digest(kChain), v.signature));
  BOOST_TEST(vote_signature_memo_hits() == h0 + 2);
  Vote forged = v;
  forged.signature.data[40] ^= 1;
  BOOST_TEST(!forged.verify(kChain));
  BOOST_TEST(!forged.verify(kChain));  // failures are never remembered
  BOOST_TEST(vote_signature_memo_hits() == h0 + 2);
  BOOST_TEST(!v.verify("other-chain"));  // another digest
}

// A validator's own vote comes back in the certificate that commits the
// block: Vote::sign remembers the signature it made, so that check is free.
BOOST_AUTO_TEST_CASE(own_signed_votes_need_no_check) {
  Vote v = make_vote(SecretKey::derive_insecure("memo-own"), VotePhase::commit, 78, 0, "own-block");
  const auto h0 = vote_signature_memo_hits();
  BOOST_TEST(v.verify(kChain));
  BOOST_TEST(vote_signature_memo_hits() == h0 + 1);
  Vote forged = v;
  forged.signature.data[3] ^= 1;
  BOOST_TEST(!forged.verify(kChain));
  BOOST_TEST(vote_signature_memo_hits() == h0 + 1);
}

BOOST_AUTO_TEST_CASE(bad_phase_rejected) {
  Bytes enc = encode(make_vote(SecretKey::derive_insecure("v1"), VotePhase::prepare, 1, 0, "b"));
  enc[0] = 9;
  BOOST_TEST(decode_exact<Vote>(enc).error().reason == "decode-bad-phase");
}

BOOST_AUTO_TEST_CASE(equivocation_and_evidence) {
  auto key = SecretKey::derive_insecure("v1");
  auto a = make_vote(key, VotePhase::prepare, 5, 1, "block A");
  auto b = make_vote(key, VotePhase::prepare, 5, 1, "block B");
  BOOST_TEST(is_equivocation(a, b));
  BOOST_TEST(!is_equivocation(a, a));
  BOOST_TEST(!is_equivocation(a, make_vote(key, VotePhase::prepare, 5, 2, "block B")));
  BOOST_TEST(!is_equivocation(a, make_vote(key, VotePhase::commit, 5, 1, "block B")));
  BOOST_TEST(!is_equivocation(a, make_vote(SecretKey::derive_insecure("v2"), VotePhase::prepare, 5, 1, "block B")));

  DoubleSignEvidence e{a, b};
  BOOST_TEST(e.verify(kChain).ok());
  BOOST_TEST(e.verify("other-chain").error().reason == "evidence-bad-signature");
  BOOST_TEST((DoubleSignEvidence{b, a}.offence_id() == e.offence_id()));
  BOOST_TEST((DoubleSignEvidence{a, a}.verify(kChain).error().reason == "evidence-not-conflicting"));
  DoubleSignEvidence forged = e;
  forged.second.block_hash = sha256(as_bytes("block C"));  // signature no longer matches
  BOOST_TEST(forged.verify(kChain).error().reason == "evidence-bad-signature");
  auto back = decode_exact<DoubleSignEvidence>(encode(e));
  BOOST_TEST((back.value() == e));
}
