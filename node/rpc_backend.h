#pragma once
// The running node as the RPC server sees it (rpc::NodeApi): reads from
// the committed chain and the contracts' queries, writes through
// Node::submit. Runs on the node's io_context thread.

#include "node/node.h"
#include "rpc/api.h"

namespace verity::node {

class RpcBackend final : public rpc::NodeApi {
 public:
  explicit RpcBackend(Node& node) : node_(node) {}

  rpc::NodeStatus status() const override;
  const Genesis& genesis() const override { return node_.chain().genesis(); }
  Result<std::optional<Block>> block_at(std::uint64_t height) const override { return node_.chain().block_at(height); }
  Result<std::optional<std::uint64_t>> height_of(const Hash256& hash) const override {
    return node_.chain().height_of(hash);
  }
  Result<std::optional<CommitCertificate>> certificate_at(std::uint64_t height) const override {
    return node_.chain().certificate_at(height);
  }
  Result<std::optional<rpc::TxLookup>> transaction(const Hash256& id) const override;
  Result<rpc::AccountInfo> account(const PublicKey& address) const override;
  Result<rpc::AccountProof> prove_account(const PublicKey& address) const override;
  Result<std::vector<rpc::ValidatorInfo>> validators() const override;
  Result<std::optional<rpc::ValidatorInfo>> validator(const PublicKey& operator_address) const override;
  Result<rpc::DelegationsInfo> delegations(const PublicKey& delegator) const override;
  Result<rpc::RewardsInfo> rewards(const PublicKey& account) const override;
  Result<std::uint64_t> reputation(const PublicKey& who) const override;
  Result<std::optional<rapidjson::Document>> task(std::uint64_t id) const override;
  Result<rapidjson::Document> tasks(std::uint64_t before, std::uint64_t limit, bool in_progress) const override;
  Result<std::optional<rapidjson::Document>> worker(const PublicKey& key) const override;
  Result<rapidjson::Document> workers() const override;
  Result<std::optional<Bytes>> module(const Hash256& hash) const override;
  Result<Hash256> submit(const Transaction& tx) override { return node_.submit(tx); }
  std::vector<rpc::Metric> metrics() const override;

 private:
  Node& node_;
};

}  // namespace verity::node
