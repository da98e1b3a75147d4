#include "rpc/server.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <cctype>
#include <deque>
#include <iomanip>
#include <limits>
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

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  virtual ~Connection() = default;
  virtual void close() = 0;
  // Since when the connection waits on its client with nothing in
  // progress (a new connection eviction may close to make room), or
  // nullopt while it is busy: reading or answering a request, a WebSocket
  // call in progress or a subscription.
  virtual std::optional<Clock::time_point> idle_since() = 0;
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

std::string_view sv(beast::string_view v) { return {v.data(), v.size()}; }

std::string_view authorization_of(const http::request<http::string_body>& req) {
  auto v = req[http::field::authorization];
  return {v.data(), v.size()};
}

// The client's IP address, for per-client limits ("unknown" once closed).
std::string remote_address(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("unknown") : ep.address().to_string();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Idle-since times in atomics, as nanoseconds of the steady clock: the
// dispatcher may report a WebSocket's activity from another thread.
constexpr std::int64_t kBusy = std::numeric_limits<std::int64_t>::min();
std::int64_t ticks(Clock::time_point t) { return t.time_since_epoch().count(); }
Clock::time_point from_ticks(std::int64_t n) { return Clock::time_point(Clock::duration(n)); }

}  // namespace

std::string client_address(const net::ip::address& a) {
  if (a.is_v4()) return a.to_v4().to_string();
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return net::ip::address_v6(bytes).to_string() + "/64";
}

std::string normalize_host(std::string_view host) {
  std::string h = lower(trim(host));
  if (h.size() > 1 && h.back() == '.') h.pop_back();  // "localhost." is localhost
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
  return h;
}

std::string host_of_header(std::string_view value) {
  value = trim(value);
  if (value.empty()) return {};
  if (value.front() == '[') {  // [v6]:port
    const auto close = value.find(']');
    return normalize_host(close == std::string_view::npos ? value : value.substr(0, close + 1));
  }
  const auto colon = value.rfind(':');
  return normalize_host(colon == std::string_view::npos ? value : value.substr(0, colon));
}

bool is_json_content_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  return lower(trim(content_type.substr(0, semicolon))) == "application/json";
}

// --- WebSocket ------------------------------------------------------------------------

