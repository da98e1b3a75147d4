#include "contracts/staking.h"

#include <algorithm>
#include <functional>

#include "contracts/accounts.h"
#include "contracts/reputation.h"

namespace verity::contracts {

namespace {

// floor(a * b / c) for a 64-bit a, a 128-bit b, as an Amount: exact, and
// an error only if the result itself does not fit in 64 bits.
Result<Amount> mul_div(std::uint64_t a, u128 b, std::uint64_t c) {
  if (c == 0) return local_error("division-by-zero", "reward arithmetic");
  u128 q = b / c, r = b % c;
  // a * q must fit; a * r < 2^64 * 2^64 always fits.
  if (q != 0 && static_cast<u128>(a) > (~static_cast<u128>(0)) / q) return make_error("amount-overflow", "reward");
  u128 out = static_cast<u128>(a) * q + static_cast<u128>(a) * r / c;
  if (out > UINT64_MAX) return make_error("amount-overflow", "reward");
  return Amount(static_cast<std::uint64_t>(out));
}

Amount bps_of(Amount a, std::uint64_t bps) { return a.mul_div(bps, kBpsDenominator).value(); }  // bps <= 10000

// --- keys ---------------------------------------------------------------------------

const Bytes kValidatorListKey = prefixed_key("vals", {});
const Bytes kSupplyKey = prefixed_key("sys/supply", {});
Bytes validator_key(const PublicKey& op) { return prefixed_key("val/", op.view()); }
Bytes consensus_index_key(const PublicKey& ck) { return prefixed_key("valc/", ck.view()); }
Bytes history_key(const PublicKey& op) { return prefixed_key("acch/", op.view()); }
Bytes delegation_key(const PublicKey& op, const PublicKey& delegator) {
  return prefixed_key("del/", op.view(), delegator.view());
}
Bytes delegations_of_key(const PublicKey& delegator) { return prefixed_key("deld/", delegator.view()); }
Bytes unbonding_key(const PublicKey& delegator) { return prefixed_key("unb/", delegator.view()); }
Bytes unbonding_delegators_key(const PublicKey& op) { return prefixed_key("unbv/", op.view()); }
Bytes rewards_key(const PublicKey& account) { return prefixed_key("rwd/", account.view()); }
Bytes missed_key(const PublicKey& op) { return prefixed_key("miss/", op.view()); }
Bytes evidence_key(const Hash256& offence) { return prefixed_key("evd/", offence.view()); }

// Recent values of a validator's accumulator, so that the value it had at
// any height in the last reward_lock blocks can be read back. Entries at or
// below the vesting horizon fold into `vested_base`.
struct AccumulatorHistory {
  u128 vested_base = 0;
  std::vector<std::pair<std::uint64_t, u128>> recent;  // (height, accumulator after that height), ascending

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("vested_base", s.vested_base);
    f("recent", s.recent, Max{1'000'000, 3});
  }
  // The accumulator as of the end of block `height`.
  u128 at(std::uint64_t height) const {
    u128 v = vested_base;
    for (const auto& [h, acc] : recent)
      if (h <= height) v = acc;
    return v;
  }
};

struct MissedWindow {
  Bytes bits;  // one bit per slot of the window: 1 = missed
  std::uint64_t next = 0;
  std::uint64_t filled = 0;
  std::uint64_t missed = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("bits", s.bits, Max{1 << 20});
    f("next", s.next);
    f("filled", s.filled);
    f("missed", s.missed);
  }
};

struct HeightRecord {
  std::uint64_t height = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
  }
};

// --- small state helpers -------------------------------------------------------------

Result<std::vector<PublicKey>> load_keys(const state::StateReader& s, const Bytes& key) {
  auto l = load_record<RecordList<KeyRecord>>(s, key);
  if (!l) return l.error();
  std::vector<PublicKey> out;
  for (const auto& k : l->items) out.push_back(k.key);
  return out;
}

void store_keys(state::StateOverlay& s, const Bytes& key, const std::vector<PublicKey>& keys) {
  if (keys.empty()) {
    s.erase(key);
    return;
  }
  RecordList<KeyRecord> l;
  for (const auto& k : keys) l.items.push_back({k});
  store_record(s, key, l);
}

// Adds `k` to the sorted key list at `key` if absent.
Status insert_key(state::StateOverlay& s, const Bytes& key, const PublicKey& k) {
  auto keys = load_keys(s, key);
  if (!keys) return keys.error();
  auto it = std::lower_bound(keys->begin(), keys->end(), k);
  if (it == keys->end() || *it != k) keys->insert(it, k);
  store_keys(s, key, *keys);
  return {};
}

Status erase_key(state::StateOverlay& s, const Bytes& key, const PublicKey& k) {
  auto keys = load_keys(s, key);
  if (!keys) return keys.error();
  keys->erase(std::remove(keys->begin(), keys->end(), k), keys->end());
  store_keys(s, key, *keys);
  return {};
}

Result<ValidatorRecord> require_validator(const state::StateReader& s, const PublicKey& op) {
  auto v = load_validator(s, op);
  if (!v) return v.error();
  if (!v->has_value()) return make_error("unknown-validator", "no validator with operator " + op.hex());
  return **v;
}

void store_validator(state::StateOverlay& s, const ValidatorRecord& v) { store_record(s, validator_key(v.operator_address), v); }

Status update_supply(state::StateOverlay& s, const std::function<Status(SupplyRecord&)>& change) {
  auto rec = supply_record(s);
  if (!rec) return rec.error();
  if (auto st = change(*rec); !st) return st;
  store_record(s, kSupplyKey, *rec);
  return {};
}


