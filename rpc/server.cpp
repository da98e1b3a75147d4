#include "rpc/server.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <cctype>
#include <iomanip>
#include <set>
#include <sstream>

#include "core/hash.h"
#include "rpc/json_codec.h"
#include "rpc/methods.h"

namespace verity::rpc {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Connection {
 public:
  virtual ~Connection() = default;
  virtual void close() = 0;
  // WebSocket connections only: deliver a committed block to subscriptions.
  virtual void publish(const Block&, const std::vector<Receipt>&, const std::vector<Event>&) {}
};

namespace {

http::response<http::string_body> make_response(http::status status, std::string body, const char* content_type,
                                                unsigned version) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "verityd");
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

constexpr const char* kJson = "application/json";

std::string_view authorization_of(const http::request<http::string_body>& req) {
  auto v = req[http::field::authorization];
  return {v.data(), v.size()};
}

}  // namespace

// --- WebSocket ------------------------------------------------------------------------

class WsSession : public Connection, public Subscriber, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(Server& server, tcp::socket socket) : server_(server), ws_(std::move(socket)) {}

  void run(http::request<http::string_body> req) {
    id_ = server_.add_connection(weak_from_this());
    may_write_ = server_.may_write(authorization_of(req));
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(server_.limits_.max_body_bytes);
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->close();
      self->read();
    });
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    server_.remove_connection(id_);
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  Result<std::string> subscribe(const std::string& topic, const std::optional<PublicKey>& account) override {
    if (topic != "blocks" && topic != "txs" && topic != "tasks")
      return make_error("invalid-params", "topic: expected blocks, txs or tasks, got '" + topic + "'");
    if (subs_.size() >= server_.limits_.max_subscriptions)
      return make_error("too-many-subscriptions",
                        "at most " + std::to_string(server_.limits_.max_subscriptions) + " per connection");
    std::string id = std::to_string(++next_sub_);
    subs_[id] = {topic, account};
    return id;
  }
  bool unsubscribe(const std::string& id) override { return subs_.erase(id) != 0; }

  void publish(const Block& block, const std::vector<Receipt>& receipts,
               const std::vector<Event>& block_events) override {
    if (closed_ || subs_.empty()) return;
    for (const auto& entry : subs_) {
      // Named, not a structured binding: the lambdas below capture them,
      // which clang accepts only from version 16 (Debian 12 has 14).
      const auto& id = entry.first;
      const auto& sub = entry.second;
      if (sub.topic == "blocks") {
        notify(id, sub.topic, [&](rapidjson::Value& r, JsonAlloc& a) {
          r.SetObject();
          r.AddMember("height", block.header.height, a);
          r.AddMember("hash", to_json(block.hash(), a), a);
          r.AddMember("state_root", to_json(block.header.state_root, a), a);
          r.AddMember("view", block.header.view, a);
          r.AddMember("txs", static_cast<std::uint64_t>(block.transactions.size()), a);
          r.AddMember("proposer", to_json(block.header.proposer, a), a);
        });
      } else if (sub.topic == "txs") {
        for (std::size_t i = 0; i < block.transactions.size() && i < receipts.size(); ++i) {
          const Transaction& tx = block.transactions[i];
          if (sub.account && !involves(tx, *sub.account)) continue;
          const Receipt& rc = receipts[i];
          notify(id, sub.topic, [&](rapidjson::Value& r, JsonAlloc& a) {
            r.SetObject();
            r.AddMember("hash", to_json(rc.tx_id, a), a);
            r.AddMember("height", rc.height, a);
            r.AddMember("index", rc.index, a);
            r.AddMember("sender", to_json(tx.sender, a), a);
            r.AddMember("type", rapidjson::StringRef(payload_name(tx.payload)), a);
            r.AddMember("ok", rc.ok, a);
            r.AddMember("reason", rapidjson::Value(rc.reason.c_str(), a), a);
          });
        }
      } else {  // tasks: events of transactions, then of the block's hooks (tx null)
        auto task_event = [&](const Event& e, const Hash256* tx) {
          if (e.kind.rfind("task", 0) != 0) return;
          notify(id, sub.topic, [&](rapidjson::Value& r, JsonAlloc& a) {
            r.SetObject();
            r.AddMember("height", block.header.height, a);
            r.AddMember("tx", tx ? to_json(*tx, a) : rapidjson::Value(), a);
            r.AddMember("kind", rapidjson::Value(e.kind.c_str(), a), a);
            rapidjson::Value attrs(rapidjson::kObjectType);
            for (const auto& [k, v] : e.attributes)
              attrs.AddMember(rapidjson::Value(k.c_str(), a), rapidjson::Value(v.c_str(), a), a);
            r.AddMember("attributes", attrs, a);
          });
        };
        for (const auto& rc : receipts)
          for (const auto& e : rc.events) task_event(e, &rc.tx_id);
        for (const auto& e : block_events) task_event(e, nullptr);
      }
    }
  }

 private:
  struct Sub {
    std::string topic;
    std::optional<PublicKey> account;
  };

  // Sent by or to `account` (any key among the payload's fields).
  static bool involves(const Transaction& tx, const PublicKey& account) {
    if (tx.sender == account) return true;
    bool found = false;
    std::visit(
        [&](const auto& body) {
          using T = std::decay_t<decltype(body)>;
          T::fields(body, [&](const char*, const auto& field) {
            if constexpr (std::is_same_v<std::decay_t<decltype(field)>, PublicKey>) found = found || field == account;
          });
        },
        tx.payload);
    return found;
  }

  template <class F>
  void notify(const std::string& id, const std::string& topic, F fill) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("jsonrpc", "2.0", a);
    d.AddMember("method", "subscription", a);
    rapidjson::Value params(rapidjson::kObjectType);
    params.AddMember("subscription", rapidjson::Value(id.c_str(), a), a);
    params.AddMember("topic", rapidjson::Value(topic.c_str(), a), a);
    rapidjson::Value result;
    fill(result, a);
    params.AddMember("result", result, a);
    d.AddMember("params", params, a);
    server_.stats_.notifications++;
    send(json_string(d));
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->server_.stats_.ws_messages++;
      std::string msg = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      CallContext ctx{self->server_.node_, &self->server_.waiters_, self.get(), self->may_write_};
      self->server_.dispatcher_.handle(msg, ctx, [weak = self->weak_from_this()](std::string answer) {
        auto s = weak.lock();
        if (s && !answer.empty()) s->send(std::move(answer));
      });
      self->read();
    });
  }

  void send(std::string text) {
    if (closed_) return;
    queued_bytes_ += text.size();
    if (queued_bytes_ > server_.limits_.ws_send_queue_bytes) {
      server_.stats_.ws_dropped_slow++;
      return close();
    }
    queue_.push_back(std::move(text));
    if (queue_.size() == 1) write_next();
  }

  void write_next() {
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->queued_bytes_ -= self->queue_.front().size();
      self->queue_.pop_front();
      if (!self->queue_.empty() && !self->closed_) self->write_next();
    });
  }

  Server& server_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::map<std::string, Sub> subs_;
  std::uint64_t next_sub_ = 0;
  std::uint64_t id_ = 0;
  bool closed_ = false;
  bool may_write_ = false;  // the upgrade request carried the token (or none is needed)
};

