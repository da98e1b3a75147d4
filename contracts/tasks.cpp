#include "contracts/tasks.h"

#include <algorithm>
#include <map>

#include "contracts/accounts.h"
#include "contracts/reputation.h"
#include "contracts/staking.h"

namespace verity::contracts {

namespace {

using u128 = unsigned __int128;

// --- keys -----------------------------------------------------------------------------

const Bytes kWorkerListKey = prefixed_key("wrks", {});
const Bytes kNextTaskKey = prefixed_key("sys/task_next", {});
const Bytes kWaitingKey = prefixed_key("sys/tasks_waiting", {});
const Bytes kRunningKey = prefixed_key("sys/tasks_running", {});
const Bytes kBlockEventsKey = prefixed_key("sys/task_events", {});
Bytes worker_key(const PublicKey& w) { return prefixed_key("wrk/", w.view()); }
Bytes module_key(const Hash256& h) { return prefixed_key("mod/", h.view()); }
Bytes task_key(std::uint64_t id) {
  std::uint8_t be[8];
  for (int i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(id >> (56 - 8 * i));
  return prefixed_key("task/", ByteView(be, 8));
}

// --- small records ------------------------------------------------------------------------

struct U64Record {
  std::uint64_t value = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("value", s.value);
  }
};

struct BlockEvents {
  std::uint64_t height = 0;
  std::vector<Event> events;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("events", s.events, Max{1'000'000, 2});
  }
};


// --- state helpers -------------------------------------------------------------------------

Result<std::vector<std::uint64_t>> load_ids(const state::StateReader& s, const Bytes& key) {
  auto l = load_record<RecordList<U64Record>>(s, key);
  if (!l) return l.error();
  std::vector<std::uint64_t> out;
  for (const auto& i : l->items) out.push_back(i.value);
  return out;
}

void store_ids(state::StateOverlay& s, const Bytes& key, const std::vector<std::uint64_t>& ids) {
  if (ids.empty()) {
    s.erase(key);
    return;
  }
  RecordList<U64Record> l;
  for (auto i : ids) l.items.push_back({i});
  store_record(s, key, l);
}

Status add_id(state::StateOverlay& s, const Bytes& key, std::uint64_t id) {
  auto ids = load_ids(s, key);
  if (!ids) return ids.error();
  auto it = std::lower_bound(ids->begin(), ids->end(), id);
  if (it == ids->end() || *it != id) ids->insert(it, id);
  store_ids(s, key, *ids);
  return {};
}

Status remove_id(state::StateOverlay& s, const Bytes& key, std::uint64_t id) {
  auto ids = load_ids(s, key);
  if (!ids) return ids.error();
  ids->erase(std::remove(ids->begin(), ids->end(), id), ids->end());
  store_ids(s, key, *ids);
  return {};
}




// Pays `amount`, writing nothing for zero (no empty account is created).
Status pay(state::StateOverlay& s, const PublicKey& who, Amount amount) {
  if (amount.is_zero()) return {};
  return credit(s, who, amount);
}

Event event(std::string kind, std::vector<std::pair<std::string, std::string>> attrs) {
  return {std::move(kind), std::move(attrs)};
}
std::string num(std::uint64_t v) { return std::to_string(v); }

Result<WorkerRecord> require_worker(const state::StateReader& s, const PublicKey& key) {
  auto w = load_worker(s, key);
  if (!w) return w.error();
  if (!w->has_value()) return make_error("not-a-worker", "no worker with key " + key.hex());
  return **w;
}

void store_worker(state::StateOverlay& s, const WorkerRecord& w) { store_record(s, worker_key(w.key), w); }

Result<TaskRecord> require_task(const state::StateReader& s, std::uint64_t id) {
  auto t = load_task(s, id);
  if (!t) return t.error();
  if (!t->has_value()) return make_error("unknown-task", "no task " + num(id));
  return **t;
}

void store_task(state::StateOverlay& s, const TaskRecord& t) { store_record(s, task_key(t.id), t); }

void adjust(WorkerRecord& w, std::int64_t delta) {
  std::int64_t v = static_cast<std::int64_t>(w.reputation) + delta;
  w.reputation = static_cast<std::uint64_t>(std::clamp<std::int64_t>(v, 0, kReputationMax));
}

std::uint64_t amount_bps(std::uint64_t v, std::uint64_t bps) {
  return static_cast<std::uint64_t>(static_cast<u128>(v) * bps / kBpsDenominator);
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

// --- hook events ----------------------------------------------------------------------------

Status keep_block_events(state::StateOverlay& s, const state::BlockContext& ctx, std::vector<Event>& events) {
  auto stored = load_optional<BlockEvents>(s, kBlockEventsKey);
  if (!stored) return stored.error();
  BlockEvents b;
  if (stored->has_value() && (*stored)->height == ctx.height) b = std::move(**stored);
  b.height = ctx.height;
  for (auto& e : events) b.events.push_back(std::move(e));
  events.clear();
  if (b.events.empty()) {
    if (stored->has_value()) s.erase(kBlockEventsKey);
    return {};
  }
  store_record(s, kBlockEventsKey, b);
  return {};
}

// --- rounds ---------------------------------------------------------------------------------

// Opens a round that waits for workers from the next begin-block on.
Status open_round(state::StateOverlay& s, const state::BlockContext& ctx, TaskRecord& t, RoundKind kind,
                  const PublicKey& payer, Amount escrow) {
  Round r;
  r.kind = kind;
  r.payer = payer;
  r.escrow = escrow;
  r.requested_height = ctx.height;
  t.round = std::move(r);
  return add_id(s, kWaitingKey, t.id);
}

// Closes the round: no escrow may remain (callers pay it out first).
Status close_round(state::StateOverlay& s, TaskRecord& t) {
  if (t.round && !t.round->escrow.is_zero()) return local_error("state-corrupt", "closing a round with escrow left");
  t.round.reset();
  if (auto st = remove_id(s, kRunningKey, t.id); !st) return st;
  return remove_id(s, kWaitingKey, t.id);
}

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
  events.push_back(event("task_failed", {{"task", num(t.id)}, {"reason", why}, {"refund", refund.to_string()}}));
  return {};
}

// An audit that cannot run ends; the task stays settled as it was.
Status end_audit(state::StateOverlay& s, TaskRecord& t, const std::string& outcome, std::vector<Event>& events) {
  Amount refund = t.round->escrow;
  PublicKey auditor = t.round->payer;
  if (auto st = refund_round(s, t); !st) return st;
  if (auto st = close_round(s, t); !st) return st;
  events.push_back(event("task_audit_ended", {{"task", num(t.id)},
                                              {"auditor", auditor.hex()},
                                              {"outcome", outcome},
                                              {"refund", refund.to_string()}}));
  return {};
}

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

Status try_assign(state::StateOverlay& s, const state::BlockContext& ctx, const Hash256& commit_hash,
                  const std::vector<WorkerRecord>& workers, TaskRecord& t, std::vector<Event>& events) {
  Round& r = *t.round;
  // Excluded: whoever paid, the submitter, and every worker that served.
  std::vector<PublicKey> excluded = t.served;
  excluded.push_back(t.submitter);
  excluded.push_back(r.payer);
  const bool trusted_only = !(t.reward < ctx.params.untrusted_reward_cap);
  std::vector<Candidate> candidates;
  for (const auto& w : workers) {
    if (std::find(excluded.begin(), excluded.end(), w.key) != excluded.end()) continue;
    if (!w.active || w.stake.is_zero() || w.stake < ctx.params.min_worker_stake) continue;
    if (trusted_only && w.reputation < ctx.params.worker_reputation_threshold) continue;  // gradual trust
    candidates.push_back({w.key, worker_weight(w)});
  }
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
  std::string list;
  for (const auto& k : chosen) {
    r.assignments.push_back(Assignment{k, false, {}, false, {}, 0, 0, 0, {}});
    t.served.push_back(k);
    if (!list.empty()) list += ",";
    list += k.hex();
  }
  if (auto st = remove_id(s, kWaitingKey, t.id); !st) return st;
  if (auto st = add_id(s, kRunningKey, t.id); !st) return st;
  for (const auto& k : chosen)
    events.push_back(event("task_assigned", {{"task", num(t.id)},
                                             {"worker", k.hex()},
                                             {"round", round_kind_name(r.kind)},
                                             {"commit_deadline", num(r.commit_deadline)},
                                             {"reveal_deadline", num(r.reveal_deadline)}}));
  return {};
}

bool round_complete(const Round& r, std::uint64_t height) {
  if (height >= r.reveal_deadline) return true;
  bool all_committed = true, all_revealed = true;
  for (const auto& a : r.assignments) {
    all_committed = all_committed && a.committed;
    if (a.committed && !a.revealed) all_revealed = false;
  }
  return all_revealed && (all_committed || height >= r.commit_deadline);
}

// Settles a complete round.
Status settle_round(state::StateOverlay& s, const state::BlockContext& ctx, TaskRecord& t, std::vector<Event>& events) {
  Round& r = *t.round;
  // The majority: a result hash revealed by more than replicas / 2.
  std::map<Hash256, std::uint64_t> votes;
  for (const auto& a : r.assignments)
    if (a.revealed) votes[a.result_hash]++;
  std::optional<Hash256> winner;
  for (const auto& [h, n] : votes)
    if (n * 2 > r.assignments.size()) winner = h;

  // Reputation and slashing, one worker at a time, in assignment order.
  std::vector<PublicKey> agreeing;
  for (const auto& a : r.assignments) {
    auto w = require_worker(s, a.worker);
    if (!w) return w.error();
    if (!a.revealed) {
      adjust(*w, -static_cast<std::int64_t>(ctx.params.worker_reputation_loss));
      w->missed++;
      store_worker(s, *w);
      events.push_back(event("task_worker_missed", {{"task", num(t.id)}, {"worker", a.worker.hex()},
                                                    {"committed", a.committed ? "true" : "false"}}));
      continue;
    }
    if (!winner) continue;  // no majority: nobody can be called a liar
    if (a.result_hash == *winner) {
      adjust(*w, static_cast<std::int64_t>(ctx.params.worker_reputation_gain));
      w->agreed++;
      store_worker(s, *w);
      agreeing.push_back(a.worker);
    } else {
      adjust(*w, -static_cast<std::int64_t>(ctx.params.worker_reputation_loss));
      w->outvoted++;
      store_worker(s, *w);
      auto cut = slash_worker(s, ctx, a.worker);
      if (!cut) return cut.error();
      events.push_back(event("worker_slashed", {{"task", num(t.id)}, {"worker", a.worker.hex()},
                                                {"amount", cut->to_string()}, {"reason", "outvoted"}}));
    }
  }

  if (!winner) {
    // What really happened: nobody committed (the workers were away, or
    // could not finish in the window), or results came in without a majority.
    std::uint64_t committed = 0, revealed = 0;
    for (const auto& a : r.assignments) {
      committed += a.committed;
      revealed += a.revealed;
    }
    const std::string why = committed == 0 ? "no-commitments" : "no-majority";
    if (r.kind == RoundKind::audit) return end_audit(s, t, why, events);
    if (r.kind == RoundKind::first) {
      // Once more, on fresh workers, with the same escrow.
      Amount escrow = r.escrow;
      PublicKey payer = r.payer;
      r.escrow = Amount{};
      if (auto st = close_round(s, t); !st) return st;
      if (auto st = open_round(s, ctx, t, RoundKind::retry, payer, escrow); !st) return st;
      t.retry_reason = why;
      events.push_back(event("task_retry", {{"task", num(t.id)},
                                            {"reason", why},
                                            {"committed", num(committed)},
                                            {"revealed", num(revealed)}}));
      return {};
    }
    return fail_task(s, ctx, t, why, events);
  }

  // Pay the agreeing workers, locked for the challenge window.
  const std::uint64_t vest = ctx.height + ctx.params.reward_lock_blocks;
  for (const auto& k : agreeing) {
    if (auto st = take_from(r.escrow, t.reward); !st) return st;
    if (auto st = add_reward(s, k, vest, t.reward, ctx.height); !st) return st;
  }
  const Assignment* sample = nullptr;
  for (const auto& a : r.assignments)
    if (a.revealed && a.result_hash == *winner) {
      sample = &a;
      break;
    }

  if (r.kind == RoundKind::audit) {
    const PublicKey auditor = r.payer;
    t.audits++;
    if (*winner == t.result_hash) {
      Amount refund = r.escrow;
      if (auto st = refund_round(s, t); !st) return st;
      events.push_back(event("task_audited", {{"task", num(t.id)}, {"auditor", auditor.hex()},
                                              {"outcome", "confirmed"}, {"refund", refund.to_string()}}));
      return close_round(s, t);
    }
    // Overturned: the old majority's locked rewards go to the auditor, who
    // paid to expose them, and they are slashed as liars.
    Amount clawed;
    for (const auto& k : t.majority) {
      auto taken = take_reward(s, k, t.vest_height, t.reward);
      if (!taken) return taken.error();
      if (auto st = add_to(clawed, *taken); !st) return st;
      auto w = require_worker(s, k);
      if (!w) return w.error();
      adjust(*w, -static_cast<std::int64_t>(ctx.params.worker_reputation_loss));
      w->outvoted++;
      store_worker(s, *w);
      auto cut = slash_worker(s, ctx, k);
      if (!cut) return cut.error();
      events.push_back(event("worker_slashed", {{"task", num(t.id)}, {"worker", k.hex()},
                                                {"amount", cut->to_string()}, {"reason", "audit"},
                                                {"clawed_back", taken->to_string()}}));
    }
    if (auto st = pay(s, auditor, clawed); !st) return st;
    Amount refund = r.escrow;
    if (auto st = refund_round(s, t); !st) return st;
    t.result_hash = *winner;
    t.outcome = sample->outcome;
    t.exit_code = sample->exit_code;
    t.fuel_used = sample->fuel_used;
    t.output = sample->output;
    t.settled_height = ctx.height;
    t.vest_height = vest;
    t.majority = agreeing;
    events.push_back(event("task_audited", {{"task", num(t.id)}, {"auditor", auditor.hex()},
                                            {"outcome", "overturned"}, {"clawed_back", clawed.to_string()},
                                            {"result_hash", winner->hex()}, {"refund", refund.to_string()}}));
    return close_round(s, t);
  }

  // The shares of workers that did not agree go back to the submitter.
  Amount refund = r.escrow;
  if (auto st = refund_round(s, t); !st) return st;
  t.status = TaskStatus::settled;
  t.result_hash = *winner;
  t.outcome = sample->outcome;
  t.exit_code = sample->exit_code;
  t.fuel_used = sample->fuel_used;
  t.output = sample->output;
  t.settled_height = ctx.height;
  t.vest_height = vest;
  t.majority = agreeing;
  events.push_back(event("task_settled", {{"task", num(t.id)},
                                          {"result_hash", winner->hex()},
                                          {"outcome", num(t.outcome)},
                                          {"exit_code", num(t.exit_code)},
                                          {"fuel_used", num(t.fuel_used)},
                                          {"agreeing", num(agreeing.size())},
                                          {"vest_height", num(vest)},
                                          {"refund", refund.to_string()}}));
  return close_round(s, t);
}

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

}  // namespace

