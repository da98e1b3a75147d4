#pragma once
// Callers waiting for a transaction to commit (send_tx_commit): the server
// feeds it every committed block's receipts; each waiter has a deadline.
// Bounded: a node under a flood of send_tx_commit refuses new waiters
// ("too-many-waiters") rather than growing without limit.

#include <utility>  // before Boost.Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "core/receipt.h"
#include "core/result.h"

namespace verity::rpc {

class CommitWaiters {
 public:
  using Done = std::function<void(Result<Receipt>)>;
  CommitWaiters(boost::asio::io_context& io, std::size_t max_waiters) : io_(io), max_(max_waiters) {}
  ~CommitWaiters() { cancel_all(); }

  // Calls `done` once: with the receipt when a block commits `id`, with
  // "timeout" after `timeout`, or with "shutting-down".
  void wait(const Hash256& id, std::chrono::milliseconds timeout, Done done);
  void on_committed(const std::vector<Receipt>& receipts);
  void cancel_all();
  std::size_t size() const { return waiters_.size(); }
  bool full() const { return waiters_.size() >= max_; }

 private:
  struct Waiter {
    explicit Waiter(boost::asio::io_context& io) : timer(io) {}
    boost::asio::steady_timer timer;
    Done done;
  };
  void finish(std::multimap<Hash256, std::shared_ptr<Waiter>>::iterator it, Result<Receipt> r);

  boost::asio::io_context& io_;
  std::size_t max_;
  std::multimap<Hash256, std::shared_ptr<Waiter>> waiters_;
};

}  // namespace verity::rpc
