#pragma once
// What the worker does next for one task, decided as a pure function (like
// the consensus engine): the node's answer and what the worker remembers
// in, one action out. No I/O, no clock, no randomness: the loop
// (worker/daemon/loop.cpp) fetches, runs, persists and sends; the planner
// only decides, so every rule of docs/worker.md ("The loop") has a unit
// test (tests/worker/planner_tests.cpp).

#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/transaction.h"
#include "rpc/records.h"

namespace verity::worker {

// What the worker remembers of a task it ran, before it commits
// (HOME/tasks/ID.json, written before the commitment is sent).
struct TaskState {
  std::uint64_t task = 0;
  std::uint64_t assigned_height = 0;  // the round it ran for
  std::uint64_t outcome = 0;
  std::uint64_t exit_code = 0;
  std::uint64_t fuel_used = 0;
  Bytes output;
  Hash256 salt;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("task", s.task);
    f("assigned_height", s.assigned_height);
    f("outcome", s.outcome);
    f("exit_code", s.exit_code);
    f("fuel_used", s.fuel_used);
    f("output", s.output);
    f("salt", s.salt);
  }
  friend bool operator==(const TaskState&, const TaskState&) = default;
};

// Everything the planner reads.
struct PlanInput {
  const rpc::TaskInfo& task;        // the node's answer, read and checked
  const PublicKey& me;
  std::string_view chain_id;
  std::optional<TaskState> state;   // persisted for this task, if any
  bool sent_before = false;         // a commitment or reveal was sent for it by this process
  std::optional<std::uint64_t> height;  // the chain's height, when the node said
  std::uint64_t metering_version = 0;   // this worker's sandbox's
};

struct Plan {
  enum class Kind {
    end,               // the round is over for this worker: `log` (if any), forget the task; `keep` says whether a
                       // new round assigns it
    wait,              // nothing to do now (waiting for assignment, commits, reveals to open, or the settlement)
    refuse_metering,   // the task is metered by another version than this sandbox's: never run (`log`)
    run,               // run the module (task.module_hash, task.input, task.fuel) for round `assigned_height`
    commit_missed,     // the commit deadline passed before a commitment landed (`log`)
    commit,            // send `payload` (commit_result)
    salt_lost,         // committed, but the salt is gone: it cannot reveal (`log`)
    reveal,            // send `payload` (reveal_result)
  };
  Kind kind = Kind::wait;
  bool keep = true;          // keep following the task
  bool report = false;       // end: also log the worker's record
  std::string log;           // what to log, without the "task ID: " prefix
  std::uint64_t assigned_height = 0;
  std::optional<Payload> payload;
};

Plan plan_task(const PlanInput& in);

// The result a worker records for a run: the sandbox's, its output cut to
// what a reveal carries, and (a byzantine worker, tests only) altered.
TaskState record_run(std::uint64_t task, std::uint64_t assigned_height, std::uint64_t outcome, std::uint64_t exit_code,
                     std::uint64_t fuel_used, Bytes output, const Hash256& salt, bool byzantine);

// "ok", "out-of-fuel", ..., or "outcome N" for a number no outcome has.
std::string outcome_text(std::uint64_t n);

}  // namespace verity::worker
