#include "client/session.h"

#include <fcntl.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "core/hex.h"
#include "core/params.h"
#include "core/task_outcome.h"
#include "core/transaction.h"
#include "rpc/http_client.h"
#include "rpc/json_codec.h"
#include "rpc/ws_client.h"

namespace verity::client {

namespace {

// submit-task's defaults: fuel, the reveal window, and the least commit
// window (more when the fuel needs it at the reference speed).
constexpr std::uint64_t kDefaultTaskFuel = 1'000'000'000;
constexpr std::uint64_t kDefaultTaskBlocks = 20;

// The default commit window: at least kDefaultTaskBlocks, and at least what
// the chain requires for `fuel` at its reference speed (the same rule as
// the contract's, core/params.h), so that a default task is never refused
// and an honest worker at the reference speed finishes well inside it.
std::uint64_t default_commit_blocks(std::uint64_t fuel, std::uint64_t reference_fuel_per_block) {
  return std::max(kDefaultTaskBlocks, task_commit_blocks_needed(fuel, reference_fuel_per_block));
}

const std::string kSubmitTaskHelp = std::string(
    "Usage: verity submit-task FILE.wasm --from NAME --reward N [--input FILE] [--replicas R]\n"
    "                          [--fuel N] [--commit-blocks N] [--reveal-blocks N] [--fee N]\n"
    "                          [--wait [--timeout SECONDS]]\n"
    "Pays R x N into escrow for a WASI command module (FILE.wasm, _start) to be run by R staked\n"
    "workers on --input as stdin (default: empty). It waits for the submission's block and prints\n"
    "the task's id; with --wait it then follows the task as 'task watch' does and prints the\n"
    "result: exit 0 when it settles with outcome ok, 1 when it fails, settles with another outcome\n"
    "(out-of-fuel, trap, ...), or --timeout (default 120 s) runs out. The node checks the module before admitting it\n"
    "(imports outside the sandbox's WASI subset are refused: docs/sandbox.md). Defaults: the\n"
    "chain's replication, fuel 1000000000, 20 blocks to reveal, and a commit window of\n"
    "max(20, ceil(fuel / reference_fuel_per_block) + 2) blocks: the chain refuses a commit\n"
    "window shorter than the blocks the fuel takes at its reference speed plus 2 (bad-deadlines),\n"
    "and fuel above max_task_fuel (bad-fuel); a refusal exits 1 with the limit it hit. Windows\n"
    "count blocks, which come faster under load; a wider window only delays a round whose worker\n"
    "is missing, but an audit must fit both windows before the rewards vest (reward_lock_blocks).\n\n") +
    kTxCommonHelp;

// Warns (does not refuse: workers may still register) when fewer workers
// than the task's replicas could be drawn for it now (docs/contracts.md,
// "Tasks": active, at least min_worker_stake, not the submitter, and for a
// reward at or above untrusted_reward_cap a reputation of at least
// worker_reputation_threshold): such a task waits and fails no-workers.
Status warn_if_few_workers(Session& s, const std::string& from, const SubmitTask& t) {
  auto g = s.genesis();
  if (!g) return g.error();
  const Json* params = member(**g, "params");
  if (!params) return {};
  auto number = [&](const char* name) { return Amount::parse(text_of(*params, name)); };
  auto cap = number("untrusted_reward_cap");
  auto min_stake = number("min_worker_stake");
  auto threshold = u64_of(*params, "worker_reputation_threshold");
  auto replication = u64_of(*params, "task_replication");
  if (!cap || !min_stake || !threshold || !replication) return {};  // an older node: say nothing
  const std::uint64_t replicas = t.replicas == 0 ? *replication : t.replicas;
  auto node = s.node();
  if (!node) return node.error();
  auto workers = node->workers();
  if (!workers) return {};  // advice only: the submission itself says what is wrong
  auto me = s.address_of("--from", from);
  const bool trusted_only = !(t.reward < *cap);
  std::uint64_t eligible = 0, untrusted = 0;
  for (const auto& w : *workers) {
    if (!w.active || w.stake < *min_stake || (me && w.key == *me)) continue;
    if (trusted_only && w.reputation < *threshold) {
      ++untrusted;
      continue;
    }
    ++eligible;
  }
  if (eligible >= replicas) return {};
  std::string why = "only " + std::to_string(eligible) + " registered worker" + (eligible == 1 ? " is" : "s are") +
                    " eligible for this task now, and it needs " + std::to_string(replicas);
  if (trusted_only && untrusted > 0)
    why += ": its reward " + t.reward.to_string() + " is at or above the chain's untrusted_reward_cap " +
           cap->to_string() + ", which goes only to workers whose reputation has reached " +
           std::to_string(*threshold) + " ppm, and " + std::to_string(untrusted) +
           " have not; a reward below the cap reaches them all";
  why += ". It will wait for workers and, if none come within its windows, fail with no-workers (its escrow "
         "refunded); 'verity workers' lists them";
  s.warn("few-eligible-workers", "warning: " + why);
  return {};
}

// Defined below, with `task watch`.
Status watch_task(Session& s, std::uint64_t id, std::chrono::seconds timeout);
Result<std::chrono::seconds> timeout_arg(const Args& a);

Result<Bytes> read_binary_file(const std::string& flag, const std::string& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage_error(flag + ": cannot read '" + path + "'; check the path");
  Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > max)
    return usage_error(flag + ": '" + path + "' has " + std::to_string(data.size()) + " bytes; at most " +
                       std::to_string(max) + " fit in a task");
  return data;
}

Status cmd_submit_task(Session& s, const std::vector<std::string>& args) {
  Spec spec{"submit-task",
            {"from", "fee", "input", "replicas", "reward", "fuel", "commit-blocks", "reveal-blocks", "timeout"},
            kTxSwitches, 1, 1, "FILE.wasm"};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const auto& [a, c] = *parsed;
  SubmitTask t;
  auto module = read_binary_file("FILE.wasm", a.positional[0], kMaxTaskModuleBytes);
  if (!module) return module.error();
  t.module.bytes = std::move(*module);
  if (auto in = a.get("input")) {
    auto input = read_binary_file("--input", *in, kMaxTaskIoBytes);
    if (!input) return input.error();
    t.input.bytes = std::move(*input);
  }
  auto reward = required_amount(a, spec, "reward", "N (paid to each agreeing worker)");
  if (!reward) return reward.error();
  t.reward = *reward;
  t.fuel = kDefaultTaskFuel;
  t.commit_blocks = 0;  // derived below unless given
  t.reveal_blocks = kDefaultTaskBlocks;
  for (auto [flag, field] : {std::pair{"replicas", &t.replicas}, std::pair{"fuel", &t.fuel},
                             std::pair{"commit-blocks", &t.commit_blocks}, std::pair{"reveal-blocks", &t.reveal_blocks}}) {
    if (auto v = a.get(flag)) {
      auto n = parse_u64_arg(std::string("--") + flag, *v);
      if (!n) return n.error();
      *field = *n;
    }
  }
  if (!a.get("commit-blocks")) {
    // Long enough for an honest worker at the chain's reference speed: the
    // node refuses anything shorter (docs/contracts.md, "Tasks").
    auto g = s.genesis();
    if (!g) return g.error();
    const Json* params = member(**g, "params");
    auto per_block = params ? u64_of(*params, "reference_fuel_per_block") : std::nullopt;
    if (!per_block || *per_block == 0)
      return make_error("rpc-bad-response", "the node's genesis has no reference_fuel_per_block: is it a Verity node "
                                            "of this version? Pass --commit-blocks N");
    t.commit_blocks = default_commit_blocks(t.fuel, *per_block);
  }
  auto timeout = timeout_arg(a);
  if (!timeout) return timeout.error();
  if (auto st = warn_if_few_workers(s, c.from, t); !st) return st;
  const std::string summary = "submit-task " + a.positional[0] + " (" + std::to_string(t.module.bytes.size()) +
                              " bytes) from " + c.from + ", reward " + t.reward.to_string() + " per worker";
  // The task's id is in the receipt: the submission always waits for its
  // block; --wait then follows the task to its end.
  TxCommon committed = c;
  committed.wait = !c.dry_run;
  std::optional<ReceiptInfo> receipt;
  if (auto st = send_transaction(s, committed, std::move(t), summary, &receipt); !st) return st;
  if (!receipt) return {};  // --dry-run
  std::optional<std::uint64_t> id;
  for (const auto& e : receipt->events)
    if (e.kind == "task_submitted")
      for (const auto& [name, value] : e.attributes)
        if (auto n = parse_u64_arg("task", value); name == "task" && n) id = *n;
  if (!id || *id == 0) return make_error("rpc-bad-response", "the receipt has no task_submitted event with the task id");
  if (!s.json())
    s.io().out << "task " << *id << " submitted"
               << (c.wait ? "; following it until it ends\n" : "; follow it with 'verity task watch " +
                                                                  std::to_string(*id) + "' (or pass --wait)\n");
  if (!c.wait) return {};
  return watch_task(s, *id, *timeout);
}

const std::string kRegisterWorkerHelp = std::string(
    "Usage: verity register-worker --from NAME --stake N [--fee N] [--wait]\n"
    "Registers --from as a task worker with N of its balance as worker stake (at least the chain's\n"
    "min_worker_stake), or adds N to its worker stake. Run the tasks with verity-worker.\n\n") + kTxCommonHelp;

Status cmd_register_worker(Session& s, const std::vector<std::string>& args) {
  Spec spec{"register-worker", {"from", "fee", "stake"}, kTxSwitches, 0, 0, ""};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const auto& [a, c] = *parsed;
  auto stake = required_amount(a, spec, "stake", "N (the worker stake)");
  if (!stake) return stake.error();
  return send_transaction(s, c, RegisterWorker{*stake}, "register-worker " + c.from + ", stake " + stake->to_string());
}

const std::string kUnregisterWorkerHelp = std::string(
    "Usage: verity unregister-worker --from NAME [--fee N] [--wait]\n"
    "Stops new task assignments to --from; its worker stake starts unbonding and 'withdraw' pays it\n"
    "after the unbonding period. Rounds it is already in still count on it: keep verity-worker\n"
    "running until they end.\n\n") + kTxCommonHelp;

const std::string kRequestAuditHelp = std::string(
    "Usage: verity request-audit ID --from NAME [--fee N] [--wait]\n"
    "Pays replicas x reward (escrowed) to rerun settled task ID on fresh workers while its rewards\n"
    "are locked. If the audit's majority disagrees, the old majority's locked rewards go to --from\n"
    "and its workers are slashed; 'verity task ID' shows how it ended.\n\n") + kTxCommonHelp;

Status cmd_request_audit(Session& s, const std::vector<std::string>& args) {
  Spec spec{"request-audit", {"from", "fee"}, kTxSwitches, 1, 1, "ID"};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const auto& [a, c] = *parsed;
  auto id = parse_u64_arg("ID", a.positional[0]);
  if (!id) return id.error();
  return send_transaction(s, c, RequestAudit{*id}, "request-audit of task " + a.positional[0] + " by " + c.from);
}

const char* kTaskHelp =
    "Usage: verity task ID\n"
    "       verity task watch ID [--timeout SECONDS]\n"
    "A task of the market: its terms, the round in progress (assigned workers, who committed and\n"
    "revealed) and, once settled, the result (--json: the node's answer as is).\n"
    "'task watch' prints the task's history so far (submitted, assigned, committed, revealed, ...),\n"
    "then follows its events over the WebSocket until it ends, and prints the result. A task not\n"
    "in a block yet is waited for. Exit 0 when it settles with outcome ok; 1 when it fails, when\n"
    "the workers agreed on another outcome (out-of-fuel, trap, ...: the reason is its name), or\n"
    "after --timeout (default 120 s). A settled task under audit is followed until the audit ends\n"
    "(task_audited or task_audit_ended).\n";

std::string outcome_text(std::uint64_t n) {
  auto known = outcome_name_of(n);
  return known ? std::string(*known) : std::to_string(n);
}

void print_task(std::ostream& o, const rpc::TaskInfo& t) {
  o << "task " << t.id << ": " << t.status;
  if (!t.failure.empty()) o << " (" << t.failure << ")";
  o << "\n  submitter " << t.submitter.hex() << " at height " << t.submitted_height << "\n";
  o << "  module " << t.module_hash.hex() << ", input " << t.input.size() << " bytes\n";
  o << "  replicas " << t.replicas << ", reward " << t.reward.to_string() << " per worker, fuel " << t.fuel
    << " (metering version " << t.metering_version << "), " << t.commit_blocks << " blocks to commit, "
    << t.reveal_blocks << " to reveal\n";
  if (!t.retry_reason.empty()) o << "  retried: the first round ended with " << t.retry_reason << "\n";
  if (const auto& r = t.round) {
    o << "  round " << r->kind << ": ";
    if (r->assigned_height == 0)
      o << "waiting for assignment\n";
    else
      o << "assigned at " << r->assigned_height << ", commit by " << r->commit_deadline << ", reveal by "
        << r->reveal_deadline << "\n";
    for (const auto& a : r->assignments)
      o << "    worker " << a.worker.hex() << ": "
        << (a.revealed ? "revealed " + outcome_text(a.outcome) + ", fuel " + std::to_string(a.fuel_used)
                       : a.committed ? std::string("committed") : std::string("assigned"))
        << "\n";
  }
  if (const auto& r = t.result) {
    o << "  result " << outcome_text(r->outcome) << ", exit " << r->exit_code << ", fuel " << r->fuel_used
      << ", settled at " << r->settled_height << " (rewards vest at " << r->vest_height << ")\n";
    o << "  result hash " << r->result_hash.hex() << "\n";
    for (const auto& k : r->majority) o << "    agreed: " << k.hex() << "\n";
    std::string text(r->output.begin(), r->output.end());
    bool printable = std::all_of(text.begin(), text.end(), [](unsigned char ch) {
      return ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f);
    });
    o << "  output (" << r->output.size() << " bytes)" << (printable ? ":\n" + text : ": " + to_hex(r->output))
      << (printable && !text.empty() && text.back() != '\n' ? "\n" : "");
    if (!printable) o << "\n";
  }
  o << "  audits " << t.audits << "\n";
}

