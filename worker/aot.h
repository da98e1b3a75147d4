#pragma once
// The `aot` engine: an instrumented module (docs/sandbox.md, "Metering":
// it exports `verity_fuel` and `verity_flags` and pays for itself) is
// translated to C by wasm2c, compiled by the system C compiler into a shared
// object, cached, and run in verity-sandbox (worker/sandbox_runner.cpp), a
// separate process that holds no keys, under rlimits, a wall clock and a
// seccomp allowlist.
//
//   AotConfig cfg{.cache_dir = home + "/aot-cache", .memory_cap_bytes = pages * 65536};
//   AotCompiled c = aot_compile(instrumented, cfg);     // c.ok == false: use the interpreter
//   EngineResponse r = aot_run(c.so_path, request, cfg);  // r.ending == engine_failed: not a result
//
// Compiling: `wasm2c -n task --no-debug-names`, then `cc` with kAotCFlags (below) on the
// generated C plus a small shim (aot.cpp) that exports verity_task_* so the
// runner needs no knowledge of the instance struct. Both tools run through
// run_child under compile_wall_ms, compile_cpu_seconds, compile_address_space
// and an output-file size bound; generated C larger than max_generated_c is
// refused before it reaches the compiler.
//
// The cache: <cache_dir>/<key>.so, key = hex SHA-256 of (cache format
// version, the instrumented module, `wasm2c --version`, the first line of
// `cc --version`, the wasm2c and cc flags, the shim's source). The file is
// the shared object followed by a 48-byte trailer (SHA-256 of the object,
// then the magic "VERITY-AOT-OBJ01"); ld.so ignores bytes past the ELF
// segments. It is written to a temporary name and renamed, so readers see a
// whole file or none. A hit re-hashes the object: a corrupted or truncated
// file is deleted and compiled again (AotCompiled::cached is then false).
// Temporary files a crashed compile left behind are removed by a later
// compile once they are older than twice the compile budget. There is no
// eviction: the cache grows with the set of distinct modules run.
//
// Determinism: fuel, outputs and traps come from the instrumented module
// (which also canonicalises NaNs where they escape) and worker/wasi_host,
// as in every engine; the compiler flags keep IEEE semantics (no
// fast-math, no FP contraction, baseline x86-64 with SSE2 arithmetic, no
// -march=native). The optimiser may fold pure loops (a countdown of the fuel
// global becomes its final value): the result is the same, only faster.
//
// Only the C++17 standard library in this header.

#include <cstdint>
#include <string>
#include <vector>

#include "worker/engine_protocol.h"

namespace verity::worker {

struct AotConfig {
  std::string cache_dir;                // required; created if missing
  std::string runner_path;              // verity-sandbox; "": see aot_runner_path
  std::uint64_t memory_cap_bytes = 256u * 65536;  // the wasm memory cap; the runner's data limit adds headroom
  std::uint64_t wall_ms = 60'000;       // per run
  std::uint64_t cpu_seconds = 60;       // per run
  // Compile bounds: one wall-clock budget for wasm2c and cc together; CPU
  // seconds and address space for each process (wasm2c, cc, cc1, as, ld).
  bool lookup_only = false;             // aot_compile only answers from the cache (a miss fails at once)
  std::uint64_t compile_wall_ms = 60'000;
  std::uint64_t compile_cpu_seconds = 60;
  std::uint64_t compile_address_space = 2ull << 30;
  std::uint64_t max_generated_c = 32u << 20;  // bytes of C from wasm2c
};

struct AotCompiled {
  bool ok = false;
  std::string so_path;     // ok: the cached shared object
  std::string error;       // !ok: why (the caller falls back to the interpreter)
  double compile_ms = 0;   // wall time of this call (cache lookup included)
  bool cached = false;     // a cache hit: nothing was compiled
};

// The C compiler flags, fixed: part of the cache key.
extern const std::vector<std::string> kAotCFlags;

AotCompiled aot_compile(const std::vector<std::uint8_t>& instrumented, const AotConfig& config);

// Runs `so_path` in verity-sandbox: request.module is replaced by the path.
// The child runs with RLIMIT_STACK 256 MiB (the module's injected stack
// limit always comes first), RLIMIT_DATA = memory cap + room for the
// request and the outputs + 64 MiB, RLIMIT_CPU = cpu_seconds, the wall
// clock wall_ms, no core dumps. A child that crashes, is killed or answers
// garbage gives Ending::engine_failed with the reason in detail. run_ms:
// the child's wall time.
EngineResponse aot_run(const std::string& so_path, EngineRequest request, const AotConfig& config,
                       double* run_ms = nullptr,
                       double* exec_ms = nullptr);

// The runner aot_run uses: config.runner_path; else $VERITY_SANDBOX_RUNNER;
// else verity-sandbox next to /proc/self/exe, in ../libexec/verity/ (the
// installed layout) or ../worker/ (the build tree); "" if none.
std::string aot_runner_path(const AotConfig& config);

}  // namespace verity::worker
