#define BOOST_TEST_MODULE client_tests
#include <boost/test/unit_test.hpp>

#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include "core/hex.h"
#include "core/params.h"
#include "client/client.h"
#include "cli/keystore.h"
#include "rpc/genesis_json.h"
#include "rpc/json_codec.h"
#include "rpc/records.h"
#include "tests/chain_support.h"
#include "tests/fake_rpc_server.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::client;
using namespace verity::cli;
using verity::testing::FakeRpcServer;
using verity::testing::TempDir;

namespace {

struct Run {
  int code;
  std::string out, err;
};

// One `verity` run with its own streams, environment and terminal.
struct Harness {
  // HOME points nowhere: tests that write keys pass --home.
  std::map<std::string, std::string> env{{"VERITY_KEYSTORE_SCRYPT_N", "1024"},
                                         {"HOME", "/nonexistent/verity-client-tests"}};
  std::deque<std::string> typed;  // what a human types at prompts; empty: no terminal
  std::vector<std::string> prompts;
  std::string stdin_text;
  bool terminal = false;  // stdin is a terminal

  Run run(std::vector<std::string> args) {
    std::ostringstream out, err;
    std::istringstream in(stdin_text);
    ClientIo io{out, err, in,
                [this](const std::string& prompt) -> std::optional<std::string> {
                  prompts.push_back(prompt);
                  if (typed.empty()) return std::nullopt;
                  auto s = typed.front();
                  typed.pop_front();
                  return s;
                },
                [this](const char* name) -> std::optional<std::string> {
                  auto it = env.find(name);
                  return it == env.end() ? std::nullopt : std::optional(it->second);
                }};
    io.stdin_is_terminal = terminal;
    int code = run_client(args, io);
    return {code, out.str(), err.str()};
  }

  // run(), with --rpc pointing at `node` and --home at `home` after the words.
  template <class Node>
  auto against(Node& node, const TempDir& home) {
    return [this, tail = std::vector<std::string>{"--rpc", node.url(), "--home", home.path.string()}](
               std::vector<std::string> a) {
      a.insert(a.end(), tail.begin(), tail.end());
      return run(a);
    };
  }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const std::string kChain = "verity-test-1";

// A devnet-like node: genesis names alice (at her insecure key), mallory
// (at some other key) and a validator; it accepts or rejects transactions
// as `on_tx` says and records them.
// A `status` answer as a node writes it (the record's own codec).
std::string status_json(const rpc::NodeStatus& st) {
  rapidjson::Document d;
  static_cast<rapidjson::Value&>(d) = rpc::record_to_json(st, d.GetAllocator());
  return rpc::json_string(d);
}

struct FakeNode {
  std::vector<Transaction> sent;
  std::uint64_t next_nonce = 7;
  std::function<std::string(const std::string& id, const Transaction&, bool commit)> on_tx;
  std::string account_result;  // for "account" calls with "prove"
  // "validator_handoffs" from a height (default: none)
  std::function<std::string(std::uint64_t)> handoffs_from = [](std::uint64_t) {
    return std::string("{\"epoch_blocks\":100,\"height\":4,\"handoffs\":[]}");
  };
  std::string validators_result;  // for "validators", when set
  std::string validator_result;   // for "validator", when set ("not-found": that error); else no such method
  std::string status_result;      // for "status", when set
  std::string tx_result;          // for "tx", when set (else not found)
  std::string genesis_params;     // more members of the genesis "params" (",\"name\":value...")
  std::string workers_result;     // for "workers", when set
  // "simulate": what it answers for a transaction (default: ok, paying its
  // fee); `simulates` is false for a node without the method.
  std::vector<Transaction> simulated;
  bool simulates = true;
  std::function<std::string(const Transaction&)> simulation = [](const Transaction& tx) {
    return "{\"height\":4,\"ok\":true,\"reason\":\"\",\"detail\":\"\",\"pays_fee\":true,\"fee_required\":\"3\","
           "\"fee_paid\":\"" + tx.fee.to_string() + "\",\"events\":[]}";
  };
  std::unique_ptr<FakeRpcServer> server;

  FakeNode() {
    on_tx = [](const std::string& id, const Transaction& tx, bool commit) {
      if (!commit) return FakeRpcServer::result(id, "{\"hash\":\"" + tx.id().hex() + "\"}");
      const std::string event = std::holds_alternative<SubmitTask>(tx.payload)
                                    ? "{\"kind\":\"task_submitted\",\"attributes\":{\"task\":\"12\"}}"
                                    : "{\"kind\":\"transfer\",\"attributes\":{\"amount\":\"10\"}}";
      return FakeRpcServer::result(id, "{\"hash\":\"" + tx.id().hex() +
                                           "\",\"height\":5,\"receipt\":{\"height\":5,\"index\":0,\"ok\":true,"
                                           "\"reason\":\"\",\"fee_paid\":\"0\",\"events\":[" + event + "]}}");
    };
    server = std::make_unique<FakeRpcServer>([this](const std::string& method, const rapidjson::Value& params,
                                                    const std::string& id) { return handle(method, params, id); });
  }

