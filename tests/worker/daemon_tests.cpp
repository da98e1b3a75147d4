#define BOOST_TEST_MODULE daemon_tests
#include <boost/test/unit_test.hpp>

// verity-worker's loop against a stand-in node: it trusts nothing it can
// check. A module whose bytes do not hash to the task's module hash is not
// run, and an answer with a missing or mistyped field is an error, never a
// default: in both cases nothing is run and nothing is committed.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include "core/hash.h"
#include "core/hex.h"
#include "worker/daemon/loop.h"
#include "tests/fake_rpc_server.h"
#include "tests/test_support.h"

using namespace verity;
using verity::testing::FakeRpcServer;
using verity::testing::TempDir;

namespace {

const std::string kChain = "verity-test-1";
const std::string kWorkerName = "worker-loop-test";
// The smallest module: the sandbox runs it to some outcome (no _start), which
// the worker commits like any other result.
const Bytes kModule{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A node with one task, assigned to the worker, whose commit window is open.
struct FakeNode {
  std::string me = SecretKey::derive_insecure(kWorkerName).public_key().hex();
  Hash256 module_hash = sha256(kModule);
  Bytes served = kModule;                        // what `module` answers with
  std::function<void(std::string&)> edit_task;  // changes the `task` answer's JSON text
  std::unique_ptr<FakeRpcServer> server;

  FakeNode() {
    server = std::make_unique<FakeRpcServer>(
        [this](const std::string& method, const rapidjson::Value& params, const std::string& id) {
          return handle(method, params, id);
        });
  }

  std::string task_json() const {
    std::string t = "{\"id\":1,\"submitter\":\"" + std::string(64, 'a') + "\",\"module_hash\":\"" +
                    module_hash.hex() +
                    "\",\"input\":\"\",\"replicas\":1,\"reward\":\"10\",\"fuel\":1000000,\"commit_blocks\":20,"
                    "\"reveal_blocks\":20,\"submitted_height\":4,\"metering_version\":1,\"metered_hash\":\"" +
                    std::string(64, '0') + "\",\"status\":\"open\","
                    "\"failure\":\"\",\"retry_reason\":\"\",\"round\":{\"kind\":\"first\",\"payer\":\"" +
                    std::string(64, 'a') +
                    "\",\"escrow\":\"10\",\"requested_height\":4,\"assigned_height\":5,\"commit_deadline\":25,"
                    "\"reveal_deadline\":45,\"assignments\":[{\"worker\":\"" +
                    me +
                    "\",\"committed\":false,\"revealed\":false,\"outcome\":0,\"exit_code\":0,\"fuel_used\":0,"
                    "\"result_hash\":\"" +
                    std::string(64, '0') + "\"}]},\"result\":null,\"audits\":0}";
    if (edit_task) edit_task(t);
    return t;
  }

  std::string handle(const std::string& method, const rapidjson::Value&, const std::string& id) {
    if (method == "status") return FakeRpcServer::result(id, "{\"chain_id\":\"" + kChain + "\",\"height\":10}");
    if (method == "genesis")
      return FakeRpcServer::result(id, "{\"chain_id\":\"" + kChain +
                                           "\",\"params\":{\"min_worker_stake\":\"1000\",\"min_fee\":\"0\","
                                           "\"metering_version\":1,\"reference_fuel_per_block\":200000000}}");
    if (method == "worker")
      return FakeRpcServer::result(id, "{\"key\":\"" + me +
                                           "\",\"stake\":\"1000\",\"active\":true,\"unbonding\":\"0\",\"unbonding_until\":0,"
                                           "\"reputation\":0,\"agreed\":0,"
                                           "\"outvoted\":0,\"missed\":0,\"slashes\":0}");
    if (method == "tasks") return FakeRpcServer::result(id, "{\"tasks\":[" + task_json() + "]}");
    if (method == "task") return FakeRpcServer::result(id, task_json());
    if (method == "module")
      return FakeRpcServer::result(id, "{\"hash\":\"" + module_hash.hex() + "\",\"size\":" +
                                           std::to_string(served.size()) + ",\"wasm\":\"" + to_hex(served) + "\"}");
    if (method == "account") return FakeRpcServer::result(id, "{\"address\":\"" + me +
                                                                "\",\"balance\":\"5000\",\"nonce\":0,\"next_nonce\":0,\"height\":10}");
    if (method == "send_tx")  // recorded; refused so that the worker does not go on
      return FakeRpcServer::error(id, -32002, "transaction rejected", "mempool-full", "full");
    return FakeRpcServer::error(id, -32601, "method not found", "method-not-found");
  }

  int calls(const std::string& method) const {
    int n = 0;
    for (const auto& m : server->methods()) n += m == method;
    return n;
  }
};

struct Ran {
  std::string log;
  bool state_file = false;  // HOME/tasks/1.json: the result persisted before a commitment
};

// Runs verity-worker against `node` until `done` holds (or 20 s), then stops it.
Ran run_worker_until(FakeNode& node, const std::function<bool()>& done) {
  TempDir home("worker-loop");
  BOOST_REQUIRE(worker::init_worker_home(home.path, kWorkerName).ok());
  worker::WorkerOptions o;
  o.home = home.path;
  o.rpc_url = node.server->url();
  o.poll_seconds = 0.05;
  std::ostringstream log;
  std::atomic<bool> stop{false};
  Status result;
  std::thread t([&] { result = worker::run_worker(o, log, stop); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop.store(true);
  t.join();
  BOOST_TEST(result.ok());
  Ran r{log.str(), std::filesystem::exists(home.path / "tasks" / "1.json")};
  BOOST_TEST_MESSAGE("worker log:\n" << r.log);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_honest_node_gets_the_task_run_and_committed) {
  // The control: with a good answer and the right module, the worker runs and commits.
  FakeNode node;
  auto r = run_worker_until(node, [&] { return node.calls("send_tx") > 0; });
  BOOST_TEST(node.calls("module") >= 1);
  BOOST_REQUIRE(node.calls("send_tx") >= 1);
  BOOST_TEST(contains(node.server->last_body("send_tx"), "commit_result"));
  BOOST_TEST(contains(r.log, "task 1: ran: "), r.log);
  BOOST_TEST(r.state_file);
}

BOOST_AUTO_TEST_CASE(module_bytes_that_do_not_hash_to_the_module_hash_are_never_run) {
  FakeNode node;
  node.served = kModule;
  node.served.push_back(0x00);  // one byte more: another module
  auto r = run_worker_until(node, [&] { return node.calls("task") >= 4; });
  BOOST_TEST(node.calls("task") >= 4);
  BOOST_TEST(node.calls("module") >= 1);
  BOOST_TEST(node.calls("send_tx") == 0);  // nothing committed
  BOOST_TEST(!contains(r.log, ": ran: "), r.log);
  BOOST_TEST(contains(r.log, "task 1: not running it: module-mismatch: the node served 9 bytes"), r.log);
  BOOST_TEST(contains(r.log, "hash to " + sha256(node.served).hex()), r.log);
  BOOST_TEST(!r.state_file);
}

BOOST_AUTO_TEST_CASE(a_task_answer_without_fuel_is_an_error_and_nothing_runs) {
  FakeNode node;
  node.edit_task = [](std::string& t) {
    const std::string field = "\"fuel\":1000000,";
    auto at = t.find(field);
    BOOST_REQUIRE(at != std::string::npos);
    t.erase(at, field.size());
  };
  auto r = run_worker_until(node, [&] { return node.calls("task") >= 4; });
  BOOST_TEST(node.calls("task") >= 4);
  BOOST_TEST(node.calls("module") == 0);  // stopped before fetching the module
  BOOST_TEST(node.calls("send_tx") == 0);
  BOOST_TEST(!contains(r.log, ": ran: "), r.log);
  BOOST_TEST(contains(r.log, "rpc-bad-response: the node's task answer: `fuel` is missing"), r.log);
  BOOST_TEST(!r.state_file);
}

BOOST_AUTO_TEST_CASE(mistyped_fields_are_errors_too) {
  struct Case {
    std::string from, to, expect;
  };
  for (const Case& c : {Case{"\"fuel\":1000000", "\"fuel\":\"1000000\"", "`fuel` is not an unsigned integer"},
                        Case{"\"fuel\":1000000", "\"fuel\":-1", "`fuel` is not an unsigned integer"},
                        Case{"\"metering_version\":1,", "", "`metering_version` is missing"},
                        Case{"\"commit_deadline\":25", "\"commit_deadline\":null", "`round.commit_deadline` is not"},
                        Case{"\"committed\":false", "\"committed\":0", "`round.assignments[0].committed` is not a boolean"}}) {
    FakeNode node;
    node.edit_task = [&](std::string& t) {
      auto at = t.find(c.from);
      BOOST_REQUIRE(at != std::string::npos);
      t.replace(at, c.from.size(), c.to);
    };
    // The `tasks` scan reads the round too: a broken round is never acted on.
    auto r = run_worker_until(node, [&] { return node.calls("task") >= 3 || node.calls("tasks") >= 3; });
    BOOST_TEST(node.calls("send_tx") == 0, c.expect);
    BOOST_TEST(node.calls("module") == 0, c.expect);
    BOOST_TEST(!contains(r.log, ": ran: "), c.expect);
    BOOST_TEST(contains(r.log, c.expect), c.expect << "\n" << r.log);
  }
}

BOOST_AUTO_TEST_CASE(a_task_of_another_metering_version_is_not_run) {
  FakeNode node;
  node.edit_task = [](std::string& t) {
    const std::string field = "\"metering_version\":1";
    t.replace(t.find(field), field.size(), "\"metering_version\":2");
  };
  auto r = run_worker_until(node, [&] { return node.calls("task") >= 4; });
  BOOST_TEST(node.calls("send_tx") == 0);
  BOOST_TEST(node.calls("module") == 0);
  BOOST_TEST(contains(r.log, "metered by version 2"), r.log);
  BOOST_TEST(!contains(r.log, ": ran: "), r.log);
}
