#pragma once
// The WASM sandbox: runs a task (a WASI command module, its input as stdin,
// its result as stdout) deterministically under limits. Admission checks
// and instruments the module (the metering rewriter, worker/wabt_metering.h:
// the module counts its own fuel, limits its own stack and canonicalizes its
// NaNs); then one of three engines runs it: `interp` (wabt's interpreter,
// the reference), `aot` (wasm2c and the C compiler, in a locked-down child
// process) or `node` (Node.js with web/wasi_host.mjs). The same module,
// input, arguments, limits and task id give the same outcome, exit code,
// stdout, stderr and fuel on every engine and every machine
// (docs/sandbox.md: metering, engines, limits, the WASI subset, outcomes).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/hash.h"
#include "core/result.h"
#include "core/task_outcome.h"
#include "core/transaction.h"
#include "worker/module_inspect.h"

namespace verity::worker {

// How a run ended (core/task_outcome.h: the names are part of the result hash).
using Outcome = TaskOutcome;
using ::verity::outcome_from_name;
using ::verity::outcome_name;

// Which engine runs an instrumented module (docs/sandbox.md, "Engines").
enum class Engine : std::uint8_t { interp, aot, node };
std::string_view engine_name(Engine e);
std::optional<Engine> engine_from_name(std::string_view name);

struct EngineConfig {
  Engine engine = Engine::interp;
  std::string aot_cache_dir;   // aot: where compiled modules are kept (required for aot)
  std::string runner_path;     // aot: verity-sandbox; "" = $VERITY_SANDBOX_RUNNER, next to this executable, or installed
  std::string node_path;       // node: the node binary; "" = `node` on PATH
  std::string web_dir;         // node: the folder of node_runner.mjs; "" = $VERITY_WEB_DIR or installed
  bool fallback = true;        // aot: a module that fails to compile, or a failed child, runs on interp instead
  // aot: a module not compiled yet runs on interp now while a thread of this
  // process compiles it for the next time (a worker: a first compile takes
  // seconds, and the task's commit window is sized for interp's speed).
  bool compile_in_background = false;
};

struct SandboxLimits {
  std::uint64_t fuel = 1'000'000'000;         // docs/sandbox.md "Fuel": the module's own count, plus bytes moved by WASI calls
  std::uint32_t memory_pages = 256;           // 64 KiB pages: 16 MiB
  std::uint32_t table_elements = 65536;       // per table
  std::size_t max_module_bytes = kMaxModuleBytes;
  std::size_t max_stdout = kMaxTaskIoBytes;   // bytes (64 KiB: what a reveal carries); more is output-too-large
  std::size_t max_stderr = 64u << 10;         // bytes kept; more is dropped
};

struct SandboxResult {
  Outcome outcome = Outcome::invalid_module;
  std::uint32_t exit_code = 0;  // proc_exit's code; 0 otherwise
  Bytes stdout_bytes;           // what the module wrote to fd 1 (a prefix, if it ended early)
  Bytes stderr_bytes;           // fd 2, for diagnostics only: not part of the result hash
  std::uint64_t fuel_used = 0;
  std::string detail;           // for humans; may change between versions
  std::uint32_t memory_pages = 0;  // the memory's size at the end
  Engine engine = Engine::interp;  // what ran it (aot falls back to interp when it cannot compile)
  double compile_ms = 0;           // aot: compiling, or looking the module up in the cache
  bool aot_cached = false;         // aot: the cache had the module compiled (nothing was compiled)
  double run_ms = 0;               // the engine's run, start to end (for aot and node: the child process)
  double exec_ms = 0;              // _start alone, as the engine measured it (benchmarks)

  // core's task_result_hash(outcome, exit_code, fuel_used, stdout): what
  // workers commit to and compare. Fuel is in it; stderr, detail, the memory
  // size and the engine are left out (docs/sandbox.md, "The result hash").
  Hash256 result_hash() const;
};

// argv[0] as the module sees it; the task's arguments follow.
inline constexpr std::string_view kTaskArgv0 = "task";

// The metering rules' version (genesis's metering_version must name it).
std::uint32_t metering_version();

// Everything run_task checks before it runs anything (size, validity, the
// sandbox's feature set, imports, the shape: exported `_start` and
// `memory`, no start section; the declared memory against the cap), then
// the instrumented module every engine runs: byte-identical on every
// machine for the same module, memory and table caps. Reasons are outcome
// names: "invalid-module", "forbidden-import", "memory-exceeded".
Result<Bytes> metered_module(ByteView wasm, const SandboxLimits& limits = {});
// The same checks, for admitting a module at submission.
Status check_module(ByteView wasm, const SandboxLimits& limits = {});

// Runs the task. Never fails: every ending is an Outcome.
SandboxResult run_task(ByteView module, ByteView input, const std::vector<std::string>& args,
                       const SandboxLimits& limits, const Hash256& task_id, const EngineConfig& engine = {});

// The wasi_snapshot_preview1 functions a module may import, and whether each
// is implemented (false: it answers ENOSYS).
struct AllowedImport {
  std::string name;
  bool implemented;
};
std::vector<AllowedImport> allowed_wasi_imports();

// Block `index` of a task's random_get stream:
// tagged_hash(task-random, task_id || u64 big-endian index).
Hash256 random_block(const Hash256& task_id, std::uint64_t index);

}  // namespace verity::worker