// Adds a reward entry for `account`, folding every entry vested by
// `height` into one so the list stays within reward_lock + 1 entries.
Status add_reward_entry(state::StateOverlay& s, const PublicKey& account, std::uint64_t vest_height, Amount amount,
                        std::uint64_t height) {
  if (amount.is_zero()) return {};
  auto list = load_record<RecordList<RewardEntry>>(s, rewards_key(account));
  if (!list) return list.error();
  list->items.push_back({vest_height, amount});
  std::vector<RewardEntry> merged;
  Amount vested;
  for (const auto& e : list->items) {
    if (e.vest_height <= height) {
      if (auto st = add_to(vested, e.amount); !st) return st;
      continue;
    }
    auto it = std::find_if(merged.begin(), merged.end(), [&](const RewardEntry& m) { return m.vest_height == e.vest_height; });
    if (it != merged.end()) {
      if (auto st = add_to(it->amount, e.amount); !st) return st;
    } else {
      merged.push_back(e);
    }
  }
  std::sort(merged.begin(), merged.end(), [](const RewardEntry& a, const RewardEntry& b) { return a.vest_height < b.vest_height; });
  if (!vested.is_zero()) merged.insert(merged.begin(), RewardEntry{height, vested});
  list->items = std::move(merged);
  store_record(s, rewards_key(account), *list);
  return {};
}

Result<AccumulatorHistory> load_history(const state::StateReader& s, const PublicKey& op) {
  return load_record<AccumulatorHistory>(s, history_key(op));
}

// Settles a delegation's rewards: what has vested becomes a vested entry;
// with `full`, what is still locked becomes one entry vesting a full lock
// period from now (needed before its shares change). With `forfeit`, the
// locked part is burned instead (double-sign clawback).
Status settle(state::StateOverlay& s, const state::BlockContext& ctx, const ValidatorRecord& v, Delegation& d,
              const PublicKey& delegator, bool full, bool forfeit = false) {
  auto history = load_history(s, v.operator_address);
  if (!history) return history.error();
  const std::uint64_t lock = ctx.params.reward_lock_blocks;
  u128 vested_acc = ctx.height > lock ? history->at(ctx.height - lock) : history->vested_base;
  vested_acc = std::max(vested_acc, d.reward_snapshot);
  vested_acc = std::min(vested_acc, v.reward_per_share);
  auto vested = mul_div(d.shares, vested_acc - d.reward_snapshot, kRewardScale);
  if (!vested) return vested.error();
  Amount locked;
  if (full) {
    auto l = mul_div(d.shares, v.reward_per_share - vested_acc, kRewardScale);
    if (!l) return l.error();
    locked = *l;
  }
  if (auto st = add_reward_entry(s, delegator, ctx.height, *vested, ctx.height); !st) return st;
  if (!forfeit)
    if (auto st = add_reward_entry(s, delegator, ctx.height + lock, locked, ctx.height); !st) return st;
  d.reward_snapshot = full ? v.reward_per_share : vested_acc;
  return update_supply(s, [&](SupplyRecord& r) -> Status {
    if (auto st = take_from(r.reward_pool, *vested); !st) return st;
    if (auto st = take_from(r.reward_pool, locked); !st) return st;
    if (forfeit) return add_to(r.burned, locked);
    return {};
  });
}

void store_delegation(state::StateOverlay& s, const PublicKey& op, const PublicKey& delegator, const Delegation& d) {
  store_record(s, delegation_key(op, delegator), d);
}

// Slashes `bps` of a validator's tokens and of its unbonding entries created
// at or after `offence_height` and not yet withdrawable. Returns the total.
Result<Amount> slash(state::StateOverlay& s, const state::BlockContext& ctx, ValidatorRecord& v, std::uint64_t bps,
                     std::uint64_t offence_height) {
  Amount total = bps_of(v.tokens, bps);
  v.tokens = v.tokens.checked_sub(total).value();
  auto delegators = load_keys(s, unbonding_delegators_key(v.operator_address));
  if (!delegators) return delegators.error();
  for (const auto& delegator : *delegators) {
    auto entries = load_record<RecordList<UnbondingEntry>>(s, unbonding_key(delegator));
    if (!entries) return entries.error();
    for (auto& e : entries->items) {
      if (e.validator != v.operator_address || e.creation_height < offence_height || e.completion_height <= ctx.height)
        continue;
      Amount cut = bps_of(e.amount, bps);
      e.amount = e.amount.checked_sub(cut).value();
      if (auto st = add_to(total, cut); !st) return st.error();
    }
    store_record(s, unbonding_key(delegator), *entries);
  }
  store_validator(s, v);
  return total;
}

Status require_positive(Amount a) {
  if (a.is_zero()) return make_error("zero-amount", "the amount must be positive");
  return {};
}




// Bonds `amount` (already debited) to the validator as a delegation.
Status bond(state::StateOverlay& s, const state::BlockContext& ctx, ValidatorRecord& v, const PublicKey& delegator,
            Amount amount) {
  std::uint64_t new_shares;
  if (v.shares == 0) {
    new_shares = amount.units();
  } else {
    if (v.tokens.is_zero()) return make_error("validator-insolvent", "the validator's stake was slashed to zero");
    auto sh = amount.mul_div(v.shares, v.tokens.units());
    if (!sh) return make_error("share-overflow", "too many shares");
    new_shares = sh->units();
  }
  if (new_shares == 0) return make_error("amount-too-small", "the amount buys no share of the validator");
  auto existing = load_delegation(s, v.operator_address, delegator);
  if (!existing) return existing.error();
  Delegation d = existing->value_or(Delegation{0, v.reward_per_share});
  if (existing->has_value())
    if (auto st = settle(s, ctx, v, d, delegator, /*full=*/true); !st) return st;
  if (__builtin_add_overflow(d.shares, new_shares, &d.shares) || __builtin_add_overflow(v.shares, new_shares, &v.shares))
    return make_error("share-overflow", "too many shares");
  if (auto st = add_to(v.tokens, amount); !st) return st;
  store_delegation(s, v.operator_address, delegator, d);
  store_validator(s, v);
  return insert_key(s, delegations_of_key(delegator), v.operator_address);
}

