#pragma once
// The transaction envelope: chain id, sender, nonce, fee, typed payload,
// signature.
//
//   signing hash = tagged_hash(transaction_sign, encode(unsigned part))
//   id           = tagged_hash(transaction_id,   encode(whole transaction))
//
// The unsigned part holds the chain id, so a transaction signed for one chain
// is invalid on every other. Nonces are strictly sequential per sender (the
// state layer checks them), which makes a replayed transaction invalid.

#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>

#include "core/amount.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/keys.h"

namespace verity {

inline constexpr std::size_t kMaxChainIdBytes = 64;
// Large enough for a WASM module carried inside a task submission.
inline constexpr std::size_t kMaxTransactionBytes = 2 * 1024 * 1024;

// --- payloads --------------------------------------------------------------
// Each payload kind has a stable wire tag and a stable name (used in JSON).
// Tags are never reused.

struct Transfer {
  static constexpr std::uint8_t kTag = 1;
  static constexpr const char* kName = "transfer";
  PublicKey to;
  Amount amount;

  void encode(Writer& w) const;
  static Transfer decode(Reader& r);
  friend bool operator==(const Transfer&, const Transfer&) = default;
};

using Payload = std::variant<Transfer>;

void encode_payload(Writer& w, const Payload& p);
Payload decode_payload(Reader& r);  // unknown tag: "decode-unknown-payload"
const char* payload_name(const Payload& p);

// --- the envelope ------------------------------------------------------------

struct Transaction {
  std::string chain_id;
  PublicKey sender;
  std::uint64_t nonce = 0;
  Amount fee;
  Payload payload;
  Signature signature;

  Hash256 signing_hash() const;
  Hash256 id() const;

  // Sets sender to the key's public key and signs.
  void sign(const SecretKey& key);
  // True when the signature is a valid BIP-340 signature of signing_hash()
  // by sender.
  bool verify_signature() const;

  void encode_unsigned(Writer& w) const;
  void encode(Writer& w) const;
  static Transaction decode(Reader& r);

  friend bool operator==(const Transaction&, const Transaction&) = default;
};

// Strict decode of one whole transaction, with the size cap. Does not check
// the signature: call verify_signature().
Result<Transaction> decode_transaction(ByteView bytes);

}  // namespace verity
