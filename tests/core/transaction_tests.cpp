#define BOOST_TEST_MODULE transaction_tests
#include <boost/test/unit_test.hpp>

#include "core/transaction.h"

using namespace verity;

namespace {
Transaction sample(const SecretKey& key) {
  Transaction tx;
  tx.chain_id = "verity-test-1";
  tx.nonce = 42;
  tx.fee = Amount(1000);
  tx.payload = Transfer{SecretKey::derive_insecure("bob").public_key(), Amount(123456789)};
  tx.sign(key);
  return tx;
}
}  // namespace

BOOST_AUTO_TEST_CASE(signed_transaction_round_trips_and_verifies) {
  auto alice = SecretKey::derive_insecure("alice");
  Transaction tx = sample(alice);
  BOOST_TEST(tx.sender == alice.public_key());
  BOOST_TEST(tx.verify_signature());
  Bytes enc = encode(tx);
  auto back = decode_transaction(enc);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((*back == tx));
  BOOST_TEST(back->verify_signature());
  BOOST_TEST(back->id() == tx.id());
  BOOST_TEST(tx.id() != tx.signing_hash());
  BOOST_TEST(std::string(payload_name(tx.payload)) == "transfer");
}

// Flipping any single bit of a signed transaction makes decoding or
// signature verification fail: no bit of it is unauthenticated.
BOOST_AUTO_TEST_CASE(every_bit_flip_is_caught) {
  Transaction tx = sample(SecretKey::derive_insecure("alice"));
  const Bytes enc = encode(tx);
  std::size_t decoded_but_bad_sig = 0, decode_failed = 0;
  for (std::size_t bit = 0; bit < enc.size() * 8; ++bit) {
    Bytes flipped = enc;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    auto d = decode_transaction(flipped);
    if (!d.ok()) {
      ++decode_failed;
      continue;
    }
    BOOST_TEST_CONTEXT("bit " << bit) { BOOST_TEST(!d->verify_signature()); }
    ++decoded_but_bad_sig;
  }
  BOOST_TEST_MESSAGE(enc.size() * 8 << " bits: " << decode_failed << " failed to decode, "
                                    << decoded_but_bad_sig << " decoded with a bad signature");
  BOOST_TEST(decode_failed + decoded_but_bad_sig == enc.size() * 8);
}

BOOST_AUTO_TEST_CASE(signature_binds_chain_id_and_fields) {
  auto alice = SecretKey::derive_insecure("alice");
  Transaction tx = sample(alice);
  Transaction other_chain = tx;
  other_chain.chain_id = "verity-other-1";
  BOOST_TEST(!other_chain.verify_signature());
  Transaction other_nonce = tx;
  other_nonce.nonce += 1;
  BOOST_TEST(!other_nonce.verify_signature());
  Transaction other_sender = tx;
  other_sender.sender = SecretKey::derive_insecure("carol").public_key();
  BOOST_TEST(!other_sender.verify_signature());
}

BOOST_AUTO_TEST_CASE(strict_decoding_errors) {
  Bytes enc = encode(sample(SecretKey::derive_insecure("alice")));
  Bytes longer = enc;
  longer.push_back(0);
  BOOST_TEST(decode_transaction(longer).error().reason == "decode-trailing-bytes");
  BOOST_TEST(decode_transaction(ByteView(enc.data(), enc.size() - 1)).error().reason == "decode-short-buffer");
  BOOST_TEST(decode_transaction(Bytes(kMaxTransactionBytes + 1, 0)).error().reason == "tx-too-large");

  // Unknown payload tag: the byte after chain id, sender, nonce and fee.
  Transaction tx = sample(SecretKey::derive_insecure("alice"));
  Writer w;
  w.string(tx.chain_id);
  w.fixed(tx.sender);
  w.varint(tx.nonce);
  tx.fee.encode(w);
  std::size_t tag_at = w.data().size();
  BOOST_REQUIRE_EQUAL(enc[tag_at], Transfer::kTag);
  Bytes bad = enc;
  bad[tag_at] = 0xEE;
  BOOST_TEST(decode_transaction(bad).error().reason == "decode-unknown-payload");

  // A chain id longer than the cap.
  Transaction long_chain = tx;
  long_chain.chain_id = std::string(kMaxChainIdBytes + 1, 'x');
  BOOST_TEST(decode_transaction(encode(long_chain)).error().reason == "decode-too-long");
}