Result<ValidatorSet> load_set(const state::StateReader& s, const Bytes& key) {
  auto raw = s.get(key);
  if (!raw) return raw.error();
  if (!raw->has_value()) return local_error("state-corrupt", "no validator set");
  auto set = decode_exact<ValidatorSet>(**raw);
  if (!set) return local_error("state-corrupt", "validator set does not decode");
  return set;
}

}  // namespace

// --- queries -------------------------------------------------------------------------------

Result<std::optional<ValidatorRecord>> load_validator(const state::StateReader& s, const PublicKey& op) {
  return load_optional<ValidatorRecord>(s, validator_key(op));
}

Result<DowntimeRecord> downtime_record(const state::StateReader& s, const PublicKey& op) {
  auto window = load_record<MissedWindow>(s, missed_key(op));
  if (!window) return window.error();
  return DowntimeRecord{window->filled, window->missed};
}

std::uint64_t downtime_allowed_misses(const ProtocolParams& params) {
  return params.downtime_window - params.downtime_window * params.min_signed_bps / kBpsDenominator;
}

Result<std::optional<PublicKey>> operator_of(const state::StateReader& s, const PublicKey& consensus_key) {
  auto k = load_optional<KeyRecord>(s, consensus_index_key(consensus_key));
  if (!k) return k.error();
  if (!k->has_value()) return std::optional<PublicKey>{};
  return std::optional<PublicKey>{(*k)->key};
}

Result<std::vector<PublicKey>> validator_operators(const state::StateReader& s) { return load_keys(s, kValidatorListKey); }

Result<std::optional<Delegation>> load_delegation(const state::StateReader& s, const PublicKey& validator,
                                                  const PublicKey& delegator) {
  return load_optional<Delegation>(s, delegation_key(validator, delegator));
}

Result<std::vector<PublicKey>> delegated_validators(const state::StateReader& s, const PublicKey& delegator) {
  return load_keys(s, delegations_of_key(delegator));
}

namespace {
// fn(operator, validator, delegation) for each validator `delegator` has a
// delegation with, in ascending operator order; stops at fn's first error.
template <class F>
Status for_each_delegation(const state::StateReader& s, const PublicKey& delegator, F&& fn) {
  auto validators = delegated_validators(s, delegator);
  if (!validators) return validators.error();
  for (const auto& op : *validators) {
    auto v = require_validator(s, op);
    if (!v) return v.error();
    auto d = load_delegation(s, op, delegator);
    if (!d) return d.error();
    if (!d->has_value()) continue;
    if (auto st = fn(op, *v, **d); !st) return st;
  }
  return {};
}
}  // namespace

Result<std::vector<UnbondingEntry>> unbonding_entries(const state::StateReader& s, const PublicKey& delegator) {
  auto l = load_record<RecordList<UnbondingEntry>>(s, unbonding_key(delegator));
  if (!l) return l.error();
  return l->items;
}

Result<std::vector<RewardEntry>> reward_entries(const state::StateReader& s, const PublicKey& account) {
  auto l = load_record<RecordList<RewardEntry>>(s, rewards_key(account));
  if (!l) return l.error();
  return l->items;
}

Result<SupplyRecord> supply_record(const state::StateReader& s) { return load_record<SupplyRecord>(s, kSupplyKey); }

Amount delegation_value(const ValidatorRecord& v, const Delegation& d) {
  if (v.shares == 0) return Amount{};
  return Amount(d.shares).mul_div(v.tokens.units(), v.shares).value();  // shares <= total shares
}

Result<RewardSummary> rewards_of(const state::StateReader& s, const PublicKey& account, std::uint64_t height,
                                 const ProtocolParams& params) {
  RewardSummary out;
  auto entries = reward_entries(s, account);
  if (!entries) return entries.error();
  for (const auto& e : *entries)
    if (auto st = add_to(e.vest_height <= height ? out.vested : out.locked, e.amount); !st) return st.error();
  auto each = for_each_delegation(s, account, [&](const PublicKey& op, const ValidatorRecord& v,
                                                  const Delegation& d) -> Status {
    auto history = load_history(s, op);
    if (!history) return history.error();
    u128 vested_acc = height > params.reward_lock_blocks ? history->at(height - params.reward_lock_blocks) : history->vested_base;
    vested_acc = std::min(std::max(vested_acc, d.reward_snapshot), v.reward_per_share);
    auto vested = mul_div(d.shares, vested_acc - d.reward_snapshot, kRewardScale);
    auto locked = mul_div(d.shares, v.reward_per_share - vested_acc, kRewardScale);
    if (!vested) return vested.error();
    if (!locked) return locked.error();
    if (auto st = add_to(out.vested, *vested); !st) return st;
    return add_to(out.locked, *locked);
  });
  if (!each) return each.error();
  return out;
}

// --- the validator set's rule ---------------------------------------------------------------

Eligibility eligibility(const ValidatorRecord& v, const ProtocolParams& params) {
  if (v.banned) return Eligibility::banned;
  if (v.jailed) return Eligibility::jailed;
  if (v.tokens < qualifying_stake(params)) return Eligibility::below_min_stake;
  return Eligibility::eligible;
}

