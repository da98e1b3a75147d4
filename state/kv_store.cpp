#include "state/kv_store.h"

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include <atomic>
#include <map>
#include <mutex>
#include <shared_mutex>

namespace verity::state {

namespace {

bool has_prefix(ByteView key, ByteView prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.begin());
}

// Where a scan_from starts: the greater of the prefix and `start`.
ByteView first_key(ByteView prefix, ByteView start) {
  return std::lexicographical_compare(start.begin(), start.end(), prefix.begin(), prefix.end()) ? prefix : start;
}

class MemoryStore final : public KvStore {
 public:
  Result<std::optional<Bytes>> get(ByteView key) const override {
    std::shared_lock lock(mu_);
    auto it = map_.find(Bytes(key.begin(), key.end()));
    if (it == map_.end()) return std::optional<Bytes>{};
    return std::optional<Bytes>{it->second};
  }

  Status write(const WriteBatch& batch, bool) override {
    if (read_only_) return local_error("store-read-only", "a snapshot cannot be written");
    std::unique_lock lock(mu_);
    batch.for_each([&](ByteView key, const ByteView* value) {
      if (value)
        map_[Bytes(key.begin(), key.end())] = Bytes(value->begin(), value->end());
      else
        map_.erase(Bytes(key.begin(), key.end()));
    });
    return {};
  }

  Status scan_from(ByteView prefix, ByteView start,
                   const std::function<bool(ByteView, ByteView)>& visit) const override {
    std::shared_lock lock(mu_);
    const ByteView first = first_key(prefix, start);
    for (auto it = map_.lower_bound(Bytes(first.begin(), first.end()));
         it != map_.end() && has_prefix(it->first, prefix); ++it)
      if (!visit(it->first, it->second)) break;
    return {};
  }

  std::shared_ptr<const KvStore> snapshot() const override {
    auto copy = std::make_shared<MemoryStore>();
    std::shared_lock lock(mu_);
    copy->map_ = map_;
    copy->read_only_ = true;
    return copy;
  }

 private:
  mutable std::shared_mutex mu_;
  bool read_only_ = false;  // a snapshot
  std::map<Bytes, Bytes> map_;  // std::map<vector<uint8_t>> orders bytes as unsigned, like LevelDB
};

using leveldb_bytes::slice;
using leveldb_bytes::view;

std::atomic<std::uint64_t> g_store_errors{0};

// A failed read or write: counted (store_errors()), and "store-corrupt"
// when LevelDB found damaged data (a checksum, a block that does not
// decode), else "store-io-error".
Error db_error(const leveldb::Status& s) {
  g_store_errors.fetch_add(1, std::memory_order_relaxed);
  return local_error(s.IsCorruption() ? "store-corrupt" : "store-io-error", s.ToString());
}

// Every read checks the CRC of each block it takes from disk (cached
// blocks were checked when read): a damaged table is an error at the read
// that meets it, never a wrong value.
leveldb::ReadOptions checked_reads(const leveldb::Snapshot* snapshot = nullptr) {
  leveldb::ReadOptions o;
  o.verify_checksums = true;
  o.snapshot = snapshot;
  return o;
}

// Reads of a LevelDB database at one snapshot.
class LevelDbSnapshot final : public KvStore {
 public:
  explicit LevelDbSnapshot(leveldb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~LevelDbSnapshot() override { db_->ReleaseSnapshot(snapshot_); }

  Result<std::optional<Bytes>> get(ByteView key) const override {
    std::string value;
    leveldb::Status s = db_->Get(options(), slice(key), &value);
    if (s.IsNotFound()) return std::optional<Bytes>{};
    if (!s.ok()) return db_error(s);
    return std::optional<Bytes>{Bytes(value.begin(), value.end())};
  }
  Status write(const WriteBatch&, bool) override {
    return local_error("store-read-only", "a snapshot cannot be written");
  }
  Status scan_from(ByteView prefix, ByteView start,
                   const std::function<bool(ByteView, ByteView)>& visit) const override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(options()));
    for (it->Seek(slice(first_key(prefix, start))); it->Valid() && has_prefix(view(it->key()), prefix); it->Next())
      if (!visit(view(it->key()), view(it->value()))) break;
    if (!it->status().ok()) return db_error(it->status());
    return {};
  }
  std::shared_ptr<const KvStore> snapshot() const override {
    return std::make_shared<LevelDbSnapshot>(db_);  // a newer one: equal contents
  }

 private:
  leveldb::ReadOptions options() const { return checked_reads(snapshot_); }
  leveldb::DB* db_;
  const leveldb::Snapshot* snapshot_;
};

