#include "node/clock.h"

#include <utility>  // before Boost.Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace verity::node {

void ClockTimer::arm_at(Clock::TimePoint at, Clock::Callback fn) {
  cancel();
  id_ = clock_->schedule(at, [this, fn = std::move(fn)] {
    id_.reset();  // before fn, which may arm it again
    fn();
  });
}

void ClockTimer::cancel() {
  if (id_) clock_->cancel(*id_);
  id_.reset();
}

struct AsioClock::Timers {
  std::uint64_t next = 1;
  std::map<TimerId, std::unique_ptr<boost::asio::steady_timer>> live;
};

AsioClock::AsioClock(boost::asio::io_context& io) : io_(io), timers_(std::make_shared<Timers>()) {}

AsioClock::~AsioClock() {
  for (auto& [id, t] : timers_->live) t->cancel();
  timers_->live.clear();
}

Clock::TimerId AsioClock::schedule(TimePoint at, Callback fn) {
  const TimerId id = timers_->next++;
  auto timer = std::make_unique<boost::asio::steady_timer>(io_, at);
  timer->async_wait([timers = std::weak_ptr<Timers>(timers_), id, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled
    auto t = timers.lock();
    if (!t) return;
    auto it = t->live.find(id);
    if (it == t->live.end()) return;  // cancelled after it expired, before this ran
    t->live.erase(it);
    fn();
  });
  timers_->live.emplace(id, std::move(timer));
  return id;
}

void AsioClock::cancel(TimerId id) {
  auto it = timers_->live.find(id);
  if (it == timers_->live.end()) return;
  it->second->cancel();
  timers_->live.erase(it);
}

void AsioClock::post(Callback fn) { boost::asio::post(io_, std::move(fn)); }

}  // namespace verity::node
