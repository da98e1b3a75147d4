#pragma once
// The node's HTTP/1.1 server (Boost.Beast), on the node's io_context thread:
//
//   POST /        JSON-RPC 2.0 (rpc/jsonrpc.h, methods in rpc/methods.h)
//   OPTIONS /     CORS preflight, for the origins in cors_allowed_origins
//   GET  /ws      WebSocket upgrade: the same calls, plus subscribe/unsubscribe
//   GET  /health  200 {"status":"ok","height":N}
//   GET  /metrics Prometheus text format
//   GET  /worker  the browser worker page, and any other static page set
//                 with set_pages (rpc/pages.h)
//
// Limits (ServerLimits, from the [rpc] config section), so that no client
// can stall another or grow the node's memory:
//   - a request body over max_body_bytes: 413 and the connection closes;
//     headers over max_header_bytes: 431 and close; bytes that are not
//     HTTP: 400 and close;
//   - a request must arrive whole within request_timeout of its first byte
//     (a slowloris client is cut off), and a response must be taken within
//     request_timeout too; a keep-alive connection with no request for
//     idle_timeout is closed; a WebSocket without subscriptions that sends
//     no message (a ping or a pong is not one) for ws_idle_timeout is closed;
//   - at most max_connections at once (HTTP and WebSocket together). When
//     full, a new connection closes the connection idle longest (connected
//     with no byte yet, a keep-alive connection between requests, a
//     WebSocket without subscriptions or calls in progress), so a client
//     holding silent sockets cannot lock others out; only when none is idle
//     is the new one answered 503 and closed;
//   - at most max_connections_per_ip from one client address (IPv6: one
//     /64) and max_websockets_per_ip WebSockets: beyond them the address's
//     own idlest connection is closed, else 429;
//   - batches of at most max_batch calls; send_tx_commit waiters are bounded;
//   - a WebSocket client whose unsent notifications exceed
//     ws_send_queue_bytes (it reads too slowly) is disconnected.
// Browser pages (docs/rpc-server.md, "Browsers"): a Host header must name
// this node (allowed_hosts; against DNS rebinding), an Origin header must be
// this node's or in cors_allowed_origins (403 otherwise), and a POST must
// say Content-Type: application/json (415), which no page can send to
// another origin without a CORS preflight.
// Everything is asynchronous on one thread: a slow or malicious client
// holds only its own connection.

#include <utility>  // before Boost.Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rpc/commit_waiters.h"
#include "rpc/jsonrpc.h"
#include "rpc/pages.h"

namespace verity::rpc {

struct ServerLimits {
  std::size_t max_body_bytes = 5 * 1024 * 1024;  // a 2 MiB transaction as hex, with room
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_batch = 100;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_connections = 256;
  // From one client address (an IPv4 address, an IPv6 /64). Behind a
  // reverse proxy every client has the proxy's address: raise these there.
  std::size_t max_connections_per_ip = 32;
  std::size_t max_websockets_per_ip = 16;
  // A WebSocket without subscriptions and without a call in progress that
  // sends no data message for this long is closed (pings and pongs do not
  // count: they keep a TCP connection alive, not a client's interest).
  std::chrono::milliseconds ws_idle_timeout{300'000};
  std::size_t max_subscriptions = 32;  // per WebSocket connection
  std::size_t ws_send_queue_bytes = 16 * 1024 * 1024;
  std::size_t max_commit_waiters = 10'000;
  // Host header values (port stripped; case-insensitive; IPv6 in brackets)
  // the server answers, besides localhost, 127.0.0.1, [::1] and the host it
  // listens on; "*": any. Other hosts get 403 "bad-host".
  std::vector<std::string> allowed_hosts;
  // Origins ("https://wallet.example", "http://localhost:3000") whose pages
  // may call the node: CORS answers, and WebSocket upgrades; "*": any. A
  // request with another Origin (not this node's own) gets 403 "bad-origin".
  std::vector<std::string> cors_allowed_origins;
};

// Why a connection was refused (an HTTP 503 or 429 and close) or evicted
// (an idle one closed to make room): the error's data.reason, and the
// `reason` label of the metrics.
inline constexpr const char* kTooManyConnections = "too-many-connections";               // max_connections
inline constexpr const char* kTooManyFromAddress = "too-many-connections-from-address";  // max_connections_per_ip
inline constexpr const char* kTooManyWebsockets = "too-many-websockets-from-address";    // max_websockets_per_ip

struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // every reason
  std::map<std::string, std::uint64_t> refused;  // by reason (kTooMany...)
  std::map<std::string, std::uint64_t> evicted;  // idle connections closed to make room, by reason
  std::uint64_t ws_idle_closed = 0;              // WebSockets closed after ws_idle_timeout
  // Requests answered 403 or 415: "bad-host", "bad-origin", "bad-content-type".
  std::map<std::string, std::uint64_t> requests_refused;
  std::uint64_t http_requests = 0;
  std::uint64_t bad_requests = 0;  // malformed, oversized or timed out
  std::uint64_t ws_messages = 0;
  std::uint64_t ws_dropped_slow = 0;
  std::uint64_t notifications = 0;
};

class Connection;

class Server {
 public:
  // The server's sessions, timers and subscriptions live on `io`'s thread
  // (one thread: the server has no locks of its own). JSON-RPC calls run on
  // `handlers` when given (verityd: a pool as large as the machine), so a
  // slow call holds up no other client; without it, on `io`'s thread.
  // With `light_handlers` too, bodies of at most kLightBodyBytes run there
  // and larger ones on `handlers`, so a flood of large requests never delays
  // small ones.
  Server(boost::asio::io_context& io, NodeApi& node, ServerLimits limits = {},
         boost::asio::thread_pool* handlers = nullptr, boost::asio::thread_pool* light_handlers = nullptr);
  static constexpr std::size_t kLightBodyBytes = 16 * 1024;
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Reason "rpc-listen-failed".
  Status listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const { return port_; }
  // Closes the listener and every connection; waiting calls get "shutting-down".
  void stop();

