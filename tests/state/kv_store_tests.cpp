#define BOOST_TEST_MODULE kv_store_tests
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "state/kv_store.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;

namespace {
Bytes b(const std::string& s) { return Bytes(s.begin(), s.end()); }

using TempDir = verity::testing::TempDir;

// The same contract, checked on both backends.
std::vector<std::string> keys_from(const KvStore& store, const std::string& prefix, const std::string& start) {
  std::vector<std::string> got;
  BOOST_TEST(store.scan_from(b(prefix), b(start), [&](ByteView k, ByteView) {
    got.emplace_back(k.begin(), k.end());
    return true;
  }).ok());
  return got;
}

void check_contract(KvStore& store) {
  BOOST_TEST(!store.get(b("missing"))->has_value());

  WriteBatch batch;
  batch.put(b("acct/bob"), b("5"));
  batch.put(b("acct/alice"), b("10"));
  batch.put(b("blk/1"), b("block one"));
  batch.put(b("acct/carol"), b("1"));
  batch.erase(b("acct/carol"));          // a later op on the same key wins
  batch.put(b("acct/\xff"), b("high"));  // bytes compare unsigned
  BOOST_TEST(batch.size() == 6u);
  BOOST_TEST(store.write(batch, true).ok());

  BOOST_TEST(*store.get(b("acct/alice"))->value().data() == '1');
  BOOST_TEST(!store.get(b("acct/carol"))->has_value());

  std::vector<std::string> keys;
  BOOST_TEST(store.scan(b("acct/"), [&](ByteView k, ByteView) {
    keys.emplace_back(k.begin(), k.end());
    return true;
  }).ok());
  BOOST_TEST((keys == std::vector<std::string>{"acct/alice", "acct/bob", "acct/\xff"}));
  // scan_from: from the first key at or after `start`, within the prefix.
  BOOST_TEST((keys_from(store, "acct/", "acct/b") == std::vector<std::string>{"acct/bob", "acct/\xff"}));
  BOOST_TEST((keys_from(store, "acct/", "a") == keys));  // a start below the prefix: from its first key
  BOOST_TEST(keys_from(store, "acct/", "acct/\xff\x01").empty());
  BOOST_TEST(keys_from(store, "acct/", "b").empty());  // past the prefix

  int visited = 0;
  BOOST_TEST(store.scan(b(""), [&](ByteView, ByteView) { return ++visited < 2; }).ok());
  BOOST_TEST(visited == 2);  // stops when visit returns false

  WriteBatch del;
  del.erase(b("acct/bob"));
  BOOST_TEST(store.write(del, false).ok());
  BOOST_TEST(!store.get(b("acct/bob"))->has_value());
}
// A snapshot keeps what the store held when it was taken: later writes,
// deletes included, do not show in it; it refuses writes.
void check_snapshot(KvStore& store) {
  WriteBatch first;
  first.put(b("s/a"), b("1"));
  first.put(b("s/b"), b("2"));
  BOOST_REQUIRE(store.write(first, true).ok());
  auto snap = store.snapshot();
  WriteBatch second;
  second.put(b("s/a"), b("changed"));
  second.erase(b("s/b"));
  second.put(b("s/c"), b("3"));
  BOOST_REQUIRE(store.write(second, true).ok());

  BOOST_TEST(snap->get(b("s/a"))->value() == b("1"));
  BOOST_TEST(snap->get(b("s/b"))->value() == b("2"));
  BOOST_TEST(!snap->get(b("s/c"))->has_value());
  std::vector<std::string> keys;
  BOOST_TEST(snap->scan(b("s/"), [&](ByteView k, ByteView) {
    keys.emplace_back(k.begin(), k.end());
    return true;
  }).ok());
  BOOST_TEST((keys == std::vector<std::string>{"s/a", "s/b"}));
  BOOST_TEST((keys_from(*snap, "s/", "s/b") == std::vector<std::string>{"s/b"}));
  BOOST_TEST(store.get(b("s/a"))->value() == b("changed"));
  BOOST_TEST(!const_cast<KvStore&>(*snap).write(first, false).ok());
}
}  // namespace

BOOST_AUTO_TEST_CASE(memory_store_contract) {
  auto store = open_memory_store();
  check_contract(*store);
}

BOOST_AUTO_TEST_CASE(snapshots_do_not_see_later_writes) {
  auto memory = open_memory_store();
  check_snapshot(*memory);
  TempDir dir;
  auto leveldb = open_leveldb_store(dir.path.string());
  BOOST_REQUIRE(leveldb.ok());
  check_snapshot(**leveldb);
}

BOOST_AUTO_TEST_CASE(leveldb_store_contract_and_persistence) {
  TempDir dir;
  {
    auto store = open_leveldb_store(dir.path.string());
    BOOST_REQUIRE(store.ok());
    check_contract(**store);
  }
  auto reopened = open_leveldb_store(dir.path.string());
  BOOST_REQUIRE(reopened.ok());
  BOOST_TEST((*reopened)->get(b("blk/1"))->value() == b("block one"));
  BOOST_TEST(!(*reopened)->get(b("acct/bob"))->has_value());
}

