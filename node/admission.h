#pragma once
// The checks a transaction passes before it reaches the consensus thread,
// and the parallel signature checks of blocks (docs/node.md, "Threads").
//
// A transaction from a client or a peer is checked here on the thread that
// received it (an RPC handler thread, or the verify pool for peers),
// cheapest first, so that junk costs little and never costs the consensus
// thread anything:
//
//   1. size and decoding, chain id, minimum fee, a task's terms
//      (Mempool::check_stateless: no state);
//   2. the seen caches: an id whose signature failed before is refused at
//      once; one whose signature passed is not checked again; from a peer,
//      an id already claimed (on its way from another peer, admitted,
//      committed) is dropped as "tx-known" without further work: an id
//      hashes the whole encoding, signature included, so a copy can only
//      get the same answer;
//   3. the BIP-340 signature;
//   4. a submit_task's module: admitted and metered (contracts::ModuleMeter),
//      at most once per module hash, however many threads ask at once.
//
// Then the consensus thread runs the stateful checks (Mempool::add with the
// signature known good): nonce, balance, room.
//
// Everything here is thread-safe.

#include <utility>  // before Boost.Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_set>
#include <string>
#include <vector>

#include "contracts/module_meter.h"
#include "core/params.h"
#include "core/transaction.h"
#include "node/mempool.h"

namespace verity::node {

// A bounded set of ids, oldest forgotten first. Thread-safe.
class RecentIds {
 public:
  explicit RecentIds(std::size_t capacity) : capacity_(capacity) { ids_.reserve(capacity + 1); }
  bool contains(const Hash256& id) const;
  // False when it was there already.
  bool insert(const Hash256& id);
  void erase(const Hash256& id);

 private:
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_set<Hash256, IdHash> ids_;
  std::deque<Hash256> order_;
};

struct PrecheckCounters {
  std::atomic<std::uint64_t> signatures_checked{0};
  std::atomic<std::uint64_t> signatures_skipped{0};  // a seen cache answered
  std::atomic<std::uint64_t> duplicates{0};          // copies from peers dropped (claimed already)
  std::atomic<std::uint64_t> modules_checked{0};
};

class TxPrecheck {
 public:
  TxPrecheck(std::string chain_id, ProtocolParams params, std::size_t pool_max_bytes, const contracts::ModuleMeter& meter,
             std::size_t cache_ids = 100'000);

  // Steps 1-4 above. `encoded` is encode(tx) (a peer's frame body, or the
  // client's transaction encoded once). Returns the transaction's id, or
  // the mempool's reason: tx-too-large, malformed-tx, wrong-chain-id,
  // fee-too-low, the task terms' reasons, bad-signature, and a module's
  // admission reason (bad-module and the sandbox's).
  Result<Hash256> check(const Transaction& tx, ByteView encoded, bool from_peer = false);
  // Steps 1, 3 (when `check_signature`) and 4, without the caches and
  // counters: the same refusals for `simulate`, which changes nothing here.
  Result<Hash256> check_uncached(const Transaction& tx, bool check_signature) const;
  const PrecheckCounters& counters() const { return counters_; }
  // The consensus thread's answers: an id the mempool refused for a reason
  // a later copy might not meet (a nonce race, a full pool) is released, so
  // that copy is checked and offered again; the ids of a committed block's
  // transactions are claimed, so late copies cost nothing. A signature a
  // block check verified is remembered, but its id is not claimed: the
  // block may not commit, and then the pool still needs a copy.
  void release(const Hash256& id) { claimed_.erase(id); }
  void claim(const Hash256& id) { claimed_.insert(id); }
  void verified(const Hash256& id) { good_signatures_.insert(id); }
  // Whether the signature of the transaction with this id was checked
  // good, here or by a block check: a block check skips it. Under load the
  // ids checked here wait in the queue to the consensus thread, not yet in
  // the mempool, when a block carrying them arrives; checking them again
  // there cost a third of the signature work (bench/node_load, perf).
  bool signature_known_good(const Hash256& id) const { return good_signatures_.contains(id); }

 private:
  std::string chain_id_;
  ProtocolParams params_;
  std::size_t pool_max_bytes_;
  const contracts::ModuleMeter& meter_;
  // Step 4: a submit_task's module, admitted and metered.
  Status check_module(const Transaction& tx) const;
  RecentIds good_signatures_;
  RecentIds bad_signatures_;
  RecentIds claimed_;
  PrecheckCounters counters_;
};

// Clients (keyed by their address) that keep sending transactions the
// checks above refuse are refused for a while without any check: each
// refusal takes a token from the client's bucket (burst tokens, refilled at
// refill_per_second); a client with no token left is limited. Thread-safe.
// At most max_clients are tracked (the oldest is forgotten first).
class ClientLimiter {
 public:
  struct Config {
    double burst = 50;
    double refill_per_second = 5;
    std::size_t max_clients = 10'000;
  };
  ClientLimiter() : ClientLimiter(Config{}) {}
  explicit ClientLimiter(Config config) : config_(config) {}

  // Whether `client` may submit now (false: refuse with "rate-limited").
  bool allow(const std::string& client);
  // Records a refusal of the checks above (reason for /metrics).
  void refused(const std::string& client, const std::string& reason);
  std::uint64_t limited() const;
  std::map<std::string, std::uint64_t> refused() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at;
  };
  void refill(Bucket& b, std::chrono::steady_clock::time_point now) const;
  Config config_;
  mutable std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
  std::deque<std::string> order_;
  std::uint64_t limited_ = 0;
  std::map<std::string, std::uint64_t> refused_;
};

// Whether each transaction's signature verifies, checked on `pool` and on
// the calling thread together (so the caller never waits behind the pool's
// other work for longer than the checks would take it alone). The answer
// is the same as checking them one by one.
std::vector<bool> verify_signatures(const std::vector<const Transaction*>& txs, boost::asio::thread_pool& pool);

// Reasons for which the sender of a transaction can be blamed: a peer
// relays only transactions that passed them, so a peer that sends one
// misbehaves (docs/mempool.md).
bool blameable(const std::string& reason);

// How many threads the verify pool and the RPC handler pool get: the
// machine's cores (at least 2).
std::size_t pool_threads();

// A pool of `threads` threads whose scheduling priority is lowered by
// `nice` (Linux nice values are per thread): on a machine short of CPU the
// consensus thread, at the default priority, runs before the pools' work
// (checking a backlog of transactions, answering RPC calls), so a flood
// slows admission and answers, never consensus.
std::unique_ptr<boost::asio::thread_pool> make_background_pool(std::size_t threads, int nice);

}  // namespace verity::node
