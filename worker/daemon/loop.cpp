#include "worker/daemon/loop.h"
#include "worker/daemon/exec.h"
#include "worker/daemon/planner.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <fcntl.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>

#include "core/hash.h"
#include "core/hex.h"
#include "core/transaction.h"
#include "cli/args.h"
#include "cli/key_file.h"
#include "cli/keystore.h"
#include "cli/program.h"
#include "cli/secret_file.h"
#include "cli/terminal.h"
#include "client/rpc_client.h"
#include "rpc/http_client.h"
#include "rpc/json_codec.h"
#include "rpc/ws_client.h"
#include "worker/child_process.h"
#include "worker/sandbox.h"

namespace verity::worker {
namespace fs = std::filesystem;
using Json = rapidjson::Value;
using cli::kExitFailure;
using cli::kExitOk;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kRevealOutputCap = kMaxTaskIoBytes;  // a reveal carries at most 64 KiB
constexpr auto kResendAfter = std::chrono::seconds(8);
constexpr int kMaxScanPages = 20;  // 2,000 tasks in progress per scan
constexpr auto kStopPoll = std::chrono::milliseconds(250);
// The fuel rules (docs/sandbox.md, "Metering"; genesis metering_version)
// this worker's sandbox implements. A task recorded under another version
// is not run: its fuel, and so its result hash, would not be the task's.
const std::uint64_t kSandboxMeteringVersion = worker::metering_version();

using rpc::member;

// The node's answers are read strictly, by the typed client
// (client/rpc_client.h): a missing or mistyped field is an error that names
// it (reason rpc-bad-response), never a default (a missing `fuel` once read
// as 0 and ran the task with no fuel at all).

// What the typed record cannot say for itself: a status the worker knows,
// and a result for a settled task.
Status check_task(const rpc::TaskInfo& t) {
  auto bad = [](const std::string& what) { return make_error("rpc-bad-response", "the node's task answer: " + what); };
  if (t.status != "open" && t.status != "settled" && t.status != "failed")
    return bad("`status` is '" + t.status + "', not open, settled or failed");
  if (t.status == "settled" && !t.result) return bad("`result` is null for a settled task");
  return {};
}

// Lenient reads, for what only goes into the log (and the wake-up hints of
// WebSocket events, which the worker checks against a `task` answer).
std::string str_of(const Json& v, const char* name) {
  const Json* m = member(v, name);
  if (!m) return {};
  if (m->IsString()) return std::string(m->GetString(), m->GetStringLength());
  if (m->IsUint64()) return std::to_string(m->GetUint64());
  if (m->IsBool()) return m->GetBool() ? "true" : "false";
  return {};
}

std::string now_text() {
  auto t = std::chrono::system_clock::now();
  std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03d", buf, static_cast<int>(ms));
  return out;
}

Hash256 random_salt() {
  Hash256 h;
  std::size_t got = 0;
  while (got < h.data.size()) {
    ssize_t n = ::getrandom(h.data.data() + got, h.data.size() - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  return h;
}

// Writes `text` to `path` atomically: a temporary file, fsync, rename.
Status write_atomic(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return local_error("io", "cannot write " + tmp.string());
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n <= 0) {
      ::close(fd);
      return local_error("io", "cannot write " + tmp.string());
    }
    off += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return local_error("io", "cannot rename " + tmp.string() + ": " + ec.message());
  return {};
}

// HOME/tasks/ID.json: one JSON object, by the record codec the RPC uses.
std::string encode_state(const TaskState& s) {
  rapidjson::Document d;
  static_cast<Json&>(d) = rpc::record_to_json(s, d.GetAllocator());
  return rpc::json_string(d) + "\n";
}

std::optional<TaskState> decode_state(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  auto s = rpc::record_from_json<TaskState>(d, "state file");
  if (!s) return std::nullopt;
  return *s;
}

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::uint64_t> woken;  // task ids named by events
  bool rescan = false;
};

// The WebSocket subscriber: its own thread, reconnects with backoff. Reads
// wait at most kStopPoll at a time so that a stop is seen within about that
// (connecting: within its 5 s limit).
void websocket_thread(rpc::RpcUrl url, std::string me, std::shared_ptr<Shared> shared, std::ostream* log,
                      std::mutex* log_mu, const std::atomic<bool>* stop) {
  auto say = [&](const std::string& line) {
    std::lock_guard<std::mutex> g(*log_mu);
    *log << now_text() << " " << line << std::endl;
  };
  auto backoff = std::chrono::milliseconds(250);
  while (!stop->load()) {
    // A node that goes silent is pinged, then given up on and reconnected to.
    auto sub = rpc::WsSubscription::open(url, "tasks", std::chrono::seconds(20));
    std::string failure;
    if (!sub) {
      failure = "websocket unavailable (" + sub.error().detail + ")";
    } else {
      say("subscribed to tasks events at " + url.text);
      backoff = std::chrono::milliseconds(250);
      {
        std::lock_guard<std::mutex> g(shared->mu);
        shared->rescan = true;  // events may have been missed while away
      }
      shared->cv.notify_all();
      while (!stop->load()) {
        auto event = (*sub)->next(kStopPoll);
        if (!event) {
          failure = "websocket dropped (" + event.error().detail + ")";
          break;
        }
        if (!*event) continue;
        const Json& result = **event;
        const Json* attrs = member(result, "attributes");
        if (!attrs) continue;
        std::string kind = str_of(result, "kind");
        std::string task = str_of(*attrs, "task");
        if (task.empty()) continue;
        std::uint64_t id = std::strtoull(task.c_str(), nullptr, 10);
        // Assignments to us start work; any other event of a task may open
        // its reveals or settle it.
        {
          std::lock_guard<std::mutex> g(shared->mu);
          shared->woken.insert(id);
          if (kind == "task_assigned" && str_of(*attrs, "worker") == me) shared->rescan = true;
        }
        shared->cv.notify_all();
      }
    }
    if (stop->load()) return;
    say(failure + "; retrying in " + std::to_string(backoff.count()) + " ms");
    for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stop->load();
         waited += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

class Worker {
 public:
  Worker(const WorkerOptions& o, SecretKey key, rpc::RpcUrl url, std::ostream& log, const std::atomic<bool>& stop)
      : opt_(o), key_(std::move(key)), me_key_(key_.public_key()), me_(me_key_.hex()),
        rpc_(url, std::chrono::seconds(4), std::chrono::seconds(2)), node_(rpc_), url_(std::move(url)), log_(log),
        stop_(stop), shared_(std::make_shared<Shared>()) {}

  Status run() {
    fs::create_directories(opt_.home / "tasks");
    say("worker " + me_ + (opt_.byzantine ? " (BYZANTINE: reveals wrong results)" : "") + ", node " + url_.text);
    // Chain id and parameters: wait for the node.
    auto backoff = std::chrono::milliseconds(250);
    while (!stop_.load()) {
      if (load_chain()) break;
      sleep(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
    // Tasks this worker was working on before a restart.
    for (const auto& e : fs::directory_iterator(opt_.home / "tasks")) {
      if (e.path().extension() != ".json") continue;
      std::ifstream in(e.path());
      std::stringstream ss;
      ss << in.rdbuf();
      if (auto s = decode_state(ss.str())) {
        active_.insert(s->task);
        say("task " + std::to_string(s->task) + ": resuming from " + e.path().string());
      }
    }
    // The WebSocket thread stops and is joined however run() ends.
    std::atomic<bool> ws_stop{false};
    std::thread ws(websocket_thread, url_, me_, shared_, &log_, &log_mu_, &ws_stop);
    struct Join {
      std::atomic<bool>& stop;
      std::thread& t;
      ~Join() {
        stop.store(true);
        t.join();  // within kStopPoll (or its connect timeout)
      }
    } join{ws_stop, ws};

    auto last_scan = Clock::time_point{};
    while (!stop_.load()) {
      if (!registered_) ensure_registered();
      bool rescan = false;
      {
        std::unique_lock<std::mutex> lk(shared_->mu);
        shared_->cv.wait_for(lk, std::chrono::milliseconds(static_cast<int>(opt_.poll_seconds * 1000)),
                             [&] { return !shared_->woken.empty() || shared_->rescan || stop_.load(); });
        shared_->woken.clear();  // a wake-up: the active tasks are stepped below
        rescan = shared_->rescan;
        shared_->rescan = false;
      }
      if (stop_.load()) break;
      if (rescan || Clock::now() - last_scan > std::chrono::seconds(3)) {
        if (scan()) last_scan = Clock::now();
      }
      std::vector<std::uint64_t> ids(active_.begin(), active_.end());
      for (auto id : ids) {
        if (stop_.load()) break;
        if (!step(id)) active_.erase(id);
      }
    }
    say("stopping");
    return {};
  }

 private:
  struct Sent {  // a commitment or reveal sent for a task
    Clock::time_point at;
    std::string tx;  // its id; empty when sending failed
  };

  void say(const std::string& line) {
    std::lock_guard<std::mutex> g(log_mu_);
    log_ << now_text() << " " << line << std::endl;
  }
  void sleep(std::chrono::milliseconds d) {
    for (auto w = std::chrono::milliseconds(0); w < d && !stop_.load(); w += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // A repeated failure is logged when first seen and then at most once a
  // minute, with how often it happened meanwhile: a worker stuck on it shows
  // in its log without flooding it.
  void warn(const std::string& key, const std::string& line) {
    auto now = Clock::now();
    auto [it, fresh] = warned_.try_emplace(key, Warned{now, 0});
    if (fresh) {
      say(line);
    } else if (now - it->second.last >= std::chrono::seconds(60)) {
      say(line + " (again; " + std::to_string(it->second.suppressed + 1) + " times since last said)");
      it->second = Warned{now, 0};
    } else {
      ++it->second.suppressed;
    }
    if (warned_.size() > 1024) warned_.clear();
  }

  // Chain id and the parameters the worker uses, from status and genesis.
  bool load_chain() {
    auto st = node_.status();
    if (!st) {
      warn("status:" + st.error().reason, "node not reachable yet: " + st.error().to_string());
      return false;
    }
    auto read = [&]() -> Status {
      chain_id_ = st->chain_id;
      auto params = node_.chain_params();
      if (!params) return params.error();
      min_stake_ = params->min_worker_stake;
      fee_ = params->min_fee;
      chain_metering_version_ = params->metering_version;
      return {};
    };
    if (auto s = read(); !s) {
      warn("chain:" + s.error().reason, "cannot read the chain's parameters: " + s.error().to_string());
      return false;
    }
    say("chain " + chain_id_ + ", min worker stake " + min_stake_.to_string() + ", metering version " +
        std::to_string(chain_metering_version_));
    if (chain_metering_version_ != kSandboxMeteringVersion)
      say("WARNING: the chain meters fuel by version " + std::to_string(chain_metering_version_) +
          " and this worker's sandbox by version " + std::to_string(kSandboxMeteringVersion) +
          ": it will not run tasks of another version than its own (upgrade verity-worker)");
    return true;
  }

  Status send(Payload payload) {
    auto acct = node_.account(me_key_);
    if (!acct) return acct.error();
    Transaction tx;
    tx.chain_id = chain_id_;
    tx.nonce = acct->next_nonce;
    tx.fee = fee_;
    tx.payload = std::move(payload);
    tx.sign(key_);
    auto hash = node_.send_tx(tx);
    if (!hash) return hash.error();
    last_tx_ = hash->hex();
    return {};
  }

  void ensure_registered() {
    if (Clock::now() < next_register_check_) return;
    next_register_check_ = Clock::now() + std::chrono::seconds(2);
    auto w = node_.worker(me_key_);
    if (!w) {
      warn("worker:" + w.error().reason, "cannot read the worker record: " + w.error().to_string());
      return;
    }
    if (*w && (*w)->active) {
      registered_ = true;
      say("registered: stake " + (*w)->stake.to_string() + ", reputation " + std::to_string((*w)->reputation) + " ppm");
      return;
    }
    if (Clock::now() < next_register_send_) return;
    Amount stake = opt_.stake.value_or(min_stake_);
    auto st = send(RegisterWorker{stake});
    if (!st) {
      say("register_worker failed: " + st.error().to_string());
      next_register_send_ = Clock::now() + std::chrono::seconds(5);
      return;
    }
    say("register_worker sent: stake " + stake.to_string() + " (tx " + last_tx_ + ")");
    next_register_send_ = Clock::now() + std::chrono::seconds(15);
  }

  // Finds the rounds in progress (first rounds, retries, audits) that
  // assign this worker and that it has not revealed: every task in progress,
  // 100 a page, newest first.
  bool scan() {
    std::uint64_t before = 0;
    for (int page = 0; page < kMaxScanPages; ++page) {
      auto list = node_.task_refs(before, 100, /*in_progress=*/true);
      auto page_ok = [&]() -> Result<bool> {  // true: the last page
        if (!list) return list.error();
        for (const auto& t : *list) {
          before = t.id;
          if (!t.round) continue;
          for (const auto& a : t.round->assignments)
            if (a.worker == me_key_ && !a.revealed) active_.insert(t.id);
        }
        return list->size() < 100 || before <= 1;
      }();
      if (!page_ok) {
        warn("tasks:" + page_ok.error().reason, "cannot list tasks: " + page_ok.error().to_string());
        return false;
      }
      if (*page_ok) return true;
    }
    warn("scan-pages", "more than " + std::to_string(kMaxScanPages * 100) +
                           " tasks in progress: the oldest are left to their WebSocket events");
    return true;
  }

  fs::path state_path(std::uint64_t id) const { return opt_.home / "tasks" / (std::to_string(id) + ".json"); }

  std::optional<TaskState> load_state(std::uint64_t id) const {
    std::ifstream in(state_path(id));
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return decode_state(ss.str());
  }

  void forget(std::uint64_t id) {
    std::error_code ec;
    fs::remove(state_path(id), ec);
    commit_sent_.erase(id);
    reveal_sent_.erase(id);
    announced_.erase(id);
  }

  // The module whose SHA-256 is `hash`, from the node, checked: modules are
  // content-addressed (the chain stores them under "mod/" + sha256(bytes):
  // contracts/tasks.cpp), so bytes that hash to anything else are not the
  // task's module, whatever the node says, and are never run.
  Result<Bytes> module_bytes(const Hash256& hash) {
    const std::string hex = hash.hex();
    if (auto it = modules_.find(hex); it != modules_.end()) return it->second;
    auto wasm = node_.module(hash);  // checked against the hash
    if (!wasm) return wasm.error();
    if (modules_.size() > 32) modules_.clear();
    modules_[hex] = *wasm;
    return wasm;
  }

  std::optional<std::uint64_t> height() {
    auto st = node_.status();
    if (!st) {
      if (st.error().reason == "rpc-bad-response") warn("height:bad", st.error().to_string());
      return std::nullopt;
    }
    return st->height;
  }

  // Whether to send task `id`'s commitment (or reveal) now: never sent, or
  // sent kResendAfter ago and the node no longer has it (dropped from the
  // mempool) or committed it as failed. A transaction still pending, or
  // committed and not yet reflected in the task, is waited for: sending it
  // again would fail in its block and pay a second fee.
  bool may_send(std::map<std::uint64_t, Sent>& sent, std::uint64_t id, const std::string& name) {
    auto it = sent.find(id);
    if (it == sent.end()) return true;
    if (Clock::now() - it->second.at < kResendAfter) return false;
    if (it->second.tx.empty()) return true;
    auto id_hash = Hash256::from_hex(it->second.tx);
    if (!id_hash) return true;
    auto t = node_.tx(*id_hash);
    if (!t) {
      if (t.error().reason == "rpc-bad-response") warn("tx:bad", name + ": " + t.error().to_string());
      return false;  // node away: ask again later
    }
    if (!*t) {
      say(name + ": tx " + it->second.tx + " is gone from the node; sending again");
      return true;
    }
    // The receipt: absent while pending, else {ok, reason, ...}.
    if ((*t)->receipt && !(*t)->receipt->ok) {
      say(name + ": tx " + it->second.tx + " failed in its block (" + (*t)->receipt->reason + "); sending again");
      return true;
    }
    it->second.at = Clock::now();  // pending, or committed: look again later
    return false;
  }

  // Runs task `t`'s module for the round assigned at `assigned_height` and
  // persists the result with a fresh salt (before any commitment is sent).
  // nullopt when there is nothing to commit yet; the next step tries again.
  std::optional<TaskState> run(const rpc::TaskInfo& t, std::uint64_t assigned_height, const std::string& name) {
    const std::uint64_t id = t.id;
    auto wasm = module_bytes(t.module_hash);
    if (!wasm) {
      warn("module:" + std::to_string(id), name + ": not running it: " + wasm.error().to_string());
      return std::nullopt;
    }
    worker::SandboxLimits limits;
    limits.fuel = t.fuel;
    limits.max_stdout = kRevealOutputCap;
    auto started = Clock::now();
    worker::EngineConfig engine;
    engine.engine = opt_.engine;
    engine.aot_cache_dir = (opt_.home / "aot-cache").string();
    // A module's first task runs on interp while it compiles: the commit
    // window is sized for interp's speed, not for a compile.
    engine.compile_in_background = true;
    worker::SandboxResult r = worker::run_task(*wasm, t.input, {}, limits, task_sandbox_seed(chain_id_, id), engine);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (r.outcome == worker::Outcome::engine_failed) {
      // Not a result of the task: never committed. The next step tries again.
      warn("engine:" + std::to_string(id), name + ": the " + std::string(worker::engine_name(engine.engine)) +
                                               " engine failed, not committing: " + r.detail);
      return std::nullopt;
    }
    // Every outcome is a result, out-of-fuel included: committed like any other.
    TaskState s = record_run(id, assigned_height, static_cast<std::uint64_t>(r.outcome), r.exit_code, r.fuel_used,
                             r.stdout_bytes, random_salt(), opt_.byzantine);
    say(name + ": ran: " + std::string(worker::outcome_name(r.outcome)) + ", exit " + std::to_string(r.exit_code) +
        ", fuel " + std::to_string(r.fuel_used) + ", " + std::to_string(r.stdout_bytes.size()) + " bytes out, " +
        std::to_string(ms) + " ms on " + std::string(worker::engine_name(r.engine)) +
        (r.detail.empty() ? "" : " (" + r.detail + ")") + (opt_.byzantine ? " [byzantine: output altered]" : ""));
    if (auto st = write_atomic(state_path(id), encode_state(s)); !st) {
      say(name + ": cannot persist the result (" + st.error().to_string() + "); not committing");
      return std::nullopt;
    }
    return s;
  }

  // Sends a commitment or a reveal (`what`) unless one is pending
  // (may_send), and remembers it in `sent`.
  void send_once(std::map<std::uint64_t, Sent>& sent, std::uint64_t id, const std::string& name, Payload payload,
                 const char* what, const std::string& done) {
    if (!may_send(sent, id, name)) return;
    if (auto st = send(std::move(payload)); !st) {
      say(name + ": " + what + " failed: " + st.error().to_string());
      sent[id] = Sent{Clock::now() - kResendAfter + std::chrono::seconds(1), ""};
      return;
    }
    sent[id] = Sent{Clock::now(), last_tx_};
    say(name + ": " + done + " (tx " + last_tx_ + ")");
  }

  // One step of a task's life; false once the worker is done with it. The
  // decisions are worker/daemon/planner.h's; this is their I/O.
  bool step(std::uint64_t id) {
    const std::string name = "task " + std::to_string(id);
    auto answer = node_.task(id);
    if (!answer) {
      // Nothing is run, committed or revealed on an answer the worker cannot read.
      if (answer.error().reason == "rpc-bad-response")
        warn("bad-task:" + std::to_string(id), name + ": " + answer.error().to_string() + "; not acting on it");
      return true;  // node away, or an answer it cannot read: keep it
    }
    if (!*answer) {
      forget(id);
      return false;
    }
    auto checked = check_task(**answer);
    if (!checked) {
      warn("bad-task:" + std::to_string(id), name + ": " + checked.error().to_string() + "; not acting on it");
      return true;
    }
    const rpc::TaskInfo& t = **answer;
    PlanInput in{t, me_key_, chain_id_, load_state(id), commit_sent_.count(id) + reveal_sent_.count(id) > 0,
                 std::nullopt, kSandboxMeteringVersion};
    // The height decides whether a commitment is too late and whether
    // reveals are open: asked while this worker has something to send.
    auto assigned_to_me = [&] {
      if (!t.round || t.round->assigned_height == 0) return false;
      for (const auto& a : t.round->assignments)
        if (a.worker == me_key_) return !a.revealed;
      return false;
    };
    if (assigned_to_me()) in.height = height();
    Plan p = plan_task(in);
    if (p.kind == Plan::Kind::run) {
      if (announced_.insert(id).second) say(name + ": " + p.log);
      auto ran = run(t, p.assigned_height, name);
      if (!ran) return true;
      in.state = std::move(*ran);
      in.height = height();  // a run takes time: the deadline is checked against the height after it
      p = plan_task(in);
    }
    switch (p.kind) {
      case Plan::Kind::end:
        if (!p.log.empty()) say(name + ": " + p.log);
        if (p.report) {
          auto w = node_.worker(me_key_);
          if (w && *w)
            say("worker: stake " + (*w)->stake.to_string() + ", reputation " + std::to_string((*w)->reputation) +
                " ppm, agreed " + std::to_string((*w)->agreed) + ", outvoted " + std::to_string((*w)->outvoted) +
                ", missed " + std::to_string((*w)->missed));
        }
        forget(id);
        return p.keep;
      case Plan::Kind::refuse_metering:
        warn("metering:" + std::to_string(id), name + ": " + p.log);
        return true;
      case Plan::Kind::commit_missed:
        warn("commit-missed:" + std::to_string(id), name + ": " + p.log);
        return true;
      case Plan::Kind::salt_lost:
        warn("lost:" + std::to_string(id), name + ": " + p.log + " (" + state_path(id).string() + ")");
        return true;
      case Plan::Kind::commit:
        send_once(commit_sent_, id, name, *p.payload, "commit_result", p.log);
        return true;
      case Plan::Kind::reveal:
        send_once(reveal_sent_, id, name, *p.payload, "reveal_result", p.log);
        return true;
      case Plan::Kind::wait:
      case Plan::Kind::run:  // a run that gave a result is planned again above
        return true;
    }
    return true;
  }

  WorkerOptions opt_;
  SecretKey key_;
  PublicKey me_key_;
  std::string me_;  // its hex, for the log and WebSocket events
  rpc::HttpRpcClient rpc_;
  client::NodeClient node_;  // typed calls over rpc_
  rpc::RpcUrl url_;
  std::ostream& log_;
  std::mutex log_mu_;  // the WebSocket thread logs with it too
  const std::atomic<bool>& stop_;
  std::shared_ptr<Shared> shared_;
  std::string chain_id_;
  Amount min_stake_{100'000};
  Amount fee_{0};
  bool registered_ = false;
  Clock::time_point next_register_check_{}, next_register_send_{};
  std::string last_tx_;
  std::set<std::uint64_t> active_;
  struct Warned {
    Clock::time_point last;
    std::uint64_t suppressed;
  };
  std::map<std::string, Warned> warned_;
  std::map<std::uint64_t, Sent> commit_sent_, reveal_sent_;
  std::map<std::string, Bytes> modules_;
  std::set<std::uint64_t> announced_;  // tasks whose assignment was logged
  std::uint64_t chain_metering_version_ = 0;
};

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

}  // namespace

Result<PublicKey> init_worker_home(const fs::path& home, const std::optional<std::string>& insecure_name) {
  std::error_code ec;
  const bool made = fs::create_directories(home, ec);
  if (ec) return local_error("io", "cannot create " + home.string() + ": " + ec.message());
  if (made) ::chmod(home.c_str(), 0700);  // its key and task results: the worker's own (a home it did not make keeps its mode)
  SecretKey key = insecure_name ? SecretKey::derive_insecure(*insecure_name) : SecretKey::generate();
  if (auto st = cli::write_key_file(home / kWorkerKeyFile, key); !st) return st.error();
  return key.public_key();
}

Status run_worker(const WorkerOptions& options, std::ostream& log, const std::atomic<bool>& stop) {
  auto url = rpc::parse_rpc_url(options.rpc_url);
  if (!url) return url.error();
  Result<SecretKey> key = Error{};
  if (options.key_file) {
    // A `verity keys` file: KEYS_DIR/NAME.json, encrypted.
    const fs::path& file = *options.key_file;
    if (file.extension() != ".json" || !cli::is_valid_key_name(file.stem().string()))
      return make_error("usage", "--key-file: expected a key file made by 'verity keys' (HOME/keys/NAME.json), not " +
                                     file.string());
    cli::Keystore keys(file.parent_path());
    if (!keys.exists(file.stem().string()))
      return make_error("key-missing", "--key-file: " + file.string() + " does not exist ('verity keys list' shows "
                                       "the client's keys and their files)");
    key = keys.load(file.stem().string(), options.passphrase);
  } else {
    key = cli::load_key_file(options.home / kWorkerKeyFile);
  }
  if (!key) {
    Error e = key.error();
    if (e.reason == "key-missing" && !options.key_file)
      e.detail += "; create it with 'verity-worker init --home " + options.home.string() +
                  "', or pass --key-file with a key made by 'verity keys'";
    if (e.reason == "bad-passphrase")
      e.detail += " (--passphrase-file FILE, else VERITY_PASSPHRASE, else the prompt)";
    return e;
  }
  Worker w(options, *key, *url, log, stop);
  return w.run();
}

namespace {

const char* kRunHelp =
    "Usage: verity-worker run --home DIR [--key-file FILE [--passphrase-file FILE]] [--rpc URL] [--engine E]\n"
    "                         [--byzantine] [--stake N]\n"
    "       verity-worker --home DIR [...]\n"
    "Runs the tasks the chain assigns to HOME/worker.key (or --key-file) until SIGINT/SIGTERM.\n"
    "  --key-file FILE        a key made by 'verity keys' (~/.verity/keys/NAME.json) instead of\n"
    "                         HOME/worker.key: one key for the client and the worker. Its passphrase\n"
    "                         comes from --passphrase-file FILE, else VERITY_PASSPHRASE, else a\n"
    "                         prompt at start (on a terminal)\n"
    "  --rpc URL     the node (default http://127.0.0.1:7701)\n"
    "  --stake N     worker stake to register with (default: genesis min_worker_stake)\n"
    "  --engine E    aot (default: compiled, cached in HOME/aot-cache, falls back to interp) or interp\n"
    "  --byzantine   reveal wrong results (tests only: the worker gets slashed)\n";
const char* kInitHelp =
    "Usage: verity-worker init --home DIR [--devnet-name NAME]\n"
    "Creates HOME (mode 0700) and HOME/worker.key (mode 0600) with a fresh key, and prints its\n"
    "public key. (A key made by 'verity keys' works too: 'run --key-file FILE'.)\n"
    "  --devnet-name NAME  INSECURE: the key derived from a public name (devnets only)\n";

const cli::CommandSpec kRunSpec{"verity-worker", "run",
                                {"home", "rpc", "stake", "engine", "key-file", "passphrase-file"},
                                {"byzantine"}, {}, 0, 0, ""};
const cli::CommandSpec kInitSpec{"verity-worker", "init", {"home", "devnet-name"}, {}, {}, 0, 0, ""};

int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto p = cli::parse_args(kRunSpec, args);
  if (!p) return cli::usage_failure("verity-worker", p.error(), err);
  auto home = cli::required(*p, kRunSpec, "home", "DIR");
  if (!home) return cli::usage_failure("verity-worker", home.error(), err);
  WorkerOptions o;
  o.home = *home;
  o.rpc_url = p->get("rpc").value_or("http://127.0.0.1:7701");
  o.byzantine = p->has("byzantine");
  if (auto name = p->get("engine")) {
    auto e = worker::engine_from_name(*name);
    if (!e || *e == worker::Engine::node)
      return cli::usage_failure("verity-worker", kRunSpec.usage("--engine is aot or interp, not '" + *name + "'"), err);
    o.engine = *e;
  }
  if (auto stake = p->get("stake")) {
    auto a = Amount::parse(*stake);
    if (!a) return cli::usage_failure("verity-worker", kRunSpec.usage("--stake: " + a.error().to_string()), err);
    o.stake = *a;
  }
  if (auto file = p->get("key-file")) {
    o.key_file = fs::path(*file);
    // The passphrase, as the client takes it: a file, the environment, or a prompt.
    if (auto pf = p->get("passphrase-file")) {
      auto pass = cli::read_secret_file(*pf, "--passphrase-file");
      if (!pass) {
        err << "verity-worker: " << pass.error().to_string() << "\n";
        return kExitFailure;
      }
      o.passphrase = *pass;
    } else if (const char* env = std::getenv("VERITY_PASSPHRASE"); env && *env) {
      o.passphrase = env;
    } else if (auto typed = ::isatty(STDIN_FILENO) ? cli::prompt_secret("Passphrase of " + *file + ": ")
                                                   : std::nullopt) {
      o.passphrase = *typed;
    } else {
      err << "verity-worker: --key-file " << *file << " is encrypted: pass --passphrase-file FILE or set "
          << "VERITY_PASSPHRASE (no terminal to ask on)\n";
      return cli::kExitUsage;
    }
  } else if (p->get("passphrase-file")) {
    return cli::usage_failure("verity-worker", kRunSpec.usage("--passphrase-file goes with --key-file"), err);
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGPIPE, SIG_IGN);
  auto st = run_worker(o, out, g_stop);
  worker::kill_running_children();  // a compile in the background must not outlive the worker
  if (!st) {
    err << "verity-worker: " << st.error().to_string() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

int init_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto p = cli::parse_args(kInitSpec, args);
  if (!p) return cli::usage_failure("verity-worker init", p.error(), err);
  auto home = cli::required(*p, kInitSpec, "home", "DIR");
  if (!home) return cli::usage_failure("verity-worker init", home.error(), err);
  std::optional<std::string> name = p->get("devnet-name");
  if (name)
    err << "verity-worker init: WARNING: key derived from the public name '" << *name
        << "': anyone can sign for it (devnets only)\n";
  auto k = init_worker_home(*home, name);
  if (!k) {
    err << "verity-worker init: " << k.error().to_string() << "\n";
    return kExitFailure;
  }
  out << "worker key " << k->hex() << " in " << (fs::path(*home) / kWorkerKeyFile).string() << "\n";
  return kExitOk;
}

}  // namespace

int worker_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // `verity-worker --home DIR ...` is `verity-worker run --home DIR ...`.
  if (!args.empty() && args[0].rfind("--", 0) == 0 && args[0] != "--help" && args[0] != "--version")
    args.insert(args.begin(), "run");
  cli::CliProgram program{"verity-worker",
                     "runs the WASM tasks assigned to its key",
                     {cli::Subcommand{"init", "--home DIR [--devnet-name NAME]: create the worker key", kInitHelp,
                                 init_command},
                      cli::Subcommand{"run", "--home DIR [--rpc URL] [--engine E] [--byzantine] [--stake N]: run assigned tasks",
                                 kRunHelp, run_command},
                      cli::Subcommand{"exec", "FILE.wasm [--input FILE] [--arg A]... [--fuel N] [--engine E] [--json]: run one "
                                         "module locally, exactly as a worker would",
                                 kExecHelp, exec_command}}};
  return cli::run_cli(program, args, std::cout, std::cerr);
}

}  // namespace verity::worker
