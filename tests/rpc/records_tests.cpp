#define BOOST_TEST_MODULE records_tests
#include <boost/test/unit_test.hpp>

#include "rpc/record_schema.h"
#include "rpc/records.h"

using namespace verity;
using namespace verity::rpc;

namespace {

TaskInfo sample_task() {
  TaskInfo t;
  t.id = 7;
  t.submitter = SecretKey::derive_insecure("alice").public_key();
  t.module_hash = sha256(Bytes{1, 2, 3});
  t.input = Bytes{0xab, 0xcd};
  t.replicas = 3;
  t.reward = Amount(10);
  t.fuel = 1000;
  t.commit_blocks = 20;
  t.reveal_blocks = 21;
  t.submitted_height = 4;
  t.metering_version = 1;
  t.metered_hash = sha256(Bytes{4});
  t.status = "settled";
  t.retry_reason = "no-majority";
  RoundInfo r{"audit", t.submitter, Amount(30), 9, 10, 30, 51, {}};
  r.assignments.push_back({SecretKey::derive_insecure("w1").public_key(), true, false, 0, 0, 0, Hash256{}});
  t.round = r;
  t.result = TaskResultInfo{sha256(Bytes{5}), 2, 1, 999, Bytes{0x68, 0x69}, 8, 108,
                            {SecretKey::derive_insecure("w2").public_key()}};
  t.audits = 1;
  return t;
}

std::string json_of(const rapidjson::Value& v) { return json_string(v); }

template <class T>
std::string to_text(const T& v) {
  rapidjson::Document d;
  static_cast<rapidjson::Value&>(d) = record_to_json(v, d.GetAllocator());
  return json_of(d);
}

template <class T>
Result<T> decode(const std::string& text, const char* method = "task") {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  BOOST_REQUIRE(!d.HasParseError());
  return record_from_json<T>(d, method);
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, from);
  return s.replace(at, from.size(), to);
}

}  // namespace

// The wire form the `task` method has always served (docs/rpc.md): field
// order, integers as numbers, amounts as decimal strings, bytes as hex,
// absent optionals as null.
BOOST_AUTO_TEST_CASE(a_task_is_written_in_its_documented_form) {
  TaskInfo t = sample_task();
  t.round.reset();
  t.result.reset();
  const std::string k = t.submitter.hex();
  BOOST_TEST(to_text(t) ==
             "{\"id\":7,\"submitter\":\"" + k + "\",\"module_hash\":\"" + t.module_hash.hex() +
                 "\",\"input\":\"abcd\",\"replicas\":3,\"reward\":\"10\",\"fuel\":1000,\"commit_blocks\":20,"
                 "\"reveal_blocks\":21,\"submitted_height\":4,\"metering_version\":1,\"metered_hash\":\"" +
                 t.metered_hash.hex() +
                 "\",\"status\":\"settled\",\"failure\":\"\",\"retry_reason\":\"no-majority\",\"round\":null,"
                 "\"result\":null,\"audits\":1}");
  WorkerInfo w{SecretKey::derive_insecure("w1").public_key(), Amount(1000), true, Amount(5), 12, 990000, 3, 1, 2, 4};
  BOOST_TEST(to_text(w) == "{\"key\":\"" + w.key.hex() +
                              "\",\"stake\":\"1000\",\"active\":true,\"unbonding\":\"5\",\"unbonding_until\":12,"
                              "\"reputation\":990000,\"agreed\":3,\"outvoted\":1,\"missed\":2,\"slashes\":4}");
}

BOOST_AUTO_TEST_CASE(what_is_written_reads_back) {
  const TaskInfo t = sample_task();
  auto back = decode<TaskInfo>(to_text(t));
  BOOST_REQUIRE(back);
  BOOST_TEST((*back == t));
  const std::vector<TaskInfo> list{t, TaskInfo{}};
  auto many = decode<std::vector<TaskInfo>>(to_text(list), "tasks");
  BOOST_REQUIRE(many);
  BOOST_TEST((*many == list));
}

