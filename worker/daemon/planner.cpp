#include "worker/daemon/planner.h"

#include <algorithm>

#include "core/task_outcome.h"

namespace verity::worker {

namespace {

Plan make(Plan::Kind kind, std::string log = {}) {
  Plan p;
  p.kind = kind;
  p.log = std::move(log);
  return p;
}

// Why the round ended for this worker, for the log.
std::string ending(const rpc::TaskInfo& t, const PublicKey& me) {
  if (t.status == "settled" && t.result) {
    const auto& res = *t.result;
    const bool agreed = std::find(res.majority.begin(), res.majority.end(), me) != res.majority.end();
    return "settled: " + outcome_text(res.outcome) + ", fuel " + std::to_string(res.fuel_used) + ", result " +
           res.result_hash.hex() + (agreed ? " (agreed: rewarded)" : " (this worker was not in the majority)");
  }
  if (t.status == "failed") return "failed: " + t.failure;
  return "round ended without this worker (" + t.status + ")";
}

}  // namespace

std::string outcome_text(std::uint64_t n) {
  auto known = outcome_name_of(n);
  return known ? std::string(*known) : "outcome " + std::to_string(n);
}

Plan plan_task(const PlanInput& in) {
  const rpc::TaskInfo& t = in.task;
  const rpc::AssignmentInfo* mine = nullptr;
  if (t.round)
    for (const auto& a : t.round->assignments)
      if (a.worker == in.me) mine = &a;
  const std::uint64_t assigned_height = t.round ? t.round->assigned_height : 0;

  // Not (or no longer) this worker's round; or what it remembers is of an
  // earlier round of the task.
  if (!t.round || !mine || (in.state && in.state->assigned_height != assigned_height)) {
    Plan p = make(Plan::Kind::end);
    if (in.state || in.sent_before) {
      p.log = ending(t, in.me);
      p.report = true;
    }
    p.keep = t.round && mine;  // a new round for it: keep following
    return p;
  }
  if (assigned_height == 0) return make(Plan::Kind::wait);  // waiting for workers
  const rpc::RoundInfo& round = *t.round;

  if (!mine->committed) {
    if (!in.state) {
      if (t.metering_version != in.metering_version)
        return make(Plan::Kind::refuse_metering,
                    "metered by version " + std::to_string(t.metering_version) + ", and this worker's sandbox by " +
                        std::to_string(in.metering_version) + ": not running it (its fuel would not be the task's)");
      Plan p = make(Plan::Kind::run, "assigned (round " + round.kind + ", commit by height " +
                                         std::to_string(round.commit_deadline) + ", reveal by " +
                                         std::to_string(round.reveal_deadline) + ")");
      p.assigned_height = assigned_height;
      return p;
    }
    if (in.height && *in.height > round.commit_deadline)
      return make(Plan::Kind::commit_missed, "commit deadline " + std::to_string(round.commit_deadline) +
                                                 " passed before the commitment landed");
    const TaskState& s = *in.state;
    const Hash256 result = task_result_hash(s.outcome, s.exit_code, s.fuel_used, s.output);
    CommitResult c;
    c.task = t.id;
    c.commitment = task_commitment(in.chain_id, t.id, result, s.salt, in.me);
    Plan p = make(Plan::Kind::commit, "committed " + result.hex());
    p.payload = Payload{c};
    return p;
  }

  if (mine->revealed) return make(Plan::Kind::wait);  // the settlement comes
  if (!in.state) return make(Plan::Kind::salt_lost, "committed but the salt is lost; cannot reveal");
  const bool all_committed = std::all_of(round.assignments.begin(), round.assignments.end(),
                                         [](const rpc::AssignmentInfo& a) { return a.committed; });
  // Reveals open once every assigned worker committed, or after the commit deadline.
  if (!all_committed && (!in.height || *in.height <= round.commit_deadline)) return make(Plan::Kind::wait);
  const TaskState& s = *in.state;
  RevealResult rv;
  rv.task = t.id;
  rv.outcome = s.outcome;
  rv.exit_code = s.exit_code;
  rv.fuel_used = s.fuel_used;
  rv.output.bytes = s.output;
  rv.salt = s.salt;
  Plan p = make(Plan::Kind::reveal, "revealed");
  p.payload = Payload{rv};
  return p;
}

TaskState record_run(std::uint64_t task, std::uint64_t assigned_height, std::uint64_t outcome, std::uint64_t exit_code,
                     std::uint64_t fuel_used, Bytes output, const Hash256& salt, bool byzantine) {
  TaskState s{task, assigned_height, outcome, exit_code, fuel_used, std::move(output), salt};
  if (s.output.size() > kMaxTaskIoBytes) s.output.resize(kMaxTaskIoBytes);  // what a reveal carries
  if (byzantine) {
    if (s.output.empty())
      s.output.push_back('!');
    else
      s.output[0] ^= 0x01;
  }
  return s;
}

}  // namespace verity::worker