  std::string handle(const std::string& method, const rapidjson::Value& params, const std::string& id) {
    if (method == "status" && !status_result.empty()) return FakeRpcServer::result(id, status_result);
    if (method == "status") {
      rpc::NodeStatus st;
      st.chain_id = kChain;
      st.height = 4;
      return FakeRpcServer::result(id, status_json(st));
    }
    if (method == "genesis")
      return FakeRpcServer::result(
          id, "{\"chain_id\":\"" + kChain + "\",\"params\":{\"max_task_fuel\":10000000000,\"min_fee\":\"3\","
              "\"reference_fuel_per_block\":200000000" + genesis_params + "},\"accounts\":[{\"name\":\"alice\",\"address\":\"" +
                  SecretKey::derive_insecure("alice").public_key().hex() +
                  "\",\"balance\":\"100\"},{\"name\":\"mallory\",\"address\":\"" +
                  SecretKey::derive_insecure("not-mallory").public_key().hex() +
                  "\",\"balance\":\"100\"},{\"name\":\"bob\",\"address\":\"" +
                  SecretKey::derive_insecure("bob").public_key().hex() +
                  "\",\"balance\":\"1\"}],\"validators\":[{\"name\":\"validator-1\",\"operator\":\"" +
                  SecretKey::derive_insecure("validator-1").public_key().hex() + "\"}]}");
    if (method == "validator_handoffs")
      return FakeRpcServer::result(id, handoffs_from(params["from_height"].GetUint64()));
    if (method == "validators" && !validators_result.empty()) return FakeRpcServer::result(id, validators_result);
    if (method == "validator" && validator_result == "not-found")
      return FakeRpcServer::error(id, -32001, "not found", "not-found", "no validator has this operator");
    if (method == "validator" && !validator_result.empty()) return FakeRpcServer::result(id, validator_result);
    if (method == "validators")
      return FakeRpcServer::result(id, "{\"height\":4,\"validators\":[{\"name\":\"newval\",\"operator\":\"" +
                                           SecretKey::derive_insecure("newval-op").public_key().hex() + "\"}]}");
    if (method == "account") {
      if (params.HasMember("prove") && !account_result.empty()) return FakeRpcServer::result(id, account_result);
      return FakeRpcServer::result(id, "{\"address\":\"" + std::string(params["address"].GetString()) +
                                           "\",\"balance\":\"100\",\"nonce\":6,\"next_nonce\":" +
                                           std::to_string(next_nonce) + ",\"height\":4}");
    }
    if (method == "send_tx" || method == "send_tx_commit") {
      auto tx = rpc::transaction_from_json(params["tx"]);
      if (!tx) return FakeRpcServer::error(id, -32602, "invalid params", "invalid-params", tx.error().detail);
      sent.push_back(*tx);
      return on_tx(id, *tx, method == "send_tx_commit");
    }
    if (method == "simulate" && simulates) {
      auto tx = rpc::transaction_from_json(params["tx"]);
      if (!tx) return FakeRpcServer::error(id, -32602, "invalid params", "invalid-params", tx.error().detail);
      simulated.push_back(*tx);
      return FakeRpcServer::result(id, simulation(*tx));
    }
    if (method == "tx" && !tx_result.empty()) return FakeRpcServer::result(id, tx_result);
    if (method == "workers" && !workers_result.empty()) return FakeRpcServer::result(id, workers_result);
    if (method == "tx") return FakeRpcServer::error(id, -32001, "not found", "not-found", "no such transaction");
    return FakeRpcServer::error(id, -32601, "method not found", "");
  }
  std::string url() const { return server->url(); }
};

}  // namespace

// --- usage and exit codes -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(help_version_and_usage_errors) {
  Harness h;
  auto help = h.run({"--help"});
  BOOST_TEST(help.code == 0);
  BOOST_TEST(contains(help.out, "transfer"));
  BOOST_TEST(contains(help.out, "Exit codes"));
  BOOST_TEST(h.run({"--version"}).code == 0);
  BOOST_TEST(h.run({}).code == kExitUsage);
  auto unknown = h.run({"frobnicate"});
  BOOST_TEST(unknown.code == kExitUsage);
  BOOST_TEST(contains(unknown.err, "verity --help"));
  auto thelp = h.run({"transfer", "--help"});
  BOOST_TEST(thelp.code == 0);
  BOOST_TEST(contains(thelp.out, "--amount N"));
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2_before_any_network_call) {
  // --rpc names a closed port: a usage error must be found before it matters.
  Harness h;
  const std::string rpc = "--rpc=http://127.0.0.1:" + std::to_string(verity::testing::closed_port());
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  std::vector<Case> cases = {
      {{"transfer", "--from", "alice", "--to", "bob", "--amount", "12x"}, "--amount: '12x' is not an amount"},
      {{"transfer", "--from", "alice", "--to", "bob", "--amount", "-5"}, "--amount: '-5' is not an amount"},
      {{"transfer", "--from", "alice", "--to", "bob", "--amount", "18446744073709551616"}, "is not an amount"},
      {{"transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--fee", "1.5"}, "--fee: '1.5' is not an amount"},
      {{"transfer", "--to", "bob", "--amount", "1"}, "missing --from"},
      {{"transfer", "--from", "alice", "--amount", "1"}, "missing --to"},
      {{"transfer", "--from", "alice", "--to", "bob"}, "missing --amount"},
      {{"transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--bogus"}, "unknown option '--bogus'"},
      {{"transfer", "--from", "alice", "--to", "bob", "--amount"}, "'--amount' needs a value"},
      {{"transfer", "--from", "alice", "--to", "b/o/b", "--amount", "1"}, "neither an address"},
      {{"transfer", "--from", "a/lice", "--to", "bob", "--amount", "1"}, "not a key name"},
      {{"delegate", "--from", "alice", "--validator", "v", "--amount", "x"}, "--amount"},
      {{"create-validator", "--from", "alice", "--consensus-key", "abcd", "--stake", "1", "--name", "v"},
       "--consensus-key"},
      {{"create-validator", "--from", "alice", "--consensus-key", std::string(64, 'a'), "--stake", "1", "--name", "v",
        "--commission-bps", "10001"},
       "at most 10000"},
      {{"submit-evidence", "--from", "alice", "--evidence", "00"}, "not a canonical DoubleSignEvidence"},
      {{"balance"}, "missing ADDRESS|NAME"},
      {{"balance", "a", "b"}, "unexpected argument 'b'"},
      {{"tx", "1234"}, "not a transaction hash"},
      {{"block", "twelve"}, "neither a height nor a block hash"},
      {{"keys", "new", "../x"}, "not a valid key name"},
      {{"keys", "frob"}, "unknown keys command"},
      {{"withdraw", "--from", "alice", "--wait=yes"}, "takes no value"},
      {{"register-worker", "--from", "alice"}, "missing --stake"},
      {{"register-worker", "--from", "alice", "--stake", "lots"}, "--stake: 'lots' is not an amount"},
      {{"request-audit", "--from", "alice"}, "missing ID"},
      {{"request-audit", "x1", "--from", "alice"}, "ID: 'x1' is not a whole number"},
      {{"request-audit", "1"}, "missing --from"},
      {{"unregister-worker", "--from", "alice", "7"}, "unexpected argument '7'"},
      {{"task"}, "missing ID"},
      {{"task", "seven"}, "ID: 'seven' is not a whole number"},
      {{"task", "1", "2"}, "unexpected argument '2'"},
      {{"task", "watch"}, "missing ID"},
      {{"task", "watch", "1", "--timeout", "soon"}, "--timeout: 'soon' is not a whole number"},
      {{"task", "watch", "1", "--bogus"}, "unknown option '--bogus'"},
  };
  for (auto& c : cases) {
    c.args.push_back(rpc);
    auto r = h.run(c.args);
    BOOST_TEST_INFO(c.args[0] << " expecting " << c.expect << "; got: " << r.err);
    BOOST_TEST(r.code == kExitUsage);
    BOOST_TEST_INFO(c.args[0] << " expecting " << c.expect << "; got: " << r.err);
    BOOST_TEST(contains(r.err, c.expect));
  }
  auto url = h.run({"status", "--rpc", "https://x:1"});
  BOOST_TEST(url.code == kExitUsage);
  BOOST_TEST(contains(url.err, "https is not supported"));
  BOOST_TEST(h.run({"status", "--rpc"}).code == kExitUsage);
}

BOOST_AUTO_TEST_CASE(an_unreachable_node_exits_3_and_names_the_url) {
  Harness h;
  const std::string url = "http://127.0.0.1:" + std::to_string(verity::testing::closed_port());
  for (std::vector<std::string> args : {std::vector<std::string>{"status"}, {"balance", SecretKey::derive_insecure("b").public_key().hex()},
                                        {"transfer", "--from", "alice", "--to", "bob", "--amount", "1"}}) {
    args.push_back("--rpc");
    args.push_back(url);
    auto r = h.run(args);
    BOOST_TEST(r.code == kExitUnreachable);
    BOOST_TEST(contains(r.err, url));
    BOOST_TEST(contains(r.err, "--rpc"));
  }
  // VERITY_RPC is the default when --rpc is absent.
  h.env["VERITY_RPC"] = url;
  auto r = h.run({"status"});
  BOOST_TEST(r.code == kExitUnreachable);
  BOOST_TEST(contains(r.err, url));
}

// --- keys -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(keys_new_list_show_import) {
  TempDir home("client");
  Harness h;
  h.env["VERITY_PASSPHRASE"] = "pw";
  const std::string home_arg = "--home=" + home.path.string();
  auto created = h.run({"keys", "new", "k1", home_arg});
  BOOST_TEST(created.code == 0, created.err);
  BOOST_TEST(contains(created.out, "created key 'k1'"));
  auto again = h.run({"keys", "new", "k1", home_arg});
  BOOST_TEST(again.code == kExitFailure);
  BOOST_TEST(contains(again.err, "never overwritten"));

  const SecretKey one = SecretKey::from_bytes(from_hex(std::string(63, '0') + "1").value()).value();
  auto imported = h.run({"keys", "import", "one", "--secret-hex", std::string(63, '0') + "1", home_arg});
  BOOST_TEST(imported.code == 0, imported.err);
  h.stdin_text = std::string(62, '0') + "02\n";
  BOOST_TEST(h.run({"keys", "import", "two", home_arg}).code == 0);
  BOOST_TEST(h.run({"keys", "import", "bad", "--secret-hex", std::string(64, '0'), home_arg}).code == kExitUsage);

  auto list = h.run({"keys", "list", home_arg});
  BOOST_TEST(list.code == 0);
  BOOST_TEST(contains(list.out, one.public_key().hex() + "  one"));
  BOOST_TEST(contains(list.out, "  k1\n"));
  BOOST_TEST(contains(list.out, "  two\n"));
  auto json = h.run({"--json", "keys", "list", home_arg});
  rapidjson::Document d;
  d.Parse(json.out.c_str());
  BOOST_REQUIRE(d.IsArray());
  BOOST_TEST(d.Size() == 3u);
  for (const auto& k : d.GetArray())  // the file, as docs/client.md promises
    BOOST_TEST(std::string(k["file"].GetString()) ==
               (home.path / "keys" / (std::string(k["name"].GetString()) + ".json")).string());

  auto show = h.run({"keys", "show", "one", home_arg, "--json"});
  BOOST_TEST(show.code == 0);
  d.Parse(show.out.c_str());
  BOOST_TEST(std::string(d["address"].GetString()) == one.public_key().hex());
  auto missing = h.run({"keys", "show", "nobody", home_arg});
  BOOST_TEST(missing.code == kExitFailure);
  BOOST_TEST(contains(missing.err, "verity keys new nobody"));

  // The files decrypt with the passphrase given.
  Keystore ks(home.path / "keys");
  BOOST_TEST(ks.load("one", "pw")->public_key() == one.public_key());
}