void print_task_json(std::ostream& o, const rpc::TaskInfo& t) {
  rapidjson::Document d;
  static_cast<Json&>(d) = rpc::record_to_json(t, d.GetAllocator());
  print_json(o, d);
}

Result<rpc::TaskInfo> fetch_task(Session& s, std::uint64_t id) {
  auto node = s.node();
  if (!node) return node.error();
  auto t = node->task(id);
  if (!t) return t.error();
  if (!*t) return make_error("not-found", "no task " + std::to_string(id) + " on this chain");
  return **t;
}

// One task event as the `tasks` topic sends it ({height, tx, kind,
// attributes}), for --json; as "height H: KIND name=value..." otherwise.
void print_task_event(Session& s, std::uint64_t height, const std::optional<Hash256>& tx, const Event& e) {
  auto& o = s.io().out;
  if (s.json()) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("height", Json(height), a);
    d.AddMember("tx", tx ? rpc::to_json(*tx, a) : Json(), a);
    d.AddMember("kind", rpc::to_json(e.kind, a), a);
    d.AddMember("attributes", rpc::record_to_json(e.attributes, a), a);
    print_json(o, d);
    return;
  }
  o << "height " << height << ": " << e.kind;
  for (const auto& [name, value] : e.attributes)
    if (name != "task") o << " " << name << "=" << value;
  o << "\n";
}