class WsSession : public Connection, public Subscriber, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(Server& server, tcp::socket socket)
      : server_(server), client_(remote_address(socket)), ws_(std::move(socket)) {}

  // `address`: client_address() of the peer, for the per-address limits.
  void run(http::request<http::string_body> req, std::string address) {
    address_ = std::move(address);
    id_ = server_.add_connection(weak_from_this(), address_, /*websocket=*/true);
    may_write_ = server_.may_write(authorization_of(req));
    // Beast's suggested server timeouts: a peer that answers nothing, not
    // even its pings, for 300 s is closed. ws_idle_timeout (wait_idle) is
    // about messages: a pong proves a TCP peer, not a client's interest.
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(server_.limits_.max_body_bytes);
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->close();
      self->wait_idle(self->server_.limits_.ws_idle_timeout);
      self->read();
    });
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    server_.remove_connection(id_);
    {
      std::lock_guard lock(subs_mu_);
      server_.subscriptions_ -= subs_.size();
      subs_.clear();
    }
    idle_timer_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  // Idle: no subscription, no message waiting for its answer, nothing
  // being written; since the last message came or was answered.
  std::optional<Clock::time_point> idle_since() override {
    if (closed_ || pending_.load() > 0 || !queue_.empty()) return std::nullopt;
    {
      std::lock_guard lock(subs_mu_);
      if (!subs_.empty()) return std::nullopt;
    }
    return from_ticks(last_message_.load());
  }

  std::function<void()> on_message() override {
    pending_++;
    last_message_ = ticks(Clock::now());
    return [weak = weak_from_this()] {
      if (auto s = weak.lock()) {
        s->last_message_ = ticks(Clock::now());
        s->pending_--;
      }
    };
  }

  Result<std::string> subscribe(const std::string& topic, const std::optional<PublicKey>& account) override {
    if (topic != "blocks" && topic != "txs" && topic != "tasks")
      return make_error("invalid-params", "topic: expected blocks, txs or tasks, got '" + topic + "'");
    std::lock_guard lock(subs_mu_);  // handlers run on the handler threads
    if (subs_.size() >= server_.limits_.max_subscriptions)
      return make_error("too-many-subscriptions",
                        "at most " + std::to_string(server_.limits_.max_subscriptions) + " per connection");
    std::string id = std::to_string(++next_sub_);
    subs_[id] = {topic, account};
    server_.subscriptions_++;
    return id;
  }
  bool unsubscribe(const std::string& id) override {
    std::lock_guard lock(subs_mu_);
    if (subs_.erase(id) == 0) return false;
    server_.subscriptions_--;
    return true;
  }

  void publish(const Block& block, const std::vector<Receipt>& receipts,
               const std::vector<Event>& block_events) override {
    if (closed_) return;
    std::map<std::string, Sub> subs;
    {
      std::lock_guard lock(subs_mu_);
      subs = subs_;
    }
    for (const auto& entry : subs) {
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
          T::fields(body, [&](const char*, const auto& field, auto...) {
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
      ctx.client = self->client_;
      // Busy from now, not only once a handler thread takes the message (it
      // may wait in the pool's queue): an eviction must not pick it meanwhile.
      auto finished = self->on_message();
      // The handler may use the session (subscribe) while it runs: `self` keeps it.
      self->server_.dispatch(std::move(msg), ctx, self,
                             [weak = self->weak_from_this(), finished](std::string answer) {
                               auto s = weak.lock();
                               if (s && !answer.empty()) s->send(std::move(answer));
                               finished();
                             });
      self->read();
    });
  }

  // Closes the WebSocket once it has been idle (idle_since) for
  // ws_idle_timeout; one with subscriptions or a call in progress is
  // looked at again a timeout later.
  void wait_idle(Clock::duration after) {
    idle_timer_.expires_after(after);
    idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      const auto timeout = self->server_.limits_.ws_idle_timeout;
      const auto idle = self->idle_since();
      const auto now = Clock::now();
      if (idle && now - *idle >= timeout) {
        self->server_.count_ws_idle_closed();
        return self->close();
      }
      self->wait_idle(idle ? *idle + timeout - now : Clock::duration(timeout));
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
  std::string client_;  // before ws_: initialised from the socket before ws_ takes it
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::mutex subs_mu_;  // subscribe() runs on a handler thread, publish() on the server's
  std::map<std::string, Sub> subs_;
  std::uint64_t next_sub_ = 0;
  std::uint64_t id_ = 0;
  bool closed_ = false;
  bool may_write_ = false;  // the upgrade request carried the token (or none is needed)
  std::string address_;     // client_address(): the per-address limits
  std::atomic<int> pending_{0};  // messages not answered yet
  std::atomic<std::int64_t> last_message_{ticks(Clock::now())};
  net::steady_timer idle_timer_{ws_.get_executor()};
};

// --- HTTP -------------------------------------------------------------------------------

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Server& server, tcp::socket socket, std::string address)
      : server_(server), stream_(std::move(socket)), address_(std::move(address)) {}

  void run() {
    id_ = server_.add_connection(weak_from_this(), address_, /*websocket=*/false);
    wait_for_request();
  }

  // Idle while waiting for the first byte of a request (a new connection
  // too: one that never sends is the cheapest attack) and while lingering.
  std::optional<Clock::time_point> idle_since() override {
    const std::int64_t t = idle_since_.load();
    if (closed_ || t == kBusy) return std::nullopt;
    return from_ticks(t);
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
    idle_since_ = ticks(Clock::now());
    if (buffer_.size() > 0) return read_request();
    stream_.expires_after(server_.limits_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->close();
      self->buffer_.commit(n);
      self->read_request();
    });
  }

  void read_request() {
    idle_since_ = kBusy;
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
    if (!browser_checks_pass()) return;
    if (websocket::is_upgrade(req_)) {
      if (target != "/ws") return reply(http::status::not_found, error_body(kInvalidRequest, "WebSocket is on /ws"), true);
      // One address may hold max_websockets_per_ip: beyond, its own idlest
      // WebSocket makes room, else the upgrade is refused.
      const auto& limits = server_.limits_;
      if (server_.websockets_of(address_) >= limits.max_websockets_per_ip &&
          !server_.evict_idlest([this](const std::string& a, bool ws) { return ws && a == address_; },
                                kTooManyWebsockets)) {
        server_.count_refused(kTooManyWebsockets);
        return reply(http::status::too_many_requests,
                     error_body(kUnavailable, "too many WebSockets from your address", kTooManyWebsockets,
                                "at most " + std::to_string(limits.max_websockets_per_ip) +
                                    " per client address ([rpc] max_websockets_per_ip), and none of yours is idle"),
                     true);
      }
      auto ws = std::make_shared<WsSession>(server_, stream_.release_socket());
      closed_ = true;  // the socket now belongs to the WebSocket session
      server_.remove_connection(id_);
      ws->run(std::move(req_), address_);
      return;
    }
    if (target == "/" && req_.method() == http::verb::options) {
      // A CORS preflight (the origin is listed: browser_checks_pass), or a
      // plain question about the methods.
      if (!cors_origin_.empty())
        return reply(http::status::no_content, "", false, kJson,
                     {{http::field::access_control_allow_methods, "POST"},
                      {http::field::access_control_allow_headers, "Content-Type, Authorization"},
                      {http::field::access_control_max_age, "600"}});
      return reply(http::status::no_content, "", false, kJson, {{http::field::allow, "OPTIONS, POST"}});
    }
    // Only a type no page can send to another origin without a preflight:
    // a form or a no-cors fetch (text/plain, form encodings) cannot call.
    if (target == "/" && req_.method() == http::verb::post && !is_json_content_type(sv(req_[http::field::content_type])))
      return refuse_request(http::status::unsupported_media_type, "bad-content-type",
                            "JSON-RPC takes Content-Type: application/json, not '" +
                                printable(sv(req_[http::field::content_type])) + "'",
                            "send the header 'Content-Type: application/json' (curl: -H 'Content-Type: "
                            "application/json')");
    if (target == "/" && req_.method() == http::verb::post) {
      CallContext ctx{server_.node_, &server_.waiters_, nullptr, server_.may_write(authorization_of(req_))};
      ctx.client = remote_address(stream_.socket());
      // The answer may come later (send_tx_commit), when no read or write
      // holds the session: the callback keeps it alive until then.
      server_.dispatch(std::move(req_.body()), ctx, nullptr, [self = shared_from_this()](std::string answer) {
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
    if (req_.method() == http::verb::get && server_.pages_) {
      if (const Page* page = server_.pages_->find(target)) return reply_page(*page);
    }
    if (target == "/" || target == "/health" || target == "/metrics") {
      return reply(http::status::method_not_allowed,
                   error_body(kInvalidRequest, target == "/" ? "JSON-RPC takes POST" : target + " takes GET"), false,
                   kJson, {{http::field::allow, target == "/" ? "OPTIONS, POST" : "GET"}});
    }
    reply(http::status::not_found,
          error_body(kInvalidRequest, "no such path: " + target + " (POST / for JSON-RPC, /ws, /health, /metrics" +
                                          (!server_.pages_ ? "" : server_.pages_->find("/") ? ", GET / (the explorer), /worker"
                                                                                             : ", /worker") +
                                          ")"),
          false);
  }

  // The Host and Origin rules for browsers (docs/rpc-server.md,
  // "Browsers"); false when the request was refused (403).
  bool browser_checks_pass() {
    cors_origin_.clear();
    // DNS rebinding: a page of evil.example whose name comes to resolve to
    // 127.0.0.1 reaches this node with "Host: evil.example". Clients that
    // send no Host (HTTP/1.0) are no browser.
    const auto host = req_[http::field::host];
    if (!host.empty() && !server_.host_allowed({host.data(), host.size()})) {
      refuse_request(http::status::forbidden, "bad-host",
                     "Host '" + printable(host_of_header({host.data(), host.size()})) + "' is not a name of this node",
                     "add the name clients use for this node to [rpc] allowed_hosts in config.toml (\"*\": any "
                     "name, for a node behind a proxy that checks Host itself)");
      return false;
    }
    const auto origin = req_[http::field::origin];
    if (origin.empty()) return true;  // not a browser's cross-origin request
    const std::string_view o(origin.data(), origin.size());
    if (server_.origin_listed(o)) {
      cors_origin_ = std::string(o);
      return true;
    }
    // The node's own pages (same scheme-less host and port) need no listing.
    const std::string own = lower(std::string_view(host.data(), host.size()));
    const std::string given = lower(o);
    if (!own.empty() && (given == "http://" + own || given == "https://" + own)) return true;
    refuse_request(http::status::forbidden, "bad-origin", "Origin '" + printable(o) + "' may not call this node",
                   "pages of another site may call this node only when [rpc] cors_allowed_origins in config.toml "
                   "lists their origin");
    return false;
  }

  // A 403 or 415 for a request read whole: the connection stays.
  void refuse_request(http::status status, const char* reason, const std::string& message, const std::string& detail) {
    server_.count_request_refused(reason);
    reply(status, error_body(kInvalidRequest, message, reason, detail), false);
  }

  // A header's value as it may appear in an answer: printable ASCII, cut
  // at 100 characters (the answer must stay JSON).
  static std::string printable(std::string_view v) {
    std::string out;
    for (char c : v.substr(0, 100)) out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
    return out;
  }

  void reply(http::status status, std::string body, bool close_after, const char* type = kJson,
             std::initializer_list<std::pair<http::field, std::string_view>> headers = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(
        make_response(status, std::move(body), type, version_ ? version_ : 11));
    for (const auto& [field, value] : headers) res->set(field, beast::string_view(value.data(), value.size()));
    if (!cors_origin_.empty()) {
      res->set(http::field::access_control_allow_origin, cors_origin_);
      res->set(http::field::vary, "Origin");
    }
    if (status == http::status::no_content) res->body().clear(), res->prepare_payload();
    write_response(res, close_after, close_after && status != http::status::request_timeout);
  }

  void write_response(const std::shared_ptr<http::response<http::string_body>>& res, bool close_after, bool linger) {
    const bool close = close_after || !keep_alive_;
    res->keep_alive(!close);
    stream_.expires_after(server_.limits_.request_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, close, linger](beast::error_code ec, std::size_t) {
      if (!ec && linger) return self->linger();
      if (ec || close) return self->close();
      self->wait_for_request();
    });
  }

  // A static page (rpc/pages.h), with its security headers.
  void reply_page(const Page& page) {
    auto res = std::make_shared<http::response<http::string_body>>(
        make_response(http::status::ok, page.body, page.content_type.c_str(), version_ ? version_ : 11));
    for (const auto& [name, value] : Pages::security_headers())
      res->set(beast::string_view(name.data(), name.size()), beast::string_view(value.data(), value.size()));
    write_response(res, false, false);
  }

  // After an error answer to a request we stopped reading (too large,
  // malformed), the client may still be sending: closing at once would make
  // its kernel discard our answer on the reset. So stop sending, read and
  // drop what still comes for a bounded time and size, then close (nginx's
  // lingering close).
  void linger() {
    idle_since_ = ticks(Clock::now());  // on its way out: evictable
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
  std::string address_;  // client_address(): the per-address limits
  std::atomic<std::int64_t> idle_since_{kBusy};
  // The request's Origin when listed in cors_allowed_origins: echoed in
  // Access-Control-Allow-Origin.
  std::string cors_origin_;
};

// --- server -------------------------------------------------------------------------------

Server::Server(net::io_context& io, NodeApi& node, ServerLimits limits, net::thread_pool* handlers,
               net::thread_pool* light_handlers)
    : io_(io),
      node_(node),
      handlers_(handlers),
      light_handlers_(light_handlers),
      limits_(limits),
      dispatcher_(node_methods(), limits.max_batch),
      waiters_(io, limits.max_commit_waiters),
      acceptor_(io) {}

Server::~Server() {
  stop();
  close_connections();  // what stop() left to io_, which may not run again
  alive_.reset();
}

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
  // The names a browser may reach this node by: loopback, the listen
  // host unless it is a wildcard, and the configured ones.
  allowed_hosts_ = {"localhost", "127.0.0.1", "[::1]"};
  if (address.is_unspecified()) {
    // 0.0.0.0 or [::]: no one reaches the node by that name
  } else {
    allowed_hosts_.insert(normalize_host(host));
  }
  for (const auto& h : limits_.allowed_hosts) {
    if (h == "*") any_host_ = true;
    allowed_hosts_.insert(normalize_host(h));
  }
  for (const auto& o : limits_.cors_allowed_origins) {
    if (o == "*") any_origin_ = true;
    std::string origin = lower(trim(o));
    while (!origin.empty() && origin.back() == '/') origin.pop_back();
    allowed_origins_.insert(origin);
  }
  accept();
  return {};
}

void Server::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (stopped_ || !acceptor_.is_open()) return;
    if (!ec) admit(std::move(socket));
    accept();
  });
}

