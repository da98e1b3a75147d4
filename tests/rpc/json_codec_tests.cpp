#define BOOST_TEST_MODULE json_codec_tests
#include <boost/test/unit_test.hpp>

#include "rpc/json_codec.h"

using namespace verity;
using namespace verity::rpc;

namespace {
Transaction sample() {
  Transaction tx;
  tx.chain_id = "verity-test-1";
  tx.nonce = 3;
  tx.fee = Amount(10);
  tx.payload = Transfer{SecretKey::derive_insecure("bob").public_key(), Amount(UINT64_MAX)};
  tx.sign(SecretKey::derive_insecure("alice"));
  return tx;
}

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  BOOST_REQUIRE(!d.HasParseError());
  return d;
}
}  // namespace

BOOST_AUTO_TEST_CASE(amounts_are_decimal_strings) {
  rapidjson::Document d;
  auto v = to_json(Amount(UINT64_MAX), d.GetAllocator());
  BOOST_TEST(json_string(v) == "\"18446744073709551615\"");
  BOOST_TEST(amount_from_json(v, "x")->units() == UINT64_MAX);
  auto number = parse("5");
  auto e = amount_from_json(number, "fee");
  BOOST_TEST(e.error().reason == "invalid-params");
  BOOST_TEST(e.error().detail.find("fee") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(transaction_round_trip_keeps_signature_valid) {
  Transaction tx = sample();
  rapidjson::Document d;
  std::string text = json_string(to_json(tx, d.GetAllocator()));
  auto doc = parse(text);
  BOOST_TEST(doc["payload"]["type"].GetString() == std::string("transfer"));
  BOOST_TEST(doc["payload"]["amount"].GetString() == std::string("18446744073709551615"));
  auto back = transaction_from_json(doc);
  BOOST_REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().to_string()));
  BOOST_TEST((*back == tx));
  BOOST_TEST(back->verify_signature());
}

BOOST_AUTO_TEST_CASE(bad_fields_are_named) {
  Transaction tx = sample();
  rapidjson::Document d;
  std::string good = json_string(to_json(tx, d.GetAllocator()));
  struct Case {
    const char* field;
    std::string json;
  };
  const std::string transfer_with_typo =
      "{\"type\":\"transfer\",\"to\":\"" + std::string(64, '0') + "\",\"amount\":\"1\",\"amuont\":\"1\"}";
  auto with = [&](const char* member, const char* value) {
    auto doc = parse(good);
    rapidjson::Document v;
    v.Parse(value);
    doc[member].CopyFrom(v, doc.GetAllocator());
    return json_string(doc);
  };
  for (const Case& c : std::vector<Case>{{"nonce", with("nonce", "-1")},
                                         {"nonce", with("nonce", "\"1\"")},
                                         {"fee", with("fee", "10")},
                                         {"fee", with("fee", "\"ten\"")},
                                         {"sender", with("sender", "\"abcd\"")},
                                         {"signature", with("signature", "\"zz\"")},
                                         {"payload", with("payload", "{}")},
                                         {"payload.type", with("payload", "{\"type\":\"mint\"}")},
                                         {"chain_id", "{\"sender\":1}"},
                                         // Fields it does not have: refused, never ignored.
                                         {"memo", good.substr(0, good.size() - 1) + ",\"memo\":\"x\"}"},
                                         {"payload.amuont", with("payload", transfer_with_typo.c_str())},
                                         {"payload.to", with("payload", "{\"type\":\"claim\",\"to\":\"\"}")}}) {
    BOOST_TEST_CONTEXT(c.json) {
      auto r = transaction_from_json(parse(c.json));
      BOOST_TEST(r.error().reason == "invalid-params");
      BOOST_TEST(r.error().detail.rfind(c.field, 0) == 0u, r.error().detail);
    }
  }
}