// --- names and encodings ---------------------------------------------------------------------

const char* round_kind_name(RoundKind k) {
  switch (k) {
    case RoundKind::first: return "first";
    case RoundKind::retry: return "retry";
    case RoundKind::audit: return "audit";
  }
  return "?";
}

const char* task_status_name(TaskStatus s) {
  switch (s) {
    case TaskStatus::open: return "open";
    case TaskStatus::settled: return "settled";
    case TaskStatus::failed: return "failed";
  }
  return "?";
}

void check_field(Reader& r, RoundKind k) {
  if (k > RoundKind::audit) r.fail("decode-bad-round", "unknown round kind");
}

void check_field(Reader& r, TaskStatus s) {
  if (s > TaskStatus::failed) r.fail("decode-bad-task", "unknown task status");
}

// --- queries ---------------------------------------------------------------------------------

Result<std::optional<WorkerRecord>> load_worker(const state::StateReader& s, const PublicKey& worker) {
  return load_optional<WorkerRecord>(s, worker_key(worker));
}

Result<std::vector<PublicKey>> worker_keys(const state::StateReader& s) {
  auto l = load_record<RecordList<KeyRecord>>(s, kWorkerListKey);
  if (!l) return l.error();
  std::vector<PublicKey> out;
  for (const auto& k : l->items) out.push_back(k.key);
  return out;
}