// keys export prints the secret after a confirmation and the passphrase;
// keys delete removes the file after a confirmation. Without a terminal
// both need --yes.
BOOST_AUTO_TEST_CASE(keys_export_and_delete_ask_first) {
  TempDir home("client");
  const std::string home_arg = "--home=" + home.path.string();
  Harness h;
  h.env["VERITY_PASSPHRASE"] = "pw";
  const std::string secret = std::string(62, '0') + "2a";
  BOOST_REQUIRE(h.run({"keys", "import", "k", "--secret-hex", secret, home_arg}).code == 0);
  const std::filesystem::path file = home.path / "keys" / "k.json";

  auto unasked = h.run({"keys", "export", "k", home_arg});
  BOOST_TEST(unasked.code == kExitUsage);
  BOOST_TEST(contains(unasked.err, "owns the account"), unasked.err);
  BOOST_TEST(contains(unasked.err, "--yes"));
  BOOST_TEST(!contains(unasked.out, secret));
  auto yes = h.run({"keys", "export", "k", "--yes", home_arg});
  BOOST_TEST(yes.code == 0, yes.err);
  BOOST_TEST(yes.out == secret + "\n");
  BOOST_TEST(contains(yes.err, "owns the account"));  // the warning, even with --yes
  h.env["VERITY_PASSPHRASE"] = "wrong";
  auto wrong = h.run({"keys", "export", "k", "--yes", home_arg});
  BOOST_TEST(wrong.code == kExitFailure);
  BOOST_TEST(contains(wrong.err, "bad-passphrase"));
  BOOST_TEST(!contains(wrong.out, secret));
  h.env.erase("VERITY_PASSPHRASE");

  // On a terminal: the name typed, then the passphrase.
  h.terminal = true;
  h.typed = {"k", "pw"};
  auto asked = h.run({"keys", "export", "k", home_arg});
  BOOST_TEST(asked.code == 0, asked.err);
  BOOST_TEST(asked.out == secret + "\n");
  BOOST_REQUIRE(h.prompts.size() == 2u);
  BOOST_TEST(contains(h.prompts[0], "Type the key's name"));
  BOOST_TEST(!contains(h.prompts[1], "New"), h.prompts[1]);
  h.typed = {"not-k"};
  auto refused = h.run({"keys", "delete", "k", home_arg});
  BOOST_TEST(refused.code == kExitFailure);
  BOOST_TEST(contains(refused.err, "not-confirmed"));
  BOOST_TEST(std::filesystem::exists(file));
  h.typed = {"k"};
  auto deleted = h.run({"keys", "delete", "k", home_arg});
  BOOST_TEST(deleted.code == 0, deleted.err);
  BOOST_TEST(contains(deleted.err, "the account is lost"));
  BOOST_TEST(!std::filesystem::exists(file));
  h.terminal = false;
  BOOST_TEST(h.run({"keys", "delete", "k", "--yes", home_arg}).code == kExitFailure);  // gone already
  BOOST_REQUIRE(h.run({"keys", "import", "k2", "--secret-hex", secret, home_arg, "--passphrase-file=/dev/null"}).code !=
                0);  // an empty passphrase file is refused, nothing made
  h.env["VERITY_PASSPHRASE"] = "pw";
  BOOST_REQUIRE(h.run({"keys", "import", "k2", "--secret-hex", secret, home_arg}).code == 0);
  BOOST_TEST(h.run({"keys", "delete", "k2", home_arg}).code == kExitUsage);  // no terminal, no --yes
  BOOST_TEST(h.run({"keys", "delete", "k2", "--yes", home_arg}).code == 0);
  BOOST_TEST(!std::filesystem::exists(home.path / "keys" / "k2.json"));
}

BOOST_AUTO_TEST_CASE(passphrase_sources_and_prompts) {
  TempDir home("client");
  const std::string home_arg = "--home=" + home.path.string();
  Harness h;
  // No file, no environment, no terminal: say how to give one.
  auto none = h.run({"keys", "new", "k", home_arg});
  BOOST_TEST(none.code == kExitUsage);
  BOOST_TEST(contains(none.err, "--passphrase-file"));
  BOOST_TEST(contains(none.err, "VERITY_PASSPHRASE"));
  // A terminal: asked twice for a new key; a mismatch writes nothing.
  h.typed = {"one", "two"};
  auto mismatch = h.run({"keys", "new", "k", home_arg});
  BOOST_TEST(mismatch.code == kExitFailure);
  BOOST_TEST(contains(mismatch.err, "differ"));
  BOOST_TEST(!std::filesystem::exists(home.path / "keys" / "k.json"));
  h.typed = {"same", "same"};
  h.prompts.clear();
  BOOST_TEST(h.run({"keys", "new", "k", home_arg}).code == 0);
  BOOST_TEST(h.prompts.size() == 2u);
  BOOST_TEST(Keystore(home.path / "keys").load("k", "same").ok());
  // A passphrase file: its first line.
  const auto file = home.path / "pass.txt";
  std::ofstream(file) << "from-file\nignored\n";
  std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  BOOST_TEST(h.run({"keys", "new", "f", home_arg, "--passphrase-file", file.string()}).code == 0);
  BOOST_TEST(Keystore(home.path / "keys").load("f", "from-file").ok());
  BOOST_TEST(h.run({"keys", "new", "g", home_arg, "--passphrase-file", (home.path / "nope").string()}).code == kExitUsage);
}

// `status` says loudly when the node holds its votes (the double-sign check)
// or has seen another instance of its validator key.
BOOST_AUTO_TEST_CASE(status_says_when_the_node_does_not_sign) {
  FakeNode node;
  Harness h;
  auto plain = h.run({"status", "--rpc", node.url()});
  BOOST_TEST(plain.code == 0, plain.err);
  BOOST_TEST(!contains(plain.out, "NOT SIGNING"));
  BOOST_TEST(!contains(plain.out, "another instance"));
  rpc::NodeStatus st;
  st.chain_id = kChain;
  st.height = 9;
  st.signing = "double-sign-check";
  st.double_sign_check = rpc::DoubleSignCheck{2, 5};
  st.another_instance = true;
  node.status_result = status_json(st);
  auto held = h.run({"status", "--rpc", node.url()});
  BOOST_TEST(held.code == 0, held.err);
  BOOST_TEST(contains(held.out, "NOT SIGNING: double-sign check, 2 of 5 heights watched"));
  BOOST_TEST(contains(held.out, "another instance signs with this validator key"));
}

// --- transactions against a fake node -------------------------------------------------

BOOST_AUTO_TEST_CASE(transfer_signs_locally_with_the_nodes_chain_and_nonce) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  auto r = h.run({"transfer", "--from", "alice", "--to", "bob", "--amount", "10", "--fee", "2", "--rpc", node.url(),
                  "--home", home.path.string()});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_REQUIRE(node.sent.size() == 1u);
  const Transaction& tx = node.sent[0];
  BOOST_TEST(tx.verify_signature());
  BOOST_TEST(tx.sender == SecretKey::derive_insecure("alice").public_key());
  BOOST_TEST(tx.chain_id == kChain);
  BOOST_TEST(tx.nonce == 7u);
  BOOST_TEST(tx.fee.units() == 2u);
  const auto* t = std::get_if<Transfer>(&tx.payload);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->to == SecretKey::derive_insecure("bob").public_key());
  BOOST_TEST(t->amount.units() == 10u);
  BOOST_TEST(contains(r.out, tx.id().hex()));
  BOOST_TEST(contains(r.out, "verity tx " + tx.id().hex()));
  BOOST_TEST(contains(r.err, "INSECURE devnet key"));
  // --json: the node's raw result on stdout.
  auto j = h.run({"--json", "transfer", "--from", "alice", "--to", std::string(64, 'a').replace(0, 64,
                  SecretKey::derive_insecure("x").public_key().hex()), "--amount", "1", "--rpc", node.url(), "--home",
                  home.path.string()});
  BOOST_TEST(j.code == 0, j.err);
  rapidjson::Document d;
  d.Parse(j.out.c_str());
  BOOST_REQUIRE(d.IsObject());
  BOOST_TEST(std::string(d["hash"].GetString()) == node.sent.back().id().hex());
}