namespace {
// Answers a connection that is not let in, and closes it.
void refuse_connection(tcp::socket socket, http::status status, const char* reason, const std::string& detail) {
  const std::string body = error_body(kUnavailable, "too many connections", reason, detail);
  auto res = std::make_shared<http::response<http::string_body>>(make_response(status, body, kJson, 11));
  res->keep_alive(false);
  auto s = std::make_shared<tcp::socket>(std::move(socket));
  http::async_write(*s, *res, [s, res](boost::system::error_code, std::size_t) {
    boost::system::error_code ignored;
    s->shutdown(tcp::socket::shutdown_both, ignored);
    s->close(ignored);
  });
}
}  // namespace

void Server::admit(tcp::socket socket) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return;  // gone already
  const std::string address = client_address(peer.address());
  // Per address first: a client over its share makes room among its own
  // connections, never among others'.
  auto counted = per_address_.find(address);
  if (counted != per_address_.end() && counted->second.connections >= limits_.max_connections_per_ip &&
      !evict_idlest([&](const std::string& a, bool) { return a == address; }, kTooManyFromAddress)) {
    count_refused(kTooManyFromAddress);
    return refuse_connection(std::move(socket), http::status::too_many_requests, kTooManyFromAddress,
                             "at most " + std::to_string(limits_.max_connections_per_ip) +
                                 " connections per client address ([rpc] max_connections_per_ip), and none of "
                                 "yours is idle");
  }
  if (connections_.size() >= limits_.max_connections &&
      !evict_idlest([](const std::string&, bool) { return true; }, kTooManyConnections)) {
    count_refused(kTooManyConnections);
    return refuse_connection(std::move(socket), http::status::service_unavailable, kTooManyConnections,
                             "the node serves " + std::to_string(limits_.max_connections) +
                                 " connections at once ([rpc] max_connections) and every one is in use; retry");
  }
  stats_.connections_accepted++;
  std::make_shared<HttpSession>(*this, std::move(socket), address)->run();
}

