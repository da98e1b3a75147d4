#pragma once
// The task market's records and where they live in state: workers, tasks
// and their rounds, the indexes of rounds in progress, and the queries the
// RPC and tests read them with. The contract's own files (tasks.cpp,
// task_settlement.cpp) read and write them through the access functions at
// the end; nothing else writes them. docs/contracts.md ("Tasks") has the
// rules.
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
#include <string>
#include <vector>

#include "contracts/records.h"
#include "core/receipt.h"
#include "core/transaction.h"
#include "state/state_view.h"

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
// The worker whose record is kept under state key `key`, if it is one.
std::optional<PublicKey> worker_of_key(ByteView key);
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

// --- the contract's own access (tasks.cpp, task_settlement.cpp) ----------------------
// The record, or "not-a-worker" / "unknown-task".
Result<WorkerRecord> require_worker(const state::StateReader& s, const PublicKey& key);
void store_worker(state::StateOverlay& s, const WorkerRecord& w);
// Adds `key` to the sorted list of worker keys (a new worker).
Status add_worker_key(state::StateOverlay& s, const PublicKey& key);
Result<TaskRecord> require_task(const state::StateReader& s, std::uint64_t id);
void store_task(state::StateOverlay& s, const TaskRecord& t);
// The id of a new task: the next one, which is then counted as taken.
Result<std::uint64_t> take_task_id(state::StateOverlay& s);
// Stores a module's bytes under their hash, once; returns the hash.
Result<Hash256> store_module(state::StateOverlay& s, ByteView module);

// The indexes of tasks with a round in progress, ascending ids: waiting
// for workers (assigned at begin-block) or assigned (settled at end-block).
enum class TaskIndex { waiting, running };
Result<std::vector<std::uint64_t>> load_index(const state::StateReader& s, TaskIndex index);
Status add_to_index(state::StateOverlay& s, TaskIndex index, std::uint64_t id);
Status remove_from_index(state::StateOverlay& s, TaskIndex index, std::uint64_t id);

// Adds `events` (emptied) to those kept for block `height` (see
// task_block_events); a block's hooks call it once each.
Status keep_block_events(state::StateOverlay& s, std::uint64_t height, std::vector<Event>& events);

}  // namespace verity::contracts