// The fee defaults to the chain's min_fee (from its genesis) and is shown
// before sending; --fee overrides it.
BOOST_AUTO_TEST_CASE(the_default_fee_is_the_chains_min_fee) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  auto with = h.against(node, home);
  auto r = with({"transfer", "--from", "alice", "--to", "bob", "--amount", "10"});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_REQUIRE(node.sent.size() == 1u);
  BOOST_TEST(node.sent[0].fee.units() == 3u);
  BOOST_TEST(contains(r.out, "fee 3 (the chain's min_fee)"), r.out);
  auto own = with({"transfer", "--from", "alice", "--to", "bob", "--amount", "10", "--fee", "9"});
  BOOST_TEST(own.code == 0, own.err);
  BOOST_TEST(node.sent.back().fee.units() == 9u);
  BOOST_TEST(!contains(own.out, "min_fee"));
}

// Every transaction is simulated first: one the node says would fail is
// not sent (no fee spent) and the error names the reason, the contract's
// detail, a way forward and --force; --force sends it; --dry-run sends
// nothing either way; a node without `simulate` decides alone.
BOOST_AUTO_TEST_CASE(a_transaction_the_simulation_refuses_is_not_sent) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  auto with = h.against(node, home);
  node.simulation = [](const Transaction& tx) {
    return "{\"height\":4,\"ok\":false,\"reason\":\"insufficient-delegation\",\"detail\":\"delegated 5 < 9\","
           "\"pays_fee\":true,\"fee_required\":\"3\",\"fee_paid\":\"" + tx.fee.to_string() + "\",\"events\":[]}";
  };
  auto refused = with({"unbond", "--from", "alice", "--validator", "validator-1", "--amount", "9"});
  BOOST_TEST(refused.code == kExitFailure);
  BOOST_TEST(node.sent.empty());
  BOOST_REQUIRE(node.simulated.size() == 1u);
  BOOST_TEST(node.simulated[0].verify_signature());  // the very transaction it would send
  BOOST_TEST(contains(refused.err, "nothing was sent"), refused.err);
  BOOST_TEST(contains(refused.err, "insufficient-delegation"));
  BOOST_TEST(contains(refused.err, "delegated 5 < 9"));
  BOOST_TEST(contains(refused.err, "--force sends it anyway, and it would pay its fee of 3"), refused.err);
  BOOST_TEST(contains(refused.err, "verity delegations alice"), refused.err);  // the way forward

  auto dry = with({"unbond", "--from", "alice", "--validator", "validator-1", "--amount", "9", "--dry-run"});
  BOOST_TEST(dry.code == kExitFailure);
  BOOST_TEST(contains(dry.out, "would FAIL: insufficient-delegation (delegated 5 < 9)"), dry.out);
  BOOST_TEST(contains(dry.out, "nothing was sent (--dry-run)"));
  BOOST_TEST(node.sent.empty());

  auto forced = with({"unbond", "--from", "alice", "--validator", "validator-1", "--amount", "9", "--force"});
  BOOST_TEST(forced.code == 0, forced.err);
  BOOST_TEST(node.sent.size() == 1u);

  node.simulation = [](const Transaction&) {
    return std::string("{\"height\":4,\"ok\":true,\"reason\":\"\",\"detail\":\"\",\"pays_fee\":true,"
                       "\"fee_required\":\"3\",\"fee_paid\":\"3\",\"events\":[{\"kind\":\"claim\","
                       "\"attributes\":{\"amount\":\"40\"}}]}");
  };
  auto ok = with({"claim", "--from", "alice", "--dry-run"});
  BOOST_TEST(ok.code == 0, ok.err);
  BOOST_TEST(contains(ok.out, "simulated on height 4: ok, fee 3"), ok.out);
  BOOST_TEST(contains(ok.out, "event claim amount=40"));
  BOOST_TEST(node.sent.size() == 1u);
  auto json = with({"--json", "claim", "--from", "alice", "--dry-run"});
  BOOST_TEST(json.code == 0, json.err);
  rapidjson::Document d;
  d.Parse(json.out.c_str());
  BOOST_REQUIRE(d.IsObject());
  BOOST_TEST(d["simulation"]["ok"].GetBool());
  BOOST_TEST(std::string(d["hash"].GetString()) == node.simulated.back().id().hex());
  BOOST_TEST(with({"claim", "--from", "alice", "--dry-run", "--wait"}).code == kExitUsage);

  node.simulates = false;  // an older node: the chain decides
  auto old = with({"claim", "--from", "alice"});
  BOOST_TEST(old.code == 0, old.err);
  BOOST_TEST(node.sent.size() == 2u);
  BOOST_TEST(with({"claim", "--from", "alice", "--dry-run"}).code == kExitFailure);
}

// `tx` shows a task's module as its size and hash, never as hex (--json
// prints the node's answer as it is).
BOOST_AUTO_TEST_CASE(tx_shows_a_module_by_size_and_hash) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  auto with = h.against(node, home);
  SubmitTask task;
  task.module.bytes = Bytes(3000, 0x61);
  task.input.bytes = Bytes{'h', 'i'};
  task.replicas = 3;
  task.reward = Amount(5);
  task.fuel = 1000;
  task.commit_blocks = 20;
  task.reveal_blocks = 20;
  Transaction tx;
  tx.chain_id = kChain;
  tx.nonce = 1;
  tx.payload = task;
  tx.sign(SecretKey::derive_insecure("alice"));
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("hash", rpc::to_json(tx.id(), a), a);
  d.AddMember("status", "pending", a);
  d.AddMember("tx", rpc::to_json(tx, a), a);
  node.tx_result = rpc::json_string(d);
  auto r = with({"tx", tx.id().hex()});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(contains(r.out, "module 3000 bytes, sha256 " + sha256(task.module.bytes).hex()), r.out);
  BOOST_TEST(contains(r.out, "input 6869"), r.out);  // short input as it is
  BOOST_TEST(!contains(r.out, to_hex(Bytes(64, 0x61))));
  auto j = with({"--json", "tx", tx.id().hex()});
  BOOST_TEST(contains(j.out, to_hex(task.module.bytes)));
}