bool ends_round(const std::string& kind) {
  return kind == "task_settled" || kind == "task_failed" || kind == "task_audited" || kind == "task_audit_ended";
}

// How a task that ended ended, as an exit status: settled with outcome ok
// is 0; failed, or settled with another outcome (the workers agreed that
// the module trapped, ran out of fuel, ...), is an error naming it.
Status task_verdict(const rpc::TaskInfo& t) {
  const std::string id = std::to_string(t.id);
  if (t.status == "failed") {
    std::string hint;
    if (t.failure == "no-workers")
      hint = ": not enough eligible workers for its replicas within its windows; a worker needs "
             "min_worker_stake, is never the submitter, and one whose reputation is below the chain's "
             "worker_reputation_threshold takes only tasks whose reward is below untrusted_reward_cap "
             "(docs/contracts.md, Tasks): 'verity workers' lists them";
    else if (t.failure == "no-commitments")
      hint = ": no assigned worker committed in the commit window, twice; are the workers running?";
    else if (t.failure == "no-majority")
      hint = ": the workers' results disagreed, twice";
    return make_error("task-failed", "task " + id + " failed: " + t.failure + hint + "; its escrow was refunded");
  }
  if (t.result && t.result->outcome != 0) {
    const std::string name = outcome_text(t.result->outcome);
    std::string hint = name == "out-of-fuel" ? "; submit it again with a higher --fuel ('verity-worker exec "
                                               "FILE.wasm' measures what a module uses)"
                                             : "; 'verity-worker exec FILE.wasm' runs it locally to see why";
    return make_error(name, "task " + id + " settled, but the workers agreed its module ended with " + name +
                                " (exit code " + std::to_string(t.result->exit_code) + ", fuel " +
                                std::to_string(t.result->fuel_used) + ")" + hint);
  }
  return {};
}

