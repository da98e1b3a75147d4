#pragma once
// The key-value store under the ledger: one LevelDB database per node data
// directory, or an in-memory map for tests. Both behave the same:
//
//  - keys and values are byte strings; iteration is in ascending byte order;
//  - write() applies a whole WriteBatch atomically: after a crash either
//    every operation of the batch is there or none is (LevelDB's log makes
//    that so; with sync=true the batch is on disk when write() returns);
//  - every failure is returned as a local-fault Status, never thrown.
//
// A store may be read from several threads; writes must be serialised by
// the caller (the node has one writer: block commit).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <leveldb/write_batch.h>

#include "core/bytes.h"
#include "core/result.h"

namespace verity::state {

// Bytes as LevelDB takes and gives them, and back (no copy).
namespace leveldb_bytes {
inline leveldb::Slice slice(ByteView v) { return {reinterpret_cast<const char*>(v.data()), v.size()}; }
inline ByteView view(const leveldb::Slice& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }
}  // namespace leveldb_bytes

// Operations in one flat buffer, LevelDB's own (no allocation per
// operation, and no copy on the way into LevelDB: a block's batch holds
// thousands of state-map pages, megabytes).
class WriteBatch {
 public:
  void put(ByteView key, ByteView value) {
    rep_.Put(leveldb_bytes::slice(key), leveldb_bytes::slice(value));
    ++count_;
  }
  void erase(ByteView key) {
    rep_.Delete(leveldb_bytes::slice(key));
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  // Calls visit(key, value) for each operation in the order they were
  // added, value being nullptr for an erase; a later operation on a key wins.
  template <class F>
  void for_each(F&& visit) const {
    struct Visitor final : leveldb::WriteBatch::Handler {
      explicit Visitor(F& f) : f(f) {}
      void Put(const leveldb::Slice& key, const leveldb::Slice& value) override {
        const ByteView v = leveldb_bytes::view(value);
        f(leveldb_bytes::view(key), &v);
      }
      void Delete(const leveldb::Slice& key) override {
        f(leveldb_bytes::view(key), static_cast<const ByteView*>(nullptr));
      }
      F& f;
    } visitor(visit);
    (void)rep_.Iterate(&visitor);  // only this class wrote rep_: it parses
  }
  const leveldb::WriteBatch& leveldb_batch() const { return rep_; }

 private:
  leveldb::WriteBatch rep_;
  std::size_t count_ = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // nullopt when absent.
  virtual Result<std::optional<Bytes>> get(ByteView key) const = 0;
  virtual Status write(const WriteBatch& batch, bool sync) = 0;
  // Calls visit for each key starting with prefix, ascending, until visit
  // returns false.
  Status scan(ByteView prefix, const std::function<bool(ByteView key, ByteView value)>& visit) const {
    return scan_from(prefix, prefix, visit);
  }
  // The same from the first key at or after `start` (a key below the
  // prefix starts at the prefix): a page of a long range without reading
  // the pages before it.
  virtual Status scan_from(ByteView prefix, ByteView start,
                           const std::function<bool(ByteView key, ByteView value)>& visit) const = 0;
  // A read-only view of the store as it is now: later writes do not show
  // in it (LevelDB's snapshot; the memory store copies itself). Any thread
  // may read it while the writer goes on; it must not outlive the store.
  // write() on it fails.
  virtual std::shared_ptr<const KvStore> snapshot() const = 0;
  // Moves what the store holds only in memory and in its write-ahead log
  // into its tables, so that the next open has no log to replay (LevelDB
  // replays it on open: seconds after a bulk load such as a state sync's
  // restore). Nothing changes for readers.
  virtual Status settle() { return {}; }
  // Tables in LevelDB's first level, not yet merged into the levels below
  // (0 for the memory store). From 4 a compaction is due; at 8 LevelDB
  // delays each write by 1 ms and at 12 it stops writes until the
  // compaction catches up.
  virtual std::size_t level0_tables() const { return 0; }
  // Merges the keys in [begin, end) down through the store's levels now,
  // so that deleted keys in that range leave the disk (LevelDB's
  // CompactRange; nothing for the memory store). Blocks the caller, not
  // the writers.
  virtual Status compact(ByteView begin, ByteView end) {
    (void)begin;
    (void)end;
    return {};
  }
};

std::unique_ptr<KvStore> open_memory_store();

// Failed LevelDB reads, writes and opens in this process so far (for
// /metrics).
std::uint64_t store_errors();

// Creates the database if missing. Reasons: "store-locked" (another
// process has it open), "store-corrupt" (LevelDB found damaged files),
// "store-open-failed" (anything else); the detail is LevelDB's message.
Result<std::unique_ptr<KvStore>> open_leveldb_store(const std::string& path);

}  // namespace verity::state