// --chain-id: a node on another chain is refused before anything is done.
BOOST_AUTO_TEST_CASE(chain_id_refuses_a_node_of_another_chain) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  auto with = h.against(node, home);
  auto r = with({"--chain-id", "other-1", "transfer", "--from", "alice", "--to", "bob", "--amount", "1"});
  BOOST_TEST(r.code == kExitFailure);
  BOOST_TEST(contains(r.err, "[wrong-chain]"), r.err);
  BOOST_TEST(contains(r.err, "on chain '" + kChain + "', not 'other-1'"), r.err);
  BOOST_TEST(node.sent.empty());
  BOOST_TEST(node.simulated.empty());
  auto q = with({"balance", "alice", "--chain-id", "other-1"});
  BOOST_TEST(q.code == kExitFailure);
  BOOST_TEST(contains(q.err, "[wrong-chain]"), q.err);
  BOOST_TEST(q.out.empty());
  auto ok = with({"--chain-id", kChain, "transfer", "--from", "alice", "--to", "bob", "--amount", "1"});
  BOOST_TEST(ok.code == 0, ok.err);
  BOOST_TEST(node.sent.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_devnet_name_works_only_at_its_insecure_key_in_the_genesis) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  auto with = h.against(node, home);
  // Named in the genesis, but not at derive_insecure("mallory").
  auto m = with({"transfer", "--from", "mallory", "--to", "bob", "--amount", "1"});
  BOOST_TEST(m.code == kExitFailure);
  BOOST_TEST(contains(m.err, "no key named 'mallory'"));
  BOOST_TEST(contains(m.err, "verity keys new mallory"));
  BOOST_TEST(contains(m.err, "not at the insecure devnet key"));
  // Not named at all.
  auto z = with({"withdraw", "--from", "zed"});
  BOOST_TEST(z.code == kExitFailure);
  BOOST_TEST(contains(z.err, "no key named 'zed'"));
  BOOST_TEST(node.sent.empty());
  // An unknown recipient name.
  auto u = with({"transfer", "--from", "alice", "--to", "nobody", "--amount", "1"});
  BOOST_TEST(u.code == kExitFailure);
  BOOST_TEST(contains(u.err, "no key, or genesis account named 'nobody'"));
  // A key file wins over the devnet name, and needs its passphrase.
  BOOST_REQUIRE(Keystore(home.path / "keys", {1024, 8, 1}).create("alice", SecretKey::derive_insecure("real-alice"), "pw").ok());
  h.env["VERITY_PASSPHRASE"] = "wrong";
  auto bad = with({"transfer", "--from", "alice", "--to", "bob", "--amount", "1"});
  BOOST_TEST(bad.code == kExitFailure);
  BOOST_TEST(contains(bad.err, "bad-passphrase"));
  BOOST_TEST(contains(bad.err, "VERITY_PASSPHRASE"));
  h.env["VERITY_PASSPHRASE"] = "pw";
  auto good = with({"transfer", "--from", "alice", "--to", "bob", "--amount", "1"});
  BOOST_TEST(good.code == 0, good.err);
  BOOST_REQUIRE(node.sent.size() == 1u);
  BOOST_TEST(node.sent[0].sender == SecretKey::derive_insecure("real-alice").public_key());
  BOOST_TEST(!contains(good.err, "INSECURE"));
}

BOOST_AUTO_TEST_CASE(staking_payloads_and_validator_names) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  auto with = h.against(node, home);
  BOOST_TEST(with({"delegate", "--from", "alice", "--validator", "validator-1", "--amount", "5"}).code == 0);
  BOOST_TEST(with({"unbond", "--from", "alice", "--validator", "newval", "--amount", "3"}).code == 0);
  const PublicKey ck = SecretKey::derive_insecure("ck").public_key();
  BOOST_TEST(with({"create-validator", "--from", "alice", "--consensus-key", ck.hex(), "--stake", "9", "--name", "mine",
                   "--commission-bps", "500"}).code == 0);
  BOOST_TEST(with({"withdraw", "--from", "alice"}).code == 0);
  // Evidence: two conflicting commit votes, as the hex of their canonical encoding.
  const SecretKey cheat = SecretKey::derive_insecure("cheat");
  DoubleSignEvidence ev;
  ev.first = Vote{VotePhase::commit, 3, 0, Hash256{}, {}, {}};
  ev.second = ev.first;
  ev.second.block_hash.data[0] = 1;
  ev.first.sign(kChain, cheat);
  ev.second.sign(kChain, cheat);
  BOOST_TEST(with({"submit-evidence", "--from", "alice", "--evidence", to_hex(encode(ev))}).code == 0);
  BOOST_TEST(with({"claim", "--from", "alice"}).code == 0);
  BOOST_TEST(with({"unjail", "--from", "alice"}).code == 0);
  BOOST_TEST(with({"request-audit", "12", "--from", "alice"}).code == 0);
  BOOST_TEST(with({"unregister-worker", "--from", "alice"}).code == 0);
  BOOST_REQUIRE(node.sent.size() == 9u);
  BOOST_TEST(std::get<RequestAudit>(node.sent[7].payload).task == 12u);
  BOOST_TEST(std::holds_alternative<UnregisterWorker>(node.sent[8].payload));
  const auto& d = std::get<Delegate>(node.sent[0].payload);
  BOOST_TEST(d.validator == SecretKey::derive_insecure("validator-1").public_key());  // from the genesis
  BOOST_TEST(d.amount.units() == 5u);
  const auto& u = std::get<Undelegate>(node.sent[1].payload);
  BOOST_TEST(u.validator == SecretKey::derive_insecure("newval-op").public_key());  // from `validators`
  BOOST_TEST(u.amount.units() == 3u);
  const auto& c = std::get<CreateValidator>(node.sent[2].payload);
  BOOST_TEST(c.consensus_key == ck);
  BOOST_TEST(c.self_stake.units() == 9u);
  BOOST_TEST(c.name == "mine");
  BOOST_TEST(c.commission_bps == 500u);
  BOOST_TEST(std::holds_alternative<Withdraw>(node.sent[3].payload));
  BOOST_TEST((std::get<SubmitEvidence>(node.sent[4].payload).evidence == ev));
  BOOST_TEST(std::holds_alternative<Claim>(node.sent[5].payload));
  BOOST_TEST(std::holds_alternative<Unjail>(node.sent[6].payload));
  for (const auto& tx : node.sent) BOOST_TEST(tx.verify_signature());
}

// An unjail the chain would refuse (the node's `validator` answer carries
// the contract's verdict) is not sent: exit 1 with the reason and the
// node's explanation on stderr, with or without --json; one it would
// accept is sent.
BOOST_AUTO_TEST_CASE(unjail_the_chain_would_refuse_is_not_sent_and_says_why) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  const std::string alice = SecretKey::derive_insecure("alice").public_key().hex();
  auto answer = [&](const std::string& status, const std::string& refusal, const std::string& detail) {
    return "{\"operator\":\"" + alice + "\",\"name\":\"alices-node\",\"status\":\"" + status +
           "\",\"jailed\":true,\"jailed_until\":1234,\"missing_stake\":\"40\",\"detail\":\"" + detail +
           "\",\"unjail_refusal\":\"" + refusal + "\"}";
  };
  const std::vector<std::string> args = {"unjail", "--from", "alice", "--rpc", node.url(), "--home", home.path.string()};
  std::vector<std::string> json_args = args;
  json_args.insert(json_args.begin(), "--json");

  node.validator_result = answer("jailed", "still-jailed",
                                 "jailed for downtime until height 1234: unjail is allowed in blocks from height 1234 "
                                 "on (the chain is at height 4)");
  auto r = h.run(args);
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.err, "[still-jailed]"), r.err);
  BOOST_TEST(contains(r.err, "from height 1234"), r.err);
  BOOST_TEST(contains(r.err, "nothing was sent"), r.err);
  BOOST_TEST(r.out.empty(), r.out);
  // --json: the error is one JSON object on stderr, a usage error in the
  // global options too.
  auto bad_option = h.run({"--json", "status", "--home="});
  BOOST_TEST(bad_option.code == kExitUsage);
  rapidjson::Document u;
  u.Parse(bad_option.err.c_str());
  BOOST_REQUIRE_MESSAGE(u.IsObject(), bad_option.err);
  BOOST_TEST(std::string(u["reason"].GetString()) == "usage");
  BOOST_TEST(u["exit_code"].GetInt() == kExitUsage);
  BOOST_TEST(contains(u["detail"].GetString(), "--home"));
  auto j = h.run(json_args);
  BOOST_TEST(j.code == 1);
  BOOST_TEST(j.out.empty(), j.out);
  rapidjson::Document e;
  e.Parse(j.err.c_str());
  BOOST_REQUIRE_MESSAGE(e.IsObject(), j.err);
  BOOST_TEST(std::string(e["reason"].GetString()) == "still-jailed");
  BOOST_TEST(std::string(e["command"].GetString()) == "unjail");
  BOOST_TEST(contains(e["detail"].GetString(), "from height 1234"));
  BOOST_TEST(contains(e["detail"].GetString(), "nothing was sent"));
  BOOST_TEST(e["exit_code"].GetInt() == 1);
  node.validator_result = answer("jailed", "below-min-stake",
                                 "jailed for downtime; its jail time is over; and its tokens 60 are 40 below the "
                                 "minimum stake 100: delegate that much to it (self-delegation counts) before unjail");
  r = h.run(args);
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.err, "[below-min-stake]"), r.err);
  BOOST_TEST(contains(r.err, "40 below the minimum stake 100"), r.err);
  node.validator_result = answer("active", "not-jailed", "in the set that certifies the next block, with power 1000");
  r = h.run(args);
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.err, "[not-jailed]"), r.err);
  node.validator_result = "not-found";
  r = h.run(args);
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.err, "operates no validator"), r.err);
  BOOST_TEST(contains(r.err, "[unknown-validator]"), r.err);
  BOOST_TEST(node.sent.empty());

  node.validator_result = answer("jailed", "", "jailed for downtime; its jail time is over: its operator may send unjail now");
  r = h.run(args);
  BOOST_TEST(r.code == 0, r.err);
  BOOST_REQUIRE_EQUAL(node.sent.size(), 1u);
  BOOST_TEST(std::holds_alternative<Unjail>(node.sent[0].payload));
}