// Follows task `id` from its submission on: waits until a block has it,
// prints its history so far (the node's history index, oldest first),
// then its events as they happen (the `tasks` WebSocket topic, opened
// first so nothing falls between), until it settles or fails (a settled
// task under audit: until the audit ends). Returns the task as it ended.
Result<rpc::TaskInfo> follow_task(Session& s, std::uint64_t id, std::chrono::seconds timeout) {
  auto url = rpc::parse_rpc_url(s.rpc_url());
  if (!url) return usage_error("--rpc: " + url.error().detail);
  auto node = s.node();
  if (!node) return node.error();
  auto& o = s.io().out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string want = std::to_string(id);
  const auto timed_out = [&] {
    return make_error("timeout", "task " + want + " did not end within " + std::to_string(timeout.count()) +
                                     " s; 'verity task " + want + "' shows where it is");
  };
  auto sub = rpc::WsSubscription::open(*url, "tasks");
  if (!sub) return sub.error();

  // Not in a block yet (just sent, or a mistyped id): wait for it.
  bool said = false;
  while (true) {
    auto t = node->task(id);
    if (!t) return t.error();
    if (*t) break;
    if (std::chrono::steady_clock::now() >= deadline) return timed_out();
    if (!said && !s.json()) o << "task " << id << ": not in a block yet; waiting\n";
    said = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  // Its history so far, oldest first; events at or below `seen` are in it.
  std::vector<rpc::HistoryItemInfo> past;
  std::uint64_t seen = 0;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    auto h = node->task_history(id, cursor);
    if (!h) return h.error();
    if (page == 0) seen = h->height;
    past.insert(past.end(), h->entries.begin(), h->entries.end());
    if (h->next_cursor.empty()) break;
    cursor = h->next_cursor;
  }
  for (auto it = past.rbegin(); it != past.rend(); ++it)
    for (const auto& e : it->events) print_task_event(s, it->height, it->tx_hash, e);
  // An event of this task from the socket, printed once (above `seen`):
  // true when it ends a round.
  const auto show = [&](const Json& result) {
    const Json* attrs = member(result, "attributes");
    auto height = u64_of(result, "height");
    if (!attrs || !height || text_of(*attrs, "task") != want || *height <= seen) return false;
    Event e;
    e.kind = text_of(result, "kind");
    for (auto m = attrs->MemberBegin(); m != attrs->MemberEnd(); ++m)
      if (m->value.IsString()) e.attributes.emplace_back(m->name.GetString(), m->value.GetString());
    std::optional<Hash256> tx;
    if (auto h = Hash256::from_hex(text_of(result, "tx"))) tx = *h;
    print_task_event(s, *height, tx, e);
    return ends_round(e.kind);
  };
  auto t = fetch_task(s, id);
  if (!t) return t.error();
  const bool audit = t->status == "settled" && t->round;  // an audit runs: follow it
  if (t->status != "open" && !audit) {
    // It may have ended while its history was read: what the socket has
    // of it since, for half a second at most (other tasks' events keep
    // coming on a busy chain).
    const auto drained = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    for (auto now = std::chrono::steady_clock::now(); now < drained; now = std::chrono::steady_clock::now()) {
      auto event = (*sub)->next(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(drained - now),
                                         std::chrono::milliseconds(200)));
      if (!event || !*event) break;
      show(**event);
    }
    return fetch_task(s, id);
  }
  if (!s.json())
    o << "task " << id << ": " << t->status << (audit ? ", audit in progress" : "") << " (watching; at most "
      << timeout.count() << " s)\n";
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return timed_out();
    auto event = (*sub)->next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!event) return event.error();
    if (!*event) return timed_out();
    if (show(**event)) return fetch_task(s, id);
  }
}

