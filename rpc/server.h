#pragma once
// The node's HTTP/1.1 server (Boost.Beast), on the node's io_context thread:
//
//   POST /        JSON-RPC 2.0 (rpc/jsonrpc.h, methods in rpc/methods.h)
//   GET  /ws      WebSocket upgrade: the same calls, plus subscribe/unsubscribe
//   GET  /health  200 {"status":"ok","height":N}
//   GET  /metrics Prometheus text format
//
// Limits (ServerLimits, from the [rpc] config section), so that no client
// can stall another or grow the node's memory:
//   - a request body over max_body_bytes: 413 and the connection closes;
//     headers over max_header_bytes: 431 and close; bytes that are not
//     HTTP: 400 and close;
//   - a request must arrive whole within request_timeout of its first byte
//     (a slowloris client is cut off), and a response must be taken within
//     request_timeout too; a keep-alive connection with no request for
//     idle_timeout is closed;
//   - at most max_connections at once (HTTP and WebSocket together); more
//     are answered 503 and closed;
//   - batches of at most max_batch calls; send_tx_commit waiters are bounded;
//   - a WebSocket client whose unsent notifications exceed
//     ws_send_queue_bytes (it reads too slowly) is disconnected.
// Everything is asynchronous on one thread: a slow or malicious client
// holds only its own connection.

#include <utility>  // before Boost.Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "rpc/commit_waiters.h"
#include "rpc/jsonrpc.h"

namespace verity::rpc {

struct ServerLimits {
  std::size_t max_body_bytes = 5 * 1024 * 1024;  // a 2 MiB transaction as hex, with room
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_batch = 100;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_connections = 256;
  std::size_t max_subscriptions = 32;  // per WebSocket connection
  std::size_t ws_send_queue_bytes = 16 * 1024 * 1024;
  std::size_t max_commit_waiters = 10'000;
};

struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // over max_connections
  std::uint64_t http_requests = 0;
  std::uint64_t bad_requests = 0;  // malformed, oversized or timed out
  std::uint64_t ws_messages = 0;
  std::uint64_t ws_dropped_slow = 0;
  std::uint64_t notifications = 0;
};

class Connection;

class Server {
 public:
  Server(boost::asio::io_context& io, NodeApi& node, ServerLimits limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Reason "rpc-listen-failed".
  Status listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const { return port_; }
  // Closes the listener and every connection; waiting calls get "shutting-down".
  void stop();

  // The node calls this after each committed block: answers send_tx_commit
  // and notifies WebSocket subscribers. `block_events`: what the block's
  // hooks emitted (task assignment and settlement), in no receipt.
  void on_committed(const Block& block, const std::vector<Receipt>& receipts,
                    const std::vector<Event>& block_events = {});

  // From now on, methods that write (Method::writes: send_tx,
  // send_tx_commit) need the header "Authorization: Bearer TOKEN" with this
  // token, on HTTP and on the WebSocket's upgrade request; others get
  // -32005 "unauthorized". Reads, /health and /metrics stay open. Empty:
  // no token (the default).
  void set_auth_token(std::string token) { auth_token_ = std::move(token); }
  // Whether a request with this Authorization header value may write.
  bool may_write(std::string_view authorization) const;

  std::string metrics_text() const;
  const ServerStats& stats() const { return stats_; }
  std::size_t open_connections() const { return connections_.size(); }

 private:
  friend class HttpSession;
  friend class WsSession;
  void accept();
  std::uint64_t add_connection(std::weak_ptr<Connection> c);
  void remove_connection(std::uint64_t id);

  boost::asio::io_context& io_;
  NodeApi& node_;
  ServerLimits limits_;
  Dispatcher dispatcher_;
  CommitWaiters waiters_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  std::uint64_t next_connection_ = 0;
  std::map<std::uint64_t, std::weak_ptr<Connection>> connections_;
  ServerStats stats_;
  std::string auth_token_;
};

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
