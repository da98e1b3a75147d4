#define BOOST_TEST_MODULE jsonrpc_tests
#include <boost/test/unit_test.hpp>

#include <cctype>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/hex.h"
#include "rpc/jsonrpc.h"
#include "rpc/methods.h"
#include "tests/rpc/empty_node.h"

using namespace verity;
using namespace verity::rpc;

namespace {

// A node with nothing in it, whose answers a test can set.
struct FakeNode : EmptyNode {
  NodeStatus st;
  mutable std::optional<std::uint64_t> asked_height;  // the last height block_at was asked for
  Result<Hash256> submit_result = Hash256{};
  std::optional<Error> account_error;

  FakeNode() { st = EmptyNode::status(); }
  NodeStatus status() const override { return st; }
  Result<std::optional<Block>> block_at(std::uint64_t height) const override {
    asked_height = height;
    return std::optional<Block>();
  }
  Result<AccountInfo> account(const PublicKey&) const override {
    if (account_error) return *account_error;
    AccountInfo a;
    a.balance = Amount(1000);
    a.nonce = 2;
    a.next_nonce = 3;
    a.height = st.height;
    return a;
  }
  Result<std::uint64_t> reputation(const PublicKey&) const override { return std::uint64_t{5}; }
  std::vector<ValidatorInfo> vals;
  Result<std::vector<ValidatorInfo>> validators() const override { return vals; }
  Result<std::optional<ValidatorInfo>> validator(const PublicKey& op) const override {
    for (const auto& v : vals)
      if (v.operator_address == op) return std::optional<ValidatorInfo>(v);
    return std::optional<ValidatorInfo>();
  }
  void submit_async(const Transaction& tx, const std::string&, std::function<void(Result<Hash256>)> done) override {
    if (!submit_result) return done(submit_result.error());
    done(tx.id());
  }
  // The history index: what was asked, and a page of one transaction and one block's own events.
  mutable std::string history_asked;
  HistoryInfo history_page() const {
    HistoryInfo h;
    HistoryItemInfo block_events;
    block_events.height = 12;
    block_events.events.push_back({"task_assigned", {{"task", "3"}}});
    HistoryItemInfo tx;
    tx.height = 11;
    tx.index = 2;
    tx.tx_hash = sha256(as_bytes("a tx"));
    tx.type = "submit_task";
    tx.ok = false;
    tx.reason = "bad-fuel";
    h.entries = {block_events, tx};
    h.next_cursor = "11.2";
    return h;
  }
  Result<HistoryInfo> account_history(const PublicKey& a, std::uint64_t before, std::uint64_t limit,
                                      const std::string& cursor) const override {
    history_asked = "account " + a.hex() + " " + std::to_string(before) + " " + std::to_string(limit) + " " + cursor;
    return history_page();
  }
  Result<HistoryInfo> task_history(std::uint64_t id, std::uint64_t before, std::uint64_t limit,
                                   const std::string& cursor) const override {
    history_asked = "task " + std::to_string(id) + " " + std::to_string(before) + " " + std::to_string(limit) + " " + cursor;
    return history_page();
  }
  Result<std::vector<BlockSummaryInfo>> blocks(std::uint64_t before, std::uint64_t limit) const override {
    history_asked = "blocks " + std::to_string(before) + " " + std::to_string(limit);
    BlockSummaryInfo b;
    b.height = 6;
    b.txs = 4;
    b.signers = 3;
    return std::vector<BlockSummaryInfo>{b};
  }
};

const std::string kAlice = SecretKey::derive_insecure("alice").public_key().hex();

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.data(), s.size());
  BOOST_REQUIRE_MESSAGE(!d.HasParseError(), "not JSON: " << s.substr(0, 300));
  return d;
}

// Runs one body through a dispatcher that must answer at once.
struct Env {
  FakeNode node;
  Dispatcher dispatcher;
  explicit Env(std::size_t max_batch = 100) : dispatcher(node_methods(), max_batch) {}
  Env(std::vector<Method> methods, std::size_t max_batch) : dispatcher(std::move(methods), max_batch) {}

  std::string raw(std::string_view body) {
    CallContext ctx{node, nullptr, nullptr};
    std::optional<std::string> answer;
    int calls = 0;
    dispatcher.handle(body, ctx, [&](std::string a) {
      answer = std::move(a);
      ++calls;
    });
    BOOST_REQUIRE_MESSAGE(calls == 1, "done called " << calls << " times");
    return *answer;
  }
  rapidjson::Document call(std::string_view body) { return parse(raw(body)); }
};

int code_of(const rapidjson::Value& response) {
  BOOST_REQUIRE_MESSAGE(response.IsObject() && response.HasMember("error"), "no error in " << json_string(response));
  return response["error"]["code"].GetInt();
}

std::string reason_of(const rapidjson::Value& response) {
  const auto& e = response["error"];
  if (!e.HasMember("data") || !e["data"].HasMember("reason")) return "";
  return e["data"]["reason"].GetString();
}

std::string message_of(const rapidjson::Value& response) { return response["error"]["message"].GetString(); }

void check_envelope(const rapidjson::Value& r) {
  BOOST_REQUIRE(r.IsObject());
  BOOST_TEST(r["jsonrpc"].GetString() == std::string("2.0"));
  BOOST_TEST(r.HasMember("id"));
  BOOST_TEST((r.HasMember("result") != r.HasMember("error")));
}

std::string nested_arrays(std::size_t depth, bool closed = true) {
  return std::string(depth, '[') + (closed ? std::string(depth, ']') : std::string());
}

}  // namespace

