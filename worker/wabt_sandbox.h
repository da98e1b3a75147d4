#pragma once
// The sandbox's boundary to wabt's interpreter: runs a WASI command module
// under fuel, memory, table, call-depth, value-stack and output limits with
// the host's deterministic WASI subset. Like wabt_module.h, this header uses
// only the C++17 standard library (wabt's interpreter headers do not compile
// as C++20 under GCC 12); worker/sandbox.h is the C++20 face of it and the
// one the rest of the project uses.
//
// Policy (which imports are allowed, what an outcome is called, the result
// hash) lives in worker/sandbox.cpp; this file only executes.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace verity::worker::wabt_glue {

inline constexpr const char* kWasiModule = "wasi_snapshot_preview1";

// What the host provides under kWasiModule: implemented deterministically,
// or answering ENOSYS (52). Any other import cannot be bound.
struct WasiFunction {
  const char* name;
  const char* params;   // one letter per parameter: 'i' = i32, 'I' = i64
  const char* results;  // "" or "i"
  bool implemented;     // false: always returns ENOSYS
};
const std::vector<WasiFunction>& wasi_functions();

struct ExecLimits {
  std::uint64_t fuel = 0;            // interpreter instructions (+ bytes moved by WASI calls)
  std::uint32_t memory_pages = 0;    // 64 KiB pages
  std::uint32_t table_elements = 0;  // per table
  std::uint32_t call_depth = 0;      // frames, host calls included
  std::uint32_t value_stack = 0;     // slots of 16 bytes
  std::size_t max_stdout = 0;        // bytes
  std::size_t max_stderr = 0;        // bytes kept; the rest is dropped
};

enum class Ending {
  returned,            // _start returned: exit code 0
  exited,              // proc_exit(code)
  trap,                // detail: the interpreter's message
  out_of_fuel,         // fuel_used == limits.fuel
  output_too_large,    // stdout would have passed max_stdout
  memory_too_large,    // declared minimum memory or table above the cap; not run
  invalid_module,      // detail says why; not run
};

struct Execution {
  Ending ending = Ending::invalid_module;
  std::uint32_t exit_code = 0;
  std::string detail;
  std::vector<std::uint8_t> out;  // stdout (at most max_stdout bytes)
  std::vector<std::uint8_t> err;  // stderr (at most max_stderr bytes)
  std::uint64_t fuel_used = 0;
  bool grow_refused = false;      // some memory.grow returned -1
  std::uint32_t memory_pages = 0; // at the end of the run
};

// Fills out[0..32) with block `index` of the task's random stream.
using RandomBlock = std::function<void(std::uint64_t index, std::uint8_t* out)>;

struct ExecRequest {
  const std::uint8_t* wasm = nullptr;
  std::size_t wasm_size = 0;
  const std::uint8_t* input = nullptr;
  std::size_t input_size = 0;
  std::vector<std::string> argv;  // argv[0] included
  ExecLimits limits;
  RandomBlock random;
};

// Steps 1 and 2 of execute() (reading, validation with the sandbox's
// features, shape and caps) without running anything: what a module must
// pass to be accepted at all. ok == false: ending is invalid_module or
// memory_too_large, and detail says why.
struct Admission {
  bool ok = false;
  Ending ending = Ending::invalid_module;
  std::string detail;
};
Admission admit(const std::uint8_t* wasm, std::size_t size, const ExecLimits& limits);

// Never throws for anything the module does; a std::bad_alloc from the host
// (the limits keep allocations far below that) propagates.
Execution execute(const ExecRequest& request);

}  // namespace verity::worker::wabt_glue
