#define BOOST_TEST_MODULE chain_tests
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "contracts/accounts.h"
#include "contracts/task_records.h"
#include "state/snapshot.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;
using namespace verity::testing;
using contracts::load_account;

namespace {

struct ChainFixture {
  TestNet net = make_test_net(8);
  contracts::NativeContracts app;
  std::unique_ptr<KvStore> store = open_memory_store();
  std::unique_ptr<Chain> chain;
  ChainFixture() { chain = Chain::open(*store, net.genesis, app).value(); }

  std::uint64_t nonce_of(const SecretKey& k) { return load_account(chain->state(), k.public_key())->nonce; }
  Amount balance_of(const PublicKey& k) { return load_account(chain->state(), k)->balance; }
  Transaction transfer(std::size_t from, std::size_t to, std::uint64_t amount, std::uint64_t fee = 1) {
    return make_transfer(net.genesis.chain_id, net.users[from], nonce_of(net.users[from]),
                         net.users[to].public_key(), amount, fee);
  }
  std::string supply_error() { return check_supply(chain->state(), net.genesis, known_accounts(net)); }
};

}  // namespace

// Chain::view(): what the RPC threads read, fixed at one tip while the
// consensus thread commits on.
BOOST_FIXTURE_TEST_CASE(a_view_stays_at_its_tip_while_the_chain_commits, ChainFixture) {
  BOOST_REQUIRE(produce_block(*chain, net, {transfer(0, 1, 100)}));
  auto view = chain->view();
  const auto tip = chain->tip();
  const Amount before = balance_of(net.users[1].public_key());
  const Transaction second = transfer(0, 1, 50);
  BOOST_REQUIRE(produce_block(*chain, net, {second}));

  BOOST_TEST(view->tip().height == tip.height);
  BOOST_TEST((view->tip().state_root == tip.state_root));
  BOOST_TEST((load_account(view->state(), net.users[1].public_key())->balance == before));
  BOOST_TEST(!view->block_at(2)->has_value());
  BOOST_TEST(view->block_at(1)->has_value());
  BOOST_TEST(!view->transaction(second.id())->has_value());
  BOOST_TEST(chain->transaction(second.id())->has_value());
  BOOST_TEST(view->certificate_at(1)->has_value());
  BOOST_TEST(view->height_of(tip.block_hash)->value() == 1u);
  auto proof = view->prove(contracts::account_key(net.users[1].public_key()));
  BOOST_REQUIRE(proof);
  BOOST_TEST(view->validators().size() == chain->validators().size());
  // A new view sees the second block.
  BOOST_TEST(chain->view()->tip().height == 2u);
  BOOST_TEST((load_account(chain->view()->state(), net.users[1].public_key())->balance == before.checked_add(Amount(50)).value()));
}