// --- HTTP -------------------------------------------------------------------------------

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Server& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

  void run() {
    id_ = server_.add_connection(weak_from_this());
    wait_for_request();
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    server_.remove_connection(id_);
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  // Idle until the first byte of the next request, then the whole request
  // within request_timeout.
  void wait_for_request() {
    if (buffer_.size() > 0) return read_request();
    stream_.expires_after(server_.limits_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->close();
      self->buffer_.commit(n);
      self->read_request();
    });
  }

  void read_request() {
    parser_.emplace();
    parser_->body_limit(server_.limits_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_.limits_.max_header_bytes));
    stream_.expires_after(server_.limits_.request_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || self->parser_->is_done()) return self->on_request(ec);
      // curl and others wait for this before sending a body over 1 KiB.
      if (beast::iequals(self->parser_->get()[http::field::expect], "100-continue")) {
        static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        return net::async_write(self->stream_, net::buffer(kContinue), [self](beast::error_code ec, std::size_t) {
          if (ec) return self->close();
          self->read_body();
        });
      }
      self->read_body();
    });
  }

  // The body, within the deadline the header started (a slow body is as
  // slow as a slow header).
  void read_body() {
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_request(ec);
    });
  }

  void on_request(beast::error_code ec) {
    if (closed_) return;
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted)
      return close();
    if (ec) {
      server_.stats_.bad_requests++;
      if (ec == beast::error::timeout) return close();  // a slow client gets nothing more
      if (ec == http::error::body_limit)
        return reply(http::status::payload_too_large,
                     error_body(kInvalidRequest, "request body larger than " +
                                                     std::to_string(server_.limits_.max_body_bytes) + " bytes"),
                     true);
      if (ec == http::error::header_limit)
        return reply(http::status::request_header_fields_too_large,
                     error_body(kInvalidRequest, "request headers larger than " +
                                                     std::to_string(server_.limits_.max_header_bytes) + " bytes"),
                     true);
      return reply(http::status::bad_request, error_body(kInvalidRequest, "malformed HTTP request: " + ec.message()),
                   true);
    }
    server_.stats_.http_requests++;
    req_ = parser_->release();
    version_ = req_.version();
    keep_alive_ = req_.keep_alive();
    const std::string target(req_.target());
    if (websocket::is_upgrade(req_)) {
      if (target != "/ws") return reply(http::status::not_found, error_body(kInvalidRequest, "WebSocket is on /ws"), true);
      auto ws = std::make_shared<WsSession>(server_, stream_.release_socket());
      closed_ = true;  // the socket now belongs to the WebSocket session
      server_.remove_connection(id_);
      ws->run(std::move(req_));
      return;
    }
    if (target == "/" && req_.method() == http::verb::post) {
      CallContext ctx{server_.node_, &server_.waiters_, nullptr, server_.may_write(authorization_of(req_))};
      // The answer may come later (send_tx_commit), when no read or write
      // holds the session: the callback keeps it alive until then.
      server_.dispatcher_.handle(req_.body(), ctx, [self = shared_from_this()](std::string answer) {
        if (self->closed_) return;
        if (answer.empty()) return self->reply(http::status::no_content, "", false);
        self->reply(http::status::ok, std::move(answer), false);
      });
      return;
    }
    if (target == "/health" && req_.method() == http::verb::get) {
      return reply(http::status::ok,
                   "{\"status\":\"ok\",\"height\":" + std::to_string(server_.node_.status().height) + "}", false);
    }
    if (target == "/metrics" && req_.method() == http::verb::get) {
      return reply(http::status::ok, server_.metrics_text(), false, "text/plain; version=0.0.4");
    }
    if (target == "/" || target == "/health" || target == "/metrics") {
      return reply(http::status::method_not_allowed,
                   error_body(kInvalidRequest, target == "/" ? "JSON-RPC takes POST" : target + " takes GET"), false);
    }
    reply(http::status::not_found,
          error_body(kInvalidRequest, "no such path: " + target + " (POST / for JSON-RPC, /ws, /health, /metrics)"),
          false);
  }

  void reply(http::status status, std::string body, bool close_after, const char* type = kJson) {
    auto res = std::make_shared<http::response<http::string_body>>(
        make_response(status, std::move(body), type, version_ ? version_ : 11));
    const bool close = close_after || !keep_alive_;
    res->keep_alive(!close);
    if (status == http::status::no_content) res->body().clear(), res->prepare_payload();
    stream_.expires_after(server_.limits_.request_timeout);
    const bool linger = close_after && status != http::status::request_timeout;
    http::async_write(stream_, *res, [self = shared_from_this(), res, close, linger](beast::error_code ec, std::size_t) {
      if (!ec && linger) return self->linger();
      if (ec || close) return self->close();
      self->wait_for_request();
    });
  }

  // After an error answer to a request we stopped reading (too large,
  // malformed), the client may still be sending: closing at once would make
  // its kernel discard our answer on the reset. So stop sending, read and
  // drop what still comes for a bounded time and size, then close (nginx's
  // lingering close).
  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(server_.limits_.request_timeout);
    drain(server_.limits_.max_body_bytes * 2);
  }
  void drain(std::size_t budget) {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(64 * 1024), [self = shared_from_this(), budget](beast::error_code ec,
                                                                                           std::size_t n) {
      if (ec || n >= budget) return self->close();
      self->buffer_.commit(n);
      self->drain(budget - n);
    });
  }

  Server& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> req_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  std::uint64_t id_ = 0;
  bool closed_ = false;
};

