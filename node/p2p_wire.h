#pragma once
// The peer-to-peer protocol on the wire (node/p2p.h is the connection
// manager that speaks it, node/p2p_tls.h its TLS set-up).
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

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "consensus/messages.h"
#include "core/bytes.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/result.h"

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

// A Hello frame's body decoded, telling a newer protocol
// ("protocol-version-mismatch") apart from garbage ("bad-hello").
Result<Hello> decode_hello(ByteView payload);

// The Hello that `role` sends on the TLS session with keying material `ekm`.
Hello make_hello(std::string_view chain_id, Role role, const Ekm& ekm, const SecretKey& node_key,
                 const std::optional<SecretKey>& validator_key, std::uint16_t listen_port);

// Checks a Hello received from the side playing `sender_role`. Reasons:
// "protocol-version-mismatch", "wrong-chain-id", "bad-hello-signature",
// "bad-validator-signature".
Status verify_hello(const Hello& hello, std::string_view chain_id, Role sender_role, const Ekm& ekm);

// 4-byte big-endian length (1 + body size), type, body.
Bytes encode_frame(std::uint8_t type, ByteView body);

}  // namespace p2p

}  // namespace verity::node