Amount qualifying_stake(const ProtocolParams& params) { return std::max(params.min_validator_stake, Amount(1)); }

Amount missing_stake(const ValidatorRecord& v, const ProtocolParams& params) {
  const Amount need = qualifying_stake(params);
  return v.tokens >= need ? Amount{} : need.checked_sub(v.tokens).value();
}

std::vector<ValidatorRecord> rank_candidates(std::vector<ValidatorRecord> all, const ProtocolParams& params) {
  std::erase_if(all, [&](const ValidatorRecord& v) { return eligibility(v, params) != Eligibility::eligible; });
  std::sort(all.begin(), all.end(), [](const ValidatorRecord& a, const ValidatorRecord& b) {
    if (a.tokens != b.tokens) return a.tokens > b.tokens;
    return a.operator_address < b.operator_address;
  });
  return all;
}

// Refuses, besides a banned or free validator, one whose jail time has not
// passed and one below the qualifying stake: unjailed, that one would stay
// out of every set with nothing saying why. Each message says what is
// missing and what to do.
Status unjail_check(const ValidatorRecord& v, std::uint64_t height, const ProtocolParams& params) {
  if (v.banned) return make_error("validator-banned", "a validator banned for double signing stays out");
  if (!v.jailed) return make_error("not-jailed", "the validator is not jailed");
  const Amount missing = missing_stake(v, params);
  const std::string stake_needed = "its tokens " + v.tokens.to_string() + " are " + missing.to_string() +
                                   " below the minimum stake " + qualifying_stake(params).to_string();
  if (height < v.jailed_until) {
    std::string detail = "jailed until height " + std::to_string(v.jailed_until) + ": unjail is allowed from height " +
                         std::to_string(v.jailed_until) + ", " + std::to_string(v.jailed_until - height) +
                         " blocks after this one (" + std::to_string(height) + ")";
    if (!missing.is_zero())
      detail += "; and " + stake_needed + ": delegate that much to it (self-delegation counts) before unjail";
    return make_error("still-jailed", detail);
  }
  if (!missing.is_zero())
    return make_error("below-min-stake", stake_needed + ": delegate at least " + missing.to_string() +
                                             " to it (self-delegation counts), then unjail; it rejoins the set at the "
                                             "epoch boundary after that");
  return {};
}

Result<std::vector<ValidatorWithStatus>> validator_statuses(const state::StateReader& s, std::uint64_t height,
                                                            const ProtocolParams& params) {
  auto ops = validator_operators(s);
  if (!ops) return ops.error();
  auto set = load_set(s, state::kValidatorSetKey);  // certifies block height + 1
  if (!set) return set.error();
  std::vector<ValidatorRecord> all;
  for (const auto& op : *ops) {
    auto v = require_validator(s, op);
    if (!v) return v.error();
    all.push_back(std::move(*v));
  }
  const std::vector<ValidatorRecord> ranked = rank_candidates(all, params);
  const std::size_t chosen = std::min<std::size_t>(ranked.size(), params.max_validators);
  // The set is chosen at the end of the next block whose height is a
  // multiple of epoch_blocks (the end of `height` itself is past).
  const std::uint64_t boundary = (height / params.epoch_blocks + 1) * params.epoch_blocks;
  const std::string at_boundary = "the epoch boundary at height " + std::to_string(boundary);
  const std::string need = qualifying_stake(params).to_string();

  std::vector<ValidatorWithStatus> out;
  for (auto& v : all) {
    ValidatorWithStatus w{std::move(v), {}, std::nullopt};
    const ValidatorRecord& r = w.record;
    w.power = set->power_of(r.consensus_key);
    ValidatorStatus& st = w.status;
    st.missing_stake = missing_stake(r, params);
    st.next_epoch_boundary = boundary;
    if (auto check = unjail_check(r, height + 1, params); !check) st.unjail_refusal = check.error().reason;
    // Its place among those that qualify (ranked.size() when it does not).
    const auto is_it = [&](const ValidatorRecord& c) { return c.operator_address == r.operator_address; };
    const auto rank = static_cast<std::size_t>(std::find_if(ranked.begin(), ranked.end(), is_it) - ranked.begin());
    const std::string stake_needed = "its tokens " + r.tokens.to_string() + " are " + st.missing_stake.to_string() +
                                     " below the minimum stake " + need;
    // In the current set, it keeps its power until the boundary; then it
    // leaves, unless none qualifies (the old set stays).
    std::string leaving;
    if (w.power)
      leaving = chosen > 0 ? "; it keeps power " + std::to_string(*w.power) + " until " + at_boundary +
                                 ", then leaves the set"
                           : "; it keeps power " + std::to_string(*w.power) +
                                 " for now: no validator qualifies, so the set does not change at " + at_boundary;
    switch (eligibility(r, params)) {
      case Eligibility::banned:
        st.status = "banned";
        st.detail = "banned for double signing: it never rejoins the set (no unjail, no new delegation)" + leaving;
        break;
      case Eligibility::jailed:
        st.status = "jailed";
        st.detail = st.unjail_refusal == "still-jailed"
                        ? "jailed for downtime until height " + std::to_string(r.jailed_until) +
                              ": unjail is allowed in blocks from height " + std::to_string(r.jailed_until) +
                              " on (the chain is at height " + std::to_string(height) + ")"
                        : "jailed for downtime; its jail time is over";
        if (!st.missing_stake.is_zero())
          st.detail += "; and " + stake_needed + ": delegate that much to it (self-delegation counts) before unjail";
        else if (st.unjail_refusal.empty())
          st.detail += ": its operator may send unjail now, and it rejoins the set at the epoch boundary after that";
        st.detail += leaving;
        break;
      case Eligibility::below_min_stake:
        st.status = "below-min-stake";
        st.detail = stake_needed + ": delegate at least " + st.missing_stake.to_string() +
                    " to it (self-delegation counts) to qualify for the set at an epoch boundary" + leaving;
        break;
      case Eligibility::eligible:
        if (w.power) {
          st.status = "active";
          st.detail = "in the set that certifies the next block, with power " + std::to_string(*w.power);
          if (rank >= chosen)
            st.detail += "; outside the top max_validators (" + std::to_string(params.max_validators) +
                         ") by tokens now, it leaves the set at " + at_boundary;
        } else if (rank < chosen) {
          st.status = "waiting";
          st.detail = "qualifies with " + r.tokens.to_string() + " tokens: it joins the set at " + at_boundary +
                      " (in_set shows it from that height on)";
        } else {
          st.status = "not-selected";
          st.detail = "qualifies, but ranks " + std::to_string(rank + 1) +
                      " by tokens and only the top max_validators (" + std::to_string(params.max_validators) +
                      ") are chosen; the last of them holds " + ranked[chosen - 1].tokens.to_string() + " tokens";
        }
        break;
    }
    out.push_back(std::move(w));
  }
  return out;
}