// task watch ID, and submit-task --wait: follow it, print how it ended.
Status watch_task(Session& s, std::uint64_t id, std::chrono::seconds timeout) {
  auto t = follow_task(s, id, timeout);
  if (!t) return t.error();
  if (s.json())
    print_task_json(s.io().out, *t);
  else
    print_task(s.io().out, *t);
  return task_verdict(*t);
}

Result<std::chrono::seconds> timeout_arg(const Args& a) {
  std::uint64_t secs = 120;
  if (auto t = a.get("timeout")) {
    auto n = parse_u64_arg("--timeout", *t);
    if (!n) return n.error();
    secs = *n;
  }
  return std::chrono::seconds(secs);
}

Status cmd_task(Session& s, const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "watch") {
    auto a = parse_args(Spec{"task watch", {"timeout"}, {}, 1, 1, "ID"}, {args.begin() + 1, args.end()});
    if (!a) return a.error();
    auto id = parse_u64_arg("ID", a->positional[0]);
    if (!id) return id.error();
    auto timeout = timeout_arg(*a);
    if (!timeout) return timeout.error();
    return watch_task(s, *id, *timeout);
  }
  auto a = parse_args(Spec{"task", {}, {}, 1, 1, "ID"}, args);
  if (!a) return a.error();
  auto id = parse_u64_arg("ID", a->positional[0]);
  if (!id) return id.error();
  auto r = fetch_task(s, *id);
  if (!r) return r.error();
  if (s.json())
    print_task_json(s.io().out, *r);
  else
    print_task(s.io().out, *r);
  return {};
}

