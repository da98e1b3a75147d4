// State benchmarks: apply_block throughput for blocks of 1,000 and 10,000
// transfers, with and without signature checks, plus the cost of committing
// them; state-map updates per second, store reads, memory, disk and proof
// sizes at 10^3 .. 10^6 entries (10^7 with --long), each curve `--runs`
// times over a new store. LevelDB in a temporary
// directory; and disk use over N versions with and without pruning
// (--prune-versions N, default 1,000; 0 skips it); and the time a data
// directory of N entries takes to move its pages to the keys of 2026-12-05
// at its first open (--migration N; 0, the default, skips it). Prints;
// never asserts.
//
//   build/bench/state_bench [--max-entries N | --long] [--cache-mb M] [--map-only] [--prune-versions N]
//                           [--migration N] [--runs R]
//
// --cache-mb 0 measures the map without its page cache (the default is
// the node's, [storage] state_cache_mb).

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "bench/bench_support.h"
#include "contracts/accounts.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;
using verity::bench::Clock;
using verity::bench::since;

namespace {

using verity::testing::TempDir;

void bench_apply_block(int runs) {
  std::printf("\napply_block (10,000 funded accounts, LevelDB)\n");
  std::printf("%-8s %-10s %14s %14s %14s\n", "txs", "signatures", "execute tx/s", "commit ms", "total tx/s");
  for (std::size_t size : {1'000u, 10'000u}) {
    for (bool verify : {true, false}) {
      TempDir dir("apply");
      auto net = testing::make_test_net(10'000);
      contracts::NativeContracts app;
      auto store = open_leveldb_store(dir.path.string()).value();
      auto chain = Chain::open(*store, net.genesis, app).value();
      std::mt19937_64 rng(42);
      std::vector<std::uint64_t> nonces(net.users.size(), 0);
      for (int run = 0; run < runs; ++run) {
        std::vector<Transaction> txs;
        for (std::size_t i = 0; i < size; ++i) {
          std::size_t from = rng() % net.users.size(), to = rng() % net.users.size();
          txs.push_back(testing::make_transfer(net.genesis.chain_id, net.users[from], nonces[from]++,
                                               net.users[to].public_key(), 1 + rng() % 1000, 1));
        }
        Block b;
        b.header.chain_id = net.genesis.chain_id;
        b.header.height = chain->tip().height + 1;
        b.header.prev_hash = chain->tip().block_hash;
        b.header.proposer = net.validators[0].public_key();
        b.transactions = std::move(txs);
        if (chain->tip().height > 0) b.last_commit = chain->certificate_at(chain->tip().height)->value();
        b.header.tx_root = transactions_root(b.transactions);
        b.header.last_commit_hash = b.last_commit.hash();

        StateMap map(*store);
        auto t0 = Clock::now();
        auto outcome = apply_block(chain->state(), map, chain->tip().state_root, b, chain->context_for(b.header), app,
                                   state::ExecutionOptions{.verify_signatures = verify, .already_verified = {}});
        double exec = since(t0);
        if (!outcome) {
          std::fprintf(stderr, "apply_block failed: %s\n", outcome.error().to_string().c_str());
          std::exit(1);
        }
        b.header.state_root = outcome->state_root;
        auto cert = testing::certify(b, net.validators);
        // Chain::commit re-executes (with signatures): time only its write
        // by executing first through the chain, then committing.
        if (!chain->execute(b)) std::exit(1);
        auto t1 = Clock::now();
        if (!chain->commit(b, cert)) std::exit(1);
        double commit = since(t1);
        std::printf("%-8zu %-10s %14.0f %14.1f %14.0f\n", size, verify ? "checked" : "skipped",
                    static_cast<double>(size) / exec, commit * 1e3, static_cast<double>(size) / (exec + commit));
      }
    }
  }
}

// Resident anonymous memory of this process, in MiB (RssAnon: the heap,
// the page cache, LevelDB's caches; not the table files LevelDB maps, which
// count in VmRSS but are the kernel's page cache).
double anon_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::strtod(line.c_str() + 8, nullptr) / 1024;
  return 0;
}

double dir_mib(const std::filesystem::path& dir) {
  std::uintmax_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) bytes += e.file_size();
  return static_cast<double>(bytes) / (1 << 20);
}

// LevelDB compacts its first level from this many tables on.
constexpr std::size_t kLevel0CompactionTrigger = 4;

