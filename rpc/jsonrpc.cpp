#include "rpc/jsonrpc.h"

#include <atomic>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>
#include <utility>
#include <vector>

#include "rpc/json_codec.h"

namespace verity::rpc {

int error_code(const Error& e) {
  if (e.fault == Fault::local) return kInternalError;
  static const std::map<std::string, int, std::less<>> codes = {
      {"invalid-params", kInvalidParams},      {"not-found", kNotFound},          {"timeout", kTimeout},
      {"shutting-down", kUnavailable},         {"too-many-waiters", kUnavailable}, {"websocket-only", kUnavailable},
      {"too-many-subscriptions", kUnavailable}, {"unauthorized", kUnauthorized},
  };
  auto it = codes.find(e.reason);
  return it == codes.end() ? kRejected : it->second;
}

namespace {

std::string message_for(int code) {
  switch (code) {
    case kParseError: return "parse error";
    case kInvalidRequest: return "invalid request";
    case kMethodNotFound: return "method not found";
    case kInvalidParams: return "invalid params";
    case kInternalError: return "internal error";
    case kNotFound: return "not found";
    case kRejected: return "rejected";
    case kTimeout: return "timeout";
    case kUnavailable: return "unavailable";
    case kUnauthorized: return "unauthorized";
  }
  return "error";
}

rapidjson::Document response_shell(const rapidjson::Value& id) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("jsonrpc", "2.0", a);
  d.AddMember("id", rapidjson::Value(id, a), a);
  return d;
}

std::string serialize(const rapidjson::Value& v) { return json_string(v); }

bool valid_id(const rapidjson::Value& id) { return id.IsString() || id.IsNumber() || id.IsNull(); }

// Whether arrays and objects nest deeper than `limit`, found without recursion.
bool deeper_than(const rapidjson::Value& root, std::size_t limit) {
  std::vector<std::pair<const rapidjson::Value*, std::size_t>> todo{{&root, 1}};
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (v->IsArray()) {
      if (depth > limit) return true;
      for (const auto& e : v->GetArray()) todo.emplace_back(&e, depth + 1);
    } else if (v->IsObject()) {
      if (depth > limit) return true;
      for (const auto& m : v->GetObject()) todo.emplace_back(&m.value, depth + 1);
    }
  }
  return false;
}

}  // namespace

rapidjson::Document error_response(const rapidjson::Value& id, int code, const std::string& message,
                                   const std::string& reason, const std::string& detail) {
  rapidjson::Document d = response_shell(id);
  auto& a = d.GetAllocator();
  rapidjson::Value err(rapidjson::kObjectType);
  err.AddMember("code", code, a);
  err.AddMember("message", rapidjson::Value(message.c_str(), static_cast<rapidjson::SizeType>(message.size()), a), a);
  if (!reason.empty()) {
    rapidjson::Value data(rapidjson::kObjectType);
    data.AddMember("reason", rapidjson::Value(reason.c_str(), static_cast<rapidjson::SizeType>(reason.size()), a), a);
    if (!detail.empty())
      data.AddMember("detail", rapidjson::Value(detail.c_str(), static_cast<rapidjson::SizeType>(detail.size()), a), a);
    err.AddMember("data", data, a);
  }
  d.AddMember("error", err, a);
  return d;
}

std::string error_body(int code, const std::string& message, const std::string& reason, const std::string& detail) {
  rapidjson::Value null_id;
  return serialize(error_response(null_id, code, message, reason, detail));
}

namespace {
// The bounds of a parameter whose schema is {"type":"integer"} with
// "minimum" and/or "maximum": the dispatcher enforces them for every
// method, so a schema never promises what a handler forgot to check.
Dispatcher::IntBounds bounds_of(const std::string& schema) {
  Dispatcher::IntBounds b;
  rapidjson::Document d;
  d.Parse(schema.data(), schema.size());
  if (d.HasParseError() || !d.IsObject()) return b;
  auto type = d.FindMember("type");
  if (type == d.MemberEnd() || !type->value.IsString() || std::string_view(type->value.GetString()) != "integer")
    return b;
  if (auto m = d.FindMember("minimum"); m != d.MemberEnd() && m->value.IsInt64()) b.minimum = m->value.GetInt64();
  if (auto m = d.FindMember("maximum"); m != d.MemberEnd() && m->value.IsInt64()) b.maximum = m->value.GetInt64();
  return b;
}

// "" when `v` (an integer) is within `b`, else what it must be. Values
// that are not integers are left to the handler, which names the type.
std::string out_of_bounds(const rapidjson::Value& v, const Dispatcher::IntBounds& b) {
  if (!b.minimum && !b.maximum) return {};
  bool below = false, above = false;
  if (v.IsInt64()) {
    below = b.minimum && v.GetInt64() < *b.minimum;
    above = b.maximum && v.GetInt64() > *b.maximum;
  } else if (v.IsUint64()) {  // above INT64_MAX
    above = b.maximum.has_value();
  } else {
    return {};
  }
  if (!below && !above) return {};
  if (b.minimum && b.maximum)
    return "must be from " + std::to_string(*b.minimum) + " to " + std::to_string(*b.maximum);
  return b.minimum ? "must be at least " + std::to_string(*b.minimum) : "must be at most " + std::to_string(*b.maximum);
}
}  // namespace

