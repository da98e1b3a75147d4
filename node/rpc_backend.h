#pragma once
// The running node as the RPC server sees it (rpc::NodeApi): reads from
// the committed chain and the contracts' queries, writes through
// Node::submit_async. Thread-safe: it reads Node::view() (a snapshot of
// the committed chain), the node's live figures and the mempool's locked
// lookups, never what only the consensus thread may touch.

#include "node/node.h"
#include "rpc/api.h"

namespace verity::node {

class RpcBackend final : public rpc::NodeApi {
 public:
  explicit RpcBackend(Node& node) : node_(node) {}

  rpc::NodeStatus status() const override;
  const Genesis& genesis() const override { return node_.chain().genesis(); }
  Result<std::optional<Block>> block_at(std::uint64_t height) const override;
  Result<std::optional<std::uint64_t>> height_of(const Hash256& hash) const override;
  Result<std::optional<CommitCertificate>> certificate_at(std::uint64_t height) const override;
  Result<std::optional<rpc::TxLookup>> transaction(const Hash256& id) const override;
  Result<rpc::AccountInfo> account(const PublicKey& address) const override;
  Result<rpc::AccountProof> prove_account(const PublicKey& address) const override;
  Result<std::vector<ValidatorHandoff>> handoffs(std::uint64_t from_height, std::uint64_t limit) const override;
  Result<std::vector<rpc::ValidatorInfo>> validators() const override;
  Result<std::optional<rpc::ValidatorInfo>> validator(const PublicKey& operator_address) const override;
  Result<rpc::DelegationsInfo> delegations(const PublicKey& delegator) const override;
  Result<rpc::RewardsInfo> rewards(const PublicKey& account) const override;
  Result<std::uint64_t> reputation(const PublicKey& who) const override;
  Result<std::optional<rpc::TaskInfo>> task(std::uint64_t id) const override;
  Result<std::vector<rpc::TaskInfo>> tasks(std::uint64_t before, std::uint64_t limit, bool in_progress) const override;
  Result<std::optional<rpc::WorkerInfo>> worker(const PublicKey& key) const override;
  Result<std::vector<rpc::WorkerInfo>> workers() const override;
  Result<std::optional<Bytes>> module(const Hash256& hash) const override;
  Result<std::optional<Bytes>> metered_module(const Hash256& hash) const override;
  // Blocks the calling thread until the consensus thread answers: for
  // callers that can wait (not the RPC server, which uses submit_async).
  // Refuses at once ("rate-limited") a client that kept sending invalid
  // transactions (ClientLimiter), else Node::submit_async.
  void submit_async(const Transaction& tx, const std::string& client,
                    std::function<void(Result<Hash256>)> done) override;
  std::vector<rpc::Metric> metrics() const override;
  Result<rpc::HistoryInfo> account_history(const PublicKey& address, std::uint64_t before, std::uint64_t limit,
                                           const std::string& cursor) const override;
  Result<rpc::HistoryInfo> task_history(std::uint64_t id, std::uint64_t before, std::uint64_t limit,
                                        const std::string& cursor) const override;
  Result<std::vector<rpc::WorkerPointInfo>> worker_history(const PublicKey& key, std::uint64_t before,
                                                           std::uint64_t limit) const override;
  Result<std::vector<rpc::BlockSummaryInfo>> blocks(std::uint64_t before, std::uint64_t limit) const override;
  Result<std::vector<Event>> block_events(std::uint64_t height) const override;
  Result<rpc::SimulationInfo> simulate(const Transaction& tx, bool check_signature) const override;

 private:
  Node& node_;
  ClientLimiter client_limiter_;
};

}  // namespace verity::node
