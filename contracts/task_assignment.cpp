#include "contracts/task_assignment.h"

#include <algorithm>

#include "core/encoding.h"

namespace verity::contracts {

using u128 = unsigned __int128;

Hash256 assignment_seed(const Hash256& last_commit_hash, std::uint64_t task_id, std::uint64_t round_number) {
  Writer w;
  w.fixed(last_commit_hash);
  w.varint(task_id);
  w.varint(round_number);
  return tagged_hash(Domain::task_assignment, w.data());
}

std::vector<PublicKey> draw_workers(const Hash256& seed, std::vector<Candidate> candidates, std::size_t count) {
  std::vector<PublicKey> out;
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(), [](const Candidate& c) { return c.weight == 0; }),
                   candidates.end());
  for (std::uint64_t draw = 0; out.size() < count && !candidates.empty(); ++draw) {
    u128 total = 0;
    for (const auto& c : candidates) total += c.weight;  // stake < 2^64, factor < 2^21: no overflow for < 2^43 workers
    Writer w;
    w.fixed(seed);
    w.varint(draw);
    Hash256 h = tagged_hash(Domain::task_assignment, w.data());
    u128 x = 0;
    for (int i = 0; i < 16; ++i) x = x << 8 | h.data[i];
    x %= total;  // bias below total / 2^128: negligible
    std::size_t pick = 0;
    while (x >= candidates[pick].weight) x -= candidates[pick++].weight;
    out.push_back(candidates[pick].key);
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(pick));
  }
  return out;
}

}  // namespace verity::contracts