// --- for the task contract ----------------------------------------------------------------

Status add_reward(state::StateOverlay& s, const PublicKey& account, std::uint64_t vest_height, Amount amount,
                  std::uint64_t height) {
  return add_reward_entry(s, account, vest_height, amount, height);
}

Result<Amount> take_reward(state::StateOverlay& s, const PublicKey& account, std::uint64_t vest_height, Amount amount) {
  auto list = load_record<RecordList<RewardEntry>>(s, rewards_key(account));
  if (!list) return list.error();
  Amount taken;
  for (auto it = list->items.begin(); it != list->items.end(); ++it) {
    if (it->vest_height != vest_height) continue;
    taken = std::min(it->amount, amount);
    it->amount = it->amount.checked_sub(taken).value();
    if (it->amount.is_zero()) list->items.erase(it);
    break;
  }
  store_list(s, rewards_key(account), *list);
  return taken;
}

Status record_burn(state::StateOverlay& s, Amount amount) {
  if (amount.is_zero()) return {};
  return update_supply(s, [&](SupplyRecord& r) { return add_to(r.burned, amount); });
}

// --- genesis ----------------------------------------------------------------------------------

Status init_staking(state::StateOverlay& s, const Genesis& genesis) {
  state::BlockContext ctx{genesis.chain_id, 0, PublicKey{}, genesis.params};
  for (const auto& gv : genesis.validators) {
    ValidatorRecord v;
    v.operator_address = gv.operator_address;
    v.consensus_key = gv.consensus_key;
    v.name = gv.name;
    if (auto st = insert_key(s, kValidatorListKey, v.operator_address); !st) return st;
    store_record(s, consensus_index_key(v.consensus_key), KeyRecord{v.operator_address});
    if (auto st = bond(s, ctx, v, gv.operator_address, gv.stake); !st) return st;
  }
  auto set = genesis.validator_set();
  if (!set) return set.error();
  s.put(state::kValidatorSetKey, encode(*set));
  s.put(state::kPreviousValidatorSetKey, encode(*set));
  store_record(s, kSupplyKey, SupplyRecord{});
  return {};
}

// --- block hooks -------------------------------------------------------------------------------