// --- tasks, workers, worker ------------------------------------------------------------

const char* kTasksHelp =
    "Usage: verity tasks [--status open|settled|failed] [--mine --from NAME] [--limit N]\n"
    "The latest tasks, newest first (at most --limit, default 20): id, status, submission height,\n"
    "reward, fuel and result. --status keeps those in that status (reading at most the latest\n"
    "1000 tasks); --mine --from NAME those NAME submitted (from the node's history of the account).\n";

std::string percent_of_ppm(std::uint64_t ppm) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", static_cast<double>(ppm) / 10'000.0);
  return buf;
}

Status cmd_tasks(Session& s, const std::vector<std::string>& args) {
  Spec spec{"tasks", {"status", "from", "limit"}, {"mine"}, 0, 0, ""};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  std::uint64_t limit = 20;
  if (auto l = a->get("limit")) {
    auto n = parse_u64_arg("--limit", *l);
    if (!n) return n.error();
    if (*n == 0 || *n > 100) return usage_error("--limit: from 1 to 100");
    limit = *n;
  }
  const std::string status = a->get("status").value_or("");
  if (!status.empty() && status != "open" && status != "settled" && status != "failed")
    return usage_error("--status: open, settled or failed");
  if (a->has("mine") != a->get("from").has_value())
    return usage_error("--mine needs --from NAME (whose tasks), and --from here means --mine");
  auto node = s.node();
  if (!node) return node.error();
  std::vector<rpc::TaskInfo> found;
  const auto keep = [&](const rpc::TaskInfo& t) {
    if (found.size() < limit && (status.empty() || t.status == status)) found.push_back(t);
  };
  if (a->has("mine")) {
    auto me = s.address_of("--from", *a->get("from"));
    if (!me) return me.error();
    std::string cursor;
    for (int page = 0; page < 10 && found.size() < limit; ++page) {
      auto h = node->account_history(*me, cursor);
      if (!h) return h.error();
      for (const auto& entry : h->entries)
        for (const auto& e : entry.events) {
          if (e.kind != "task_submitted") continue;
          std::optional<std::uint64_t> id;
          bool mine = false;
          for (const auto& [name, value] : e.attributes) {
            if (name == "task")
              if (auto n = parse_u64_arg("task", value)) id = *n;
            if (name == "submitter") mine = value == me->hex();
          }
          if (!id || !mine) continue;
          auto t = node->task(*id);
          if (!t) return t.error();
          if (*t) keep(**t);
        }
      if (h->next_cursor.empty()) break;
      cursor = h->next_cursor;
    }
  } else {
    std::uint64_t before = 0;
    for (int page = 0; page < 10 && found.size() < limit; ++page) {
      auto list = node->tasks(before, status.empty() ? limit : 100, false);
      if (!list) return list.error();
      for (const auto& t : *list) keep(t);
      if (list->empty() || list->back().id <= 1) break;
      before = list->back().id;
    }
  }
  auto& o = s.io().out;
  if (s.json()) {
    rapidjson::Document d(rapidjson::kObjectType);
    d.AddMember("tasks", rpc::record_to_json(found, d.GetAllocator()), d.GetAllocator());
    print_json(o, d);
    return {};
  }
  if (found.empty()) {
    o << "no tasks" << (status.empty() ? "" : " " + status) << (a->has("mine") ? " submitted by " + *a->get("from") : "")
      << "\n";
    return {};
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "STATUS", "SUBMITTED", "REWARD", "FUEL", "RESULT"}};
  for (const auto& t : found)
    rows.push_back({std::to_string(t.id), t.status + (t.failure.empty() ? "" : " (" + t.failure + ")"),
                    std::to_string(t.submitted_height), t.reward.to_string() + " x " + std::to_string(t.replicas),
                    std::to_string(t.fuel),
                    t.result ? outcome_text(t.result->outcome) + ", fuel " + std::to_string(t.result->fuel_used)
                             : std::string(t.round ? "running" : "")});
  print_columns(o, rows);
  return {};
}

