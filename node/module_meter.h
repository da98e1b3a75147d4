#pragma once
// The node's contracts::ModuleMeter: the sandbox's admission and metering
// rewriter (worker/sandbox.h), with a bounded cache keyed by the module's
// hash and the metering version, so a module is checked and rewritten once
// whether it arrives at the mempool, in a proposal or in a synced block.
// Thread-safe: callers asking for a module that another thread is metering
// wait for its answer rather than meter it again (once per hash).

#include <cstdint>
#include <condition_variable>
#include <list>
#include <map>
#include <set>
#include <mutex>
#include <utility>

#include "contracts/module_meter.h"

namespace verity::node {

class SandboxModuleMeter final : public contracts::ModuleMeter {
 public:
  explicit SandboxModuleMeter(std::size_t capacity = 256) : capacity_(capacity) {}
  // The version must be the one this sandbox implements
  // (worker::metering_version()): a chain asking for another cannot have
  // its modules metered here (reason unknown-metering-version).
  Result<Hash256> metered_hash(ByteView module, std::uint64_t version) const override;
  // The instrumented module itself (what a browser worker fetches: RPC
  // `module` with `metered: true`), from a small cache of its own, since
  // every browser worker assigned to a module's tasks fetches it. Metering
  // runs on the caller's thread (an RPC handler's, never consensus').
  Result<Bytes> metered_module(ByteView module, std::uint64_t version) const;
  std::uint64_t computed() const;  // how many rewrites the caches did not save (tests)

 private:
  using Key = std::pair<Hash256, std::uint64_t>;
  // Puts an answer in the hash cache (mu_ held), evicting the oldest.
  void remember_hash(const Key& key, const Result<Hash256>& answer) const;
  std::size_t capacity_;
  mutable std::mutex mu_;
  mutable std::list<Key> order_;  // most recent first
  mutable std::map<Key, std::pair<Result<Hash256>, std::list<Key>::iterator>> cache_;
  mutable std::uint64_t computed_ = 0;
  mutable std::set<Key> computing_;
  mutable std::condition_variable done_;
  static constexpr std::size_t kBytesCapacity = 8;
  mutable std::list<std::pair<Key, Bytes>> bytes_;  // most recent first
};

}  // namespace verity::node