// --- parse and request errors ------------------------------------------------------

BOOST_AUTO_TEST_CASE(parse_errors_are_32700_with_a_null_id) {
  Env env;
  for (const char* body : {"", "{", "{\"jsonrpc\":\"2.0\",", "not json", "[1,2", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"} x",
                           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}{}", "[] []", "\"a\" 1"}) {
    BOOST_TEST_CONTEXT("body " << body) {
      auto r = env.call(body);
      check_envelope(r);
      BOOST_TEST(code_of(r) == kParseError);
      BOOST_TEST(r["id"].IsNull());
    }
  }
  // A string that is not UTF-8 is a parse error: an id or a method name is
  // echoed, and the answer would not be JSON (found by the jsonrpc fuzz
  // target: tests/fuzz/regressions/jsonrpc/).
  for (const char* body : {"{\"id\":\"\x8c\"}", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"acc\xffount\"}"}) {
    auto r = env.call(body);
    BOOST_TEST(code_of(r) == kParseError);
  }
  // Whitespace after the value is not garbage.
  auto ok = env.call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}  \r\n\t ");
  BOOST_TEST(ok.HasMember("result"));
}

BOOST_AUTO_TEST_CASE(requests_that_are_not_jsonrpc_2_objects_are_32600) {
  Env env;
  struct Case {
    const char* body;
    bool id_echoed;  // the id is valid, so the answer carries it
  };
  for (const Case& c : std::vector<Case>{
           {"5", false},
           {"\"status\"", false},
           {"null", false},
           {"true", false},
           {"{\"id\":1,\"method\":\"status\"}", true},                     // no jsonrpc
           {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"status\"}", true},  // wrong version
           {"{\"jsonrpc\":2.0,\"id\":1,\"method\":\"status\"}", true},      // a number
           {"{\"jsonrpc\":\"2.0\",\"id\":1}", true},                        // no method
           {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", true},           // method not a string
           {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"status\"}", false},
           {"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"status\"}", false},
           {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"status\"}", false},
       }) {
    BOOST_TEST_CONTEXT("body " << c.body) {
      auto r = env.call(c.body);
      check_envelope(r);
      BOOST_TEST(code_of(r) == kInvalidRequest);
      if (c.id_echoed) {
        BOOST_TEST(r["id"].IsInt());
        BOOST_TEST(r["id"].GetInt() == 1);
      } else {
        BOOST_TEST(r["id"].IsNull());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(ids_of_every_valid_kind_are_echoed) {
  Env env;
  for (const char* id : {"1", "-3", "1.5", "\"abc\"", "\"\"", "null", "18446744073709551615"}) {
    BOOST_TEST_CONTEXT("id " << id) {
      auto r = env.call(std::string("{\"jsonrpc\":\"2.0\",\"id\":") + id + ",\"method\":\"status\"}");
      check_envelope(r);
      BOOST_TEST(r.HasMember("result"));
      BOOST_TEST(json_string(r["id"]) == std::string(id));
    }
  }
}

BOOST_AUTO_TEST_CASE(unknown_methods_are_32601_and_counted) {
  Env env;
  auto r = env.call(R"({"jsonrpc":"2.0","id":"a","method":"no_such_method"})");
  check_envelope(r);
  BOOST_TEST(code_of(r) == kMethodNotFound);
  BOOST_TEST(r["id"].GetString() == std::string("a"));
  BOOST_TEST(message_of(r).find("no_such_method") != std::string::npos);
  // Method names are case-sensitive.
  BOOST_TEST(code_of(env.call(R"({"jsonrpc":"2.0","id":1,"method":"Status"})")) == kMethodNotFound);
  env.call(R"({"jsonrpc":"2.0","id":1,"method":"status"})");
  BOOST_TEST(env.dispatcher.calls().at("(unknown)") == 2u);
  BOOST_TEST(env.dispatcher.calls().at("status") == 1u);
  BOOST_TEST(env.dispatcher.calls().count("no_such_method") == 0u);  // callers cannot grow the map
}

// --- params ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_params_are_32602_and_name_the_parameter) {
  Env env;
  const std::string bad_hex = std::string(64, 'z');
  struct Case {
    std::string params;
    const char* method;
    const char* names;  // what the message must mention
  };
  for (const Case& c : std::vector<Case>{
           {R"({"address":")" + kAlice + R"(","bogus":1})", "account", "bogus"},      // unknown name
           {R"({})", "account", "address"},                                            // missing required
           {R"({"prove":true})", "account", "address"},                                // missing required
           {R"([])", "account", "address"},                                            // missing, positional
           {R"({"address":")" + bad_hex + R"("})", "account", "address"},             // not hex
           {R"({"address":"abcd"})", "account", "address"},                           // wrong length
           {R"({"address":12})", "account", "address"},                               // not a string
           {R"({"address":")" + kAlice + R"(","prove":"yes"})", "account", "prove"},  // not a bool
           {R"({"height":"5"})", "block", "height"},                                  // a string
           {R"({"height":-1})", "block", "height"},                                   // negative
           {R"({"height":1.5})", "block", "height"},                                  // not an integer
           {R"({"height":1,"hash":")" + std::string(64, '0') + R"("})", "block", "height"},  // both
           {R"({"hash":"00"})", "tx", "hash"},
           {R"([")" + kAlice + R"(",true,3])", "account", "3"},  // too many positional
           {R"([1])", "status", "0"},                            // status takes none
           {R"({"tx":5})", "send_tx", "tx"},
           {R"({"tx":"zz"})", "send_tx", "tx"},
           {R"({"tx":{}})", "send_tx", "tx"},
           {R"({"id":0})", "task", "id"},  // the schema's minimum
           {R"({})", "history", "address or task"},                                 // neither
           {R"({"address":")" + kAlice + R"(","task":1})", "history", "address or task"},  // both
           {R"({"task":0})", "history", "task"},
           {R"({"task":1,"limit":0})", "history", "limit"},
           {R"({"task":1,"limit":101})", "history", "limit"},
           {R"({"task":1,"cursor":5})", "history", "cursor"},
           {R"({"address":"ab"})", "history", "address"},
           {R"({})", "worker_history", "address"},
           {R"({"limit":101})", "blocks", "limit"},
           {R"({"before":-1})", "blocks", "before"},
       }) {
    BOOST_TEST_CONTEXT(c.method << " " << c.params) {
      auto r = env.call(std::string(R"({"jsonrpc":"2.0","id":9,"method":")") + c.method + R"(","params":)" +
                        c.params + "}");
      check_envelope(r);
      BOOST_TEST(code_of(r) == kInvalidParams);
      BOOST_TEST(reason_of(r) == "invalid-params");
      BOOST_TEST(r["id"].GetInt() == 9);
      BOOST_TEST(message_of(r).find(c.names) != std::string::npos, "message: " << message_of(r));
    }
  }
  // The same parameter twice (JSON allows duplicate names; we do not).
  auto twice = env.call(R"({"jsonrpc":"2.0","id":1,"method":"block","params":{"height":1,"height":2}})");
  BOOST_TEST(code_of(twice) == kInvalidParams);
}

// JSON-RPC 2.0, 4.2: "params", if present, is a structured value; null is
// not one. Leave it out for none.
BOOST_AUTO_TEST_CASE(params_that_are_not_structured_are_32602) {
  Env env;
  for (const char* params : {"null", "5", "\"x\"", "true"}) {
    BOOST_TEST_CONTEXT("params " << params) {
      auto r = env.call(std::string(R"({"jsonrpc":"2.0","id":1,"method":"status","params":)") + params + "}");
      check_envelope(r);
      BOOST_TEST(code_of(r) == kInvalidParams);
      BOOST_TEST(reason_of(r) == "invalid-params");
      BOOST_TEST(r["id"].GetInt() == 1);
      BOOST_TEST(message_of(r).find("\"params\" must be an object or an array") != std::string::npos, message_of(r));
    }
  }
}

BOOST_AUTO_TEST_CASE(params_absent_or_empty_mean_none) {
  Env env;
  for (const char* body : {R"({"jsonrpc":"2.0","id":1,"method":"status"})",
                           R"({"jsonrpc":"2.0","id":1,"method":"status","params":{}})",
                           R"({"jsonrpc":"2.0","id":1,"method":"status","params":[]})"}) {
    auto r = env.call(body);
    BOOST_REQUIRE_MESSAGE(r.HasMember("result"), body);
    BOOST_TEST(r["result"]["chain_id"].GetString() == std::string("verity-test-1"));
    BOOST_TEST(r["result"]["height"].GetUint64() == 7u);
  }
}

// A schema's "minimum" and "maximum" of an integer parameter are
// enforced for every method, before its handler runs.
BOOST_AUTO_TEST_CASE(integer_bounds_of_the_schema_are_enforced) {
  std::vector<Method> table;
  int handled = 0;
  table.push_back({"pick", "", "",
                   {{"n", R"({"type":"integer","minimum":1,"maximum":5})", true, ""},
                    {"low", R"({"type":"integer","minimum":-2})", false, ""},
                    {"high", R"({"type":"integer","maximum":10})", false, ""}},
                   R"({})", false, sync_handler([&](const rapidjson::Value&, CallContext&) -> JsonResult {
                     ++handled;
                     rapidjson::Document d;
                     d.SetBool(true);
                     return d;
                   })});
  Env env(std::move(table), 10);
  const auto call = [&](const std::string& params) {
    return env.call(R"({"jsonrpc":"2.0","id":1,"method":"pick","params":)" + params + "}");
  };
  for (const char* ok : {R"({"n":1})", R"({"n":5})", R"([3,-2,10])", R"({"n":"x"})", R"({"n":2.5})"})
    BOOST_TEST(call(ok).HasMember("result"), ok);  // not integers: the handler's to judge
  BOOST_TEST(handled == 5);
  struct Case {
    const char* params;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{{R"({"n":0})", "n: must be from 1 to 5"},
                                         {R"({"n":6})", "n: must be from 1 to 5"},
                                         {R"({"n":-9223372036854775808})", "n: must be from 1 to 5"},
                                         {R"({"n":18446744073709551615})", "n: must be from 1 to 5"},
                                         {R"([1,-3])", "low: must be at least -2"},
                                         {R"({"n":1,"high":11})", "high: must be at most 10"}}) {
    BOOST_TEST_CONTEXT(c.params) {
      auto r = call(c.params);
      BOOST_TEST(code_of(r) == kInvalidParams);
      BOOST_TEST(reason_of(r) == "invalid-params");
      BOOST_TEST(message_of(r).find(c.message) != std::string::npos, message_of(r));
    }
  }
  BOOST_TEST(handled == 5);

  // On the node's table: task ids start at 1, tasks' limit is 1 to 100,
  // send_tx_commit waits 1 to 120000 ms.
  Env node_env;
  for (const std::string& body :
       {std::string(R"({"jsonrpc":"2.0","id":1,"method":"task","params":{"id":0}})"),
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"task","params":[0]})"),
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"tasks","params":{"limit":0}})"),
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"tasks","params":{"limit":101}})"),
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"send_tx_commit","params":{"tx":"00","timeout_ms":0}})")}) {
    auto r = node_env.call(body);
    BOOST_TEST(code_of(r) == kInvalidParams, body);
  }
  BOOST_TEST(code_of(node_env.call(R"({"jsonrpc":"2.0","id":1,"method":"task","params":{"id":1}})")) == kNotFound);
  BOOST_TEST(node_env.call(R"({"jsonrpc":"2.0","id":1,"method":"tasks","params":{"limit":100}})").HasMember("result"));
}

