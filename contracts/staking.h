#pragma once
// Staking: validators, delegation, unbonding, rewards, slashing and the
// validator set. Every function is a pure function of (state, block
// context, transaction): no clock, no randomness, ordered iteration only.
//
// Stake. A validator has `tokens` (bonded, after slashes) and `shares`.
// A delegation holds shares; its value is shares * tokens / total shares, so
// slashing a validator (tokens shrink) cuts every delegation in proportion
// without touching them one by one. An operator's self-stake is its own
// delegation.
//
// Unbonding. `undelegate` takes the tokens out of the validator at once
// (the voting power follows at the next epoch boundary, when the set is
// recomputed) into an unbonding entry that `withdraw` pays out after
// `unbonding_blocks`. Entries can still be slashed for offences committed
// before they were created.
//
// Rewards. At the start of block h, the block reward (minted) plus the fees
// collected so far are shared among the validators that signed block h-1's
// commit, by voting power. The validator's commission becomes a locked
// entry of its operator; the rest goes to its delegators through a
// reward-per-share accumulator (no loop over delegators). Every reward vests
// `reward_lock_blocks` after the block that earned it: the accumulator keeps
// its recent history, so `claim` pays exactly what has vested. When a
// delegation changes (delegate, undelegate) its rewards still in their lock
// are settled into one locked entry that vests a full lock period later.
// Rounding dust stays in the reward pool, which the supply invariant counts.
//
// Slashing. Double sign: the evidence (two conflicting signed votes) is
// checked here; the validator loses double_sign_slash_bps of its tokens and
// of the unbonding entries created at or after the offence, is banned for
// good, and forfeits its operator's unvested rewards (burned: they leave the
// supply, as the slashed tokens do, but for evidence_reward_bps of the
// slashed amount paid to the submitter). Downtime: missing more than
// (1 - min_signed) of the last `downtime_window` commits jails the validator
// for `downtime_jail_blocks` and slashes downtime_slash_bps; `unjail` works
// only after that.
//
// Validator set. At the end of every epoch block (height % epoch_blocks ==
// 0) the top `max_validators` by tokens, not jailed, not banned, with at
// least `min_validator_stake`, become the next set, power = tokens. If none
// qualifies the old set stays, so the chain never halts for want of one.
// `eligibility` and `rank_candidates` below are that rule, used both by the
// selection and by `validator_statuses`, which tells operators why a
// validator has the power it has.

#include <optional>
#include <string>
#include <vector>

#include "contracts/records.h"
#include "core/genesis.h"
#include "core/receipt.h"
#include "core/transaction.h"
#include "state/application.h"

namespace verity::contracts {

using u128 = unsigned __int128;
// Reward per share is kept scaled by this factor.
inline constexpr std::uint64_t kRewardScale = 1'000'000'000'000ull;

struct ValidatorRecord {
  PublicKey operator_address;
  PublicKey consensus_key;
  std::string name;
  std::uint64_t commission_bps = 0;
  Amount tokens;
  std::uint64_t shares = 0;
  bool jailed = false;
  std::uint64_t jailed_until = 0;  // unjail allowed from this height
  bool banned = false;
  u128 reward_per_share = 0;  // accumulator, scaled by kRewardScale

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("operator_address", s.operator_address);
    f("consensus_key", s.consensus_key);
    f("name", s.name, Max{kMaxNameBytes});
    f("commission_bps", s.commission_bps);
    f("tokens", s.tokens);
    f("shares", s.shares);
    f("jailed", s.jailed);
    f("jailed_until", s.jailed_until);
    f("banned", s.banned);
    f("reward_per_share", s.reward_per_share);
  }
  friend bool operator==(const ValidatorRecord&, const ValidatorRecord&) = default;
};

struct Delegation {
  std::uint64_t shares = 0;
  u128 reward_snapshot = 0;  // the accumulator up to which rewards are settled
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("shares", s.shares);
    f("reward_snapshot", s.reward_snapshot);
  }
};

