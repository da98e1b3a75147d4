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
// State keys:
//   "wrk/" + key            -> WorkerRecord
//   "wrks"                  -> sorted list of every worker key
//   "mod/" + sha256(module) -> the module's bytes (stored once)
//   "task/" + be64(id)      -> TaskRecord
//   "sys/task_next"         -> the next task id (ids start at 1)
//   "sys/tasks_waiting"     -> ids of tasks whose round waits for workers
//   "sys/tasks_running"     -> ids of tasks whose round is assigned
//   "sys/task_events"       -> the events of the last block's hooks

#include <optional>
#include <vector>

#include "contracts/module_meter.h"
#include "contracts/records.h"
#include "contracts/task_assignment.h"
#include "core/block.h"
#include "core/receipt.h"
#include "core/transaction.h"
#include "state/application.h"

namespace verity::contracts {

struct WorkerRecord {
  PublicKey key;
  Amount stake;                       // bonded; what assignment weighs
  bool active = false;                // false after unregister_worker: no new assignments
  Amount unbonding;                   // stake on its way out
  std::uint64_t unbonding_until = 0;  // withdraw pays `unbonding` from this height
  std::uint64_t reputation = 0;       // ppm, 0 to kReputationMax
  std::uint64_t agreed = 0;           // rounds settled with the majority
  std::uint64_t outvoted = 0;         // rounds where it revealed another result than the majority
  std::uint64_t missed = 0;           // rounds where it did not commit or reveal

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("key", s.key);
    f("stake", s.stake);
    f("active", s.active);
    f("unbonding", s.unbonding);
    f("unbonding_until", s.unbonding_until);
    f("reputation", s.reputation);
    f("agreed", s.agreed);
    f("outvoted", s.outvoted);
    f("missed", s.missed);
  }
  friend bool operator==(const WorkerRecord&, const WorkerRecord&) = default;
};

struct Assignment {
  PublicKey worker;
  bool committed = false;
  Hash256 commitment;
  bool revealed = false;
  Hash256 result_hash;
  std::uint64_t outcome = 0;
  std::uint64_t exit_code = 0;
  std::uint64_t fuel_used = 0;
  Bytes output;

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("worker", s.worker);
    f("committed", s.committed);
    f("commitment", s.commitment);
    f("revealed", s.revealed);
    f("result_hash", s.result_hash);
    f("outcome", s.outcome);
    f("exit_code", s.exit_code);
    f("fuel_used", s.fuel_used);
    f("output", s.output, Max{kMaxTaskIoBytes});
  }
  friend bool operator==(const Assignment&, const Assignment&) = default;
};

enum class RoundKind : std::uint8_t { first = 0, retry = 1, audit = 2 };
const char* round_kind_name(RoundKind k);
// Decoding a round kind: an unknown one fails with "decode-bad-round".
void check_field(Reader& r, RoundKind k);

struct Round {
  RoundKind kind = RoundKind::first;
  PublicKey payer;                    // who paid the escrow: the submitter, or the auditor
  Amount escrow;                      // replicas x reward, paid out at settlement
  std::uint64_t requested_height = 0;
  std::uint64_t assigned_height = 0;  // 0 while waiting for workers
  std::uint64_t commit_deadline = 0;  // commits accepted up to and including this height
  std::uint64_t reveal_deadline = 0;  // reveals accepted up to and including this height
  std::vector<Assignment> assignments;

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("kind", s.kind);
    f("payer", s.payer);
    f("escrow", s.escrow);
    f("requested_height", s.requested_height);
    f("assigned_height", s.assigned_height);
    f("commit_deadline", s.commit_deadline);
    f("reveal_deadline", s.reveal_deadline);
    f("assignments", s.assignments, Max{1'000'000, 100});
  }
  friend bool operator==(const Round&, const Round&) = default;
};

enum class TaskStatus : std::uint8_t { open = 0, settled = 1, failed = 2 };
const char* task_status_name(TaskStatus s);
// Decoding a status: an unknown one fails with "decode-bad-task".
void check_field(Reader& r, TaskStatus s);