Dispatcher::Dispatcher(std::vector<Method> methods, std::size_t max_batch)
    : methods_(std::move(methods)), max_batch_(max_batch) {
  for (const auto& m : methods_) {
    by_name_[m.name] = &m;
    std::vector<IntBounds> b;
    for (const auto& p : m.params) b.push_back(bounds_of(p.schema));
    bounds_.push_back(std::move(b));
  }
}

void Dispatcher::count_call(const std::string& name) {
  std::lock_guard lock(calls_mu_);
  calls_[name]++;
}

std::map<std::string, std::uint64_t> Dispatcher::calls() const {
  std::lock_guard lock(calls_mu_);
  return calls_;
}

// Answers of a batch, collected in request order until the last one comes.
// The calls may answer on different threads (a send_tx answers from the
// node's consensus thread): each writes its own slot, and the last one,
// by the atomic count, writes the whole answer.
struct Dispatcher::Batch {
  std::vector<std::optional<rapidjson::Document>> answers;
  std::atomic<std::size_t> pending{0};
  std::function<void(std::string)> done;
  void finish() {
    rapidjson::Document out(rapidjson::kArrayType);
    for (auto& a : answers)
      if (a) out.PushBack(rapidjson::Value(*a, out.GetAllocator()), out.GetAllocator());
    done(out.Empty() ? std::string() : serialize(out));
  }
};

