#include "node/admission.h"

#include <boost/asio/post.hpp>
#include <condition_variable>
#include <cerrno>
#include <sys/resource.h>
#include <unistd.h>
#include <thread>

#include "node/mempool.h"

namespace verity::node {

bool RecentIds::contains(const Hash256& id) const {
  std::lock_guard lock(mu_);
  return ids_.count(id) != 0;
}

void RecentIds::erase(const Hash256& id) {
  std::lock_guard lock(mu_);
  ids_.erase(id);  // its place in order_ goes when it comes up
}

bool RecentIds::insert(const Hash256& id) {
  if (capacity_ == 0) return true;
  std::lock_guard lock(mu_);
  if (!ids_.insert(id).second) return false;
  order_.push_back(id);
  while (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

TxPrecheck::TxPrecheck(std::string chain_id, ProtocolParams params, std::size_t pool_max_bytes,
                       const contracts::ModuleMeter& meter, std::size_t cache_ids)
    : chain_id_(std::move(chain_id)),
      params_(std::move(params)),
      pool_max_bytes_(pool_max_bytes),
      meter_(meter),
      good_signatures_(cache_ids),
      bad_signatures_(cache_ids),
      claimed_(cache_ids) {}

Result<Hash256> TxPrecheck::check(const Transaction& tx, ByteView encoded, bool from_peer) {
  auto id = Mempool::check_stateless(tx, encoded, chain_id_, params_, pool_max_bytes_);
  if (!id) return id.error();
  if (bad_signatures_.contains(*id)) {
    counters_.signatures_skipped++;
    return make_error("bad-signature", "failed before");
  }
  if (from_peer && !claimed_.insert(*id)) {
    counters_.duplicates++;
    return make_error("tx-known", "already received");
  }
  if (good_signatures_.contains(*id)) {
    counters_.signatures_skipped++;
  } else {
    counters_.signatures_checked++;
    if (!tx.verify_signature()) {
      bad_signatures_.insert(*id);
      return make_error("bad-signature");
    }
    good_signatures_.insert(*id);
  }
  if (!from_peer) claimed_.insert(*id);  // a peer's copy claimed it above
  if (const auto* task = std::get_if<SubmitTask>(&tx.payload); task && !task->module.bytes.empty())
    counters_.modules_checked++;
  if (auto m = check_module(tx); !m) return m.error();
  return id;
}

// A task's module is checked before it can reach a block, so that a module
// no worker may run (a forbidden import, an invalid module) is refused to
// the submitter with the reason, not failed in a block where it pays the
// fee. The contract checks it again (the same meter, whose cache makes that
// free), so a proposer cannot slip one in.
Status TxPrecheck::check_module(const Transaction& tx) const {
  if (const auto* task = std::get_if<SubmitTask>(&tx.payload); task && !task->module.bytes.empty())
    if (auto m = meter_.metered_hash(task->module.bytes, params_.metering_version); !m)
      return make_error(m.error().reason, "the task's module: " + m.error().detail);
  return {};
}

Result<Hash256> TxPrecheck::check_uncached(const Transaction& tx, bool check_signature) const {
  auto id = Mempool::check_stateless(tx, encode(tx), chain_id_, params_, pool_max_bytes_);
  if (!id) return id.error();
  if (check_signature && !tx.verify_signature()) return make_error("bad-signature");
  if (auto m = check_module(tx); !m) return m.error();
  return id;
}

void ClientLimiter::refill(Bucket& b, std::chrono::steady_clock::time_point now) const {
  const double seconds = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(config_.burst, b.tokens + seconds * config_.refill_per_second);
  b.at = now;
}

bool ClientLimiter::allow(const std::string& client) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) return true;
  refill(it->second, std::chrono::steady_clock::now());
  if (it->second.tokens >= 1) return true;
  ++limited_;
  return false;
}

void ClientLimiter::refused(const std::string& client, const std::string& reason) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  ++refused_[reason];
  auto [it, fresh] = buckets_.try_emplace(client, Bucket{config_.burst, now});
  if (fresh) {
    order_.push_back(client);
    while (order_.size() > config_.max_clients) {
      buckets_.erase(order_.front());
      order_.pop_front();
    }
  }
  refill(it->second, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1);
}

std::uint64_t ClientLimiter::limited() const {
  std::lock_guard lock(mu_);
  return limited_;
}

std::map<std::string, std::uint64_t> ClientLimiter::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

std::vector<bool> verify_signatures(const std::vector<const Transaction*>& txs, boost::asio::thread_pool& pool) {
  const std::size_t n = txs.size();
  std::vector<char> ok(n, 0);  // not vector<bool>: each thread writes its own bytes
  if (n > 0) {
    // Work is taken in chunks from a shared counter by the pool's threads
    // and by this one; this thread returns once every chunk is done.
    constexpr std::size_t kChunk = 32;
    struct Shared {
      std::atomic<std::size_t> next{0};
      std::size_t done = 0;  // chunks finished, under mu
      std::mutex mu;
      std::condition_variable cv;
    };
    auto shared = std::make_shared<Shared>();
    const std::size_t chunks = (n + kChunk - 1) / kChunk;
    auto work = [shared, &txs, &ok, n, chunks] {
      for (;;) {
        const std::size_t c = shared->next.fetch_add(1);
        if (c >= chunks) return;
        for (std::size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i)
          ok[i] = txs[i]->verify_signature() ? 1 : 0;
        std::lock_guard lock(shared->mu);
        if (++shared->done == chunks) shared->cv.notify_all();
      }
    };
    // A helper that starts after every chunk is taken returns at once
    // without touching txs or ok (they may be gone by then).
    const std::size_t helpers = std::min<std::size_t>(pool_threads(), chunks) - 1;
    for (std::size_t h = 0; h < helpers; ++h) boost::asio::post(pool, work);
    work();
    std::unique_lock lock(shared->mu);
    shared->cv.wait(lock, [&] { return shared->done == chunks; });
  }
  return std::vector<bool>(ok.begin(), ok.end());
}

bool blameable(const std::string& reason) {
  return reason == "bad-signature" || reason == "wrong-chain-id" || reason == "malformed-tx" ||
         reason == "tx-too-large";
}

std::unique_ptr<boost::asio::thread_pool> make_background_pool(std::size_t threads, int nice) {
  auto pool = std::make_unique<boost::asio::thread_pool>(threads);
  // One job per thread: each lowers its own thread's priority, then waits
  // until all have started, so that no thread runs two of them.
  struct Start {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t started = 0;
  };
  auto start = std::make_shared<Start>();
  for (std::size_t i = 0; i < threads; ++i)
    boost::asio::post(*pool, [start, threads, nice] {
      errno = 0;
      (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);  // best effort
      std::unique_lock lock(start->mu);
      if (++start->started == threads) start->cv.notify_all();
      start->cv.wait(lock, [&] { return start->started == threads; });
    });
  std::unique_lock lock(start->mu);
  start->cv.wait(lock, [&] { return start->started == threads; });
  return pool;
}

// hardware_concurrency() reads /sys on every call, and verify_signatures()
// asks for every block.
std::size_t pool_threads() {
  static const std::size_t n = std::max<std::size_t>(2, std::thread::hardware_concurrency());
  return n;
}

}  // namespace verity::node
