#pragma once
// The task market's weighted draw of workers (docs/contracts.md, "Rounds"):
// pure functions of their arguments, so that they can be tested on their
// own and matched by a second implementation byte for byte.
//
//   seed   = tagged_hash(task-assignment, fixed32 last_commit_hash
//                                         || varint task_id || varint round)
//   draw i = tagged_hash(task-assignment, fixed32 seed || varint i),
//            i = 0, 1, ...; its first 16 bytes, big-endian, as a 128-bit x
//
// Candidates of weight 0 are dropped; for each draw, x modulo the total
// weight of those left picks the candidate at that offset, walking them in
// the order given (ascending keys, as the contract lists them) and
// subtracting each weight; the one picked leaves the list. Draws stop at
// `count` picks or when no candidate is left.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/hash.h"
#include "core/keys.h"

namespace verity::contracts {

struct Candidate {
  PublicKey key;
  unsigned __int128 weight = 0;
};

// `count` distinct workers among `candidates`, as above: fewer when fewer
// have a positive weight.
std::vector<PublicKey> draw_workers(const Hash256& seed, std::vector<Candidate> candidates, std::size_t count);

// The seed of a round's draw: the previous block's commit certificate
// hash, the task id and the round number.
Hash256 assignment_seed(const Hash256& last_commit_hash, std::uint64_t task_id, std::uint64_t round_number);

}  // namespace verity::contracts
