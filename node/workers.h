#pragma once
// Where Node runs the work it takes off the consensus thread, as a seam:
// a peer's transaction checks and get_blocks answers (in order per peer),
// and a block's signature checks. Production: PoolWorkers (the verify
// pool, docs/node.md "Threads"). InlineWorkers runs every job on the
// calling thread, at once and in order: the node simulation uses it, so a
// run has no threads and one seed gives one run.
//
// What an implementation must provide (docs/node.md, "Seams"): queues whose
// jobs run one at a time in the order posted (jobs may hand results back
// through Clock::post); verify_signatures with the answer of checking each
// transaction's signature in turn; stop(), after which no job runs.

#include <functional>
#include <memory>
#include <vector>

#include "core/transaction.h"

namespace boost::asio {
class thread_pool;
}

namespace verity::node {

class Workers {
 public:
  class Queue {
   public:
    virtual ~Queue() = default;
    virtual void post(std::function<void()> job) = 0;
  };
  virtual ~Workers() = default;
  virtual std::unique_ptr<Queue> make_queue() = 0;
  // For each transaction, whether its signature verifies.
  virtual std::vector<bool> verify_signatures(const std::vector<const Transaction*>& txs) = 0;
  // Waits for running jobs; none runs after it returns.
  virtual void stop() = 0;
};

// The verify pool: `threads` threads at nice `nice` (make_background_pool);
// a queue is a strand on it; the caller's thread helps check signatures.
class PoolWorkers final : public Workers {
 public:
  PoolWorkers(std::size_t threads, int nice);
  ~PoolWorkers() override;
  std::unique_ptr<Queue> make_queue() override;
  std::vector<bool> verify_signatures(const std::vector<const Transaction*>& txs) override;
  void stop() override;

 private:
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

class InlineWorkers final : public Workers {
 public:
  std::unique_ptr<Queue> make_queue() override;
  std::vector<bool> verify_signatures(const std::vector<const Transaction*>& txs) override;
  void stop() override { stopped_ = true; }

 private:
  bool stopped_ = false;
};

}  // namespace verity::node
