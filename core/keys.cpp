#include "core/keys.h"

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace verity {

namespace {

// The kernel's CSPRNG. Without it we cannot make keys safely, so a failure
// stops the process rather than falling back to something weaker.
void random_bytes(std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::perror("verity: getrandom");
      std::abort();
    }
    out += got;
    n -= static_cast<std::size_t>(got);
  }
}

// One context for the process. It is randomised once (blinding against side
// channels) and then only used through const calls, which libsecp256k1
// documents as thread-safe.
const secp256k1_context* context() {
  static secp256k1_context* ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    std::uint8_t seed[32];
    random_bytes(seed, sizeof seed);
    if (!secp256k1_context_randomize(c, seed)) std::abort();
    return c;
  }();
  return ctx;
}

static_assert(sizeof(secp256k1_keypair) == 96);

}  // namespace

Result<SecretKey> SecretKey::from_bytes(ByteView bytes) {
  if (bytes.size() != 32) return make_error("bad-length", "a secret key has 32 bytes");
  SecretKey key;
  secp256k1_keypair kp;
  if (!secp256k1_keypair_create(context(), &kp, bytes.data()))
    return make_error("bad-secret-key", "secret key is zero or not below the curve order");
  secp256k1_xonly_pubkey xonly;
  // Cannot fail for a keypair that keypair_create accepted.
  if (!secp256k1_keypair_xonly_pub(context(), &xonly, nullptr, &kp) ||
      !secp256k1_xonly_pubkey_serialize(context(), key.public_key_.data.data(), &xonly))
    std::abort();
  std::memcpy(key.keypair_.data(), kp.data, sizeof kp.data);
  std::memset(&kp, 0, sizeof kp);
  return key;
}

SecretKey SecretKey::generate() {
  for (;;) {
    std::uint8_t raw[32];
    random_bytes(raw, sizeof raw);
    auto key = from_bytes(ByteView(raw, sizeof raw));
    std::memset(raw, 0, sizeof raw);
    if (key) return std::move(key).value();  // else: probability ~2^-128, draw again
  }
}

SecretKey SecretKey::derive_insecure(std::string_view name) {
  for (std::uint8_t counter = 0;; ++counter) {
    TaggedHasher h(Domain::devnet_key);
    h.update(as_bytes(name)).update(ByteView(&counter, 1));
    Hash256 seed = h.finish();
    auto key = from_bytes(seed.view());
    if (key) return std::move(key).value();
  }
}

SecretKey::~SecretKey() {
  // volatile stores so the compiler cannot drop the wipe of a dying object
  volatile std::uint8_t* p = keypair_.data();
  for (std::size_t i = 0; i < keypair_.size(); ++i) p[i] = 0;
}

std::array<std::uint8_t, 32> SecretKey::secret_bytes() const {
  std::array<std::uint8_t, 32> out;
  secp256k1_keypair kp;
  std::memcpy(kp.data, keypair_.data(), sizeof kp.data);
  int ok = secp256k1_keypair_sec(context(), out.data(), &kp);
  std::memset(&kp, 0, sizeof kp);
  if (!ok) std::abort();  // a valid keypair always has its secret
  return out;
}

Signature SecretKey::sign_with_aux(ByteView message, const std::array<std::uint8_t, 32>& aux) const {
  secp256k1_keypair kp;
  std::memcpy(kp.data, keypair_.data(), sizeof kp.data);
  secp256k1_schnorrsig_extraparams params = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
  params.ndata = const_cast<std::uint8_t*>(aux.data());
  Signature sig;
  int ok = secp256k1_schnorrsig_sign_custom(context(), sig.data.data(), message.data(),
                                            message.size(), &kp, &params);
  std::memset(&kp, 0, sizeof kp);
  if (!ok) std::abort();  // only fails on invalid arguments, i.e. a bug
  return sig;
}

Signature SecretKey::sign(ByteView message) const {
  std::array<std::uint8_t, 32> aux;
  random_bytes(aux.data(), aux.size());
  return sign_with_aux(message, aux);
}

bool is_valid_public_key(const PublicKey& key) {
  secp256k1_xonly_pubkey xonly;
  return secp256k1_xonly_pubkey_parse(context(), &xonly, key.data.data()) == 1;
}

bool verify_signature(const PublicKey& key, ByteView message, const Signature& sig) {
  secp256k1_xonly_pubkey xonly;
  if (!secp256k1_xonly_pubkey_parse(context(), &xonly, key.data.data())) return false;
  return secp256k1_schnorrsig_verify(context(), sig.data.data(), message.data(), message.size(),
                                     &xonly) == 1;
}

}  // namespace verity
