#pragma once
// JSON-RPC 2.0 over a table of self-describing methods.
//
// Each method is one `Method`: name, parameter schemas, result schema, help
// and handler. The same table drives dispatch, parameter checking,
// `rpc.discover` (an OpenRPC document) and docs/rpc.md (`rpc-docs`), so a
// method is never described twice.
//
// Errors: the standard codes, plus application errors whose `data` carries
// the stable reason string (see docs/rpc.md):
//   -32700 parse error        the body is not JSON
//   -32600 invalid request    not a JSON-RPC 2.0 request object, empty or oversized batch,
//                             arrays and objects nested deeper than kMaxJsonDepth
//                             (and, as HTTP 403/415 bodies, reasons "bad-host", "bad-origin",
//                             "bad-content-type": rpc/server.h)
//   -32601 method not found
//   -32602 invalid params     the message names the parameter; also "params" that is not an
//                             object or an array (null included), and an integer outside its
//                             schema's "minimum"/"maximum" (checked here for every method)
//   -32603 internal error     the node failed (disk, bug), not the caller
//   -32001 not found          reason "not-found"
//   -32002 rejected           a rule refused it (a transaction's mempool reason, ...)
//   -32003 timeout            reason "timeout"
//   -32004 unavailable        reason "shutting-down", "too-many-waiters", "websocket-only"
//   -32005 unauthorized       reason "unauthorized": a method that `writes`, on a server that
//                             requires a bearer token, called without the right one

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "rpc/api.h"

namespace verity::rpc {

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kNotFound = -32001;
inline constexpr int kRejected = -32002;
inline constexpr int kTimeout = -32003;
inline constexpr int kUnavailable = -32004;
inline constexpr int kUnauthorized = -32005;

// How deep arrays and objects may nest in a request body (a batch of calls
// with a transaction needs 6). Parsing is iterative, but copying and writing
// rapidjson values recurse, so a deeper body would exhaust the stack.
inline constexpr std::size_t kMaxJsonDepth = 64;

// The JSON-RPC code for a handler's error: by reason, and -32603 for a
// local fault.
int error_code(const Error& e);

using JsonResult = Result<rapidjson::Document>;
using Reply = std::function<void(JsonResult)>;

class CommitWaiters;

// Implemented by a WebSocket connection.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // Reasons: "invalid-params" (unknown topic), "too-many-subscriptions".
  virtual Result<std::string> subscribe(const std::string& topic, const std::optional<PublicKey>& account) = 0;
  virtual bool unsubscribe(const std::string& id) = 0;
  // The dispatcher calls this for each message the connection received (a
  // call, a notification or a batch), and the function it returns once the
  // message is answered: how the server tells a WebSocket in use from an
  // idle one (ServerLimits::ws_idle_timeout, eviction). Either may run on
  // any thread; the returned function may outlive the connection.
  virtual std::function<void()> on_message() { return {}; }
};

struct CallContext {
  NodeApi& node;
  CommitWaiters* waiters = nullptr;    // for send_tx_commit
  Subscriber* subscriber = nullptr;    // set on WebSocket connections only
  // False when the server requires a bearer token and the request did not
  // carry it: methods that `write` are refused with -32005.
  bool may_write = true;
  // Who is calling (the client's IP address): per-client limits.
  std::string client = "local";
};

struct Param {
  std::string name;
  std::string schema;  // JSON Schema, as JSON text
  bool required = false;
  std::string help;
};

struct Method {
  std::string name;
  std::string summary;  // one line
  std::string help;     // more, for docs
  std::vector<Param> params;
  std::string result_schema;  // JSON Schema, as JSON text
  bool websocket_only = false;
  // `params` is always an object holding only declared names, the required
  // ones present (the dispatcher maps positional params by order). The
  // handler checks the values' types and answers through `reply`, at once
  // or later.
  std::function<void(const rapidjson::Value& params, CallContext& ctx, Reply reply)> handler;
  // Changes the node's state (submits a transaction): needs the bearer
  // token when the server has one (docs/rpc-server.md, "Authentication").
  bool writes = false;
};

// Wraps a handler that answers at once.
template <class F>
auto sync_handler(F f) {
  return [f](const rapidjson::Value& params, CallContext& ctx, Reply reply) { reply(f(params, ctx)); };
}

class Dispatcher {
 public:
  // A parameter schema's integer bounds ({"type":"integer","minimum":1}),
  // enforced before the handler runs: -32602 naming the parameter.
  struct IntBounds {
    std::optional<std::int64_t> minimum, maximum;
  };

  Dispatcher(std::vector<Method> methods, std::size_t max_batch);

  // Handles one request body (a call, a notification or a batch) and calls
  // `done` once with the response body, or with "" when there is nothing to
  // answer (only notifications). `done` may run before handle() returns.
  void handle(std::string_view body, CallContext& ctx, std::function<void(std::string)> done);

  const std::vector<Method>& methods() const { return methods_; }
  // Calls by method name ("(unknown)" for names not in the table).
  std::map<std::string, std::uint64_t> calls() const;

 private:
  struct Batch;
  void call(const rapidjson::Value& request, CallContext& ctx, std::function<void(rapidjson::Document)> done);

  std::vector<Method> methods_;
  std::map<std::string, const Method*, std::less<>> by_name_;
  std::vector<std::vector<IntBounds>> bounds_;  // per method, per parameter
  std::size_t max_batch_;
  void count_call(const std::string& name);
  mutable std::mutex calls_mu_;  // handle() runs on several threads at once
  std::map<std::string, std::uint64_t> calls_;
};

// A JSON-RPC error response with `id` (null when unknown).
rapidjson::Document error_response(const rapidjson::Value& id, int code, const std::string& message,
                                   const std::string& reason = {}, const std::string& detail = {});
std::string error_body(int code, const std::string& message, const std::string& reason = {},
                       const std::string& detail = {});

}  // namespace verity::rpc