  // The node calls this after each committed block, from any thread: it
  // copies what it needs and returns; the server's thread then answers
  // send_tx_commit and notifies WebSocket subscribers. `block_events`: what the block's
  // hooks emitted (task assignment and settlement), in no receipt.
  void on_committed(const Block& block, const std::vector<Receipt>& receipts,
                    const std::vector<Event>& block_events = {});

  // From now on, methods that write (Method::writes: send_tx,
  // send_tx_commit) need the header "Authorization: Bearer TOKEN" with this
  // token, on HTTP and on the WebSocket's upgrade request; others get
  // -32005 "unauthorized". Reads, /health and /metrics stay open. Empty:
  // no token (the default).
  void set_auth_token(std::string token) { auth_token_ = std::move(token); }
  // Serves these static pages on GET (rpc/pages.h); before listen().
  void set_pages(std::shared_ptr<const Pages> pages) { pages_ = std::move(pages); }
  // Whether a request with this Authorization header value may write.
  bool may_write(std::string_view authorization) const;

  std::string metrics_text() const;
  const ServerStats& stats() const { return stats_; }
  std::size_t open_connections() const { return connections_.size(); }
  // Connections that a new one may evict now (idle_since() set).
  std::size_t idle_connections() const;

 private:
  friend class HttpSession;
  friend class WsSession;
  void accept();
  // Runs a request body on the handler pool; `done` runs on io's thread;
  // `keep` is held until the handler returns.
  void dispatch(std::string body, CallContext ctx, std::shared_ptr<void> keep, std::function<void(std::string)> done);
  // Registers an accepted socket, making room first (eviction) or refusing it.
  void admit(boost::asio::ip::tcp::socket socket);
  std::uint64_t add_connection(std::weak_ptr<Connection> c, const std::string& address, bool websocket);
  void remove_connection(std::uint64_t id);
  void close_connections();
  // Closes the idlest connection for which `match(address, websocket)`
  // holds, counting it under `reason`; false when none is idle.
  template <class Match>
  bool evict_idlest(Match match, const char* reason);
  std::size_t websockets_of(const std::string& address) const;
  void count_refused(const char* reason);
  void count_request_refused(const char* reason);
  void count_ws_idle_closed();
  bool host_allowed(std::string_view host_header) const;
  bool origin_listed(std::string_view origin) const;

  boost::asio::io_context& io_;
  NodeApi& node_;
  boost::asio::thread_pool* handlers_;
  boost::asio::thread_pool* light_handlers_;
  std::atomic<std::size_t> subscriptions_{0};  // over every WebSocket
  ServerLimits limits_;
  Dispatcher dispatcher_;
  CommitWaiters waiters_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  std::uint64_t next_connection_ = 0;
  std::map<std::uint64_t, std::weak_ptr<Connection>> connections_;
  // Beside connections_ (same ids): whose each is, and its kind.
  struct ConnectionInfo {
    std::string address;  // client_address() of the peer
    bool websocket = false;
  };
  std::map<std::uint64_t, ConnectionInfo> info_;
  struct AddressCount {
    std::size_t connections = 0;
    std::size_t websockets = 0;
  };
  std::map<std::string, AddressCount> per_address_;
  std::set<std::string> allowed_hosts_;  // normalised (normalize_host)
  bool any_host_ = false;
  std::set<std::string> allowed_origins_;  // lower case, no trailing '/'
  bool any_origin_ = false;
  ServerStats stats_;
  std::string auth_token_;
  std::shared_ptr<const Pages> pages_;
  // Expires with the server: what stop() posts to io_ runs only while it lives.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// The key per-address limits count under: an IPv4 address as is (also
// when mapped into IPv6), an IPv6 address as its /64 ("2001:db8:1:2::/64"),
// since one host commonly holds a whole /64.
std::string client_address(const boost::asio::ip::address& a);

// A host as allowed_hosts holds it: lower case, no trailing dot, an IPv6
// address in brackets ("::1" -> "[::1]").
std::string normalize_host(std::string_view host);
// The host of a Host header value, port stripped, normalised ("" if empty).
std::string host_of_header(std::string_view host_header);
// Whether a Content-Type header value is application/json (any parameters,
// any case).
bool is_json_content_type(std::string_view content_type);

// A token the server accepts: at least 32 characters of RFC 6750's token68
// alphabet (A-Z a-z 0-9 - . _ ~ + / and trailing =), so that it fits the
// header as is and cannot be guessed (`openssl rand -hex 32`). Reason
// "bad-auth-token".
inline constexpr std::size_t kMinAuthTokenChars = 32;
Status check_auth_token(std::string_view token);

// Compares two secrets in time that depends on neither (their SHA-256
// digests, byte by byte, without an early exit): a client timing the
// answers learns nothing about how much of its guess was right.
bool secrets_equal(std::string_view a, std::string_view b);

}  // namespace verity::rpc