// Hex is read in either case and written lower-case, and the schemas say so.
BOOST_AUTO_TEST_CASE(hex_is_read_in_either_case_as_the_schemas_say) {
  std::string upper = kAlice;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_REQUIRE(upper != kAlice);
  Env env;
  auto r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"account","params":{"address":")" + upper + R"("}})");
  BOOST_REQUIRE_MESSAGE(r.HasMember("result"), json_string(r));
  BOOST_TEST(r["result"]["address"].GetString() == kAlice);  // answered lower-case
  std::string mixed = upper.substr(0, 32) + kAlice.substr(32);
  BOOST_TEST(env.call(R"({"jsonrpc":"2.0","id":1,"method":"reputation","params":[")" + mixed + R"("]})")
                 .HasMember("result"));
  // Every hex pattern of the schemas admits what the methods read.
  for (const auto& [name, text] : schema_components()) {
    for (std::size_t at = text.find("\"pattern\":\""); at != std::string::npos;
         at = text.find("\"pattern\":\"", at + 1)) {
      const std::size_t start = at + 11;
      const std::string pattern = text.substr(start, text.find('"', start) - start);
      if (pattern.find("a-f") == std::string::npos) continue;  // not hex
      BOOST_TEST_CONTEXT(name << " " << pattern) {
        const std::regex re(pattern);
        const std::string sample_upper = name == "Hex" ? upper : pattern.find("{128}") != std::string::npos
                                                                     ? upper + upper
                                                                     : upper;
        BOOST_TEST(std::regex_match(sample_upper, re));
        std::string lower_sample = sample_upper;
        for (char& c : lower_sample) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        BOOST_TEST(std::regex_match(lower_sample, re));
        BOOST_TEST(!std::regex_match(std::string(sample_upper.size(), 'g'), re));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(positional_params_map_to_names_in_order) {
  // A table whose handler echoes the params object it receives.
  std::vector<Method> table;
  table.push_back({"echo", "", "", {{"a", R"({})", true, ""}, {"b", R"({})", false, ""}, {"c", R"({})", false, ""}},
                   R"({})", false, sync_handler([](const rapidjson::Value& params, CallContext&) -> JsonResult {
                     rapidjson::Document d;
                     d.CopyFrom(params, d.GetAllocator());
                     return d;
                   })});
  Env env(std::move(table), 10);
  auto r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[1,"two",[3]]})");
  BOOST_TEST(json_string(r["result"]) == R"({"a":1,"b":"two","c":[3]})");
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[1]})");
  BOOST_TEST(json_string(r["result"]) == R"({"a":1})");
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"c":3,"a":1}})");
  BOOST_TEST(json_string(r["result"]) == R"({"c":3,"a":1})");
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[1,2,3,4]})");
  BOOST_TEST(code_of(r) == kInvalidParams);
  BOOST_TEST(message_of(r).find("at most 3") != std::string::npos);
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"b":2}})");
  BOOST_TEST(code_of(r) == kInvalidParams);
  BOOST_TEST(message_of(r).find("'a'") != std::string::npos);

  // And on the node's table: block [height] reaches the node as that height.
  Env node_env;
  auto b = node_env.call(R"({"jsonrpc":"2.0","id":1,"method":"block","params":[5]})");
  BOOST_TEST(code_of(b) == kNotFound);
  BOOST_REQUIRE(node_env.node.asked_height.has_value());
  BOOST_TEST(*node_env.node.asked_height == 5u);
  auto a = node_env.call(R"({"jsonrpc":"2.0","id":1,"method":"account","params":[")" + kAlice + R"("]})");
  BOOST_REQUIRE(a.HasMember("result"));
  BOOST_TEST(a["result"]["address"].GetString() == kAlice);
  BOOST_TEST(a["result"]["balance"].GetString() == std::string("1000"));
  BOOST_TEST(a["result"]["next_nonce"].GetUint64() == 3u);
}

