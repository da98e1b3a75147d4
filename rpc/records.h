#pragma once
// Records as the RPC serves them (the node's status, the account figures,
// delegations and rewards, validators, the task market's tasks and workers,
// receipts): core types only, each listing its fields once. The
// server writes them and the clients (verity, verity-worker) read them with
// the one codec below, which walks that list, so the two sides cannot
// drift apart; docs/rpc.md (the method table's schemas) describes the same
// fields.
//
// JSON forms, as in rpc/json_codec.h: integers as JSON unsigned integers,
// amounts as decimal strings, hashes and keys as hex, byte strings as hex,
// an absent optional as null, lists as arrays, a record as an object with
// its fields in the order listed.
//
// Besides records, the reader knows a Transaction (the object send_tx
// reads, by rpc/json_codec.h's reader), HashedTx (a transaction with its id
// beside it, as a block lists them) and named strings (an event's
// attributes: an object of strings, in its order).
//
// Reading is strict: a missing member (but an optional one, which may be
// null or absent), or one of the wrong type, is an error with reason
// "rpc-bad-response" that names the method and the path of the member
// ("the node's task answer: `round.assignments[0].worker` is missing"),
// never a default. Unknown members are ignored, so a newer node may add
// fields, and a client may read a record of only the fields it uses.

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/amount.h"
#include "core/bytes.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "core/receipt.h"
#include "core/result.h"
#include "core/transaction.h"
#include "rpc/json_codec.h"

namespace verity::rpc {

// A double-sign check in progress (`status`): heights watched of those to watch.
struct DoubleSignCheck {
  std::uint64_t watched = 0;
  std::uint64_t heights = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("watched", s.watched);
    f("heights", s.heights);
  }
  friend bool operator==(const DoubleSignCheck&, const DoubleSignCheck&) = default;
};

// The node's view of the chain (`status`).
struct NodeStatus {
  std::string chain_id;
  std::uint64_t height = 0;
  Hash256 latest_block_hash;
  Hash256 state_root;
  std::uint64_t view = 0;
  std::optional<PublicKey> validator;  // this node's consensus key, when it is in the set
  PublicKey node_id;
  std::string moniker;
  std::uint64_t peers = 0;
  std::uint64_t mempool_txs = 0;
  std::uint64_t mempool_bytes = 0;
  // "signing", "double-sign-check" (holding every signature: the
  // signed-votes record was missing or older than the chain), or
  // "not-validator".
  std::string signing = "not-validator";
  // The highest height it knows of (its own, or one a peer said it has),
  // and whether this node is more than one block behind it (syncing
  // blocks, not following consensus).
  std::uint64_t best_known_height = 0;
  bool catching_up = false;
  std::optional<DoubleSignCheck> double_sign_check;  // while checking
  // A vote, or evidence, under this node's validator key that it did not
  // sign was seen: another instance runs with the same key.
  bool another_instance = false;
  std::string version;  // the node's software version
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("chain_id", s.chain_id);
    f("height", s.height);
    f("latest_block_hash", s.latest_block_hash);
    f("state_root", s.state_root);
    f("view", s.view);
    f("validator", s.validator);
    f("node_id", s.node_id);
    f("moniker", s.moniker);
    f("peers", s.peers);
    f("mempool_txs", s.mempool_txs);
    f("mempool_bytes", s.mempool_bytes);
    f("signing", s.signing);
    f("best_known_height", s.best_known_height);
    f("catching_up", s.catching_up);
    f("double_sign_check", s.double_sign_check);
    f("another_instance", s.another_instance);
    f("version", s.version);
  }
  friend bool operator==(const NodeStatus&, const NodeStatus&) = default;
};

// An account's figures (`account`; its `address` and `proof` are the
// method's own).
struct AccountInfo {
  Amount balance;
  std::uint64_t nonce = 0;       // committed
  std::uint64_t next_nonce = 0;  // counting the sender's transactions in the mempool
  std::uint64_t height = 0;      // the state these figures are from
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("balance", s.balance);
    f("nonce", s.nonce);
    f("next_nonce", s.next_nonce);
    f("height", s.height);
  }
  friend bool operator==(const AccountInfo&, const AccountInfo&) = default;
};