template <class Match>
bool Server::evict_idlest(Match match, const char* reason) {
  std::shared_ptr<Connection> idlest;
  Clock::time_point since = Clock::time_point::max();
  for (const auto& [id, weak] : connections_) {
    const auto& info = info_.at(id);
    if (!match(info.address, info.websocket)) continue;
    auto c = weak.lock();
    if (!c) continue;
    if (auto idle = c->idle_since(); idle && *idle < since) {
      since = *idle;
      idlest = std::move(c);
    }
  }
  if (!idlest) return false;
  stats_.evicted[reason]++;
  idlest->close();
  return true;
}

void Server::count_refused(const char* reason) {
  stats_.connections_refused++;
  stats_.refused[reason]++;
}
void Server::count_request_refused(const char* reason) { stats_.requests_refused[reason]++; }
void Server::count_ws_idle_closed() { stats_.ws_idle_closed++; }

std::size_t Server::websockets_of(const std::string& address) const {
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second.websockets;
}

std::size_t Server::idle_connections() const {
  std::size_t n = 0;
  for (const auto& [id, weak] : connections_)
    if (auto c = weak.lock(); c && c->idle_since()) ++n;
  return n;
}

bool Server::host_allowed(std::string_view host_header) const {
  return any_host_ || allowed_hosts_.count(host_of_header(host_header)) != 0;
}

