#pragma once
// What the sandbox's parent and its engine child processes say to each
// other (the `aot` runner, worker/sandbox_runner.cpp, and the `node` engine,
// web/node_runner.mjs): one request on the child's stdin, one response on its
// stdout, both in the little-endian framing below. docs/sandbox.md
// ("Engines") describes the same bytes for the JavaScript side.
//
// Request:  "VRQ1"  u64 fuel  u64 max_stdout  u64 max_stderr  [32] task seed
//           u32 argc { u32 len, bytes }*argc  u32 len, input  u32 len, module
//   (module: the instrumented module's bytes for `node`; for `aot`, the path
//   of the compiled shared object)
// Response: "VRS1"  u8 ending  u32 exit_code  i64 fuel_left  u32 flags
//           u32 memory_pages  u32 len, detail  u32 len, stdout  u32 len, stderr
//
// Only the C++17 standard library, like wasi_host.h.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace verity::worker {

// The globals every instrumented module exports (docs/sandbox.md, "Metering").
inline constexpr const char* kFuelGlobal = "verity_fuel";    // mut i64: fuel left; below 0: out of fuel
inline constexpr const char* kFlagsGlobal = "verity_flags";  // mut i32: the bits below
inline constexpr std::uint32_t kFlagGrowRefused = 1;      // a memory.grow returned -1
inline constexpr std::uint32_t kFlagStackExhausted = 2;   // the injected stack limit trapped

// How an engine's run of `_start` ended (before the sandbox maps it to an
// Outcome, worker/sandbox.cpp).
enum class Ending : std::uint8_t {
  returned = 0,          // _start returned
  exited = 1,            // proc_exit(code)
  trap = 2,              // detail: the engine's message
  out_of_fuel = 3,       // the fuel global went below zero (in the module or in a WASI call)
  output_too_large = 4,  // stdout would have passed max_stdout
  invalid_module = 5,    // the engine could not load or instantiate it (detail says why)
  engine_failed = 6,     // the engine itself failed (crashed, killed, no answer): not a result
};

struct EngineRequest {
  std::uint64_t fuel = 0;
  std::uint64_t max_stdout = 0;
  std::uint64_t max_stderr = 0;
  std::uint8_t seed[32] = {};        // the task's random-stream seed (random_block)
  std::vector<std::string> argv;     // argv[0] included
  std::vector<std::uint8_t> input;
  std::vector<std::uint8_t> module;  // see above
};

struct EngineResponse {
  Ending ending = Ending::engine_failed;
  std::uint32_t exit_code = 0;
  std::int64_t fuel_left = 0;
  std::uint32_t flags = 0;
  std::uint32_t memory_pages = 0;
  std::string detail;
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> err;
};

std::vector<std::uint8_t> encode_request(const EngineRequest& r);
std::optional<EngineRequest> decode_request(const std::uint8_t* data, std::size_t size);
std::vector<std::uint8_t> encode_response(const EngineResponse& r);
std::optional<EngineResponse> decode_response(const std::uint8_t* data, std::size_t size);

}  // namespace verity::worker
