#pragma once
// A NodeApi with nothing in it, for tests of rpc/ without a node: every
// read finds nothing, every submit is accepted. Tests override what they
// need.

#include "rpc/api.h"

namespace verity::rpc {

struct EmptyNode : NodeApi {
  Genesis gen;
  NodeStatus status() const override {
    NodeStatus s;
    s.chain_id = "verity-test-1";
    s.height = 7;
    s.moniker = "fake";
    return s;
  }
  const Genesis& genesis() const override { return gen; }
  Result<std::optional<Block>> block_at(std::uint64_t) const override { return std::optional<Block>(); }
  Result<std::optional<std::uint64_t>> height_of(const Hash256&) const override {
    return std::optional<std::uint64_t>();
  }
  Result<std::optional<CommitCertificate>> certificate_at(std::uint64_t) const override {
    return std::optional<CommitCertificate>();
  }
  Result<std::optional<TxLookup>> transaction(const Hash256&) const override { return std::optional<TxLookup>(); }
  Result<AccountInfo> account(const PublicKey&) const override { return AccountInfo{}; }
  Result<AccountProof> prove_account(const PublicKey&) const override { return local_error("no-proofs"); }
  Result<std::vector<ValidatorHandoff>> handoffs(std::uint64_t, std::uint64_t) const override {
    return std::vector<ValidatorHandoff>();
  }
  Result<std::vector<ValidatorInfo>> validators() const override { return std::vector<ValidatorInfo>(); }
  Result<std::optional<ValidatorInfo>> validator(const PublicKey&) const override {
    return std::optional<ValidatorInfo>();
  }
  Result<DelegationsInfo> delegations(const PublicKey&) const override { return DelegationsInfo{}; }
  Result<RewardsInfo> rewards(const PublicKey&) const override { return RewardsInfo{}; }
  Result<std::uint64_t> reputation(const PublicKey&) const override { return std::uint64_t{0}; }
  Result<std::optional<TaskInfo>> task(std::uint64_t) const override { return std::optional<TaskInfo>(); }
  Result<std::vector<TaskInfo>> tasks(std::uint64_t, std::uint64_t, bool) const override {
    return std::vector<TaskInfo>();
  }
  Result<std::optional<WorkerInfo>> worker(const PublicKey&) const override { return std::optional<WorkerInfo>(); }
  Result<std::vector<WorkerInfo>> workers() const override { return std::vector<WorkerInfo>(); }
  Result<std::optional<Bytes>> module(const Hash256&) const override { return std::optional<Bytes>(); }
  Result<std::optional<Bytes>> metered_module(const Hash256&) const override { return std::optional<Bytes>(); }
  void submit_async(const Transaction& tx, const std::string&, std::function<void(Result<Hash256>)> done) override {
    done(tx.id());
  }
  std::vector<Metric> metrics() const override { return {}; }
  Result<HistoryInfo> account_history(const PublicKey&, std::uint64_t, std::uint64_t,
                                      const std::string&) const override {
    return HistoryInfo{};
  }
  Result<HistoryInfo> task_history(std::uint64_t, std::uint64_t, std::uint64_t, const std::string&) const override {
    return HistoryInfo{};
  }
  Result<std::vector<WorkerPointInfo>> worker_history(const PublicKey&, std::uint64_t, std::uint64_t) const override {
    return std::vector<WorkerPointInfo>();
  }
  Result<std::vector<BlockSummaryInfo>> blocks(std::uint64_t, std::uint64_t) const override {
    return std::vector<BlockSummaryInfo>();
  }
  Result<std::vector<Event>> block_events(std::uint64_t) const override { return std::vector<Event>(); }
  Result<SimulationInfo> simulate(const Transaction&, bool) const override { return SimulationInfo{}; }
};

}  // namespace verity::rpc
