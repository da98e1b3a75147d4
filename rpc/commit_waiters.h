#pragma once
// Callers waiting for a transaction to commit (send_tx_commit): the server
// feeds it every committed block's receipts; each waiter has a deadline.
// Bounded: a node under a flood of send_tx_commit refuses new waiters
// ("too-many-waiters") rather than growing without limit.
//
// Thread-safe: handlers register and cancel waiters from the RPC handler
// threads, commits arrive on the server's thread; each `done` runs once, on
// whichever thread settled it, outside the lock.

#include <utility>  // before Boost.Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/receipt.h"
#include "core/result.h"

namespace verity::rpc {

class CommitWaiters {
 public:
  using Done = std::function<void(Result<Receipt>)>;
  using Handle = std::uint64_t;
  CommitWaiters(boost::asio::io_context& io, std::size_t max_waiters) : io_(io), max_(max_waiters) {}
  ~CommitWaiters() { cancel_all(); }

  // Calls `done` once: with the receipt when a block commits `id`, with
  // "timeout" after `timeout`, with what cancel() gives, or with
  // "shutting-down". Returns the waiter's handle, or nullopt when it was
  // refused at once ("too-many-waiters", `done` already called).
  std::optional<Handle> wait(const Hash256& id, std::chrono::milliseconds timeout, Done done);
  // Settles a waiter now, if it still waits.
  void cancel(Handle h, Result<Receipt> r);
  void on_committed(const std::vector<Receipt>& receipts);
  void cancel_all();
  std::size_t size() const;
  bool full() const { return size() >= max_; }

 private:
  struct Waiter {
    Waiter(boost::asio::io_context& io, const Hash256& id) : id(id), timer(io) {}
    Hash256 id;
    boost::asio::steady_timer timer;
    Done done;
  };
  // Removes the waiter (under mu_) and returns its `done` to call outside it.
  Done take(Handle h);

  boost::asio::io_context& io_;
  std::size_t max_;
  mutable std::mutex mu_;
  Handle next_ = 0;
  std::map<Handle, std::shared_ptr<Waiter>> waiters_;
  std::multimap<Hash256, Handle> by_id_;
};

}  // namespace verity::rpc
