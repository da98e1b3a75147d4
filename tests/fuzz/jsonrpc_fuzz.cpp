// Fuzzes the JSON-RPC dispatcher with the node's real method table over a
// stand-in node (tests/rpc/empty_node.h): the input is one HTTP request
// body. Properties: the dispatcher answers exactly once and at once; the
// answer is "" (notifications only) or valid UTF-8 JSON, an object for a
// single call and an array for a batch; every response in it is a
// JSON-RPC 2.0 response with either a result or an error with an integer
// code, never both; and a single call with an id is always answered.

#include <rapidjson/document.h>

#include <optional>
#include <string>

#include "rpc/jsonrpc.h"
#include "rpc/methods.h"
#include "tests/fuzz/fuzz.h"
#include "tests/rpc/empty_node.h"

using namespace verity;

namespace {

void check_response(const rapidjson::Value& r) {
  FUZZ_CHECK(r.IsObject());
  FUZZ_CHECK(r.HasMember("jsonrpc") && r["jsonrpc"].IsString() && std::string(r["jsonrpc"].GetString()) == "2.0");
  FUZZ_CHECK(r.HasMember("id"));
  const bool has_result = r.HasMember("result"), has_error = r.HasMember("error");
  FUZZ_CHECK(has_result != has_error);
  if (has_error) {
    const auto& e = r["error"];
    FUZZ_CHECK(e.IsObject() && e.HasMember("code") && e["code"].IsInt());
    FUZZ_CHECK(e.HasMember("message") && e["message"].IsString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static rpc::EmptyNode node;
  static rpc::Dispatcher dispatcher(rpc::node_methods(), 100);
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  rpc::CallContext ctx{node, nullptr, nullptr};
  std::optional<std::string> answer;
  int calls = 0;
  dispatcher.handle(body, ctx, [&](std::string a) {
    answer = std::move(a);
    ++calls;
  });
  FUZZ_CHECK(calls == 1);
  if (answer->empty()) {
    // Only notifications go unanswered: a lone call with an id never is.
    rapidjson::Document request;
    request.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
    FUZZ_CHECK(request.HasParseError() == false);
    FUZZ_CHECK(!(request.IsObject() && request.HasMember("id")));
    return 0;
  }
  rapidjson::Document response;
  response.Parse<rapidjson::kParseValidateEncodingFlag>(answer->data(), answer->size());
  FUZZ_CHECK(!response.HasParseError());
  if (response.IsArray()) {
    FUZZ_CHECK(!response.Empty() && response.Size() <= 100);
    for (const auto& r : response.GetArray()) check_response(r);
  } else {
    check_response(response);
  }
  return 0;
}
