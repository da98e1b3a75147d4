#define BOOST_TEST_MODULE crash_recovery_tests
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "contracts/accounts.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;
using namespace verity::testing;

namespace {

// The child: commits blocks of transfers to the LevelDB chain in `dir` until
// it is killed. Never returns.
[[noreturn]] void commit_forever(const std::string& dir, const TestNet& net) {
  contracts::NativeContracts app;
  auto store = open_leveldb_store(dir);
  if (!store) _exit(3);
  auto chain = Chain::open(**store, net.genesis, app);
  if (!chain) _exit(4);
  for (;;) {
    std::mt19937_64 rng((*chain)->tip().height);
    std::vector<Transaction> txs;
    std::vector<std::uint64_t> nonces;
    for (const auto& u : net.users) nonces.push_back(contracts::load_account((*chain)->state(), u.public_key())->nonce);
    for (int i = 0; i < 20; ++i) {
      std::size_t from = rng() % net.users.size(), to = rng() % net.users.size();
      txs.push_back(make_transfer(net.genesis.chain_id, net.users[from], nonces[from]++, net.users[to].public_key(),
                                  rng() % 1000, 1 + rng() % 5));
    }
    if (!produce_block(**chain, net, txs)) _exit(5);
  }
}

// Everything a reopened chain must satisfy after any crash.
void check_consistent(const std::string& dir, const TestNet& net) {
  contracts::NativeContracts app;
  auto store = open_leveldb_store(dir);
  BOOST_REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().to_string()));
  auto chain = Chain::open(**store, net.genesis, app);
  BOOST_REQUIRE_MESSAGE(chain.ok(), (chain.ok() ? "" : chain.error().to_string()));
  const ChainTip tip = (*chain)->tip();

  for (std::uint64_t h = 1; h <= tip.height; ++h) {
    auto block = (*chain)->block_at(h);
    BOOST_REQUIRE_MESSAGE(block.ok() && block->has_value(), "block " << h << " missing below tip " << tip.height);
    auto cert = (*chain)->certificate_at(h);
    BOOST_REQUIRE(cert.ok() && cert->has_value());
    BOOST_REQUIRE(cert->value().block_hash == block->value().hash());
    BOOST_REQUIRE(*(*chain)->height_of(block->value().hash()).value() == h);
    for (const auto& tx : block->value().transactions) {
      auto rec = (*chain)->transaction(tx.id());
      BOOST_REQUIRE(rec.ok() && rec->has_value());
    }
    if (h == tip.height) {
      BOOST_REQUIRE(block->value().hash() == tip.block_hash);
      BOOST_REQUIRE(block->value().header.state_root == tip.state_root);
    }
  }
  BOOST_REQUIRE(!(*chain)->block_at(tip.height + 1)->has_value());
  BOOST_REQUIRE(!(*chain)->certificate_at(tip.height + 1)->has_value());

  // The flat state and the state map agree, and supply is conserved.
  for (const auto& a : net.genesis.accounts) {
    Bytes key = contracts::account_key(a.address);
    auto value = (*chain)->state().get(key).value();
    auto proof = (*chain)->prove(key);
    BOOST_REQUIRE(proof.ok());
    BOOST_REQUIRE(verify_state_proof(tip.state_root, key, value, *proof).ok());
  }
  auto supply = check_supply((*chain)->state(), net.genesis, known_accounts(net));
  BOOST_REQUIRE_MESSAGE(supply.empty(), supply);
}

}  // namespace

// kill -9 a process that is committing blocks, at many random moments, and
// reopen: the chain always holds whole blocks, never part of one.
BOOST_AUTO_TEST_CASE(kill_during_commits_leaves_whole_blocks) {
  TestNet net = make_test_net(6);
  auto dir = std::filesystem::temp_directory_path() / ("verity-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto seed = test_seed();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937_64 rng(seed);

  const int rounds = 25;
  std::uint64_t last_height = 0;
  int advanced = 0;
  for (int round = 0; round < rounds; ++round) {
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) commit_forever(dir.string(), net);
    // Let it run a little: from mid-open to several blocks in. While no
    // child has committed a block yet (a slow machine: the sanitizer build
    // under load took more than 60 ms to open the chain), wait longer each
    // round, so that kills also land after commits.
    const int patience = advanced == 0 ? round * 40'000 : 0;
    std::this_thread::sleep_for(std::chrono::microseconds(2'000 + rng() % 60'000 + patience));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status), "child exited by itself with " << WEXITSTATUS(status));

    BOOST_TEST_CONTEXT("round " << round) { check_consistent(dir.string(), net); }
    contracts::NativeContracts app;
    auto store = open_leveldb_store(dir.string()).value();
    std::uint64_t h = Chain::open(*store, net.genesis, app).value()->tip().height;
    BOOST_REQUIRE_GE(h, last_height);
    if (h > last_height) ++advanced;
    last_height = h;
  }
  BOOST_TEST_MESSAGE(rounds << " kills; the chain advanced in " << advanced << " rounds to height " << last_height);
  BOOST_TEST(advanced > 0);  // the children did commit between kills
  std::filesystem::remove_all(dir);
}
