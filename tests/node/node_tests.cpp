#define BOOST_TEST_MODULE node_tests
#include <boost/test/unit_test.hpp>
#include "node/log.h"
#include <sstream>
#include <rapidjson/document.h>

#include "contracts/staking.h"
#include "contracts/tasks.h"
#include "node/export.h"
#include "node/node.h"
#include "rpc/genesis_json.h"
#include "rpc/records.h"
#include "tests/chain_support.h"

using namespace verity::node;
using namespace verity;

// The validator set of the next block holds until the next epoch boundary
// (the end of a block whose height is a multiple of epoch_blocks); the
// engine must not be told a set for heights beyond it.
BOOST_AUTO_TEST_CASE(the_next_set_holds_until_the_next_epoch_boundary) {
  BOOST_CHECK_EQUAL(last_height_of_next_set(0, 100), 100u);    // genesis: blocks 1..100
  BOOST_CHECK_EQUAL(last_height_of_next_set(99, 100), 100u);
  BOOST_CHECK_EQUAL(last_height_of_next_set(100, 100), 200u);  // after the boundary block: 101..200
  BOOST_CHECK_EQUAL(last_height_of_next_set(101, 100), 200u);
  BOOST_CHECK_EQUAL(last_height_of_next_set(7, 1), 8u);        // every block is a boundary
  BOOST_CHECK_EQUAL(last_height_of_next_set(8, 3), 9u);
  BOOST_CHECK_EQUAL(last_height_of_next_set(9, 3), 12u);
}