BOOST_AUTO_TEST_CASE(a_missing_or_mistyped_field_names_the_method_and_the_path) {
  const std::string good = to_text(sample_task());
  struct Case {
    std::string from, to, detail;
  };
  for (const Case& c : {
           Case{"\"fuel\":1000,", "", "the node's task answer: `fuel` is missing"},
           Case{"\"fuel\":1000", "\"fuel\":\"1000\"", "the node's task answer: `fuel` is not an unsigned integer"},
           Case{"\"reward\":\"10\"", "\"reward\":10", "the node's task answer: `reward` is not an amount (a decimal string)"},
           Case{"\"input\":\"abcd\"", "\"input\":\"xyz\"", "the node's task answer: `input` is not a hex string"},
           Case{"\"committed\":true", "\"committed\":1",
                "the node's task answer: `round.assignments[0].committed` is not a boolean"},
           Case{"\"majority\":[\"", "\"majority\":[\"00", "the node's task answer: `result.majority[0]` is not 64 hex digits"},
           Case{"\"round\":{", "\"round\":[{", "the node's task answer: `round` is not an object"},
       }) {
    std::string text = replace(good, c.from, c.to);
    if (c.from == "\"round\":{") text = replace(text, "]},\"result\"", "]}],\"result\"");
    auto r = decode<TaskInfo>(text);
    BOOST_REQUIRE_MESSAGE(!r, c.detail);
    BOOST_TEST(r.error().reason == "rpc-bad-response");
    BOOST_TEST(r.error().detail == c.detail);
  }
  auto not_object = decode<TaskInfo>("[1]");
  BOOST_REQUIRE(!not_object);
  BOOST_TEST(not_object.error().detail == "the node's task answer is not an object");
}

BOOST_AUTO_TEST_CASE(optionals_may_be_null_or_absent_and_unknown_members_are_ignored) {
  TaskInfo t = sample_task();
  std::string text = to_text(t);
  text = replace(text, "\"audits\":1}", "\"audits\":1,\"added_by_a_newer_node\":[1,2]}");
  auto r = decode<TaskInfo>(text);
  BOOST_REQUIRE(r);
  BOOST_TEST((*r == t));
  t.result.reset();
  const std::string without = to_text(t);  // "result":null
  auto absent = decode<TaskInfo>(replace(without, ",\"result\":null", ""));
  BOOST_REQUIRE(absent);
  BOOST_TEST(!absent->result.has_value());
}

BOOST_AUTO_TEST_CASE(a_schema_follows_the_fields_and_their_refinements) {
  BOOST_TEST(record_schema<AccountInfo>() ==
             R"({"type":"object","properties":{"balance":{"$ref":"#/components/schemas/Amount"},"nonce":{"type":"integer"},)"
             R"("next_nonce":{"type":"integer"},"height":{"type":"integer"}}})");
  // A refinement replaces the schema at its path, also inside an optional
  // record and a list; the rest keeps its type's schema.
  const std::string task = record_schema<TaskInfo>({{"round.kind", R"({"enum":["first"]})"},
                                                    {"round.assignments.worker", R"({"const":"w"})"},
                                                    {"audits", R"({"minimum":0})"}});
  BOOST_TEST(task.find(R"("round":{"oneOf":[{"type":"null"},{"type":"object","properties":{"kind":{"enum":["first"]},)") !=
             std::string::npos, task);
  BOOST_TEST(task.find(R"("assignments":{"type":"array","items":{"type":"object","properties":{"worker":{"const":"w"},)") !=
             std::string::npos, task);
  BOOST_TEST(task.find(R"("majority":{"type":"array","items":{"$ref":"#/components/schemas/Key"}})") != std::string::npos,
             task);
  BOOST_TEST(task.ends_with(R"("audits":{"minimum":0}}})"), task);
}
