#pragma once
// What the benchmarks share: a monotonic clock and seconds since a point.

#include <chrono>

namespace verity::bench {

using Clock = std::chrono::steady_clock;

// Seconds from `t` to now.
inline double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace verity::bench
