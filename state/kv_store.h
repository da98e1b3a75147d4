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

#include "core/bytes.h"
#include "core/result.h"

namespace verity::state {

// Operations in one flat buffer (no allocation per operation: a block's
// batch holds tens of thousands of state-map nodes).
class WriteBatch {
 public:
  void put(ByteView key, ByteView value) { append(kPut, key, &value); }
  void erase(ByteView key) { append(kErase, key, nullptr); }
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  void reserve(std::size_t bytes) { rep_.reserve(bytes); }
  // Calls visit(key, value) for each operation in the order they were
  // added, value being nullptr for an erase; a later operation on a key wins.
  template <class F>
  void for_each(F&& visit) const {
    std::size_t at = 0;
    while (at < rep_.size()) {
      const std::uint8_t op = rep_[at++];
      const ByteView key = field(at);
      if (op == kPut) {
        const ByteView value = field(at);
        visit(key, &value);
      } else {
        visit(key, static_cast<const ByteView*>(nullptr));
      }
    }
  }

 private:
  static constexpr std::uint8_t kPut = 1, kErase = 2;
  void append(std::uint8_t op, ByteView key, const ByteView* value) {
    rep_.push_back(op);
    append_field(key);
    if (value) append_field(*value);
    ++count_;
  }
  void append_field(ByteView v) {
    append_be(rep_, v.size(), 4);
    rep_.insert(rep_.end(), v.begin(), v.end());
  }
  ByteView field(std::size_t& at) const {
    const std::size_t n = read_be(ByteView(rep_).subspan(at, 4));
    const ByteView v = ByteView(rep_).subspan(at + 4, n);
    at += 4 + n;
    return v;
  }
  Bytes rep_;
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
