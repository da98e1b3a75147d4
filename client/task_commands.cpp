#include "client/session.h"

#include <fcntl.h>

#include <algorithm>
#include <fstream>

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
    "                          [--fuel N] [--commit-blocks N] [--reveal-blocks N] [--fee N] [--wait]\n"
    "Pays R x N into escrow for a WASI command module (FILE.wasm, _start) to be run by R staked\n"
    "workers on --input as stdin (default: empty). The node checks the module before admitting it\n"
    "(imports outside the sandbox's WASI subset are refused: docs/sandbox.md). Defaults: the\n"
    "chain's replication, fuel 1000000000, 20 blocks to reveal, and a commit window of\n"
    "max(20, ceil(fuel / reference_fuel_per_block) + 2) blocks: the chain refuses a commit\n"
    "window shorter than the blocks the fuel takes at its reference speed plus 2 (bad-deadlines),\n"
    "and fuel above max_task_fuel (bad-fuel); a refusal exits 1 with the limit it hit. Windows\n"
    "count blocks, which come faster under load; a wider window only delays a round whose worker\n"
    "is missing, but an audit must fit both windows before the rewards vest (reward_lock_blocks).\n\n") +
    kTxCommonHelp;

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
            {"from", "fee", "input", "replicas", "reward", "fuel", "commit-blocks", "reveal-blocks"},
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
  const std::string summary = "submit-task " + a.positional[0] + " (" + std::to_string(t.module.bytes.size()) +
                              " bytes) from " + c.from + ", reward " + t.reward.to_string() + " per worker";
  return send_transaction(s, c, std::move(t), summary);
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
    "'task watch' follows the task's events over the WebSocket (assigned, committed, revealed,\n"
    "settled or failed) and ends when it settles (exit 0) or fails (exit 1), or after --timeout\n"
    "(default 120 s; exit 1). A settled task under audit is followed until the audit ends\n"
    "(task_audited or task_audit_ended; exit 0).\n";

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

// Follows the tasks topic until task `id` settles or fails.
Status watch_task(Session& s, const std::string& rpc_text, std::uint64_t id, std::chrono::seconds timeout) {
  auto url = rpc::parse_rpc_url(rpc_text);
  if (!url) return usage_error("--rpc: " + url.error().detail);
  auto& o = s.io().out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto sub = rpc::WsSubscription::open(*url, "tasks");
  if (!sub) return sub.error();
  // The task as it is now: it may have settled already.
  auto t = fetch_task(s, id);
  if (!t) return t.error();
  const std::string status = t->status;
  const bool audit = status == "settled" && t->round;  // an audit runs: follow it
  if (!s.json())
    o << "task " << id << ": " << status << (audit ? ", audit in progress" : "") << " (watching; at most "
      << timeout.count() << " s)\n";
  if (status != "open" && !audit) {
    if (s.json()) print_task_json(o, *t);
    return status == "settled" ? Status{} : make_error("task-failed", "task " + std::to_string(id) + " failed: " + t->failure);
  }
  const std::string want = std::to_string(id);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    auto event = (*sub)->next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!event) return event.error();
    if (!*event) break;
    const Json& result = **event;
    const Json* attrs = member(result, "attributes");
    if (!attrs || text_of(*attrs, "task") != want) continue;
    const std::string kind = text_of(result, "kind");
    if (s.json()) {
      print_json(o, result);
    } else {
      o << "height " << text_of(result, "height") << ": " << kind;
      for (auto it = attrs->MemberBegin(); it != attrs->MemberEnd(); ++it)
        if (std::string(it->name.GetString()) != "task" && it->value.IsString())
          o << " " << it->name.GetString() << "=" << it->value.GetString();
      o << "\n";
    }
    if (kind == "task_settled" || kind == "task_failed" || kind == "task_audited" || kind == "task_audit_ended") {
      auto fin = fetch_task(s, id);
      if (fin && !s.json()) print_task(o, *fin);
      if (kind == "task_failed")
        return make_error("task-failed", "task " + want + " failed: " + text_of(*attrs, "reason"));
      return {};
    }
  }
  return make_error("timeout", "task " + want + " did not settle within " + std::to_string(timeout.count()) +
                                   " s; 'verity task " + want + "' shows where it is");
}

Status cmd_task(Session& s, const std::vector<std::string>& args, const std::string& rpc_text) {
  if (!args.empty() && args[0] == "watch") {
    auto a = parse_args(Spec{"task watch", {"timeout"}, {}, 1, 1, "ID"}, {args.begin() + 1, args.end()});
    if (!a) return a.error();
    auto id = parse_u64_arg("ID", a->positional[0]);
    if (!id) return id.error();
    std::uint64_t secs = 120;
    if (auto t = a->get("timeout")) {
      auto n = parse_u64_arg("--timeout", *t);
      if (!n) return n.error();
      secs = *n;
    }
    return watch_task(s, rpc_text, *id, std::chrono::seconds(secs));
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
      {"task", "ID | watch ID: a task, or follow it until it settles", kTaskHelp,
       [](Session& s, const auto& a) { return cmd_task(s, a, s.rpc_url()); }},
  };
}

}  // namespace verity::client