bool Server::origin_listed(std::string_view origin) const {
  return any_origin_ || allowed_origins_.count(lower(trim(origin))) != 0;
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

std::uint64_t Server::add_connection(std::weak_ptr<Connection> c, const std::string& address, bool websocket) {
  const std::uint64_t id = ++next_connection_;
  connections_[id] = std::move(c);
  info_[id] = {address, websocket};
  auto& n = per_address_[address];
  n.connections++;
  if (websocket) n.websockets++;
  return id;
}

void Server::remove_connection(std::uint64_t id) {
  auto info = info_.find(id);
  if (info == info_.end()) return;
  auto n = per_address_.find(info->second.address);
  n->second.connections--;
  if (info->second.websocket) n->second.websockets--;
  if (n->second.connections == 0) per_address_.erase(n);
  info_.erase(info);
  connections_.erase(id);
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  // Waiting calls answer "shutting-down"; the answers reach their sessions
  // through io_ (dispatch), so the sessions close after them, once those
  // are on their way: a client waiting on send_tx_commit learns why.
  waiters_.cancel_all();
  net::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.expired()) close_connections();
  });
}

void Server::close_connections() {
  auto all = connections_;
  for (auto& [id, weak] : all)
    if (auto c = weak.lock()) c->close();
  connections_.clear();
  info_.clear();
  per_address_.clear();
}

