#define BOOST_TEST_MODULE accounts_tests
#include <boost/test/unit_test.hpp>

#include "contracts/accounts.h"
#include "contracts/native.h"

using namespace verity;
using namespace verity::contracts;

namespace {
class EmptyReader final : public state::StateReader {
 public:
  Result<std::optional<Bytes>> get(ByteView) const override { return std::optional<Bytes>{}; }
};

PublicKey key(const char* n) { return SecretKey::derive_insecure(n).public_key(); }

struct Fixture {
  EmptyReader base;
  state::StateOverlay state{base};
  std::vector<Event> events;
  Fixture() { store_account(state, key("alice"), Account{Amount(100), 0}); }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(absent_account_reads_as_zero, Fixture) {
  auto a = load_account(state, key("nobody"));
  BOOST_TEST(a->balance.is_zero());
  BOOST_TEST(a->nonce == 0u);
}

BOOST_FIXTURE_TEST_CASE(transfer_moves_exactly, Fixture) {
  BOOST_TEST(transfer(state, key("alice"), Transfer{key("bob"), Amount(30)}, events).ok());
  BOOST_TEST(load_account(state, key("alice"))->balance.units() == 70u);
  BOOST_TEST(load_account(state, key("bob"))->balance.units() == 30u);
  BOOST_REQUIRE_EQUAL(events.size(), 1u);
  BOOST_TEST(events[0].attributes[2].second == "30");
}

BOOST_FIXTURE_TEST_CASE(transfer_to_self_and_of_everything, Fixture) {
  BOOST_TEST(transfer(state, key("alice"), Transfer{key("alice"), Amount(100)}, events).ok());
  BOOST_TEST(load_account(state, key("alice"))->balance.units() == 100u);
  BOOST_TEST(transfer(state, key("alice"), Transfer{key("bob"), Amount(100)}, events).ok());
  BOOST_TEST(load_account(state, key("alice"))->balance.is_zero());
}

BOOST_FIXTURE_TEST_CASE(insufficient_funds_and_overflow, Fixture) {
  BOOST_TEST(transfer(state, key("alice"), Transfer{key("bob"), Amount(101)}, events).error().reason ==
             "insufficient-funds");
  store_account(state, key("rich"), Account{Amount::max(), 0});
  BOOST_TEST(transfer(state, key("alice"), Transfer{key("rich"), Amount(1)}, events).error().reason ==
             "amount-overflow");
}

BOOST_FIXTURE_TEST_CASE(corrupt_account_is_a_local_fault, Fixture) {
  state.put(account_key(key("bad")), Bytes{0xff});
  auto a = load_account(state, key("bad"));
  BOOST_TEST(a.error().reason == "state-corrupt");
  BOOST_TEST((a.error().fault == Fault::local));
}

BOOST_FIXTURE_TEST_CASE(charge_checks_nonce_fee_and_balance, Fixture) {
  NativeContracts app;
  state::BlockContext ctx{"verity-test-1", 1, PublicKey{}, ProtocolParams{}};
  ctx.params.min_fee = Amount(2);
  Transaction tx;
  tx.chain_id = ctx.chain_id;
  tx.payload = Transfer{key("bob"), Amount(1)};
  tx.fee = Amount(5);
  tx.sign(SecretKey::derive_insecure("alice"));
  BOOST_TEST(app.charge(state, ctx, tx).ok());
  BOOST_TEST(load_account(state, key("alice"))->balance.units() == 95u);
  BOOST_TEST(load_account(state, key("alice"))->nonce == 1u);
  BOOST_TEST(load_amount(state, kFeePoolKey)->units() == 5u);
  BOOST_TEST(app.charge(state, ctx, tx).error().reason == "bad-nonce");  // replay
  tx.nonce = 1;
  tx.fee = Amount(1);
  BOOST_TEST(app.charge(state, ctx, tx).error().reason == "fee-too-low");
  tx.fee = Amount(96);
  BOOST_TEST(app.charge(state, ctx, tx).error().reason == "insufficient-funds");
}
