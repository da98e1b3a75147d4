#pragma once
// A stand-in JSON-RPC server on 127.0.0.1 (a free port) for client tests:
// each POST is handed to a function that returns the whole response body.
// Runs on its own thread; the destructor stops it.

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rpc/json_codec.h"

namespace verity::testing {

class FakeRpcServer {
 public:
  // (method, params, id as JSON text) -> response body
  using Handler = std::function<std::string(const std::string& method, const rapidjson::Value& params,
                                            const std::string& id)>;

  explicit FakeRpcServer(Handler handler, bool silent = false)
      : handler_(std::move(handler)), silent_(silent), acceptor_(io_) {
    namespace asio = boost::asio;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeRpcServer() {
    io_.stop();
    thread_.join();
  }
  FakeRpcServer(const FakeRpcServer&) = delete;
  FakeRpcServer& operator=(const FakeRpcServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> methods() const {
    std::lock_guard lock(mu_);
    return methods_;
  }
  // The last request body whose method was `method` ("" if none).
  std::string last_body(const std::string& method) const {
    std::lock_guard lock(mu_);
    for (auto it = bodies_.rbegin(); it != bodies_.rend(); ++it)
      if (it->first == method) return it->second;
    return "";
  }

  static std::string result(const std::string& id, const std::string& result_json) {
    return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":" + result_json + "}";
  }
  static std::string error(const std::string& id, int code, const std::string& message, const std::string& reason,
                           const std::string& detail = "") {
    return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"error\":{\"code\":" + std::to_string(code) + ",\"message\":\"" +
           message + "\",\"data\":{\"reason\":\"" + reason + "\",\"detail\":\"" + detail + "\"}}}";
  }

 private:
  struct Session {
    boost::asio::ip::tcp::socket socket;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::string_body> req;
    boost::beast::http::response<boost::beast::http::string_body> res;
    explicit Session(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
      if (ec) return;
      auto s = std::make_shared<Session>(std::move(socket));
      sessions_.push_back(s);  // kept until the server stops (a silent server never answers)
      boost::beast::http::async_read(s->socket, s->buffer, s->req, [this, s](boost::system::error_code ec, std::size_t) {
        if (ec) return;
        answer(s);
      });
      accept();
    });
  }

  void answer(const std::shared_ptr<Session>& s) {
    rapidjson::Document doc;
    doc.Parse(s->req.body().c_str());
    std::string method = doc.IsObject() && doc.HasMember("method") && doc["method"].IsString() ? doc["method"].GetString() : "";
    std::string id = doc.IsObject() && doc.HasMember("id") ? rpc::json_string(doc["id"]) : "null";
    {
      std::lock_guard lock(mu_);
      methods_.push_back(method);
      bodies_.push_back({method, s->req.body()});
    }
    if (silent_) return;
    static const rapidjson::Value empty(rapidjson::kObjectType);
    const rapidjson::Value& params = doc.IsObject() && doc.HasMember("params") ? doc["params"] : empty;
    s->res = {boost::beast::http::status::ok, 11};
    s->res.set(boost::beast::http::field::content_type, "application/json");
    s->res.body() = handler_(method, params, id);
    s->res.prepare_payload();
    boost::beast::http::async_write(s->socket, s->res, [s](boost::system::error_code, std::size_t) {
      boost::system::error_code ignored;
      s->socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    });
  }

  Handler handler_;
  bool silent_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::vector<std::shared_ptr<Session>> sessions_;
  mutable std::mutex mu_;
  std::vector<std::string> methods_;
  std::vector<std::pair<std::string, std::string>> bodies_;
};

// A port on 127.0.0.1 with nothing listening (bound, then released).
inline unsigned short closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace verity::testing
