#include "rpc/commit_waiters.h"

namespace verity::rpc {

std::optional<CommitWaiters::Handle> CommitWaiters::wait(const Hash256& id, std::chrono::milliseconds timeout,
                                                         Done done) {
  std::unique_lock lock(mu_);
  if (waiters_.size() >= max_) {
    lock.unlock();
    done(make_error("too-many-waiters",
                    std::to_string(max_) + " calls are already waiting for commits; use send_tx and poll tx"));
    return std::nullopt;
  }
  const Handle h = ++next_;
  auto w = std::make_shared<Waiter>(io_, id);
  w->done = std::move(done);
  waiters_.emplace(h, w);
  by_id_.emplace(id, h);
  w->timer.expires_after(timeout);
  w->timer.async_wait([this, h, timeout](const boost::system::error_code& ec) {
    if (ec) return;
    Done d;
    {
      std::lock_guard lock(mu_);
      d = take(h);
    }
    if (d)
      d(make_error("timeout", "not committed within " + std::to_string(timeout.count()) +
                                  " ms; it may still commit: ask for it with the tx method"));
  });
  return h;
}

CommitWaiters::Done CommitWaiters::take(Handle h) {
  auto it = waiters_.find(h);
  if (it == waiters_.end()) return nullptr;
  auto w = it->second;
  waiters_.erase(it);
  for (auto [lo, hi] = by_id_.equal_range(w->id); lo != hi; ++lo)
    if (lo->second == h) {
      by_id_.erase(lo);
      break;
    }
  w->timer.cancel();
  return std::move(w->done);
}

void CommitWaiters::cancel(Handle h, Result<Receipt> r) {
  Done d;
  {
    std::lock_guard lock(mu_);
    d = take(h);
  }
  if (d) d(std::move(r));
}

void CommitWaiters::on_committed(const std::vector<Receipt>& receipts) {
  std::vector<std::pair<Done, const Receipt*>> ready;
  {
    std::lock_guard lock(mu_);
    if (waiters_.empty()) return;
    for (const auto& r : receipts) {
      std::vector<Handle> hs;
      for (auto [lo, hi] = by_id_.equal_range(r.tx_id); lo != hi; ++lo) hs.push_back(lo->second);
      for (Handle h : hs)
        if (Done d = take(h)) ready.emplace_back(std::move(d), &r);
    }
  }
  for (auto& [d, r] : ready) d(*r);
}

void CommitWaiters::cancel_all() {
  std::vector<Done> all;
  {
    std::lock_guard lock(mu_);
    while (!waiters_.empty())
      if (Done d = take(waiters_.begin()->first)) all.push_back(std::move(d));
  }
  for (auto& d : all) d(make_error("shutting-down", "the node is stopping"));
}

std::size_t CommitWaiters::size() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

}  // namespace verity::rpc
