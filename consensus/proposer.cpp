#include "consensus/proposer.h"

#include <numeric>

namespace verity::consensus {

namespace {

std::vector<std::uint64_t> weights_of(const ValidatorSet& set) {
  std::uint64_t g = 0;
  for (const auto& v : set.validators()) g = std::gcd(g, v.power);
  std::vector<std::uint64_t> w;
  unsigned __int128 sum = 0;
  for (const auto& v : set.validators()) {
    w.push_back(v.power / g);
    sum += v.power / g;
  }
  if (sum <= kMaxProposerPeriod) return w;
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<std::uint64_t>(static_cast<unsigned __int128>(set.validators()[i].power) * kMaxProposerPeriod /
                                      set.total_power());
  return w;
}

}  // namespace

ProposerSchedule::ProposerSchedule(const ValidatorSet& set) : set_(set), weights_(weights_of(set)) {
  const std::size_t n = weights_.size();
  const auto period = static_cast<std::int64_t>(std::accumulate(weights_.begin(), weights_.end(), std::uint64_t{0}));
  // Priorities stay within (-P, P): sums of at most P weights.
  std::vector<std::int64_t> priority(n, 0);
  slots_.reserve(static_cast<std::size_t>(period));
  for (std::int64_t s = 0; s < period; ++s) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < n; ++i) {
      priority[i] += static_cast<std::int64_t>(weights_[i]);
      if (priority[i] > priority[best]) best = i;
    }
    priority[best] -= period;
    slots_.push_back(static_cast<std::uint16_t>(best));
  }
}

}  // namespace verity::consensus