// The map grows by batches of 10,000 new keys to each size; LevelDB is
// given time to merge the fill's tables (until its first level is below
// the compaction trigger: the seconds waited are printed), so that the
// figure is the map's and not the fill's backlog. Then it takes 10 batches
// of 1,000 updates of random existing keys (a block's worth each): their
// rate, the store reads per update (pages the page cache did not spare),
// the time per batch in apply (walk and hash), flush (pages into the
// batch) and the LevelDB write, the process's anonymous memory and the
// store on disk. Then 100 more batches at once, "sustained": there
// LevelDB's compactions of the new pages come in (write stalls included).
void bench_state_map(std::size_t max_entries, std::size_t cache_mb) {
  std::printf("\nstate map (LevelDB, page cache of %zu MiB): batches of 1,000 random updates over a map of N entries\n",
              cache_mb);
  std::fflush(stdout);
  std::printf("%-10s %10s %12s %8s %13s %9s %9s %9s %9s %9s %12s %6s\n", "entries", "updates/s", "sustained/s",
              "settle s", "reads/update", "apply ms", "flush ms", "write ms", "anon MiB", "disk MiB", "proof bytes",
              "depth");
  TempDir dir("map");
  auto store = open_leveldb_store(dir.path.string()).value();
  StateMap map(*store, state_cache_bytes(cache_mb));
  map.set_record_orphans(true);  // as a pruning node does
  std::uint64_t version = 0;
  Hash256 root = kEmptySubtree;
  std::mt19937_64 rng(7);
  std::size_t filled = 0;
  auto key = [](std::size_t i) { return prefixed_key("acct/", as_bytes(std::to_string(i))); };
  auto value = [&](std::uint64_t v) {
    Writer w;
    w.varint(v);
    w.varint(v / 3);
    return w.take();
  };
  double t_apply = 0, t_flush = 0, t_write = 0;
  auto commit = [&](std::vector<StateUpdate> ups) {
    auto a = Clock::now();
    root = map.apply(root, std::move(ups)).value();
    t_apply += since(a);
    a = Clock::now();
    WriteBatch batch;
    map.flush(batch, ++version);
    t_flush += since(a);
    a = Clock::now();
    if (!store->write(batch, false)) std::exit(1);
    t_write += since(a);
  };
  for (std::size_t target = 1'000; target <= max_entries; target *= 10) {
    while (filled < target) {
      std::vector<StateUpdate> ups;
      for (std::size_t i = 0; i < 10'000 && filled < target; ++i, ++filled) ups.push_back({key(filled), value(rng())});
      commit(std::move(ups));
    }
    auto t0 = Clock::now();
    while (store->level0_tables() >= kLevel0CompactionTrigger && since(t0) < 120)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const double settle = since(t0);
    auto updates = [&](int batches) {
      for (int b = 0; b < batches; ++b) {
        std::vector<StateUpdate> ups;
        for (int i = 0; i < 1'000; ++i) ups.push_back({key(rng() % filled), value(rng())});
        commit(std::move(ups));
      }
    };
    const int batches = 10, sustained_batches = 100;
    const auto reads_before = map.cache_counters().store_reads;
    t_apply = t_flush = t_write = 0;
    t0 = Clock::now();
    updates(batches);
    const double rate = batches * 1'000 / since(t0);
    const double reads = static_cast<double>(map.cache_counters().store_reads - reads_before) / (batches * 1'000);
    const double apply_ms = t_apply * 1e3 / batches, flush_ms = t_flush * 1e3 / batches,
                 write_ms = t_write * 1e3 / batches;
    t0 = Clock::now();
    updates(sustained_batches);
    const double sustained = sustained_batches * 1'000 / since(t0);
    std::size_t bytes = 0, depth = 0;
    const int proofs = 200;
    for (int i = 0; i < proofs; ++i) {
      auto p = map.prove(root, key(rng() % filled)).value();
      bytes += encode(p).size();
      depth += p.siblings.size();
    }
    std::printf("%-10zu %10.0f %12.0f %8.1f %13.2f %9.1f %9.1f %9.1f %9.0f %9.0f %12.1f %6.1f\n", filled, rate,
                sustained, settle, reads, apply_ms, flush_ms, write_ms, anon_mib(), dir_mib(dir.path),
                static_cast<double>(bytes) / proofs, static_cast<double>(depth) / proofs);
    std::fflush(stdout);
  }
}

// Disk use with and without pruning under a steady load: two maps of
// 100,000 entries take the same batches of 1,000 random updates, one
// version per batch; one keeps every version (archive), the other prunes
// every 10 versions down to the last 100 (prune_state_nodes, as the node
// does on its pool; here on this thread, timed apart).
void bench_pruning(std::size_t versions, std::size_t cache_mb) {
  if (versions == 0) return;
  std::printf("\npruning: 100,000 entries, one version per batch of 1,000 random updates, keep 100 versions\n");
  std::printf("%-10s %14s %14s %16s %16s\n", "versions", "archive MiB", "pruned MiB", "prune ms/version", "nodes deleted");
  TempDir archive_dir("archive"), pruned_dir("pruned");
  auto archive_store = open_leveldb_store(archive_dir.path.string()).value();
  auto pruned_store = open_leveldb_store(pruned_dir.path.string()).value();
  StateMap archive(*archive_store, state_cache_bytes(cache_mb)), pruned(*pruned_store, state_cache_bytes(cache_mb));
  pruned.set_record_orphans(true);
  std::mutex write_mu;
  Hash256 archive_root = kEmptySubtree, pruned_root = kEmptySubtree;
  std::mt19937_64 rng(11);
  const std::size_t entries = 100'000, keep = 100;
  auto key = [](std::size_t i) { return prefixed_key("acct/", as_bytes(std::to_string(i))); };
  auto value = [&] {
    const std::string v = std::to_string(rng());
    return Bytes(v.begin(), v.end());
  };
  auto commit = [](StateMap& map, KvStore& store, Hash256& root, const std::vector<StateUpdate>& ups, std::uint64_t v) {
    root = map.apply(root, ups).value();
    WriteBatch batch;
    map.flush(batch, v);
    if (!store.write(batch, false)) std::exit(1);
  };
  std::uint64_t version = 0;
  for (std::size_t filled = 0; filled < entries;) {
    std::vector<StateUpdate> ups;
    for (std::size_t i = 0; i < 10'000; ++i, ++filled) ups.push_back({key(filled), value()});
    ++version;
    commit(archive, *archive_store, archive_root, ups, version);
    commit(pruned, *pruned_store, pruned_root, ups, version);
  }
  double prune_seconds = 0;
  std::uint64_t deleted = 0;
  for (std::size_t n = 1; n <= versions; ++n) {
    std::vector<StateUpdate> ups;
    for (int i = 0; i < 1'000; ++i) ups.push_back({key(rng() % entries), value()});
    ++version;
    commit(archive, *archive_store, archive_root, ups, version);
    commit(pruned, *pruned_store, pruned_root, ups, version);
    if (version % 10 == 0 && version + 1 > keep) {
      auto t0 = Clock::now();
      auto stats = prune_state_nodes(*pruned_store, version + 1 - keep, std::size_t{1} << 30, write_mu);
      prune_seconds += since(t0);
      if (!stats) std::exit(1);
      deleted += stats->nodes_deleted;
    }
    if (n % (versions / 5 == 0 ? 1 : versions / 5) == 0) {
      std::printf("%-10zu %14.0f %14.0f %16.2f %16llu\n", n, dir_mib(archive_dir.path), dir_mib(pruned_dir.path),
                  prune_seconds * 1e3 / static_cast<double>(n), static_cast<unsigned long long>(deleted));
      std::fflush(stdout);
    }
  }
}

// The one-time move of a data directory's pages from keys led by their
// hash (before 2026-12-05) to keys led by their height, at the first open
// after the upgrade (migrate_hash_led_pages): a map of N entries is built,
// its pages are put back under their old keys, and the move is timed.
void bench_migration(std::size_t entries) {
  if (entries == 0) return;
  std::printf("\nmigration of pages to keys by height, at the first open after the upgrade\n");
  std::printf("%-10s %10s %10s %12s\n", "entries", "pages", "seconds", "pages/s");
  TempDir dir("migrate");
  auto store = open_leveldb_store(dir.path.string()).value();
  {
    StateMap map(*store);
    Hash256 root = kEmptySubtree;
    std::uint64_t version = 0;
    for (std::size_t filled = 0; filled < entries;) {
      std::vector<StateUpdate> ups;
      for (std::size_t i = 0; i < 10'000 && filled < entries; ++i, ++filled)
        ups.push_back({prefixed_key("acct/", as_bytes(std::to_string(filled))), Bytes(8, static_cast<std::uint8_t>(filled))});
      root = map.apply(root, std::move(ups)).value();
      WriteBatch batch;
      map.flush(batch, ++version);
      if (!store->write(batch, false)) std::exit(1);
    }
  }
  const Bytes prefix = prefixed_key(kStatePagePrefix, {});
  for (bool more = true; more;) {
    WriteBatch batch;
    if (!store->scan(prefix, [&](ByteView k, ByteView v) {
          batch.erase(k);
          batch.put(verity::testing::hash_led_page_key(k), v);
          return batch.size() < 20'000;
        }))
      std::exit(1);
    more = !batch.empty();
    if (more && !store->write(batch, false)) std::exit(1);
  }
  (void)store->settle();
  const auto t0 = Clock::now();
  const std::uint64_t moved = migrate_hash_led_pages(*store).value();
  const double seconds = since(t0);
  std::printf("%-10zu %10llu %10.2f %12.0f\n", entries, static_cast<unsigned long long>(moved), seconds,
              static_cast<double>(moved) / seconds);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t max_entries = 1'000'000;
  std::size_t cache_mb = kStateCacheDefaultMb;
  int runs = 3;
  bool blocks = true;
  std::size_t prune_versions = 1'000;
  std::size_t migrate_entries = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--max-entries") == 0 && i + 1 < argc) {
      max_entries = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--long") == 0) {
      max_entries = 10'000'000;
    } else if (std::strcmp(argv[i], "--cache-mb") == 0 && i + 1 < argc) {
      cache_mb = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--prune-versions") == 0 && i + 1 < argc) {
      prune_versions = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--migration") == 0 && i + 1 < argc) {
      migrate_entries = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--map-only") == 0) {
      blocks = false;
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--max-entries N | --long] [--cache-mb M] [--map-only] [--prune-versions N] [--migration N] [--runs R]\n", argv[0]);
      return 2;
    }
  }
  std::printf("verity state benchmark\n");
  if (blocks) bench_apply_block(runs);
  for (int run = 0; run < runs; ++run) bench_state_map(max_entries, cache_mb);
  bench_pruning(prune_versions, cache_mb);
  bench_migration(migrate_entries);
  return 0;
}