Result<std::optional<TaskRecord>> load_task(const state::StateReader& s, std::uint64_t id) {
  return load_optional<TaskRecord>(s, task_key(id));
}

Result<std::uint64_t> next_task_id(const state::StateReader& s) {
  auto n = load_record<U64Record>(s, kNextTaskKey, U64Record{1});
  if (!n) return n.error();
  return n->value;
}

Result<std::vector<TaskRecord>> list_tasks(const state::StateReader& s, std::uint64_t before, std::size_t limit,
                                           bool in_progress) {
  auto next = next_task_id(s);
  if (!next) return next.error();
  std::uint64_t id = (before == 0 || before > *next) ? *next : before;
  limit = std::min(limit, kMaxTaskList);
  std::vector<TaskRecord> out;
  if (in_progress) {
    std::vector<std::uint64_t> ids;
    for (const Bytes* list : {&kWaitingKey, &kRunningKey}) {
      auto l = load_ids(s, *list);
      if (!l) return l.error();
      for (auto i : *l)
        if (i < id) ids.push_back(i);
    }
    std::sort(ids.begin(), ids.end(), std::greater<>());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());  // a round is in one list; never list it twice
    if (ids.size() > limit) ids.resize(limit);
    for (auto i : ids) {
      auto t = require_task(s, i);
      if (!t) return t.error();
      out.push_back(std::move(*t));
    }
    return out;
  }
  while (id > 1 && out.size() < limit) {
    --id;
    auto t = load_task(s, id);
    if (!t) return t.error();
    if (t->has_value()) out.push_back(std::move(**t));
  }
  return out;
}

