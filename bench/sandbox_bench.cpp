// The sandbox's engines against Node.js's WASI and against the native
// build, on each example task (examples/tasks), with the same input, in the
// same run. Prints min and median wall times over --runs repetitions and the
// ratios of the medians; checks that all of them print the same bytes and
// that every engine reports the same fuel. Never asserts.
//
//   build/bench/sandbox_bench [--runs R] [--scale S] [--node PATH] [--no-interp]
//
// aot:      run_task with the aot engine, fuel metering on (the module meters
//           itself): "aot run" is _start alone as verity-sandbox measures it,
//           "aot proc" the whole child process (spawn, load of the cached
//           object, the run), "aot compile" the first compile of the
//           instrumented module (wasm2c + cc -O2) into an empty cache.
// interp:   run_task with the interp engine (wabt's interpreter), in this
//           process: admission, the rewrite, loading and the run (the
//           default limits, fuel raised to 10^11).
// native:   the same C source built by the project's C compiler (-O2),
//           started as a process (posix_spawn to waitpid; start-up is
//           about a millisecond of it).
// node:     `node bench/wasi_run.mjs` as a process (wall time, including
//           Node's ~40 ms start-up), and "node run", the time the script
//           measures itself for compile + instantiate + _start (V8 compiles
//           the module to machine code: this is a JIT against an
//           interpreter).
// Without `node` on PATH the node columns say why and are skipped.

#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "core/hash.h"
#include "tests/test_support.h"
#include "worker/child_process.h"
#include "worker/sandbox.h"

extern char** environ;

using namespace verity;
using namespace verity::worker;
using verity::bench::Clock;
using verity::bench::since;

namespace {

struct Task {
  std::string name;
  std::string what;   // the input, in words
  std::string input;
};

std::string numbers(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += std::to_string(static_cast<std::int64_t>(rng()) >> (rng() % 64));
    s += (i % 10 == 9) ? "\n" : " ";
  }
  return s;
}

std::string words(std::size_t bytes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s;
  while (s.size() < bytes) {
    std::size_t len = 1 + rng() % 9;
    for (std::size_t i = 0; i < len; ++i) s.push_back(static_cast<char>('a' + rng() % 26));
    s.push_back(rng() % 12 == 0 ? '\n' : ' ');
  }
  return s;
}

std::string binary(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Each task's work grows linearly with `scale` (matmul's N with its cube
// root). The default, 8, makes native runs last 20-100 ms, so that process
// start-up (~1 ms) is a small part of the native figure.
std::vector<Task> tasks(double scale) {
  auto n = [scale](double x) { return static_cast<std::size_t>(std::max(1.0, x * scale)); };
  std::size_t mat = std::min<std::size_t>(1000, static_cast<std::size_t>(std::max(1.0, 150 * std::cbrt(scale))));
  return {
      {"sort", std::to_string(n(20000)) + " integers", numbers(n(20000), 1)},
      {"sha256", std::to_string(n(512)) + " KiB", binary(n(512) * 1024, 2)},
      {"primes", "N = " + std::to_string(n(1000000)), std::to_string(n(1000000)) + "\n"},
      {"matmul", "N = " + std::to_string(mat), std::to_string(mat) + "\n"},
      {"wc", std::to_string(n(2048)) + " KiB of words", words(n(2048) * 1024, 3)},
  };
}

struct Proc {
  double seconds = 0;
  int exit_code = -1;
  std::string out, err;
};

// Runs argv with stdin from `input_path`, stdout and stderr to files.
std::optional<Proc> spawn(const std::vector<std::string>& argv, const std::string& input_path,
                          const std::filesystem::path& dir) {
  std::string out_path = (dir / "stdout").string(), err_path = (dir / "stderr").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, input_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Proc p;
  pid_t pid;
  auto t = Clock::now();
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return std::nullopt;
  int status = 0;
  waitpid(pid, &status, 0);
  p.seconds = since(t);
  p.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  p.out = testing::read_file(out_path);
  p.err = testing::read_file(err_path);
  return p;
}

struct Stats {
  std::vector<double> samples;
  double min() const { return *std::min_element(samples.begin(), samples.end()); }
  double median() const {
    std::vector<double> s = samples;
    std::sort(s.begin(), s.end());
    return s.size() % 2 ? s[s.size() / 2] : (s[s.size() / 2 - 1] + s[s.size() / 2]) / 2;
  }
};

std::string ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, seconds < 0.01 ? "%.2f" : seconds < 1 ? "%.1f" : "%.0f", seconds * 1e3);
  return buf;
}

