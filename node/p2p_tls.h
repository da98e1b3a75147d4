#pragma once
// The TLS set-up of peer links (node/p2p_wire.h, "Link"): OpenSSL only
// here, so the wire format and the connection manager stay readable.

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "core/result.h"
#include "node/p2p_wire.h"

namespace verity::node::p2p {

// A TLS 1.3-only context with a fresh self-signed Ed25519 certificate,
// verify_none, no session tickets. Used for both roles. Reason
// "tls-setup-failed" (a local fault).
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context();

// The 32-byte ekm of an established TLS session (an OpenSSL SSL*).
// Reason "tls-exporter-failed".
Result<Ekm> export_keying_material(void* ssl);

}  // namespace verity::node::p2p