Result<std::optional<Bytes>> load_module(const state::StateReader& s, const Hash256& module_hash) {
  return s.get(module_key(module_hash));
}

Result<std::vector<Event>> task_block_events(const state::StateReader& s, std::uint64_t height) {
  auto b = load_optional<BlockEvents>(s, kBlockEventsKey);
  if (!b) return b.error();
  if (!b->has_value() || (*b)->height != height) return std::vector<Event>{};
  return (*b)->events;
}

Result<Amount> tasks_held(const state::StateReader& s) {
  Amount total;
  auto keys = worker_keys(s);
  if (!keys) return keys.error();
  for (const auto& k : *keys) {
    auto w = require_worker(s, k);
    if (!w) return w.error();
    if (auto st = add_to(total, w->stake); !st) return st.error();
    if (auto st = add_to(total, w->unbonding); !st) return st.error();
  }
  for (const Bytes* list : {&kWaitingKey, &kRunningKey}) {
    auto ids = load_ids(s, *list);
    if (!ids) return ids.error();
    for (auto id : *ids) {
      auto t = require_task(s, id);
      if (!t) return t.error();
      if (t->round)
        if (auto st = add_to(total, t->round->escrow); !st) return st.error();
    }
  }
  return total;
}

// --- assignment --------------------------------------------------------------------------------