// --- notifications and batches -------------------------------------------------------

BOOST_AUTO_TEST_CASE(notifications_get_no_response) {
  Env env;
  BOOST_TEST(env.raw(R"({"jsonrpc":"2.0","method":"status"})") == "");
  // Even when they fail: the caller asked not to hear back.
  BOOST_TEST(env.raw(R"({"jsonrpc":"2.0","method":"no_such_method"})") == "");
  BOOST_TEST(env.raw(R"({"jsonrpc":"2.0","method":"account","params":{"address":"x"}})") == "");
  BOOST_TEST(env.raw(R"({"jsonrpc":"2.0","method":"account","params":{}})") == "");
  // A notification still runs the method.
  env.raw(R"({"jsonrpc":"2.0","method":"block","params":{"height":4}})");
  BOOST_REQUIRE(env.node.asked_height.has_value());
  BOOST_TEST(*env.node.asked_height == 4u);
  // A batch of notifications only: nothing at all.
  BOOST_TEST(env.raw(R"([{"jsonrpc":"2.0","method":"status"},{"jsonrpc":"2.0","method":"nope"}])") == "");
  // An explicit null id is a call, not a notification.
  auto r = env.call(R"({"jsonrpc":"2.0","id":null,"method":"status"})");
  BOOST_TEST(r.HasMember("result"));
}

