#include "contracts/tasks.h"

#include <algorithm>

#include "contracts/accounts.h"

namespace verity::contracts {

namespace {

std::string num(std::uint64_t v) { return std::to_string(v); }

// The round `sender` is assigned to in task `id`, checked.
struct Found {
  TaskRecord task;
  std::size_t index = 0;
};
Result<Found> find_assignment(const state::StateReader& s, std::uint64_t id, const PublicKey& sender) {
  auto t = require_task(s, id);
  if (!t) return t.error();
  if (!t->round || t->round->assigned_height == 0)
    return make_error("task-not-running", "task " + num(id) + " has no assigned round");
  const auto& as = t->round->assignments;
  for (std::size_t i = 0; i < as.size(); ++i)
    if (as[i].worker == sender) return Found{std::move(*t), i};
  return make_error("not-assigned", "the sender is not assigned to task " + num(id));
}

// Commit and reveal: `change(round, assignment)` checks and updates the
// sender's assignment in task `id`'s running round; the task is stored
// unless it refuses.
template <class Change>
Status change_assignment(state::StateOverlay& s, std::uint64_t id, const PublicKey& sender, Change change) {
  auto f = find_assignment(s, id, sender);
  if (!f) return f.error();
  Round& r = *f->task.round;
  if (auto st = change(r, r.assignments[f->index]); !st) return st;
  store_task(s, f->task);
  return {};
}

}  // namespace

// --- transactions -----------------------------------------------------------------------------------

Status register_worker(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                       const RegisterWorker& p, std::vector<Event>& events) {
  if (p.stake.is_zero()) return make_error("zero-amount", "the stake must be positive");
  auto existing = load_worker(s, sender);
  if (!existing) return existing.error();
  WorkerRecord w = existing->value_or(WorkerRecord{});
  w.key = sender;
  auto total = w.stake.checked_add(p.stake);
  if (!total) return total.error();
  if (*total < ctx.params.min_worker_stake)
    return make_error("stake-too-low", "worker stake " + total->to_string() + " is below the minimum " +
                                           ctx.params.min_worker_stake.to_string());
  if (auto st = debit(s, sender, p.stake); !st) return st;
  w.stake = *total;
  w.active = true;
  store_worker(s, w);
  if (!existing->has_value())
    if (auto st = add_worker_key(s, sender); !st) return st;
  events.push_back(Event{"worker_registered", {{"worker", sender.hex()}, {"added", p.stake.to_string()},
                                               {"stake", w.stake.to_string()}}});
  return {};
}

Status unregister_worker(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                         std::vector<Event>& events) {
  auto w = require_worker(s, sender);
  if (!w) return w.error();
  if (!w->active) return make_error("worker-inactive", "the worker is already unregistered");
  w->active = false;
  if (auto st = add_to(w->unbonding, w->stake); !st) return st;
  w->stake = Amount{};
  w->unbonding_until = ctx.height + ctx.params.unbonding_blocks;
  store_worker(s, *w);
  events.push_back(Event{"worker_unregistered", {{"worker", sender.hex()}, {"unbonding", w->unbonding.to_string()},
                                                 {"completion_height", num(w->unbonding_until)}}});
  return {};
}

Result<Amount> withdraw_worker_stake(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                                     std::vector<Event>& events) {
  auto found = load_worker(s, sender);
  if (!found) return found.error();
  if (!found->has_value()) return Amount{};
  WorkerRecord w = **found;
  if (w.unbonding.is_zero() || ctx.height < w.unbonding_until) return Amount{};
  Amount paid = w.unbonding;
  w.unbonding = Amount{};
  store_worker(s, w);
  if (auto st = pay(s, sender, paid); !st) return st.error();
  events.push_back(Event{"worker_withdraw", {{"worker", sender.hex()}, {"amount", paid.to_string()}}});
  return paid;
}

Status check_task_terms(const ProtocolParams& params, const SubmitTask& p) {
  const bool has_bytes = !p.module.bytes.empty();
  const bool has_hash = !p.module_hash.is_zero();
  if (has_bytes && has_hash) return make_error("module-and-hash", "give the module's bytes or its hash, not both");
  if (!has_bytes && !has_hash) return make_error("missing-module", "give the module's bytes or the hash of a stored one");
  const std::uint64_t replicas = p.replicas == 0 ? params.task_replication : p.replicas;
  if (replicas > params.max_task_replication)
    return make_error("bad-replicas", num(replicas) + " replicas exceed max_task_replication " +
                                          num(params.max_task_replication));
  if (p.reward.is_zero()) return make_error("zero-amount", "the reward must be positive");
  if (p.fuel == 0) return make_error("bad-fuel", "fuel 0: a task needs at least 1");
  if (p.fuel > params.max_task_fuel)
    return make_error("bad-fuel", "fuel " + num(p.fuel) + " exceeds max_task_fuel " + num(params.max_task_fuel));
  if (p.commit_blocks == 0 || p.reveal_blocks == 0)
    return make_error("bad-deadlines", "commit_blocks " + num(p.commit_blocks) + " and reveal_blocks " +
                                           num(p.reveal_blocks) + ": each must be at least 1");
  if (p.commit_blocks > params.max_task_blocks || p.reveal_blocks > params.max_task_blocks - p.commit_blocks)
    return make_error("bad-deadlines", "commit_blocks " + num(p.commit_blocks) + " + reveal_blocks " +
                                           num(p.reveal_blocks) + " exceed max_task_blocks " +
                                           num(params.max_task_blocks));
  // Terms no honest worker at the reference speed could meet: the run
  // itself, plus a block to see the assignment and one for the commitment.
  const std::uint64_t needed = task_commit_blocks_needed(p.fuel, params.reference_fuel_per_block);
  if (p.commit_blocks < needed)
    return make_error("bad-deadlines", "commit_blocks " + num(p.commit_blocks) + " is too short for fuel " +
                                           num(p.fuel) + " at " + num(params.reference_fuel_per_block) +
                                           " per block; at least " + num(needed) +
                                           " (ceil(fuel / reference_fuel_per_block) + " +
                                           num(kTaskCommitMarginBlocks) + ")");
  return {};
}

Status submit_task(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender, const SubmitTask& p,
                   std::vector<Event>& events, const ModuleMeter* meter) {
  if (auto st = check_task_terms(ctx.params, p); !st) return st;
  const bool has_bytes = !p.module.bytes.empty();
  const std::uint64_t replicas = p.replicas == 0 ? ctx.params.task_replication : p.replicas;
  auto escrow = p.reward.checked_mul(replicas);
  if (!escrow) return escrow.error();

  Hash256 module_hash = p.module_hash;
  Bytes stored_bytes;  // a module named by its hash
  if (has_bytes) {
    auto h = store_module(s, p.module.bytes);
    if (!h) return h.error();
    module_hash = *h;
  } else {
    auto stored = load_module(s, module_hash);
    if (!stored) return stored.error();
    if (!stored->has_value()) return make_error("unknown-module", "no module stored under " + module_hash.hex());
    stored_bytes = std::move(**stored);
  }
  // The module must be one the workers can run, and the task records the
  // hash of the instrumented module they will run (docs/sandbox.md,
  // "Versions"): the meter is the sandbox's admission and rewriter.
  Hash256 metered_hash;
  if (meter) {
    const ByteView bytes = has_bytes ? ByteView(p.module.bytes) : ByteView(stored_bytes);
    auto m = meter->metered_hash(bytes, ctx.params.metering_version);
    if (!m) return make_error("bad-module", m.error().to_string());
    metered_hash = *m;
  }
  if (auto st = debit(s, sender, *escrow); !st) return st;

  auto id = take_task_id(s);
  if (!id) return id.error();
  TaskRecord t;
  t.id = *id;
  t.submitter = sender;
  t.module_hash = module_hash;
  t.input = p.input.bytes;
  t.replicas = replicas;
  t.reward = p.reward;
  t.fuel = p.fuel;
  t.commit_blocks = p.commit_blocks;
  t.reveal_blocks = p.reveal_blocks;
  t.submitted_height = ctx.height;
  t.metering_version = ctx.params.metering_version;
  t.metered_hash = metered_hash;
  if (auto st = open_round(s, ctx, t, RoundKind::first, sender, *escrow); !st) return st;
  store_task(s, t);
  events.push_back(Event{"task_submitted", {{"task", num(t.id)},
                                            {"submitter", sender.hex()},
                                            {"module_hash", module_hash.hex()},
                                            {"replicas", num(replicas)},
                                            {"reward", p.reward.to_string()},
                                            {"fuel", num(p.fuel)},
                                            {"commit_blocks", num(p.commit_blocks)},
                                            {"reveal_blocks", num(p.reveal_blocks)},
                                            {"metering_version", num(t.metering_version)},
                                            {"metered_hash", metered_hash.hex()},
                                            {"escrow", escrow->to_string()}}});
  return {};
}

Status commit_result(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                     const CommitResult& p, std::vector<Event>& events) {
  auto st = change_assignment(s, p.task, sender, [&](const Round& r, Assignment& a) -> Status {
    if (a.committed) return make_error("already-committed", "the sender has committed to task " + num(p.task));
    if (ctx.height > r.commit_deadline)
      return make_error("commit-closed", "the commit deadline was height " + num(r.commit_deadline));
    a.committed = true;
    a.commitment = p.commitment;
    return {};
  });
  if (!st) return st;
  events.push_back(Event{"task_committed", {{"task", num(p.task)}, {"worker", sender.hex()}}});
  return {};
}

Status reveal_result(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                     const RevealResult& p, std::vector<Event>& events) {
  Hash256 result;  // hashed only once the cheap checks passed
  auto st = change_assignment(s, p.task, sender, [&](const Round& r, Assignment& a) -> Status {
    if (!a.committed) return make_error("not-committed", "commit before revealing");
    if (a.revealed) return make_error("already-revealed", "the sender has revealed for task " + num(p.task));
    // Outcomes are the sandbox's (docs/sandbox.md, "Outcomes"): 0 ok ... 6
    // forbidden-import. Anything else (7, engine-failed, included) is not a
    // result of the task and cannot be agreed on.
    if (p.outcome > kLastTaskOutcome)
      return make_error("bad-outcome", "outcome " + num(p.outcome) + " is not a task outcome (0 to " +
                                           num(kLastTaskOutcome) + ")");
    if (ctx.height > r.reveal_deadline)
      return make_error("reveal-closed", "the reveal deadline was height " + num(r.reveal_deadline));
    // Reveals open when every commitment is in, or at the commit deadline:
    // a result revealed earlier could be copied by a worker yet to commit.
    bool all_committed =
        std::all_of(r.assignments.begin(), r.assignments.end(), [](const Assignment& x) { return x.committed; });
    if (!all_committed && ctx.height <= r.commit_deadline)
      return make_error("reveal-too-early", "reveals open after the commit deadline, height " + num(r.commit_deadline));
    result = task_result_hash(p.outcome, p.exit_code, p.fuel_used, p.output.bytes);
    if (task_commitment(ctx.chain_id, p.task, result, p.salt, sender) != a.commitment)
      return make_error("commitment-mismatch", "the revealed result and salt do not open the commitment");
    a.revealed = true;
    a.result_hash = result;
    a.outcome = p.outcome;
    a.exit_code = p.exit_code;
    a.fuel_used = p.fuel_used;
    a.output = p.output.bytes;
    return {};
  });
  if (!st) return st;
  events.push_back(Event{"task_revealed", {{"task", num(p.task)}, {"worker", sender.hex()}, {"result_hash", result.hex()}}});
  return {};
}

Status request_audit(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                     const RequestAudit& p, std::vector<Event>& events) {
  auto t = require_task(s, p.task);
  if (!t) return t.error();
  if (t->status != TaskStatus::settled) return make_error("task-not-settled", "only a settled task can be audited");
  if (t->round) return make_error("audit-in-progress", "task " + num(p.task) + " is being audited");
  // The audit must settle before the rewards it may claw back vest: it is
  // assigned at the next block at the earliest and runs commit + reveal blocks.
  if (ctx.height + 1 + t->commit_blocks + t->reveal_blocks >= t->vest_height)
    return make_error("audit-window-closed", "the result's rewards vest at height " + num(t->vest_height) +
                                                 ", before an audit could settle");
  auto escrow = t->reward.checked_mul(t->replicas);
  if (!escrow) return escrow.error();
  if (auto st = debit(s, sender, *escrow); !st) return st;
  if (auto st = open_round(s, ctx, *t, RoundKind::audit, sender, *escrow); !st) return st;
  store_task(s, *t);
  events.push_back(Event{"task_audit_requested", {{"task", num(p.task)}, {"auditor", sender.hex()},
                                                  {"escrow", escrow->to_string()}}});
  return {};
}

}  // namespace verity::contracts