std::vector<std::string> worker_row(const rpc::WorkerInfo& w) {
  return {w.key.hex(), w.stake.to_string(), w.active ? "active" : "unbonding", percent_of_ppm(w.reputation),
          std::to_string(w.agreed), std::to_string(w.outvoted), std::to_string(w.missed), std::to_string(w.slashes)};
}
const std::vector<std::string> kWorkerHead = {"WORKER", "STAKE", "STATUS", "REPUTATION", "AGREED", "OUTVOTED",
                                              "MISSED", "SLASHES"};

const char* kWorkersHelp = "Usage: verity workers\nEvery registered worker: stake, status, reputation and record.\n";

Status cmd_workers(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"workers", {}, {}, 0, 0, ""}, args);
  if (!a) return a.error();
  auto r = s.call("workers");
  if (!r) return r.error();
  if (s.json()) {
    print_json(s.io().out, *r);
    return {};
  }
  auto list = rpc::member_from_json<std::vector<rpc::WorkerInfo>>(*r, "workers", "workers");
  if (!list) return list.error();
  if (list->empty()) {
    s.io().out << "no registered workers ('verity register-worker' registers one)\n";
    return {};
  }
  std::vector<std::vector<std::string>> rows = {kWorkerHead};
  for (const auto& w : *list) rows.push_back(worker_row(w));
  print_columns(s.io().out, rows);
  return {};
}