// An account's delegations and unbonding entries (`delegations`).
struct DelegationInfo {
  PublicKey validator;
  std::uint64_t shares = 0;
  Amount value;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("validator", s.validator);
    f("shares", s.shares);
    f("value", s.value);
  }
  friend bool operator==(const DelegationInfo&, const DelegationInfo&) = default;
};
struct UnbondingInfo {
  PublicKey validator;
  Amount amount;
  std::uint64_t creation_height = 0;
  std::uint64_t completion_height = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("validator", s.validator);
    f("amount", s.amount);
    f("creation_height", s.creation_height);
    f("completion_height", s.completion_height);
  }
  friend bool operator==(const UnbondingInfo&, const UnbondingInfo&) = default;
};
struct DelegationsInfo {
  std::vector<DelegationInfo> delegations;
  std::vector<UnbondingInfo> unbonding;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("delegations", s.delegations);
    f("unbonding", s.unbonding);
  }
  friend bool operator==(const DelegationsInfo&, const DelegationsInfo&) = default;
};

// An account's rewards (`rewards`): vested (claimable now) and locked, with
// the locked entries of an operator's commission and settled delegations.
struct RewardEntryInfo {
  std::uint64_t vest_height = 0;
  Amount amount;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("vest_height", s.vest_height);
    f("amount", s.amount);
  }
  friend bool operator==(const RewardEntryInfo&, const RewardEntryInfo&) = default;
};
struct RewardsInfo {
  Amount vested;
  Amount locked;
  std::vector<RewardEntryInfo> entries;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("vested", s.vested);
    f("locked", s.locked);
    f("entries", s.entries);
  }
  friend bool operator==(const RewardsInfo&, const RewardsInfo&) = default;
};

// A registered validator (`validators`, `validator`).
struct ValidatorInfo {
  PublicKey operator_address;
  PublicKey consensus_key;
  std::string name;
  std::uint64_t commission_bps = 0;
  Amount tokens;
  std::uint64_t shares = 0;
  bool jailed = false;
  std::uint64_t jailed_until = 0;
  bool banned = false;
  bool in_set = false;        // in the set that certifies the next block
  std::uint64_t power = 0;    // its power in that set (0 when outside)
  // Why it has that power (contracts::validator_statuses): "active",
  // "waiting", "not-selected", "jailed", "banned" or "below-min-stake",
  // a sentence with the figures, what it lacks of the minimum stake, the
  // height at whose end the next set is chosen, and the reason an unjail
  // in the next block would fail with (empty: it would succeed).
  std::string status;
  std::string detail;
  Amount missing_stake;
  std::uint64_t next_epoch_boundary = 0;
  std::string unjail_refusal;
  // The downtime rule (contracts::downtime_record): of the last
  // `window_commits` commits (at most params.downtime_window; the count
  // restarts when it is jailed), the ones it did not sign; more than
  // `missed_allowed` in a full window jails it.
  std::uint64_t missed_in_window = 0;
  std::uint64_t window_commits = 0;
  std::uint64_t missed_allowed = 0;
  // Its punishments in the node's history index (slash_double_sign,
  // validator_jailed): counted from the heights this node committed.
  std::uint64_t slashes = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("operator", s.operator_address);
    f("consensus_key", s.consensus_key);
    f("name", s.name);
    f("commission_bps", s.commission_bps);
    f("tokens", s.tokens);
    f("shares", s.shares);
    f("jailed", s.jailed);
    f("jailed_until", s.jailed_until);
    f("banned", s.banned);
    f("in_set", s.in_set);
    f("power", s.power);
    f("status", s.status);
    f("detail", s.detail);
    f("missing_stake", s.missing_stake);
    f("next_epoch_boundary", s.next_epoch_boundary);
    f("unjail_refusal", s.unjail_refusal);
    f("missed_in_window", s.missed_in_window);
    f("window_commits", s.window_commits);
    f("missed_allowed", s.missed_allowed);
    f("slashes", s.slashes);
  }
  friend bool operator==(const ValidatorInfo&, const ValidatorInfo&) = default;
};