// `verity validators` prints a STATUS column with its figure, and under a
// validator that is not active, the node's explanation.
BOOST_AUTO_TEST_CASE(validators_prints_why_each_has_its_power) {
  FakeNode node;
  Harness h;
  auto entry = [](const std::string& name, const std::string& status, const std::string& power,
                  const std::string& detail) {
    // Every field a node writes (rpc/records.h, ValidatorInfo): the client reads the record strictly.
    return "{\"operator\":\"" + SecretKey::derive_insecure(name).public_key().hex() + "\",\"consensus_key\":\"" +
           SecretKey::derive_insecure(name + "-consensus").public_key().hex() + "\",\"name\":\"" + name +
           "\",\"tokens\":\"1000\",\"shares\":1000,\"jailed\":" + (status == "jailed" ? "true" : "false") +
           ",\"banned\":" + (status == "banned" ? "true" : "false") + ",\"in_set\":" +
           (status == "active" ? "true" : "false") + ",\"power\":" + power +
           ",\"commission_bps\":0,\"status\":\"" + status +
           "\",\"jailed_until\":1234,\"missing_stake\":\"5000\",\"next_epoch_boundary\":1300,\"detail\":\"" +
           detail + "\",\"unjail_refusal\":\"\",\"missed_in_window\":3,\"window_commits\":100,\"missed_allowed\":50,\"slashes\":0}";
  };
  node.validators_result = "{\"height\":1200,\"validators\":[" +
                           entry("busy", "active", "1000", "in the set that certifies the next block, with power 1000") +
                           "," + entry("lazy", "jailed", "1000", "jailed for downtime until height 1234") + "," +
                           entry("poor", "below-min-stake", "0", "its tokens 1000 are 5000 below the minimum stake 6000") +
                           "," + entry("new", "waiting", "0", "qualifies") + "," + entry("gone", "banned", "0", "banned") + "]}";
  auto r = h.run({"validators", "--rpc", node.url()});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(contains(r.out, "STATUS"), r.out);
  BOOST_TEST(contains(r.out, "jailed until 1234\n  jailed for downtime until height 1234\n"), r.out);
  BOOST_TEST(contains(r.out, "below min stake by 5000\n  its tokens 1000 are 5000 below"), r.out);
  BOOST_TEST(contains(r.out, "waiting (joins at 1300)"), r.out);
  BOOST_TEST(contains(r.out, "banned\n  banned\n"), r.out);
  BOOST_TEST(contains(r.out, "active\n"), r.out);
  BOOST_TEST(!contains(r.out, "with power 1000"), r.out);  // an active validator needs no explanation
  // An answer the client cannot read is an error naming the field, not a table of blanks.
  node.validators_result = "{\"height\":1200,\"validators\":[{\"operator\":\"zz\"}]}";
  r = h.run({"validators", "--rpc", node.url()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.err, "the node's validators answer: `validators[0].operator` is not 64 hex digits"), r.err);
}

BOOST_AUTO_TEST_CASE(wait_reports_receipts_and_failed_ones_exit_1) {
  FakeNode node;
  TempDir home("client");
  Harness h;
  const std::vector<std::string> args = {"transfer", "--from", "alice", "--to", "bob", "--amount", "10", "--wait",
                                         "--rpc", node.url(), "--home", home.path.string()};
  auto ok = h.run(args);
  BOOST_TEST(ok.code == 0, ok.err);
  BOOST_TEST(contains(ok.out, "committed at height 5 (index 0): ok"));
  BOOST_TEST(contains(ok.out, "event transfer amount=10"));
  BOOST_TEST(contains(node.server->last_body("send_tx_commit"), "\"timeout_ms\":30000"));

  node.on_tx = [](const std::string& id, const Transaction& tx, bool) {
    return FakeRpcServer::result(id, "{\"hash\":\"" + tx.id().hex() +
                                         "\",\"height\":6,\"receipt\":{\"height\":6,\"index\":1,\"ok\":false,"
                                         "\"reason\":\"insufficient-funds\",\"fee_paid\":\"0\",\"events\":[]}}");
  };
  auto failed = h.run(args);
  BOOST_TEST(failed.code == kExitFailure);
  BOOST_TEST(contains(failed.err, "committed at height 6 but failed: insufficient-funds"));
  BOOST_TEST(contains(failed.err, "verity balance alice"));

  node.on_tx = [](const std::string& id, const Transaction&, bool) {
    return FakeRpcServer::error(id, -32002, "transaction rejected", "nonce-too-low", "nonce 7 < 8");
  };
  auto rejected = h.run(args);
  BOOST_TEST(rejected.code == kExitFailure);
  BOOST_TEST(contains(rejected.err, "rejected"));
  BOOST_TEST(contains(rejected.err, "[nonce-too-low]"));
  BOOST_TEST(contains(rejected.err, "run the command again"));

  node.on_tx = [](const std::string& id, const Transaction&, bool) {
    return FakeRpcServer::error(id, -32003, "timeout", "timeout", "");
  };
  auto timeout = h.run(args);
  BOOST_TEST(timeout.code == kExitFailure);
  BOOST_TEST(contains(timeout.err, "verity tx " + node.sent.back().id().hex()));
}

BOOST_AUTO_TEST_CASE(not_found_exits_1) {
  FakeNode node;
  Harness h;
  auto r = h.run({"tx", std::string(64, 'B'), "--rpc", node.url()});
  BOOST_TEST(r.code == kExitFailure);
  BOOST_TEST(contains(r.err, "[not-found]"));
  BOOST_TEST(contains(node.server->last_body("tx"), std::string(64, 'b')));  // the node wants lower case
}

// --- account proofs -----------------------------------------------------------------------

namespace {

// A chain of 5 blocks with an epoch of 2: a proof at 5 needs the
// hand-offs of blocks 2 and 4.
struct ProvenChain {
  verity::testing::TestNet net = [] {
    auto n = verity::testing::make_test_net(3);
    n.genesis.params.epoch_blocks = 2;
    return n;
  }();
  contracts::NativeContracts app;
  std::unique_ptr<state::KvStore> store = state::open_memory_store();
  std::unique_ptr<state::Chain> chain;
  PublicKey user, absent;

  ProvenChain() {
    chain = state::Chain::open(*store, net.genesis, app).value();
    user = net.users[1].public_key();
    absent = SecretKey::derive_insecure("never-funded").public_key();
    auto tx = verity::testing::make_transfer(net.genesis.chain_id, net.users[0], 0, user, 250);
    verity::testing::produce_block(*chain, net, {tx}).value();
    for (int i = 0; i < 4; ++i) verity::testing::produce_block(*chain, net, {}).value();
  }

  LightClient light() const { return LightClient::from_genesis(net.genesis).value(); }
  LightClient::HandoffSource source() const {
    return [this](std::uint64_t from) { return chain->handoffs(from, 100); };
  }
  // The validator_handoffs answer, as the RPC writes it.
  std::string handoffs_json(std::uint64_t from) const {
    std::string items;
    const auto list = chain->handoffs(from, 100).value();
    for (const auto& h : list)
      items += std::string(items.empty() ? "" : ",") + "{\"height\":" + std::to_string(h.header.height) +
               ",\"block_hash\":\"" + h.certificate.block_hash.hex() + "\",\"validators_hash\":\"" +
               h.next.hash().hex() + "\",\"handoff\":\"" + to_hex(encode(h)) + "\"}";
    return "{\"epoch_blocks\":2,\"height\":5,\"handoffs\":[" + items + "]}";
  }
  std::string genesis_file(const TempDir& dir) const {
    const std::string path = (dir.path / "genesis.json").string();
    std::ofstream(path) << rpc::genesis_to_json(net.genesis);
    return path;
  }

