#pragma once
// The peer-to-peer transport: authenticated, encrypted, framed links between
// nodes. It carries opaque typed frames; what they mean is the caller's
// business (consensus messages, transactions, sync).
//
// Three files: node/p2p_wire.h (the protocol on the wire: link,
// authentication, Hello, frames, peer addresses), node/p2p_tls.h (the
// OpenSSL set-up) and this one (the connection manager, P2P).
//
// Connections. Self-connections are dropped (and a persistent address that
// leads to ourselves is no longer dialled). At most one authenticated
// connection per node key: when both sides dialled each other, the
// connection dialled by the side with the smaller node key is kept and the
// other closed, and both sides make the same choice; when two connections
// to one key were dialled in the same direction, the newer one is kept (the
// older is most likely half-open, e.g. after the peer restarted). The
// handler sees a replaced link as on_disconnected for the old one, then
// on_connected for the new one. Inbound connections, authenticated or
// still handshaking, are limited to max_inbound_peers; further ones are
// closed at once. Sockets use
// TCP_NODELAY and TCP keep-alive (idle 30 s, then 3 probes 10 s apart) so
// that a dead peer is noticed even when we have nothing to send.
//
// Persistent peers ("host:port" or "NODEKEYHEX@host:port", then the
// authenticated node key must match or the link is dropped) are dialled at
// start and redialled for ever, with exponential backoff from redial_min,
// doubling to redial_max, each delay jittered down by up to 25% so that
// restarted nodes do not redial in lock step; the backoff resets after a
// successful handshake. A persistent peer already connected (in either
// direction, known by its expected or last authenticated key) is not
// dialled again until that connection closes.
//
// Sending. Each peer has a send queue bounded in bytes
// (max_send_queue_bytes); send() returns false and counts the drop when the
// frame does not fit, rather than growing memory. Writes are sequential per
// peer (one async_write at a time); a broadcast frame is encoded once and
// shared by every queue.
//
// Not done here (yet): application-level pings or idle timeouts (an
// authenticated peer that stays silent keeps its link), peer exchange and
// address books, per-peer rate limits.
//
// Threading. Everything runs on ONE thread that runs the io_context given
// to the constructor; handler callbacks are called on it. The public
// methods are not thread-safe: call them on that thread (or before it
// runs), and from elsewhere through boost::asio::post. stop() closes every
// socket and cancels every timer so that io_context::run() returns once the
// aborted operations have completed.
//
// Counters: dropped_peers counts connections this node closed because of
// the peer (every "peer-dropped" line: failed or timed-out handshake, bad
// Hello, wrong key or chain, bad frame, self-connection, inbound limit,
// disconnect()); not stop(), not duplicates, not the remote closing.
// frames_* count frames of types 1..255 and bytes_* their whole size
// (length, type, body); not Hellos, not TLS overhead.
//
// One link per node key, but for one case: a node key that links from a
// second address (another host, or another announced listen port) is a
// second instance of one home; both links stay, and "node-key-twice" is
// logged once a minute (node_key_twice counts them).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/result.h"
#include "node/log.h"
#include "node/p2p_wire.h"
#include "node/transport.h"

namespace verity::node {

// ---------------------------------------------------------------- transport

struct P2PConfig {
  std::string chain_id;
  SecretKey node_key;                       // identifies this node on the network
  std::optional<SecretKey> validator_key;   // presented in the Hello when set
  std::string listen_host = "127.0.0.1";    // an IP address
  std::uint16_t listen_port = 0;            // 0: the OS picks (tests)
  std::vector<PeerAddress> persistent_peers;
  std::size_t max_frame_bytes = p2p::kDefaultMaxFrameBytes;  // type byte + body
  std::size_t max_send_queue_bytes = 64 * 1024 * 1024;       // per peer
  std::size_t max_inbound_peers = 40;
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds redial_min{250};
  std::chrono::milliseconds redial_max{30000};

  explicit P2PConfig(SecretKey key) : node_key(std::move(key)) {}
};

// The production Transport (node/transport.h).
class P2P final : public Transport {
 public:
  using Counters = TransportCounters;

  P2P(boost::asio::io_context& io, P2PConfig config, P2PHandler& handler, Logger& logger);
  // Stops without calling the handler (it may already be gone).
  ~P2P() override;
  P2P(const P2P&) = delete;
  P2P& operator=(const P2P&) = delete;

  // Validates the config ("bad-p2p-config"), creates the TLS identity
  // ("tls-setup-failed"), binds and listens ("listen-failed" with the OS
  // reason), and starts dialling the persistent peers. Once only
  // ("p2p-already-started").
  Status start() override;
  // Closes every connection (calling on_disconnected for each connected
  // peer), the listener and every timer. Idempotent; no restart.
  void stop() override;
  // Adds a persistent peer at run time (before start(): to the config);
  // it is dialled at once. Reasons "bad-peer-address", "p2p-stopped".
  Status add_persistent_peer(const PeerAddress& address);

  std::uint16_t listen_port() const override;  // the bound port after start(), else 0
  const PublicKey& node_key() const override;

  // Queues a frame (type 1..255) to an authenticated peer. False when the
  // peer is unknown, the type is 0, the frame exceeds max_frame_bytes, or
  // the peer's send queue is full (counted in send_queue_full).
  bool send(std::uint64_t peer, std::uint8_t type, ByteView body) override;
  // Sends to every authenticated peer but `except`; returns how many took it.
  std::size_t broadcast(std::uint8_t type, ByteView body, std::optional<std::uint64_t> except = {}) override;
  // Drops a peer (e.g. for misbehaviour found above the transport).
  void disconnect(std::uint64_t peer, std::string_view reason) override;

  // The connected peer that proved this validator key (lowest id if several).
  std::optional<std::uint64_t> peer_with_validator(const PublicKey& key) const override;
  std::optional<PeerInfo> peer(std::uint64_t id) const;
  std::vector<PeerInfo> peers() const override;  // authenticated, by id
  Counters counters() const override;   // safe from any thread

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace verity::node
