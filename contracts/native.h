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

class NativeContracts final : public state::Application {
 public:
  // `meter` admits task modules and gives the hash of their instrumented
  // form, which the task records. Every node has one; without it (contract
  // unit tests) modules are not checked and the metered hash stays zero.
  explicit NativeContracts(const ModuleMeter* meter = nullptr) : meter_(meter) {}

  Status init_genesis(state::StateOverlay& state, const Genesis& genesis) const override;
  Status begin_block(state::StateOverlay& state, const state::BlockContext& ctx,
                     const CommitCertificate& last_commit) const override;
  Status apply_evidence(state::StateOverlay& state, const state::BlockContext& ctx,
                        const DoubleSignEvidence& e) const override;
  Status end_block(state::StateOverlay& state, const state::BlockContext& ctx) const override;
  // Reasons: "bad-nonce", "fee-too-low", "insufficient-funds".
  Status charge(state::StateOverlay& state, const state::BlockContext& ctx, const Transaction& tx) const override;
  Status execute(state::StateOverlay& state, const state::BlockContext& ctx, const Transaction& tx,
                 std::vector<Event>& events) const override;

 private:
  const ModuleMeter* meter_;
};

}  // namespace verity::contracts
