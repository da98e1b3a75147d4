#pragma once
// The deterministic WASI subset (docs/sandbox.md, "The WASI subset"), shared
// by every C++ engine: the interpreter glue (worker/wabt_sandbox.cpp) and the
// ahead-of-time runner (worker/sandbox_runner.cpp). web/wasi_host.mjs is the
// JavaScript twin and must match it byte for byte: errno values, what is
// written where, and the fuel each call charges.
//
// Like wabt_sandbox.h this header uses only the C++17 standard library, so
// both the C++17 glue and the C++20 code can include it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace verity::worker {

inline constexpr const char* kWasiModule = "wasi_snapshot_preview1";

enum class WasiFn : std::uint8_t {
  args_get, args_sizes_get, environ_get, environ_sizes_get, clock_res_get, clock_time_get,
  fd_close, fd_fdstat_get, fd_prestat_get, fd_read, fd_seek, fd_write, proc_exit, random_get,
  sched_yield, nosys,
};

// What the host provides under kWasiModule: implemented deterministically,
// or answering ENOSYS (52). Any other import is forbidden.
struct WasiFunction {
  const char* name;
  const char* params;   // one letter per parameter: 'i' = i32, 'I' = i64
  const char* results;  // "" or "i"
  bool implemented;     // false: always returns ENOSYS
  WasiFn fn;
};
const std::vector<WasiFunction>& wasi_functions();
const WasiFunction* find_wasi_function(std::string_view name);  // nullptr if not provided

// Fills out[0..32) with block `index` of the task's random stream.
using RandomBlock = std::function<void(std::uint64_t index, std::uint8_t* out)>;

// Everything a run's host sees besides the module.
struct HostRequest {
  const std::uint8_t* input = nullptr;
  std::size_t input_size = 0;
  std::vector<std::string> argv;  // argv[0] included
  std::size_t max_stdout = 0;     // bytes; more ends the run (output_too_large)
  std::size_t max_stderr = 0;     // bytes kept; the rest is dropped
  RandomBlock random;
};

// The module's memory and fuel counter at the moment of a call. The fuel is
// the instrumented module's `verity_fuel` global (docs/sandbox.md, "Fuel"):
// a call charges it one unit per byte it moves, and when that takes it below
// zero the call ends the run out of fuel (the global keeps the negative value).
struct GuestState {
  std::uint8_t* memory = nullptr;
  std::uint64_t memory_size = 0;  // bytes
  std::int64_t* fuel = nullptr;
};

class WasiHost {
 public:
  explicit WasiHost(const HostRequest& request) : req_(request) {}

  // One WASI call with its arguments (i32s zero-extended). Returns true with
  // *errno_out set (0 on success), or false when the call ends the run:
  // then exactly one of exited(), out_of_fuel(), output_too_large() is true.
  bool call(WasiFn fn, const std::uint64_t* args, GuestState guest, std::uint32_t* errno_out);

  bool exited() const { return exited_; }
  std::uint32_t exit_code() const { return exit_code_; }
  bool out_of_fuel() const { return out_of_fuel_; }
  bool output_too_large() const { return output_too_large_; }
  std::vector<std::uint8_t>& out() { return out_; }
  std::vector<std::uint8_t>& err() { return err_; }

 private:
  const HostRequest& req_;
  std::size_t input_pos_ = 0;
  bool closed_[3] = {false, false, false};
  std::uint64_t random_index_ = 0;
  std::uint8_t random_block_[32] = {};
  std::size_t random_left_ = 0;
  bool exited_ = false;
  std::uint32_t exit_code_ = 0;
  bool out_of_fuel_ = false;
  bool output_too_large_ = false;
  std::vector<std::uint8_t> out_, err_;
};

}  // namespace verity::worker