struct AssignmentInfo {
  PublicKey worker;
  bool committed = false;
  bool revealed = false;
  std::uint64_t outcome = 0;  // core/task_outcome.h, once revealed
  std::uint64_t exit_code = 0;
  std::uint64_t fuel_used = 0;
  Hash256 result_hash;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("worker", s.worker);
    f("committed", s.committed);
    f("revealed", s.revealed);
    f("outcome", s.outcome);
    f("exit_code", s.exit_code);
    f("fuel_used", s.fuel_used);
    f("result_hash", s.result_hash);
  }
  friend bool operator==(const AssignmentInfo&, const AssignmentInfo&) = default;
};

struct RoundInfo {
  std::string kind;  // "first", "retry", "audit"
  PublicKey payer;
  Amount escrow;
  std::uint64_t requested_height = 0;
  std::uint64_t assigned_height = 0;  // 0 while waiting for workers
  std::uint64_t commit_deadline = 0;
  std::uint64_t reveal_deadline = 0;
  std::vector<AssignmentInfo> assignments;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("kind", s.kind);
    f("payer", s.payer);
    f("escrow", s.escrow);
    f("requested_height", s.requested_height);
    f("assigned_height", s.assigned_height);
    f("commit_deadline", s.commit_deadline);
    f("reveal_deadline", s.reveal_deadline);
    f("assignments", s.assignments);
  }
  friend bool operator==(const RoundInfo&, const RoundInfo&) = default;
};

struct TaskResultInfo {
  Hash256 result_hash;
  std::uint64_t outcome = 0;
  std::uint64_t exit_code = 0;
  std::uint64_t fuel_used = 0;
  Bytes output;
  std::uint64_t settled_height = 0;
  std::uint64_t vest_height = 0;
  std::vector<PublicKey> majority;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("result_hash", s.result_hash);
    f("outcome", s.outcome);
    f("exit_code", s.exit_code);
    f("fuel_used", s.fuel_used);
    f("output", s.output);
    f("settled_height", s.settled_height);
    f("vest_height", s.vest_height);
    f("majority", s.majority);
  }
  friend bool operator==(const TaskResultInfo&, const TaskResultInfo&) = default;
};

struct TaskInfo {
  std::uint64_t id = 0;
  PublicKey submitter;
  Hash256 module_hash;
  Bytes input;
  std::uint64_t replicas = 0;
  Amount reward;  // per agreeing worker
  std::uint64_t fuel = 0;
  std::uint64_t commit_blocks = 0;
  std::uint64_t reveal_blocks = 0;
  std::uint64_t submitted_height = 0;
  std::uint64_t metering_version = 0;
  Hash256 metered_hash;
  std::string status;        // "open", "settled", "failed"
  std::string failure;       // why, when failed
  std::string retry_reason;  // why the first round was retried; "" if it was not
  std::optional<RoundInfo> round;            // the round in progress
  std::optional<TaskResultInfo> result;      // once settled
  std::uint64_t audits = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("id", s.id);
    f("submitter", s.submitter);
    f("module_hash", s.module_hash);
    f("input", s.input);
    f("replicas", s.replicas);
    f("reward", s.reward);
    f("fuel", s.fuel);
    f("commit_blocks", s.commit_blocks);
    f("reveal_blocks", s.reveal_blocks);
    f("submitted_height", s.submitted_height);
    f("metering_version", s.metering_version);
    f("metered_hash", s.metered_hash);
    f("status", s.status);
    f("failure", s.failure);
    f("retry_reason", s.retry_reason);
    f("round", s.round);
    f("result", s.result);
    f("audits", s.audits);
  }
  friend bool operator==(const TaskInfo&, const TaskInfo&) = default;
};

struct WorkerInfo {
  PublicKey key;
  Amount stake;
  bool active = false;
  Amount unbonding;
  std::uint64_t unbonding_until = 0;
  std::uint64_t reputation = 0;  // ppm
  std::uint64_t agreed = 0;
  std::uint64_t outvoted = 0;
  std::uint64_t missed = 0;
  std::uint64_t slashes = 0;  // worker_slashed events in the node's history index
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("key", s.key);
    f("stake", s.stake);
    f("active", s.active);
    f("unbonding", s.unbonding);
    f("unbonding_until", s.unbonding_until);
    f("reputation", s.reputation);
    f("agreed", s.agreed);
    f("outvoted", s.outvoted);
    f("missed", s.missed);
    f("slashes", s.slashes);
  }
  friend bool operator==(const WorkerInfo&, const WorkerInfo&) = default;
};

