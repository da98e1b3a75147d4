#include "contracts/native.h"

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
                                    const CommitCertificate& last_commit) const {
  if (auto s = begin_block_staking(state, ctx, last_commit); !s) return s;
  return begin_block_tasks(state, ctx, last_commit);
}

Status NativeContracts::apply_evidence(state::StateOverlay& state, const state::BlockContext& ctx,
                                       const DoubleSignEvidence& e) const {
  std::vector<Event> events;  // blocks keep no events of their own; the validator's record shows the ban
  return apply_block_evidence(state, ctx, e, events);
}

Status NativeContracts::end_block(state::StateOverlay& state, const state::BlockContext& ctx) const {
  // Tasks first: a task settled in this block is settled before the epoch's
  // reputation decay.
  if (auto s = end_block_tasks(state, ctx); !s) return s;
  return end_block_staking(state, ctx);
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
