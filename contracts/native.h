#pragma once
// The native contracts behind state::Application: genesis state, the fee
// and nonce rules every transaction pays, the block hooks (rewards,
// downtime, epochs: contracts/staking.h), and dispatch of each payload kind
// to its contract.
//
// Genesis state keys (besides accounts):
//   "sys/params"     -> ProtocolParams
//   state::kValidatorSetKey ("sys/validators") -> ValidatorSet (power = stake)

#include "contracts/module_meter.h"
#include "state/application.h"

namespace verity::contracts {

extern const Bytes kParamsKey;

// The terms of the node's history index (state::Application, "history
// index"; docs/node.md, "History"):
//   account_term: 'a' + key    an account's transactions and the events naming it
//   task_term:    't' + be64   a task's transactions and events
//   slash_term:   's' + key    the punishments of a validator operator or a worker
//                              (slash_double_sign, validator_jailed, worker_slashed)
//   worker_series_term: 'w' + key   a worker's record, at each height it changed
Bytes account_term(const PublicKey& key);
Bytes task_term(std::uint64_t id);
Bytes slash_term(const PublicKey& key);
Bytes worker_series_term(const PublicKey& key);

class NativeContracts final : public state::Application {
 public:
  // `meter` admits task modules and gives the hash of their instrumented
  // form, which the task records. Every node has one; without it (contract
  // unit tests) modules are not checked and the metered hash stays zero.
  explicit NativeContracts(const ModuleMeter* meter = nullptr) : meter_(meter) {}

  Status init_genesis(state::StateOverlay& state, const Genesis& genesis) const override;
  Status begin_block(state::StateOverlay& state, const state::BlockContext& ctx, const CommitCertificate& last_commit,
                     std::vector<Event>& events) const override;
  Status apply_evidence(state::StateOverlay& state, const state::BlockContext& ctx, const DoubleSignEvidence& e,
                        std::vector<Event>& events) const override;
  Status end_block(state::StateOverlay& state, const state::BlockContext& ctx, std::vector<Event>& events) const override;
  // Reasons: "bad-nonce", "fee-too-low", "insufficient-funds".
  Status charge(state::StateOverlay& state, const state::BlockContext& ctx, const Transaction& tx) const override;
  Status execute(state::StateOverlay& state, const state::BlockContext& ctx, const Transaction& tx,
                 std::vector<Event>& events) const override;
  void history_terms(const Event& e, std::vector<Bytes>& terms) const override;
  Bytes sender_term(const PublicKey& sender) const override { return account_term(sender); }
  std::optional<Bytes> series_term(ByteView key) const override;

 private:
  const ModuleMeter* meter_;
};

}  // namespace verity::contracts