// --- the node's history index (`history`, `worker_history`, `blocks`) ------------

// One entry of an account's or a task's history: a transaction (its
// position, hash, payload type and receipt figures, with every event of
// its receipt) or, with index null, the events of a block's hooks
// (assignment, settlement, downtime, evidence) that concern it.
struct HistoryItemInfo {
  std::uint64_t height = 0;
  std::optional<std::uint64_t> index;
  std::optional<Hash256> tx_hash;
  std::string type;  // the payload's name; empty for a block's events
  bool ok = true;
  std::string reason;
  std::vector<Event> events;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("index", s.index);
    f("tx_hash", s.tx_hash);
    f("type", s.type);
    f("ok", s.ok);
    f("reason", s.reason);
    f("events", s.events);
  }
  friend bool operator==(const HistoryItemInfo&, const HistoryItemInfo&) = default;
};

struct HistoryInfo {
  std::uint64_t height = 0;              // the committed height it was read at: later events come after it
  std::vector<HistoryItemInfo> entries;  // newest first
  std::string next_cursor;               // pass as `cursor` for the next page; empty: there is none
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("entries", s.entries);
    f("next_cursor", s.next_cursor);
  }
  friend bool operator==(const HistoryInfo&, const HistoryInfo&) = default;
};

// A worker's record at a height where it changed.
struct WorkerPointInfo {
  std::uint64_t height = 0;
  Amount stake;
  bool active = false;
  std::uint64_t reputation = 0;
  std::uint64_t agreed = 0;
  std::uint64_t outvoted = 0;
  std::uint64_t missed = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("stake", s.stake);
    f("active", s.active);
    f("reputation", s.reputation);
    f("agreed", s.agreed);
    f("outvoted", s.outvoted);
    f("missed", s.missed);
  }
  friend bool operator==(const WorkerPointInfo&, const WorkerPointInfo&) = default;
};

// What a transaction would do if it were the next block's only one
// (`simulate`): against the committed state at `height`, nothing written.
// `pays_fee`: sending it would cost its fee (it passes the charge: fee,
// nonce, balance; a failure after that is committed and pays). A failure
// before that (fee-too-low, bad-nonce, insufficient-funds for the fee,
// bad-signature, wrong-chain-id) is one the mempool refuses.
struct SimulationInfo {
  std::uint64_t height = 0;
  bool ok = false;
  std::string reason;  // the stable reason it would fail with; empty when ok
  std::string detail;  // the contract's sentence for people
  bool pays_fee = false;
  Amount fee_required;  // the least fee the chain takes: params.min_fee
  Amount fee_paid;      // what it would pay
  std::vector<Event> events;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("ok", s.ok);
    f("reason", s.reason);
    f("detail", s.detail);
    f("pays_fee", s.pays_fee);
    f("fee_required", s.fee_required);
    f("fee_paid", s.fee_paid);
    f("events", s.events);
  }
  friend bool operator==(const SimulationInfo&, const SimulationInfo&) = default;
};

// A committed block in a few figures.
struct BlockSummaryInfo {
  std::uint64_t height = 0;
  Hash256 hash;
  std::uint64_t timestamp_ms = 0;
  PublicKey proposer;
  std::uint64_t view = 0;
  std::uint64_t txs = 0;
  std::uint64_t bytes = 0;
  std::uint64_t signers = 0;  // signatures of its own commit certificate
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("hash", s.hash);
    f("timestamp_ms", s.timestamp_ms);
    f("proposer", s.proposer);
    f("view", s.view);
    f("txs", s.txs);
    f("bytes", s.bytes);
    f("signers", s.signers);
  }
  friend bool operator==(const BlockSummaryInfo&, const BlockSummaryInfo&) = default;
};

