#include "worker/sandbox.h"

#include "core/enum_names.h"
#include "core/transaction.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "worker/aot.h"
#include "worker/engine_protocol.h"
#include "worker/node_engine.h"
#include "worker/wabt_metering.h"
#include "worker/wabt_sandbox.h"
#include "worker/wasi_host.h"

namespace verity::worker {

namespace {

constexpr std::array<std::string_view, 3> kEngines = {"interp", "aot", "node"};

struct Refusal {
  Outcome outcome;
  std::string detail;
};

// Size, validity and imports: the checks that need no rewriting.
std::optional<Refusal> screen(ByteView wasm, const SandboxLimits& limits) {
  if (wasm.size() > limits.max_module_bytes)
    return Refusal{Outcome::invalid_module, "module-too-large: " + std::to_string(wasm.size()) +
                                                " bytes exceeds " + std::to_string(limits.max_module_bytes)};
  auto summary = inspect_module(wasm);
  if (!summary) {
    const Error& e = summary.error();  // "invalid-module" is the outcome already; keep other reasons
    return Refusal{Outcome::invalid_module, e.reason == "invalid-module" ? e.detail : e.to_string()};
  }
  std::string forbidden;
  for (const auto& import : summary->imports) {
    if (import.module == kWasiModule && import.kind == "func" && find_wasi_function(import.name)) continue;
    if (!forbidden.empty()) forbidden += ", ";
    forbidden += import.module + "." + import.name;
    if (import.kind != "func") forbidden += " (" + import.kind + ")";
  }
  if (!forbidden.empty()) return Refusal{Outcome::forbidden_import, forbidden};
  return std::nullopt;
}

// Screening, then the rewriter: the instrumented module or why not.
std::variant<Bytes, Refusal> meter(ByteView wasm, const SandboxLimits& limits) {
  if (auto refusal = screen(wasm, limits)) return *refusal;
  wabt_glue::MeterConfig config;
  config.memory_pages = limits.memory_pages;
  config.table_elements = limits.table_elements;
  wabt_glue::Metered m = wabt_glue::instrument(wasm.data(), wasm.size(), config);
  switch (m.refusal) {
    case wabt_glue::Refusal::none: return std::move(m.wasm);
    case wabt_glue::Refusal::memory_too_large: return Refusal{Outcome::memory_exceeded, std::move(m.detail)};
    case wabt_glue::Refusal::invalid_module: break;
  }
  return Refusal{Outcome::invalid_module, std::move(m.detail)};
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Compiles `instrumented` on a thread of its own, once per module at a time
// (EngineConfig::compile_in_background). The thread is detached: a process
// that exits meanwhile leaves at most a temporary folder, which a later
// compile removes.
void compile_later(const Bytes& instrumented, AotConfig config) {
  static std::mutex mu;
  static std::set<Hash256> in_flight;
  Hash256 key = sha256(instrumented);
  {
    std::lock_guard lock(mu);
    if (!in_flight.insert(key).second) return;
  }
  config.lookup_only = false;
  std::thread([instrumented, config, key] {
    (void)aot_compile(instrumented, config);
    std::lock_guard lock(mu);
    in_flight.erase(key);
  }).detach();
}

// A child process's wall clock: generous, only against an engine gone wrong
// (fuel ends every honest run): 10 s plus 1 s per 10^7 units of fuel.
std::uint64_t child_wall_ms(std::uint64_t fuel) { return 10'000 + fuel / 10'000; }

EngineResponse run_engine(const EngineRequest& req, const Bytes& instrumented, const SandboxLimits& limits,
                          const EngineConfig& config, const RandomBlock& random, SandboxResult& result) {
  auto t0 = std::chrono::steady_clock::now();
  result.engine = config.engine;
  EngineResponse resp;
  std::string why_not;
  switch (config.engine) {
    case Engine::interp:
      resp = wabt_glue::interp_run(req, random);
      result.run_ms = result.exec_ms = ms_since(t0);
      return resp;
    case Engine::node: {
      NodeConfig nc;
      nc.node_path = config.node_path;
      nc.web_dir = config.web_dir;
      nc.wall_ms = child_wall_ms(limits.fuel);
      resp = node_run(req, nc, &result.run_ms, &result.exec_ms);
      return resp;  // an engine failure is reported as it is: node is for tests and comparison
    }
    case Engine::aot: {
      AotConfig ac;
      ac.cache_dir = config.aot_cache_dir;
      ac.runner_path = config.runner_path;
      ac.memory_cap_bytes = std::uint64_t(limits.memory_pages) * 65536;
      ac.wall_ms = child_wall_ms(limits.fuel);
      ac.cpu_seconds = ac.wall_ms / 1000 + 1;
      if (ac.cache_dir.empty()) {
        why_not = "no aot cache directory";
      } else if (aot_runner_path(ac).empty()) {
        why_not = "verity-sandbox not found (set VERITY_SANDBOX_RUNNER)";
      } else {
        ac.lookup_only = config.compile_in_background;
        AotCompiled compiled = aot_compile(instrumented, ac);
        result.compile_ms = compiled.compile_ms;
        result.aot_cached = compiled.cached;
        if (!compiled.ok && config.compile_in_background) {
          compile_later(instrumented, ac);
          why_not = "compiling it in the background";
        } else if (!compiled.ok) {
          why_not = "compile failed: " + compiled.error;
        } else {
          resp = aot_run(compiled.so_path, req, ac, &result.run_ms, &result.exec_ms);
          if (resp.ending != Ending::engine_failed) return resp;
          why_not = resp.detail;
        }
      }
      break;
    }
  }
  if (!config.fallback) {
    resp = EngineResponse{};
    resp.ending = Ending::engine_failed;
    resp.detail = "aot: " + why_not;
    return resp;
  }
  // The reference engine gives the same result, only slower.
  result.engine = Engine::interp;
  auto t1 = std::chrono::steady_clock::now();
  resp = wabt_glue::interp_run(req, random);
  result.run_ms = result.exec_ms = ms_since(t1);
  resp.detail = resp.detail.empty() ? "aot unavailable (" + why_not + "); ran on interp"
                                    : resp.detail + " [aot unavailable (" + why_not + "); ran on interp]";
  return resp;
}

}  // namespace

std::string_view engine_name(Engine e) { return enum_name(kEngines, e); }

std::optional<Engine> engine_from_name(std::string_view name) { return enum_from_name<Engine>(kEngines, name); }

Hash256 SandboxResult::result_hash() const {
  return task_result_hash(static_cast<std::uint64_t>(outcome), exit_code, fuel_used, stdout_bytes);
}

Hash256 random_block(const Hash256& task_id, std::uint64_t index) {
  std::array<std::uint8_t, 40> in{};
  std::memcpy(in.data(), task_id.data.data(), 32);
  for (int i = 0; i < 8; ++i) in[32 + i] = static_cast<std::uint8_t>(index >> (56 - 8 * i));
  return tagged_hash(Domain::task_random, in);
}

std::vector<AllowedImport> allowed_wasi_imports() {
  std::vector<AllowedImport> out;
  for (const auto& f : wasi_functions()) out.push_back({f.name, f.implemented});
  return out;
}

std::uint32_t metering_version() { return wabt_glue::kMeteringVersion; }

Result<Bytes> metered_module(ByteView wasm, const SandboxLimits& limits) {
  auto m = meter(wasm, limits);
  if (auto* refusal = std::get_if<Refusal>(&m))
    return make_error(std::string(outcome_name(refusal->outcome)), refusal->detail);
  return std::get<Bytes>(std::move(m));
}

Status check_module(ByteView wasm, const SandboxLimits& limits) {
  auto m = metered_module(wasm, limits);
  if (!m) return m.error();
  return {};
}

SandboxResult run_task(ByteView module, ByteView input, const std::vector<std::string>& args,
                       const SandboxLimits& limits, const Hash256& task_id, const EngineConfig& engine) {
  SandboxResult result;
  auto metered = meter(module, limits);
  if (auto* refusal = std::get_if<Refusal>(&metered)) {
    result.outcome = refusal->outcome;
    result.detail = std::move(refusal->detail);
    return result;
  }
  const Bytes& instrumented = std::get<Bytes>(metered);

  EngineRequest req;
  req.fuel = limits.fuel;
  req.max_stdout = limits.max_stdout;
  req.max_stderr = limits.max_stderr;
  std::memcpy(req.seed, task_id.data.data(), 32);
  req.argv.reserve(args.size() + 1);
  req.argv.emplace_back(kTaskArgv0);
  req.argv.insert(req.argv.end(), args.begin(), args.end());
  req.input.assign(input.begin(), input.end());
  req.module = instrumented;  // aot_run replaces it with the compiled object's path
  RandomBlock random = [&task_id](std::uint64_t index, std::uint8_t* out) {
    Hash256 block = random_block(task_id, index);
    std::memcpy(out, block.data.data(), 32);
  };
  EngineResponse resp = run_engine(req, instrumented, limits, engine, random, result);
  if (resp.ending == Ending::invalid_module && engine.engine != Engine::interp && result.engine != Engine::interp) {
    // The module was admitted; an engine that cannot load it is broken, not the module.
    resp.ending = Ending::engine_failed;
  }

  result.stdout_bytes = std::move(resp.out);
  result.stderr_bytes = std::move(resp.err);
  result.memory_pages = resp.memory_pages;
  result.detail = std::move(resp.detail);
  std::uint64_t left = resp.fuel_left < 0 ? 0 : std::min<std::uint64_t>(std::uint64_t(resp.fuel_left), limits.fuel);
  result.fuel_used = limits.fuel - left;
  switch (resp.ending) {
    case Ending::returned:
      result.outcome = Outcome::ok;
      break;
    case Ending::exited:
      result.outcome = Outcome::ok;
      result.exit_code = resp.exit_code;
      break;
    case Ending::trap:
      // A run that traps uses all its fuel, as one out of fuel does (and as
      // the EVM's exceptional halt uses all gas): where in its last stretch
      // it trapped is not part of the result. It could not be: compiled code
      // (aot) may move the fuel counter's stores across the instruction that
      // faults, so the counter at a trap differs between engines
      // (docs/sandbox.md, "Fuel"; found by the engines fuzz target).
      result.outcome = Outcome::trap;
      result.fuel_used = limits.fuel;
      if (resp.flags & kFlagStackExhausted) result.detail = "call stack exhausted";
      break;
    case Ending::out_of_fuel:
      result.outcome = Outcome::out_of_fuel;
      result.fuel_used = limits.fuel;
      result.detail = "ran " + std::to_string(limits.fuel) + " units of fuel";
      break;
    case Ending::output_too_large:
      result.outcome = Outcome::output_too_large;
      result.detail = "stdout passed " + std::to_string(limits.max_stdout) + " bytes";
      break;
    case Ending::invalid_module:
      result.outcome = Outcome::invalid_module;
      break;
    case Ending::engine_failed:
      // Not a result of the task: the caller must not commit it (worker.md).
      result.outcome = Outcome::engine_failed;
      break;
  }
  // A refused memory.grow that the program did not survive: it trapped, or
  // gave up with a nonzero exit code (what malloc failing usually leads to).
  bool failed = result.outcome == Outcome::trap || (result.outcome == Outcome::ok && result.exit_code != 0);
  if ((resp.flags & kFlagGrowRefused) && failed) {
    std::string then = result.outcome == Outcome::trap ? "then trapped: " + result.detail
                                                       : "then exited with " + std::to_string(result.exit_code);
    result.outcome = Outcome::memory_exceeded;
    result.detail = "memory.grow refused (the cap is " + std::to_string(limits.memory_pages) + " pages); " + then;
  }
  return result;
}

}  // namespace verity::worker
