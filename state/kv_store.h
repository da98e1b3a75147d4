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

class WriteBatch {
 public:
  void put(ByteView key, ByteView value) {
    ops_.push_back({Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end())});
  }
  void erase(ByteView key) { ops_.push_back({Bytes(key.begin(), key.end()), std::nullopt}); }
  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  // In the order they were added; a later operation on a key wins.
  const std::vector<std::pair<Bytes, std::optional<Bytes>>>& ops() const { return ops_; }

 private:
  std::vector<std::pair<Bytes, std::optional<Bytes>>> ops_;
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
};

std::unique_ptr<KvStore> open_memory_store();

// Creates the database if missing. Reason "store-open-failed" (detail:
// LevelDB's message), e.g. when another process holds the lock.
Result<std::unique_ptr<KvStore>> open_leveldb_store(const std::string& path);

}  // namespace verity::state