// A transaction's receipt (`tx`, `send_tx_commit`): core's Receipt but its
// tx_id, which the answer carries beside it as `hash`.
struct ReceiptInfo {
  std::uint64_t height = 0;
  std::uint64_t index = 0;  // position in the block
  bool ok = false;
  std::string reason;  // stable kebab-case reason when !ok
  Amount fee_paid;
  std::vector<Event> events;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("index", s.index);
    f("ok", s.ok);
    f("reason", s.reason);
    f("fee_paid", s.fee_paid);
    f("events", s.events);
  }
  friend bool operator==(const ReceiptInfo&, const ReceiptInfo&) = default;
};
inline ReceiptInfo receipt_info(const Receipt& r) { return {r.height, r.index, r.ok, r.reason, r.fee_paid, r.events}; }

// A transaction as the block answer lists it: its id ("hash") beside its
// fields. Read only (the client checks the id is the transaction's).
struct HashedTx {
  Hash256 hash;
  Transaction tx;
};

// --- the codec ------------------------------------------------------------------
// Writing is rpc/json_codec.h's field_json, shared with the core structs;
// reading, strict and naming the path, is below.

namespace records_detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_fixed : std::false_type {};
template <std::size_t N, class Tag>
struct is_fixed<FixedBytes<N, Tag>> : std::true_type {
  static constexpr std::size_t size = N;
};
template <class T>
concept Record = requires(T& t) { T::fields(t, [](const char*, auto&, auto&&...) {}); };
template <class T>
struct is_string_pairs : std::false_type {};
template <>
struct is_string_pairs<std::vector<std::pair<std::string, std::string>>> : std::true_type {};

// What went wrong at `path`, for the error the caller wraps.
struct Problem {
  std::string path;
  std::string what;
};

template <class T>
std::optional<Problem> read(const rapidjson::Value& v, const std::string& path, T& out) {
  auto wrong = [&](const char* what) { return std::optional<Problem>(Problem{path, what}); };
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.IsBool()) return wrong("is not a boolean");
    out = v.GetBool();
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    if (!v.IsUint64()) return wrong("is not an unsigned integer");
    out = v.GetUint64();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.IsString()) return wrong("is not a string");
    out.assign(v.GetString(), v.GetStringLength());
  } else if constexpr (std::is_same_v<T, Amount>) {
    if (!v.IsString()) return wrong("is not an amount (a decimal string)");
    auto a = Amount::parse(std::string_view(v.GetString(), v.GetStringLength()));
    if (!a) return wrong("is not an amount (a decimal string)");
    out = *a;
  } else if constexpr (std::is_same_v<T, Bytes>) {
    if (!v.IsString()) return wrong("is not a hex string");
    auto b = from_hex(std::string_view(v.GetString(), v.GetStringLength()));
    if (!b) return wrong("is not a hex string");
    out.assign(b->begin(), b->end());
  } else if constexpr (is_fixed<T>::value) {
    if (!v.IsString()) return wrong("is not a hex string");
    auto b = T::from_hex(std::string_view(v.GetString(), v.GetStringLength()));
    if (!b) return std::optional<Problem>(Problem{path, "is not " + std::to_string(2 * is_fixed<T>::size) + " hex digits"});
    out = *b;
  } else if constexpr (std::is_same_v<T, Transaction>) {
    // The object send_tx reads (rpc/json_codec.h), by the same reader.
    auto tx = transaction_from_json(v);
    if (!tx) return std::optional<Problem>(Problem{path, "is not a transaction: " + tx.error().detail});
    out = std::move(*tx);
  } else if constexpr (std::is_same_v<T, HashedTx>) {
    // A transaction with its id beside its fields: the id must be the
    // transaction's.
    if (!v.IsObject() || !member(v, "hash")) return wrong("is not a transaction with its hash");
    if (auto p = read(*member(v, "hash"), path + ".hash", out.hash)) return p;
    rapidjson::Document fields(rapidjson::kObjectType);
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it)
      if (std::string_view(it->name.GetString(), it->name.GetStringLength()) != "hash")
        fields.AddMember(rapidjson::Value(it->name, fields.GetAllocator()),
                         rapidjson::Value(it->value, fields.GetAllocator()), fields.GetAllocator());
    if (auto p = read(fields, path, out.tx)) return p;
    if (out.tx.id() != out.hash)
      return std::optional<Problem>(Problem{path + ".hash", "is not the id of the transaction beside it (" +
                                                                out.tx.id().hex() + ")"});
  } else if constexpr (is_string_pairs<T>::value) {
    // Named strings (an event's attributes): an object, in its order.
    if (!v.IsObject()) return wrong("is not an object");
    out.clear();
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string name(it->name.GetString(), it->name.GetStringLength());
      if (!it->value.IsString()) return std::optional<Problem>(Problem{path + "." + name, "is not a string"});
      out.emplace_back(name, std::string(it->value.GetString(), it->value.GetStringLength()));
    }
  } else if constexpr (is_optional<T>::value) {
    if (v.IsNull()) {
      out.reset();
      return std::nullopt;
    }
    typename T::value_type inner{};
    if (auto p = read(v, path, inner)) return p;
    out = std::move(inner);
  } else if constexpr (is_vector<T>::value) {
    if (!v.IsArray()) return wrong("is not an array");
    out.clear();
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      typename T::value_type x{};
      if (auto p = read(v[i], path + "[" + std::to_string(i) + "]", x)) return p;
      out.push_back(std::move(x));
    }
  } else {
    static_assert(Record<T>, "a field type the record codec does not know");
    if (!v.IsObject()) return wrong("is not an object");
    std::optional<Problem> problem;
    // Bounds in a core struct's list (Max{...}) are the binary codec's.
    T::fields(out, [&](const char* name, auto& field, auto&&...) {
      if (problem) return;
      const std::string at = path.empty() ? std::string(name) : path + "." + name;
      const rapidjson::Value* m = member(v, name);
      if (!m) {
        if constexpr (is_optional<std::remove_cvref_t<decltype(field)>>::value) {
          field.reset();
        } else {
          problem = Problem{at, "is missing"};
        }
        return;
      }
      problem = read(*m, at, field);
    });
    return problem;
  }
  return std::nullopt;
}

}  // namespace records_detail