BOOST_AUTO_TEST_CASE(a_mixed_batch_answers_in_order_with_ids) {
  Env env;
  const std::string body = std::string("[") +
                           R"({"jsonrpc":"2.0","id":1,"method":"status"},)"                 // ok
                           R"({"jsonrpc":"1.0","id":2,"method":"status"},)"                 // invalid request
                           R"({"jsonrpc":"2.0","method":"status"},)"                        // notification
                           R"({"jsonrpc":"2.0","id":"x","method":"nope"},)"                 // not found
                           R"(5,)"                                                          // not an object
                           R"({"jsonrpc":"2.0","id":3,"method":"account","params":{}},)"    // invalid params
                           R"({"jsonrpc":"2.0","id":4,"method":"tx","params":{"hash":")" +  // not found (app)
                           std::string(64, 'a') + R"("}},)"
                           R"({"jsonrpc":"2.0","id":5,"method":"reputation","params":[")" + kAlice + R"("]})"  // ok
                           "]";
  auto r = env.call(body);
  BOOST_REQUIRE(r.IsArray());
  BOOST_REQUIRE_EQUAL(r.Size(), 7u);
  for (auto& a : r.GetArray()) check_envelope(a);
  BOOST_TEST(r[0]["id"].GetInt() == 1);
  BOOST_TEST(r[0]["result"]["height"].GetUint64() == 7u);
  BOOST_TEST(r[1]["id"].GetInt() == 2);
  BOOST_TEST(code_of(r[1]) == kInvalidRequest);
  BOOST_TEST(r[2]["id"].GetString() == std::string("x"));
  BOOST_TEST(code_of(r[2]) == kMethodNotFound);
  BOOST_TEST(r[3]["id"].IsNull());
  BOOST_TEST(code_of(r[3]) == kInvalidRequest);
  BOOST_TEST(r[4]["id"].GetInt() == 3);
  BOOST_TEST(code_of(r[4]) == kInvalidParams);
  BOOST_TEST(r[5]["id"].GetInt() == 4);
  BOOST_TEST(code_of(r[5]) == kNotFound);
  BOOST_TEST(r[6]["id"].GetInt() == 5);
  BOOST_TEST(r[6]["result"]["reputation"].GetUint64() == 5u);
}

BOOST_AUTO_TEST_CASE(empty_and_oversized_batches_are_one_32600) {
  Env env(3);
  auto empty = env.call("[]");
  BOOST_REQUIRE(empty.IsObject());
  BOOST_TEST(code_of(empty) == kInvalidRequest);
  BOOST_TEST(empty["id"].IsNull());

  const std::string call = R"({"jsonrpc":"2.0","id":1,"method":"status"})";
  auto three = env.call("[" + call + "," + call + "," + call + "]");
  BOOST_REQUIRE(three.IsArray());
  BOOST_TEST(three.Size() == 3u);
  auto four = env.call("[" + call + "," + call + "," + call + "," + call + "]");
  BOOST_REQUIRE(four.IsObject());
  BOOST_TEST(code_of(four) == kInvalidRequest);
  BOOST_TEST(message_of(four).find("maximum of 3") != std::string::npos);
  // Nothing in an oversized batch ran.
  BOOST_TEST(env.dispatcher.calls().at("status") == 3u);
}

