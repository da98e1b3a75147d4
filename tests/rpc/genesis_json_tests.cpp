#define BOOST_TEST_MODULE genesis_json_tests
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <regex>

#include "rpc/genesis_json.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::rpc;

namespace {
std::string devnet_text() {
  const char* root = std::getenv("VERITY_SOURCE_ROOT");
  BOOST_REQUIRE_MESSAGE(root, "VERITY_SOURCE_ROOT is not set; run with 'meson test'");
  return testing::read_file(std::string(root) + "/genesis/devnet.json");
}

// The devnet file with the first match of `pattern` replaced.
std::string edited(const std::string& pattern, const std::string& replacement) {
  std::string text = devnet_text();
  std::string out = std::regex_replace(text, std::regex(pattern), replacement, std::regex_constants::format_first_only);
  BOOST_REQUIRE_MESSAGE(out != text, "pattern did not match: " << pattern);
  return out;
}

void expect_error(const std::string& text, const std::string& field) {
  auto g = genesis_from_json(text);
  BOOST_REQUIRE(!g.ok());
  BOOST_TEST(g.error().reason == "bad-genesis");
  BOOST_TEST(g.error().detail.rfind(field, 0) == 0u, "detail '" << g.error().detail << "' should start with " << field);
}
}  // namespace

BOOST_AUTO_TEST_CASE(devnet_genesis_loads_with_named_insecure_keys) {
  auto g = genesis_from_json(devnet_text());
  BOOST_REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().to_string()));
  BOOST_TEST(g->chain_id == "verity-devnet-1");
  BOOST_TEST(g->validators.size() == 4u);
  // DESIGN.md's defaults, but for the two the devnet shortens so that
  // every journey completes in a minute or two (genesis/README.md).
  ProtocolParams expected;
  expected.unbonding_blocks = 100;
  expected.block_reward = Amount(1000);
  BOOST_TEST((g->params == expected));
  std::vector<std::string> names;
  for (const auto& a : g->accounts) {
    BOOST_TEST(a.address == SecretKey::derive_insecure(a.name).public_key(), a.name);
    names.push_back(a.name);
  }
  for (const char* n : {"alice", "bob", "carol", "dave", "worker-1", "worker-2", "worker-3"})
    BOOST_TEST((std::find(names.begin(), names.end(), n) != names.end()), n);
  std::uint64_t supply = 0;
  for (const auto& a : g->accounts) supply += a.balance.units();
  for (const auto& v : g->validators) supply += v.stake.units();
  BOOST_TEST(g->total_supply().units() == supply);
  for (const auto& v : g->validators) {
    BOOST_TEST(v.operator_address == SecretKey::derive_insecure(v.name).public_key());
    BOOST_TEST(v.consensus_key == SecretKey::derive_insecure(v.name + "-consensus").public_key());
  }
}

BOOST_AUTO_TEST_CASE(round_trip_and_reproducible_hash) {
  auto g = genesis_from_json(devnet_text()).value();
  auto again = genesis_from_json(genesis_to_json(g));
  BOOST_REQUIRE(again.ok());
  BOOST_TEST((*again == g));
  BOOST_TEST(again->hash() == g.hash());
  auto back = decode_exact<Genesis>(encode(g));
  BOOST_TEST((back.value() == g));
  Genesis changed = g;
  changed.params.epoch_blocks += 1;
  BOOST_TEST(changed.hash() != g.hash());
}

BOOST_AUTO_TEST_CASE(errors_name_the_bad_field) {
  expect_error(edited("\"balance\": \"1000000000000\"", "\"balance\": \"18446744073709551616\""), "accounts[0].balance");
  expect_error(edited("\"balance\": \"1000000000000\"", "\"balance\": 1000"), "accounts[0].balance");
  expect_error(edited("\"stake\": \"10000000\"", "\"stake\": \"0\""), "validators[0].stake");
  expect_error(edited("\"address\": \"04", "\"address\": \"zz"), "accounts[0].address");
  expect_error(edited("\"address\": \"04ae", "\"address\": \"04a"), "accounts[0].address");
  expect_error(edited("\"chain_id\": \"verity-devnet-1\"", "\"chain_id\": \"Bad Chain!\""), "chain_id");
  expect_error(edited("\"genesis_time\"", "\"colour\": 1, \"genesis_time\""), "colour");
  expect_error(edited("\"epoch_blocks\": 100,", "\"epoch_blocks\": 100, \"surprise\": 1,"), "params.surprise");
  expect_error(edited("\"epoch_blocks\": 100,", ""), "params.epoch_blocks");
  expect_error(edited("\"epoch_blocks\": 100", "\"epoch_blocks\": 0"), "params");
  expect_error(edited("\"min_signed_bps\": 5000", "\"min_signed_bps\": 20000"), "params");
  expect_error(edited("\"name\": \"alice\",", "\"name\": \"alice\", \"extra\": true,"), "accounts[0].extra");
  expect_error(edited("\"task_replication\": 3", "\"task_replication\": -3"), "params.task_replication");
  // The metering version and the reference speed are required like every parameter.
  expect_error(edited("\"metering_version\": 1,", ""), "params.metering_version");
  expect_error(edited("\"metering_version\": 1", "\"metering_version\": \"1\""), "params.metering_version");
  expect_error(edited(",\n    \"reference_fuel_per_block\": 25000000", ""), "params.reference_fuel_per_block");
  expect_error(edited("\"reference_fuel_per_block\": 25000000", "\"reference_fuel_per_block\": 0"), "params");
  // The same address twice: bob's entry takes alice's address.
  auto g = genesis_from_json(devnet_text()).value();
  std::string text = devnet_text();
  std::string alice = g.accounts[0].address.hex(), bob = g.accounts[1].address.hex();
  text.replace(text.find(bob), bob.size(), alice);
  expect_error(text, "accounts[1].address");
  // The same consensus key twice.
  std::string v0 = g.validators[0].consensus_key.hex(), v1 = g.validators[1].consensus_key.hex();
  std::string t2 = devnet_text();
  t2.replace(t2.find(v1), v1.size(), v0);
  expect_error(t2, "validators[1].consensus_key");
}

// A name that is not UTF-8 would be served back by the genesis method as
// invalid JSON (found by the genesis fuzz target: tests/fuzz/regressions/).
BOOST_AUTO_TEST_CASE(strings_must_be_utf8) {
  BOOST_REQUIRE(genesis_from_json(edited("\"name\": \"alice\"", "\"name\": \"ali\xc3\xa7" "e\"")).ok());
  auto g = genesis_from_json(edited("\"name\": \"alice\"", "\"name\": \"ali\xff" "e\""));
  BOOST_REQUIRE(!g.ok());
  BOOST_TEST(g.error().reason == "bad-genesis");
}

BOOST_AUTO_TEST_CASE(not_json_at_all) {
  for (const char* bad : {"", "{", "[]", "{\"chain_id\": 1}", "{} trailing"}) {
    auto g = genesis_from_json(bad);
    BOOST_TEST(g.error().reason == "bad-genesis", bad);
  }
}
