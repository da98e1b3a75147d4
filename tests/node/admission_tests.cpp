// The checks before the mempool (node/admission.h): their order, the seen
// caches, the client limiter, and the parallel signature checks of blocks,
// which must answer exactly as checking one by one does.
#define BOOST_TEST_MODULE admission_tests
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "node/admission.h"
#include "node/module_meter.h"
#include "tests/chain_support.h"
#include "tests/wasm_support.h"

using namespace verity;
using namespace verity::node;

namespace {

// A meter that counts its calls and accepts every module.
class CountingMeter final : public contracts::ModuleMeter {
 public:
  Result<Hash256> metered_hash(ByteView module, std::uint64_t) const override {
    ++calls;
    return sha256(module);
  }
  mutable std::atomic<int> calls{0};
};

struct Fixture {
  testing::TestNet net = testing::make_test_net(4);
  CountingMeter meter;
  TxPrecheck precheck{net.genesis.chain_id, net.genesis.params, 64 * 1024 * 1024, meter};

  Transaction task(bool signed_) const {
    Transaction tx;
    tx.chain_id = net.genesis.chain_id;
    tx.nonce = 0;
    tx.fee = net.genesis.params.min_fee;
    SubmitTask t;
    t.module.bytes = Bytes(1024 * 1024, 0x61);  // a 1 MiB "module"
    t.replicas = 3;
    t.reward = Amount(1000);
    t.fuel = 1000;
    t.commit_blocks = 20;
    t.reveal_blocks = 20;
    tx.payload = std::move(t);
    if (signed_)
      tx.sign(net.users[0]);
    else
      tx.sender = net.users[0].public_key();  // no signature: the junk of issue 16
    return tx;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(an_unsigned_task_is_refused_before_its_module_is_looked_at, Fixture) {
  const Transaction junk = task(false);
  const Bytes bytes = encode(junk);
  auto r = precheck.check(junk, bytes);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().reason == "bad-signature");
  BOOST_TEST(meter.calls == 0);
  BOOST_TEST(precheck.counters().signatures_checked == 1u);
  // Again: answered from the cache, without a second signature check.
  r = precheck.check(junk, bytes);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().reason == "bad-signature");
  BOOST_TEST(precheck.counters().signatures_checked == 1u);
  BOOST_TEST(precheck.counters().signatures_skipped == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_signed_task_has_its_module_checked_after_its_signature, Fixture) {
  const Transaction tx = task(true);
  auto r = precheck.check(tx, encode(tx));
  BOOST_REQUIRE(r);
  BOOST_TEST(*r == tx.id());
  BOOST_TEST(meter.calls == 1);
  // A repeat skips the signature (the good cache).
  BOOST_REQUIRE(precheck.check(tx, encode(tx)));
  BOOST_TEST(precheck.counters().signatures_checked == 1u);
}

// From peers: a copy of an id already claimed is dropped before any work;
// a released id (the mempool refused it for now) is taken again; a
// signature a block check verified is not checked again, but its id is not
// claimed (the block may not commit, and the pool still needs a copy).
BOOST_FIXTURE_TEST_CASE(peer_copies_are_dropped_until_released, Fixture) {
  const Transaction tx = testing::make_transfer(net.genesis.chain_id, net.users[0], 0, net.users[1].public_key(), 5);
  const Bytes bytes = encode(tx);
  BOOST_REQUIRE(precheck.check(tx, bytes, /*from_peer=*/true));
  auto again = precheck.check(tx, bytes, true);
  BOOST_REQUIRE(!again);
  BOOST_TEST(again.error().reason == "tx-known");
  BOOST_TEST(precheck.counters().duplicates == 1u);
  precheck.release(tx.id());
  BOOST_REQUIRE(precheck.check(tx, bytes, true));
  BOOST_TEST(precheck.counters().signatures_checked == 1u);  // the signature was known good

  const Transaction other = testing::make_transfer(net.genesis.chain_id, net.users[1], 0, net.users[2].public_key(), 5);
  precheck.verified(other.id());
  BOOST_REQUIRE(precheck.check(other, encode(other), true));
  BOOST_TEST(precheck.counters().signatures_checked == 1u);
  precheck.claim(other.id());  // committed
  BOOST_TEST(!precheck.check(other, encode(other), true));
}

// What a block check asks before it verifies a transaction's signature:
// known good only once the precheck (or a block check) found it good.
BOOST_FIXTURE_TEST_CASE(a_signature_is_known_good_only_once_checked_good, Fixture) {
  const Transaction tx = testing::make_transfer(net.genesis.chain_id, net.users[0], 0, net.users[1].public_key(), 5);
  BOOST_TEST(!precheck.signature_known_good(tx.id()));
  BOOST_REQUIRE(precheck.check(tx, encode(tx), /*from_peer=*/true));
  BOOST_TEST(precheck.signature_known_good(tx.id()));
  precheck.release(tx.id());  // the mempool refused it for now: its signature stays good
  BOOST_TEST(precheck.signature_known_good(tx.id()));

  Transaction forged = testing::make_transfer(net.genesis.chain_id, net.users[1], 0, net.users[2].public_key(), 5);
  forged.signature.data[9] ^= 1;
  BOOST_REQUIRE(!precheck.check(forged, encode(forged), true));
  BOOST_TEST(!precheck.signature_known_good(forged.id()));
}

BOOST_FIXTURE_TEST_CASE(stateless_rules_come_before_the_signature, Fixture) {
  Transaction tx = testing::make_transfer("another-chain", net.users[0], 0, net.users[1].public_key(), 5);
  auto r = precheck.check(tx, encode(tx));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().reason == "wrong-chain-id");
  BOOST_TEST(precheck.counters().signatures_checked == 0u);
  BOOST_TEST(blameable("wrong-chain-id"));
  BOOST_TEST(blameable("bad-signature"));
  BOOST_TEST(!blameable("nonce-gap"));
  BOOST_TEST(!blameable("fee-too-low"));
}

BOOST_AUTO_TEST_CASE(recent_ids_forget_the_oldest_first) {
  RecentIds ids(2);
  const Hash256 a = sha256(as_bytes(std::string_view("a"))), b = sha256(as_bytes(std::string_view("b"))),
                c = sha256(as_bytes(std::string_view("c")));
  ids.insert(a);
  ids.insert(b);
  ids.insert(a);  // already in: not a second entry
  BOOST_TEST(ids.contains(a));
  ids.insert(c);
  BOOST_TEST(!ids.contains(a));
  BOOST_TEST(ids.contains(b));
  BOOST_TEST(ids.contains(c));
}

BOOST_AUTO_TEST_CASE(a_client_that_keeps_sending_invalid_transactions_is_limited) {
  ClientLimiter limiter({/*burst=*/3, /*refill_per_second=*/0.001, /*max_clients=*/2});
  BOOST_TEST(limiter.allow("10.0.0.1"));
  for (int i = 0; i < 3; ++i) limiter.refused("10.0.0.1", "bad-signature");
  BOOST_TEST(!limiter.allow("10.0.0.1"));
  BOOST_TEST(limiter.allow("10.0.0.2"));  // another client is not
  BOOST_TEST(limiter.limited() == 1u);
  BOOST_TEST(limiter.refused().at("bad-signature") == 3u);
  // Bounded: two more clients push the first out (forgotten, so allowed).
  limiter.refused("10.0.0.2", "malformed-tx");
  limiter.refused("10.0.0.3", "malformed-tx");
  BOOST_TEST(limiter.allow("10.0.0.1"));
}

BOOST_AUTO_TEST_CASE(a_limited_client_is_allowed_again_once_its_bucket_refills) {
  ClientLimiter limiter({/*burst=*/1, /*refill_per_second=*/50, /*max_clients=*/10});
  limiter.refused("c", "bad-signature");
  BOOST_TEST(!limiter.allow("c"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // 5 tokens' worth, capped at 1
  BOOST_TEST(limiter.allow("c"));
}

// Issue 16, item 3: on blocks with a bad signature at every position, the
// parallel checks followed by execution give exactly what execution alone
// (one signature at a time) gives.
BOOST_AUTO_TEST_CASE(parallel_block_signature_checks_answer_as_serial_ones) {
  auto net = testing::make_test_net(8);
  const contracts::NativeContracts app;
  boost::asio::thread_pool pool(pool_threads());
  constexpr std::size_t kTxs = 70;  // several chunks of kChunk
  std::vector<Transaction> txs;
  for (std::size_t i = 0; i < kTxs; ++i)
    txs.push_back(testing::make_transfer(net.genesis.chain_id, net.users[i % 8], i / 8, net.users[(i + 1) % 8].public_key(),
                                         1 + i));
  for (std::size_t bad = 0; bad <= kTxs; ++bad) {  // kTxs: none bad
    auto store = state::open_memory_store();
    auto chain = state::Chain::open(*store, net.genesis, app).value();
    std::vector<Transaction> block_txs = txs;
    if (bad < kTxs) block_txs[bad].signature.data[5] ^= 0x40;
    auto block = testing::build_block(*chain, txs, net.validators[0].public_key()).value();
    block.transactions = block_txs;
    block.header.tx_root = transactions_root(block.transactions);

    auto serial = chain->execute(block);
    std::vector<const Transaction*> ptrs;
    for (const auto& tx : block.transactions) ptrs.push_back(&tx);
    const auto ok = verify_signatures(ptrs, pool);
    BOOST_REQUIRE(ok.size() == kTxs);
    for (std::size_t i = 0; i < kTxs; ++i) BOOST_TEST(ok[i] == (i != bad), "position " << i << ", bad " << bad);
    std::set<Hash256> verified;
    for (std::size_t i = 0; i < kTxs; ++i)
      if (ok[i]) verified.insert(block.transactions[i].id());
    state::ExecutionOptions options;
    options.already_verified = [&](const Hash256& id) { return verified.count(id) != 0; };
    auto parallel = chain->execute(block, options);
    BOOST_REQUIRE(serial.ok() == parallel.ok());
    if (serial) {
      BOOST_TEST(bad == kTxs);
      BOOST_TEST(serial->state_root == parallel->state_root);
    } else {
      BOOST_TEST(serial.error().reason == parallel.error().reason);
      BOOST_TEST(serial.error().detail == parallel.error().detail);
      BOOST_TEST(serial.error().reason == "bad-signature", serial.error().to_string());
    }
  }
}

BOOST_AUTO_TEST_CASE(verify_signatures_of_nothing_is_nothing) {
  boost::asio::thread_pool pool(2);
  BOOST_TEST(verify_signatures({}, pool).empty());
}

// Item 2: a module is metered at most once per hash, however many threads
// ask for it at the same moment.
BOOST_AUTO_TEST_CASE(the_module_meter_meters_a_module_once_under_concurrent_asks) {
  const Bytes module = verity::testing::test_module("hello");
  SandboxModuleMeter meter;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      if (meter.metered_hash(module, 1)) ++good;
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(good == 8);
  BOOST_TEST(meter.computed() == 1u);
}
