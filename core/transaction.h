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
// PublicKey, Hash256, Amount, std::uint64_t, std::string (with its bound),
// LimitedBytes<N> (at most N bytes; hex in JSON) and DoubleSignEvidence.

inline constexpr std::size_t kMaxNameBytes = 64;
// A task's WASM module: the same cap as the sandbox's (worker/'s
// kMaxModuleBytes; core cannot include worker/, so the two must agree).
inline constexpr std::size_t kMaxTaskModuleBytes = 1024 * 1024;
// A task's input (stdin) and output (stdout).
inline constexpr std::size_t kMaxTaskIoBytes = 64 * 1024;

using ModuleBytes = LimitedBytes<kMaxTaskModuleBytes>;
using TaskBytes = LimitedBytes<kMaxTaskIoBytes>;

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
    f("name", s.name, Max{kMaxNameBytes});
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

// What a payload without fields of its own derives from.
struct NoFields {
  template <class Self, class F>
  static void fields(Self&, F&&) {}
  friend bool operator==(const NoFields&, const NoFields&) = default;
};

// Moves the sender's unbonding entries whose period has passed to its balance.
struct Withdraw : NoFields {
  static constexpr std::uint8_t kTag = 5;
  static constexpr const char* kName = "withdraw";
  friend bool operator==(const Withdraw&, const Withdraw&) = default;
};

// Moves the sender's vested rewards to its balance.
struct Claim : NoFields {
  static constexpr std::uint8_t kTag = 6;
  static constexpr const char* kName = "claim";
  friend bool operator==(const Claim&, const Claim&) = default;
};

// Lets the sender's validator back in after its jail time.
struct Unjail : NoFields {
  static constexpr std::uint8_t kTag = 7;
  static constexpr const char* kName = "unjail";
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

// --- tasks (contracts/tasks.h) ------------------------------------------------

// Registers the sender as a worker with `stake` from its balance, or adds
// `stake` to its worker stake (and makes it active again after an
// unregister_worker).
struct RegisterWorker {
  static constexpr std::uint8_t kTag = 9;
  static constexpr const char* kName = "register_worker";
  Amount stake;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("stake", s.stake);
  }
  friend bool operator==(const RegisterWorker&, const RegisterWorker&) = default;
};

// Stops new assignments to the sender; its worker stake starts unbonding
// and `withdraw` pays it after unbonding_blocks.
struct UnregisterWorker : NoFields {
  static constexpr std::uint8_t kTag = 10;
  static constexpr const char* kName = "unregister_worker";
  friend bool operator==(const UnregisterWorker&, const UnregisterWorker&) = default;
};

// A task: a WASI command module (its bytes, or the hash of a module the
// chain stores already, never both), its stdin, how many workers run it
// (0: params.task_replication), the reward each agreeing worker earns, the
// fuel limit, and the commit and reveal windows in blocks.
struct SubmitTask {
  static constexpr std::uint8_t kTag = 11;
  static constexpr const char* kName = "submit_task";
  ModuleBytes module;
  Hash256 module_hash;  // zero when `module` is given
  TaskBytes input;
  std::uint64_t replicas = 0;
  Amount reward;
  std::uint64_t fuel = 0;
  std::uint64_t commit_blocks = 0;
  std::uint64_t reveal_blocks = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("module", s.module);
    f("module_hash", s.module_hash);
    f("input", s.input);
    f("replicas", s.replicas);
    f("reward", s.reward);
    f("fuel", s.fuel);
    f("commit_blocks", s.commit_blocks);
    f("reveal_blocks", s.reveal_blocks);
  }
  friend bool operator==(const SubmitTask&, const SubmitTask&) = default;
};

// An assigned worker's commitment: task_commitment(chain id, task,
// task_result_hash(...), salt, worker).
struct CommitResult {
  static constexpr std::uint8_t kTag = 12;
  static constexpr const char* kName = "commit_result";
  std::uint64_t task = 0;
  Hash256 commitment;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("task", s.task);
    f("commitment", s.commitment);
  }
  friend bool operator==(const CommitResult&, const CommitResult&) = default;
};

