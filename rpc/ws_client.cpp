#include "rpc/ws_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <string>

#include "rpc/json_codec.h"

namespace verity::rpc {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

struct WsSubscription::Impl {
  boost::asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool reading = false;  // an async_read is outstanding
  bool done = false;     // ... and has completed
  beast::error_code ec;
};

WsSubscription::WsSubscription(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WsSubscription::~WsSubscription() = default;

Result<std::unique_ptr<WsSubscription>> WsSubscription::open(const RpcUrl& url, std::string_view topic,
                                                             std::optional<std::chrono::seconds> idle_timeout) {
  auto impl = std::make_unique<Impl>();
  try {
    tcp::resolver resolver(impl->ioc);
    auto& socket = beast::get_lowest_layer(impl->ws);
    socket.expires_after(std::chrono::seconds(5));
    socket.connect(resolver.resolve(url.host, url.port));
    impl->ws.handshake(url.authority(), "/ws");
    impl->ws.write(boost::asio::buffer(R"({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":")" +
                                       std::string(topic) + R"("}})"));
    // The node's answer to the subscribe: from then on every event of the
    // topic reaches this socket, so a caller that reads the chain after
    // open() returns misses nothing in between.
    while (true) {
      impl->buffer.clear();
      impl->ws.read(impl->buffer);
      const std::string text = beast::buffers_to_string(impl->buffer.data());
      rapidjson::Document d;
      d.Parse(text.c_str(), text.size());
      if (d.HasParseError() || !d.IsObject()) continue;
      const rapidjson::Value* id = member(d, "id");
      if (!id || !id->IsInt() || id->GetInt() != 1) continue;
      if (const rapidjson::Value* error = member(d, "error")) {
        const rapidjson::Value* data = member(*error, "data");
        const rapidjson::Value* reason = data ? member(*data, "reason") : nullptr;
        const rapidjson::Value* message = member(*error, "message");
        return make_error(reason && reason->IsString() ? reason->GetString() : "rpc-error",
                          std::string("subscribe to ") + std::string(topic) + ": " +
                              (message && message->IsString() ? message->GetString() : "refused"));
      }
      break;
    }
    impl->buffer.clear();
    socket.expires_never();
    if (idle_timeout)
      impl->ws.set_option(websocket::stream_base::timeout{std::chrono::seconds(5), *idle_timeout, true});
  } catch (const std::exception& e) {
    return make_error("rpc-unreachable", "cannot open the WebSocket of " + url.text + "/ws: " + e.what());
  }
  return std::unique_ptr<WsSubscription>(new WsSubscription(std::move(impl)));
}

Result<std::optional<rapidjson::Document>> WsSubscription::next(std::chrono::milliseconds wait) {
  Impl& s = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    if (!s.reading) {
      s.buffer.clear();
      s.reading = true;
      s.done = false;
      s.ws.async_read(s.buffer, [&s](beast::error_code ec, std::size_t) {
        s.ec = ec;
        s.done = true;
      });
    }
    while (!s.done) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return std::optional<rapidjson::Document>();
      s.ioc.restart();
      s.ioc.run_for(deadline - now);
    }
    s.reading = false;
    if (s.ec) return make_error("rpc-unreachable", "the WebSocket closed: " + s.ec.message());
    const std::string text = beast::buffers_to_string(s.buffer.data());
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    const rapidjson::Value* params = d.HasParseError() ? nullptr : member(d, "params");
    const rapidjson::Value* result = params ? member(*params, "result") : nullptr;
    if (!result) continue;
    rapidjson::Document out;
    out.CopyFrom(*result, out.GetAllocator());
    return std::optional<rapidjson::Document>(std::move(out));
  }
}

}  // namespace verity::rpc
