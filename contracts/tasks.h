#pragma once
// Tasks: the market for verifiable compute. Pure functions of (state,
// block context, transaction): no clock, no randomness, ordered iteration
// only. docs/contracts.md ("Tasks") has the rules and the reasons.
//
// Workers. `register_worker` bonds a worker stake (at least
// min_worker_stake) from the balance; a second call adds to it.
// `unregister_worker` stops new assignments and starts unbonding the whole
// stake; `withdraw` pays it after unbonding_blocks. Unbonding stake can
// still be slashed for tasks the worker served.
//
// A task goes through rounds. A round asks `replicas` workers for the
// result: it waits for workers, is assigned at the start of a block
// (begin-block), collects commitments until its commit deadline and reveals
// until its reveal deadline, and is settled at the end of a block
// (end-block) once every committed worker has revealed (and every assigned
// one committed or the commit deadline passed), or at the reveal deadline.
// Rounds: the first; one retry on fresh workers when the first ends
// without a result (no-commitments: no assigned worker committed;
// no-majority: commitments, but no result revealed by more than half);
// and audits, paid by anyone while the settled result's rewards
// are locked.
//
// Files: the records, their keys and the queries are task_records.h; the
// weighted draw is task_assignment.h (pure); rounds (opening, assignment,
// settlement) and the block hooks are task_settlement.h; this file is the
// transactions. Including it includes the other three.

#include <vector>

#include "contracts/module_meter.h"
#include "contracts/task_assignment.h"
#include "contracts/task_records.h"
#include "contracts/task_settlement.h"
#include "core/receipt.h"
#include "core/transaction.h"
#include "state/application.h"

namespace verity::contracts {

// --- transactions ---------------------------------------------------------------------------
// The checks of submit_task that need no state (the module's presence,
// replicas, reward, fuel and windows), in the contract's order: the
// mempool runs them too, so that terms the contract would refuse never
// reach a block. Reasons: module-and-hash, missing-module, bad-replicas,
// zero-amount, bad-fuel (0, or above max_task_fuel), bad-deadlines (a window
// of 0, windows above max_task_blocks, or a commit window shorter than
// task_commit_blocks_needed(fuel, reference_fuel_per_block)).
Status check_task_terms(const ProtocolParams& params, const SubmitTask& p);
Status register_worker(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                       const RegisterWorker& p, std::vector<Event>& events);
Status unregister_worker(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                         std::vector<Event>& events);
// Pays the sender's unbonded worker stake if its period has passed; returns
// what it paid (0 when nothing). Part of `withdraw`.
Result<Amount> withdraw_worker_stake(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                                     std::vector<Event>& events);
// The last outcome a reveal may carry: 6, forbidden-import (worker/sandbox.h).
inline constexpr std::uint64_t kLastTaskOutcome = 6;

Status submit_task(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, const SubmitTask& p,
                   std::vector<Event>& events,
                   const ModuleMeter* meter = nullptr);
Status commit_result(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                     const CommitResult& p, std::vector<Event>& events);
Status reveal_result(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                     const RevealResult& p, std::vector<Event>& events);
Status request_audit(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                     const RequestAudit& p, std::vector<Event>& events);

}  // namespace verity::contracts
