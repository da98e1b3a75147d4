#pragma once
// Protocol parameters. Every one lives in genesis; the defaults below are
// DESIGN.md's (informed by Cosmos SDK and CometBFT, scaled to blocks).
// Every period is a number of blocks, never wall-clock time. Fractions are
// basis points: 10,000 bps = 100%.
//
// for_each_param() is the one list of parameters: validation, the binary
// encoding (and so the genesis hash) and the JSON codec all walk it, so a
// parameter added here is everywhere at once.

#include <cstdint>
#include <string_view>

#include "core/amount.h"
#include "core/encoding.h"
#include "core/result.h"

namespace verity {

inline constexpr std::uint32_t kBpsDenominator = 10'000;

// The reference speed, in fuel per block: 25 M fuel/s at ~1 s blocks. It is
// the slowest engine an honest worker may run on: `interp`, which a worker
// falls back to for a module the aot engine cannot compile, ran 32-63 M
// fuel/s on the 2-core reference machine (bench/REPORT.md); aot runs
// 5,000-30,000 M fuel/s. Windows cost nothing when workers are fast: a round
// settles as soon as every worker has revealed.
inline constexpr std::uint64_t kReferenceFuelPerBlock = 25'000'000;

// Blocks of a task's commit window beyond the blocks its fuel takes at the
// reference speed: one for the worker to see its assignment (assigned at
// the start of a block, seen once that block commits) and one for its
// commitment to land in a block.
inline constexpr std::uint64_t kTaskCommitMarginBlocks = 2;

// The shortest commit window an honest worker at the reference speed can
// meet for `fuel`: ceil(fuel / reference_fuel_per_block) + 2 (saturating;
// 0 when reference_fuel_per_block is 0, which validate() refuses).
constexpr std::uint64_t task_commit_blocks_needed(std::uint64_t fuel, std::uint64_t reference_fuel_per_block) {
  if (reference_fuel_per_block == 0) return 0;
  std::uint64_t run = fuel / reference_fuel_per_block + (fuel % reference_fuel_per_block != 0 ? 1 : 0);
  return run > UINT64_MAX - kTaskCommitMarginBlocks ? UINT64_MAX : run + kTaskCommitMarginBlocks;
}

struct ProtocolParams {
  // consensus and validator set
  std::uint64_t epoch_blocks = 100;
  std::uint64_t max_validators = 100;
  // blocks and fees
  std::uint64_t max_block_txs = 10'000;
  std::uint64_t max_block_bytes = 4 * 1024 * 1024;
  Amount min_fee{0};
  // staking
  Amount min_validator_stake{1'000'000};      // self-stake to create a validator, and bonded tokens to be in the set
  std::uint64_t unbonding_blocks = 1'000;
  std::uint64_t max_unbonding_entries = 7;   // per delegator, as Cosmos SDK
  std::uint64_t max_commission_bps = 10'000;
  // slashing: double sign (and a permanent ban)
  std::uint64_t double_sign_slash_bps = 500;  // 5%
  std::uint64_t evidence_reward_bps = 1'000;  // 10% of what is slashed goes to the evidence's submitter
  // slashing: downtime
  std::uint64_t downtime_window = 100;
  std::uint64_t min_signed_bps = 5'000;  // sign at least 50% of the window
  std::uint64_t downtime_jail_blocks = 100;
  std::uint64_t downtime_slash_bps = 100;  // 1%
  // rewards and reputation
  Amount block_reward{0};  // minted every block, shared with the fees among the signers of the last commit
  std::uint64_t reward_lock_blocks = 100;
  std::uint64_t reputation_decay_bps = 1'000;  // 10% per epoch
  // tasks
  std::uint64_t task_replication = 3;
  std::uint64_t worker_outvoted_slash_bps = 1'000;  // 10% of worker stake
  Amount min_worker_stake{100'000};                  // worker stake to be registered and assigned tasks
  std::uint64_t max_task_replication = 7;            // a task's replicas, at most; task_replication must not exceed it
  std::uint64_t max_task_fuel = 10'000'000'000;      // fuel (instructions) a task may ask for
  std::uint64_t max_task_blocks = 1'000;             // commit_blocks + reveal_blocks of a task, at most
  std::uint64_t worker_reputation_threshold = 100'000;  // ppm: below it, a worker gets only tasks under the cap
  Amount untrusted_reward_cap{10'000};               // reward per worker that a worker under the threshold may get
  std::uint64_t worker_reputation_gain = 20'000;     // ppm, per task settled with the majority
  std::uint64_t worker_reputation_loss = 200'000;    // ppm, per task outvoted or not answered
  // The fuel rules (docs/sandbox.md, "Metering") in force: a task records
  // the version it was submitted under, and workers run it by those rules.
  std::uint64_t metering_version = 1;
  // The fuel an honest worker at the documented reference speed runs in one
  // block interval (docs/contracts.md, "Tasks"): a task's commit window must
  // be at least task_commit_blocks_needed(fuel, this). Deliberately
  // conservative; this default and genesis/devnet.json are the two places
  // that name it (tests/rpc/genesis_json_tests.cpp checks they agree).
  std::uint64_t reference_fuel_per_block = kReferenceFuelPerBlock;

  friend bool operator==(const ProtocolParams&, const ProtocolParams&) = default;

  // The parameters of for_each_param(), for the codecs.
  template <class Self, class F>
  static void fields(Self& s, F&& f);
};

// reputation: parts per million, at most 1,000,000 (contracts/reputation.h).
enum class ParamRule { positive, fraction_bps, reputation, any };

// Calls f(name, member, rule) for every parameter, in encoding order.
template <class Params, class F>
void for_each_param(Params& p, F&& f) {
  f("epoch_blocks", p.epoch_blocks, ParamRule::positive);
  f("max_validators", p.max_validators, ParamRule::positive);
  f("max_block_txs", p.max_block_txs, ParamRule::positive);
  f("max_block_bytes", p.max_block_bytes, ParamRule::positive);
  f("min_fee", p.min_fee, ParamRule::any);
  f("min_validator_stake", p.min_validator_stake, ParamRule::any);
  f("unbonding_blocks", p.unbonding_blocks, ParamRule::positive);
  f("max_unbonding_entries", p.max_unbonding_entries, ParamRule::positive);
  f("max_commission_bps", p.max_commission_bps, ParamRule::fraction_bps);
  f("double_sign_slash_bps", p.double_sign_slash_bps, ParamRule::fraction_bps);
  f("evidence_reward_bps", p.evidence_reward_bps, ParamRule::fraction_bps);
  f("downtime_window", p.downtime_window, ParamRule::positive);
  f("min_signed_bps", p.min_signed_bps, ParamRule::fraction_bps);
  f("downtime_jail_blocks", p.downtime_jail_blocks, ParamRule::positive);
  f("downtime_slash_bps", p.downtime_slash_bps, ParamRule::fraction_bps);
  f("block_reward", p.block_reward, ParamRule::any);
  f("reward_lock_blocks", p.reward_lock_blocks, ParamRule::positive);
  f("reputation_decay_bps", p.reputation_decay_bps, ParamRule::fraction_bps);
  f("task_replication", p.task_replication, ParamRule::positive);
  f("worker_outvoted_slash_bps", p.worker_outvoted_slash_bps, ParamRule::fraction_bps);
  f("min_worker_stake", p.min_worker_stake, ParamRule::any);
  f("max_task_replication", p.max_task_replication, ParamRule::positive);
  f("max_task_fuel", p.max_task_fuel, ParamRule::positive);
  f("max_task_blocks", p.max_task_blocks, ParamRule::positive);
  f("worker_reputation_threshold", p.worker_reputation_threshold, ParamRule::reputation);
  f("untrusted_reward_cap", p.untrusted_reward_cap, ParamRule::any);
  f("worker_reputation_gain", p.worker_reputation_gain, ParamRule::reputation);
  f("worker_reputation_loss", p.worker_reputation_loss, ParamRule::reputation);
  f("metering_version", p.metering_version, ParamRule::positive);
  f("reference_fuel_per_block", p.reference_fuel_per_block, ParamRule::positive);
}

template <class Self, class F>
void ProtocolParams::fields(Self& s, F&& f) {
  for_each_param(s, [&f](const char* name, auto& value, ParamRule) { f(name, value); });
}

// Checks every rule, that task_replication <= max_task_replication, and
// that a task asking for max_task_fuel can be given a commit window an
// honest worker meets plus a reveal block within max_task_blocks; the
// detail names the bad field. Reason "bad-param".
Status validate(const ProtocolParams& p);

}  // namespace verity
