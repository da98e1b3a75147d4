#include "contracts/accounts.h"

#include "contracts/records.h"

namespace verity::contracts {

const Bytes kFeePoolKey = prefixed_key("sys/fee_pool", {});

Bytes account_key(const PublicKey& address) { return prefixed_key("acct/", address.view()); }


Result<Account> load_account(const state::StateReader& state, const PublicKey& address) {
  return load_record<Account>(state, account_key(address));
}

void store_account(state::StateOverlay& state, const PublicKey& address, const Account& account) {
  state.put(account_key(address), encode(account));
}

Result<Amount> load_amount(const state::StateReader& state, ByteView key) {
  return load_record<Amount>(state, key);
}

void store_amount(state::StateOverlay& state, ByteView key, Amount amount) { state.put(key, encode(amount)); }

Status transfer(state::StateOverlay& state, const PublicKey& from, const Transfer& t, std::vector<Event>& events) {
  auto sender = load_account(state, from);
  if (!sender) return sender.error();
  auto debited = sender->balance.checked_sub(t.amount);
  if (!debited)
    return make_error("insufficient-funds", "balance " + sender->balance.to_string() + " < amount " + t.amount.to_string());
  sender->balance = *debited;
  store_account(state, from, *sender);

  auto receiver = load_account(state, t.to);  // after the debit: a transfer to oneself nets to zero
  if (!receiver) return receiver.error();
  auto credited = receiver->balance.checked_add(t.amount);
  if (!credited) return credited.error();
  receiver->balance = *credited;
  store_account(state, t.to, *receiver);

  events.push_back({"transfer", {{"from", from.hex()}, {"to", t.to.hex()}, {"amount", t.amount.to_string()}}});
  return {};
}

Status debit(state::StateOverlay& s, const PublicKey& who, Amount amount) {
  auto acct = load_account(s, who);
  if (!acct) return acct.error();
  auto after = acct->balance.checked_sub(amount);
  if (!after)
    return make_error("insufficient-funds", "balance " + acct->balance.to_string() + " < " + amount.to_string());
  acct->balance = *after;
  store_account(s, who, *acct);
  return {};
}

Status pay(state::StateOverlay& s, const PublicKey& who, Amount amount) {
  if (amount.is_zero()) return {};
  return credit(s, who, amount);
}

Status credit(state::StateOverlay& s, const PublicKey& who, Amount amount) {
  auto acct = load_account(s, who);
  if (!acct) return acct.error();
  auto after = acct->balance.checked_add(amount);
  if (!after) return after.error();
  acct->balance = *after;
  store_account(s, who, *acct);
  return {};
}

}  // namespace verity::contracts
