#include "contracts/native.h"

#include <algorithm>
#include <charconv>

#include "contracts/accounts.h"
#include "contracts/staking.h"
#include "contracts/tasks.h"

namespace verity::contracts {

const Bytes kParamsKey = prefixed_key("sys/params", {});

Status NativeContracts::init_genesis(state::StateOverlay& state, const Genesis& genesis) const {
  if (auto s = genesis.validate(); !s) return s;
  for (const auto& a : genesis.accounts) store_account(state, a.address, Account{a.balance, 0});
  state.put(kParamsKey, encode(genesis.params));
  store_amount(state, kFeePoolKey, Amount{});
  return init_staking(state, genesis);
}

Status NativeContracts::begin_block(state::StateOverlay& state, const state::BlockContext& ctx,
                                    const CommitCertificate& last_commit, std::vector<Event>& events) const {
  if (auto s = begin_block_staking(state, ctx, last_commit, events); !s) return s;
  return begin_block_tasks(state, ctx, last_commit, events);
}

Status NativeContracts::apply_evidence(state::StateOverlay& state, const state::BlockContext& ctx,
                                       const DoubleSignEvidence& e, std::vector<Event>& events) const {
  return apply_block_evidence(state, ctx, e, events);
}

Status NativeContracts::end_block(state::StateOverlay& state, const state::BlockContext& ctx,
                                  std::vector<Event>& events) const {
  // Tasks first: a task settled in this block is settled before the epoch's
  // reputation decay.
  if (auto s = end_block_tasks(state, ctx, events); !s) return s;
  return end_block_staking(state, ctx);
}

// --- the history index's terms -------------------------------------------------------

namespace {

Bytes key_term(char kind, const PublicKey& key) { return prefixed_key(std::string_view(&kind, 1), key.view()); }

// Event attributes whose value is an account's key.
bool names_an_account(std::string_view attribute) {
  static constexpr std::string_view kNames[] = {"from",   "to",     "operator", "delegator", "validator",
                                                "worker", "auditor", "account", "submitter"};
  return std::find(std::begin(kNames), std::end(kNames), attribute) != std::end(kNames);
}

std::optional<std::uint64_t> decimal(std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

Bytes account_term(const PublicKey& key) { return key_term('a', key); }
Bytes slash_term(const PublicKey& key) { return key_term('s', key); }
Bytes worker_series_term(const PublicKey& key) { return key_term('w', key); }
Bytes task_term(std::uint64_t id) { return prefixed_key("t", be64(id)); }

void NativeContracts::history_terms(const Event& e, std::vector<Bytes>& terms) const {
  const bool punishment = e.kind == "slash_double_sign" || e.kind == "validator_jailed" || e.kind == "worker_slashed";
  for (const auto& [name, value] : e.attributes) {
    if (name == "task") {
      if (auto id = decimal(value)) terms.push_back(task_term(*id));
    } else if (names_an_account(name)) {
      auto key = PublicKey::from_hex(value);
      if (!key) continue;
      terms.push_back(account_term(*key));
      if (punishment && (name == "operator" || name == "worker")) terms.push_back(slash_term(*key));
    }
  }
}

std::optional<Bytes> NativeContracts::series_term(ByteView key) const {
  auto worker = worker_of_key(key);
  if (!worker) return std::nullopt;
  return worker_series_term(*worker);
}

Status NativeContracts::charge(state::StateOverlay& state, const state::BlockContext& ctx, const Transaction& tx) const {
  auto account = load_account(state, tx.sender);
  if (!account) return account.error();
  if (tx.nonce != account->nonce)
    return make_error("bad-nonce", "expected nonce " + std::to_string(account->nonce) + ", got " + std::to_string(tx.nonce));
  if (tx.fee < ctx.params.min_fee)
    return make_error("fee-too-low", "fee " + tx.fee.to_string() + " < minimum " + ctx.params.min_fee.to_string());
  auto after = account->balance.checked_sub(tx.fee);
  if (!after)
    return make_error("insufficient-funds", "balance " + account->balance.to_string() + " cannot pay fee " + tx.fee.to_string());
  account->balance = *after;
  account->nonce += 1;
  store_account(state, tx.sender, *account);

  auto pool = load_amount(state, kFeePoolKey);
  if (!pool) return pool.error();
  auto new_pool = pool->checked_add(tx.fee);
  if (!new_pool) return new_pool.error();  // cannot happen while supply fits in 64 bits
  store_amount(state, kFeePoolKey, *new_pool);
  return {};
}

Status NativeContracts::execute(state::StateOverlay& state, const state::BlockContext& ctx, const Transaction& tx,
                                std::vector<Event>& events) const {
  const PublicKey& from = tx.sender;
  return std::visit(
      [&](const auto& p) -> Status {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Transfer>) return transfer(state, from, p, events);
        if constexpr (std::is_same_v<T, CreateValidator>) return create_validator(state, ctx, from, p, events);
        if constexpr (std::is_same_v<T, Delegate>) return delegate(state, ctx, from, p, events);
        if constexpr (std::is_same_v<T, Undelegate>) return undelegate(state, ctx, from, p, events);
        if constexpr (std::is_same_v<T, Withdraw>) {
          // Pays matured delegation unbonding and matured worker stake;
          // "nothing-to-withdraw" only when neither had anything.
          auto worker = withdraw_worker_stake(state, ctx, from, events);
          if (!worker) return worker.error();
          Status st = withdraw(state, ctx, from, events);
          if (!st && st.error().reason == "nothing-to-withdraw" && !worker->is_zero()) return {};
          return st;
        }
        if constexpr (std::is_same_v<T, Claim>) return claim(state, ctx, from, events);
        if constexpr (std::is_same_v<T, Unjail>) return unjail(state, ctx, from, events);
        if constexpr (std::is_same_v<T, SubmitEvidence>) return submit_evidence(state, ctx, from, p, events);
        if constexpr (std::is_same_v<T, RegisterWorker>) return register_worker(state, ctx, from, p, events);
        if constexpr (std::is_same_v<T, UnregisterWorker>) return unregister_worker(state, ctx, from, events);
        if constexpr (std::is_same_v<T, SubmitTask>) return submit_task(state, ctx, from, p, events, meter_);
        if constexpr (std::is_same_v<T, CommitResult>) return commit_result(state, ctx, from, p, events);
        if constexpr (std::is_same_v<T, RevealResult>) return reveal_result(state, ctx, from, p, events);
        if constexpr (std::is_same_v<T, RequestAudit>) return request_audit(state, ctx, from, p, events);
      },
      tx.payload);
}

}  // namespace verity::contracts