// settle() leaves LevelDB no write-ahead log to replay at the next open
// (a state sync's restore used to cost its node a second of replay), and
// loses nothing; without it the log holds every entry written.
BOOST_AUTO_TEST_CASE(leveldb_settle_leaves_no_log_to_replay) {
  auto log_bytes = [](const std::filesystem::path& dir) {
    std::uintmax_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".log") n += e.file_size();
    return n;
  };
  for (bool settle : {false, true}) {
    TempDir dir;
    {
      auto store = open_leveldb_store(dir.path.string());
      BOOST_REQUIRE(store.ok());
      WriteBatch batch;
      for (int i = 0; i < 5'000; ++i) batch.put(b("s/" + std::to_string(i)), b(std::string(100, 'v')));
      BOOST_REQUIRE((*store)->write(batch, false).ok());
      if (settle) BOOST_REQUIRE((*store)->settle().ok());
    }
    if (settle)
      BOOST_TEST(log_bytes(dir.path) == 0u);
    else
      BOOST_TEST(log_bytes(dir.path) > 500'000u);
    auto reopened = open_leveldb_store(dir.path.string());
    BOOST_REQUIRE(reopened.ok());
    BOOST_TEST((*reopened)->get(b("s/4999"))->value() == b(std::string(100, 'v')));
  }
}

// level0_tables() counts LevelDB's first-level tables (state_bench waits
// for them to drain): LevelDB puts a memtable's table as deep as level 2
// while no table overlaps it, so the same keys written out four times
// leave the last two in level 0 (below the 4 that start a compaction).
BOOST_AUTO_TEST_CASE(leveldb_counts_its_first_level_tables) {
  BOOST_TEST(open_memory_store()->level0_tables() == 0u);
  TempDir dir;
  auto store = open_leveldb_store(dir.path.string());
  BOOST_REQUIRE(store.ok());
  BOOST_TEST((*store)->level0_tables() == 0u);
  for (int round = 0; round < 4; ++round) {
    WriteBatch batch;
    for (int i = 0; i < 100; ++i) batch.put(b("k/" + std::to_string(i)), b(std::to_string(round)));
    BOOST_REQUIRE((*store)->write(batch, false).ok());
    BOOST_REQUIRE((*store)->settle().ok());
  }
  BOOST_TEST((*store)->level0_tables() == 2u);
}

BOOST_AUTO_TEST_CASE(leveldb_second_open_is_refused) {
  TempDir dir;
  auto first = open_leveldb_store(dir.path.string());
  BOOST_REQUIRE(first.ok());
  auto second = open_leveldb_store(dir.path.string());
  BOOST_TEST(!second.ok());
  BOOST_TEST(second.error().reason == "store-locked");
  BOOST_TEST((second.error().fault == Fault::local));
}

BOOST_AUTO_TEST_CASE(leveldb_open_fails_cleanly_on_bad_path) {
  TempDir dir;
  auto file = dir.path / "a-file";
  { std::ofstream(file) << "x"; }
  auto store = open_leveldb_store((file / "db").string());
  BOOST_TEST(store.error().reason == "store-open-failed");
}

// A flipped byte in a table file: reads check each block's CRC, so the read
// that meets the damaged block fails with "store-corrupt" (never a wrong
// value), the failure is counted for /metrics, and the other keys still
// read right.
BOOST_AUTO_TEST_CASE(leveldb_damaged_table_is_an_error_counted_not_a_wrong_value) {
  TempDir dir;
  std::mt19937_64 rng(5);
  std::vector<Bytes> values;
  {
    auto store = open_leveldb_store(dir.path.string()).value();
    WriteBatch batch;
    for (int i = 0; i < 2000; ++i) {
      Bytes v(1024);
      for (auto& x : v) x = static_cast<std::uint8_t>(rng());
      batch.put(b("k/" + std::to_string(i)), v);
      values.push_back(std::move(v));
    }
    BOOST_REQUIRE(store->write(batch, true).ok());
  }
  { auto reopened = open_leveldb_store(dir.path.string()).value(); }  // the log becomes a table
  std::filesystem::path table;
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    if (e.path().extension() == ".ldb" && (table.empty() || e.file_size() > std::filesystem::file_size(table)))
      table = e.path();
  BOOST_REQUIRE_MESSAGE(!table.empty(), "no table file was written");
  {
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(std::filesystem::file_size(table) / 3));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(table) / 3));
    f.write(&c, 1);
  }
  auto store = open_leveldb_store(dir.path.string());
  BOOST_REQUIRE(store.ok());
  const auto errors_before = store_errors();
  int corrupt = 0, right = 0;
  for (int i = 0; i < 2000; ++i) {
    auto got = (*store)->get(b("k/" + std::to_string(i)));
    if (!got.ok()) {
      BOOST_TEST(got.error().reason == "store-corrupt");
      ++corrupt;
      continue;
    }
    BOOST_REQUIRE(got->has_value());
    BOOST_REQUIRE_MESSAGE(**got == values[static_cast<std::size_t>(i)], "key " << i << " read a wrong value");
    ++right;
  }
  BOOST_TEST(corrupt > 0);
  BOOST_TEST(right > 1000);
  BOOST_TEST(store_errors() - errors_before == static_cast<std::uint64_t>(corrupt));
}