// A record (or a list of records, or an optional one) as JSON.
template <class T>
rapidjson::Value record_to_json(const T& value, JsonAlloc& alloc) {
  return field_json(value, alloc);  // rpc/json_codec.h: the writer of every struct with fields()
}

// Sets each field of `to` that `from` has too (the same name, the same
// type) to `from`'s value: how the node fills a record of this file from
// the contract's record it shows. Any two types with fields lists.
template <class From, class To>
void copy_same_fields(const From& from, To& to) {
  To::fields(to, [&](const char* name, auto& field, auto&&...) {
    using F = std::remove_cvref_t<decltype(field)>;
    From::fields(from, [&](const char* from_name, const auto& value, auto&&...) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(value)>, F>)
        if (std::string_view(name) == from_name) field = value;
    });
  });
}

// The fields of `To` that copy_same_fields leaves for the caller, in order.
template <class From, class To>
std::vector<std::string> fields_not_copied() {
  std::vector<std::string> out;
  To to{};
  const From from{};
  To::fields(to, [&](const char* name, auto& field, auto&&...) {
    using F = std::remove_cvref_t<decltype(field)>;
    bool found = false;
    From::fields(from, [&](const char* from_name, const auto& value, auto&&...) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(value)>, F>)
        found = found || std::string_view(name) == from_name;
    });
    if (!found) out.emplace_back(name);
  });
  return out;
}

// Reads what `method` answered (or its member `at`) as a T. Reason
// "rpc-bad-response".
template <class T>
Result<T> record_from_json(const rapidjson::Value& v, std::string_view method, std::string_view at = "") {
  T out{};
  if (auto p = records_detail::read(v, std::string(at), out))
    return make_error("rpc-bad-response", "the node's " + std::string(method) + " answer" +
                                              (p->path.empty() ? std::string(" ") : ": `" + p->path + "` ") + p->what);
  return out;
}

// Member `name` of what `method` answered, read as a T (a missing member
// is an error, as inside a record).
template <class T>
Result<T> member_from_json(const rapidjson::Value& answer, const char* name, std::string_view method) {
  const rapidjson::Value* m = member(answer, name);
  if (!m) {
    if constexpr (records_detail::is_optional<T>::value) return T{};
    return make_error("rpc-bad-response", "the node's " + std::string(method) + " answer: `" + name + "` is missing");
  }
  return record_from_json<T>(*m, method, name);
}

}  // namespace verity::rpc
