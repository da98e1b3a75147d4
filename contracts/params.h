#pragma once
// Protocol parameters. Every one lives in genesis; the defaults below are
// DESIGN.md's (informed by Cosmos SDK and CometBFT, scaled to blocks).
// Every period is a number of blocks, never wall-clock time. Fractions are
// basis points: 10,000 bps = 100%.

#include <cstdint>

#include "core/amount.h"
#include "core/result.h"

namespace verity::contracts {

inline constexpr std::uint32_t kBpsDenominator = 10'000;

struct ProtocolParams {
  // consensus and validator set
  std::uint64_t epoch_blocks = 100;
  std::uint32_t max_validators = 100;
  // staking
  std::uint64_t unbonding_blocks = 1'000;
  // slashing: double sign
  std::uint32_t double_sign_slash_bps = 500;  // 5%, and a permanent ban
  // slashing: downtime
  std::uint64_t downtime_window = 100;
  std::uint32_t min_signed_bps = 5'000;  // sign at least 50% of the window
  std::uint64_t downtime_jail_blocks = 100;
  std::uint32_t downtime_slash_bps = 100;  // 1%
  // rewards and reputation
  std::uint64_t reward_lock_blocks = 100;
  std::uint32_t reputation_decay_bps = 1'000;  // 10% per epoch
  // tasks
  std::uint32_t task_replication = 3;
  std::uint32_t worker_outvoted_slash_bps = 1'000;  // 10% of worker stake

  friend bool operator==(const ProtocolParams&, const ProtocolParams&) = default;
};

// Checks ranges; the error detail names the bad field. Reason "bad-param".
Status validate(const ProtocolParams& p);

}  // namespace verity::contracts