void Server::dispatch(std::string body, CallContext ctx, std::shared_ptr<void> keep,
                      std::function<void(std::string)> done) {
  // The answer goes back to the server's thread, which owns the sessions.
  auto answer = [this, done = std::move(done)](std::string text) {
    net::post(io_, [done, text = std::move(text)]() mutable { done(std::move(text)); });
  };
  if (!handlers_) return dispatcher_.handle(body, ctx, std::move(answer));
  // Small bodies (status, reads) never queue behind large ones (transactions
  // carrying modules, which a flood may pile up).
  net::thread_pool& pool = light_handlers_ && body.size() <= kLightBodyBytes ? *light_handlers_ : *handlers_;
  net::post(pool, [this, body = std::move(body), ctx, keep = std::move(keep), answer = std::move(answer)]() mutable {
    dispatcher_.handle(body, ctx, std::move(answer));
  });
}

void Server::on_committed(const Block& block, const std::vector<Receipt>& receipts,
                          const std::vector<Event>& block_events) {
  // From the node's consensus thread: copy and hand over to the server's
  // thread, so that no client, however slow, holds up a commit. Only what
  // someone waits for is copied (a block of 10,000 transfers is megabytes).
  const bool subscribed = subscriptions_ > 0;
  if (!subscribed && waiters_.size() == 0) return;
  auto b = std::make_shared<const Block>(subscribed ? block : Block{});
  auto r = std::make_shared<const std::vector<Receipt>>(receipts);
  auto e = std::make_shared<const std::vector<Event>>(subscribed ? block_events : std::vector<Event>{});
  net::post(io_, [this, b, r, e] {
    if (stopped_) return;
    waiters_.on_committed(*r);
    auto all = connections_;
    if (b->header.height == 0) return;  // nobody was subscribed
    for (auto& [id, weak] : all)
      if (auto c = weak.lock()) c->publish(*b, *r, *e);
  });
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
  std::size_t websockets = 0;
  for (const auto& [id, info] : info_) websockets += info.websocket ? 1 : 0;
  write_metric(o, {"verity_rpc_websockets", "open WebSocket connections", "gauge",
                   {{"", static_cast<double>(websockets)}}});
  // Every reason, zeros included: a series that appears only once it
  // counts is hard to alert on.
  auto by_reason = [](const std::map<std::string, std::uint64_t>& counts, std::initializer_list<const char*> reasons) {
    std::vector<Metric::Sample> samples;
    for (const char* r : reasons) {
      auto it = counts.find(r);
      samples.push_back({std::string("reason=\"") + r + "\"", static_cast<double>(it == counts.end() ? 0 : it->second)});
    }
    return samples;
  };
  const auto connection_reasons = {kTooManyConnections, kTooManyFromAddress, kTooManyWebsockets};
  write_metric(o, {"verity_rpc_connections_refused_total",
                   "connections refused (503, 429) because a limit was reached and none of the connections it "
                   "counts was idle, by reason",
                   "counter", by_reason(stats_.refused, connection_reasons)});
  write_metric(o, {"verity_rpc_connections_evicted_total",
                   "idle connections closed to make room for a new one, by the limit that was reached", "counter",
                   by_reason(stats_.evicted, connection_reasons)});
  write_metric(o, {"verity_rpc_websocket_idle_closed_total",
                   "WebSockets without subscriptions closed after ws_idle_timeout without a message", "counter",
                   {{"", static_cast<double>(stats_.ws_idle_closed)}}});
  write_metric(o, {"verity_rpc_requests_refused_total",
                   "HTTP requests refused for browser safety (403 bad-host, bad-origin; 415 bad-content-type)",
                   "counter", by_reason(stats_.requests_refused, {"bad-host", "bad-origin", "bad-content-type"})});
  write_metric(o, {"verity_rpc_bad_requests_total", "malformed, oversized or timed-out HTTP requests", "counter",
                   {{"", static_cast<double>(stats_.bad_requests)}}});
  write_metric(o, {"verity_rpc_commit_waiters", "send_tx_commit calls waiting", "gauge",
                   {{"", static_cast<double>(waiters_.size())}}});
  return o.str();
}

}  // namespace verity::rpc