Status begin_block_staking(state::StateOverlay& s, const state::BlockContext& ctx, const CommitCertificate& last_commit,
                           std::vector<Event>& events) {
  // Mint the block reward into the fee pool; with the fees it is shared
  // below, or waits there while no commit is known (height 1).
  auto pool = load_amount(s, kFeePoolKey);
  if (!pool) return pool.error();
  if (!ctx.params.block_reward.is_zero()) {
    if (auto st = add_to(*pool, ctx.params.block_reward); !st) return st;
    if (auto st = update_supply(s, [&](SupplyRecord& r) { return add_to(r.minted, ctx.params.block_reward); }); !st) return st;
  }
  if (last_commit.empty()) {
    store_amount(s, kFeePoolKey, *pool);
    return {};
  }

  auto set = load_set(s, state::kPreviousValidatorSetKey);  // the set that certified the previous block
  if (!set) return set.error();
  std::vector<bool> signed_it(set->size(), false);
  std::uint64_t signed_power = 0;
  for (const auto& sig : last_commit.signatures) {
    auto i = set->index_of(sig.validator);
    if (!i) return make_error("bad-last-commit", "signer outside the validator set");
    signed_it[*i] = true;
    signed_power += set->validators()[*i].power;
  }

  Amount distributed;
  for (std::size_t i = 0; i < set->size(); ++i) {
    const Validator& member = set->validators()[i];
    auto op = operator_of(s, member.key);
    if (!op) return op.error();
    if (!op->has_value()) return local_error("state-corrupt", "set member without a validator record");
    auto v = require_validator(s, **op);
    if (!v) return v.error();

    // Downtime: one slot of the window per block.
    auto window = load_record<MissedWindow>(s, missed_key(v->operator_address));
    if (!window) return window.error();
    const std::uint64_t size = ctx.params.downtime_window;
    if (window->bits.size() != (size + 7) / 8) *window = MissedWindow{Bytes((size + 7) / 8, 0), 0, 0, 0};
    std::uint64_t slot = window->next;
    bool was_missed = window->bits[slot / 8] >> (slot % 8) & 1;
    bool missed = !signed_it[i];
    if (window->filled == size && was_missed) window->missed--;
    if (missed) {
      window->bits[slot / 8] |= static_cast<std::uint8_t>(1u << (slot % 8));
      window->missed++;
    } else {
      window->bits[slot / 8] &= static_cast<std::uint8_t>(~(1u << (slot % 8)));
    }
    window->next = (slot + 1) % size;
    window->filled = std::min(window->filled + 1, size);
    if (auto st = adjust_reputation(s, v->operator_address, missed ? kReputationMissed : kReputationSigned); !st) return st;

    const std::uint64_t allowed = downtime_allowed_misses(ctx.params);
    if (!v->jailed && !v->banned && window->filled == size && window->missed > allowed) {
      v->jailed = true;
      v->jailed_until = ctx.height + ctx.params.downtime_jail_blocks;
      auto cut = slash(s, ctx, *v, ctx.params.downtime_slash_bps, ctx.height);
      if (!cut) return cut.error();
      if (auto st = update_supply(s, [&](SupplyRecord& r) { return add_to(r.burned, *cut); }); !st) return st;
      if (auto st = adjust_reputation(s, v->operator_address, kReputationJailed); !st) return st;
      events.push_back(Event{"validator_jailed", {{"operator", v->operator_address.hex()},
                                                  {"missed", std::to_string(window->missed)},
                                                  {"jailed_until", std::to_string(v->jailed_until)},
                                                  {"slashed", cut->to_string()}}});
      *window = MissedWindow{Bytes((size + 7) / 8, 0), 0, 0, 0};
    }
    store_record(s, missed_key(v->operator_address), *window);

    // Rewards, by voting power among the signers; banned validators get none.
    if (!signed_it[i] || v->banned || signed_power == 0) continue;
    Amount share = pool->mul_div(member.power, signed_power).value();  // power <= signed_power
    if (share.is_zero()) continue;
    if (auto st = add_to(distributed, share); !st) return st;
    Amount commission = v->shares == 0 ? share : bps_of(share, v->commission_bps);
    Amount to_delegators = share.checked_sub(commission).value();
    if (auto st = add_reward_entry(s, v->operator_address, ctx.height + ctx.params.reward_lock_blocks, commission, ctx.height); !st)
      return st;
    if (!to_delegators.is_zero()) {
      v->reward_per_share += static_cast<u128>(to_delegators.units()) * kRewardScale / v->shares;
      auto history = load_history(s, v->operator_address);
      if (!history) return history.error();
      // Fold what is past the vesting horizon, then record this height.
      const std::uint64_t horizon = ctx.height > ctx.params.reward_lock_blocks ? ctx.height - ctx.params.reward_lock_blocks : 0;
      auto keep = std::find_if(history->recent.begin(), history->recent.end(),
                               [&](const auto& e) { return e.first > horizon; });
      if (keep != history->recent.begin()) history->vested_base = std::prev(keep)->second;
      history->recent.erase(history->recent.begin(), keep);
      history->recent.push_back({ctx.height, v->reward_per_share});
      store_record(s, history_key(v->operator_address), *history);
      if (auto st = update_supply(s, [&](SupplyRecord& r) { return add_to(r.reward_pool, to_delegators); }); !st) return st;
    }
    store_validator(s, *v);
  }
  store_amount(s, kFeePoolKey, pool->checked_sub(distributed).value());
  return {};
}

Status end_block_staking(state::StateOverlay& s, const state::BlockContext& ctx) {
  auto current_raw = s.get(state::kValidatorSetKey);
  if (!current_raw) return current_raw.error();
  auto previous_raw = s.get(state::kPreviousValidatorSetKey);
  if (!previous_raw) return previous_raw.error();
  // The set that certifies this block is the one that certified "the last block" from the next block's view.
  if (*previous_raw != *current_raw) s.put(state::kPreviousValidatorSetKey, current_raw->value());

  if (ctx.height == 0 || ctx.height % ctx.params.epoch_blocks != 0) return {};
  auto ops = validator_operators(s);
  if (!ops) return ops.error();
  std::vector<ValidatorRecord> all;
  for (const auto& op : *ops) {
    auto v = require_validator(s, op);
    if (!v) return v.error();
    if (auto st = decay_reputation(s, op, ctx.params.reputation_decay_bps); !st) return st;
    all.push_back(std::move(*v));
  }
  std::vector<ValidatorRecord> candidates = rank_candidates(std::move(all), ctx.params);
  if (candidates.size() > ctx.params.max_validators) candidates.resize(ctx.params.max_validators);
  if (candidates.empty()) return {};  // keep the old set rather than halt
  std::vector<Validator> members;
  for (const auto& c : candidates) members.push_back({c.consensus_key, c.tokens.units()});
  auto set = ValidatorSet::create(std::move(members));
  if (!set) return local_error("state-corrupt", "cannot form a validator set: " + set.error().to_string());
  s.put(state::kValidatorSetKey, encode(*set));
  return {};
}

// --- transactions -------------------------------------------------------------------------------