BOOST_AUTO_TEST_CASE(deeply_nested_bodies_do_not_crash) {
  Env env;
  constexpr std::size_t kDepth = 100'000;
  std::string objects;
  for (std::size_t i = 0; i < kDepth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(kDepth, '}');

  // Unclosed: a parse error (the parser is iterative).
  BOOST_TEST(code_of(env.call(nested_arrays(kDepth, false))) == kParseError);

  // Deep bodies, and deep values inside a call (a named and a positional
  // parameter, in a single call and in a batch, an id, a transaction field):
  // refused with one -32600, and nothing recurses on them. Without the depth
  // limit, copying the parameter overflowed the stack.
  for (const std::string& body : {
           nested_arrays(kDepth),
           objects,
           R"({"jsonrpc":"2.0","id":1,"method":"block","params":{"height":)" + nested_arrays(kDepth) + "}}",
           R"({"jsonrpc":"2.0","id":1,"method":"block","params":[)" + nested_arrays(kDepth) + "]}",
           R"([{"jsonrpc":"2.0","id":1,"method":"block","params":[)" + nested_arrays(kDepth) + "]}]",
           R"({"jsonrpc":"2.0","method":"block","params":[)" + nested_arrays(kDepth) + "]}",
           R"({"jsonrpc":"2.0","id":1,"method":"status","params":{"x":)" + nested_arrays(kDepth) + "}}",
           R"({"jsonrpc":"2.0","id":)" + nested_arrays(kDepth) + R"(,"method":"status"})",
           R"({"jsonrpc":"2.0","id":1,"method":"send_tx","params":{"tx":{"chain_id":)" + objects + "}}}",
       }) {
    BOOST_TEST_CONTEXT("body " << body.substr(0, 70)) {
      auto r = env.call(body);
      BOOST_REQUIRE(r.IsObject());
      BOOST_TEST(code_of(r) == kInvalidRequest);
      BOOST_TEST(r["id"].IsNull());
      BOOST_TEST(message_of(r).find("nested deeper than") != std::string::npos);
    }
  }
  BOOST_TEST(env.node.asked_height.has_value() == false);

  // The limit itself: a body exactly kMaxJsonDepth deep is served.
  // {"params":{"height":[...]}} is 3 levels with one array, so the array
  // nesting can take the rest.
  const auto at_depth = [](std::size_t depth) {
    return R"({"jsonrpc":"2.0","id":1,"method":"block","params":{"height":)" + nested_arrays(depth - 2) + "}}";
  };
  auto at_limit = env.call(at_depth(kMaxJsonDepth));
  BOOST_TEST(code_of(at_limit) == kInvalidParams);  // served: the height is not a number
  auto over = env.call(at_depth(kMaxJsonDepth + 1));
  BOOST_TEST(code_of(over) == kInvalidRequest);
}

// --- application errors ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(application_errors_carry_data_reason) {
  Env env;
  // not found
  auto r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"tx","params":{"hash":")" + std::string(64, 'a') + R"("}})");
  BOOST_TEST(code_of(r) == kNotFound);
  BOOST_TEST(reason_of(r) == "not-found");
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"block","params":{"height":0}})");
  BOOST_TEST(code_of(r) == kNotFound);
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"validator","params":{"address":")" + kAlice + R"("}})");
  BOOST_TEST(code_of(r) == kNotFound);
  BOOST_TEST(reason_of(r) == "not-found");

  // A submit the node refuses: -32002 with the mempool's reason.
  Transaction tx;
  tx.chain_id = "verity-test-1";
  tx.nonce = 0;
  tx.fee = Amount(1);
  tx.payload = Transfer{SecretKey::derive_insecure("bob").public_key(), Amount(5)};
  tx.sign(SecretKey::derive_insecure("alice"));
  rapidjson::Document scratch;
  const std::string tx_json = json_string(to_json(tx, scratch.GetAllocator()));
  env.node.submit_result = make_error("nonce-too-low", "nonce 0 is used; the next is 3");
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx","params":{"tx":)" + tx_json + "}}");
  BOOST_TEST(code_of(r) == kRejected);
  BOOST_TEST(reason_of(r) == "nonce-too-low");
  BOOST_TEST(r["error"]["data"]["detail"].GetString() == std::string("nonce 0 is used; the next is 3"));
  BOOST_TEST(message_of(r).find("nonce-too-low") != std::string::npos);
  // The hex form of the same transaction is refused the same way.
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx","params":[")" + to_hex(encode(tx)) + R"("]})");
  BOOST_TEST(code_of(r) == kRejected);
  BOOST_TEST(reason_of(r) == "nonce-too-low");
  // A transaction object with a field it does not have is refused, never
  // ignored, and the message names the field: in the transaction, and in
  // its payload.
  env.node.submit_result = Hash256{};
  {
    auto extra = parse(tx_json);
    extra.AddMember("memo", "hi", extra.GetAllocator());
    r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx","params":{"tx":)" + json_string(extra) + "}}");
    BOOST_TEST(code_of(r) == kInvalidParams);
    BOOST_TEST(message_of(r).find("tx.memo") != std::string::npos, message_of(r));
    auto typo = parse(tx_json);
    typo["payload"].AddMember("amuont", "5", typo.GetAllocator());
    r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx","params":{"tx":)" + json_string(typo) + "}}");
    BOOST_TEST(code_of(r) == kInvalidParams);
    BOOST_TEST(message_of(r).find("tx.payload.amuont") != std::string::npos, message_of(r));
  }
  // Hex that is not a transaction's encoding: the reason the mempool gives
  // such bytes, in data.reason.
  for (const std::string& hex : {std::string("00"), to_hex(encode(tx)) + "00", to_hex(encode(tx)).substr(0, 20)}) {
    r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx","params":{"tx":")" + hex + R"("}})");
    BOOST_TEST(code_of(r) == kRejected, hex);
    BOOST_TEST(reason_of(r) == "malformed-tx", hex);
  }
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx","params":{"tx":")" +
               std::string(2 * (kMaxTransactionBytes + 1), '0') + R"("}})");
  BOOST_TEST(reason_of(r) == "tx-too-large");
  // Admitted: the hash.
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx","params":{"tx":)" + tx_json + "}}");
  BOOST_REQUIRE(r.HasMember("result"));
  BOOST_TEST(r["result"]["hash"].GetString() == tx.id().hex());

  // A local fault: -32603, still with its reason.
  env.node.account_error = local_error("storage-failed", "leveldb: IO error");
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"account","params":{"address":")" + kAlice + R"("}})");
  BOOST_TEST(code_of(r) == kInternalError);
  BOOST_TEST(reason_of(r) == "storage-failed");
  // A local fault whose reason happens to be a known one is still internal.
  env.node.account_error = local_error("not-found", "the state is missing");
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"account","params":{"address":")" + kAlice + R"("}})");
  BOOST_TEST(code_of(r) == kInternalError);

  // Without a waiter registry (not a server), send_tx_commit is unavailable.
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx_commit","params":{"tx":)" + tx_json + "}}");
  BOOST_TEST(code_of(r) == kUnavailable);
  // Out-of-range timeouts are invalid params.
  for (const char* t : {"0", "120001", "\"5\"", "-1"}) {
    r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"send_tx_commit","params":{"tx":)" + tx_json +
                 R"(,"timeout_ms":)" + t + "}}");
    BOOST_TEST(code_of(r) == kInvalidParams, "timeout_ms " << t);
  }
}