// --- server -------------------------------------------------------------------------------

Server::Server(net::io_context& io, NodeApi& node, ServerLimits limits)
    : io_(io),
      node_(node),
      limits_(limits),
      dispatcher_(node_methods(), limits.max_batch),
      waiters_(io, limits.max_commit_waiters),
      acceptor_(io) {}

Server::~Server() { stop(); }

Status Server::listen(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) return make_error("rpc-listen-failed", "cannot resolve " + host + ": " + ec.message());
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return make_error("rpc-listen-failed", "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  accept();
  return {};
}

void Server::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (stopped_ || !acceptor_.is_open()) return;
    if (!ec) {
      if (connections_.size() >= limits_.max_connections) {
        stats_.connections_refused++;
        auto s = std::make_shared<tcp::socket>(std::move(socket));
        static const std::string busy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
            "Content-Length: " +
            std::to_string(error_body(kUnavailable, "too many connections", "too-many-connections").size()) +
            "\r\n\r\n" + error_body(kUnavailable, "too many connections", "too-many-connections");
        net::async_write(*s, net::buffer(busy), [s](boost::system::error_code, std::size_t) {
          boost::system::error_code ignored;
          s->shutdown(tcp::socket::shutdown_both, ignored);
          s->close(ignored);
        });
      } else {
        stats_.connections_accepted++;
        std::make_shared<HttpSession>(*this, std::move(socket))->run();
      }
    }
    accept();
  });
}