// Opens a commitment: the result and the salt it was made with.
struct RevealResult {
  static constexpr std::uint8_t kTag = 13;
  static constexpr const char* kName = "reveal_result";
  std::uint64_t task = 0;
  // The sandbox's outcome as a number: worker::Outcome's value (ok 0, trap
  // 1, out_of_fuel 2, memory_exceeded 3, output_too_large 4,
  // invalid_module 5, forbidden_import 6).
  std::uint64_t outcome = 0;
  std::uint64_t exit_code = 0;
  std::uint64_t fuel_used = 0;
  TaskBytes output;
  Hash256 salt;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("task", s.task);
    f("outcome", s.outcome);
    f("exit_code", s.exit_code);
    f("fuel_used", s.fuel_used);
    f("output", s.output);
    f("salt", s.salt);
  }
  friend bool operator==(const RevealResult&, const RevealResult&) = default;
};

// Pays replicas x reward of a settled task, while its rewards are still
// locked, to have it rerun by fresh workers.
struct RequestAudit {
  static constexpr std::uint8_t kTag = 14;
  static constexpr const char* kName = "request_audit";
  std::uint64_t task = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("task", s.task);
  }
  friend bool operator==(const RequestAudit&, const RequestAudit&) = default;
};

using Payload = std::variant<Transfer, CreateValidator, Delegate, Undelegate, Withdraw, Claim, Unjail, SubmitEvidence,
                             RegisterWorker, UnregisterWorker, SubmitTask, CommitResult, RevealResult, RequestAudit>;

// What a worker commits to and reveals. The result hash covers everything
// the sandbox reports that must be deterministic, so workers agree only if
// outcome, exit code, fuel and output all agree (fuel is metered
// identically on every worker, and agreeing on it is what lets the chain
// vouch for "out of fuel after N"):
//   task_result_hash = tagged_hash(task_result, varint(outcome) ||
//                        varint(exit_code) || varint(fuel_used) || bytes(output))
//   task_commitment  = tagged_hash(task_commitment, string(chain_id) ||
//                        varint(task_id) || result_hash || salt || worker)
// The worker key inside the commitment stops a lazy worker from copying
// another's commitment; the salt stops anyone from guessing the result
// from the commitment before the reveal.
Hash256 task_result_hash(std::uint64_t outcome, std::uint64_t exit_code, std::uint64_t fuel_used, ByteView output);
Hash256 task_commitment(std::string_view chain_id, std::uint64_t task_id, const Hash256& result_hash, const Hash256& salt,
                        const PublicKey& worker);
// The sandbox's task id (the seed of its random_get stream) for a task:
// tagged_hash(task_random, string(chain_id) || varint(task_id)). Every
// worker of the task derives the same seed, so a module that reads random
// bytes still gives every worker the same result.
Hash256 task_sandbox_seed(std::string_view chain_id, std::uint64_t task_id);

// A payload is its kind's tag (u8), then its fields: a field of type
// Payload encodes so. Unknown tag: "decode-unknown-payload".
void encode_field(Writer& w, const Payload& p);
void decode_field(Reader& r, Payload& p);
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

  // What the signature signs: every field but the signature.
  template <class Self, class F>
  static void unsigned_fields(Self& s, F&& f) {
    f("chain_id", s.chain_id, Max{kMaxChainIdBytes});
    f("sender", s.sender);
    f("nonce", s.nonce);
    f("fee", s.fee);
    f("payload", s.payload);
  }
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    unsigned_fields(s, f);
    f("signature", s.signature);
  }

  friend bool operator==(const Transaction&, const Transaction&) = default;
};

// Strict decode of one whole transaction, with the size cap. Does not check
// the signature: call verify_signature().
Result<Transaction> decode_transaction(ByteView bytes);

}  // namespace verity