struct TaskRecord {
  std::uint64_t id = 0;
  PublicKey submitter;
  Hash256 module_hash;
  Bytes input;
  std::uint64_t replicas = 0;
  Amount reward;  // per agreeing worker
  std::uint64_t fuel = 0;
  std::uint64_t commit_blocks = 0;
  std::uint64_t reveal_blocks = 0;
  std::uint64_t submitted_height = 0;
  Hash256 metered_hash;                // SHA-256 of the instrumented module the workers run (zero without a meter)
  std::uint64_t metering_version = 0;  // params.metering_version when submitted: part of the terms
  TaskStatus status = TaskStatus::open;
  std::optional<Round> round;     // the round in progress
  std::vector<PublicKey> served;  // every worker assigned so far: never drawn again for this task
  // Once settled: the result, and the workers paid for it (their rewards
  // vest at vest_height; an audit that overturns the result claws them back).
  Hash256 result_hash;
  std::uint64_t outcome = 0;
  std::uint64_t exit_code = 0;
  std::uint64_t fuel_used = 0;
  Bytes output;
  std::uint64_t settled_height = 0;
  std::uint64_t vest_height = 0;
  std::vector<PublicKey> majority;
  std::uint64_t audits = 0;  // audits completed
  std::string failure;       // why, when failed: "no-commitments", "no-majority", "no-workers"
  std::string retry_reason;  // why the first round was retried ("no-commitments", "no-majority"); "" if it was not

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("id", s.id);
    f("submitter", s.submitter);
    f("module_hash", s.module_hash);
    f("input", s.input, Max{kMaxTaskIoBytes});
    f("replicas", s.replicas);
    f("reward", s.reward);
    f("fuel", s.fuel);
    f("commit_blocks", s.commit_blocks);
    f("reveal_blocks", s.reveal_blocks);
    f("submitted_height", s.submitted_height);
    f("metering_version", s.metering_version);  // before metered_hash, unlike the members
    f("metered_hash", s.metered_hash);
    f("status", s.status);
    f("round", s.round);
    f("served", s.served, Max{1'000'000, 32});
    f("result_hash", s.result_hash);
    f("outcome", s.outcome);
    f("exit_code", s.exit_code);
    f("fuel_used", s.fuel_used);
    f("output", s.output, Max{kMaxTaskIoBytes});
    f("settled_height", s.settled_height);
    f("vest_height", s.vest_height);
    f("majority", s.majority, Max{1'000'000, 32});
    f("audits", s.audits);
    f("failure", s.failure, Max{kMaxNameBytes});
    f("retry_reason", s.retry_reason, Max{kMaxNameBytes});
  }
  friend bool operator==(const TaskRecord&, const TaskRecord&) = default;
};

// --- queries (for RPC and tests) ---------------------------------------------------
Result<std::optional<WorkerRecord>> load_worker(const state::StateReader& s, const PublicKey& worker);
Result<std::vector<PublicKey>> worker_keys(const state::StateReader& s);  // ascending
Result<std::optional<TaskRecord>> load_task(const state::StateReader& s, std::uint64_t id);
// Tasks by descending id, starting at `before - 1` (0: the newest), at most
// `limit` of them (capped at kMaxTaskList). With `in_progress`, only tasks
// with a round in progress (waiting for workers or assigned: first rounds,
// retries and audits), read from the contract's own index of them.
inline constexpr std::size_t kMaxTaskList = 100;
Result<std::vector<TaskRecord>> list_tasks(const state::StateReader& s, std::uint64_t before, std::size_t limit,
                                           bool in_progress = false);
Result<std::uint64_t> next_task_id(const state::StateReader& s);
Result<std::optional<Bytes>> load_module(const state::StateReader& s, const Hash256& module_hash);
// Events of the block hooks (assignment, settlement) of block `height`,
// kept until the next block with any: the node publishes them after commit.
Result<std::vector<Event>> task_block_events(const state::StateReader& s, std::uint64_t height);
// Everything the task contract holds for the supply invariant: worker
// stakes, unbonding worker stakes and the escrow of every open round.
Result<Amount> tasks_held(const state::StateReader& s);

// The draw itself (draw_workers, assignment_seed) is contracts/task_assignment.h.
// stake x (kReputationMax + reputation): reputation counts as a fraction
// from 0 to 1 added to 1, so a worker at the maximum weighs twice its stake
// and a newcomer can still be drawn.
unsigned __int128 worker_weight(const WorkerRecord& w);

// --- block hooks -------------------------------------------------------------------------
// Assigns waiting rounds, seeded by the hash of the block's last_commit.
Status begin_block_tasks(state::StateOverlay& s, const state::BlockContext& ctx, const CommitCertificate& last_commit);
// Settles rounds that are complete or past their reveal deadline; decays
// worker reputation at epoch boundaries.
Status end_block_tasks(state::StateOverlay& s, const state::BlockContext& ctx);

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
