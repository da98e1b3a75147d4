#pragma once
// Double-sign evidence on its way into a block: what this node's engine
// saw, and what peers gossiped, checked against the committed state before
// it is kept (Node::add_evidence). One entry per offence, at most
// kMaxPendingEvidence; a proposer takes at most one per offender (the first
// bans it, so a second in the same block would make the block invalid).

#include <cstddef>
#include <map>
#include <vector>

#include "core/vote.h"

namespace verity::node {

inline constexpr std::size_t kMaxPendingEvidence = 256;

class EvidencePool {
 public:
  // False when the offence is pending already or the pool is full.
  bool add(const DoubleSignEvidence& e);
  bool contains(const Hash256& offence_id) const { return pending_.count(offence_id) != 0; }
  void remove(const Hash256& offence_id) { pending_.erase(offence_id); }
  // Pending evidence by offence id, at most one per offender, at most `max`.
  std::vector<DoubleSignEvidence> select(std::size_t max) const;
  const std::map<Hash256, DoubleSignEvidence>& pending() const { return pending_; }
  std::size_t size() const { return pending_.size(); }

 private:
  std::map<Hash256, DoubleSignEvidence> pending_;  // by offence id
};

}  // namespace verity::node
