#define BOOST_TEST_MODULE http_client_tests
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "rpc/http_client.h"
#include "rpc/json_codec.h"
#include "tests/fake_rpc_server.h"

using namespace verity;
using namespace verity::rpc;
using verity::testing::FakeRpcServer;

namespace {
HttpRpcClient client_for(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return HttpRpcClient(parse_rpc_url(url).value(), timeout, std::chrono::seconds(2));
}
}  // namespace

BOOST_AUTO_TEST_CASE(parses_urls) {
  auto u = parse_rpc_url("http://127.0.0.1:7701");
  BOOST_REQUIRE(u);
  BOOST_TEST(u->host == "127.0.0.1");
  BOOST_TEST(u->port == "7701");
  BOOST_TEST(u->target == "/");
  auto v = parse_rpc_url("node.example:8080/rpc");
  BOOST_REQUIRE(v);
  BOOST_TEST(v->host == "node.example");
  BOOST_TEST(v->port == "8080");
  BOOST_TEST(v->target == "/rpc");
  auto w = parse_rpc_url("http://[::1]:7701/");
  BOOST_REQUIRE(w);
  BOOST_TEST(w->host == "::1");
  // The Host header's form: IPv6 in brackets, as the node's allowed hosts hold it.
  BOOST_TEST(w->authority() == "[::1]:7701");
  BOOST_TEST(u->authority() == "127.0.0.1:7701");
  BOOST_TEST(parse_rpc_url("http://localhost")->port == "80");
  for (const char* bad : {"https://127.0.0.1:7701", "ftp://x", "http://", "http://:7701", "http://h:0", "http://h:65536",
                          "http://h:port", "http://u@h:1", "http://[::1", "http://h:", "foo", "node.example/rpc"}) {
    auto r = parse_rpc_url(bad);
    BOOST_TEST(!r, bad);
    if (!r) BOOST_TEST(r.error().reason == "bad-rpc-url");
  }
  BOOST_TEST(parse_rpc_url("https://x:1").error().detail.find("https is not supported") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(returns_the_result_and_sends_a_json_rpc_request) {
  FakeRpcServer server([](const std::string& method, const rapidjson::Value& params, const std::string& id) {
    if (method != "account") return FakeRpcServer::error(id, -32601, "no such method", "");
    return FakeRpcServer::result(id, "{\"echo\":" + json_string(params) + ",\"balance\":\"12\"}");
  });
  auto c = client_for(server.url());
  rapidjson::Document params(rapidjson::kObjectType);
  params.AddMember("address", "ab", params.GetAllocator());
  auto r = c.call("account", params);
  BOOST_REQUIRE_MESSAGE(r, (r ? std::string() : r.error().to_string()));
  BOOST_TEST(std::string((*r)["balance"].GetString()) == "12");
  BOOST_TEST(json_string((*r)["echo"]) == "{\"address\":\"ab\"}");
  rapidjson::Document sent;
  sent.Parse(server.last_body("account").c_str());
  BOOST_TEST(std::string(sent["jsonrpc"].GetString()) == "2.0");
  BOOST_TEST(sent["id"].IsUint64());
}

BOOST_AUTO_TEST_CASE(maps_error_objects_to_their_reason) {
  FakeRpcServer server([](const std::string& method, const rapidjson::Value&, const std::string& id) {
    if (method == "send_tx")
      return FakeRpcServer::error(id, -32002, "transaction rejected", "insufficient-balance", "balance 5 < 10");
    if (method == "tx") return FakeRpcServer::error(id, -32001, "not found", "not-found", "");
    if (method == "bad-error") return std::string("{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"error\":42}");
    return std::string("{\"jsonrpc\":\"2.0\",\"id\":" + id +
                       ",\"error\":{\"code\":-32601,\"message\":\"method not found\"}}");
  });
  auto c = client_for(server.url());
  auto rejected = c.call("send_tx");
  BOOST_REQUIRE(!rejected);
  BOOST_TEST(rejected.error().reason == "insufficient-balance");
  BOOST_TEST(rejected.error().detail == "balance 5 < 10");
  auto missing = c.call("tx");
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.error().reason == "not-found");
  auto standard = c.call("frobnicate");
  BOOST_REQUIRE(!standard);
  BOOST_TEST(standard.error().reason == "method-not-found");  // no data.reason: from the code
  BOOST_TEST(standard.error().detail == "method not found");
  BOOST_TEST(c.call("bad-error").error().reason == "rpc-bad-response");
}

BOOST_AUTO_TEST_CASE(answers_that_are_not_json_rpc_are_reported) {
  FakeRpcServer server([](const std::string& method, const rapidjson::Value&, const std::string& id) {
    if (method == "html") return std::string("<html>hello</html>");
    if (method == "other-id") return FakeRpcServer::result("987654321", "1");
    return std::string("{\"jsonrpc\":\"2.0\",\"id\":" + id + "}");
  });
  auto c = client_for(server.url());
  for (const char* m : {"html", "other-id", "neither"}) {
    auto r = c.call(m);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().reason == "rpc-bad-response", m);
    BOOST_TEST(r.error().detail.find(server.url()) != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_closed_port_is_unreachable_and_says_what_to_do) {
  const std::string url = "http://127.0.0.1:" + std::to_string(verity::testing::closed_port());
  auto r = client_for(url).call("status");
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().reason == "rpc-unreachable");
  BOOST_TEST(r.error().detail.find(url) != std::string::npos);
  BOOST_TEST(r.error().detail.find("--rpc") != std::string::npos);
  BOOST_TEST(r.error().detail.find("start the node") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_silent_server_times_out_in_bounded_time) {
  FakeRpcServer server([](const std::string&, const rapidjson::Value&, const std::string&) { return std::string(); },
                       /*silent=*/true);
  auto start = std::chrono::steady_clock::now();
  auto r = client_for(server.url(), std::chrono::milliseconds(300)).call("status");
  auto took = std::chrono::steady_clock::now() - start;
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().reason == "rpc-timeout");
  BOOST_TEST(r.error().detail.find("did not answer 'status'") != std::string::npos);
  BOOST_TEST(took < std::chrono::seconds(5));
  BOOST_TEST(took >= std::chrono::milliseconds(250));
}