Status create_validator(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                        const CreateValidator& p, std::vector<Event>& events) {
  auto existing = load_validator(s, sender);
  if (!existing) return existing.error();
  if (existing->has_value()) return make_error("validator-exists", "the sender already operates a validator");
  if (!is_valid_public_key(p.consensus_key)) return make_error("bad-consensus-key", "not a valid public key");
  auto taken = operator_of(s, p.consensus_key);
  if (!taken) return taken.error();
  if (taken->has_value()) return make_error("consensus-key-in-use", "another validator uses this consensus key");
  if (p.name.empty() || p.name.size() > kMaxNameBytes) return make_error("bad-name", "the name must be 1 to 64 bytes");
  if (p.commission_bps > ctx.params.max_commission_bps)
    return make_error("bad-commission", std::to_string(p.commission_bps) + " bps exceeds the maximum " +
                                            std::to_string(ctx.params.max_commission_bps));
  if (p.self_stake < ctx.params.min_validator_stake || p.self_stake.is_zero())
    return make_error("stake-too-low", "self-stake " + p.self_stake.to_string() + " is below the minimum " +
                                           ctx.params.min_validator_stake.to_string());
  if (auto st = debit(s, sender, p.self_stake); !st) return st;
  ValidatorRecord v;
  v.operator_address = sender;
  v.consensus_key = p.consensus_key;
  v.name = p.name;
  v.commission_bps = p.commission_bps;
  if (auto st = insert_key(s, kValidatorListKey, sender); !st) return st;
  store_record(s, consensus_index_key(p.consensus_key), KeyRecord{sender});
  if (auto st = bond(s, ctx, v, sender, p.self_stake); !st) return st;
  events.push_back(Event{"create_validator", {{"operator", sender.hex()},
                                              {"consensus_key", p.consensus_key.hex()},
                                              {"self_stake", p.self_stake.to_string()}}});
  return {};
}

Status delegate(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, const Delegate& p,
                std::vector<Event>& events) {
  if (auto st = require_positive(p.amount); !st) return st;
  auto v = require_validator(s, p.validator);
  if (!v) return v.error();
  if (v->banned) return make_error("validator-banned", "the validator was banned for double signing");
  if (auto st = debit(s, sender, p.amount); !st) return st;
  if (auto st = bond(s, ctx, *v, sender, p.amount); !st) return st;
  events.push_back(Event{"delegate", {{"delegator", sender.hex()}, {"validator", p.validator.hex()}, {"amount", p.amount.to_string()}}});
  return {};
}

Status undelegate(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, const Undelegate& p,
                  std::vector<Event>& events) {
  if (auto st = require_positive(p.amount); !st) return st;
  auto v = require_validator(s, p.validator);
  if (!v) return v.error();
  auto found = load_delegation(s, p.validator, sender);
  if (!found) return found.error();
  if (!found->has_value()) return make_error("no-delegation", "the sender has no delegation to this validator");
  Delegation d = **found;
  Amount value = delegation_value(*v, d);
  if (p.amount > value)
    return make_error("insufficient-delegation", "delegation is worth " + value.to_string() + ", asked " + p.amount.to_string());
  auto entries = load_record<RecordList<UnbondingEntry>>(s, unbonding_key(sender));
  if (!entries) return entries.error();
  if (entries->items.size() >= ctx.params.max_unbonding_entries)
    return make_error("too-many-unbonding-entries", "withdraw completed entries first, or wait for them");

  if (auto st = settle(s, ctx, *v, d, sender, /*full=*/true); !st) return st;
  // Shares leaving, rounded up so the validator never pays out more than
  // the amount is worth; all of them when everything leaves.
  std::uint64_t out_shares = d.shares;
  if (p.amount < value) {
    u128 num = static_cast<u128>(p.amount.units()) * v->shares;
    out_shares = static_cast<std::uint64_t>(std::min<u128>((num + v->tokens.units() - 1) / v->tokens.units(), d.shares));
  }
  d.shares -= out_shares;
  v->shares -= out_shares;
  v->tokens = v->tokens.checked_sub(p.amount).value();
  if (d.shares == 0) {
    s.erase(delegation_key(p.validator, sender));
    if (auto st = erase_key(s, delegations_of_key(sender), p.validator); !st) return st;
  } else {
    store_delegation(s, p.validator, sender, d);
  }
  store_validator(s, *v);
  entries->items.push_back({p.validator, p.amount, ctx.height, ctx.height + ctx.params.unbonding_blocks});
  store_record(s, unbonding_key(sender), *entries);
  if (auto st = insert_key(s, unbonding_delegators_key(p.validator), sender); !st) return st;
  events.push_back(Event{"undelegate", {{"delegator", sender.hex()},
                                        {"validator", p.validator.hex()},
                                        {"amount", p.amount.to_string()},
                                        {"completion_height", std::to_string(ctx.height + ctx.params.unbonding_blocks)}}});
  return {};
}

Status withdraw(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, std::vector<Event>& events) {
  auto entries = load_record<RecordList<UnbondingEntry>>(s, unbonding_key(sender));
  if (!entries) return entries.error();
  Amount total;
  std::vector<UnbondingEntry> remaining;
  std::vector<PublicKey> touched;
  for (const auto& e : entries->items) {
    if (e.completion_height <= ctx.height) {
      if (auto st = add_to(total, e.amount); !st) return st;
      touched.push_back(e.validator);
    } else {
      remaining.push_back(e);
    }
  }
  if (touched.empty()) return make_error("nothing-to-withdraw", "no unbonding entry has completed yet");
  entries->items = remaining;
  store_list(s, unbonding_key(sender), *entries);
  for (const auto& op : touched) {
    bool still = std::any_of(remaining.begin(), remaining.end(), [&](const UnbondingEntry& e) { return e.validator == op; });
    if (!still)
      if (auto st = erase_key(s, unbonding_delegators_key(op), sender); !st) return st;
  }
  if (auto st = credit(s, sender, total); !st) return st;
  events.push_back(Event{"withdraw", {{"delegator", sender.hex()}, {"amount", total.to_string()}}});
  return {};
}

