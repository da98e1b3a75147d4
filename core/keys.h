#pragma once
// BIP-340 Schnorr signatures over secp256k1, for accounts, validators and
// workers alike. An account id is its 32-byte x-only public key.
//
// Everything Verity signs is a 32-byte tagged hash whose preimage holds the
// chain id (see hash.h), so a signature is bound to one kind of object on
// one chain.

#include <array>
#include <cstdint>
#include <string_view>

#include "core/bytes.h"
#include "core/hash.h"

namespace verity {

struct PublicKeyTag;
struct SignatureTag;
using PublicKey = FixedBytes<32, PublicKeyTag>;  // x-only, BIP-340
using Signature = FixedBytes<64, SignatureTag>;

// A secret key with its cached key pair. Its bytes are wiped on destruction
// and never printed; copy it only where you must.
class SecretKey {
 public:
  // A fresh key from the operating system's randomness.
  static SecretKey generate();
  // Reasons: "bad-length", "bad-secret-key" (zero or not below the order).
  static Result<SecretKey> from_bytes(ByteView bytes);
  // INSECURE: a key anyone can derive from a public name. For devnet
  // accounts ("alice") only, so that tests and docs can name them.
  static SecretKey derive_insecure(std::string_view name);

  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  ~SecretKey();

  const PublicKey& public_key() const { return public_key_; }
  std::array<std::uint8_t, 32> secret_bytes() const;

  // Signs a message (normally a 32-byte tagged hash) with fresh auxiliary
  // randomness, as BIP-340 recommends against side channels.
  Signature sign(ByteView message) const;
  Signature sign(const Hash256& digest) const { return sign(digest.view()); }
  // Signs with caller-given auxiliary data: deterministic, for test vectors.
  Signature sign_with_aux(ByteView message, const std::array<std::uint8_t, 32>& aux) const;

 private:
  SecretKey() = default;
  std::array<std::uint8_t, 96> keypair_{};  // secp256k1_keypair, opaque
  PublicKey public_key_;
};

// True when `key` is a valid x-only key (a point on the curve).
bool is_valid_public_key(const PublicKey& key);

bool verify_signature(const PublicKey& key, ByteView message, const Signature& sig);
inline bool verify_signature(const PublicKey& key, const Hash256& digest, const Signature& sig) {
  return verify_signature(key, digest.view(), sig);
}

}  // namespace verity
