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
#include "core/vote.h"

namespace verity {

inline constexpr std::size_t kMaxChainIdBytes = 64;
// Large enough for a WASM module carried inside a task submission.
inline constexpr std::size_t kMaxTransactionBytes = 2 * 1024 * 1024;

// --- payloads --------------------------------------------------------------
// Each payload kind has a stable wire tag and a stable name (used in JSON);
// tags are never reused. Each lists its fields once, in `fields()`: the
// binary encoding and the JSON codec both walk that list. Field types:
// PublicKey, Amount, std::uint64_t, std::string (at most 64 bytes) and
// DoubleSignEvidence.

inline constexpr std::size_t kMaxNameBytes = 64;

struct Transfer {
  static constexpr std::uint8_t kTag = 1;
  static constexpr const char* kName = "transfer";
  PublicKey to;
  Amount amount;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("to", s.to);
    f("amount", s.amount);
  }
  friend bool operator==(const Transfer&, const Transfer&) = default;
};

// Registers the sender as a validator operator with a consensus key and a
// self-delegation; it joins the validator set at the next epoch boundary.
struct CreateValidator {
  static constexpr std::uint8_t kTag = 2;
  static constexpr const char* kName = "create_validator";
  PublicKey consensus_key;
  Amount self_stake;
  std::string name;
  std::uint64_t commission_bps = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("consensus_key", s.consensus_key);
    f("self_stake", s.self_stake);
    f("name", s.name);
    f("commission_bps", s.commission_bps);
  }
  friend bool operator==(const CreateValidator&, const CreateValidator&) = default;
};

// Bonds `amount` from the sender's balance to the validator whose operator
// is `validator` (an operator adds self-stake the same way).
struct Delegate {
  static constexpr std::uint8_t kTag = 3;
  static constexpr const char* kName = "delegate";
  PublicKey validator;
  Amount amount;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("validator", s.validator);
    f("amount", s.amount);
  }
  friend bool operator==(const Delegate&, const Delegate&) = default;
};

// Starts unbonding `amount` of the sender's delegation to `validator`.
struct Undelegate {
  static constexpr std::uint8_t kTag = 4;
  static constexpr const char* kName = "undelegate";
  PublicKey validator;
  Amount amount;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("validator", s.validator);
    f("amount", s.amount);
  }
  friend bool operator==(const Undelegate&, const Undelegate&) = default;
};

// Moves the sender's unbonding entries whose period has passed to its balance.
struct Withdraw {
  static constexpr std::uint8_t kTag = 5;
  static constexpr const char* kName = "withdraw";
  template <class Self, class F>
  static void fields(Self&, F&&) {}
  friend bool operator==(const Withdraw&, const Withdraw&) = default;
};

// Moves the sender's vested rewards to its balance.
struct Claim {
  static constexpr std::uint8_t kTag = 6;
  static constexpr const char* kName = "claim";
  template <class Self, class F>
  static void fields(Self&, F&&) {}
  friend bool operator==(const Claim&, const Claim&) = default;
};

// Lets the sender's validator back in after its jail time.
struct Unjail {
  static constexpr std::uint8_t kTag = 7;
  static constexpr const char* kName = "unjail";
  template <class Self, class F>
  static void fields(Self&, F&&) {}
  friend bool operator==(const Unjail&, const Unjail&) = default;
};

struct SubmitEvidence {
  static constexpr std::uint8_t kTag = 8;
  static constexpr const char* kName = "submit_evidence";
  DoubleSignEvidence evidence;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("evidence", s.evidence);
  }
  friend bool operator==(const SubmitEvidence&, const SubmitEvidence&) = default;
};

using Payload = std::variant<Transfer, CreateValidator, Delegate, Undelegate, Withdraw, Claim, Unjail, SubmitEvidence>;

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
