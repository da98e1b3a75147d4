#define BOOST_TEST_MODULE planner_tests
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/hex.h"
#include "worker/daemon/planner.h"

using namespace verity;
using namespace verity::worker;
using Kind = Plan::Kind;

namespace {

const std::string kChain = "verity-test-1";
const PublicKey kMe = SecretKey::derive_insecure("me").public_key();
const PublicKey kOther = SecretKey::derive_insecure("other").public_key();

// Task 3, first round assigned at 5 to me and another worker: commit by 25, reveal by 45.
rpc::TaskInfo task(bool me_committed = false, bool other_committed = false, bool me_revealed = false) {
  rpc::TaskInfo t;
  t.id = 3;
  t.status = "open";
  t.fuel = 1000;
  t.metering_version = 1;
  rpc::RoundInfo r;
  r.kind = "first";
  r.assigned_height = 5;
  r.commit_deadline = 25;
  r.reveal_deadline = 45;
  r.assignments.push_back({kMe, me_committed, me_revealed, 0, 0, 0, Hash256{}});
  r.assignments.push_back({kOther, other_committed, false, 0, 0, 0, Hash256{}});
  t.round = r;
  return t;
}

TaskState state(std::uint64_t assigned_height = 5) {
  return TaskState{3, assigned_height, 0, 0, 700, Bytes{'h', 'i'}, sha256(Bytes{9})};
}

Plan plan(const rpc::TaskInfo& t, std::optional<TaskState> s = std::nullopt, std::optional<std::uint64_t> height = 10,
          bool sent_before = false, std::uint64_t metering_version = 1) {
  return plan_task(PlanInput{t, kMe, kChain, std::move(s), sent_before, height, metering_version});
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_assigned_task_is_run_once_for_its_round) {
  auto p = plan(task());
  BOOST_TEST((p.kind == Kind::run));
  BOOST_TEST(p.assigned_height == 5u);
  BOOST_TEST(p.log == "assigned (round first, commit by height 25, reveal by 45)");
  // Waiting for workers: nothing to do.
  auto waiting = task();
  waiting.round->assigned_height = 0;
  BOOST_TEST((plan(waiting).kind == Kind::wait));
}

BOOST_AUTO_TEST_CASE(a_task_of_another_metering_version_is_never_run) {
  auto p = plan(task(), std::nullopt, 10, false, /*metering_version=*/2);
  BOOST_TEST((p.kind == Kind::refuse_metering));
  BOOST_TEST(p.log == "metered by version 1, and this worker's sandbox by 2: not running it (its fuel would not be "
                      "the task's)");
}

BOOST_AUTO_TEST_CASE(a_persisted_result_is_committed_with_its_salt_until_the_deadline) {
  const TaskState s = state();
  for (std::optional<std::uint64_t> height : {std::optional<std::uint64_t>(10), std::optional<std::uint64_t>(25),
                                              std::optional<std::uint64_t>()}) {
    auto p = plan(task(), s, height);
    BOOST_TEST_REQUIRE((p.kind == Kind::commit));
    const auto& c = std::get<CommitResult>(*p.payload);
    const Hash256 result = task_result_hash(s.outcome, s.exit_code, s.fuel_used, s.output);
    BOOST_TEST(c.task == 3u);
    BOOST_TEST((c.commitment == task_commitment(kChain, 3, result, s.salt, kMe)));
    BOOST_TEST(p.log == "committed " + result.hex());
  }
  auto late = plan(task(), s, 26);
  BOOST_TEST((late.kind == Kind::commit_missed));
  BOOST_TEST(late.log == "commit deadline 25 passed before the commitment landed");
}

BOOST_AUTO_TEST_CASE(reveals_wait_for_every_commitment_or_the_deadline) {
  const TaskState s = state();
  // The other worker has not committed: reveals open after height 25.
  BOOST_TEST((plan(task(true, false), s, 25).kind == Kind::wait));
  BOOST_TEST((plan(task(true, false), s, std::nullopt).kind == Kind::wait));
  auto after = plan(task(true, false), s, 26);
  BOOST_TEST_REQUIRE((after.kind == Kind::reveal));
  // Everyone committed: reveal at once.
  auto p = plan(task(true, true), s, 10);
  BOOST_TEST_REQUIRE((p.kind == Kind::reveal));
  const auto& rv = std::get<RevealResult>(*p.payload);
  BOOST_TEST(rv.task == 3u);
  BOOST_TEST(rv.fuel_used == 700u);
  BOOST_TEST((rv.output.bytes == s.output));
  BOOST_TEST((rv.salt == s.salt));
  // Revealed: wait for the settlement.
  BOOST_TEST((plan(task(true, true, true), s).kind == Kind::wait));
}

BOOST_AUTO_TEST_CASE(a_commitment_without_its_salt_cannot_be_revealed) {
  auto p = plan(task(true, true));
  BOOST_TEST((p.kind == Kind::salt_lost));
  BOOST_TEST(p.log == "committed but the salt is lost; cannot reveal");
}

BOOST_AUTO_TEST_CASE(the_end_of_a_round_is_logged_only_where_the_worker_took_part) {
  auto settled = task(true, true, true);
  settled.status = "settled";
  settled.round.reset();
  settled.result = rpc::TaskResultInfo{sha256(Bytes{1}), 2, 0, 1000, {}, 30, 130, {kMe}};
  auto p = plan(settled, state());
  BOOST_TEST((p.kind == Kind::end));
  BOOST_TEST(!p.keep);
  BOOST_TEST(p.report);
  BOOST_TEST(p.log == "settled: out-of-fuel, fuel 1000, result " + sha256(Bytes{1}).hex() + " (agreed: rewarded)");
  settled.result->majority = {kOther};
  BOOST_TEST(plan(settled, std::nullopt, 10, /*sent_before=*/true).log.find("(this worker was not in the majority)") !=
             std::string::npos);
  // Never took part: forgotten without a word.
  auto quiet = plan(settled);
  BOOST_TEST((quiet.kind == Kind::end));
  BOOST_TEST(quiet.log.empty());
  BOOST_TEST(!quiet.report);
  auto failed = settled;
  failed.status = "failed";
  failed.failure = "no-majority";
  failed.result.reset();
  BOOST_TEST(plan(failed, state()).log == "failed: no-majority");
  // A round that does not assign this worker.
  auto others = task();
  others.round->assignments.erase(others.round->assignments.begin());
  auto o = plan(others, state());
  BOOST_TEST((o.kind == Kind::end));
  BOOST_TEST(o.log == "round ended without this worker (open)");
}

BOOST_AUTO_TEST_CASE(a_result_of_an_earlier_round_is_dropped_and_the_new_round_followed) {
  // The worker ran round 5; the task was retried and assigns it again at 40.
  auto retry = task();
  retry.round->kind = "retry";
  retry.round->assigned_height = 40;
  auto p = plan(retry, state(5));
  BOOST_TEST((p.kind == Kind::end));
  BOOST_TEST(p.keep);  // follow the new round
  // With nothing remembered, the new round is simply run.
  BOOST_TEST((plan(retry).kind == Kind::run));
}

BOOST_AUTO_TEST_CASE(a_run_is_recorded_as_a_reveal_carries_it) {
  Bytes big(kMaxTaskIoBytes + 10, 'x');
  auto s = record_run(3, 5, 0, 0, 10, big, Hash256{}, false);
  BOOST_TEST(s.output.size() == kMaxTaskIoBytes);
  auto honest = record_run(3, 5, 0, 0, 10, Bytes{'a'}, Hash256{}, false);
  BOOST_TEST((honest.output == Bytes{'a'}));
  auto liar = record_run(3, 5, 0, 0, 10, Bytes{'a'}, Hash256{}, true);
  BOOST_TEST((liar.output == Bytes{'a' ^ 1}));
  auto liar_empty = record_run(3, 5, 0, 0, 10, Bytes{}, Hash256{}, true);
  BOOST_TEST((liar_empty.output == Bytes{'!'}));
  BOOST_TEST(outcome_text(2) == "out-of-fuel");
  BOOST_TEST(outcome_text(99) == "outcome 99");
}

// --- the browser worker's twin (web/pages/worker/chain.mjs) ----------------------------------
//
// tests/web/vectors.json holds what this code computes for a worker's
// hashes and transactions; tests/web/pages_test.mjs recomputes each value in
// JavaScript from the same inputs. This test says the file is what the C++
// computes (a change to either side fails one of the two), and prints the
// file's text when it is not.

namespace {

std::string vectors_json() {
  const std::string chain = "verity-devnet";
  std::array<std::uint8_t, 32> secret{};
  secret.fill(0x01);
  const SecretKey key = *SecretKey::from_bytes(secret);
  std::array<std::uint8_t, 32> aux{};
  aux.fill(0xa5);
  Hash256 salt;
  salt.data.fill(0x11);
  const Bytes output{'h', 'e', 'l', 'l', 'o', '\n'};
  const Hash256 result = task_result_hash(0, 0, 1234, output);
  const Hash256 big = task_result_hash(2, 7, ~std::uint64_t{0}, Bytes{});
  std::ostringstream o;
  o << "{\n  \"chain_id\": \"" << chain << "\",\n  \"secret_key\": \"" << to_hex(secret) << "\",\n"
    << "  \"public_key\": \"" << key.public_key().hex() << "\",\n  \"aux\": \"" << to_hex(aux) << "\",\n"
    << "  \"task_result\": [\n"
    << "    {\"outcome\": 0, \"exit_code\": 0, \"fuel_used\": \"1234\", \"output\": \"" << to_hex(output)
    << "\", \"hash\": \"" << result.hex() << "\"},\n"
    << "    {\"outcome\": 2, \"exit_code\": 7, \"fuel_used\": \"18446744073709551615\", \"output\": \"\", \"hash\": \""
    << big.hex() << "\"}\n  ],\n"
    << "  \"commitment\": {\"task\": 7, \"salt\": \"" << salt.hex() << "\", \"hash\": \""
    << task_commitment(chain, 7, result, salt, key.public_key()).hex() << "\"},\n"
    << "  \"seed\": {\"task\": 300, \"hash\": \"" << task_sandbox_seed(chain, 300).hex() << "\"},\n"
    << "  \"transactions\": [\n";
  RevealResult reveal{7, 0, 0, 1234, TaskBytes{output}, salt};
  CommitResult commit{7, task_commitment(chain, 7, result, salt, key.public_key())};
  const std::vector<std::pair<std::string, Payload>> payloads = {
      {R"({"type": "register_worker", "stake": "100000"})", RegisterWorker{Amount(100000)}},
      {R"({"type": "unregister_worker"})", UnregisterWorker{}},
      {R"({"type": "claim"})", Claim{}},
      {R"({"type": "withdraw"})", Withdraw{}},
      {R"({"type": "commit_result", "task": 7, "commitment": ")" + commit.commitment.hex() + "\"}", commit},
      {R"({"type": "reveal_result", "task": 7, "outcome": 0, "exit_code": 0, "fuel_used": 1234, "output": ")" +
           to_hex(output) + R"(", "salt": ")" + salt.hex() + "\"}",
       reveal},
  };
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    Transaction tx;
    tx.chain_id = chain;
    tx.sender = key.public_key();
    tx.nonce = 300 + i;
    tx.fee = Amount(5);
    tx.payload = payloads[i].second;
    tx.signature = key.sign_with_aux(tx.signing_hash().view(), aux);
    const Bytes encoded = encode(tx);
    o << "    {\"nonce\": " << tx.nonce << ", \"fee\": \"5\", \"payload\": " << payloads[i].first
      << ",\n     \"signing_hash\": \"" << tx.signing_hash().hex() << "\",\n     \"signature\": \""
      << to_hex(tx.signature.view()) << "\",\n     \"encoded\": \"" << to_hex(encoded) << "\",\n     \"id\": \""
      << tx.id().hex() << "\"}" << (i + 1 < payloads.size() ? "," : "") << "\n";
  }
  o << "  ]\n}\n";
  return o.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(browser_worker_vectors_are_what_the_chain_computes) {
  const char* root = std::getenv("VERITY_SOURCE_ROOT");
  BOOST_REQUIRE_MESSAGE(root, "VERITY_SOURCE_ROOT is not set (meson test sets it)");
  std::ifstream in(std::string(root) + "/tests/web/vectors.json");
  std::stringstream file;
  file << in.rdbuf();
  const std::string expected = vectors_json();
  BOOST_CHECK_MESSAGE(file.str() == expected, "tests/web/vectors.json differs from what the C++ computes:\n" + expected);
}