unsigned __int128 worker_weight(const WorkerRecord& w) {
  return static_cast<u128>(w.stake.units()) * (kReputationMax + std::min<std::uint64_t>(w.reputation, kReputationMax));
}

// --- block hooks ----------------------------------------------------------------------------------

Status begin_block_tasks(state::StateOverlay& s, const state::BlockContext& ctx, const CommitCertificate& last_commit) {
  std::vector<Event> events;
  auto waiting = load_ids(s, kWaitingKey);
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
  return keep_block_events(s, ctx, events);
}

Status end_block_tasks(state::StateOverlay& s, const state::BlockContext& ctx) {
  std::vector<Event> events;
  auto running = load_ids(s, kRunningKey);
  if (!running) return running.error();
  for (auto id : *running) {
    auto t = require_task(s, id);
    if (!t) return t.error();
    if (!t->round || !round_complete(*t->round, ctx.height)) continue;
    if (auto st = settle_round(s, ctx, *t, events); !st) return st;
    store_task(s, *t);
  }
  if (ctx.height != 0 && ctx.height % ctx.params.epoch_blocks == 0) {
    auto keys = worker_keys(s);
    if (!keys) return keys.error();
    for (const auto& k : *keys) {
      auto w = require_worker(s, k);
      if (!w) return w.error();
      if (w->reputation == 0) continue;
      w->reputation -= amount_bps(w->reputation, ctx.params.reputation_decay_bps);
      store_worker(s, *w);
    }
  }
  return keep_block_events(s, ctx, events);
}

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
  if (!existing->has_value()) {
    auto l = load_record<RecordList<KeyRecord>>(s, kWorkerListKey);
    if (!l) return l.error();
    auto it = std::lower_bound(l->items.begin(), l->items.end(), KeyRecord{sender});
    l->items.insert(it, KeyRecord{sender});
    store_record(s, kWorkerListKey, *l);
  }
  events.push_back(event("worker_registered", {{"worker", sender.hex()}, {"added", p.stake.to_string()},
                                               {"stake", w.stake.to_string()}}));
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
  events.push_back(event("worker_unregistered", {{"worker", sender.hex()}, {"unbonding", w->unbonding.to_string()},
                                                 {"completion_height", num(w->unbonding_until)}}));
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
  events.push_back(event("worker_withdraw", {{"worker", sender.hex()}, {"amount", paid.to_string()}}));
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
  if (has_bytes) {
    // Content-addressed: the same module is stored once.
    module_hash = sha256(p.module.bytes);
    auto stored = s.get(module_key(module_hash));
    if (!stored) return stored.error();
    if (!stored->has_value()) s.put(module_key(module_hash), p.module.bytes);
  } else {
    auto stored = s.get(module_key(module_hash));
    if (!stored) return stored.error();
    if (!stored->has_value()) return make_error("unknown-module", "no module stored under " + module_hash.hex());
  }
  // The module must be one the workers can run, and the task records the
  // hash of the instrumented module they will run (docs/sandbox.md,
  // "Versions"): the meter is the sandbox's admission and rewriter.
  Hash256 metered_hash;
  if (meter) {
    Bytes stored_bytes;
    ByteView bytes = p.module.bytes;
    if (!has_bytes) {
      auto stored = s.get(module_key(module_hash));
      if (!stored) return stored.error();
      stored_bytes = std::move(**stored);
      bytes = stored_bytes;
    }
    auto m = meter->metered_hash(bytes, ctx.params.metering_version);
    if (!m) return make_error("bad-module", m.error().to_string());
    metered_hash = *m;
  }
  if (auto st = debit(s, sender, *escrow); !st) return st;

  auto id = next_task_id(s);
  if (!id) return id.error();
  store_record(s, kNextTaskKey, U64Record{*id + 1});
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
  events.push_back(event("task_submitted", {{"task", num(t.id)},
                                            {"submitter", sender.hex()},
                                            {"module_hash", module_hash.hex()},
                                            {"replicas", num(replicas)},
                                            {"reward", p.reward.to_string()},
                                            {"fuel", num(p.fuel)},
                                            {"commit_blocks", num(p.commit_blocks)},
                                            {"reveal_blocks", num(p.reveal_blocks)},
                                            {"metering_version", num(t.metering_version)},
                                            {"metered_hash", metered_hash.hex()},
                                            {"escrow", escrow->to_string()}}));
  return {};
}

