#include "rpc/http_client.h"

#include "core/host_port.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <cstdlib>
#include <optional>

namespace verity::rpc {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Large enough for a block of 10,000 transactions as JSON.
constexpr std::size_t kMaxResponseBytes = 256u * 1024 * 1024;

std::string standard_reason(int code) {
  switch (code) {
    case -32700: return "parse-error";
    case -32600: return "invalid-request";
    case -32601: return "method-not-found";
    case -32602: return "invalid-params";
    case -32603: return "internal-error";
    default: return "rpc-error";
  }
}

std::atomic<std::uint64_t> next_id{1};

}  // namespace

Result<RpcUrl> parse_rpc_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return make_error("bad-rpc-url", "'" + std::string(url) + "': " + why + " (expected http://HOST:PORT, e.g. http://127.0.0.1:7701)");
  };
  RpcUrl out;
  out.text = std::string(url);
  std::string_view rest = url;
  if (rest.starts_with("https://")) return bad("https is not supported; reach the node over plain http on loopback or through an SSH tunnel");
  const bool scheme = rest.starts_with("http://");
  if (scheme) rest.remove_prefix(7);
  else if (rest.find("://") != std::string_view::npos) return bad("only http:// URLs are supported");
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty()) return bad("no host");
  if (authority.find('@') != std::string_view::npos) return bad("user information is not supported");
  // The port is optional here (80); the rest is core's HOST:PORT.
  const bool bracketed = authority.front() == '[';
  const auto close = authority.find(']');
  if (bracketed && close == std::string_view::npos) return bad("unclosed '[' in the host");
  const bool has_port = bracketed ? close + 1 < authority.size() : authority.find(':') != std::string_view::npos;
  // Without http:// it must at least look like HOST:PORT ("foo" is more
  // likely a typo than a node on port 80).
  if (!scheme && !has_port) return bad("neither http:// nor a port");
  auto hp = parse_host_port(std::string(authority) + (has_port ? "" : ":80"));
  if (!hp) return bad(hp.error().detail);
  out.host = hp->host;
  out.port = std::to_string(hp->port);
  return out;
}

HttpRpcClient::HttpRpcClient(RpcUrl url, std::chrono::milliseconds timeout, std::chrono::milliseconds connect_timeout)
    : url_(std::move(url)), timeout_(timeout), connect_timeout_(connect_timeout) {
  if (const char* token = std::getenv(kRpcTokenEnv)) token_ = token;
}

Result<rapidjson::Document> HttpRpcClient::call(std::string_view method) const {
  rapidjson::Value params(rapidjson::kObjectType);
  return call(method, params);
}

