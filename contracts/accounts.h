#pragma once
// Accounts and transfers: the first native contract.
//
// State keys:
//   "acct/" + address (32 bytes) -> Account {balance, nonce}
//   "sys/fee_pool"               -> Amount: fees collected and not yet paid out
//
// An address that was never written reads as a zero account with nonce 0.

#include <vector>

#include "core/amount.h"
#include "core/encoding.h"
#include "core/keys.h"
#include "core/receipt.h"
#include "core/transaction.h"
#include "state/state_view.h"

namespace verity::contracts {

struct Account {
  Amount balance;
  std::uint64_t nonce = 0;  // the nonce the next transaction must carry

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("balance", s.balance);
    f("nonce", s.nonce);
  }
  friend bool operator==(const Account&, const Account&) = default;
};

Bytes account_key(const PublicKey& address);
extern const Bytes kFeePoolKey;

// Reason "state-corrupt" (a local fault) when stored bytes do not decode.
Result<Account> load_account(const state::StateReader& state, const PublicKey& address);
void store_account(state::StateOverlay& state, const PublicKey& address, const Account& account);
Result<Amount> load_amount(const state::StateReader& state, ByteView key);
// Takes `amount` from `who`'s balance ("insufficient-funds"), or adds it
// ("amount-overflow"). Both write the account.
Status debit(state::StateOverlay& state, const PublicKey& who, Amount amount);
Status credit(state::StateOverlay& state, const PublicKey& who, Amount amount);
// credit, writing nothing for zero (no empty account is created).
Status pay(state::StateOverlay& state, const PublicKey& who, Amount amount);
void store_amount(state::StateOverlay& state, ByteView key, Amount amount);

// Moves `t.amount` from `from` to `t.to`. Reasons: "insufficient-funds",
// "amount-overflow". Emits a "transfer" event.
Status transfer(state::StateOverlay& state, const PublicKey& from, const Transfer& t, std::vector<Event>& events);

}  // namespace verity::contracts
