#include "node/p2p_wire.h"

#include <algorithm>

#include "core/host_port.h"
#include "core/transaction.h"  // kMaxChainIdBytes

namespace verity::node {

// ---------------------------------------------------------------- addresses

std::string PeerAddress::to_string() const {
  std::string out;
  if (node_key) out = node_key->hex() + "@";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return out + ":" + std::to_string(port);
}

Result<PeerAddress> parse_peer_address(std::string_view text) {
  const std::string original(text);
  auto bad = [&](const std::string& why) { return make_error("bad-peer-address", "'" + original + "': " + why); };
  PeerAddress a;
  std::string_view s = text;
  if (auto at = s.find('@'); at != std::string_view::npos) {
    auto key = PublicKey::from_hex(s.substr(0, at));
    if (!key) return bad("the node key is not 64 hex digits");
    if (!is_valid_public_key(*key)) return bad("the node key is not a valid public key");
    a.node_key = *key;
    s = s.substr(at + 1);
  }
  auto hp = parse_host_port(s);
  if (!hp) return bad(hp.error().detail);
  a.host = std::move(hp->host);
  a.port = hp->port;
  return a;
}

// ---------------------------------------------------------------- wire

namespace p2p {

Hash256 handshake_digest(std::string_view chain_id, Role role, const Ekm& ekm) {
  Writer w;
  w.string(chain_id);
  w.u8(static_cast<std::uint8_t>(role));
  w.raw(ByteView(ekm.data(), ekm.size()));
  return tagged_hash(Domain::peer_handshake, w.data());
}

void Hello::encode(Writer& w) const {
  w.varint(version);
  w.string(chain_id);
  w.fixed(node_key);
  w.varint(listen_port);
  w.boolean(validator_key.has_value());
  if (validator_key) {
    w.fixed(*validator_key);
    w.fixed(validator_signature);
  }
  w.fixed(node_signature);
}

Hello Hello::decode(Reader& r) {
  Hello h;
  h.version = r.varint();
  h.chain_id = r.string(kMaxChainIdBytes);
  h.node_key = r.fixed<32, PublicKeyTag>();
  std::uint64_t port = r.varint();
  if (port > 65535) r.fail("bad-hello-port", "listen port " + std::to_string(port));
  h.listen_port = static_cast<std::uint16_t>(port);
  if (r.boolean()) {
    h.validator_key = r.fixed<32, PublicKeyTag>();
    h.validator_signature = r.fixed<64, SignatureTag>();
  }
  h.node_signature = r.fixed<64, SignatureTag>();
  return h;
}

Hello make_hello(std::string_view chain_id, Role role, const Ekm& ekm, const SecretKey& node_key,
                 const std::optional<SecretKey>& validator_key, std::uint16_t listen_port) {
  Hash256 digest = handshake_digest(chain_id, role, ekm);
  Hello h;
  h.chain_id = std::string(chain_id);
  h.node_key = node_key.public_key();
  h.listen_port = listen_port;
  if (validator_key) {
    h.validator_key = validator_key->public_key();
    h.validator_signature = validator_key->sign(digest);
  }
  h.node_signature = node_key.sign(digest);
  return h;
}

Status verify_hello(const Hello& hello, std::string_view chain_id, Role sender_role, const Ekm& ekm) {
  if (hello.version != kProtocolVersion)
    return make_error("protocol-version-mismatch", "peer speaks version " + std::to_string(hello.version) +
                                                       ", we speak " + std::to_string(kProtocolVersion));
  if (hello.chain_id != chain_id) return make_error("wrong-chain-id", "peer is on chain '" + hello.chain_id + "'");
  Hash256 digest = handshake_digest(chain_id, sender_role, ekm);
  if (!verify_signature(hello.node_key, digest, hello.node_signature))
    return make_error("bad-hello-signature", "node key " + hello.node_key.hex());
  if (hello.validator_key && !verify_signature(*hello.validator_key, digest, hello.validator_signature))
    return make_error("bad-validator-signature", "validator key " + hello.validator_key->hex());
  return {};
}

Bytes encode_frame(std::uint8_t type, ByteView body) {
  const std::size_t len = body.size() + 1;
  Bytes out(kFrameHeaderBytes + len);
  out[0] = static_cast<std::uint8_t>(len >> 24);
  out[1] = static_cast<std::uint8_t>(len >> 16);
  out[2] = static_cast<std::uint8_t>(len >> 8);
  out[3] = static_cast<std::uint8_t>(len);
  out[4] = type;
  std::copy(body.begin(), body.end(), out.begin() + kFrameHeaderBytes + 1);
  return out;
}

Result<Hello> decode_hello(ByteView payload) {
  auto hello = decode_exact<Hello>(payload);
  if (hello) return hello;
  Reader r(payload);
  std::uint64_t version = r.varint();
  if (r.ok() && version != kProtocolVersion)
    return make_error("protocol-version-mismatch", "peer speaks version " + std::to_string(version));
  return make_error("bad-hello", hello.error().to_string());
}

}  // namespace p2p
}  // namespace verity::node