  // The `account` answer with a proof, as the RPC spec describes it.
  rapidjson::Document answer(const PublicKey& address) {
    const Bytes key = contracts::account_key(address);
    auto proof = chain->prove(key).value();
    auto acct = contracts::load_account(chain->state(), address).value();
    const auto h = chain->tip().height;
    auto block = chain->block_at(h).value().value();
    auto cert = chain->certificate_at(h).value().value();
    auto value = chain->state().get(key).value();
    std::string value_json = value ? "\"" + to_hex(*value) + "\"" : "null";
    std::string text = "{\"address\":\"" + address.hex() + "\",\"balance\":\"" + acct.balance.to_string() +
                       "\",\"nonce\":" + std::to_string(acct.nonce) + ",\"next_nonce\":" + std::to_string(acct.nonce) +
                       ",\"height\":" + std::to_string(h) + ",\"proof\":{\"height\":" + std::to_string(h) +
                       ",\"key\":\"" + to_hex(key) + "\",\"value\":" + value_json + ",\"root\":\"" +
                       chain->tip().state_root.hex() + "\",\"proof\":\"" + to_hex(encode(proof)) +
                       "\",\"header\":\"" + to_hex(encode(block.header)) + "\",\"certificate\":\"" +
                       to_hex(encode(cert)) + "\",\"validators\":\"" + to_hex(encode(chain->tip_validators())) + "\"}}";
    rapidjson::Document d;
    d.Parse(text.c_str());
    return d;
  }
};

void set_str(rapidjson::Document& d, rapidjson::Value& v, const std::string& s) {
  v.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), d.GetAllocator());
}

}  // namespace

