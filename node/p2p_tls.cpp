#include "node/p2p_tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <random>
#include <string>

namespace verity::node::p2p {

namespace ssl = boost::asio::ssl;

namespace {
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error" : out;
}
}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_context() {
  auto fail = [](const std::string& what) { return local_error("tls-setup-failed", what + ": " + openssl_errors()); };
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls);
  } catch (const std::exception& e) {
    return local_error("tls-setup-failed", e.what());
  }
  SSL_CTX* h = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(h, TLS1_3_VERSION) != 1 || SSL_CTX_set_max_proto_version(h, TLS1_3_VERSION) != 1)
    return fail("cannot restrict the protocol to TLS 1.3");
  // No resumption: every link runs a full handshake and gets fresh keying
  // material, and no ticket state lingers.
  SSL_CTX_set_options(h, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_num_tickets(h, 0);
  SSL_CTX_set_session_cache_mode(h, SSL_SESS_CACHE_OFF);
  // Certificates are never checked: the Hello authenticates the peer.
  SSL_CTX_set_verify(h, SSL_VERIFY_NONE, nullptr);

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"),
                                                          EVP_PKEY_free);
  if (!key) return fail("Ed25519 key generation");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!cert) return fail("X509_new");
  std::random_device rd;
  std::uint64_t serial = ((std::uint64_t{rd()} << 32) | rd()) & 0x7fffffffffffffffULL;
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* cn = reinterpret_cast<const unsigned char*>("verity-p2p");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial | 1) != 1 ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 366 * 24 * 3600) ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1)
    return fail("building the certificate");
  if (X509_sign(cert.get(), key.get(), nullptr) <= 0) return fail("signing the certificate");
  if (SSL_CTX_use_certificate(h, cert.get()) != 1 || SSL_CTX_use_PrivateKey(h, key.get()) != 1 ||
      SSL_CTX_check_private_key(h) != 1)
    return fail("installing the certificate");
  return ctx;
}

Result<Ekm> export_keying_material(void* ssl_handle) {
  Ekm out{};
  if (SSL_export_keying_material(static_cast<SSL*>(ssl_handle), out.data(), out.size(), kExporterLabel.data(),
                                 kExporterLabel.size(), nullptr, 0, 0) != 1)
    return local_error("tls-exporter-failed", openssl_errors());
  return out;
}

}  // namespace verity::node::p2p
