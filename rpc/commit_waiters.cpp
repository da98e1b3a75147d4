#include "rpc/commit_waiters.h"

namespace verity::rpc {

void CommitWaiters::wait(const Hash256& id, std::chrono::milliseconds timeout, Done done) {
  if (waiters_.size() >= max_) {
    done(make_error("too-many-waiters", std::to_string(max_) + " calls are already waiting for commits; use send_tx and poll tx"));
    return;
  }
  auto w = std::make_shared<Waiter>(io_);
  w->done = std::move(done);
  auto it = waiters_.emplace(id, w);
  w->timer.expires_after(timeout);
  w->timer.async_wait([this, it, weak = std::weak_ptr<Waiter>(w), timeout](const boost::system::error_code& ec) {
    auto alive = weak.lock();
    if (ec || !alive || !alive->done) return;
    finish(it, make_error("timeout", "not committed within " + std::to_string(timeout.count()) +
                                         " ms; it may still commit: ask for it with the tx method"));
  });
}

void CommitWaiters::finish(std::multimap<Hash256, std::shared_ptr<Waiter>>::iterator it, Result<Receipt> r) {
  auto w = it->second;
  waiters_.erase(it);
  w->timer.cancel();
  Done done = std::move(w->done);
  w->done = nullptr;
  done(std::move(r));
}

void CommitWaiters::on_committed(const std::vector<Receipt>& receipts) {
  if (waiters_.empty()) return;
  for (const auto& r : receipts) {
    auto [lo, hi] = waiters_.equal_range(r.tx_id);
    while (lo != hi) finish(lo++, r);
  }
}

void CommitWaiters::cancel_all() {
  while (!waiters_.empty()) finish(waiters_.begin(), make_error("shutting-down", "the node is stopping"));
}

}  // namespace verity::rpc
