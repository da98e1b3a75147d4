#pragma once
// What the RPC server needs from the node, in core types only: rpc/ never
// links node/, state/ or contracts/ (DESIGN.md's arrows). node/rpc_backend
// implements it on the running node. Calls come from the RPC server's
// threads, several at once: implementations must be thread-safe (the
// node's reads a snapshot of the committed chain, node/node.h).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/amount.h"
#include "core/block.h"
#include "core/genesis.h"
#include "core/light_client.h"
#include "core/receipt.h"
#include "core/result.h"
#include "core/state_proof.h"
#include "core/transaction.h"
#include "core/validator_set.h"
#include "rpc/records.h"

namespace verity::rpc {

struct TxLookup {
  Transaction tx;
  std::optional<Receipt> receipt;  // nullopt: pending in the mempool
};

// Everything a client needs to check an account without trusting the node
// beyond the validator set: the state proof, the header whose state_root it
// is against, and the certificate (with the set) that vouches for the header.
struct AccountProof {
  std::uint64_t height = 0;
  Bytes key;
  std::optional<Bytes> value;  // the canonical Account encoding; nullopt: absent
  Hash256 root;
  StateProof proof;
  BlockHeader header;
  CommitCertificate certificate;
  ValidatorSet validators;  // the set that certified `height`
};

// One Prometheus metric family.
struct Metric {
  std::string name;  // "verity_height"
  std::string help;
  std::string type;  // "gauge" | "counter"
  struct Sample {
    std::string labels;  // `method="status"`, or empty
    double value = 0;
  };
  std::vector<Sample> samples;
};

class NodeApi {
 public:
  virtual ~NodeApi() = default;

  virtual NodeStatus status() const = 0;
  virtual const Genesis& genesis() const = 0;
  virtual Result<std::optional<Block>> block_at(std::uint64_t height) const = 0;
  virtual Result<std::optional<std::uint64_t>> height_of(const Hash256& block_hash) const = 0;
  virtual Result<std::optional<CommitCertificate>> certificate_at(std::uint64_t height) const = 0;
  virtual Result<std::optional<TxLookup>> transaction(const Hash256& id) const = 0;
  virtual Result<AccountInfo> account(const PublicKey& address) const = 0;
  virtual Result<AccountProof> prove_account(const PublicKey& address) const = 0;
  // The validator-set hand-offs (core/light_client.h) of epoch blocks at or
  // after `from_height`, ascending, at most `limit`.
  virtual Result<std::vector<ValidatorHandoff>> handoffs(std::uint64_t from_height, std::uint64_t limit) const = 0;
  // The set that certifies the next block first, then every other registered validator.
  virtual Result<std::vector<ValidatorInfo>> validators() const = 0;
  virtual Result<std::optional<ValidatorInfo>> validator(const PublicKey& operator_address) const = 0;
  virtual Result<DelegationsInfo> delegations(const PublicKey& delegator) const = 0;
  virtual Result<RewardsInfo> rewards(const PublicKey& account) const = 0;
  virtual Result<std::uint64_t> reputation(const PublicKey& who) const = 0;
  // The task market's records (contracts/tasks.h) as the RPC serves them
  // (rpc/records.h, shared with the clients that read them).
  virtual Result<std::optional<TaskInfo>> task(std::uint64_t id) const = 0;
  // Descending ids below `before` (0: from the newest), at most `limit`;
  // with `in_progress`, only tasks with a round in progress.
  virtual Result<std::vector<TaskInfo>> tasks(std::uint64_t before, std::uint64_t limit, bool in_progress) const = 0;
  virtual Result<std::optional<WorkerInfo>> worker(const PublicKey& key) const = 0;
  virtual Result<std::vector<WorkerInfo>> workers() const = 0;
  virtual Result<std::optional<Bytes>> module(const Hash256& hash) const = 0;
  // What the workers of a task run (docs/sandbox.md, "Metering"): stored
  // module `hash` instrumented under the chain's metering version; its
  // SHA-256 is the task's metered_hash. nullopt: no such stored module.
  virtual Result<std::optional<Bytes>> metered_module(const Hash256& hash) const = 0;
  // Admits to the mempool and gossips, answering through `done` (exactly
  // once, on any thread, maybe before this returns); the error carries the
  // reason. `client` names the caller (its IP address) for per-client
  // limits. The node's runs the cheap checks on the calling thread and
  // queues the rest (docs/node.md "Threads").
  virtual void submit_async(const Transaction& tx, const std::string& client,
                            std::function<void(Result<Hash256>)> done) = 0;
  virtual std::vector<Metric> metrics() const = 0;

  // The node's history index (docs/node.md, "History"): pages newest
  // first, at most `limit` (1 to 100), after `cursor` (a page's
  // next_cursor) when it is not empty, else from heights below `before`
  // (0: from the newest). An account's or a task's entries; a malformed
  // cursor is "invalid-params".
  virtual Result<HistoryInfo> account_history(const PublicKey& address, std::uint64_t before, std::uint64_t limit,
                                              const std::string& cursor) const = 0;
  virtual Result<HistoryInfo> task_history(std::uint64_t id, std::uint64_t before, std::uint64_t limit,
                                           const std::string& cursor) const = 0;
  // A worker's record at each height it changed.
  virtual Result<std::vector<WorkerPointInfo>> worker_history(const PublicKey& key, std::uint64_t before,
                                                              std::uint64_t limit) const = 0;
  // Committed blocks, newest first.
  virtual Result<std::vector<BlockSummaryInfo>> blocks(std::uint64_t before, std::uint64_t limit) const = 0;
  // The events of block `height`'s hooks (empty when none or unknown).
  virtual Result<std::vector<Event>> block_events(std::uint64_t height) const = 0;
  // Runs `tx` against the committed state as the next block would, and
  // writes nothing. Without `check_signature` (an estimate of an unsigned
  // transaction) the signature is not checked. A nonce above the
  // account's is taken as if the sender's pending transactions had
  // committed (their effects are not applied).
  virtual Result<SimulationInfo> simulate(const Transaction& tx, bool check_signature) const = 0;
};

}  // namespace verity::rpc