Result<rapidjson::Document> HttpRpcClient::call(std::string_view method, const rapidjson::Value& params,
                                                std::chrono::milliseconds timeout) const {
  const std::uint64_t id = next_id++;
  std::string body;
  {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("jsonrpc");
    w.String("2.0");
    w.Key("id");
    w.Uint64(id);
    w.Key("method");
    w.String(method.data(), static_cast<rapidjson::SizeType>(method.size()));
    w.Key("params");
    params.Accept(w);
    w.EndObject();
    body.assign(buf.GetString(), buf.GetSize());
  }

  const std::string where = url_.text;
  auto unreachable = [&](const std::string& why) {
    return make_error("rpc-unreachable", "cannot reach the node at " + where + " (" + why +
                                             "): start the node (e.g. scripts/devnet), or pass --rpc URL "
                                             "(or set VERITY_RPC) to use another one");
  };

  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::string_body> req{http::verb::post, url_.target, 11};
  req.set(http::field::host, url_.authority());
  req.set(http::field::content_type, "application/json");
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "verity-client");
  if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  req.body() = body;
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);

  enum class Stage { resolve, connect, exchange, done } stage = Stage::resolve;
  beast::error_code failure;
  asio::steady_timer resolve_timer(io);

  resolve_timer.expires_after(connect_timeout_);
  resolve_timer.async_wait([&](beast::error_code ec) {
    if (!ec && stage == Stage::resolve) resolver.cancel();
  });
  resolver.async_resolve(url_.host, url_.port, [&](beast::error_code ec, tcp::resolver::results_type results) {
    resolve_timer.cancel();
    if (ec) {
      failure = ec;
      return;
    }
    stage = Stage::connect;
    stream.expires_after(connect_timeout_);
    stream.async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) {
        failure = ec;
        return;
      }
      stage = Stage::exchange;
      stream.expires_after(timeout);
      http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
        if (ec) {
          failure = ec;
          return;
        }
        http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
          if (ec) {
            failure = ec;
            return;
          }
          stage = Stage::done;
        });
      });
    });
  });
  io.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  if (stage == Stage::resolve)
    return unreachable(failure == asio::error::operation_aborted ? "resolving the host timed out"
                                                                 : "cannot resolve host: " + failure.message());
  if (stage == Stage::connect)
    return unreachable(failure == beast::error::timeout ? "connecting timed out" : failure.message());
  if (stage == Stage::exchange) {
    if (failure == beast::error::timeout)
      return make_error("rpc-timeout", "the node at " + where + " accepted the connection but did not answer '" +
                                           std::string(method) + "' within " +
                                           std::to_string(timeout.count() / 1000.0).substr(0, 5) +
                                           " s: check that it is running and not overloaded (its log says more)");
    return make_error("rpc-unreachable", "the connection to the node at " + where + " failed during '" +
                                             std::string(method) + "' (" + failure.message() +
                                             "): check that the node is running and that --rpc names its RPC port");
  }

  const auto& res = parser.get();
  rapidjson::Document doc;
  doc.Parse(res.body().data(), res.body().size());
  auto bad_response = [&](const std::string& why) {
    return make_error("rpc-bad-response", "the server at " + where + " answered '" + std::string(method) +
                                              "' with " + why + " (HTTP " + std::to_string(res.result_int()) +
                                              "): is --rpc the node's JSON-RPC address?");
  };
  if (doc.HasParseError() || !doc.IsObject()) return bad_response("something that is not JSON");
  auto err_it = doc.FindMember("error");
  if (err_it != doc.MemberEnd() && !err_it->value.IsNull()) {
    const auto& e = err_it->value;
    if (!e.IsObject()) return bad_response("a malformed error");
    int code = 0;
    if (auto c = e.FindMember("code"); c != e.MemberEnd() && c->value.IsInt()) code = c->value.GetInt();
    std::string message;
    if (auto m = e.FindMember("message"); m != e.MemberEnd() && m->value.IsString()) message = m->value.GetString();
    std::string reason = standard_reason(code), detail;
    if (auto d = e.FindMember("data"); d != e.MemberEnd() && d->value.IsObject()) {
      if (auto r = d->value.FindMember("reason"); r != d->value.MemberEnd() && r->value.IsString() &&
                                                   r->value.GetStringLength() > 0)
        reason = r->value.GetString();
      if (auto dd = d->value.FindMember("detail"); dd != d->value.MemberEnd() && dd->value.IsString())
        detail = dd->value.GetString();
    }
    // The message repeats the reason and the detail after a generic
    // prefix ("transaction rejected: nonce-gap: ..."): the detail alone
    // reads best after the reason the caller shows.
    std::string text = !detail.empty() ? detail : !message.empty() ? message : "error " + std::to_string(code);
    return make_error(reason, text);
  }
  auto result_it = doc.FindMember("result");
  if (result_it == doc.MemberEnd()) return bad_response("neither a result nor an error");
  if (auto i = doc.FindMember("id"); i == doc.MemberEnd() || !i->value.IsUint64() || i->value.GetUint64() != id)
    return bad_response("the id of another request");
  rapidjson::Document out;
  out.CopyFrom(result_it->value, out.GetAllocator());
  return out;
}

}  // namespace verity::rpc
