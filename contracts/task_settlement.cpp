#include "contracts/task_settlement.h"

#include <algorithm>
#include <map>

#include "contracts/accounts.h"
#include "contracts/reputation.h"
#include "contracts/staking.h"
#include "contracts/task_assignment.h"

namespace verity::contracts {

namespace {

using u128 = unsigned __int128;

std::string num(std::uint64_t v) { return std::to_string(v); }

std::uint64_t amount_bps(std::uint64_t v, std::uint64_t bps) {
  return static_cast<std::uint64_t>(static_cast<u128>(v) * bps / kBpsDenominator);
}

// --- rounds ending ---------------------------------------------------------------------------

// Closes the round: no escrow may remain (callers pay it out first).
Status close_round(state::StateOverlay& s, TaskRecord& t) {
  if (t.round && !t.round->escrow.is_zero()) return local_error("state-corrupt", "closing a round with escrow left");
  t.round.reset();
  if (auto st = remove_from_index(s, TaskIndex::running, t.id); !st) return st;
  return remove_from_index(s, TaskIndex::waiting, t.id);
}

// Pays what is left of the escrow back to whoever paid it.
Status refund_round(state::StateOverlay& s, TaskRecord& t) {
  Amount left = t.round->escrow;
  t.round->escrow = Amount{};
  return pay(s, t.round->payer, left);
}

// The task fails for good: the escrow goes back to whoever paid it.
Status fail_task(state::StateOverlay& s, const state::BlockContext& ctx, TaskRecord& t, const std::string& why,
                 std::vector<Event>& events) {
  Amount refund = t.round->escrow;
  if (auto st = refund_round(s, t); !st) return st;
  if (auto st = close_round(s, t); !st) return st;
  t.status = TaskStatus::failed;
  t.failure = why;
  t.settled_height = ctx.height;
  events.push_back(Event{"task_failed", {{"task", num(t.id)}, {"reason", why}, {"refund", refund.to_string()}}});
  return {};
}

// An audit that cannot run, or found no majority, ends; the task stays
// settled as it was.
Status end_audit(state::StateOverlay& s, TaskRecord& t, const std::string& outcome, std::vector<Event>& events) {
  Amount refund = t.round->escrow;
  PublicKey auditor = t.round->payer;
  if (auto st = refund_round(s, t); !st) return st;
  if (auto st = close_round(s, t); !st) return st;
  events.push_back(Event{"task_audit_ended", {{"task", num(t.id)},
                                              {"auditor", auditor.hex()},
                                              {"outcome", outcome},
                                              {"refund", refund.to_string()}}});
  return {};
}

// --- assignment ----------------------------------------------------------------------------------

std::uint64_t round_number(const TaskRecord& t) {
  // first 0, retry 1, audits 2, 3, ...: every draw of a task has its own seed.
  switch (t.round->kind) {
    case RoundKind::first: return 0;
    case RoundKind::retry: return 1;
    case RoundKind::audit: return 2 + t.audits;
  }
  return 0;
}

// Every worker record, in ascending key order, loaded once per block:
// assignment changes no worker record, so one load serves every task.
Result<std::vector<WorkerRecord>> all_workers(const state::StateReader& s) {
  auto keys = worker_keys(s);
  if (!keys) return keys.error();
  std::vector<WorkerRecord> out;
  out.reserve(keys->size());
  for (const auto& k : *keys) {
    auto w = require_worker(s, k);
    if (!w) return w.error();
    out.push_back(std::move(*w));
  }
  return out;
}

// The workers that may be drawn for `t`'s round, in ascending key order,
// with their weights.
std::vector<Candidate> eligible_workers(const state::BlockContext& ctx, const std::vector<WorkerRecord>& workers,
                                        const TaskRecord& t) {
  // Excluded: whoever paid, the submitter, and every worker that served.
  std::vector<PublicKey> excluded = t.served;
  excluded.push_back(t.submitter);
  excluded.push_back(t.round->payer);
  const bool trusted_only = !(t.reward < ctx.params.untrusted_reward_cap);
  std::vector<Candidate> candidates;
  for (const auto& w : workers) {
    if (std::find(excluded.begin(), excluded.end(), w.key) != excluded.end()) continue;
    if (!w.active || w.stake.is_zero() || w.stake < ctx.params.min_worker_stake) continue;
    if (trusted_only && w.reputation < ctx.params.worker_reputation_threshold) continue;  // gradual trust
    candidates.push_back({w.key, worker_weight(w)});
  }
  return candidates;
}

Status try_assign(state::StateOverlay& s, const state::BlockContext& ctx, const Hash256& commit_hash,
                  const std::vector<WorkerRecord>& workers, TaskRecord& t, std::vector<Event>& events) {
  Round& r = *t.round;
  std::vector<Candidate> candidates = eligible_workers(ctx, workers, t);
  const std::uint64_t span = t.commit_blocks + t.reveal_blocks;
  if (candidates.size() < t.replicas) {
    // Not enough eligible workers: wait, but not forever.
    if (r.kind == RoundKind::audit) {
      // An audit must end while the rewards it may claw back are locked.
      return end_audit(s, t, "no-workers", events);
    }
    if (ctx.height >= r.requested_height + span) return fail_task(s, ctx, t, "no-workers", events);
    return {};
  }
  if (r.kind == RoundKind::audit && ctx.height + span >= t.vest_height) return end_audit(s, t, "window-closed", events);

  auto chosen = draw_workers(assignment_seed(commit_hash, t.id, round_number(t)), std::move(candidates), t.replicas);
  if (chosen.size() < t.replicas) return local_error("state-corrupt", "draw came short of eligible workers");
  r.assigned_height = ctx.height;
  r.commit_deadline = ctx.height + t.commit_blocks;
  r.reveal_deadline = r.commit_deadline + t.reveal_blocks;
  r.assignments.clear();
  for (const auto& k : chosen) {
    r.assignments.push_back(Assignment{k, false, {}, false, {}, 0, 0, 0, {}});
    t.served.push_back(k);
  }
  if (auto st = remove_from_index(s, TaskIndex::waiting, t.id); !st) return st;
  if (auto st = add_to_index(s, TaskIndex::running, t.id); !st) return st;
  for (const auto& k : chosen)
    events.push_back(Event{"task_assigned", {{"task", num(t.id)},
                                             {"worker", k.hex()},
                                             {"round", round_kind_name(r.kind)},
                                             {"commit_deadline", num(r.commit_deadline)},
                                             {"reveal_deadline", num(r.reveal_deadline)}}});
  return {};
}

// --- settlement, step by step ------------------------------------------------------------------

bool round_complete(const Round& r, std::uint64_t height) {
  if (height >= r.reveal_deadline) return true;
  bool all_committed = true, all_revealed = true;
  for (const auto& a : r.assignments) {
    all_committed = all_committed && a.committed;
    if (a.committed && !a.revealed) all_revealed = false;
  }
  return all_revealed && (all_committed || height >= r.commit_deadline);
}

// The majority: a result hash revealed by more than replicas / 2.
std::optional<Hash256> majority_result(const Round& r) {
  std::map<Hash256, std::uint64_t> votes;
  for (const auto& a : r.assignments)
    if (a.revealed) votes[a.result_hash]++;
  for (const auto& [h, n] : votes)
    if (n * 2 > r.assignments.size()) return h;
  return std::nullopt;
}

// Slashes worker_outvoted_slash_bps of the worker's stake and of its
// unbonding stake (it cannot escape by unregistering), burned. Returns the
// amount.
Result<Amount> slash_worker(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& key) {
  auto w = require_worker(s, key);
  if (!w) return w.error();
  const std::uint64_t bps = ctx.params.worker_outvoted_slash_bps;
  Amount from_stake(amount_bps(w->stake.units(), bps));
  Amount from_unbonding(amount_bps(w->unbonding.units(), bps));
  w->stake = w->stake.checked_sub(from_stake).value();
  w->unbonding = w->unbonding.checked_sub(from_unbonding).value();
  store_worker(s, *w);
  Amount total = from_stake.checked_add(from_unbonding).value();  // both parts of one stake
  if (auto st = record_burn(s, total); !st) return st.error();
  return total;
}

// A worker found with a wrong result (outvoted in its round, or in the
// majority an audit overturned): loses reputation, counts as outvoted and
// is slashed. Returns the amount slashed.
Result<Amount> punish_wrong_result(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& key) {
  auto w = require_worker(s, key);
  if (!w) return w.error();
  w->reputation = adjusted_score(w->reputation, -static_cast<std::int64_t>(ctx.params.worker_reputation_loss));
  w->outvoted++;
  store_worker(s, *w);
  return slash_worker(s, ctx, key);
}

// Reputation and slashing, one worker at a time, in assignment order: a
// worker that did not reveal missed; with a majority, one that agreed
// gains and one that did not is slashed (without one, nobody can be
// called a liar). Returns the workers that agreed.
Result<std::vector<PublicKey>> score_workers(state::StateOverlay& s, const state::BlockContext& ctx,
                                             const TaskRecord& t, const std::optional<Hash256>& winner,
                                             std::vector<Event>& events) {
  std::vector<PublicKey> agreeing;
  for (const auto& a : t.round->assignments) {
    if (!a.revealed) {
      auto w = require_worker(s, a.worker);
      if (!w) return w.error();
      w->reputation = adjusted_score(w->reputation, -static_cast<std::int64_t>(ctx.params.worker_reputation_loss));
      w->missed++;
      store_worker(s, *w);
      events.push_back(Event{"task_worker_missed", {{"task", num(t.id)}, {"worker", a.worker.hex()},
                                                    {"committed", a.committed ? "true" : "false"}}});
    } else if (winner && a.result_hash == *winner) {
      auto w = require_worker(s, a.worker);
      if (!w) return w.error();
      w->reputation = adjusted_score(w->reputation, static_cast<std::int64_t>(ctx.params.worker_reputation_gain));
      w->agreed++;
      store_worker(s, *w);
      agreeing.push_back(a.worker);
    } else if (winner) {
      auto cut = punish_wrong_result(s, ctx, a.worker);
      if (!cut) return cut.error();
      events.push_back(Event{"worker_slashed", {{"task", num(t.id)}, {"worker", a.worker.hex()},
                                                {"amount", cut->to_string()}, {"reason", "outvoted"}}});
    }
  }
  return agreeing;
}

// No majority. What really happened: nobody committed (the workers were
// away, or could not finish in the window), or results came in without a
// majority. A first round is retried once, on fresh workers, with the same
// escrow; a retry fails the task; an audit ends.
Status settle_without_majority(state::StateOverlay& s, const state::BlockContext& ctx, TaskRecord& t,
                               std::vector<Event>& events) {
  Round& r = *t.round;
  std::uint64_t committed = 0, revealed = 0;
  for (const auto& a : r.assignments) {
    committed += a.committed;
    revealed += a.revealed;
  }
  const std::string why = committed == 0 ? "no-commitments" : "no-majority";
  if (r.kind == RoundKind::audit) return end_audit(s, t, why, events);
  if (r.kind == RoundKind::retry) return fail_task(s, ctx, t, why, events);
  Amount escrow = r.escrow;
  PublicKey payer = r.payer;
  r.escrow = Amount{};
  if (auto st = close_round(s, t); !st) return st;
  if (auto st = open_round(s, ctx, t, RoundKind::retry, payer, escrow); !st) return st;
  t.retry_reason = why;
  events.push_back(Event{"task_retry", {{"task", num(t.id)},
                                        {"reason", why},
                                        {"committed", num(committed)},
                                        {"revealed", num(revealed)}}});
  return {};
}

// The result `winner` becomes the task's, from the first assignment that
// revealed it, with the workers that agreed on it and their rewards'
// vesting height.
void record_result(const state::BlockContext& ctx, TaskRecord& t, const Hash256& winner,
                   std::vector<PublicKey> agreeing, std::uint64_t vest) {
  const auto& as = t.round->assignments;
  const auto sample = std::find_if(as.begin(), as.end(),
                                   [&](const Assignment& a) { return a.revealed && a.result_hash == winner; });
  t.result_hash = winner;
  t.outcome = sample->outcome;
  t.exit_code = sample->exit_code;
  t.fuel_used = sample->fuel_used;
  t.output = sample->output;
  t.settled_height = ctx.height;
  t.vest_height = vest;
  t.majority = std::move(agreeing);
}

// An audit with a majority: it confirms the settled result (the auditor's
// escrow, less the rewards paid, goes back), or overturns it: the old
// majority's locked rewards go to the auditor, who paid to expose them,
// they are slashed as liars, and the audit's result becomes the task's.
Status settle_audit(state::StateOverlay& s, const state::BlockContext& ctx, TaskRecord& t, const Hash256& winner,
                    std::vector<PublicKey> agreeing, std::uint64_t vest, std::vector<Event>& events) {
  const PublicKey auditor = t.round->payer;
  t.audits++;
  if (winner == t.result_hash) {
    Amount refund = t.round->escrow;
    if (auto st = refund_round(s, t); !st) return st;
    events.push_back(Event{"task_audited", {{"task", num(t.id)}, {"auditor", auditor.hex()},
                                            {"outcome", "confirmed"}, {"refund", refund.to_string()}}});
    return close_round(s, t);
  }
  Amount clawed;
  for (const auto& k : t.majority) {
    auto taken = take_reward(s, k, t.vest_height, t.reward);
    if (!taken) return taken.error();
    if (auto st = add_to(clawed, *taken); !st) return st;
    auto cut = punish_wrong_result(s, ctx, k);
    if (!cut) return cut.error();
    events.push_back(Event{"worker_slashed", {{"task", num(t.id)}, {"worker", k.hex()},
                                              {"amount", cut->to_string()}, {"reason", "audit"},
                                              {"clawed_back", taken->to_string()}}});
  }
  if (auto st = pay(s, auditor, clawed); !st) return st;
  Amount refund = t.round->escrow;
  if (auto st = refund_round(s, t); !st) return st;
  record_result(ctx, t, winner, std::move(agreeing), vest);
  events.push_back(Event{"task_audited", {{"task", num(t.id)}, {"auditor", auditor.hex()},
                                          {"outcome", "overturned"}, {"clawed_back", clawed.to_string()},
                                          {"result_hash", winner.hex()}, {"refund", refund.to_string()}}});
  return close_round(s, t);
}

// Settles a complete round: the majority, the workers' scores, then the
// rewards of those who agreed (locked for the challenge window) and the
// result; the shares of workers that did not agree go back to the payer.
Status settle_round(state::StateOverlay& s, const state::BlockContext& ctx, TaskRecord& t, std::vector<Event>& events) {
  const std::optional<Hash256> winner = majority_result(*t.round);
  auto agreeing = score_workers(s, ctx, t, winner, events);
  if (!agreeing) return agreeing.error();
  if (!winner) return settle_without_majority(s, ctx, t, events);

  const std::uint64_t vest = ctx.height + ctx.params.reward_lock_blocks;
  for (const auto& k : *agreeing) {
    if (auto st = take_from(t.round->escrow, t.reward); !st) return st;
    if (auto st = add_reward(s, k, vest, t.reward, ctx.height); !st) return st;
  }
  if (t.round->kind == RoundKind::audit) return settle_audit(s, ctx, t, *winner, std::move(*agreeing), vest, events);

  Amount refund = t.round->escrow;
  if (auto st = refund_round(s, t); !st) return st;
  const std::size_t agreed = agreeing->size();
  t.status = TaskStatus::settled;
  record_result(ctx, t, *winner, std::move(*agreeing), vest);
  events.push_back(Event{"task_settled", {{"task", num(t.id)},
                                          {"result_hash", winner->hex()},
                                          {"outcome", num(t.outcome)},
                                          {"exit_code", num(t.exit_code)},
                                          {"fuel_used", num(t.fuel_used)},
                                          {"agreeing", num(agreed)},
                                          {"vest_height", num(vest)},
                                          {"refund", refund.to_string()}}});
  return close_round(s, t);
}

// At an epoch boundary every worker's reputation decays.
Status decay_worker_reputation(state::StateOverlay& s, const state::BlockContext& ctx) {
  auto keys = worker_keys(s);
  if (!keys) return keys.error();
  for (const auto& k : *keys) {
    auto w = require_worker(s, k);
    if (!w) return w.error();
    if (w->reputation == 0) continue;
    w->reputation = decayed_score(w->reputation, ctx.params.reputation_decay_bps);
    store_worker(s, *w);
  }
  return {};
}

}  // namespace

Status open_round(state::StateOverlay& s, const state::BlockContext& ctx, TaskRecord& t, RoundKind kind,
                  const PublicKey& payer, Amount escrow) {
  Round r;
  r.kind = kind;
  r.payer = payer;
  r.escrow = escrow;
  r.requested_height = ctx.height;
  t.round = std::move(r);
  return add_to_index(s, TaskIndex::waiting, t.id);
}

unsigned __int128 worker_weight(const WorkerRecord& w) {
  return static_cast<u128>(w.stake.units()) * (kReputationMax + std::min<std::uint64_t>(w.reputation, kReputationMax));
}

// --- block hooks ----------------------------------------------------------------------------------

Status begin_block_tasks(state::StateOverlay& s, const state::BlockContext& ctx, const CommitCertificate& last_commit,
                         std::vector<Event>& block_events) {
  std::vector<Event> events;
  auto waiting = load_index(s, TaskIndex::waiting);
  if (!waiting) return waiting.error();
  if (!waiting->empty()) {
    const Hash256 commit_hash = last_commit.hash();
    auto workers = all_workers(s);
    if (!workers) return workers.error();
    for (auto id : *waiting) {  // ascending: older tasks draw first
      auto t = require_task(s, id);
      if (!t) return t.error();
      if (auto st = try_assign(s, ctx, commit_hash, *workers, *t, events); !st) return st;
      store_task(s, *t);
    }
  }
  block_events.insert(block_events.end(), events.begin(), events.end());
  return keep_block_events(s, ctx.height, events);
}

Status end_block_tasks(state::StateOverlay& s, const state::BlockContext& ctx, std::vector<Event>& block_events) {
  std::vector<Event> events;
  auto running = load_index(s, TaskIndex::running);
  if (!running) return running.error();
  for (auto id : *running) {
    auto t = require_task(s, id);
    if (!t) return t.error();
    if (!t->round || !round_complete(*t->round, ctx.height)) continue;
    if (auto st = settle_round(s, ctx, *t, events); !st) return st;
    store_task(s, *t);
  }
  if (ctx.height != 0 && ctx.height % ctx.params.epoch_blocks == 0)
    if (auto st = decay_worker_reputation(s, ctx); !st) return st;
  block_events.insert(block_events.end(), events.begin(), events.end());
  return keep_block_events(s, ctx.height, events);
}

}  // namespace verity::contracts
