#include "node/workers.h"

#include <utility>  // before Boost.Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "node/admission.h"

namespace verity::node {

namespace {

class StrandQueue final : public Workers::Queue {
 public:
  explicit StrandQueue(boost::asio::thread_pool& pool) : strand_(boost::asio::make_strand(pool)) {}
  void post(std::function<void()> job) override { boost::asio::post(strand_, std::move(job)); }

 private:
  boost::asio::strand<boost::asio::thread_pool::executor_type> strand_;
};

class InlineQueue final : public Workers::Queue {
 public:
  explicit InlineQueue(const bool& stopped) : stopped_(stopped) {}
  void post(std::function<void()> job) override {
    if (!stopped_) job();
  }

 private:
  const bool& stopped_;
};

}  // namespace

PoolWorkers::PoolWorkers(std::size_t threads, int nice) : pool_(make_background_pool(threads, nice)) {}

PoolWorkers::~PoolWorkers() { stop(); }

std::unique_ptr<Workers::Queue> PoolWorkers::make_queue() { return std::make_unique<StrandQueue>(*pool_); }

std::vector<bool> PoolWorkers::verify_signatures(const std::vector<const Transaction*>& txs) {
  return node::verify_signatures(txs, *pool_);
}

void PoolWorkers::stop() {
  pool_->stop();
  pool_->join();
}

std::unique_ptr<Workers::Queue> InlineWorkers::make_queue() { return std::make_unique<InlineQueue>(stopped_); }

std::vector<bool> InlineWorkers::verify_signatures(const std::vector<const Transaction*>& txs) {
  std::vector<bool> ok;
  ok.reserve(txs.size());
  for (const auto* tx : txs) ok.push_back(tx->verify_signature());
  return ok;
}

}  // namespace verity::node
