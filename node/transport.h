#pragma once
// What Node uses of its peer links, as a seam. Production: P2P
// (node/p2p.h: TLS links, its header describes the protocol). The node
// simulation (tests/node/node_simulation.cpp) gives each node an in-memory
// transport on a simulated network.
//
// What an implementation must provide (docs/node.md, "Seams"):
//   - typed frames (type 1..255, an opaque body) to one authenticated peer
//     or to all of them, sent in order per peer, and possibly dropped
//     (send() says false when it did not take the frame);
//   - PeerInfo for each connected peer: an id unique within the transport
//     and never reused, the node key it proved, the validator key it proved
//     (if any);
//   - the handler's calls, all on the node's thread: on_connected once a
//     peer may be sent to, on_disconnected paired with each on_connected,
//     on_frame for each frame received (false: garbage, the transport drops
//     that peer); never from inside send(), broadcast() or disconnect()
//     but for stop() and disconnect(), which may report on_disconnected;
//   - disconnect(peer, reason) for misbehaviour found above it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/result.h"

namespace verity::node {

struct PeerInfo {
  std::uint64_t id = 0;  // unique within this transport, never reused
  PublicKey node_key;
  std::optional<PublicKey> validator_key;
  bool outbound = false;     // we dialled it
  std::string remote;        // "ip:port" of the socket
  std::uint16_t listen_port = 0;  // as the peer announced it
};

// Where a transport delivers what it receives.
class P2PHandler {
 public:
  virtual ~P2PHandler() = default;
  // After the peer is authenticated and registered: send() to it works.
  virtual void on_connected(const PeerInfo& peer) = 0;
  // After the peer is unregistered; paired with every on_connected.
  virtual void on_disconnected(const PeerInfo& peer) = 0;
  // A frame of type 1..255. `body` is valid only during the call. Return
  // false when the frame is garbage: the peer is dropped and logged with
  // `reason` (kebab-case; "bad-frame" when left empty).
  virtual bool on_frame(const PeerInfo& peer, std::uint8_t type, ByteView body, std::string& reason) = 0;
};

struct TransportCounters {
  std::uint64_t dropped_peers = 0, send_queue_full = 0, frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t node_key_twice = 0;  // links of a node key already linked from another address
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Starts listening and linking; reasons are the implementation's.
  virtual Status start() = 0;
  // Closes every link (on_disconnected for each). Idempotent.
  virtual void stop() = 0;
  // Queues a frame to a connected peer; false when not taken.
  virtual bool send(std::uint64_t peer, std::uint8_t type, ByteView body) = 0;
  // To every connected peer but `except`; how many took it.
  virtual std::size_t broadcast(std::uint8_t type, ByteView body, std::optional<std::uint64_t> except = {}) = 0;
  virtual void disconnect(std::uint64_t peer, std::string_view reason) = 0;
  // The connected peer that proved this validator key (lowest id if several).
  virtual std::optional<std::uint64_t> peer_with_validator(const PublicKey& key) const = 0;
  virtual std::vector<PeerInfo> peers() const = 0;  // connected, by id
  virtual const PublicKey& node_key() const = 0;
  virtual std::uint16_t listen_port() const = 0;  // 0 when it does not listen on a port
  virtual TransportCounters counters() const = 0;  // safe from any thread
};

}  // namespace verity::node