// Every validator says why it has its power: a jailed one with the height
// unjail is allowed from, one below the minimum with what it lacks (an
// Amount, so a decimal string), in `validators` and `validator` alike.
BOOST_AUTO_TEST_CASE(validators_say_why_each_has_its_power) {
  Env env;
  ValidatorInfo jailed;
  jailed.operator_address = SecretKey::derive_insecure("alice").public_key();
  jailed.name = "lazy";
  jailed.tokens = Amount(60);
  jailed.jailed = true;
  jailed.jailed_until = 1234;
  jailed.status = "jailed";
  jailed.detail = "jailed for downtime until height 1234";
  jailed.missing_stake = Amount(40);
  jailed.next_epoch_boundary = 1300;
  jailed.unjail_refusal = "still-jailed";
  ValidatorInfo active;
  active.operator_address = SecretKey::derive_insecure("bob").public_key();
  active.in_set = true;
  active.power = 1000;
  active.status = "active";
  env.node.vals = {active, jailed};

  auto r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"validators"})");
  BOOST_REQUIRE(r.HasMember("result"));
  const auto& list = r["result"]["validators"];
  BOOST_REQUIRE_EQUAL(list.Size(), 2u);
  BOOST_TEST(list[0]["status"].GetString() == std::string("active"));
  BOOST_TEST(list[0]["unjail_refusal"].GetString() == std::string(""));
  BOOST_TEST(list[0]["missing_stake"].GetString() == std::string("0"));
  const auto& j = list[1];
  BOOST_TEST(j["status"].GetString() == std::string("jailed"));
  BOOST_TEST(j["jailed_until"].GetUint64() == 1234u);
  BOOST_TEST(j["detail"].GetString() == std::string("jailed for downtime until height 1234"));
  BOOST_TEST(j["missing_stake"].GetString() == std::string("40"));
  BOOST_TEST(j["next_epoch_boundary"].GetUint64() == 1300u);
  BOOST_TEST(j["unjail_refusal"].GetString() == std::string("still-jailed"));

  auto one = env.call(R"({"jsonrpc":"2.0","id":1,"method":"validator","params":{"address":")" + kAlice + R"("}})");
  BOOST_REQUIRE(one.HasMember("result"));
  BOOST_TEST(json_string(one["result"]) == json_string(j));

  // The schema documents every field the answer has, and the status values.
  rapidjson::Document schema;
  for (const auto& [name, text] : schema_components())
    if (name == "Validator") schema = parse(text);
  BOOST_REQUIRE(schema.IsObject());
  for (auto it = j.MemberBegin(); it != j.MemberEnd(); ++it)
    BOOST_TEST(schema["properties"].HasMember(it->name.GetString()), it->name.GetString());
  std::set<std::string> statuses;
  for (const auto& e : schema["properties"]["status"]["enum"].GetArray()) statuses.insert(e.GetString());
  BOOST_TEST((statuses == std::set<std::string>{"active", "waiting", "not-selected", "jailed", "banned", "below-min-stake"}));
}

BOOST_AUTO_TEST_CASE(websocket_only_methods_are_refused_elsewhere) {
  Env env;
  auto r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"blocks"}})");
  BOOST_TEST(code_of(r) == kUnavailable);
  BOOST_TEST(reason_of(r) == "websocket-only");
  r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"unsubscribe","params":{"subscription":"1"}})");
  BOOST_TEST(code_of(r) == kUnavailable);
  BOOST_TEST(reason_of(r) == "websocket-only");
}

BOOST_AUTO_TEST_CASE(error_codes_follow_reasons) {
  BOOST_TEST(error_code(make_error("invalid-params")) == kInvalidParams);
  BOOST_TEST(error_code(make_error("not-found")) == kNotFound);
  BOOST_TEST(error_code(make_error("timeout")) == kTimeout);
  BOOST_TEST(error_code(make_error("shutting-down")) == kUnavailable);
  BOOST_TEST(error_code(make_error("too-many-waiters")) == kUnavailable);
  BOOST_TEST(error_code(make_error("websocket-only")) == kUnavailable);
  BOOST_TEST(error_code(make_error("too-many-subscriptions")) == kUnavailable);
  for (const char* r : {"nonce-too-low", "nonce-gap", "insufficient-funds", "bad-signature", "wrong-chain-id",
                        "fee-too-low", "mempool-full", "tx-known", "anything-else"})
    BOOST_TEST(error_code(make_error(r)) == kRejected, r);
  for (const char* r : {"not-found", "timeout", "invalid-params", "shutting-down", "io"})
    BOOST_TEST(error_code(local_error(r)) == kInternalError, r);
}

BOOST_AUTO_TEST_CASE(error_bodies_have_the_documented_shape) {
  auto d = parse(error_body(kUnavailable, "busy", "too-many-connections"));
  check_envelope(d);
  BOOST_TEST(d["id"].IsNull());
  BOOST_TEST(code_of(d) == kUnavailable);
  BOOST_TEST(reason_of(d) == "too-many-connections");
  auto plain = parse(error_body(kParseError, "bad"));
  BOOST_TEST(!plain["error"].HasMember("data"));
}

// --- self-description ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_schema_in_the_table_is_json) {
  for (const auto& m : node_methods()) {
    BOOST_TEST_CONTEXT("method " << m.name) {
      rapidjson::Document d;
      d.Parse(m.result_schema.data(), m.result_schema.size());
      BOOST_TEST(!d.HasParseError(), "result schema: " << m.result_schema);
      BOOST_TEST(d.IsObject());
      for (const auto& p : m.params) {
        rapidjson::Document pd;
        pd.Parse(p.schema.data(), p.schema.size());
        BOOST_TEST(!pd.HasParseError(), p.name << ": " << p.schema);
        BOOST_TEST(pd.IsObject());
      }
      BOOST_TEST(!m.summary.empty());
      BOOST_TEST(static_cast<bool>(m.handler));
    }
  }
  for (const auto& [name, text] : schema_components()) {
    rapidjson::Document d;
    d.Parse(text.data(), text.size());
    BOOST_TEST(!d.HasParseError(), name << ": " << text);
  }
}