struct UnbondingEntry {
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
};

struct RewardEntry {
  std::uint64_t vest_height = 0;
  Amount amount;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("vest_height", s.vest_height);
    f("amount", s.amount);
  }
};

// Amounts that leave or enter the supply, and rewards not yet settled to
// an account: total supply = genesis supply + minted - burned always equals
// balances + bonded tokens + unbonding + reward entries + reward_pool +
// the fee pool.
struct SupplyRecord {
  Amount minted;
  Amount burned;
  Amount reward_pool;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("minted", s.minted);
    f("burned", s.burned);
    f("reward_pool", s.reward_pool);
  }
};

// --- queries (for RPC and tests) ----------------------------------------------
Result<std::optional<ValidatorRecord>> load_validator(const state::StateReader& s, const PublicKey& operator_address);
Result<std::optional<PublicKey>> operator_of(const state::StateReader& s, const PublicKey& consensus_key);
Result<std::vector<PublicKey>> validator_operators(const state::StateReader& s);  // ascending
Result<std::optional<Delegation>> load_delegation(const state::StateReader& s, const PublicKey& validator,
                                                  const PublicKey& delegator);
Result<std::vector<PublicKey>> delegated_validators(const state::StateReader& s, const PublicKey& delegator);
Result<std::vector<UnbondingEntry>> unbonding_entries(const state::StateReader& s, const PublicKey& delegator);
Result<std::vector<RewardEntry>> reward_entries(const state::StateReader& s, const PublicKey& account);
Result<SupplyRecord> supply_record(const state::StateReader& s);
// A validator under the downtime rule: of the last `counted` commits (at
// most params.downtime_window; the count restarts when it is jailed), how
// many it did not sign. More than `allowed` missed in a full window jails it.
struct DowntimeRecord {
  std::uint64_t counted = 0;
  std::uint64_t missed = 0;
};
Result<DowntimeRecord> downtime_record(const state::StateReader& s, const PublicKey& operator_address);
// How many commits of a full window may be missed without being jailed.
std::uint64_t downtime_allowed_misses(const ProtocolParams& params);
// The tokens a delegation is worth now.
Amount delegation_value(const ValidatorRecord& v, const Delegation& d);
struct RewardSummary {
  Amount vested;  // claimable now
  Amount locked;  // earned, vesting later
};
// Everything `account` has earned and not claimed, as of `height`.
Result<RewardSummary> rewards_of(const state::StateReader& s, const PublicKey& account, std::uint64_t height,
                                 const ProtocolParams& params);

// --- the validator set's rule -------------------------------------------------------
// Why a validator cannot be chosen at an epoch boundary (`eligible`: it
// can). Checked in this order, so a banned validator (also jailed) reads
// `banned`, and a jailed one below the minimum reads `jailed`.
enum class Eligibility { eligible, banned, jailed, below_min_stake };
Eligibility eligibility(const ValidatorRecord& v, const ProtocolParams& params);
// The least tokens that qualify: min_validator_stake, and at least 1 (a
// validator without tokens never qualifies).
Amount qualifying_stake(const ProtocolParams& params);
// What `v` lacks of qualifying_stake: zero when it has enough.
Amount missing_stake(const ValidatorRecord& v, const ProtocolParams& params);
// The eligible validators among `all`, best first: by tokens, descending,
// ties by operator address. The first max_validators of them are the next
// set; none means the old set stays.
std::vector<ValidatorRecord> rank_candidates(std::vector<ValidatorRecord> all, const ProtocolParams& params);

