#pragma once
// The node's clock and event loop, as a seam: what Node reads the time
// from and sets its timers on. Production: AsioClock (steady_clock, asio
// timers on the consensus thread's io_context). The node simulation
// (tests/node/node_simulation.cpp) puts one simulated clock and one seeded
// event loop under four nodes.
//
// What an implementation must provide (docs/node.md, "Seams"):
//   - now(): a monotonic time point (steady_clock's type, so durations and
//     comparisons read the same); system_now(): the wall clock, for block
//     timestamps only;
//   - schedule(at, fn): fn runs once, on the node's (consensus) thread, no
//     sooner than `at` (at or before now(): as soon as possible, after what
//     already waits), unless cancel(id) came first; cancel of a timer that
//     ran or was cancelled does nothing; schedule and cancel are called on
//     the node's thread only;
//   - post(fn): fn runs on the node's thread as soon as possible, after
//     what was posted before; callable from ANY thread (the verify pool and
//     the RPC handlers hand work to the consensus thread through it).
// Callbacks never run inside schedule(), cancel() or post().

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace boost::asio {
class io_context;
}

namespace verity::node {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Callback = std::function<void()>;
  using TimerId = std::uint64_t;

  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  virtual std::chrono::system_clock::time_point system_now() const = 0;
  virtual TimerId schedule(TimePoint at, Callback fn) = 0;
  virtual void cancel(TimerId id) = 0;
  virtual void post(Callback fn) = 0;
};

// One re-armable timer on a Clock, like an asio steady_timer: arming it
// again cancels what it was set to do. Use on the node's thread.
class ClockTimer {
 public:
  explicit ClockTimer(Clock& clock) : clock_(&clock) {}
  ~ClockTimer() { cancel(); }
  ClockTimer(const ClockTimer&) = delete;
  ClockTimer& operator=(const ClockTimer&) = delete;

  void arm_at(Clock::TimePoint at, Clock::Callback fn);
  void arm_after(std::chrono::milliseconds delay, Clock::Callback fn) { arm_at(clock_->now() + delay, std::move(fn)); }
  void cancel();
  bool armed() const { return id_.has_value(); }

 private:
  Clock* clock_;
  std::optional<Clock::TimerId> id_;
};

// steady_clock and system_clock; timers are asio steady_timers on `io`,
// whose run() thread is the node's thread.
class AsioClock final : public Clock {
 public:
  explicit AsioClock(boost::asio::io_context& io);
  ~AsioClock() override;
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point system_now() const override { return std::chrono::system_clock::now(); }
  TimerId schedule(TimePoint at, Callback fn) override;
  void cancel(TimerId id) override;
  void post(Callback fn) override;

 private:
  struct Timers;
  boost::asio::io_context& io_;
  std::shared_ptr<Timers> timers_;  // shared with pending handlers: they may outlive this
};

}  // namespace verity::node