Status claim(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, std::vector<Event>& events) {
  auto settled = for_each_delegation(s, sender, [&](const PublicKey& op, const ValidatorRecord& v, Delegation& d) {
    if (auto st = settle(s, ctx, v, d, sender, /*full=*/false); !st) return st;
    store_delegation(s, op, sender, d);
    return Status{};
  });
  if (!settled) return settled;
  auto entries = load_record<RecordList<RewardEntry>>(s, rewards_key(sender));
  if (!entries) return entries.error();
  Amount vested;
  std::vector<RewardEntry> locked;
  for (const auto& e : entries->items) {
    if (e.vest_height <= ctx.height) {
      if (auto st = add_to(vested, e.amount); !st) return st;
    } else {
      locked.push_back(e);
    }
  }
  if (vested.is_zero()) return make_error("nothing-to-claim", "no reward has vested yet");
  entries->items = std::move(locked);
  store_list(s, rewards_key(sender), *entries);
  if (auto st = credit(s, sender, vested); !st) return st;
  events.push_back(Event{"claim", {{"account", sender.hex()}, {"amount", vested.to_string()}}});
  return {};
}

Status unjail(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, std::vector<Event>& events) {
  auto v = require_validator(s, sender);
  if (!v) return v.error();
  if (auto st = unjail_check(*v, ctx.height, ctx.params); !st) return st;
  v->jailed = false;
  store_validator(s, *v);
  events.push_back(Event{"unjail", {{"operator", sender.hex()}}});
  return {};
}

Result<ValidatorRecord> check_evidence(const state::StateReader& s, const state::BlockContext& ctx,
                                       const DoubleSignEvidence& e) {
  if (e.height() > ctx.height) return make_error("evidence-from-future", "the votes are for a height not reached");
  if (e.height() + ctx.params.unbonding_blocks < ctx.height)
    return make_error("evidence-too-old", "older than the unbonding period");
  auto seen = s.get(evidence_key(e.offence_id()));
  if (!seen) return seen.error();
  if (seen->has_value()) return make_error("duplicate-evidence", "this offence was already punished");
  auto op = operator_of(s, e.validator());
  if (!op) return op.error();
  if (!op->has_value()) return make_error("unknown-validator", "no validator with this consensus key");
  auto v = require_validator(s, **op);
  if (!v) return v.error();
  if (v->banned) return make_error("validator-banned", "the validator was already banned");
  // The signatures last: the cheap checks above refuse most bad evidence.
  if (auto st = e.verify(ctx.chain_id); !st) return st.error();
  return v;
}

namespace {

// Slashes and bans the offender of checked evidence; the reporter, if any,
// gets evidence_reward_bps of the slashed tokens, the rest is burned.
Status punish_double_sign(state::StateOverlay& s, const state::BlockContext& ctx, const DoubleSignEvidence& e,
                          const std::optional<PublicKey>& reporter, std::vector<Event>& events) {
  auto v = check_evidence(s, ctx, e);
  if (!v) return v.error();
  const Bytes seen_key = evidence_key(e.offence_id());
  auto slashed = slash(s, ctx, *v, ctx.params.double_sign_slash_bps, e.height());
  if (!slashed) return slashed.error();
  Amount reward = reporter ? bps_of(*slashed, ctx.params.evidence_reward_bps) : Amount{};
  v->banned = true;
  v->jailed = true;
  store_validator(s, *v);

  // Clawback: the operator's unvested rewards are forfeited (burned).
  Amount forfeited;
  auto entries = load_record<RecordList<RewardEntry>>(s, rewards_key(v->operator_address));
  if (!entries) return entries.error();
  std::vector<RewardEntry> kept;
  for (const auto& r : entries->items) {
    if (r.vest_height > ctx.height) {
      if (auto st = add_to(forfeited, r.amount); !st) return st;
    } else {
      kept.push_back(r);
    }
  }
  entries->items = kept;
  store_record(s, rewards_key(v->operator_address), *entries);
  auto self = load_delegation(s, v->operator_address, v->operator_address);
  if (!self) return self.error();
  if (self->has_value()) {
    Delegation d = **self;
    if (auto st = settle(s, ctx, *v, d, v->operator_address, /*full=*/true, /*forfeit=*/true); !st) return st;
    store_delegation(s, v->operator_address, v->operator_address, d);
  }
  if (reporter)
    if (auto st = credit(s, *reporter, reward); !st) return st;
  if (auto st = update_supply(s, [&](SupplyRecord& r) -> Status {
        if (auto x = add_to(r.burned, slashed->checked_sub(reward).value()); !x) return x;
        return add_to(r.burned, forfeited);
      });
      !st)
    return st;
  if (auto st = reset_reputation(s, v->operator_address); !st) return st;
  store_record(s, seen_key, HeightRecord{ctx.height});
  events.push_back(Event{"slash_double_sign", {{"operator", v->operator_address.hex()},
                                               {"offence_height", std::to_string(e.height())},
                                               {"slashed", slashed->to_string()},
                                               {"forfeited", forfeited.to_string()},
                                               {"reporter_reward", reward.to_string()}}});
  return {};
}

}  // namespace

Status submit_evidence(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                       const SubmitEvidence& p, std::vector<Event>& events) {
  return punish_double_sign(s, ctx, p.evidence, sender, events);
}

Status apply_block_evidence(state::StateOverlay& s, const state::BlockContext& ctx, const DoubleSignEvidence& e,
                            std::vector<Event>& events) {
  // The proposer that included it is the reporter, unless it reports itself.
  auto proposer_op = operator_of(s, ctx.proposer);
  if (!proposer_op) return proposer_op.error();
  std::optional<PublicKey> reporter = *proposer_op;
  if (reporter) {
    auto offender_op = operator_of(s, e.validator());
    if (!offender_op) return offender_op.error();
    if (*offender_op == reporter) reporter.reset();
  }
  return punish_double_sign(s, ctx, e, reporter, events);
}

}  // namespace verity::contracts