// What LevelDB is given besides the defaults (docs/state.md, "Store"):
// a Bloom filter, so that a read of a key a table does not hold (most
// reads of content-addressed state-map nodes, in most levels) skips that
// table's blocks; a larger block cache; larger memtables and tables, so
// that a block's batch rarely waits for a compaction.
constexpr int kBloomBitsPerKey = 10;
constexpr std::size_t kBlockCacheBytes = std::size_t{64} << 20;
constexpr std::size_t kWriteBufferBytes = std::size_t{16} << 20;
constexpr std::size_t kTableFileBytes = std::size_t{8} << 20;

// The filter and the cache must outlive the database: members declared
// before it are destroyed after it.
struct LevelDbResources {
  std::unique_ptr<const leveldb::FilterPolicy> filter{leveldb::NewBloomFilterPolicy(kBloomBitsPerKey)};
  std::unique_ptr<leveldb::Cache> block_cache{leveldb::NewLRUCache(kBlockCacheBytes)};
};

class LevelDbStore final : public KvStore {
 public:
  LevelDbStore(std::unique_ptr<LevelDbResources> resources, leveldb::DB* db)
      : resources_(std::move(resources)), db_(db) {}

  std::shared_ptr<const KvStore> snapshot() const override { return std::make_shared<LevelDbSnapshot>(db_.get()); }

  Result<std::optional<Bytes>> get(ByteView key) const override {
    std::string value;
    leveldb::Status s = db_->Get(checked_reads(), slice(key), &value);
    if (s.IsNotFound()) return std::optional<Bytes>{};
    if (!s.ok()) return db_error(s);
    return std::optional<Bytes>{Bytes(value.begin(), value.end())};
  }

  Status write(const WriteBatch& batch, bool sync) override {
    leveldb::WriteOptions options;
    options.sync = sync;
    // LevelDB's Write writes the batch's sequence number into the batch's
    // own header (and joins the batches of concurrent writers in a batch of
    // its own): the operations, all WriteBatch shows, stay as they are.
    leveldb::Status s = db_->Write(options, const_cast<leveldb::WriteBatch*>(&batch.leveldb_batch()));
    if (!s.ok()) return db_error(s);
    return {};
  }

  // LevelDB's CompactRange first writes the memtable out as a table and
  // starts a new, empty log; over a range past every key (the store's keys
  // are printable prefixes) it then has no table to compact.
  Status settle() override {
    const std::string past(8, '\xff');
    const leveldb::Slice at(past);
    db_->CompactRange(&at, &at);
    return {};
  }

  Status compact(ByteView begin, ByteView end) override {
    const leveldb::Slice from = slice(begin), to = slice(end);
    db_->CompactRange(&from, &to);
    return {};
  }

  std::size_t level0_tables() const override {
    std::string n;
    if (!db_->GetProperty("leveldb.num-files-at-level0", &n)) return 0;
    return std::strtoull(n.c_str(), nullptr, 10);
  }

  Status scan_from(ByteView prefix, ByteView start,
                   const std::function<bool(ByteView, ByteView)>& visit) const override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(checked_reads()));
    for (it->Seek(slice(first_key(prefix, start))); it->Valid() && has_prefix(view(it->key()), prefix); it->Next())
      if (!visit(view(it->key()), view(it->value()))) break;
    if (!it->status().ok()) return db_error(it->status());
    return {};
  }

 private:
  std::unique_ptr<LevelDbResources> resources_;
  std::unique_ptr<leveldb::DB> db_;
};

}  // namespace

std::uint64_t store_errors() { return g_store_errors.load(std::memory_order_relaxed); }

std::unique_ptr<KvStore> open_memory_store() { return std::make_unique<MemoryStore>(); }

Result<std::unique_ptr<KvStore>> open_leveldb_store(const std::string& path) {
  auto resources = std::make_unique<LevelDbResources>();
  leveldb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.filter_policy = resources->filter.get();
  options.block_cache = resources->block_cache.get();
  options.write_buffer_size = kWriteBufferBytes;
  options.max_file_size = kTableFileBytes;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, path, &db);
  if (!s.ok()) {
    g_store_errors.fetch_add(1, std::memory_order_relaxed);
    if (s.IsCorruption()) return local_error("store-corrupt", s.ToString());
    // LevelDB's lock file: another process has the database open.
    if (s.IsIOError() && s.ToString().rfind("IO error: lock ", 0) == 0) return local_error("store-locked", s.ToString());
    return local_error("store-open-failed", s.ToString());
  }
  return std::unique_ptr<KvStore>(std::make_unique<LevelDbStore>(std::move(resources), db));
}

}  // namespace verity::state