std::string cell(const Stats& s) { return s.samples.empty() ? "-" : ms(s.min()) + " / " + ms(s.median()); }

std::string ratio(const Stats& a, const Stats& b) {
  if (a.samples.empty() || b.samples.empty()) return "-";
  char buf[32];
  double r = a.median() / b.median();
  std::snprintf(buf, sizeof buf, r < 10 ? "%.2fx" : "%.0fx", r);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  double scale = 8;
  bool with_interp = true;
  std::string node_name = "node";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--scale" && i + 1 < argc) {
      scale = std::atof(argv[++i]);
    } else if (a == "--node" && i + 1 < argc) {
      node_name = argv[++i];
    } else if (a == "--no-interp") {
      with_interp = false;
    } else {
      std::fprintf(stderr, "usage: sandbox_bench [--runs R] [--scale S] [--node PATH] [--no-interp]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  const std::string examples = VERITY_EXAMPLES_DIR;
  setenv("VERITY_SANDBOX_RUNNER", VERITY_SANDBOX_RUNNER_PATH, 0);  // the build's runner unless one is given
  const std::string runner = std::string(VERITY_BENCH_DIR) + "/wasi_run.mjs";

  std::optional<std::string> node;
  if (std::string found = worker::find_on_path(node_name); !found.empty()) node = found;
  std::string node_version;
  if (!node) {
    std::printf("node: not found (%s); the node columns are skipped. Install it with: apt-get install nodejs\n",
                node_name.c_str());
  } else {
    testing::TempDir probe_dir("sandbox-bench");
    std::ofstream(probe_dir.path / "empty");
    auto v = spawn({*node, "--version"}, (probe_dir.path / "empty").string(), probe_dir.path);
    node_version = v ? v->out.substr(0, v->out.find('\n')) : "?";
  }

  std::printf("sandbox_bench: %d runs per figure; times in ms as min / median; ratios of medians\n", runs);
  std::printf("aot: wasm2c + cc -O2, metered (metering version %u), in verity-sandbox; interp: wabt 1.0.32;"
              " native: the project's C compiler -O2; node: %s\n\n",
              metering_version(), node ? (node_version + " (node:wasi, unmetered)").c_str() : "skipped");
  std::printf("%-7s %-20s %12s %14s %14s %10s %12s %14s %14s %10s %9s %9s %9s\n", "task", "input", "fuel", "native",
              "aot run", "aot proc", "aot compile", "interp", "node (run)", "node wall", "aot/nat", "aot/node",
              "Mfuel/s");

  SandboxLimits limits;
  limits.fuel = 100'000'000'000ull;
  limits.max_stdout = 64u << 20;  // sort prints its input back
  testing::TempDir dir("sandbox-bench");
  for (const Task& task : tasks(scale)) {
    std::string input_path = (dir.path / (task.name + ".in")).string();
    std::ofstream(input_path, std::ios::binary) << task.input;
    std::string wasm_path = examples + "/" + task.name + ".wasm";
    if (!std::filesystem::exists(wasm_path)) {
      std::fprintf(stderr, "%s is missing: build everything first (ninja -C build)\n", wasm_path.c_str());
      return 1;
    }
    std::string raw = testing::read_file(wasm_path);
    Bytes module(raw.begin(), raw.end());
    Hash256 id = sha256(as_bytes(task.name));

    EngineConfig aot;
    aot.engine = Engine::aot;
    aot.fallback = false;
    aot.aot_cache_dir = (dir.path / "aot-cache").string();
    EngineConfig interp;

    Stats native, aot_run, aot_proc, aot_compile, interp_run, node_wall, node_run;
    std::string reference;
    std::uint64_t fuel = 0;
    std::vector<std::string> mismatches;
    auto check = [&](const SandboxResult& res, const char* engine, int r) {
      if (res.outcome != Outcome::ok)
        mismatches.push_back(std::string(engine) + " " + std::string(outcome_name(res.outcome)) + ": " + res.detail);
      std::string out(res.stdout_bytes.begin(), res.stdout_bytes.end());
      if (r == 0 && reference.empty() && fuel == 0) {
        reference = out;
        fuel = res.fuel_used;
      } else if (out != reference || res.fuel_used != fuel) {
        mismatches.push_back(std::string(engine) + ": output or fuel differs");
      }
    };
    for (int r = 0; r < runs; ++r) {
      SandboxResult res = run_task(module, as_bytes(task.input), {}, limits, id, aot);
      check(res, "aot", r);
      aot_run.samples.push_back(res.exec_ms / 1e3);
      aot_proc.samples.push_back(res.run_ms / 1e3);
      if (res.compile_ms > 0) aot_compile.samples.push_back(res.compile_ms / 1e3);

      if (with_interp && r == 0) {
        auto t = Clock::now();
        SandboxResult ir = run_task(module, as_bytes(task.input), {}, limits, id, interp);
        interp_run.samples.push_back(since(t));
        check(ir, "interp", 1);
      }

      auto nat = spawn({examples + "/" + task.name + "_native"}, input_path, dir.path);
      if (!nat) {
        mismatches.push_back("native build did not start");
      } else {
        native.samples.push_back(nat->seconds);
        if (nat->out != reference) mismatches.push_back("native output differs");
      }

      if (node) {
        auto nd = spawn({*node, "--experimental-wasi-unstable-preview1", "--no-warnings", runner, wasm_path},
                        input_path, dir.path);
        if (!nd || nd->exit_code != 0) {
          mismatches.push_back("node failed" + (nd ? ": " + nd->err : std::string()));
        } else {
          node_wall.samples.push_back(nd->seconds);
          auto at = nd->err.rfind("verity-node-run-ns ");
          if (at != std::string::npos) node_run.samples.push_back(std::atof(nd->err.c_str() + at + 19) / 1e9);
          if (nd->out != reference) mismatches.push_back("node output differs");
        }
      }
    }
    double mfuel = static_cast<double>(fuel) / aot_run.median() / 1e6;
    std::printf("%-7s %-20s %12llu %14s %14s %10s %12s %14s %14s %10s %9s %9s %9.0f\n", task.name.c_str(),
                task.what.c_str(), static_cast<unsigned long long>(fuel), cell(native).c_str(), cell(aot_run).c_str(),
                ms(aot_proc.median()).c_str(),
                aot_compile.samples.empty() ? "cached" : ms(aot_compile.samples.front()).c_str(), cell(interp_run).c_str(),
                cell(node_run).c_str(), node_wall.samples.empty() ? "-" : ms(node_wall.median()).c_str(),
                ratio(aot_run, native).c_str(), ratio(aot_run, node_run).c_str(), mfuel);
    std::sort(mismatches.begin(), mismatches.end());
    mismatches.erase(std::unique(mismatches.begin(), mismatches.end()), mismatches.end());
    for (const auto& m : mismatches) std::printf("        ! %s\n", m.c_str());
  }
  std::printf("\naot run: _start alone in verity-sandbox (as the runner measures it); aot proc: the whole child\n"
              "process (spawn, load of the cached object, the run; median). native includes starting its process\n"
              "(~1 ms); node (run) is node's own compile+instantiate+run without its start-up. interp runs once\n"
              "per task (it is slow).\n");
  return 0;
}
