#define BOOST_TEST_MODULE mempool_tests
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>
#include <sstream>

#include "contracts/accounts.h"
#include "contracts/tasks.h"
#include "node/evidence_pool.h"
#include "node/mempool.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;
using namespace verity::testing;
using verity::node::Mempool;
using verity::node::MempoolLimits;

namespace {

// A real chain (memory store, native contracts) and a mempool over its
// committed state.
struct Env {
  TestNet net;
  contracts::NativeContracts app;
  std::unique_ptr<KvStore> store;
  std::unique_ptr<Chain> chain;
  Mempool pool;

  static TestNet make_net(std::size_t users, std::uint64_t balance, std::uint64_t min_fee) {
    TestNet n = make_test_net(users, balance);
    n.genesis.params.min_fee = Amount(min_fee);
    return n;
  }
  explicit Env(MempoolLimits limits = {}, std::size_t users = 6, std::uint64_t balance = 1'000'000,
               std::uint64_t min_fee = 1)
      : Env(make_net(users, balance, min_fee), limits) {}
  Env(TestNet n, MempoolLimits limits)
      : net(std::move(n)),
        store(open_memory_store()),
        chain(Chain::open(*store, net.genesis, app).value()),
        pool(net.genesis.chain_id, net.genesis.params, limits) {}

  const std::string& chain_id() const { return net.genesis.chain_id; }
  const SecretKey& user(std::size_t i) const { return net.users.at(i); }
  PublicKey addr(std::size_t i) const { return net.users.at(i).public_key(); }
  contracts::Account account(std::size_t i) const { return contracts::load_account(chain->state(), addr(i)).value(); }

  // A transfer from user `from` to the next user.
  Transaction transfer(std::size_t from, std::uint64_t nonce, std::uint64_t fee, std::uint64_t amount = 10) const {
    return make_transfer(chain_id(), user(from), nonce, addr((from + 1) % net.users.size()), amount, fee);
  }
  Transaction with_payload(std::size_t from, std::uint64_t nonce, std::uint64_t fee, Payload payload) const {
    Transaction tx;
    tx.chain_id = chain_id();
    tx.nonce = nonce;
    tx.fee = Amount(fee);
    tx.payload = std::move(payload);
    tx.sign(user(from));
    return tx;
  }
  Transaction create_validator(std::size_t from, std::uint64_t nonce, std::uint64_t fee, std::size_t name_len,
                               std::uint64_t stake = 10) const {
    return with_payload(from, nonce, fee,
                        CreateValidator{SecretKey::derive_insecure("ck-" + std::to_string(from)).public_key(),
                                        Amount(stake), std::string(name_len, 'n'), 0});
  }

  Result<node::AddOutcome> add(const Transaction& tx, bool signature_checked = false) {
    return pool.add(tx, chain->state(), signature_checked);
  }
  void must_add(const Transaction& tx) {
    auto r = add(tx);
    BOOST_REQUIRE_MESSAGE(r.ok(), "add failed: " << (r.ok() ? "" : r.error().to_string()));
  }
  std::string reason(const Transaction& tx, bool signature_checked = false) {
    auto r = add(tx, signature_checked);
    return r.ok() ? "admitted" : r.error().reason;
  }
  // Commits a block of `txs` (which must be valid) and tells the pool.
  void commit(const std::vector<Transaction>& txs) {
    auto b = produce_block(*chain, net, txs);
    BOOST_REQUIRE_MESSAGE(b.ok(), "block refused: " << (b.ok() ? "" : b.error().to_string()));
    pool.update(chain->state(), txs);
  }
  void check() {
    auto s = pool.check_invariants(chain->state());
    BOOST_REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().to_string()));
  }
  // Everything observable about the pool's content.
  std::string snapshot() const {
    std::ostringstream o;
    o << pool.size() << "/" << pool.bytes() << "/" << pool.senders() << ":";
    for (const auto& tx : pool.select(SIZE_MAX, SIZE_MAX)) o << tx.id().hex().substr(0, 16) << ",";
    return o.str();
  }
};

std::vector<Hash256> ids(const std::vector<Transaction>& txs) {
  std::vector<Hash256> out;
  for (const auto& t : txs) out.push_back(t.id());
  return out;
}

std::size_t size_of(const Transaction& tx) { return encode(tx).size(); }

}  // namespace

