#pragma once
// The peer-to-peer transport: authenticated, encrypted, framed links between
// nodes. It carries opaque typed frames; what they mean is the caller's
// business (consensus messages, transactions, sync).
//
// Link. TCP, then TLS 1.3 only (minimum and maximum protocol version both
// 1.3; no session tickets, no resumption). Each P2P instance generates an
// ephemeral Ed25519 key and a self-signed certificate in memory at start()
// because TLS needs one; certificates are never verified (verify_none). TLS
// gives confidentiality and integrity; it does not say who the peer is.
//
// Authentication. After the TLS handshake each side sends a Hello frame
// (type 0, below) and proves its node key with a BIP-340 signature over
//
//   handshake_digest = tagged_hash(peer_handshake,
//                                  string(chain_id) || u8(role) || ekm)
//
// (core/encoding.h forms; Domain::peer_handshake, tag
// "verity/peer-handshake", the domain core/hash.h reserves for peer link
// authentication), where ekm is 32
// bytes of TLS keying material (SSL_export_keying_material, label
// "EXPORTER-verity-p2p", no context) and role is 1 for the side that dialled
// and 2 for the side that accepted, so a signature can never be reflected
// back to its author. The ekm is unique to one TLS session, so a man in the
// middle that terminates TLS on both sides and relays a Hello from one
// session into the other fails verification: no impersonation, no relay. A
// node that runs a validator may also present its validator (consensus) key
// with a second signature by that key over the same digest, and can then be
// addressed by it (peer_with_validator).
//
// Hello (canonical encoding, at most kMaxHelloBytes as a frame):
//   varint  protocol version (kProtocolVersion; any other is dropped)
//   string  chain id (<= 64 bytes; must equal ours, else dropped)
//   fixed32 node key (x-only)
//   varint  listen port (<= 65535; 0: not listening)
//   boolean has validator key; if 1: fixed32 validator key, fixed64 its signature
//   fixed64 node key signature
//
// The TLS handshake and both Hellos must complete within
// handshake_timeout (default 5 s) of the TCP connection being accepted, or
// of the dial starting (resolution and connect included), else the
// connection is closed.
//
// Frames. A 4-byte big-endian length L, then L bytes: one type byte and the
// body. L = 0, L above max_frame_bytes (before the Hello: above
// kMaxHelloBytes), a Hello after the handshake, anything but a Hello before
// it, or a frame the handler reports as garbage drops the peer with a logged
// reason (event "peer-dropped", level warn); the node stays up. A reader
// reads in chunks of 64 KiB and handles every whole frame of a chunk before
// reading on; it allocates at most one frame of max_frame_bytes per peer at
// a time besides its chunk buffer.
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

#include <array>
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
#include <boost/asio/ssl/context.hpp>

#include "consensus/messages.h"
#include "core/bytes.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/result.h"
#include "node/log.h"
#include "node/transport.h"

namespace verity::node {

// ---------------------------------------------------------------- addresses

struct PeerAddress {
  std::string host;  // name, IPv4, or IPv6 (written in brackets in text)
  std::uint16_t port = 0;
  std::optional<PublicKey> node_key;  // when given, the peer must prove this key

  std::string to_string() const;  // the form parse_peer_address reads
  friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
};

// "host:port", "[v6addr]:port" or "NODEKEYHEX@host:port"; the port is
// 1..65535 in decimal, the key 64 hex digits of a valid x-only key.
// Reason: "bad-peer-address".
Result<PeerAddress> parse_peer_address(std::string_view s);

// ---------------------------------------------------------------- wire

namespace p2p {

inline constexpr std::uint64_t kProtocolVersion = 1;
inline constexpr std::uint8_t kHelloType = 0;
inline constexpr std::size_t kFrameHeaderBytes = 4;
// The largest Hello frame (type byte included) read before authentication;
// a Hello is at most 263 bytes today.
inline constexpr std::size_t kMaxHelloBytes = 512;
inline constexpr std::size_t kDefaultMaxFrameBytes = consensus::kMaxMessageBytes + 64;
inline constexpr std::string_view kExporterLabel = "EXPORTER-verity-p2p";
inline constexpr std::size_t kEkmBytes = 32;

using Ekm = std::array<std::uint8_t, kEkmBytes>;

enum class Role : std::uint8_t { dialer = 1, listener = 2 };

Hash256 handshake_digest(std::string_view chain_id, Role role, const Ekm& ekm);

struct Hello {
  std::uint64_t version = kProtocolVersion;
  std::string chain_id;
  PublicKey node_key;
  std::uint16_t listen_port = 0;
  std::optional<PublicKey> validator_key;
  Signature validator_signature;  // meaningful only with validator_key
  Signature node_signature;

  // A codec of its own, not a fields() walk: one presence flag covers
  // validator_key and validator_signature, and the port is a varint that
  // must fit in 16 bits.
  void encode(Writer& w) const;
  static Hello decode(Reader& r);  // reasons from core/encoding.h, or "bad-hello-port"
  friend bool operator==(const Hello&, const Hello&) = default;
};

// The Hello that `role` sends on the TLS session with keying material `ekm`.
Hello make_hello(std::string_view chain_id, Role role, const Ekm& ekm, const SecretKey& node_key,
                 const std::optional<SecretKey>& validator_key, std::uint16_t listen_port);

// Checks a Hello received from the side playing `sender_role`. Reasons:
// "protocol-version-mismatch", "wrong-chain-id", "bad-hello-signature",
// "bad-validator-signature".
Status verify_hello(const Hello& hello, std::string_view chain_id, Role sender_role, const Ekm& ekm);

// 4-byte big-endian length (1 + body size), type, body.
Bytes encode_frame(std::uint8_t type, ByteView body);

// A TLS 1.3-only context with a fresh self-signed Ed25519 certificate,
// verify_none, no session tickets. Used for both roles. Reason
// "tls-setup-failed" (a local fault).
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context();

// The 32-byte ekm of an established TLS session (an OpenSSL SSL*).
// Reason "tls-exporter-failed".
Result<Ekm> export_keying_material(void* ssl);

}  // namespace p2p

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