void Dispatcher::handle(std::string_view body, CallContext& ctx, std::function<void(std::string)> done) {
  // A WebSocket is in use from its message until the answer (idle ones are closed).
  if (ctx.subscriber) {
    if (auto finished = ctx.subscriber->on_message())
      done = [finished = std::move(finished), done = std::move(done)](std::string answer) {
        finished();
        done(std::move(answer));
      };
  }
  rapidjson::Document request;
  // Iterative parsing: a deeply nested body cannot exhaust the stack.
  // Strings must be valid UTF-8: an id or method name is echoed in the
  // answer, which would otherwise not be JSON (RFC 8259 requires UTF-8).
  request.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (request.HasParseError()) {
    done(error_body(kParseError,
                    std::string("parse error at offset ") + std::to_string(request.GetErrorOffset()) + ": " +
                        rapidjson::GetParseError_En(request.GetParseError())));
    return;
  }
  if (deeper_than(request, kMaxJsonDepth)) {
    done(error_body(kInvalidRequest,
                    "invalid request: arrays and objects nested deeper than " + std::to_string(kMaxJsonDepth)));
    return;
  }
  if (!request.IsArray()) {
    call(request, ctx, [done](rapidjson::Document answer) { done(answer.IsNull() ? std::string() : serialize(answer)); });
    return;
  }
  if (request.Empty()) {
    done(error_body(kInvalidRequest, "invalid request: empty batch"));
    return;
  }
  if (request.Size() > max_batch_) {
    done(error_body(kInvalidRequest, "invalid request: a batch of " + std::to_string(request.Size()) +
                                         " calls is larger than the maximum of " + std::to_string(max_batch_)));
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->answers.resize(request.Size());
  batch->pending = request.Size();
  batch->done = std::move(done);
  for (rapidjson::SizeType i = 0; i < request.Size(); ++i) {
    call(request[i], ctx, [batch, i](rapidjson::Document answer) {
      if (!answer.IsNull()) batch->answers[i] = std::move(answer);
      if (--batch->pending == 0) batch->finish();
    });
  }
}

// Answers one request object through `done`: a response document, or a
// null document for a notification.
void Dispatcher::call(const rapidjson::Value& request, CallContext& ctx,
                      std::function<void(rapidjson::Document)> done) {
  rapidjson::Value null_id;
  if (!request.IsObject()) {
    done(error_response(null_id, kInvalidRequest, "invalid request: expected a JSON-RPC 2.0 request object"));
    return;
  }
  auto id_it = request.FindMember("id");
  const bool notification = id_it == request.MemberEnd();
  const rapidjson::Value& id = notification || !valid_id(id_it->value) ? null_id : id_it->value;
  auto fail = [&](int code, const std::string& message, const std::string& reason = {},
                  const std::string& detail = {}) {
    done(notification ? rapidjson::Document() : error_response(id, code, message, reason, detail));
  };
  auto version = request.FindMember("jsonrpc");
  if (version == request.MemberEnd() || !version->value.IsString() || std::string_view(version->value.GetString()) != "2.0") {
    done(error_response(id, kInvalidRequest, "invalid request: \"jsonrpc\" must be \"2.0\""));
    return;
  }
  if (!notification && !valid_id(id_it->value)) {
    done(error_response(null_id, kInvalidRequest, "invalid request: \"id\" must be a string, a number or null"));
    return;
  }
  auto method_it = request.FindMember("method");
  if (method_it == request.MemberEnd() || !method_it->value.IsString()) {
    done(error_response(id, kInvalidRequest, "invalid request: \"method\" must be a string"));
    return;
  }
  const std::string name(method_it->value.GetString(), method_it->value.GetStringLength());
  auto m = by_name_.find(name);
  if (m == by_name_.end()) {
    count_call("(unknown)");
    fail(kMethodNotFound, "method not found: '" + name + "' (rpc.discover lists the methods)");
    return;
  }
  const Method& method = *m->second;
  count_call(method.name);
  if (method.websocket_only && !ctx.subscriber) {
    fail(kUnavailable, name + " works on the WebSocket endpoint /ws only", "websocket-only");
    return;
  }

  if (method.writes && !ctx.may_write) {
    fail(kUnauthorized, "unauthorized: " + name + " needs this node's RPC token", "unauthorized",
         name + " changes the node's state and this node requires a bearer token for it: send the header "
                "'Authorization: Bearer TOKEN' (verity --rpc-token-file FILE, or VERITY_RPC_TOKEN)");
    return;
  }

  // Normalise params to an object of declared names.
  rapidjson::Document params(rapidjson::kObjectType);
  auto& alloc = params.GetAllocator();
  auto p = request.FindMember("params");
  if (p != request.MemberEnd()) {
    const rapidjson::Value& given = p->value;
    if (given.IsArray()) {
      if (given.Size() > method.params.size()) {
        fail(kInvalidParams, "invalid params: " + name + " takes at most " + std::to_string(method.params.size()) +
                                 " parameters, got " + std::to_string(given.Size()),
             "invalid-params");
        return;
      }
      for (rapidjson::SizeType i = 0; i < given.Size(); ++i) {
        const std::string& pname = method.params[i].name;
        params.AddMember(rapidjson::Value(pname.c_str(), static_cast<rapidjson::SizeType>(pname.size()), alloc),
                         rapidjson::Value(given[i], alloc), alloc);
      }
    } else if (given.IsObject()) {
      for (auto it = given.MemberBegin(); it != given.MemberEnd(); ++it) {
        const std::string pname(it->name.GetString(), it->name.GetStringLength());
        bool known = false;
        for (const auto& decl : method.params) known = known || decl.name == pname;
        if (!known) {
          fail(kInvalidParams, "invalid params: " + name + " has no parameter '" + pname + "'", "invalid-params");
          return;
        }
        if (params.HasMember(it->name)) {
          fail(kInvalidParams, "invalid params: parameter '" + pname + "' given twice", "invalid-params");
          return;
        }
        params.AddMember(rapidjson::Value(it->name, alloc), rapidjson::Value(it->value, alloc), alloc);
      }
    } else {
      // JSON-RPC 2.0 4.2: params, when present, is a structured value (null
      // too is refused: leave params out for none).
      const char* got = given.IsNull() ? "null" : given.IsString() ? "a string" : given.IsBool() ? "a boolean" : "a number";
      fail(kInvalidParams, std::string("invalid params: \"params\" must be an object or an array (or absent), got ") + got,
           "invalid-params");
      return;
    }
  }
  const std::vector<IntBounds>& bounds = bounds_[static_cast<std::size_t>(&method - methods_.data())];
  for (std::size_t i = 0; i < method.params.size(); ++i) {
    const Param& decl = method.params[i];
    auto given = params.FindMember(decl.name.c_str());
    if (given == params.MemberEnd()) {
      if (!decl.required) continue;
      fail(kInvalidParams, "invalid params: missing parameter '" + decl.name + "'", "invalid-params");
      return;
    }
    if (std::string why = out_of_bounds(given->value, bounds[i]); !why.empty()) {
      fail(kInvalidParams, "invalid params: " + decl.name + ": " + why, "invalid-params", decl.name + ": " + why);
      return;
    }
  }

  rapidjson::Document id_copy;
  id_copy.CopyFrom(id, id_copy.GetAllocator());
  method.handler(params, ctx, [done = std::move(done), notification, id_copy = std::make_shared<rapidjson::Document>(std::move(id_copy))](JsonResult result) {
    if (notification) {
      done(rapidjson::Document());
      return;
    }
    if (!result) {
      const Error& e = result.error();
      const int code = error_code(e);
      const std::string reason = e.reason;
      std::string message = message_for(code) + ": " + e.to_string();
      done(error_response(*id_copy, code, message, reason, e.detail));
      return;
    }
    rapidjson::Document out = response_shell(*id_copy);
    out.AddMember("result", rapidjson::Value(*result, out.GetAllocator()), out.GetAllocator());
    done(std::move(out));
  });
}

}  // namespace verity::rpc
