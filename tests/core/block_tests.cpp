#define BOOST_TEST_MODULE block_tests
#include <boost/test/unit_test.hpp>

#include <functional>
#include <set>
#include <utility>
#include <vector>

#include "core/block.h"

using namespace verity;

namespace {
const std::string kChain = "verity-test-1";

struct Fixture {
  std::vector<SecretKey> keys;
  ValidatorSet set;
  Fixture() {
    std::vector<Validator> vs;
    for (const char* n : {"v1", "v2", "v3", "v4"}) {
      keys.push_back(SecretKey::derive_insecure(n));
      vs.push_back({keys.back().public_key(), 10});
    }
    set = ValidatorSet::create(vs).value();
  }
  // A certificate signed by the first `n` keys, sorted by validator.
  CommitCertificate certificate(const Hash256& block_hash, std::size_t n) const {
    CommitCertificate c{7, 2, block_hash, {}};
    Hash256 digest = vote_digest(kChain, VotePhase::commit, c.height, c.view, block_hash);
    for (std::size_t i = 0; i < n; ++i) c.signatures.push_back({keys[i].public_key(), keys[i].sign(digest)});
    std::sort(c.signatures.begin(), c.signatures.end(),
              [](const auto& a, const auto& b) { return a.validator < b.validator; });
    return c;
  }
};

Transaction transfer(const char* from, std::uint64_t nonce) {
  Transaction tx;
  tx.chain_id = kChain;
  tx.nonce = nonce;
  tx.fee = Amount(1);
  tx.payload = Transfer{SecretKey::derive_insecure("bob").public_key(), Amount(5)};
  tx.sign(SecretKey::derive_insecure(from));
  return tx;
}

std::vector<Hash256> leaves(int n) {
  std::vector<Hash256> out;
  for (int i = 0; i < n; ++i) out.push_back(sha256(as_bytes(std::to_string(i))));
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(merkle_root_properties) {
  std::set<Hash256> roots;
  for (int n = 0; n <= 17; ++n) roots.insert(merkle_root(leaves(n)));
  BOOST_TEST(roots.size() == 18u);  // every length gives a different root
  auto l = leaves(5);
  auto swapped = l;
  std::swap(swapped[1], swapped[2]);
  BOOST_TEST(merkle_root(l) != merkle_root(swapped));  // order matters
  // No duplicate-last-leaf malleability: [a,b,c] and [a,b,c,c] differ.
  auto three = leaves(3);
  auto dup = three;
  dup.push_back(three[2]);
  BOOST_TEST(merkle_root(three) != merkle_root(dup));
  // A one-leaf tree is the tagged leaf, not the raw hash.
  BOOST_TEST(merkle_root(leaves(1)) == tagged_hash(Domain::merkle_leaf, leaves(1)[0].view()));
  // Two leaves: node(leaf(a), leaf(b)).
  auto two = leaves(2);
  Bytes cat;
  for (const auto& x : two) {
    Hash256 lh = tagged_hash(Domain::merkle_leaf, x.view());
    cat.insert(cat.end(), lh.data.begin(), lh.data.end());
  }
  BOOST_TEST(merkle_root(two) == tagged_hash(Domain::merkle_node, cat));
}

BOOST_FIXTURE_TEST_CASE(block_round_trip_and_body_check, Fixture) {
  Block b;
  b.header.chain_id = kChain;
  b.header.height = 8;
  b.header.view = 1;
  b.header.prev_hash = sha256(as_bytes("block 7"));
  b.header.state_root = sha256(as_bytes("state"));
  b.header.proposer = keys[0].public_key();
  b.header.timestamp_ms = 1'700'000'000'000;
  b.transactions = {transfer("alice", 0), transfer("alice", 1), transfer("carol", 0)};
  b.last_commit = certificate(b.header.prev_hash, 3);
  b.header.tx_root = transactions_root(b.transactions);
  b.header.last_commit_hash = b.last_commit.hash();
  BOOST_TEST(b.check_body().ok());

  Bytes enc = encode(b);
  auto back = decode_block(enc);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((*back == b));
  BOOST_TEST(back->hash() == b.hash());

  Block reordered = b;
  std::swap(reordered.transactions[0], reordered.transactions[2]);
  BOOST_TEST(reordered.check_body().error().reason == "bad-tx-root");
  Block other_commit = b;
  other_commit.last_commit.signatures.pop_back();
  BOOST_TEST(other_commit.check_body().error().reason == "bad-last-commit-hash");

  // Every header field changes the block hash.
  const auto h = b.header.hash();
  const std::vector<std::pair<const char*, std::function<void(BlockHeader&)>>> changes = {
      {"height", [](BlockHeader& x) { x.height++; }},
      {"view", [](BlockHeader& x) { x.view++; }},
      {"state_root", [](BlockHeader& x) { x.state_root.data[0] ^= 1; }},
      {"chain_id", [](BlockHeader& x) { x.chain_id = "other"; }},
      {"timestamp_ms", [](BlockHeader& x) { x.timestamp_ms++; }},
      {"evidence_hash", [](BlockHeader& x) { x.evidence_hash.data[0] ^= 1; }},
  };
  for (const auto& [field, change] : changes) {
    BlockHeader x = b.header;
    change(x);
    BOOST_TEST(x.hash() != h, field);
  }

  // Evidence: encoded after last_commit, committed to by evidence_hash.
  BOOST_TEST(b.header.evidence_hash == evidence_hash({}));
  Block with_evidence = b;
  Vote va, vb;
  va.phase = vb.phase = VotePhase::prepare;
  va.height = vb.height = 7;
  va.block_hash = sha256(as_bytes("A"));
  vb.block_hash = sha256(as_bytes("B"));
  va.sign("verity-test-1", keys[1]);
  vb.sign("verity-test-1", keys[1]);
  with_evidence.evidence = {DoubleSignEvidence{va, vb}};
  BOOST_TEST(with_evidence.check_body().error().reason == "bad-evidence-hash");
  with_evidence.header.evidence_hash = evidence_hash(with_evidence.evidence);
  BOOST_TEST(with_evidence.check_body().ok());
  BOOST_TEST(with_evidence.hash() != b.hash());
  auto back_e = decode_block(encode(with_evidence));
  BOOST_REQUIRE(back_e.ok());
  BOOST_TEST((*back_e == with_evidence));
  // The list's hash is tagged_hash("verity/evidence-list", varint(1) || evidence).
  Writer list;
  list.varint(1);
  list.raw(encode(with_evidence.evidence[0]));
  BOOST_TEST(with_evidence.header.evidence_hash == tagged_hash(Domain::evidence_list, list.data()));
  BOOST_TEST(domain_tag(Domain::evidence_list) == "verity/evidence-list");

  BOOST_TEST(decode_block(ByteView(enc.data(), enc.size() - 1)).error().reason == "decode-short-buffer");
}

BOOST_FIXTURE_TEST_CASE(commit_certificate_verification, Fixture) {
  Hash256 block_hash = sha256(as_bytes("block"));
  BOOST_TEST(certificate(block_hash, 3).verify(kChain, set).ok());
  BOOST_TEST(certificate(block_hash, 4).verify(kChain, set).ok());
  BOOST_TEST(certificate(block_hash, 2).verify(kChain, set).error().reason == "cert-no-quorum");
  BOOST_TEST(certificate(block_hash, 3).verify("other-chain", set).error().reason == "cert-bad-signature");

  auto wrong_block = certificate(block_hash, 3);
  wrong_block.block_hash.data[0] ^= 1;
  BOOST_TEST(wrong_block.verify(kChain, set).error().reason == "cert-bad-signature");

  auto wrong_view = certificate(block_hash, 3);
  wrong_view.view++;
  BOOST_TEST(wrong_view.verify(kChain, set).error().reason == "cert-bad-signature");

  // The same signer twice does not count twice.
  auto dup = certificate(block_hash, 2);
  dup.signatures.push_back(dup.signatures.back());
  BOOST_TEST(dup.verify(kChain, set).error().reason == "cert-not-canonical");

  auto stranger = certificate(block_hash, 3);
  auto outsider = SecretKey::derive_insecure("outsider");
  stranger.signatures[0].validator = outsider.public_key();
  std::sort(stranger.signatures.begin(), stranger.signatures.end(),
            [](const auto& a, const auto& b) { return a.validator < b.validator; });
  BOOST_TEST(stranger.verify(kChain, set).error().reason == "cert-unknown-signer");

  auto back = decode_exact<CommitCertificate>(encode(certificate(block_hash, 4)));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->verify(kChain, set).ok());
}
