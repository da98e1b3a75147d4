#pragma once
// The WASM sandbox: runs a task (a WASI command module, its input as stdin,
// its result as stdout) deterministically under limits, on wabt's
// interpreter. The same module, input, arguments, limits and task id give
// the same SandboxResult on every run and every machine with the same wabt
// (docs/sandbox.md: limits, the WASI subset, outcomes, fuel, determinism).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/hash.h"
#include "core/result.h"
#include "worker/module_inspect.h"

namespace verity::worker {

// How a run ended. The names (outcome_name) are stable, kebab-case, and part
// of the result hash: never rename one.
enum class Outcome : std::uint8_t {
  ok,                // _start returned (exit code 0) or called proc_exit (its code)
  trap,              // the module trapped; detail: the interpreter's message
  out_of_fuel,       // fuel ran out; fuel_used == limits.fuel
  memory_exceeded,   // declared memory above the cap, or a refused memory.grow and then a trap or a nonzero exit
  output_too_large,  // stdout would pass limits.max_stdout
  invalid_module,    // not run: unreadable, invalid, too large or the wrong shape; detail says why
  forbidden_import,  // not run: imports outside the WASI subset; detail names them
};

std::string_view outcome_name(Outcome o);
std::optional<Outcome> outcome_from_name(std::string_view name);

struct SandboxLimits {
  std::uint64_t fuel = 1'000'000'000;         // interpreter instructions, plus bytes moved by WASI calls
  std::uint32_t memory_pages = 256;           // 64 KiB pages: 16 MiB
  std::uint32_t call_depth = 1024;            // frames
  std::uint32_t value_stack = 1u << 20;       // 16-byte slots: 16 MiB
  std::uint32_t table_elements = 65536;       // per table
  std::size_t max_module_bytes = kMaxModuleBytes;
  std::size_t max_stdout = 1u << 20;          // bytes; more is output-too-large
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

  // tagged_hash(task-result, string outcome || varint exit_code || bytes
  // stdout): what workers commit to and compare. Fuel, stderr and detail
  // are left out on purpose (docs/sandbox.md).
  Hash256 result_hash() const;
};

// argv[0] as the module sees it; the task's arguments follow.
inline constexpr std::string_view kTaskArgv0 = "task";

// Everything run_task checks before it runs anything: size, validity, the
// sandbox's feature set, imports, the shape (exported `_start` and `memory`,
// no start section) and the declared memory against the cap. For admitting
// a module at submission. Reasons are outcome names: "invalid-module",
// "forbidden-import", "memory-exceeded".
Status check_module(ByteView wasm, const SandboxLimits& limits = {});

// Runs the task. Never fails: every ending is an Outcome.
SandboxResult run_task(ByteView module, ByteView input, const std::vector<std::string>& args,
                       const SandboxLimits& limits, const Hash256& task_id);

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