BOOST_AUTO_TEST_CASE(rpc_discover_lists_every_method_with_schemas) {
  Env env;
  auto r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"rpc.discover"})");
  BOOST_REQUIRE(r.HasMember("result"));
  const auto& doc = r["result"];
  BOOST_TEST(doc["openrpc"].GetString() == std::string("1.2.6"));
  BOOST_REQUIRE(doc["methods"].IsArray());
  std::set<std::string> refs_used;
  std::set<std::string> listed;
  for (const auto& m : doc["methods"].GetArray()) listed.insert(m["name"].GetString());
  BOOST_TEST(listed.size() == node_methods().size());
  for (const auto& m : node_methods()) {
    BOOST_TEST_CONTEXT("method " << m.name) {
      const rapidjson::Value* found = nullptr;
      for (const auto& x : doc["methods"].GetArray())
        if (x["name"].GetString() == m.name) found = &x;
      BOOST_REQUIRE(found);
      BOOST_TEST((*found)["summary"].GetString() == m.summary);
      BOOST_REQUIRE((*found)["params"].IsArray());
      BOOST_REQUIRE_EQUAL((*found)["params"].Size(), m.params.size());
      for (rapidjson::SizeType i = 0; i < m.params.size(); ++i) {
        const auto& p = (*found)["params"][i];
        BOOST_TEST(p["name"].GetString() == m.params[i].name);
        BOOST_TEST(p["required"].GetBool() == m.params[i].required);
        BOOST_REQUIRE(p["schema"].IsObject());
        BOOST_TEST(json_string(p["schema"]) == json_string(parse(m.params[i].schema)));
      }
      BOOST_REQUIRE((*found)["result"].IsObject());
      BOOST_REQUIRE((*found)["result"]["schema"].IsObject());
      BOOST_TEST(json_string((*found)["result"]["schema"]) == json_string(parse(m.result_schema)));
    }
  }
  // Every $ref points at a component that exists.
  BOOST_REQUIRE(doc["components"]["schemas"].IsObject());
  const std::string text = json_string(doc);
  const std::string prefix = "#/components/schemas/";
  for (std::size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    const std::size_t start = at + prefix.size();
    const std::string name = text.substr(start, text.find('"', start) - start);
    BOOST_TEST(doc["components"]["schemas"].HasMember(name.c_str()), "missing component " << name);
  }
}

// history, blocks: the parameters reach the node (limit 20 by default), and
// the page is written as the schema says: a block's own events with a null
// index and tx_hash, a transaction with its type and receipt figures.
BOOST_AUTO_TEST_CASE(history_and_blocks_pass_their_page_through) {
  Env env;
  auto r = env.call(R"({"jsonrpc":"2.0","id":1,"method":"history","params":{"task":3,"before":40,"limit":5,"cursor":"12.7"}})");
  BOOST_REQUIRE_MESSAGE(r.HasMember("result"), json_string(r));
  BOOST_TEST(env.node.history_asked == "task 3 40 5 12.7");
  const auto& entries = r["result"]["entries"];
  BOOST_REQUIRE_EQUAL(entries.Size(), 2u);
  BOOST_TEST(entries[0]["height"].GetUint64() == 12u);
  BOOST_TEST(entries[0]["index"].IsNull());
  BOOST_TEST(entries[0]["tx_hash"].IsNull());
  BOOST_TEST(entries[0]["events"][0]["kind"].GetString() == std::string("task_assigned"));
  BOOST_TEST(entries[0]["events"][0]["attributes"]["task"].GetString() == std::string("3"));
  BOOST_TEST(entries[1]["index"].GetUint64() == 2u);
  BOOST_TEST(entries[1]["tx_hash"].GetString() == sha256(as_bytes("a tx")).hex());
  BOOST_TEST(entries[1]["type"].GetString() == std::string("submit_task"));
  BOOST_TEST(!entries[1]["ok"].GetBool());
  BOOST_TEST(entries[1]["reason"].GetString() == std::string("bad-fuel"));
  BOOST_TEST(r["result"]["next_cursor"].GetString() == std::string("11.2"));

  env.call(R"({"jsonrpc":"2.0","id":1,"method":"history","params":{"address":")" + kAlice + R"("}})");
  BOOST_TEST(env.node.history_asked == "account " + kAlice + " 0 20 ");
  auto b = env.call(R"({"jsonrpc":"2.0","id":1,"method":"blocks","params":[10, 3]})");
  BOOST_REQUIRE_MESSAGE(b.HasMember("result"), json_string(b));
  BOOST_TEST(env.node.history_asked == "blocks 10 3");
  BOOST_TEST(b["result"]["blocks"][0]["height"].GetUint64() == 6u);
  BOOST_TEST(b["result"]["blocks"][0]["signers"].GetUint64() == 3u);
  auto w = env.call(R"({"jsonrpc":"2.0","id":1,"method":"worker_history","params":{"address":")" + kAlice + R"("}})");
  BOOST_REQUIRE_MESSAGE(w.HasMember("result"), json_string(w));
  BOOST_TEST(w["result"]["address"].GetString() == kAlice);
  BOOST_TEST(w["result"]["points"].Size() == 0u);
}