BOOST_AUTO_TEST_CASE(each_rejection_reason_leaves_the_pool_unchanged) {
  Env env({}, 6, 1'000'000, /*min_fee=*/2);
  // user 5 has used nonce 0 in a committed block.
  env.commit({env.transfer(5, 0, 2)});
  const Transaction a0 = env.transfer(0, 0, 5);
  env.must_add(a0);
  env.must_add(env.transfer(0, 1, 5));
  env.must_add(env.transfer(1, 0, 3, 400'000));
  env.must_add(env.transfer(5, 1, 3));
  const std::string before = env.snapshot();
  BOOST_REQUIRE_EQUAL(env.pool.size(), 4u);

  auto expect = [&](const Transaction& tx, const std::string& reason) {
    const auto rejected_before = env.pool.counters().rejected.count(reason) ? env.pool.counters().rejected.at(reason) : 0;
    BOOST_TEST(env.reason(tx) == reason);
    BOOST_TEST(env.snapshot() == before, "pool changed by a '" << reason << "' rejection");
    BOOST_TEST(env.pool.counters().rejected.at(reason) == rejected_before + 1);
    env.check();
  };

  Transaction other_chain = env.transfer(2, 0, 5);
  other_chain.chain_id = "another-chain";
  other_chain.sign(env.user(2));
  expect(other_chain, "wrong-chain-id");

  Transaction long_name = env.create_validator(2, 0, 5, kMaxNameBytes + 1);
  expect(long_name, "malformed-tx");
  Transaction long_chain = env.transfer(2, 0, 5);
  long_chain.chain_id = std::string(kMaxChainIdBytes + 1, 'a');
  long_chain.sign(env.user(2));
  expect(long_chain, "malformed-tx");
  Transaction bad_utf8 = env.create_validator(2, 0, 5, 4);
  std::get<CreateValidator>(bad_utf8.payload).name = "ab\xff";
  bad_utf8.sign(env.user(2));
  expect(bad_utf8, "malformed-tx");

  expect(env.transfer(2, 0, 1), "fee-too-low");
  expect(a0, "tx-known");
  expect(env.transfer(5, 0, 9, 77), "nonce-too-low");
  expect(env.transfer(0, 3, 5), "nonce-gap");
  expect(env.transfer(2, 1, 5), "nonce-gap");
  expect(env.transfer(0, 1, 5, 11), "nonce-taken");  // same fee, another transaction
  expect(env.transfer(0, 1, 4, 11), "nonce-taken");  // lower fee
  // user 1 has 1,000,000 and 400,003 pending: 599,997 left.
  expect(env.transfer(1, 1, 3, 599'995), "insufficient-funds");
  expect(env.with_payload(2, 0, 2, Delegate{env.net.validators[0].public_key(), Amount(999'999)}),
         "insufficient-funds");
  expect(env.create_validator(2, 0, 2, 4, 999'999), "insufficient-funds");
  expect(env.transfer(2, 0, UINT64_MAX - 5, 10), "insufficient-funds");  // fee + amount overflows
  // Worker stake and task escrow are spent too: replicas 0 means task_replication (3).
  expect(env.with_payload(2, 0, 2, RegisterWorker{Amount(999'999)}), "insufficient-funds");
  SubmitTask task{ModuleBytes{{0, 0x61, 0x73, 0x6d}}, Hash256{}, TaskBytes{}, 0, Amount(333'333), 1000, 5, 5};
  expect(env.with_payload(2, 0, 2, task), "insufficient-funds");
  task.reward = Amount(UINT64_MAX / 2);
  expect(env.with_payload(2, 0, 2, task), "insufficient-funds");  // the escrow overflows

  Transaction forged = env.transfer(2, 0, 5);
  forged.signature.data[5] ^= 1;
  expect(forged, "bad-signature");
  expect(forged, "bad-signature");  // the seen cache remembers it
  BOOST_TEST(env.pool.recently_seen(forged.id()));

  // What fits exactly is admitted (the checks are not off by one).
  env.must_add(env.transfer(1, 1, 3, 599'994));
  env.must_add(env.with_payload(2, 0, 2, Delegate{env.net.validators[0].public_key(), Amount(999'998)}));
  env.check();
}

BOOST_AUTO_TEST_CASE(size_limits_and_a_full_pool_reject_without_change) {
  Env probe;
  Transaction small = probe.transfer(0, 0, 5);
  Transaction big = probe.create_validator(1, 0, 5, 60);
  BOOST_REQUIRE_GT(size_of(big), size_of(small) + 20);

  // Over the pool's byte bound.
  Env env({.max_txs = 10, .max_bytes = size_of(small) + 10});
  env.must_add(small);
  std::string before = env.snapshot();
  BOOST_TEST(env.reason(big) == "tx-too-large");
  BOOST_TEST(env.snapshot() == before);

  // Over the block's byte bound: it could never be in a block.
  TestNet net = Env::make_net(6, 1'000'000, 1);
  net.genesis.params.max_block_bytes = size_of(small) + 10;
  Env tight(net, {});
  tight.must_add(small);
  before = tight.snapshot();
  BOOST_TEST(tight.reason(big) == "tx-too-large");
  BOOST_TEST(tight.snapshot() == before);

  // Full by count, and the newcomer pays no more than anything evictable.
  Env full({.max_txs = 2});
  full.must_add(full.transfer(0, 0, 5));
  full.must_add(full.transfer(1, 0, 5));
  before = full.snapshot();
  BOOST_TEST(full.reason(full.transfer(2, 0, 5)) == "mempool-full");
  BOOST_TEST(full.reason(full.transfer(2, 0, 4)) == "mempool-full");
  BOOST_TEST(full.snapshot() == before);
  BOOST_TEST(full.pool.counters().rejected.at("mempool-full") == 2u);
  BOOST_TEST(full.pool.counters().evicted == 0u);
}

BOOST_AUTO_TEST_CASE(select_orders_by_fee_across_senders_and_by_nonce_within) {
  Env env;
  auto a0 = env.transfer(0, 0, 3), a1 = env.transfer(0, 1, 50);
  auto b0 = env.transfer(1, 0, 10);
  auto c0 = env.transfer(2, 0, 10);  // ties with b0, arrives later
  auto d0 = env.transfer(3, 0, 1), d1 = env.transfer(3, 1, 2);
  for (const auto& tx : {a0, a1, b0, c0, d0, d1}) env.must_add(tx);
  env.check();

  const std::vector<Hash256> expected = ids({b0, c0, a0, a1, d0, d1});
  BOOST_TEST(ids(env.pool.select(100, SIZE_MAX)) == expected, boost::test_tools::per_element());
  // max_txs cuts the same order.
  auto three = ids(env.pool.select(3, SIZE_MAX));
  BOOST_TEST(three == std::vector<Hash256>(expected.begin(), expected.begin() + 3), boost::test_tools::per_element());
  BOOST_TEST(env.pool.select(0, SIZE_MAX).empty());
  // select is read-only.
  BOOST_TEST(env.pool.size() == 6u);

  // The selected set is a valid block.
  env.commit(env.pool.select(100, SIZE_MAX));
  BOOST_TEST(env.pool.size() == 0u);
  BOOST_TEST(env.pool.counters().committed == 6u);
}

BOOST_AUTO_TEST_CASE(select_respects_the_byte_budget_and_never_skips_a_nonce) {
  Env env;
  auto big = env.create_validator(0, 0, 100, 60);  // the highest fee, but large
  auto after_big = env.transfer(0, 1, 100);
  auto b = env.transfer(1, 0, 50), c = env.transfer(2, 0, 40), d = env.transfer(3, 0, 30);
  for (const auto& tx : {big, after_big, b, c, d}) env.must_add(tx);
  const std::size_t t = size_of(b);
  for (const auto& tx : {after_big, c, d}) BOOST_REQUIRE_EQUAL(size_of(tx), t);
  BOOST_REQUIRE_GT(size_of(big), t);
  BOOST_REQUIRE_LT(size_of(big), 2 * t);

  // No room for the big one: user 0 is done for this block, and its nonce
  // 1 (which would fit) must not be taken; b fits, c no longer does.
  auto picked = env.pool.select(100, size_of(big) - 1);
  BOOST_TEST(ids(picked) == ids({b}), boost::test_tools::per_element());
  // Exactly enough for the big one and its successor.
  BOOST_TEST(ids(env.pool.select(100, size_of(big) + t)) == ids({big, after_big}), boost::test_tools::per_element());
  // One byte less: the big one, and nothing else fits after it.
  BOOST_TEST(ids(env.pool.select(100, size_of(big) + t - 1)) == ids({big}), boost::test_tools::per_element());
  // Three transfers' worth: big and after_big take size(big) + t; b does not fit
  // after them, and the budget is not spent on anything out of order.
  auto three = env.pool.select(100, 3 * t);
  BOOST_TEST(ids(three) == ids({big, after_big}), boost::test_tools::per_element());
  BOOST_TEST(ids(env.pool.select(100, size_of(big) + 3 * t)) == ids({big, after_big, b, c}),
             boost::test_tools::per_element());
  BOOST_TEST(ids(env.pool.select(3, SIZE_MAX)) == ids({big, after_big, b}), boost::test_tools::per_element());
  BOOST_TEST(env.pool.select(100, t - 1).empty());
  env.commit(picked);
  env.check();
  BOOST_TEST(env.pool.size() == 4u);
}

BOOST_AUTO_TEST_CASE(eviction_by_count_takes_the_lowest_fee_tail_and_never_leaves_a_gap) {
  Env env({.max_txs = 3});
  auto a0 = env.transfer(0, 0, 1), a1 = env.transfer(0, 1, 100);
  auto b0 = env.transfer(1, 0, 5);
  for (const auto& tx : {a0, a1, b0}) env.must_add(tx);

  // a0 pays least, but evicting it would strand a1: b0 goes.
  auto c0 = env.transfer(2, 0, 10);
  auto r = env.add(c0);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->evicted == std::vector<Hash256>{b0.id()}, boost::test_tools::per_element());
  BOOST_TEST(!env.pool.contains(b0.id()));
  BOOST_TEST(env.pool.contains(a0.id()));
  BOOST_TEST(env.pool.counters().evicted == 1u);
  env.check();

  // Now the cheapest evictable is c0 (10): 9 and 10 cannot get in, and a
  // bad signature is not even checked (room comes first).
  std::string before = env.snapshot();
  BOOST_TEST(env.reason(env.transfer(3, 0, 9)) == "mempool-full");
  BOOST_TEST(env.reason(env.transfer(3, 0, 10)) == "mempool-full");
  Transaction forged = env.transfer(3, 0, 9);
  forged.signature.data[0] ^= 1;
  BOOST_TEST(env.reason(forged) == "mempool-full");
  BOOST_TEST(env.snapshot() == before);

  // The newcomer's own sender is never a victim: c1 evicts a1 (100), not c0.
  auto c1 = env.transfer(2, 1, 1000);
  r = env.add(c1);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->evicted == std::vector<Hash256>{a1.id()}, boost::test_tools::per_element());
  env.check();
  // The evicted a1 coming back from a peer is known, not re-admitted.
  BOOST_TEST(env.reason(a1) == "tx-known");
  // The pool's content still makes a valid block.
  env.commit(env.pool.select(100, SIZE_MAX));

  // A pool full of one sender: its next nonce has nothing to evict.
  Env solo({.max_txs = 2});
  solo.must_add(solo.transfer(0, 0, 1));
  solo.must_add(solo.transfer(0, 1, 1));
  BOOST_TEST(solo.reason(solo.transfer(0, 2, 1000)) == "mempool-full");
  solo.check();
}

BOOST_AUTO_TEST_CASE(eviction_walks_down_a_sender_from_its_tail) {
  // One sender's chain of cheap transactions is evicted newest first.
  Env env({.max_txs = 3});
  auto a0 = env.transfer(0, 0, 3), a1 = env.transfer(0, 1, 2), a2 = env.transfer(0, 2, 1);
  for (const auto& tx : {a0, a1, a2}) env.must_add(tx);
  auto b0 = env.transfer(1, 0, 50);
  auto r = env.add(b0);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->evicted == std::vector<Hash256>{a2.id()}, boost::test_tools::per_element());
  auto b1 = env.transfer(1, 1, 50);
  r = env.add(b1);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->evicted == std::vector<Hash256>{a1.id()}, boost::test_tools::per_element());
  BOOST_TEST(env.pool.contains(a0.id()));
  env.check();
}

BOOST_AUTO_TEST_CASE(eviction_among_equal_fees_takes_the_latest_arrival) {
  // select() prefers the earlier of two equal fees, so eviction takes the later.
  Env env({.max_txs = 2});
  auto a = env.transfer(0, 0, 5), b = env.transfer(1, 0, 5);
  env.must_add(a);
  env.must_add(b);
  auto r = env.add(env.transfer(2, 0, 6));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->evicted == std::vector<Hash256>{b.id()}, boost::test_tools::per_element());
  env.check();
}

BOOST_AUTO_TEST_CASE(eviction_by_bytes_needs_more_than_the_victims_pay_together) {
  Env probe;
  const std::size_t t = size_of(probe.transfer(0, 0, 10));
  Env env({.max_txs = 100, .max_bytes = 3 * t});
  auto a = env.transfer(0, 0, 10), b = env.transfer(1, 0, 20), c = env.transfer(2, 0, 30);
  for (const auto& tx : {a, b, c}) {
    BOOST_REQUIRE_EQUAL(size_of(tx), t);
    env.must_add(tx);
  }
  BOOST_REQUIRE_EQUAL(env.pool.bytes(), 3 * t);

  // A transaction between one and two transfers in size needs two victims:
  // a and b, 30 together.
  auto big_at = [&](std::uint64_t fee) { return env.create_validator(3, 0, fee, 40); };
  BOOST_REQUIRE_GT(size_of(big_at(30)), t);
  BOOST_REQUIRE_LE(size_of(big_at(30)), 2 * t);
  std::string before = env.snapshot();
  BOOST_TEST(env.reason(big_at(15)) == "mempool-full");  // more than a alone, less than a + b
  BOOST_TEST(env.reason(big_at(30)) == "mempool-full");  // not strictly more
  BOOST_TEST(env.snapshot() == before);
  auto r = env.add(big_at(31));
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().to_string()));
  BOOST_TEST(r->evicted == (std::vector<Hash256>{a.id(), b.id()}), boost::test_tools::per_element());
  BOOST_TEST(env.pool.bytes() <= 3 * t);
  BOOST_TEST(env.pool.size() == 2u);
  env.check();

  // 2t - big bytes are free, less than a transfer: one paying 31 evicts c
  // (30), the cheapest left.
  auto e = env.transfer(4, 0, 31);
  BOOST_TEST(env.reason(env.transfer(4, 0, 30)) == "mempool-full");
  r = env.add(e);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->evicted == std::vector<Hash256>{c.id()}, boost::test_tools::per_element());
  env.check();
  env.commit(env.pool.select(100, SIZE_MAX));
}

BOOST_AUTO_TEST_CASE(replacement_needs_a_higher_fee_and_the_balance) {
  Env env({}, 6, 1'000);
  auto a0 = env.transfer(0, 0, 5, 100), a1 = env.transfer(0, 1, 5, 100);
  env.must_add(a0);
  env.must_add(a1);

  BOOST_TEST(env.reason(env.transfer(0, 0, 5, 200)) == "nonce-taken");
  auto a0b = env.transfer(0, 0, 6, 200);
  auto r = env.add(a0b);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->replaced.has_value());
  if (r->replaced) BOOST_TEST(*r->replaced == a0.id());
  BOOST_TEST(env.pool.size() == 2u);
  BOOST_TEST(!env.pool.contains(a0.id()));
  BOOST_REQUIRE(env.pool.get(a0b.id()) != nullptr);
  BOOST_TEST((*env.pool.get(a0b.id()) == a0b));
  BOOST_TEST(env.pool.counters().replaced == 1u);
  BOOST_TEST(env.reason(a0) == "tx-known");  // the replaced one does not come back
  env.check();

  // The balance check counts the replacement instead of the old one:
  // 1,000 - a1 (105) = 895 for nonce 0.
  BOOST_TEST(env.reason(env.transfer(0, 0, 7, 889)) == "insufficient-funds");
  env.must_add(env.transfer(0, 0, 7, 888));
  // Replacing the last one works the same way.
  BOOST_TEST(env.reason(env.transfer(0, 1, 6, 100)) == "insufficient-funds");
  env.must_add(env.transfer(0, 1, 6, 99));
  env.check();
  env.commit(env.pool.select(100, SIZE_MAX));
  BOOST_TEST(env.account(0).balance.units() == 0u);

  // With a 10% bump rule: 100 needs 110.
  Env bump({.replace_bump_bps = 1'000});
  bump.must_add(bump.transfer(0, 0, 100));
  BOOST_TEST(bump.reason(bump.transfer(0, 0, 109, 11)) == "nonce-taken");
  bump.must_add(bump.transfer(0, 0, 110, 11));
  BOOST_TEST(bump.pool.size() == 1u);
}

BOOST_AUTO_TEST_CASE(update_removes_committed_and_rechecks_nonces_and_balances) {
  Env env({}, 4, 1'000);
  auto a0 = env.transfer(0, 0, 1, 100), a1 = env.transfer(0, 1, 1, 100);
  auto b0 = env.transfer(1, 0, 1, 10), b1 = env.transfer(1, 1, 1, 300), b2 = env.transfer(1, 2, 1, 300);
  auto c0 = env.transfer(2, 0, 1, 10), c1 = env.transfer(2, 1, 1, 10);
  for (const auto& tx : {a0, a1, b0, b1, b2, c0, c1}) env.must_add(tx);
  env.check();

  // Another proposer's block: a0 (ours), and user 1 and user 2 spending
  // their nonce 0 differently: user 1 drops to 1,000 + 100 (a0) - 501 = 599.
  auto b0_other = env.transfer(1, 0, 1, 500);
  auto c0_other = env.transfer(2, 0, 1, 20);
  env.commit({a0, b0_other, c0_other});
  env.check();

  BOOST_TEST(!env.pool.contains(a0.id()));
  BOOST_TEST(env.pool.contains(a1.id()));
  BOOST_TEST(!env.pool.contains(b0.id()));  // nonce used by b0_other
  BOOST_TEST(env.pool.contains(b1.id()));   // 301 <= 599
  BOOST_TEST(!env.pool.contains(b2.id()));  // 602 > 599
  BOOST_TEST(!env.pool.contains(c0.id()));
  BOOST_TEST(env.pool.contains(c1.id()));
  BOOST_TEST(env.pool.size() == 3u);
  BOOST_TEST(env.pool.counters().committed == 1u);
  BOOST_TEST(env.pool.counters().dropped == 3u);
  BOOST_TEST(env.pool.next_nonce(env.addr(1)).value_or(0) == 2u);

  // What is left makes a valid block, and what was dropped stays out.
  BOOST_TEST(env.reason(b2) == "tx-known");
  env.commit(env.pool.select(100, SIZE_MAX));
  BOOST_TEST(env.pool.size() == 0u);
  BOOST_TEST(env.pool.senders() == 0u);
  env.check();
}

BOOST_AUTO_TEST_CASE(add_resyncs_a_sender_when_an_update_was_missed) {
  Env env({}, 4, 1'000);
  auto a0 = env.transfer(0, 0, 1, 10), a1 = env.transfer(0, 1, 1, 10);
  env.must_add(a0);
  env.must_add(a1);
  // A block the pool is not told about.
  auto b = produce_block(*env.chain, env.net, {a0});
  BOOST_REQUIRE(b.ok());
  env.must_add(env.transfer(0, 2, 1, 10));
  BOOST_TEST(!env.pool.contains(a0.id()));
  env.check();
  env.commit(env.pool.select(100, SIZE_MAX));
}

BOOST_AUTO_TEST_CASE(the_seen_cache_keeps_committed_transactions_out) {
  Env env({.max_seen = 2});
  auto a = env.transfer(0, 0, 1), b = env.transfer(1, 0, 1), c = env.transfer(2, 0, 1);
  for (const auto& tx : {a, b, c}) env.must_add(tx);
  env.commit({a, b, c});
  BOOST_TEST(env.pool.seen_size() == 2u);
  // c and b are remembered: a peer sending them again gets "known", so the
  // node neither re-admits nor re-gossips them.
  BOOST_TEST(env.reason(c) == "tx-known");
  BOOST_TEST(env.reason(b) == "tx-known");
  // a was forgotten (the cache is bounded); the state still refuses it.
  BOOST_TEST(!env.pool.recently_seen(a.id()));
  BOOST_TEST(env.reason(a) == "nonce-too-low");

  // A committed transaction the pool never had is remembered too.
  Env other;
  auto d = other.transfer(3, 0, 1);
  other.commit({d});
  BOOST_TEST(other.pool.recently_seen(d.id()));
  BOOST_TEST(other.reason(d) == "tx-known");

  // Without the cache, a committed transaction is refused by its nonce.
  Env none({.max_seen = 0});
  auto e = none.transfer(0, 0, 1);
  none.must_add(e);
  none.commit({e});
  BOOST_TEST(none.reason(e) == "nonce-too-low");
  BOOST_TEST(none.pool.seen_size() == 0u);
}

BOOST_AUTO_TEST_CASE(add_reports_new_transactions_once) {
  Env env;
  auto a = env.transfer(0, 0, 1);
  auto first = env.add(a);
  BOOST_REQUIRE(first.ok());
  BOOST_TEST(first->id == a.id());
  BOOST_TEST(!first->replaced.has_value());
  BOOST_TEST(first->evicted.empty());
  // The same transaction from another peer: not new, not gossiped again.
  BOOST_TEST(env.reason(a) == "tx-known");
  BOOST_TEST(env.reason(a, true) == "tx-known");
  BOOST_TEST(env.pool.counters().admitted == 1u);
}

BOOST_AUTO_TEST_CASE(remove_takes_the_later_nonces_along) {
  Env env;
  auto a0 = env.transfer(0, 0, 1), a1 = env.transfer(0, 1, 1), a2 = env.transfer(0, 2, 1);
  auto b0 = env.transfer(1, 0, 1);
  for (const auto& tx : {a0, a1, a2, b0}) env.must_add(tx);
  BOOST_TEST(env.pool.remove(a1.id()) == 2u);
  BOOST_TEST(env.pool.contains(a0.id()));
  BOOST_TEST(!env.pool.contains(a1.id()));
  BOOST_TEST(!env.pool.contains(a2.id()));
  BOOST_TEST(env.pool.remove(a1.id()) == 0u);
  BOOST_TEST(env.pool.counters().removed == 2u);
  BOOST_TEST(env.pool.next_nonce(env.addr(0)).value_or(0) == 1u);
  BOOST_TEST(env.pool.remove(b0.id()) == 1u);
  BOOST_TEST(!env.pool.next_nonce(env.addr(1)).has_value());
  env.check();
  env.commit(env.pool.select(100, SIZE_MAX));
}

BOOST_AUTO_TEST_CASE(signature_checked_skips_only_the_signature) {
  Env env;
  Transaction forged = env.transfer(0, 0, 1);
  forged.signature.data[7] ^= 1;
  // The caller vouches for the signature; the other checks still run.
  Transaction gap = forged;
  gap.nonce = 5;
  BOOST_TEST(env.reason(gap, true) == "nonce-gap");
  BOOST_TEST(env.reason(forged, true) == "admitted");
  BOOST_TEST(env.pool.size() == 1u);
}

// The point of it all: whatever is submitted, in whatever order, select()
// hands out a set that apply_block accepts (chain.execute runs apply_block
// with signatures checked), with blocks from other proposers in between.
BOOST_AUTO_TEST_CASE(property_selected_sets_always_make_valid_blocks) {
  const std::uint64_t seed = test_seed();
  BOOST_TEST_MESSAGE("VERITY_SEED=" << seed);
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };

  const std::size_t users = 10;
  TestNet net = Env::make_net(users, 0, 2);
  for (auto& a : net.genesis.accounts) a.balance = Amount(1'000 + pick(20'000));
  Env env(net, {.max_txs = 40, .max_bytes = 40 * 170, .max_seen = 300, .replace_bump_bps = 500});
  const PublicKey validator = env.net.validators[0].public_key();

  std::map<std::string, std::uint64_t> outcomes;
  std::uint64_t blocks = 0, foreign_blocks = 0, selected = 0;
  for (int round = 0; round < 500; ++round) {
    const int submissions = 1 + static_cast<int>(pick(40));
    for (int k = 0; k < submissions; ++k) {
      const std::size_t u = pick(users);
      const auto acct = env.account(u);
      const std::uint64_t next = env.pool.next_nonce(env.addr(u)).value_or(acct.nonce);
      std::uint64_t nonce = next;
      switch (pick(10)) {
        case 0: nonce = next + 1 + pick(3); break;                     // a gap
        case 1: case 2: nonce = acct.nonce + pick(next - acct.nonce + 1); break;  // replace a pending one
        case 3: if (acct.nonce > 0) nonce = pick(acct.nonce); break;   // used
        default: break;
      }
      const std::uint64_t fee = pick(60);  // 0 and 1 are below min_fee
      const std::uint64_t budget = acct.balance.units();
      Payload payload;
      switch (pick(9)) {
        case 0: payload = Delegate{validator, Amount(pick(budget / 8 + 1))}; break;
        case 1: payload = CreateValidator{SecretKey::derive_insecure("ck" + std::to_string(pick(4))).public_key(),
                                          Amount(pick(budget / 2 + 1)), "v", 0};
          break;
        case 2: payload = Undelegate{validator, Amount(1 + pick(50))}; break;
        case 3: payload = Withdraw{}; break;
        case 4: payload = Claim{}; break;
        case 5: payload = Transfer{env.addr(pick(users)), Amount(pick(budget + 100))}; break;  // maybe too much
        default: payload = Transfer{env.addr(pick(users)), Amount(pick(budget / 30 + 1))}; break;
      }
      Transaction tx = env.with_payload(u, nonce, fee, payload);
      const int twist = static_cast<int>(pick(40));
      if (twist == 0) {
        tx.signature.data[pick(64)] ^= static_cast<std::uint8_t>(1 + pick(255));
      } else if (twist == 1) {
        tx.chain_id = "verity-other-1";
        tx.sign(env.user(u));
      } else if (twist == 2) {
        tx.payload = CreateValidator{validator, Amount(1), std::string(kMaxNameBytes + 1, 'x'), 0};
        tx.sign(env.user(u));
      }
      auto r = env.add(tx);
      ++outcomes[r.ok() ? (r->replaced ? "replaced" : "admitted") : r.error().reason];
      if (r.ok() && !r->evicted.empty()) ++outcomes["evicting"];
      if (pick(15) == 0) {  // a peer echoes it back
        auto again = env.add(tx);
        ++outcomes[again.ok() ? "admitted-twice" : again.error().reason];
      }
      if (pick(60) == 0 && env.pool.size() > 0) {
        auto any = env.pool.select(1 + pick(env.pool.size()), SIZE_MAX);
        env.pool.remove(any.back().id());
      }
      auto s = env.pool.check_invariants(env.chain->state());
      BOOST_REQUIRE_MESSAGE(s.ok(), "seed " << seed << " round " << round << ": " << (s.ok() ? "" : s.error().to_string()));
    }

    std::vector<Transaction> block;
    if (pick(5) == 0) {
      // Another proposer's block: some users spend their next nonce on
      // something our pool has not seen, often most of their balance.
      ++foreign_blocks;
      for (std::size_t u = 0; u < users; ++u) {
        if (pick(3) != 0) continue;
        const auto acct = env.account(u);
        if (acct.balance.units() < 2) continue;
        const std::uint64_t fee = 2, most = acct.balance.units() - fee;
        block.push_back(env.transfer(u, acct.nonce, fee, pick(4) == 0 ? most : pick(most / 3 + 1)));
      }
    } else {
      block = env.pool.select(1 + pick(50), pick(12 * 170));
      selected += block.size();
      // Per sender, the nonces are consecutive from the account's.
      std::map<PublicKey, std::uint64_t> next;
      for (const auto& tx : block) {
        auto [it, fresh] = next.try_emplace(tx.sender, contracts::load_account(env.chain->state(), tx.sender)->nonce);
        BOOST_REQUIRE_MESSAGE(tx.nonce == it->second, "seed " << seed << ": a skipped nonce");
        ++it->second;
      }
    }
    auto b = produce_block(*env.chain, env.net, block);
    BOOST_REQUIRE_MESSAGE(b.ok(), "seed " << seed << " round " << round << ": block refused: "
                                          << (b.ok() ? "" : b.error().to_string()));
    ++blocks;
    env.pool.update(env.chain->state(), block);
    auto s = env.pool.check_invariants(env.chain->state());
    BOOST_REQUIRE_MESSAGE(s.ok(), "seed " << seed << " after block " << round << ": " << (s.ok() ? "" : s.error().to_string()));
  }
  std::ostringstream summary;
  for (const auto& [k, v] : outcomes) summary << k << "=" << v << " ";
  BOOST_TEST_MESSAGE("blocks " << blocks << " (foreign " << foreign_blocks << "), selected " << selected
                               << ", dropped " << env.pool.counters().dropped << ": " << summary.str());
  // The run exercised what it claims to.
  for (const char* reason : {"admitted", "replaced", "evicting", "nonce-gap", "nonce-taken", "nonce-too-low",
                             "insufficient-funds", "fee-too-low", "tx-known", "mempool-full", "bad-signature",
                             "wrong-chain-id", "malformed-tx"})
    BOOST_TEST(outcomes[reason] > 0u, "never saw " << reason);
  BOOST_TEST(outcomes["admitted-twice"] == 0u, "an echoed transaction was admitted twice");
  BOOST_TEST(env.pool.counters().dropped > 0u);
  BOOST_TEST(selected > 500u);
}

BOOST_AUTO_TEST_CASE(task_terms_the_contract_refuses_are_refused_with_its_reason_and_detail) {
  TestNet net = Env::make_net(6, 1'000'000, 1);
  net.genesis.params.reference_fuel_per_block = 1000;  // 10,000 fuel: 10 blocks to run, at least 12 to commit
  net.genesis.params.max_task_fuel = 100'000;
  net.genesis.params.max_task_blocks = 200;
  Env env(net, {});
  const std::string before = env.snapshot();
  SubmitTask task{ModuleBytes{{0, 0x61, 0x73, 0x6d}}, Hash256{}, TaskBytes{}, 0, Amount(10), 10'000, 11, 5};
  auto r = env.add(env.with_payload(0, 0, 1, task));
  BOOST_REQUIRE(!r.ok());
  const Error contract = contracts::check_task_terms(env.net.genesis.params, task).error();
  BOOST_TEST(r.error().reason == "bad-deadlines");
  BOOST_TEST(r.error().reason == contract.reason);
  BOOST_TEST(r.error().detail == contract.detail);
  BOOST_TEST(r.error().detail.rfind("commit_blocks 11 is too short for fuel 10000 at 1000 per block; at least 12", 0) ==
                 0u,
             r.error().detail);
  auto fat = task;
  fat.fuel = 100'001;
  fat.commit_blocks = 150;
  r = env.add(env.with_payload(0, 0, 1, fat));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().reason == "bad-fuel");
  BOOST_TEST(r.error().detail == "fuel 100001 exceeds max_task_fuel 100000");
  BOOST_TEST(env.snapshot() == before);
  // Exactly enough is admitted.
  task.commit_blocks = 12;
  env.must_add(env.with_payload(0, 0, 1, task));
  env.check();
}

// --- the evidence pool (node/evidence_pool.h) ---

namespace {
DoubleSignEvidence pool_evidence(const SecretKey& key, std::uint64_t height, std::uint64_t view) {
  Vote a, b;
  a.phase = b.phase = VotePhase::prepare;
  a.height = b.height = height;
  a.view = b.view = view;
  a.block_hash = sha256(as_bytes("A"));
  b.block_hash = sha256(as_bytes("B"));
  a.sign("pool-chain", key);
  b.sign("pool-chain", key);
  return DoubleSignEvidence{a, b};
}
}  // namespace

BOOST_AUTO_TEST_CASE(evidence_pool_keeps_each_offence_once_and_offers_one_per_offender) {
  verity::node::EvidencePool pool;
  auto k1 = SecretKey::derive_insecure("pool-1"), k2 = SecretKey::derive_insecure("pool-2");
  auto e1 = pool_evidence(k1, 5, 0);
  BOOST_TEST(pool.add(e1));
  BOOST_TEST(!pool.add(e1));  // the same offence
  BOOST_TEST(!pool.add(DoubleSignEvidence{e1.second, e1.first}));  // the same offence, the votes swapped
  BOOST_TEST(pool.add(pool_evidence(k1, 6, 0)));                   // another offence of the same key
  BOOST_TEST(pool.add(pool_evidence(k2, 5, 1)));
  BOOST_TEST(pool.size() == 3u);
  auto picked = pool.select(10);
  BOOST_REQUIRE_EQUAL(picked.size(), 2u);  // one per offender: the first bans it
  BOOST_TEST(picked[0].validator() != picked[1].validator());
  BOOST_TEST(pool.select(1).size() == 1u);
  pool.remove(e1.offence_id());
  BOOST_TEST(!pool.contains(e1.offence_id()));
  BOOST_TEST(pool.size() == 2u);
  // Bounded.
  for (std::uint64_t h = 100; pool.size() < verity::node::kMaxPendingEvidence; ++h) pool.add(pool_evidence(k2, h, 0));
  BOOST_TEST(!pool.add(pool_evidence(k1, 99'999, 0)));
  BOOST_TEST(pool.size() == verity::node::kMaxPendingEvidence);
}