// The RPC's records of validators, tasks, workers, delegations and rewards
// are filled from the contracts' records field for field
// (rpc::copy_same_fields: the same name and type); these are the fields the
// node sets itself (node/rpc_backend.cpp). A field renamed or retyped on
// one side shows up here rather than as a value the RPC leaves empty.
namespace {
template <class From, class To>
std::string left_for_the_node() {
  std::string out;
  for (const auto& name : verity::rpc::fields_not_copied<From, To>()) out += (out.empty() ? "" : ",") + name;
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(rpc_records_take_every_field_the_contract_record_has) {
  namespace c = verity::contracts;
  namespace r = verity::rpc;
  BOOST_TEST((left_for_the_node<c::WorkerRecord, r::WorkerInfo>()) == "slashes");
  BOOST_TEST((left_for_the_node<c::WorkerRecord, r::WorkerPointInfo>()) == "height");
  BOOST_TEST((left_for_the_node<c::Assignment, r::AssignmentInfo>()) == "");
  BOOST_TEST((left_for_the_node<c::Round, r::RoundInfo>()) == "kind,assignments");
  BOOST_TEST((left_for_the_node<c::TaskRecord, r::TaskInfo>()) == "status,round,result");
  BOOST_TEST((left_for_the_node<c::TaskRecord, r::TaskResultInfo>()) == "");
  BOOST_TEST((left_for_the_node<c::UnbondingEntry, r::UnbondingInfo>()) == "");
  BOOST_TEST((left_for_the_node<c::RewardEntry, r::RewardEntryInfo>()) == "");
  BOOST_TEST((left_for_the_node<c::ValidatorRecord, r::ValidatorInfo>()) ==
             "operator,in_set,power,status,detail,missing_stake,next_epoch_boundary,unjail_refusal,missed_in_window,"
             "window_commits,missed_allowed,slashes");
}

// Copying takes the values of the fields that match, and only those.
BOOST_AUTO_TEST_CASE(copy_same_fields_copies_values_by_name_and_type) {
  namespace c = verity::contracts;
  c::TaskRecord t;
  t.id = 7;
  t.submitter = verity::SecretKey::derive_insecure("submitter").public_key();
  t.input = verity::Bytes{1, 2, 3};
  t.reward = verity::Amount(40);
  t.fuel = 5000;
  t.status = c::TaskStatus::settled;
  t.outcome = 2;
  t.output = verity::Bytes{9};
  t.vest_height = 77;
  t.majority = {t.submitter};
  t.failure = "not-really";
  t.audits = 3;
  verity::rpc::TaskInfo info;
  info.status = "untouched";
  verity::rpc::copy_same_fields(t, info);
  BOOST_TEST(info.id == 7u);
  BOOST_TEST((info.submitter == t.submitter));
  BOOST_TEST((info.input == t.input));
  BOOST_TEST((info.reward == t.reward));
  BOOST_TEST(info.fuel == 5000u);
  BOOST_TEST(info.failure == "not-really");
  BOOST_TEST(info.audits == 3u);
  BOOST_TEST(info.status == "untouched");  // TaskStatus is not a string: left alone
  BOOST_TEST(!info.result.has_value());
  verity::rpc::TaskResultInfo result;
  verity::rpc::copy_same_fields(t, result);
  BOOST_TEST(result.outcome == 2u);
  BOOST_TEST((result.output == t.output));
  BOOST_TEST(result.vest_height == 77u);
  BOOST_TEST(result.majority.size() == 1u);
}

// `--log-format json`: one JSON object per line, every field a string,
// escaped, bytes that are not UTF-8 replaced, a field named like the fixed
// members renamed.
BOOST_AUTO_TEST_CASE(json_logs_are_one_valid_object_per_line) {
  std::ostringstream out;
  verity::node::Logger logger(verity::node::LogLevel::info, &out);
  logger.set_format(verity::node::LogFormat::json);
  logger.set_position(12, 3);
  logger.write(verity::node::LogLevel::warn, "p2p", "peer-dropped",
               verity::node::Fields()
                   .add("reason", std::string("bad \"frame\"\nend"))
                   .add("bytes", std::string("ok \xc3\xa9 bad \xff\xc3 end"))
                   .add("h", 7)
                   .add("n", 5));
  logger.write(verity::node::LogLevel::info, "node", "stopped", verity::node::Fields());
  std::istringstream lines(out.str());
  std::string line;
  std::vector<rapidjson::Document> docs;
  while (std::getline(lines, line)) {
    docs.emplace_back();
    docs.back().Parse(line.c_str());
    BOOST_REQUIRE_MESSAGE(!docs.back().HasParseError() && docs.back().IsObject(), line);
  }
  BOOST_REQUIRE_EQUAL(docs.size(), 2u);
  const auto& d = docs[0];
  BOOST_TEST(std::string(d["level"].GetString()) == "warn");
  BOOST_TEST(std::string(d["component"].GetString()) == "p2p");
  BOOST_TEST(std::string(d["event"].GetString()) == "peer-dropped");
  BOOST_TEST(d["h"].GetUint64() == 12u);
  BOOST_TEST(d["v"].GetUint64() == 3u);
  BOOST_TEST(std::string(d["reason"].GetString()) == "bad \"frame\"\nend");
  BOOST_TEST(std::string(d["bytes"].GetString()) == "ok \xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd end");
  BOOST_TEST(std::string(d["field_h"].GetString()) == "7");
  BOOST_TEST(std::string(d["n"].GetString()) == "5");
  BOOST_TEST(std::string(d["time"].GetString()).size() == 24u);
  BOOST_TEST(std::string(docs[1]["event"].GetString()) == "stopped");
  // The text format is unchanged: one line, key=value fields.
  std::ostringstream text;
  verity::node::Logger plain(verity::node::LogLevel::info, &text);
  plain.write(verity::node::LogLevel::info, "node", "stopped", verity::node::Fields().add("n", 5));
  BOOST_TEST(text.str().find(" INFO  node stopped h=0 v=0 n=5\n") != std::string::npos, text.str());
}

// verityd export: the state at an earlier height (through the undo
// records), every account's holdings as its balance, the set's validators
// staked with their own delegations, and the rest reported; the file reads
// back and opens a new chain.
BOOST_AUTO_TEST_CASE(export_writes_the_holdings_at_a_height_as_a_new_genesis) {
  using namespace verity::testing;
  TestNet net = make_test_net(3);
  contracts::NativeContracts app;
  auto store = state::open_memory_store();
  auto chain = state::Chain::open(*store, net.genesis, app).value();
  Transaction delegate;
  delegate.chain_id = net.genesis.chain_id;
  delegate.fee = Amount(1);
  delegate.payload = Delegate{net.validators[1].public_key(), Amount(500)};
  delegate.sign(net.users[2]);
  BOOST_REQUIRE(produce_block(*chain, net, {make_transfer(net.genesis.chain_id, net.users[0], 0,
                                                          net.users[1].public_key(), 100), delegate}));
  auto balance = [&](const state::StateReader& s, std::size_t i) {
    return contracts::load_account(s, net.users[i].public_key()).value().balance.units();
  };
  const std::uint64_t user1_at_1 = balance(chain->state(), 1), user2_at_1 = balance(chain->state(), 2);
  BOOST_REQUIRE(produce_block(*chain, net, {make_transfer(net.genesis.chain_id, net.users[1], 0,
                                                          net.users[0].public_key(), 7777)}));
  BOOST_TEST(balance(chain->state(), 1) != user1_at_1);

  auto past = chain->state_at(1);
  BOOST_REQUIRE_MESSAGE(past, (past ? "" : past.error().to_string()));
  BOOST_TEST(balance(*past, 1) == user1_at_1);  // the value at height 1, not the tip's
  auto exported = export_state(*past, net.genesis, "verity-exported-1", 42);
  BOOST_REQUIRE_MESSAGE(exported, (exported ? "" : exported.error().to_string()));
  const Genesis& g = exported->genesis;
  BOOST_TEST(g.chain_id == "verity-exported-1");
  BOOST_TEST(g.validators.size() == 4u);
  for (const auto& v : g.validators) BOOST_TEST(v.stake.units() == 1000u);  // their own delegations
  auto exported_balance = [&](std::size_t i) -> std::uint64_t {
    for (const auto& a : g.accounts)
      if (a.address == net.users[i].public_key()) return a.balance.units();
    return 0;
  };
  BOOST_TEST(exported_balance(1) == user1_at_1);
  BOOST_TEST(exported_balance(2) >= user2_at_1 + 500);  // its delegation, and any reward on it
  BOOST_TEST(exported->carried.units() + exported->not_carried.units() == exported->supply.units());
  BOOST_TEST(g.total_supply().units() == exported->carried.units());
  // The file reads back, and a new chain starts from it.
  auto reread = rpc::genesis_from_json(rpc::genesis_to_json(g));
  BOOST_REQUIRE_MESSAGE(reread, (reread ? "" : reread.error().to_string()));
  BOOST_TEST((*reread == g));
  auto fresh = state::open_memory_store();
  BOOST_TEST(bool(state::Chain::open(*fresh, g, app)));

  BOOST_TEST(export_state(*past, net.genesis, net.genesis.chain_id, 42).error().reason == "same-chain-id");
  BOOST_TEST(chain->state_at(3).error().reason == "bad-height");
  // The tip's state is the flat state itself.
  BOOST_TEST(balance(chain->state_at(2).value(), 1) == balance(chain->state(), 1));
}
