// Mempool benchmarks over a real chain (LevelDB in a temporary directory):
// admissions per second with and without the signature check, select() of
// a 10,000-transaction block and of the whole pool, update() after a
// committed block (one account read per pending sender), and admissions
// that each evict, for pools of 10,000 and 50,000 transactions. Prints;
// never asserts.
//
//   build/bench/mempool_bench [--runs R]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>

#include "bench/bench_support.h"
#include "node/mempool.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;
using verity::bench::Clock;
using verity::bench::since;

namespace {

using verity::testing::TempDir;

[[noreturn]] void fail(const std::string& what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), e.to_string().c_str());
  std::exit(1);
}

// `txs` transfers from `senders` senders, interleaved so that each sender's
// nonces arrive in order (all nonce 0 first, then all nonce 1, ...).
std::vector<Transaction> make_txs(const testing::TestNet& net, std::size_t senders, std::size_t txs,
                                  std::uint64_t first_nonce, std::uint64_t min_fee, std::mt19937_64& rng) {
  std::vector<Transaction> out;
  out.reserve(txs);
  for (std::size_t i = 0; out.size() < txs; ++i) {
    const std::size_t from = i % senders;
    const std::uint64_t nonce = first_nonce + i / senders;
    out.push_back(testing::make_transfer(net.genesis.chain_id, net.users[from], nonce,
                                         net.users[(from + 1) % senders].public_key(), 1 + rng() % 1000,
                                         min_fee + rng() % 1000));
  }
  return out;
}

void run(const testing::TestNet& all, std::size_t senders, std::size_t txs, int runs) {
  testing::TestNet net = all;
  net.users.erase(net.users.begin() + senders, net.users.end());
  net.genesis.accounts.resize(senders);
  TempDir dir("mempool");
  contracts::NativeContracts app;
  auto store = open_leveldb_store(dir.path.string()).value();
  auto chain = Chain::open(*store, net.genesis, app).value();
  const ProtocolParams& params = net.genesis.params;
  std::mt19937_64 rng(42);
  auto pending = make_txs(net, senders, txs, 0, 1, rng);

  node::MempoolLimits limits;
  limits.max_txs = txs;
  std::printf("\n%zu transactions from %zu senders\n", txs, senders);

  // Admission, signatures checked (the node's path for a peer's transaction).
  node::Mempool pool(net.genesis.chain_id, params, limits);
  auto t0 = Clock::now();
  for (const auto& tx : pending)
    if (auto r = pool.add(tx, chain->state()); !r) fail("add", r.error());
  const double checked = since(t0);
  // The same with the signature vouched for by the caller: the pool's own cost.
  node::Mempool unchecked(net.genesis.chain_id, params, limits);
  t0 = Clock::now();
  for (const auto& tx : pending)
    if (auto r = unchecked.add(tx, chain->state(), true); !r) fail("add", r.error());
  const double skipped = since(t0);
  std::printf("  add, signature checked       %10.0f tx/s\n", txs / checked);
  std::printf("  add, signature skipped       %10.0f tx/s\n", txs / skipped);
  std::printf("  pool: %zu txs, %.1f MiB encoded\n", pool.size(), pool.bytes() / 1048576.0);

  // select(): a full block, and the whole pool.
  const std::size_t block_txs = std::min<std::size_t>(params.max_block_txs, 10'000);
  std::vector<Transaction> block;
  double best_block = 1e9, best_all = 1e9;
  for (int i = 0; i < runs; ++i) {
    t0 = Clock::now();
    block = pool.select(block_txs, params.max_block_bytes);
    best_block = std::min(best_block, since(t0));
    t0 = Clock::now();
    auto everything = pool.select(SIZE_MAX, SIZE_MAX);
    best_all = std::min(best_all, since(t0));
    if (everything.size() != pool.size()) std::exit(1);
  }
  std::printf("  select(%zu, %llu bytes)   %10.2f ms (%zu txs)\n", block_txs,
              static_cast<unsigned long long>(params.max_block_bytes), best_block * 1e3, block.size());
  std::printf("  select(all)                  %10.2f ms\n", best_all * 1e3);

  // Admissions into a full pool, each evicting the cheapest tail: a pool
  // filled to its bound by all but the last `evicting` senders, then those
  // senders' first transactions, paying more than anything pending.
  const std::size_t evicting = std::min<std::size_t>(5'000, senders / 5);
  std::vector<Transaction> fill;
  for (std::size_t i = 0; i < pending.size(); ++i)
    if (i % senders < senders - evicting) fill.push_back(pending[i]);
  node::MempoolLimits full_limits = limits;
  full_limits.max_txs = fill.size();
  node::Mempool full(net.genesis.chain_id, params, full_limits);
  for (const auto& tx : fill)
    if (auto r = full.add(tx, chain->state(), true); !r) fail("fill", r.error());
  std::vector<Transaction> rich;
  for (std::size_t s = senders - evicting; s < senders; ++s)
    rich.push_back(testing::make_transfer(net.genesis.chain_id, net.users[s], 0,
                                          net.users[(s + 1) % senders].public_key(), 1, 5'000 + s));
  t0 = Clock::now();
  for (const auto& tx : rich)
    if (auto r = full.add(tx, chain->state(), true); !r) fail("evicting add", r.error());
  const double evict_time = since(t0);
  std::printf("  add evicting, sig. skipped   %10.0f tx/s (%llu evicted)\n", rich.size() / evict_time,
              static_cast<unsigned long long>(full.counters().evicted));

  // update(): a recheck with nothing committed (every sender unchanged),
  // then after committing the selected block.
  const std::size_t pending_senders = pool.senders();
  double best_idle = 1e9;
  for (int i = 0; i < runs; ++i) {
    t0 = Clock::now();
    pool.update(chain->state(), {});
    best_idle = std::min(best_idle, since(t0));
  }
  auto produced = testing::produce_block(*chain, net, block);
  if (!produced) fail("block", produced.error());
  const std::size_t before = pool.size();
  t0 = Clock::now();
  pool.update(chain->state(), block);
  const double after_block = since(t0);
  std::printf("  update, no block             %10.2f ms (%zu senders rechecked)\n", best_idle * 1e3, pending_senders);
  std::printf("  update, %zu-tx block      %10.2f ms (%zu -> %zu txs)\n", block.size(), after_block * 1e3, before,
              pool.size());
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--runs R]\n", argv[0]);
      return 2;
    }
  }
  std::printf("verity mempool benchmark (best of %d for select and the idle update)\n", runs);
  auto t0 = Clock::now();
  const auto net = testing::make_test_net(50'000);
  std::printf("(50,000 keys derived in %.1f s)\n", since(t0));
  run(net, 10'000, 10'000, runs);
  run(net, 10'000, 50'000, runs);
  run(net, 50'000, 50'000, runs);
  return 0;
}