// Every payload kind survives JSON and keeps its signature valid.
BOOST_AUTO_TEST_CASE(every_payload_kind_round_trips) {
  auto alice = SecretKey::derive_insecure("alice");
  auto bob = SecretKey::derive_insecure("bob").public_key();
  Vote a, b;
  a.height = b.height = 7;
  a.block_hash = sha256(as_bytes("A"));
  b.block_hash = sha256(as_bytes("B"));
  a.sign("verity-test-1", alice);
  b.sign("verity-test-1", alice);
  std::vector<Payload> payloads{Transfer{bob, Amount(5)},
                                CreateValidator{bob, Amount(1000), "my validator", 500},
                                Delegate{bob, Amount(7)},
                                Undelegate{bob, Amount(3)},
                                Withdraw{},
                                Claim{},
                                Unjail{},
                                SubmitEvidence{DoubleSignEvidence{a, b}},
                                RegisterWorker{Amount(100000)},
                                UnregisterWorker{},
                                SubmitTask{ModuleBytes{{0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0}}, Hash256{}, TaskBytes{{'4', ' ', '2'}},
                                           3, Amount(50), 1000000, 10, 10},
                                SubmitTask{ModuleBytes{}, sha256(as_bytes("module")), TaskBytes{}, 0, Amount(1), 1, 1, 1},
                                CommitResult{7, sha256(as_bytes("commitment"))},
                                RevealResult{7, 0, 0, 1234, TaskBytes{{'o', 'k', 0xff}}, sha256(as_bytes("salt"))},
                                RequestAudit{7}};
  BOOST_TEST(payloads.size() == std::variant_size_v<Payload> + 1);  // submit_task twice: bytes, then a hash
  for (const auto& p : payloads) {
    Transaction tx;
    tx.chain_id = "verity-test-1";
    tx.nonce = 1;
    tx.fee = Amount(2);
    tx.payload = p;
    tx.sign(alice);
    rapidjson::Document d;
    std::string text = json_string(to_json(tx, d.GetAllocator()));
    BOOST_TEST_CONTEXT(text) {
      auto back = transaction_from_json(parse(text));
      BOOST_REQUIRE(back.ok());
      BOOST_TEST((*back == tx));
      BOOST_TEST(back->verify_signature());
    }
  }
  // Byte fields are hex, and longer than their cap is refused.
  {
    Transaction t;
    t.chain_id = "verity-test-1";
    t.payload = RevealResult{1, 0, 0, 5, TaskBytes{{0xab, 0xcd}}, Hash256{}};
    t.sign(alice);
    rapidjson::Document doc;
    std::string json = json_string(to_json(t, doc.GetAllocator()));
    BOOST_TEST(json.find("\"output\":\"abcd\"") != std::string::npos);
    auto at = json.find("\"abcd\"");
    std::string longer = json;
    longer.replace(at, 6, "\"" + std::string(2 * (kMaxTaskIoBytes + 1), 'a') + "\"");
    auto too_long = transaction_from_json(parse(longer));
    BOOST_TEST(too_long.error().reason == "invalid-params");
    BOOST_TEST(too_long.error().detail.find("payload.output") != std::string::npos);
    std::string not_hex = json;
    not_hex.replace(at, 6, "\"zz\"");
    BOOST_TEST(transaction_from_json(parse(not_hex)).error().reason == "invalid-params");
  }
  // An unknown field inside a payload is refused.
  Transaction claim_tx;
  claim_tx.chain_id = "verity-test-1";
  claim_tx.payload = Claim{};
  claim_tx.sign(alice);
  rapidjson::Document d;
  std::string text = json_string(to_json(claim_tx, d.GetAllocator()));
  BOOST_REQUIRE(transaction_from_json(parse(text)).ok());
  auto at = text.find("\"type\":\"claim\"");
  BOOST_REQUIRE(at != std::string::npos);
  text.insert(at, "\"extra\":1,");
  auto bad = transaction_from_json(parse(text));
  BOOST_TEST(bad.error().reason == "invalid-params");
  BOOST_TEST(bad.error().detail.find("payload.extra: no such field in a claim payload") != std::string::npos,
             bad.error().detail);
}