Status check_auth_token(std::string_view token) {
  const std::size_t end = token.find_last_not_of('=');
  const std::string_view body = end == std::string_view::npos ? std::string_view() : token.substr(0, end + 1);
  if (body.size() < kMinAuthTokenChars)
    return make_error("bad-auth-token", "the token has " + std::to_string(body.size()) + " characters; at least " +
                                            std::to_string(kMinAuthTokenChars) +
                                            " are needed (make one with 'openssl rand -hex 32')");
  for (char c : body) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok)
      return make_error("bad-auth-token", "the token may hold only A-Z a-z 0-9 - . _ ~ + / and trailing '=' "
                                          "(make one with 'openssl rand -hex 32')");
  }
  return {};
}

bool secrets_equal(std::string_view a, std::string_view b) {
  const Hash256 ha = sha256(as_bytes(a)), hb = sha256(as_bytes(b));
  volatile std::uint8_t diff = 0;
  for (std::size_t i = 0; i < Hash256::size(); ++i) diff = diff | (ha.data[i] ^ hb.data[i]);
  return diff == 0;
}

bool Server::may_write(std::string_view authorization) const {
  if (auth_token_.empty()) return true;
  // RFC 6750: "Bearer" is case-insensitive, one space, then the token.
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return false;
  return secrets_equal(authorization.substr(scheme.size()), auth_token_);
}

std::uint64_t Server::add_connection(std::weak_ptr<Connection> c) {
  const std::uint64_t id = ++next_connection_;
  connections_[id] = std::move(c);
  return id;
}

void Server::remove_connection(std::uint64_t id) { connections_.erase(id); }

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  waiters_.cancel_all();
  auto all = connections_;
  for (auto& [id, weak] : all)
    if (auto c = weak.lock()) c->close();
  connections_.clear();
}

void Server::on_committed(const Block& block, const std::vector<Receipt>& receipts,
                          const std::vector<Event>& block_events) {
  waiters_.on_committed(receipts);
  auto all = connections_;
  for (auto& [id, weak] : all)
    if (auto c = weak.lock()) c->publish(block, receipts, block_events);
}

namespace {
void write_metric(std::ostringstream& o, const Metric& m) {
  o << "# HELP " << m.name << " " << m.help << "\n# TYPE " << m.name << " " << m.type << "\n";
  for (const auto& s : m.samples) {
    o << m.name;
    if (!s.labels.empty()) o << "{" << s.labels << "}";
    o << " " << std::setprecision(17) << s.value << "\n";
  }
}
}  // namespace

std::string Server::metrics_text() const {
  std::ostringstream o;
  for (const auto& m : node_.metrics()) write_metric(o, m);
  Metric calls{"verity_rpc_requests_total", "JSON-RPC calls received, by method", "counter", {}};
  for (const auto& [method, n] : dispatcher_.calls())
    calls.samples.push_back({"method=\"" + method + "\"", static_cast<double>(n)});
  write_metric(o, calls);
  write_metric(o, {"verity_rpc_connections", "open HTTP and WebSocket connections", "gauge",
                   {{"", static_cast<double>(connections_.size())}}});
  write_metric(o, {"verity_rpc_connections_refused_total", "connections refused over the limit", "counter",
                   {{"", static_cast<double>(stats_.connections_refused)}}});
  write_metric(o, {"verity_rpc_bad_requests_total", "malformed, oversized or timed-out HTTP requests", "counter",
                   {{"", static_cast<double>(stats_.bad_requests)}}});
  write_metric(o, {"verity_rpc_commit_waiters", "send_tx_commit calls waiting", "gauge",
                   {{"", static_cast<double>(waiters_.size())}}});
  return o.str();
}

}  // namespace verity::rpc