BOOST_AUTO_TEST_CASE(account_proofs_verify) {
  ProvenChain c;
  auto d = c.answer(c.user);
  auto light = c.light();
  auto p = verify_account_proof(d, c.user, light, c.source());
  BOOST_REQUIRE_MESSAGE(p, (p ? std::string() : p.error().to_string()));
  BOOST_TEST(p->height == 5u);
  BOOST_TEST(light.height() == 4u);  // followed two hand-offs
  BOOST_REQUIRE(p->account);
  BOOST_TEST(p->account->balance.units() == 1'000'000'000u + 250u);
  // An account that does not exist is proven absent.
  auto none = c.answer(c.absent);
  auto again = c.light();
  auto q = verify_account_proof(none, c.absent, again, c.source());
  BOOST_REQUIRE_MESSAGE(q, (q ? std::string() : q.error().to_string()));
  BOOST_TEST(!q->account);
}

BOOST_AUTO_TEST_CASE(account_proofs_that_lie_fail) {
  ProvenChain c;
  auto expect = [&](rapidjson::Document& d, const PublicKey& address, const std::string& reason,
                    std::optional<Genesis> genesis = std::nullopt, LightClient::HandoffSource source = {}) {
    auto light = LightClient::from_genesis(genesis.value_or(c.net.genesis)).value();
    auto r = verify_account_proof(d, address, light, source ? source : c.source());
    BOOST_TEST_INFO("expecting " << reason);
    BOOST_REQUIRE(!r);
    BOOST_TEST_INFO("got " << r.error().to_string());
    BOOST_TEST(r.error().reason == reason);
  };
  {  // a proof of another account
    auto d = c.answer(c.user);
    expect(d, c.net.users[2].public_key(), "proof-wrong-key");
  }
  {  // the value changed (a richer account)
    auto d = c.answer(c.user);
    contracts::Account rich{Amount(999'999'999'999), 0};
    set_str(d, d["proof"]["value"], to_hex(encode(rich)));
    d["balance"].SetString("999999999999");
    expect(d, c.user, "proof-mismatch");
  }
  {  // the value dropped: claims the account is absent
    auto d = c.answer(c.user);
    d["proof"]["value"].SetNull();
    expect(d, c.user, "proof-mismatch");
  }
  {  // the answer's balance is not the proven one
    auto d = c.answer(c.user);
    d["balance"].SetString("1");
    expect(d, c.user, "proof-mismatch");
  }
  {  // a root that is not the certified header's
    auto d = c.answer(c.user);
    set_str(d, d["proof"]["root"], Hash256{}.hex());
    expect(d, c.user, "proof-wrong-root");
  }
  {  // the header altered (another state root): the certificate no longer covers it
    auto d = c.answer(c.user);
    auto header = decode_exact<BlockHeader>(from_hex(d["proof"]["header"].GetString()).value()).value();
    header.state_root = Hash256{};
    set_str(d, d["proof"]["header"], to_hex(encode(header)));
    set_str(d, d["proof"]["root"], Hash256{}.hex());
    expect(d, c.user, "proof-bad-certificate");
  }
  {  // a certificate signed by too few validators
    auto d = c.answer(c.user);
    auto cert = decode_exact<CommitCertificate>(from_hex(d["proof"]["certificate"].GetString()).value()).value();
    cert.signatures.resize(2);  // 2 of 4 equal validators
    set_str(d, d["proof"]["certificate"], to_hex(encode(cert)));
    expect(d, c.user, "header-bad-certificate");
  }
  {  // a whole world the node made up: its own key is "the set", and signs
    auto d = c.answer(c.user);
    const SecretKey fake = SecretKey::derive_insecure("x");
    auto other = ValidatorSet::create({{fake.public_key(), 10}}).value();
    set_str(d, d["proof"]["validators"], to_hex(encode(other)));
    expect(d, c.user, "proof-wrong-validators");
    auto header = decode_exact<BlockHeader>(from_hex(d["proof"]["header"].GetString()).value()).value();
    Block b;
    b.header = header;
    set_str(d, d["proof"]["certificate"], to_hex(encode(verity::testing::certify(b, {fake}))));
    set_str(d, d["proof"]["validators"], to_hex(encode(c.chain->tip_validators())));
    expect(d, c.user, "header-bad-certificate");
  }
  {  // hand-offs that lie: a set the state does not hold, or none at all
    auto d = c.answer(c.user);
    expect(d, c.user, "handoff-wrong-set", std::nullopt, [&](std::uint64_t from) {
      auto list = c.chain->handoffs(from, 100);
      if (list && !list->empty())
        list->front().next = ValidatorSet::create({{SecretKey::derive_insecure("y").public_key(), 1}}).value();
      return list;
    });
    expect(d, c.user, "handoff-missing", std::nullopt,
           [](std::uint64_t) { return Result<std::vector<ValidatorHandoff>>(std::vector<ValidatorHandoff>{}); });
    expect(d, c.user, "handoff-wrong-height", std::nullopt, [&](std::uint64_t from) { return c.chain->handoffs(from + 2, 100); });
  }
  {  // another chain
    auto d = c.answer(c.user);
    Genesis other = c.net.genesis;
    other.chain_id = "other-chain";
    expect(d, c.user, "proof-wrong-chain", other);
  }
  {  // garbage
    auto d = c.answer(c.user);
    set_str(d, d["proof"]["proof"], "00ff");
    expect(d, c.user, "proof-malformed");
    auto e = c.answer(c.user);
    e.RemoveMember("proof");
    expect(e, c.user, "proof-missing");
  }
}

BOOST_AUTO_TEST_CASE(account_prove_command_prints_or_fails) {
  ProvenChain c;
  FakeNode node;
  // The fake node serves chain "verity-test-1", the test net's.
  BOOST_REQUIRE(c.net.genesis.chain_id == kChain);
  node.account_result = verity::rpc::json_string(c.answer(c.user));
  node.handoffs_from = [&c](std::uint64_t from) { return c.handoffs_json(from); };
  TempDir dir("prove");
  const std::string genesis = "--genesis=" + c.genesis_file(dir);
  Harness h;
  auto ok = h.run({"account", c.user.hex(), "--prove", "--rpc", node.url(), genesis});
  BOOST_TEST(ok.code == 0, ok.err);
  BOOST_TEST(contains(ok.out, "proof verified at height 5 (the validator set followed from genesis through 2 hand-offs)"),
             ok.out);
  // No genesis file: a usage error, nothing trusted.
  auto none = h.run({"account", c.user.hex(), "--prove", "--rpc", node.url()});
  BOOST_TEST(none.code == kExitUsage);
  BOOST_TEST(contains(none.err, "--genesis"));
  // Trusting block 4 by its hash: no hand-off before it is needed.
  const std::string hash4 = c.chain->block_at(4).value()->hash().hex();
  auto trusted = h.run({"account", c.user.hex(), "--prove", "--trust-height", "4", "--trust-hash", hash4, "--rpc",
                        node.url(), genesis});
  BOOST_TEST(trusted.code == 0, trusted.err);
  BOOST_TEST(contains(trusted.out, "from the trusted block 4 through 0 hand-offs"), trusted.out);
  auto mistrust = h.run({"account", c.user.hex(), "--prove", "--trust-height", "4", "--trust-hash", Hash256{}.hex(),
                         "--rpc", node.url(), genesis});
  BOOST_TEST(mistrust.code == kExitFailure);
  BOOST_TEST(contains(mistrust.err, "trust-hash-mismatch"), mistrust.err);
  BOOST_TEST(h.run({"account", c.user.hex(), "--prove", "--trust-height", "4", "--rpc", node.url(), genesis}).code ==
             kExitUsage);
  auto d = c.answer(c.user);
  d["balance"].SetString("5");
  node.account_result = verity::rpc::json_string(d);
  auto bad = h.run({"account", c.user.hex(), "--prove", "--rpc", node.url(), genesis});
  BOOST_TEST(bad.code == kExitFailure);
  BOOST_TEST(contains(bad.err, "does not verify"));
  BOOST_TEST(!contains(bad.out, "proof verified"));
}

// --- submit-task -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(submit_task_defaults_fit_the_reference_speed) {
  FakeNode node;
  TempDir home("client");
  const std::string wasm = (home.path / "t.wasm").string();
  {
    std::ofstream f(wasm, std::ios::binary);
    f << std::string("\0asm\1\0\0\0", 8);
  }
  Harness h;
  auto submit = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"submit-task", wasm, "--from", "alice", "--reward", "10",
                                     "--rpc", node.url(), "--home", home.path.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return h.run(args);
  };
  auto task = [&]() -> SubmitTask {
    BOOST_REQUIRE(!node.sent.empty());
    const auto* t = std::get_if<SubmitTask>(&node.sent.back().payload);
    BOOST_REQUIRE(t);
    return *t;
  };
  // Defaults: fuel 10^9 (5 blocks at 200 M per block), a window of 20 to commit and 20 to reveal.
  auto r = submit({});
  BOOST_TEST(r.code == 0, r.err);
  // It waits for the submission's block, for the task's id.
  BOOST_TEST(contains(r.out, "task 12 submitted; follow it with 'verity task watch 12'"), r.out);
  BOOST_TEST(!node.server->last_body("send_tx_commit").empty());
  BOOST_TEST(task().fuel == 1'000'000'000u);
  BOOST_TEST(task().commit_blocks == 20u);
  BOOST_TEST(task().reveal_blocks == 20u);
  BOOST_TEST(task().commit_blocks >= task_commit_blocks_needed(task().fuel, 200'000'000));
  // More fuel: the window grows with it, to what the chain requires (ceil(fuel / per block) + 2).
  r = submit({"--fuel", "5000000000"});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(task().commit_blocks == 27u);
  r = submit({"--fuel", "10000000000"});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(task().commit_blocks == 52u);
  // A window the user gives is sent as given: the node judges it.
  r = submit({"--fuel", "5000000000", "--commit-blocks", "9", "--reveal-blocks", "3"});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(task().commit_blocks == 9u);
  BOOST_TEST(task().reveal_blocks == 3u);
}

// A task fewer workers could take than its replicas is sent, with a
// warning that says why (the untrusted_reward_cap rule) and what follows.
BOOST_AUTO_TEST_CASE(submit_task_warns_when_too_few_workers_are_eligible) {
  FakeNode node;
  TempDir home("client");
  const std::string wasm = (home.path / "t.wasm").string();
  {
    std::ofstream f(wasm, std::ios::binary);
    f << std::string("\0asm\1\0\0\0", 8);
  }
  node.genesis_params = ",\"untrusted_reward_cap\":\"10000\",\"min_worker_stake\":\"100\","
                        "\"worker_reputation_threshold\":100000,\"task_replication\":3";
  auto worker = [](const std::string& name, std::uint64_t reputation) {
    return "{\"key\":\"" + SecretKey::derive_insecure(name).public_key().hex() +
           "\",\"stake\":\"1000\",\"active\":true,\"unbonding\":\"0\",\"unbonding_until\":0,\"reputation\":" +
           std::to_string(reputation) + ",\"agreed\":0,\"outvoted\":0,\"missed\":0,\"slashes\":0}";
  };
  node.workers_result = "{\"workers\":[" + worker("w1", 0) + "," + worker("w2", 0) + "," + worker("w3", 200000) + "]}";
  Harness h;
  auto with = h.against(node, home);
  auto big = with({"submit-task", wasm, "--from", "alice", "--reward", "20000"});
  BOOST_TEST(big.code == 0, big.err);
  BOOST_TEST(node.sent.size() == 1u);  // sent all the same
  BOOST_TEST(contains(big.err, "only 1 registered worker is eligible for this task now, and it needs 3"), big.err);
  BOOST_TEST(contains(big.err, "untrusted_reward_cap 10000"), big.err);
  BOOST_TEST(contains(big.err, "no-workers"), big.err);
  auto small = with({"submit-task", wasm, "--from", "alice", "--reward", "10"});
  BOOST_TEST(small.code == 0, small.err);
  BOOST_TEST(!contains(small.err, "eligible"), small.err);  // below the cap: all three can take it
}

BOOST_AUTO_TEST_CASE(submit_task_refused_by_the_node_names_the_limit_and_exits_1) {
  FakeNode node;
  TempDir home("client");
  const std::string wasm = (home.path / "t.wasm").string();
  {
    std::ofstream f(wasm, std::ios::binary);
    f << std::string("\0asm\1\0\0\0", 8);
  }
  const std::string detail = "commit_blocks 20 is too short for fuel 5000000000 at 200000000 per block; at least 27";
  node.on_tx = [&](const std::string& id, const Transaction&, bool) {
    return FakeRpcServer::error(id, -32002, "transaction rejected", "bad-deadlines", detail);
  };
  Harness h;
  for (bool wait : {false, true}) {
    std::vector<std::string> args = {"submit-task", wasm, "--from", "alice", "--reward", "10", "--fuel",
                                     "5000000000", "--commit-blocks", "20", "--rpc", node.url(), "--home",
                                     home.path.string()};
    if (wait) args.push_back("--wait");
    auto r = h.run(args);
    BOOST_TEST(r.code == kExitFailure, "--wait " << wait);
    BOOST_TEST(contains(r.err, "bad-deadlines"), r.err);
    BOOST_TEST(contains(r.err, detail), r.err);
    BOOST_TEST(contains(r.err, "--commit-blocks"), r.err);  // what to do about it
  }
  node.on_tx = [&](const std::string& id, const Transaction&, bool) {
    return FakeRpcServer::error(id, -32002, "transaction rejected", "bad-fuel",
                                "fuel 20000000000 exceeds max_task_fuel 10000000000");
  };
  auto r = h.run({"submit-task", wasm, "--from", "alice", "--reward", "10", "--fuel", "20000000000", "--rpc",
                  node.url(), "--home", home.path.string()});
  BOOST_TEST(r.code == kExitFailure);
  BOOST_TEST(contains(r.err, "bad-fuel"), r.err);
  BOOST_TEST(contains(r.err, "exceeds max_task_fuel 10000000000"), r.err);
}
