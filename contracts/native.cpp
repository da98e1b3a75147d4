#include "contracts/native.h"

#include "contracts/accounts.h"

namespace verity::contracts {

const Bytes kParamsKey = prefixed_key("sys/params", {});

Status NativeContracts::init_genesis(state::StateOverlay& state, const Genesis& genesis) const {
  if (auto s = genesis.validate(); !s) return s;
  for (const auto& a : genesis.accounts) store_account(state, a.address, Account{a.balance, 0});
  auto set = genesis.validator_set();
  if (!set) return set.error();
  state.put(state::kValidatorSetKey, encode(*set));
  state.put(kParamsKey, encode(genesis.params));
  store_amount(state, kFeePoolKey, Amount{});
  return {};
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

Status NativeContracts::execute(state::StateOverlay& state, const state::BlockContext&, const Transaction& tx,
                                std::vector<Event>& events) const {
  return std::visit(
      [&](const auto& payload) -> Status {
        using T = std::decay_t<decltype(payload)>;
        if constexpr (std::is_same_v<T, Transfer>) return transfer(state, tx.sender, payload, events);
      },
      tx.payload);
}

}  // namespace verity::contracts