// The task payloads round trip through the binary encoding, and each byte
// field has its own cap: a 1 MiB module fits, an input or output over
// 64 KiB does not.
BOOST_AUTO_TEST_CASE(task_payloads_round_trip_with_their_byte_caps) {
  auto alice = SecretKey::derive_insecure("alice");
  auto make = [&](Payload p) {
    Transaction tx;
    tx.chain_id = "verity-test-1";
    tx.fee = Amount(1);
    tx.payload = std::move(p);
    tx.sign(alice);
    return tx;
  };
  std::vector<Payload> payloads{
      RegisterWorker{Amount(5)},
      UnregisterWorker{},
      SubmitTask{ModuleBytes{Bytes(kMaxTaskModuleBytes, 7)}, Hash256{}, TaskBytes{Bytes(kMaxTaskIoBytes, 1)}, 3,
                 Amount(9), 1000, 4, 5},
      SubmitTask{ModuleBytes{}, sha256(as_bytes("m")), TaskBytes{}, 0, Amount(1), 1, 1, 1},
      CommitResult{3, sha256(as_bytes("c"))},
      RevealResult{3, 1, 2, 300, TaskBytes{Bytes(kMaxTaskIoBytes, 9)}, sha256(as_bytes("s"))},
      RequestAudit{3}};
  for (const auto& p : payloads) {
    Transaction tx = make(p);
    auto back = decode_transaction(encode(tx));
    BOOST_REQUIRE(back.ok());
    BOOST_TEST((*back == tx));
    BOOST_TEST(back->verify_signature());
  }
  BOOST_TEST(std::string(payload_name(make(RequestAudit{1}).payload)) == "request_audit");

  Transaction big_input = make(SubmitTask{ModuleBytes{}, sha256(as_bytes("m")), TaskBytes{Bytes(kMaxTaskIoBytes + 1, 1)},
                                          1, Amount(1), 1, 1, 1});
  BOOST_TEST(decode_transaction(encode(big_input)).error().reason == "decode-too-long");
  Transaction big_output = make(RevealResult{1, 0, 0, 0, TaskBytes{Bytes(kMaxTaskIoBytes + 1, 1)}, Hash256{}});
  BOOST_TEST(decode_transaction(encode(big_output)).error().reason == "decode-too-long");
  Transaction big_module = make(SubmitTask{ModuleBytes{Bytes(kMaxTaskModuleBytes + 1, 1)}, Hash256{}, TaskBytes{}, 1,
                                           Amount(1), 1, 1, 1});
  BOOST_TEST(decode_transaction(encode(big_module)).error().reason == "decode-too-long");
}

BOOST_AUTO_TEST_CASE(task_result_hash_and_commitment_are_tagged) {
  Hash256 r = task_result_hash(0, 0, 10, as_bytes("out"));
  Writer w;
  w.varint(0);
  w.varint(0);
  w.varint(10);
  w.bytes(as_bytes("out"));
  BOOST_TEST(r == tagged_hash(Domain::task_result, w.data()));
  BOOST_TEST(r != sha256(w.data()));
  auto k = SecretKey::derive_insecure("worker").public_key();
  Writer c;
  c.string("chain");
  c.varint(5);
  c.fixed(r);
  c.fixed(Hash256{});
  c.fixed(k);
  BOOST_TEST(task_commitment("chain", 5, r, Hash256{}, k) == tagged_hash(Domain::task_commitment, c.data()));
}

// Every worker seeds the sandbox's random_get stream the same way: from the
// chain id and the task id, under its own tag.
BOOST_AUTO_TEST_CASE(task_sandbox_seed_is_tagged_and_per_chain_and_task) {
  Writer w;
  w.string("chain");
  w.varint(7);
  BOOST_TEST(task_sandbox_seed("chain", 7) == tagged_hash(Domain::task_random, w.data()));
  BOOST_TEST(task_sandbox_seed("chain", 7) == task_sandbox_seed("chain", 7));
  BOOST_TEST(task_sandbox_seed("chain", 7) != task_sandbox_seed("chain", 8));
  BOOST_TEST(task_sandbox_seed("chain", 7) != task_sandbox_seed("other", 7));
}