const char* kWorkerHelp =
    "Usage: verity worker ADDRESS|NAME\n"
    "A registered worker: stake, status, reputation and record, and its reputation over time (the\n"
    "last 10 changes of its record, from the node's history).\n";

Status cmd_worker(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"worker", {}, {}, 1, 1, "ADDRESS|NAME"}, args);
  if (!a) return a.error();
  auto key = s.address_of("", a->positional[0]);
  if (!key) return key.error();
  auto node = s.node();
  if (!node) return node.error();
  auto w = node->worker(*key);
  if (!w) return w.error();
  if (!*w)
    return make_error("not-found", label(a->positional[0], *key) + " is not a registered worker ('verity workers' "
                                   "lists them)");
  rapidjson::Document params(rapidjson::kObjectType);
  params.AddMember("address", rpc::to_json(key->hex(), params.GetAllocator()), params.GetAllocator());
  params.AddMember("limit", Json(10), params.GetAllocator());
  auto h = s.call("worker_history", params);
  if (!h) return h.error();
  auto points = rpc::member_from_json<std::vector<rpc::WorkerPointInfo>>(*h, "points", "worker_history");
  if (!points) return points.error();
  auto& o = s.io().out;
  if (s.json()) {
    rapidjson::Document d;
    static_cast<Json&>(d) = rpc::record_to_json(**w, d.GetAllocator());
    d.AddMember("history", rpc::record_to_json(*points, d.GetAllocator()), d.GetAllocator());
    print_json(o, d);
    return {};
  }
  const rpc::WorkerInfo& x = **w;
  o << "worker " << label(a->positional[0], *key) << "\n"
    << "  stake       " << x.stake.to_string()
    << (x.active ? std::string(", active")
                 : ", unbonding " + x.unbonding.to_string() + " until height " + std::to_string(x.unbonding_until))
    << "\n"
    << "  reputation  " << percent_of_ppm(x.reputation) << "\n"
    << "  rounds      " << x.agreed << " agreed, " << x.outvoted << " outvoted, " << x.missed << " missed; "
    << x.slashes << " slashes\n";
  if (!points->empty()) o << "  reputation over time (newest first):\n";
  for (const auto& p : *points)
    o << "    height " << p.height << ": " << percent_of_ppm(p.reputation) << ", stake " << p.stake.to_string()
      << ", " << p.agreed << " agreed, " << p.outvoted << " outvoted, " << p.missed << " missed\n";
  return {};
}

}  // namespace

std::vector<Command> task_commands() {
  return {
      {"submit-task", "FILE.wasm --from NAME --reward N: pay workers to run a WASM task", kSubmitTaskHelp,
       cmd_submit_task},
      {"register-worker", "--from NAME --stake N: become a task worker", kRegisterWorkerHelp, cmd_register_worker},
      {"unregister-worker", "--from NAME: stop taking tasks, unbond the worker stake", kUnregisterWorkerHelp,
       [](Session& s, const auto& a) { return cmd_simple<UnregisterWorker>(s, a, "unregister-worker"); }},
      {"request-audit", "ID --from NAME: pay to rerun a settled task on fresh workers", kRequestAuditHelp,
       cmd_request_audit},
      {"task", "ID | watch ID: a task, or follow it until it settles", kTaskHelp, cmd_task},
      {"tasks", "[--status S] [--mine --from NAME]: the latest tasks", kTasksHelp, cmd_tasks},
      {"workers", "the registered workers", kWorkersHelp, cmd_workers},
      {"worker", "ADDRESS|NAME: a worker and its reputation over time", kWorkerHelp, cmd_worker},
  };
}

}  // namespace verity::client