BOOST_FIXTURE_TEST_CASE(genesis_state_and_reproducible_root, ChainFixture) {
  BOOST_TEST(chain->tip().height == 0u);
  BOOST_TEST(chain->tip().block_hash == net.genesis.hash());
  BOOST_TEST(balance_of(net.users[3].public_key()).units() == 1'000'000'000u);
  BOOST_TEST(chain->validators().size() == 4u);
  // Another store, the same genesis: the same root.
  auto other_store = open_memory_store();
  auto other = Chain::open(*other_store, net.genesis, app).value();
  BOOST_TEST(other->tip().state_root == chain->tip().state_root);
  // A different genesis gives a different root.
  TestNet changed = net;
  changed.genesis.accounts[0].balance = Amount(5);
  auto third_store = open_memory_store();
  BOOST_TEST(Chain::open(*third_store, changed.genesis, app).value()->tip().state_root != chain->tip().state_root);
  // Reopening a store with another genesis is refused.
  BOOST_TEST(Chain::open(*store, changed.genesis, app).error().reason == "genesis-mismatch");
}

BOOST_FIXTURE_TEST_CASE(transfer_commits_with_receipts_and_indexes, ChainFixture) {
  auto tx = transfer(0, 1, 500, 7);
  auto block = produce_block(*chain, net, {tx});
  BOOST_REQUIRE_MESSAGE(block.ok(), (block.ok() ? "" : block.error().to_string()));
  BOOST_TEST(chain->tip().height == 1u);
  BOOST_TEST(balance_of(net.users[0].public_key()).units() == 1'000'000'000u - 507);
  BOOST_TEST(balance_of(net.users[1].public_key()).units() == 1'000'000'500u);
  BOOST_TEST(nonce_of(net.users[0]) == 1u);

  auto rec = chain->transaction(tx.id());
  BOOST_REQUIRE(rec.ok());
  BOOST_REQUIRE(rec->has_value());
  BOOST_TEST(((*rec)->tx == tx));
  BOOST_TEST((*rec)->receipt.ok);
  BOOST_TEST((*rec)->receipt.height == 1u);
  BOOST_TEST((*rec)->receipt.fee_paid.units() == 7u);
  BOOST_REQUIRE_EQUAL((*rec)->receipt.events.size(), 1u);
  BOOST_TEST((*rec)->receipt.events[0].kind == "transfer");

  BOOST_TEST((chain->block_at(1)->value() == *block));
  BOOST_TEST(*chain->height_of(block->hash()).value() == 1u);
  BOOST_TEST(!chain->block_at(2)->has_value());
  BOOST_TEST(chain->certificate_at(1)->value().verify(net.genesis.chain_id, chain->validators()).ok());
  BOOST_TEST(!chain->transaction(sha256(as_bytes("nope")))->has_value());

  // The account is provable against the committed root.
  Bytes key = contracts::account_key(net.users[1].public_key());
  auto proof = chain->prove(key);
  auto value = chain->state().get(key)->value();
  BOOST_TEST(verify_state_proof(chain->tip().state_root, key, value, *proof).ok());
  BOOST_TEST(verify_state_proof(block->header.state_root, key, value, *proof).ok());
}

BOOST_FIXTURE_TEST_CASE(failed_transaction_pays_fee_uses_nonce_leaves_no_trace, ChainFixture) {
  Amount before0 = balance_of(net.users[0].public_key());
  Amount before1 = balance_of(net.users[1].public_key());
  auto too_much = transfer(0, 1, before0.units(), 10);  // fee first, then the amount no longer fits
  auto block = produce_block(*chain, net, {too_much});
  BOOST_REQUIRE(block.ok());
  auto rec = chain->transaction(too_much.id())->value();
  BOOST_TEST(!rec.receipt.ok);
  BOOST_TEST(rec.receipt.reason == "insufficient-funds");
  BOOST_TEST(rec.receipt.events.empty());
  BOOST_TEST(balance_of(net.users[0].public_key()).units() == before0.units() - 10);
  BOOST_TEST((balance_of(net.users[1].public_key()) == before1));
  BOOST_TEST(nonce_of(net.users[0]) == 1u);
  BOOST_TEST(supply_error() == "");
}

BOOST_FIXTURE_TEST_CASE(replayed_and_bad_transactions_make_the_block_invalid, ChainFixture) {
  auto tx = transfer(0, 1, 5);
  BOOST_REQUIRE(produce_block(*chain, net, {tx}).ok());
  auto root = chain->tip().state_root;

  auto replay = build_block(*chain, {tx}, net.validators[0].public_key());
  BOOST_TEST(replay.error().reason == "bad-nonce");
  auto future = make_transfer(net.genesis.chain_id, net.users[0], 5, net.users[1].public_key(), 1);
  BOOST_TEST(build_block(*chain, {future}, net.validators[0].public_key()).error().reason == "bad-nonce");

  auto other_chain = make_transfer("verity-other-1", net.users[2], 0, net.users[1].public_key(), 1);
  BOOST_TEST(build_block(*chain, {other_chain}, net.validators[0].public_key()).error().reason == "wrong-chain-id");

  auto forged = transfer(2, 1, 5);
  forged.sender = net.users[3].public_key();  // signed by user 2, claims user 3
  BOOST_TEST(build_block(*chain, {forged}, net.validators[0].public_key()).error().reason == "bad-signature");

  // A fee the sender cannot pay.
  TestNet poor_net = make_test_net(2, 5);
  auto poor_store = open_memory_store();
  auto poor = Chain::open(*poor_store, poor_net.genesis, app).value();
  auto big_fee = make_transfer(poor_net.genesis.chain_id, poor_net.users[0], 0, poor_net.users[1].public_key(), 0, 6);
  BOOST_TEST(build_block(*poor, {big_fee}, poor_net.validators[0].public_key()).error().reason == "insufficient-funds");

  // Nothing of the rejected blocks reached the chain.
  BOOST_TEST(chain->tip().height == 1u);
  BOOST_TEST(chain->tip().state_root == root);
  BOOST_TEST(nonce_of(net.users[0]) == 1u);
}

BOOST_FIXTURE_TEST_CASE(commit_checks_root_certificate_and_linkage, ChainFixture) {
  auto block = build_block(*chain, {transfer(0, 1, 5)}, net.validators[0].public_key()).value();

  Block wrong_root = block;
  wrong_root.header.state_root.data[0] ^= 1;
  BOOST_TEST(chain->commit(wrong_root, certify(wrong_root, net.validators)).error().reason == "bad-state-root");

  std::vector<SecretKey> two(net.validators.begin(), net.validators.begin() + 2);
  BOOST_TEST(chain->commit(block, certify(block, two)).error().reason == "bad-certificate");
  BOOST_TEST(chain->commit(block, certify(wrong_root, net.validators)).error().reason == "bad-certificate");

  Block wrong_height = block;
  wrong_height.header.height = 2;
  BOOST_TEST(chain->execute(wrong_height).error().reason == "bad-height");
  Block wrong_prev = block;
  wrong_prev.header.prev_hash.data[0] ^= 1;
  BOOST_TEST(chain->execute(wrong_prev).error().reason == "bad-prev-hash");
  Block wrong_body = block;
  wrong_body.transactions.push_back(transfer(2, 1, 5));
  BOOST_TEST(chain->commit(wrong_body, certify(wrong_body, net.validators)).error().reason == "bad-tx-root");

  BOOST_TEST(chain->tip().height == 0u);
  BOOST_TEST(chain->commit(block, certify(block, net.validators)).ok());

  // Block 2 must carry a valid certificate of block 1.
  auto next = build_block(*chain, {}, net.validators[1].public_key()).value();
  Block no_last_commit = next;
  no_last_commit.last_commit = {};
  no_last_commit.header.last_commit_hash = no_last_commit.last_commit.hash();
  BOOST_TEST(chain->execute(no_last_commit).error().reason == "bad-last-commit");
  Block weak_last_commit = next;
  weak_last_commit.last_commit = certify(block, two);
  weak_last_commit.header.last_commit_hash = weak_last_commit.last_commit.hash();
  BOOST_TEST(chain->execute(weak_last_commit).error().reason == "bad-last-commit");
  BOOST_TEST(chain->commit(next, certify(next, net.validators)).ok());
}

// Many random blocks of random transfers, some failing: total supply is
// conserved exactly after every block, and a second chain fed the same
// blocks reaches the same roots.
BOOST_FIXTURE_TEST_CASE(supply_is_conserved_over_random_blocks, ChainFixture) {
  auto seed = test_seed();
  BOOST_TEST_MESSAGE("seed " << seed << " (replay with VERITY_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  auto replica_store = open_memory_store();
  auto replica = Chain::open(*replica_store, net.genesis, app).value();
  for (int h = 0; h < 60; ++h) {
    std::vector<Transaction> txs;
    std::vector<std::uint64_t> nonces;
    for (const auto& u : net.users) nonces.push_back(nonce_of(u));
    std::size_t n = rng() % 40;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t from = rng() % net.users.size(), to = rng() % net.users.size();
      // Mostly affordable, sometimes more than the balance (fails, pays fee).
      std::uint64_t amount = rng() % 8 == 0 ? 2'000'000'000 : rng() % 1'000'000;
      txs.push_back(make_transfer(net.genesis.chain_id, net.users[from], nonces[from]++,
                                  net.users[to].public_key(), amount, rng() % 100));
    }
    auto block = produce_block(*chain, net, txs);
    BOOST_REQUIRE_MESSAGE(block.ok(), "seed " << seed << " height " << h + 1 << ": "
                                              << (block.ok() ? "" : block.error().to_string()));
    BOOST_REQUIRE_MESSAGE(supply_error().empty(), "seed " << seed << " height " << h + 1 << ": " << supply_error());
    BOOST_REQUIRE(replica->commit(*block, chain->certificate_at(block->header.height)->value()).ok());
    BOOST_REQUIRE(replica->tip() == chain->tip());
  }
}

BOOST_AUTO_TEST_CASE(leveldb_chain_reopens_where_it_stopped) {
  TestNet net = make_test_net(4);
  contracts::NativeContracts app;
  auto dir = std::filesystem::temp_directory_path() / ("verity-chain-" + std::to_string(std::random_device{}()));
  ChainTip tip;
  {
    auto store = open_leveldb_store(dir.string()).value();
    auto chain = Chain::open(*store, net.genesis, app).value();
    for (int i = 0; i < 5; ++i) {
      auto tx = make_transfer(net.genesis.chain_id, net.users[0], static_cast<std::uint64_t>(i), net.users[1].public_key(), 10);
      BOOST_REQUIRE(produce_block(*chain, net, {tx}).ok());
    }
    tip = chain->tip();
  }
  {
    auto store = open_leveldb_store(dir.string()).value();
    auto chain = Chain::open(*store, net.genesis, app).value();
    BOOST_TEST((chain->tip() == tip));
    auto tx = make_transfer(net.genesis.chain_id, net.users[0], 5, net.users[1].public_key(), 10);
    BOOST_TEST(produce_block(*chain, net, {tx}).ok());
    BOOST_TEST(chain->tip().height == 6u);
  }
  std::filesystem::remove_all(dir);
}

// A data directory of the format before pages (the root a node under
// "n/", no root page) is refused at open with the way back, not read as a
// missing state; the same store with its root page opens.
BOOST_AUTO_TEST_CASE(a_store_of_the_node_format_is_refused_with_the_way_back) {
  TestNet net = make_test_net(2);
  contracts::NativeContracts app;
  auto store = open_memory_store();
  Hash256 root;
  {
    auto chain = Chain::open(*store, net.genesis, app).value();
    BOOST_REQUIRE(produce_block(*chain, net, {}).ok());
    root = chain->tip().state_root;
  }
  const Bytes page = store->get(state_root_key(root)).value().value();
  WriteBatch old;
  old.erase(state_root_key(root));
  old.put(prefixed_key(kOldStateNodePrefix, root.view()), Bytes(65, 2));
  BOOST_REQUIRE(store->write(old, true).ok());
  auto refused = Chain::open(*store, net.genesis, app);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().reason == "state-format-old");
  BOOST_TEST(refused.error().detail.find("Wiping the chain") != std::string::npos);
  WriteBatch back;
  back.put(state_root_key(root), page);
  BOOST_REQUIRE(store->write(back, true).ok());
  BOOST_TEST(Chain::open(*store, net.genesis, app).ok());
}

// A data directory of before 2026-12-05 keeps pages under "p/" + hash +
// height. Open moves them to "w/" + height + hash, the same values, and
// the chain reads and commits on; a store left half moved (a crash in the
// middle) finishes on the next open. A "p/" key of another length is
// damage, not skipped.
BOOST_AUTO_TEST_CASE(pages_keyed_by_hash_first_move_to_keys_by_height_at_open) {
  TestNet net = make_test_net(4);
  contracts::NativeContracts app;
  testing::TempDir dir("migrate");
  auto store = open_leveldb_store(dir.path.string()).value();
  {
    auto chain = Chain::open(*store, net.genesis, app).value();
    for (int i = 0; i < 6; ++i) {
      auto tx = make_transfer(net.genesis.chain_id, net.users[i % 4], i / 4, net.users[(i + 1) % 4].public_key(), 7);
      BOOST_REQUIRE(produce_block(*chain, net, {tx}).ok());
    }
  }
  const Bytes prefix = prefixed_key(kStatePagePrefix, {});
  std::map<Bytes, Bytes> pages;
  BOOST_REQUIRE(store->scan(prefix, [&](ByteView k, ByteView v) {
    pages.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  }).ok());
  BOOST_REQUIRE(pages.size() > 10u);
  // Every other page back under its old key.
  WriteBatch old;
  std::size_t moved_back = 0, i = 0;
  for (const auto& [k, v] : pages)
    if (i++ % 2 == 0) {
      old.erase(k);
      old.put(testing::hash_led_page_key(k), v);
      ++moved_back;
    }
  BOOST_REQUIRE(store->write(old, true).ok());
  {
    auto chain = Chain::open(*store, net.genesis, app);
    BOOST_REQUIRE_MESSAGE(chain.ok(), (chain.ok() ? "" : chain.error().to_string()));
    BOOST_TEST((*chain)->migrated_pages() == moved_back);
    std::map<Bytes, Bytes> after;
    BOOST_REQUIRE(store->scan(prefix, [&](ByteView k, ByteView v) {
      after.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
      return true;
    }).ok());
    BOOST_TEST((after == pages));
    std::size_t left = 0;
    BOOST_REQUIRE(store->scan(prefixed_key(kHashLedPagePrefix, {}), [&](ByteView, ByteView) {
      ++left;
      return true;
    }).ok());
    BOOST_TEST(left == 0u);
    std::set<Bytes> live;
    BOOST_TEST(testing::reachable_nodes(*store, (*chain)->tip().state_root, live).ok());
    auto tx = make_transfer(net.genesis.chain_id, net.users[2], 1, net.users[1].public_key(), 7);
    BOOST_TEST(produce_block(**chain, net, {tx}).ok());
  }
  BOOST_TEST(Chain::open(*store, net.genesis, app).value()->migrated_pages() == 0u);
  WriteBatch odd;
  odd.put(prefixed_key(kHashLedPagePrefix, Bytes(12, 1)), Bytes(65, 0));
  BOOST_REQUIRE(store->write(odd, true).ok());
  auto refused = Chain::open(*store, net.genesis, app);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().reason == "state-corrupt");
}

// Skipping signature checks is only for pre-verified transactions: with the
// option off a forged transaction passes apply_block, with it on (the
// default, and what Chain uses) it does not.
BOOST_FIXTURE_TEST_CASE(signature_option_is_the_only_bypass, ChainFixture) {
  auto forged = transfer(2, 1, 5);
  forged.sender = net.users[3].public_key();
  forged.nonce = 0;
  Block b;
  b.header.chain_id = net.genesis.chain_id;
  b.header.height = 1;
  b.transactions = {forged};
  b.header.tx_root = transactions_root(b.transactions);
  b.header.last_commit_hash = b.last_commit.hash();
  StateMap map(*store);
  auto ctx = chain->context_for(b.header);
  BOOST_TEST(apply_block(chain->state(), map, chain->tip().state_root, b, ctx, app).error().reason == "bad-signature");
  BOOST_TEST(apply_block(chain->state(), map, chain->tip().state_root, b, ctx, app, ExecutionOptions{.verify_signatures = false, .already_verified = {}}).ok());
  // already_verified skips exactly the ids it accepts.
  const Hash256 forged_id = forged.id();
  ExecutionOptions known;
  known.already_verified = [&](const Hash256& id) { return id == forged_id; };
  BOOST_TEST(apply_block(chain->state(), map, chain->tip().state_root, b, ctx, app, known).ok());
  ExecutionOptions other;
  other.already_verified = [&](const Hash256& id) { return id != forged_id; };
  BOOST_TEST(apply_block(chain->state(), map, chain->tip().state_root, b, ctx, app, other).error().reason ==
             "bad-signature");
}

// --- the history index (state/history.h) -------------------------------------------

// What concerns an account, newest first and a page at a time, written in
// the commit's own batch: a view taken before a block does not see its
// entries.
BOOST_FIXTURE_TEST_CASE(history_index_lists_what_concerns_an_account_newest_first, ChainFixture) {
  const Bytes user0 = contracts::account_term(net.users[0].public_key());
  const Bytes user1 = contracts::account_term(net.users[1].public_key());
  const Bytes user3 = contracts::account_term(net.users[3].public_key());
  auto t1 = transfer(0, 1, 10);
  BOOST_REQUIRE(produce_block(*chain, net, {t1}));
  auto t2 = transfer(0, 1, 20);
  auto t3 = transfer(2, 0, 5);
  auto second = produce_block(*chain, net, {t2, t3});
  BOOST_REQUIRE(second);
  auto view = chain->view();
  auto failed = transfer(3, 1, 2'000'000'000);  // more than user 3 has: fails, with no events
  BOOST_REQUIRE(produce_block(*chain, net, {failed}));

  auto h0 = chain->history(user0, 0, 10);
  BOOST_REQUIRE_MESSAGE(h0, (h0 ? "" : h0.error().to_string()));
  BOOST_REQUIRE_EQUAL(h0->size(), 3u);
  // Height 2 first, its later position first; the transfer to user 0 names it as `to`.
  BOOST_TEST((*h0)[0].height == 2u);
  BOOST_TEST((*h0)[0].position == 1u);
  BOOST_TEST((*h0)[0].count == 1u);  // the transfer's one event names it
  BOOST_TEST(((*h0)[0].tx_id == t3.id()));
  BOOST_TEST(((*h0)[1].tx_id == t2.id()));
  BOOST_TEST(((*h0)[2].tx_id == t1.id()));
  BOOST_TEST((*h0)[2].height == 1u);
  BOOST_TEST((*h0)[2].type == "transfer");
  // The receiver sees what it received; the failed transfer has no event naming it.
  auto h1 = chain->history(user1, 0, 10).value();
  BOOST_REQUIRE_EQUAL(h1.size(), 2u);
  BOOST_TEST((h1[0].tx_id == t2.id() && h1[1].tx_id == t1.id()));
  // The sender of a failed transaction has it in its history.
  auto h3 = chain->history(user3, 0, 10).value();
  BOOST_REQUIRE_EQUAL(h3.size(), 1u);
  BOOST_TEST((h3[0].tx_id == failed.id()));
  BOOST_TEST(h3[0].height == 3u);
  // Pages: below a height, and at most `limit`.
  auto older = chain->history(user0, 2, 10).value();
  BOOST_REQUIRE_EQUAL(older.size(), 1u);
  BOOST_TEST((older[0].tx_id == t1.id()));
  auto first = chain->history(user0, 0, 1).value();
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  BOOST_TEST((first[0].tx_id == t3.id()));
  BOOST_TEST(chain->history_count(user0, 1000).value() == 3u);  // three transfer events name it
  BOOST_TEST(chain->history_count(user3, 1000).value() == 0u);   // its failed transfer has no event

  // A cursor continues after an entry, within a height too: three
  // transfers of user 5 in one block, read two and then one.
  const Bytes user5 = contracts::account_term(net.users[5].public_key());
  std::vector<Transaction> three;
  for (std::uint64_t n = 0; n < 3; ++n)
    three.push_back(make_transfer(net.genesis.chain_id, net.users[5], n, net.users[6].public_key(), 1 + n));
  BOOST_REQUIRE(produce_block(*chain, net, three));
  auto page = chain->history(user5, 0, 2).value();
  BOOST_REQUIRE_EQUAL(page.size(), 2u);
  BOOST_TEST(((page[0].tx_id == three[2].id()) && (page[1].tx_id == three[1].id())));
  auto rest = chain->history(user5, 0, 2, HistoryCursor{page[1].height, page[1].position}).value();
  BOOST_REQUIRE_EQUAL(rest.size(), 1u);
  BOOST_TEST((rest[0].tx_id == three[0].id()));
  BOOST_TEST(chain->history(user5, 0, 2, HistoryCursor{rest[0].height, rest[0].position}).value().empty());
  // The view taken before block 3 does not see it.
  BOOST_TEST(view->history(user3, 0, 10).value().empty());
  BOOST_TEST(view->history(user0, 0, 10).value().size() == 3u);

  // A block's summary, and no hook events in a block of transfers.
  auto info = chain->block_info(2).value();
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST((info->hash == second->hash()));
  BOOST_TEST((info->header == second->header));
  BOOST_TEST(info->txs == 2u);
  BOOST_TEST(info->signers == net.validators.size());
  BOOST_TEST(info->bytes == encode(*second).size());
  BOOST_TEST(!chain->block_info(5).value().has_value());
  BOOST_TEST(chain->block_events(2).value().empty());
}

// A worker's record is kept at each height it changed (a series).
BOOST_FIXTURE_TEST_CASE(history_index_keeps_a_worker_record_over_time, ChainFixture) {
  const SecretKey& w = net.users[4];
  auto registration = [&](std::uint64_t stake) {
    Transaction tx;
    tx.chain_id = net.genesis.chain_id;
    tx.nonce = nonce_of(w);
    tx.fee = Amount(1);
    tx.payload = RegisterWorker{Amount(stake)};
    tx.sign(w);
    return tx;
  };
  BOOST_REQUIRE(produce_block(*chain, net, {registration(200'000)}));
  BOOST_REQUIRE(produce_block(*chain, net, {transfer(0, 1, 1)}));
  BOOST_REQUIRE(produce_block(*chain, net, {registration(50'000)}));  // adds to the stake
  auto points = chain->series(contracts::worker_series_term(w.public_key()), 0, 10);
  BOOST_REQUIRE_MESSAGE(points, (points ? "" : points.error().to_string()));
  BOOST_REQUIRE_EQUAL(points->size(), 2u);
  BOOST_TEST((*points)[0].height == 3u);
  BOOST_TEST((*points)[1].height == 1u);
  auto latest = decode_exact<contracts::WorkerRecord>((*points)[0].value);
  BOOST_REQUIRE(latest);
  BOOST_TEST(latest->stake.units() == 250'000u);
  BOOST_TEST(decode_exact<contracts::WorkerRecord>((*points)[1].value)->stake.units() == 200'000u);
  BOOST_TEST(chain->series(contracts::worker_series_term(w.public_key()), 3, 10).value().size() == 1u);
  BOOST_TEST(chain->series(contracts::worker_series_term(net.users[5].public_key()), 0, 10).value().empty());
}

// Events of the block hooks (here: downtime jailing in begin_block) are
// kept with the block and indexed for the validator, as a slash too.
BOOST_AUTO_TEST_CASE(history_index_keeps_the_events_of_block_hooks) {
  TestNet net = make_test_net(2);
  net.genesis.params.downtime_window = 4;  // more than 2 misses of 4 jail
  contracts::NativeContracts app;
  auto store = open_memory_store();
  auto chain = Chain::open(*store, net.genesis, app).value();
  const std::vector<SecretKey> three(net.validators.begin(), net.validators.begin() + 3);
  const PublicKey absent = net.validators[3].public_key();
  std::uint64_t jailed_at = 0;
  for (int i = 0; i < 10 && jailed_at == 0; ++i) {
    auto block = build_block(*chain, {}, net.validators[0].public_key());
    BOOST_REQUIRE_MESSAGE(block, (block ? "" : block.error().to_string()));
    BOOST_REQUIRE(chain->commit(*block, certify(*block, three)));
    if (!chain->block_events(block->header.height).value().empty()) jailed_at = block->header.height;
  }
  BOOST_REQUIRE(jailed_at > 0);
  auto events = chain->block_events(jailed_at).value();
  BOOST_REQUIRE_EQUAL(events.size(), 1u);
  BOOST_TEST(events[0].kind == "validator_jailed");
  BOOST_TEST((events[0].attributes[0] == std::pair<std::string, std::string>{"operator", absent.hex()}));
  BOOST_TEST(chain->block_info(jailed_at).value()->signers == 3u);
  for (const Bytes& term : {contracts::account_term(absent), contracts::slash_term(absent)}) {
    auto entries = chain->history(term, 0, 10).value();
    BOOST_REQUIRE_EQUAL(entries.size(), 1u);
    BOOST_TEST(entries[0].height == jailed_at);
    BOOST_TEST(!entries[0].is_tx());
    BOOST_REQUIRE_EQUAL(entries[0].events.size(), 1u);  // the entry keeps the events that concern it
    BOOST_TEST(entries[0].events[0].kind == "validator_jailed");
  }
  BOOST_TEST(chain->history_count(contracts::slash_term(net.validators[0].public_key()), 10).value() == 0u);
}

// Pruning beside commits, as the node runs it: one thread prunes in small
// budgets while this one commits blocks of random transfers to a LevelDB
// chain that keeps 4 versions. Afterwards each kept version still proves
// every account as it was at its height, read from the store itself (no
// snapshot, no cache), and the store holds exactly the nodes the kept
// versions reach: nothing leaked, nothing live deleted.
BOOST_AUTO_TEST_CASE(pruning_beside_commits_keeps_the_recent_versions_whole) {
  auto seed = test_seed();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937_64 rng(seed);
  TestNet net = make_test_net(8);
  contracts::NativeContracts app;
  TempDir dir("prune");
  auto store = open_leveldb_store(dir.path.string()).value();
  ChainOptions options;
  options.keep_recent_heights = 4;
  options.state_cache_bytes = 16 << 10;  // a few pages
  auto chain = Chain::open(*store, net.genesis, app, options).value();
  std::vector<Hash256> roots{chain->tip().state_root};
  std::vector<std::map<Bytes, std::optional<Bytes>>> accounts;
  auto record = [&] {
    std::map<Bytes, std::optional<Bytes>> now;
    for (const auto& u : net.users) {
      Bytes key = contracts::account_key(u.public_key());
      now[key] = chain->state().get(key).value();
    }
    accounts.push_back(std::move(now));
  };
  record();
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> deleted{0};
  std::string prune_error;
  std::thread pruner([&] {
    while (!done) {
      auto stats = chain->prune(50);
      if (!stats) {
        prune_error = stats.error().to_string();
        return;
      }
      deleted += stats->nodes_deleted;
    }
  });
  std::vector<std::uint64_t> nonces(net.users.size(), 0);
  for (int h = 1; h <= 80; ++h) {
    std::vector<Transaction> txs;
    for (std::size_t i = 0, n = 1 + rng() % 6; i < n; ++i) {
      std::size_t from = rng() % net.users.size(), to = rng() % net.users.size();
      txs.push_back(make_transfer(net.genesis.chain_id, net.users[from], nonces[from]++, net.users[to].public_key(),
                                  1 + rng() % 3));
    }
    auto block = produce_block(*chain, net, txs);
    BOOST_REQUIRE_MESSAGE(block.ok(), "height " << h << ": " << (block.ok() ? "" : block.error().to_string()));
    roots.push_back(chain->tip().state_root);
    record();
  }
  done = true;
  pruner.join();
  BOOST_REQUIRE_MESSAGE(prune_error.empty(), prune_error);
  auto last = chain->prune(std::size_t{1} << 30);
  BOOST_REQUIRE(last.ok());
  deleted += last->nodes_deleted;
  BOOST_TEST(deleted > 0u);

  const std::uint64_t tip = chain->tip().height;
  StateMap plain(*store);
  std::set<Bytes> live;
  for (std::uint64_t v = tip + 1 - options.keep_recent_heights; v <= tip; ++v) {
    for (const auto& [key, value] : accounts[v]) {
      auto proof = plain.prove(roots[v], key);
      BOOST_REQUIRE_MESSAGE(proof.ok(), "height " << v << ": " << (proof.ok() ? "" : proof.error().to_string()));
      BOOST_TEST(verify_state_proof(roots[v], key, value, *proof).ok());
    }
    BOOST_REQUIRE(reachable_nodes(*store, roots[v], live).ok());
  }
  BOOST_TEST(stored_state_nodes(*store) == live, "the store holds exactly the kept versions' nodes");
  // An old version is gone: its root's node was deleted.
  BOOST_TEST(!plain.prove(roots[1], accounts[1].begin()->first).ok());
}

// The validator-set history (core/light_client.h): every epoch block leaves
// a hand-off, and a light client holding only the genesis follows them to
// the set that certifies the tip, through a real change of the set; each
// lie about a hand-off is caught by the check it targets.
BOOST_AUTO_TEST_CASE(handoffs_carry_a_light_client_from_genesis_through_a_set_change) {
  TestNet net = make_test_net(2);
  net.genesis.params.epoch_blocks = 3;
  net.genesis.params.min_validator_stake = Amount(500);
  contracts::NativeContracts app;
  auto store = open_memory_store();
  auto chain = Chain::open(*store, net.genesis, app).value();
  // A newcomer with more stake than the four together: after block 3 it
  // alone is more than half of the set, so the old four no longer make a quorum.
  const SecretKey newcomer = SecretKey::derive_insecure("newcomer");
  std::vector<SecretKey> signers = net.validators;
  auto commit_next = [&](std::vector<Transaction> txs) {
    auto block = build_block(*chain, std::move(txs), net.validators[0].public_key());
    BOOST_REQUIRE_MESSAGE(block, "build: " << (block ? "" : block.error().to_string()));
    std::vector<SecretKey> keys;
    for (const auto& k : signers)
      if (chain->validators().power_of(k.public_key())) keys.push_back(k);
    auto st = chain->commit(*block, certify(*block, keys));
    BOOST_REQUIRE_MESSAGE(st, "commit: " << (st ? "" : st.error().to_string()));
  };
  Transaction join;
  join.chain_id = net.genesis.chain_id;
  join.fee = Amount(1);
  join.payload = CreateValidator{newcomer.public_key(), Amount(5000), "newcomer", 0};
  join.sign(net.users[0]);
  commit_next({join});
  signers.push_back(newcomer);
  for (int h = 2; h <= 10; ++h) commit_next({});

  auto handoffs = chain->handoffs(1, 100).value();
  BOOST_REQUIRE(handoffs.size() == 3u);  // blocks 3, 6 and 9
  BOOST_TEST(handoffs[0].header.height == 3u);
  BOOST_TEST(handoffs[2].header.height == 9u);
  BOOST_TEST(handoffs[0].next.size() == 5u);
  BOOST_TEST(chain->handoffs(4, 100).value().size() == 2u);
  BOOST_TEST(chain->handoffs(1, 1).value().size() == 1u);

  auto tip_block = chain->block_at(10).value().value();
  auto tip_cert = chain->certificate_at(10).value().value();
  auto client = LightClient::from_genesis(net.genesis).value();
  BOOST_TEST(client.verify_header(tip_block.header, tip_cert).error().reason == "light-client-behind");
  // Before the change the genesis set certifies blocks 1..3.
  BOOST_TEST(bool(client.verify_header(chain->block_at(3).value()->header, chain->certificate_at(3).value().value())));

  // Lies about hand-offs, each on a copy of the real one.
  ValidatorHandoff lie = handoffs[0];
  lie.next = net.genesis.validator_set().value();  // "the set did not change"
  BOOST_TEST(client.advance(lie).error().reason == "handoff-wrong-set");
  lie = handoffs[0];
  lie.header.state_root = Hash256::from_view(Bytes(32, 7));  // a state where it did not
  BOOST_TEST(client.advance(lie).error().reason == "handoff-bad-certificate");
  lie = handoffs[0];
  lie.certificate.signatures.resize(2);  // half the power
  BOOST_TEST(client.advance(lie).error().reason == "handoff-bad-certificate");
  BOOST_TEST(client.advance(handoffs[1]).error().reason == "handoff-wrong-height");  // one skipped
  // A set the node made up, in a state it made up, "handed over" with a
  // certificate its own key signed: only the certificate check catches it.
  {
    const SecretKey fake = SecretKey::derive_insecure("fake");
    lie = handoffs[0];
    lie.next = ValidatorSet::create({{fake.public_key(), 1}}).value();
    auto fake_store = open_memory_store();
    StateMap fake_map(*fake_store);
    lie.header.state_root = fake_map.apply(kEmptySubtree, {{kValidatorSetStateKey, encode(lie.next)}}).value();
    lie.proof = fake_map.prove(lie.header.state_root, kValidatorSetStateKey).value();
    Block b;
    b.header = lie.header;
    lie.certificate = certify(b, {fake});
    BOOST_TEST(client.advance(lie).error().reason == "handoff-bad-certificate");
    BOOST_TEST(LightClient::from_genesis(net.genesis).value().advance(lie).error().to_string().find("cert-unknown-signer") !=
               std::string::npos);
  }
  BOOST_TEST(client.height() == 0u);  // nothing taken from the lies

  for (const auto& h : handoffs) {
    auto st = client.advance(h);
    BOOST_REQUIRE_MESSAGE(st, "advance: " << (st ? "" : st.error().to_string()));
  }
  BOOST_TEST(client.height() == 9u);
  BOOST_TEST(bool(client.verify_header(tip_block.header, tip_cert)));
  BOOST_TEST((client.validators() == chain->tip_validators()));
  BOOST_TEST(client.verify_header(chain->block_at(3).value()->header, chain->certificate_at(3).value().value())
                 .error()
                 .reason == "light-client-ahead");
  // The tip certified by the old four alone: they are no quorum of the set that certifies it.
  {
    auto forged = certify(tip_block, net.validators);
    BOOST_TEST(client.verify_header(tip_block.header, forged).error().reason == "header-bad-certificate");
  }

  // Trusting block 6 by its hash starts the walk there.
  auto from6 = LightClient::from_trusted(net.genesis, handoffs[1], handoffs[1].header.hash()).value();
  BOOST_TEST(from6.height() == 6u);
  BOOST_TEST(bool(from6.advance(handoffs[2])));
  BOOST_TEST(LightClient::from_trusted(net.genesis, handoffs[1], handoffs[0].header.hash()).error().reason ==
             "trust-hash-mismatch");
}

// The hand-offs are in the store: a reopened chain (and a view) serves them.
BOOST_AUTO_TEST_CASE(handoffs_survive_a_reopen) {
  TestNet net = make_test_net(2);
  net.genesis.params.epoch_blocks = 2;
  contracts::NativeContracts app;
  TempDir dir("handoffs");
  std::vector<ValidatorHandoff> before;
  {
    auto store = open_leveldb_store(dir.path.string()).value();
    auto chain = Chain::open(*store, net.genesis, app).value();
    for (int h = 1; h <= 5; ++h) BOOST_REQUIRE(produce_block(*chain, net, {}));
    before = chain->view()->handoffs(0, 100).value();
  }
  BOOST_REQUIRE(before.size() == 2u);
  auto store = open_leveldb_store(dir.path.string()).value();
  auto chain = Chain::open(*store, net.genesis, app).value();
  BOOST_TEST((chain->handoffs(0, 100).value() == before));
}

namespace {
// Every key and value of the store but the state map's pages (a rolled-back
// block leaves its new pages behind, unreferenced).
std::map<Bytes, Bytes> store_without_nodes(const KvStore& store) {
  std::map<Bytes, Bytes> out;
  const Bytes nodes = prefixed_key(kStatePagePrefix, {}), roots = prefixed_key(kStateRootPrefix, {});
  (void)store.scan({}, [&](ByteView k, ByteView v) {
    auto under = [&](const Bytes& prefix) { return k.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), k.begin()); };
    if (!under(nodes) && !under(roots))
      out.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  return out;
}
}  // namespace

// rollback(): the store is exactly as it was before the block (but for the
// map's unreferenced new nodes), and the same block commits again to the
// same store. Over an epoch block, so the hand-off goes and comes back.
BOOST_AUTO_TEST_CASE(rollback_restores_the_store_to_the_height_below_and_the_block_recommits) {
  TestNet net = make_test_net(4);
  net.genesis.params.epoch_blocks = 3;
  contracts::NativeContracts app;
  auto store = open_memory_store();
  auto chain = Chain::open(*store, net.genesis, app).value();
  std::vector<std::uint64_t> nonces(net.users.size(), 0);
  auto transfers = [&](int n) {
    std::vector<Transaction> txs;
    for (int i = 0; i < n; ++i) {
      const std::size_t from = static_cast<std::size_t>(i) % net.users.size();
      txs.push_back(make_transfer(net.genesis.chain_id, net.users[from], nonces[from]++,
                                  net.users[(from + 1) % net.users.size()].public_key(), 10 + i));
    }
    return txs;
  };
  BOOST_TEST(chain->rollback().error().reason == "nothing-to-roll-back");
  for (int h = 1; h <= 2; ++h) BOOST_REQUIRE(produce_block(*chain, net, transfers(3)));
  const auto at2 = store_without_nodes(*store);
  const ChainTip tip2 = chain->tip();
  auto block3 = produce_block(*chain, net, transfers(4)).value();  // an epoch block
  const CommitCertificate cert3 = chain->certificate_at(3).value().value();
  const auto at3 = store_without_nodes(*store);
  BOOST_REQUIRE(chain->handoffs(3, 1).value().size() == 1u);
  BOOST_REQUIRE(chain->undo(3).value().has_value());

  auto back = chain->rollback();
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_TEST((*back == tip2));
  BOOST_TEST((chain->tip() == tip2));
  const auto after = store_without_nodes(*store);
  for (const auto& [k, v] : after) {
    BOOST_TEST_INFO("key " << to_hex(k));
    BOOST_TEST((at2.count(k) && at2.at(k) == v));
  }
  for (const auto& [k, v] : at2) {
    BOOST_TEST_INFO("key " << to_hex(k));
    BOOST_TEST(after.count(k) == 1u);
  }
  BOOST_TEST(chain->handoffs(3, 1).value().empty());
  BOOST_TEST(!chain->transaction(block3.transactions[0].id()).value().has_value());
  // Every account proves against the restored root.
  for (const auto& u : net.users) {
    Bytes key = contracts::account_key(u.public_key());
    BOOST_TEST(bool(verify_state_proof(chain->tip().state_root, key, chain->state().get(key).value(),
                                       chain->prove(key).value())));
  }
  // The same block, with its certificate, commits again: the store is as it was.
  BOOST_REQUIRE(bool(chain->commit(block3, cert3)));
  BOOST_TEST((store_without_nodes(*store) == at3));
}

// A pruning node rolls back within the versions it keeps, and refuses
// beyond them: their undo records went with them.
BOOST_AUTO_TEST_CASE(rollback_stops_at_the_pruned_versions) {
  TestNet net = make_test_net(2);
  contracts::NativeContracts app;
  auto store = open_memory_store();
  ChainOptions options;
  options.keep_recent_heights = 2;
  auto chain = Chain::open(*store, net.genesis, app, options).value();
  for (int h = 1; h <= 3; ++h)
    BOOST_REQUIRE(produce_block(*chain, net, {make_transfer(net.genesis.chain_id, net.users[0], h - 1,
                                                            net.users[1].public_key(), 5)}));
  BOOST_REQUIRE(chain->prune(1'000'000));
  BOOST_TEST(!chain->undo(2).value().has_value());  // below the kept versions (2 and 3)
  BOOST_TEST(chain->undo(3).value().has_value());
  auto back = chain->rollback();
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_TEST(back->height == 2u);
  Bytes key = contracts::account_key(net.users[1].public_key());
  BOOST_TEST(bool(verify_state_proof(chain->tip().state_root, key, chain->state().get(key).value(), chain->prove(key).value())));
  const ChainTip tip = chain->tip();
  BOOST_TEST(chain->rollback().error().reason == "no-undo-record");
  BOOST_TEST((chain->tip() == tip));
}

// check(): a whole store passes; each kind of damage is found and named.
BOOST_AUTO_TEST_CASE(check_walks_the_store_and_names_each_kind_of_damage) {
  TestNet net = make_test_net(4);
  net.genesis.params.epoch_blocks = 2;
  contracts::NativeContracts app;
  struct Built {
    std::unique_ptr<KvStore> store;
    std::unique_ptr<Chain> chain;
  };
  auto build = [&] {
    Built b{open_memory_store(), nullptr};
    b.chain = Chain::open(*b.store, net.genesis, app).value();
    for (std::uint64_t h = 1; h <= 5; ++h)
      BOOST_REQUIRE(produce_block(*b.chain, net, {make_transfer(net.genesis.chain_id, net.users[0], h - 1,
                                                                 net.users[h % 4].public_key(), 10)}));
    return b;
  };
  {
    auto b = build();
    auto report = b.chain->check();
    BOOST_REQUIRE_MESSAGE(report, (report ? "" : report.error().to_string()));
    BOOST_TEST(report->blocks == 5u);
    BOOST_TEST(report->handoffs == 2u);
    BOOST_TEST(report->state_entries > 10u);
    BOOST_TEST(report->state_nodes >= report->state_entries);
  }
  auto damaged = [&](const std::function<void(KvStore&, Chain&)>& damage) {
    auto b = build();
    damage(*b.store, *b.chain);
    auto report = b.chain->check();
    return report ? std::string("ok") : report.error().reason;
  };
  const Bytes account = contracts::account_key(net.users[1].public_key());
  auto write = [](KvStore& store, auto&& fill) {
    WriteBatch batch;
    fill(batch);
    BOOST_REQUIRE(bool(store.write(batch, true)));
  };
  BOOST_TEST(damaged([&](KvStore& s, Chain&) {
               write(s, [&](WriteBatch& w) { w.put(prefixed_key("s/", account), Bytes{1, 2, 3}); });
             }) == "state-mismatch");
  BOOST_TEST(damaged([&](KvStore& s, Chain&) {
               write(s, [&](WriteBatch& w) { w.erase(prefixed_key("s/", account)); });
             }) == "state-mismatch");
  BOOST_TEST(damaged([&](KvStore& s, Chain& c) {  // a page below the root's
               auto root = StateMap::load_page(s, PageId{c.tip().state_root, kRootPage}).value();
               std::vector<PageId> below;
               StateMap::walk_page(*root.page, [](const StateMap::Node&) {}, [&](const PageId& p) { below.push_back(p); });
               BOOST_REQUIRE(!below.empty());
               write(s, [&](WriteBatch& w) { w.erase(state_page_key(below.front())); });
             }) == "state-node-missing");
  BOOST_TEST(damaged([&](KvStore& s, Chain& c) {  // a leaf's value hash changed inside the root's page
               auto raw = s.get(state_root_key(c.tip().state_root)).value().value();
               raw[raw.size() / 2] ^= 0x01;
               write(s, [&](WriteBatch& w) { w.put(state_root_key(c.tip().state_root), raw); });
             }) == "state-node-corrupt");
  BOOST_TEST(damaged([&](KvStore& s, Chain& c) {  // a certificate of two signers of four
               const auto cert = certify(c.block_at(3).value().value(), {net.validators[0], net.validators[1]});
               write(s, [&](WriteBatch& w) { w.put(prefixed_key("c/", be64(3)), encode(cert)); });
             }) == "bad-certificate");
  BOOST_TEST(damaged([&](KvStore& s, Chain&) {
               write(s, [&](WriteBatch& w) { w.erase(prefixed_key("b/", be64(2))); });
             }) == "chain-broken");
  BOOST_TEST(damaged([&](KvStore& s, Chain&) {  // a hand-off gone: the light client cannot reach the set
               write(s, [&](WriteBatch& w) { w.erase(prefixed_key("v/", be64(2))); });
             }) == "bad-certificate");
}

// keep_recent_blocks: blocks below the last N go with their certificates,
// hash index entries and receipts; the hand-offs stay, so check() still
// follows the validator set from genesis to the blocks kept.
BOOST_AUTO_TEST_CASE(pruning_blocks_keeps_the_recent_ones_and_the_handoffs) {
  TestNet net = make_test_net(2);
  net.genesis.params.epoch_blocks = 3;
  contracts::NativeContracts app;
  auto store = open_memory_store();
  ChainOptions options;
  options.keep_recent_blocks = 4;
  auto chain = Chain::open(*store, net.genesis, app, options).value();
  std::vector<Block> blocks;
  for (std::uint64_t h = 1; h <= 10; ++h)
    blocks.push_back(produce_block(*chain, net, {make_transfer(net.genesis.chain_id, net.users[0], h - 1,
                                                               net.users[1].public_key(), 3)}).value());
  auto stats = chain->prune(1000);
  BOOST_REQUIRE_MESSAGE(stats, (stats ? "" : stats.error().to_string()));
  BOOST_TEST(stats->blocks_deleted == 6u);
  for (std::uint64_t h = 1; h <= 10; ++h) {
    const bool kept = h > 6;
    BOOST_TEST_INFO("height " << h);
    BOOST_TEST(chain->block_at(h).value().has_value() == kept);
    BOOST_TEST(chain->certificate_at(h).value().has_value() == kept);
    BOOST_TEST(chain->height_of(blocks[h - 1].hash()).value().has_value() == kept);
    BOOST_TEST(chain->transaction(blocks[h - 1].transactions[0].id()).value().has_value() == kept);
  }
  BOOST_TEST(chain->handoffs(1, 100).value().size() == 3u);  // 3, 6 and 9
  BOOST_TEST(chain->prune(1000).value().blocks_deleted == 0u);
  auto report = chain->check();
  BOOST_REQUIRE_MESSAGE(report, (report ? "" : report.error().to_string()));
  BOOST_TEST(report->first_block == 7u);
  BOOST_TEST(report->blocks == 4u);
  // The chain goes on.
  BOOST_TEST(bool(produce_block(*chain, net, {})));
}

// Snapshots: the flat state in checked chunks that rebuild the certified
// root in an empty store; a chunk altered, out of turn or missing, and a
// manifest whose entries do not rebuild its root, are each refused.
BOOST_AUTO_TEST_CASE(a_snapshot_restores_the_certified_state_and_refuses_every_lie) {
  TestNet net = make_test_net(300);
  contracts::NativeContracts app;
  auto store = open_memory_store();
  auto chain = Chain::open(*store, net.genesis, app).value();
  std::vector<Transaction> txs;
  for (std::size_t i = 0; i < 50; ++i)
    txs.push_back(make_transfer(net.genesis.chain_id, net.users[i], 0, net.users[i + 100].public_key(), 7 + i));
  BOOST_REQUIRE(produce_block(*chain, net, txs));
  const ChainTip tip = chain->tip();
  std::vector<Bytes> chunks;
  auto manifest = write_snapshot(*store, tip.height, tip.block_hash, tip.state_root, [&](std::size_t i, ByteView c) {
    BOOST_TEST(i == chunks.size());
    chunks.emplace_back(c.begin(), c.end());
    return Status{};
  }, 2048);
  BOOST_REQUIRE_MESSAGE(manifest, (manifest ? "" : manifest.error().to_string()));
  BOOST_TEST(chunks.size() > 3u);
  BOOST_TEST(manifest->chunks.size() == chunks.size());
  BOOST_TEST((decode_exact<SnapshotManifest>(encode(*manifest)).value() == *manifest));

  auto restore_all = [&](const SnapshotManifest& m, const std::vector<Bytes>& cs) -> Result<Hash256> {
    auto target = open_memory_store();
    SnapshotRestore r(m, *target);
    for (const auto& c : cs)
      if (auto s = r.feed(c); !s) return s.error();
    return r.finish();
  };
  {
    auto target = open_memory_store();
    SnapshotRestore r(*manifest, *target);
    for (const auto& c : chunks) BOOST_REQUIRE(bool(r.feed(c)));
    auto root = r.finish();
    BOOST_REQUIRE_MESSAGE(root, (root ? "" : root.error().to_string()));
    BOOST_TEST((*root == tip.state_root));
    // It holds the pages of that root and no others: each chunk rebuilt the
    // upper levels, and the pages it replaced went in its own batch.
    std::set<Bytes> live;
    BOOST_REQUIRE(testing::reachable_nodes(*target, *root, live).ok());
    BOOST_TEST(testing::stored_state_nodes(*target).size() == live.size());
    BOOST_TEST((testing::stored_state_nodes(*target) == live));
    // The restored store proves and reads as the original.
    StateMap restored(*target);
    for (std::size_t i : {0u, 99u, 150u, 299u}) {
      const Bytes key = contracts::account_key(net.users[i].public_key());
      auto value = target->get(prefixed_key("s/", key)).value();
      BOOST_TEST((value == chain->state().get(key).value()));
      BOOST_TEST(bool(verify_state_proof(tip.state_root, key, value, restored.prove(*root, key).value())));
    }
  }
  auto altered = chunks;
  altered[2][altered[2].size() / 2] ^= 1;
  BOOST_TEST(restore_all(*manifest, altered).error().reason == "snapshot-bad-chunk");
  auto swapped = chunks;
  std::swap(swapped[1], swapped[2]);
  BOOST_TEST(restore_all(*manifest, swapped).error().reason == "snapshot-bad-chunk");
  auto missing = chunks;
  missing.pop_back();
  BOOST_TEST(restore_all(*manifest, missing).error().reason == "snapshot-incomplete");
  // A peer that makes up a state and a manifest to match it, claiming the certified root.
  {
    auto lie = chunks;
    Reader r(lie[0]);
    const std::size_t n = r.count(lie[0].size(), 2);
    Writer w;
    w.varint(n);
    for (std::size_t i = 0; i < n; ++i) {
      Bytes key = r.bytes(lie[0].size()), value = r.bytes(lie[0].size());
      if (i == 0) value.push_back(0);  // one value changed
      w.bytes(key);
      w.bytes(value);
    }
    lie[0] = w.take();
    SnapshotManifest forged = *manifest;
    forged.chunks[0] = snapshot_chunk_id(lie[0]);
    BOOST_TEST(restore_all(forged, lie).error().reason == "snapshot-wrong-root");
  }
}
