#include "node/evidence_pool.h"

#include <set>

namespace verity::node {

bool EvidencePool::add(const DoubleSignEvidence& e) {
  if (pending_.size() >= kMaxPendingEvidence) return false;
  return pending_.emplace(e.offence_id(), e).second;
}

std::vector<DoubleSignEvidence> EvidencePool::select(std::size_t max) const {
  std::vector<DoubleSignEvidence> out;
  std::set<PublicKey> offenders;
  for (const auto& [id, e] : pending_) {
    if (out.size() >= max) break;
    if (offenders.insert(e.validator()).second) out.push_back(e);
  }
  return out;
}

}  // namespace verity::node