// Why a validator has the power it has, for the RPC and its operator. One
// stable `status`, the first that applies: "banned" (double signing, for
// good), "jailed" (downtime; unjail from jailed_until), "below-min-stake"
// (missing_stake more is needed), then, for a validator that qualifies:
// "active" (in the set that certifies the next block), "waiting" (joins the
// set at next_epoch_boundary) or "not-selected" (outside the top
// max_validators by tokens). A validator in the current set keeps its
// power until the boundary whatever its status; `detail` says so.
struct ValidatorStatus {
  std::string status;
  std::string detail;                    // one sentence with the figures
  Amount missing_stake;                  // qualifying_stake - tokens; zero when enough
  std::uint64_t next_epoch_boundary = 0;  // the height at whose end the next set is chosen
  std::string unjail_refusal;             // the reason unjail in block height + 1 fails with; empty: it succeeds
};
struct ValidatorWithStatus {
  ValidatorRecord record;
  ValidatorStatus status;
  std::optional<std::uint64_t> power;  // in the set that certifies block height + 1; nullopt: outside it
};
// Whether `v` may unjail in block `height`: the reasons `unjail` fails
// with, in its order (validator-banned, not-jailed, still-jailed,
// below-min-stake), each message naming what is missing.
Status unjail_check(const ValidatorRecord& v, std::uint64_t height, const ProtocolParams& params);
// Every registered validator, ascending by operator address, with its
// status, in the state after block `height`.
Result<std::vector<ValidatorWithStatus>> validator_statuses(const state::StateReader& s, std::uint64_t height,
                                                            const ProtocolParams& params);

// --- for the task contract ------------------------------------------------------------
// Adds a reward entry for `account` that vests at `vest_height` (the entry
// `claim` pays); `height` is the current block, entries vested by then are
// folded into one.
Status add_reward(state::StateOverlay& s, const PublicKey& account, std::uint64_t vest_height, Amount amount,
                  std::uint64_t height);
// Takes up to `amount` out of `account`'s entry vesting exactly at
// `vest_height` (a clawback); returns what it took.
Result<Amount> take_reward(state::StateOverlay& s, const PublicKey& account, std::uint64_t vest_height, Amount amount);
// Records `amount` as burned in the supply record (it has left every
// balance, stake and escrow already).
Status record_burn(state::StateOverlay& s, Amount amount);

// --- genesis and block hooks ------------------------------------------------------
Status init_staking(state::StateOverlay& s, const Genesis& genesis);
Status begin_block_staking(state::StateOverlay& s, const state::BlockContext& ctx, const CommitCertificate& last_commit,
                           std::vector<Event>& events);
Status end_block_staking(state::StateOverlay& s, const state::BlockContext& ctx);

// --- transactions --------------------------------------------------------------------
// Reasons are listed in docs/contracts.md.
Status create_validator(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                        const CreateValidator& p, std::vector<Event>& events);
Status delegate(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, const Delegate& p,
                std::vector<Event>& events);
Status undelegate(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, const Undelegate& p,
                  std::vector<Event>& events);
Status withdraw(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, std::vector<Event>& events);
Status claim(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, std::vector<Event>& events);
Status unjail(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, std::vector<Event>& events);
Status submit_evidence(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                       const SubmitEvidence& p, std::vector<Event>& events);

// --- evidence in blocks ----------------------------------------------------------------
// Whether `e` would punish someone in a block at ctx.height on state `s`:
// the offender's record, or the reason it would not. Reasons, cheapest
// checks first: "evidence-from-future", "evidence-too-old",
// "duplicate-evidence" (this offence was punished), "unknown-validator",
// "validator-banned" (banned already: an offender is punished once),
// "evidence-not-conflicting", "evidence-bad-signature".
Result<ValidatorRecord> check_evidence(const state::StateReader& s, const state::BlockContext& ctx,
                                       const DoubleSignEvidence& e);
// A block's evidence item: punished as submit_evidence does, the block's
// proposer (its operator account) taking the reporter's reward unless it is
// the offender (then all of it is burned). Any reason above makes the
// block invalid.
Status apply_block_evidence(state::StateOverlay& s, const state::BlockContext& ctx, const DoubleSignEvidence& e,
                            std::vector<Event>& events);

}  // namespace verity::contracts
