#pragma once
// A small synchronous JSON-RPC 2.0 client over HTTP/1.1 (Boost.Beast), for
// the `verity` command-line client and tests. One connection per call;
// every step (resolve, connect, write, read) has a deadline.
//
// Errors are verity::Error values:
//   - a JSON-RPC error object becomes reason = error.data.reason (for the
//     standard codes without one: "parse-error", "invalid-request",
//     "method-not-found", "invalid-params", "internal-error"; otherwise
//     "rpc-error"), detail = error.message (+ data.detail);
//   - a node that cannot be reached (resolve or connect failed or timed out):
//     "rpc-unreachable", the detail names the URL and what to do;
//   - a node that accepted the connection but did not answer in time:
//     "rpc-timeout";
//   - an answer that is not a JSON-RPC response: "rpc-bad-response".

#include <rapidjson/document.h>

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"

namespace verity::rpc {

struct RpcUrl {
  std::string host;
  std::string port;    // "7701"
  std::string target;  // "/"
  std::string text;    // as given, for messages
  // HOST:PORT as the Host header carries it (an IPv6 host in brackets):
  // the node answers only names it knows (docs/rpc-server.md, "Browsers").
  std::string authority() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  }
};

// http://HOST[:PORT][/PATH]; the port defaults to 80. IPv6 hosts in
// brackets. Reason "bad-rpc-url" (https is refused with a hint).
Result<RpcUrl> parse_rpc_url(std::string_view url);

// The environment variable that holds the node's RPC bearer token for
// every program built on HttpRpcClient (verity, verity-worker).
inline constexpr const char* kRpcTokenEnv = "VERITY_RPC_TOKEN";

class HttpRpcClient {
 public:
  // The token starts as $VERITY_RPC_TOKEN (empty when unset).
  explicit HttpRpcClient(RpcUrl url, std::chrono::milliseconds timeout = std::chrono::seconds(30),
                         std::chrono::milliseconds connect_timeout = std::chrono::seconds(5));

  const RpcUrl& url() const { return url_; }

  // The bearer token sent as "Authorization: Bearer TOKEN" with every call:
  // a node with `[rpc] auth_token_file` requires it for the methods that
  // write (send_tx, send_tx_commit), and answers them "unauthorized"
  // without it. Empty: no header.
  void set_token(std::string token) { token_ = std::move(token); }
  bool has_token() const { return !token_.empty(); }

  // Calls `method` with `params` (an object or array) and returns the
  // response's "result" as its own document.
  Result<rapidjson::Document> call(std::string_view method, const rapidjson::Value& params) const {
    return call(method, params, timeout_);
  }
  Result<rapidjson::Document> call(std::string_view method, const rapidjson::Value& params,
                                   std::chrono::milliseconds timeout) const;
  // The same with no params ({}).
  Result<rapidjson::Document> call(std::string_view method) const;

 private:
  RpcUrl url_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds connect_timeout_;
  std::string token_;
};

}  // namespace verity::rpc
