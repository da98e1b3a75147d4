#pragma once
// The task market's rounds (docs/contracts.md, "Rounds"): a round is opened
// by a submission, a retry or an audit, waits for workers, is assigned at a
// begin-block by the weighted draw (task_assignment.h), and is settled at an
// end-block once complete. Pure functions of (state, block context).

#include <vector>

#include "contracts/task_records.h"
#include "core/block.h"
#include "state/application.h"

namespace verity::contracts {

// Opens a round of `kind` for `t` (stored by the caller), with `escrow`
// already taken from `payer`; it waits for workers from the next
// begin-block on.
Status open_round(state::StateOverlay& s, const state::BlockContext& ctx, TaskRecord& t, RoundKind kind,
                  const PublicKey& payer, Amount escrow);

// stake x (kReputationMax + reputation): reputation counts as a fraction
// from 0 to 1 added to 1, so a worker at the maximum weighs twice its stake
// and a newcomer can still be drawn.
unsigned __int128 worker_weight(const WorkerRecord& w);

// --- block hooks -------------------------------------------------------------------------
// Assigns waiting rounds, seeded by the hash of the block's last_commit.
Status begin_block_tasks(state::StateOverlay& s, const state::BlockContext& ctx, const CommitCertificate& last_commit,
                         std::vector<Event>& block_events);
// Settles rounds that are complete or past their reveal deadline; decays
// worker reputation at epoch boundaries.
Status end_block_tasks(state::StateOverlay& s, const state::BlockContext& ctx, std::vector<Event>& block_events);

}  // namespace verity::contracts
