#pragma once
// The native contracts behind state::Application: genesis state, the fee
// and nonce rules every transaction pays, the block hooks (rewards,
// downtime, epochs: contracts/staking.h), and dispatch of each payload kind
// to its contract.
//
// Genesis state keys (besides accounts):
//   "sys/params"     -> ProtocolParams
//   state::kValidatorSetKey ("sys/validators") -> ValidatorSet (power = stake)

#include "state/application.h"

namespace verity::contracts {

extern const Bytes kParamsKey;

class NativeContracts final : public state::Application {
 public:
  Status init_genesis(state::StateOverlay& state, const Genesis& genesis) const override;
  Status begin_block(state::StateOverlay& state, const state::BlockContext& ctx,
                     const CommitCertificate& last_commit) const override;
  Status end_block(state::StateOverlay& state, const state::BlockContext& ctx) const override;
  // Reasons: "bad-nonce", "fee-too-low", "insufficient-funds".
  Status charge(state::StateOverlay& state, const state::BlockContext& ctx, const Transaction& tx) const override;
  Status execute(state::StateOverlay& state, const state::BlockContext& ctx, const Transaction& tx,
                 std::vector<Event>& events) const override;
};

}  // namespace verity::contracts