Status commit_result(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                     const CommitResult& p, std::vector<Event>& events) {
  auto f = find_assignment(s, p.task, sender);
  if (!f) return f.error();
  Round& r = *f->task.round;
  Assignment& a = r.assignments[f->index];
  if (a.committed) return make_error("already-committed", "the sender has committed to task " + num(p.task));
  if (ctx.height > r.commit_deadline)
    return make_error("commit-closed", "the commit deadline was height " + num(r.commit_deadline));
  a.committed = true;
  a.commitment = p.commitment;
  store_task(s, f->task);
  events.push_back(event("task_committed", {{"task", num(p.task)}, {"worker", sender.hex()}}));
  return {};
}

Status reveal_result(state::StateOverlay& s, const state::BlockContext& ctx, const PublicKey& sender,
                     const RevealResult& p, std::vector<Event>& events) {
  auto f = find_assignment(s, p.task, sender);
  if (!f) return f.error();
  Round& r = *f->task.round;
  Assignment& a = r.assignments[f->index];
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
  bool all_committed = std::all_of(r.assignments.begin(), r.assignments.end(), [](const Assignment& x) { return x.committed; });
  if (!all_committed && ctx.height <= r.commit_deadline)
    return make_error("reveal-too-early", "reveals open after the commit deadline, height " + num(r.commit_deadline));
  Hash256 result = task_result_hash(p.outcome, p.exit_code, p.fuel_used, p.output.bytes);
  if (task_commitment(ctx.chain_id, p.task, result, p.salt, sender) != a.commitment)
    return make_error("commitment-mismatch", "the revealed result and salt do not open the commitment");
  a.revealed = true;
  a.result_hash = result;
  a.outcome = p.outcome;
  a.exit_code = p.exit_code;
  a.fuel_used = p.fuel_used;
  a.output = p.output.bytes;
  store_task(s, f->task);
  events.push_back(event("task_revealed", {{"task", num(p.task)}, {"worker", sender.hex()}, {"result_hash", result.hex()}}));
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
  events.push_back(event("task_audit_requested", {{"task", num(p.task)}, {"auditor", sender.hex()},
                                                  {"escrow", escrow->to_string()}}));
  return {};
}

}  // namespace verity::contracts
