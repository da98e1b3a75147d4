#pragma once
// Run one program as a child process under limits, with its stdin given as
// bytes and its stdout captured, and a wall-clock kill. Used by the `aot`
// engine (worker/aot.cpp) for wasm2c, the C compiler and verity-sandbox, and
// by the `node` engine.
//
// The child: gets its own process group; fds 0, 1, 2 are the pipes below
// and every other fd is closed (the parent holds keys and sockets); the
// rlimits in ChildLimits plus RLIMIT_CORE = 0; PR_SET_NO_NEW_PRIVS; an
// empty signal mask and default dispositions; a minimal environment (PATH,
// TMPDIR if the parent has one, LC_ALL=C) so the parent's environment, which
// may hold secrets, does not leak and tools print the same text everywhere.
// argv[0] without a '/' is looked up on PATH by the parent before forking.
//
// The parent: no thread, no signal handler, SIGCHLD untouched. One poll()
// loop feeds stdin, drains stdout and stderr and watches the child's pidfd
// against the deadline, so a child that never reads its stdin, floods its
// stdout or never exits cannot hang it. stdin is a socketpair written with
// MSG_NOSIGNAL, so a child that exits without reading cannot raise SIGPIPE
// in the parent. When the child exits, whatever is left in its process group
// is killed; at the deadline (or when stdout passes max_out) the whole group
// is killed. The child is always reaped before run_child returns.
//
// Only the C++17 standard library in this header.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace verity::worker {

struct ChildLimits {
  std::uint64_t wall_ms = 0;          // 0: none; else SIGKILL after this long (process group)
  std::uint64_t cpu_seconds = 0;      // RLIMIT_CPU, 0: none (soft; SIGXCPU, then SIGKILL one second later)
  std::uint64_t address_space = 0;    // RLIMIT_AS bytes, 0: none
  std::uint64_t data_bytes = 0;       // RLIMIT_DATA bytes, 0: none
  std::uint64_t stack_bytes = 0;      // RLIMIT_STACK bytes, 0: inherit
  std::uint64_t file_bytes = 0;       // RLIMIT_FSIZE bytes, 0: inherit (SIGXFSZ past it)
  bool no_new_privs = true;
};

struct ChildResult {
  bool started = false;   // fork/exec worked
  int exit_code = -1;     // if it exited
  int signal = 0;         // if killed by a signal
  bool timed_out = false; // we killed it at wall_ms
  bool out_truncated = false;     // stdout passed max_out: we kept max_out bytes and killed the child
  std::vector<std::uint8_t> out;  // stdout, at most max_out bytes (more: truncated and the child killed)
  std::string err;                // stderr, at most 64 KiB kept
  double wall_ms = 0;
  std::string start_error;        // why it did not start (started == false)
  std::uint64_t wall_limit_ms = 0;  // the limit it ran under, for describe()
  std::string describe() const;   // "exited 3", "killed by signal 9 (wall-clock limit 5000 ms)", ...
  bool exited_ok() const { return started && signal == 0 && exit_code == 0 && !timed_out && !out_truncated; }
};

inline constexpr std::size_t kChildMaxErr = 64u << 10;

ChildResult run_child(const std::vector<std::string>& argv, const std::vector<std::uint8_t>& stdin_bytes,
                      const ChildLimits& limits, std::size_t max_out = 64u << 20);

// SIGKILLs the process group of every child run_child() is running now (a
// compile in the background included): for a program that stops. Each
// run_child() call then returns as if its child had been killed.
void kill_running_children();

// argv0 itself if it holds a '/', else the first executable PATH entry
// named argv0; "" if none.
std::string find_on_path(const std::string& argv0);

}  // namespace verity::worker
