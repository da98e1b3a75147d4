// The sandbox against Node.js's WASI and against the native build, on each
// example task (examples/tasks), with the same input, in the same run.
// Prints min and median wall times over --runs repetitions and the ratios of
// the medians; checks that all three print the same bytes. Never asserts.
//
//   build/bench/sandbox_bench [--runs R] [--scale S] [--node PATH]
//
// sandbox:  run_task in this process: validation, the rewrite, loading,
//           instantiation and the run, with fuel counting (the default
//           limits, fuel raised to 10^11).
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

#include "core/hash.h"
#include "tests/test_support.h"
#include "worker/sandbox.h"

extern char** environ;

using namespace verity;
using namespace verity::worker;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

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

std::vector<Task> tasks(double scale) {
  auto n = [scale](double x) { return static_cast<std::size_t>(std::max(1.0, x * scale)); };
  return {
      {"sort", std::to_string(n(20000)) + " integers", numbers(n(20000), 1)},
      {"sha256", std::to_string(n(512)) + " KiB", binary(n(512) * 1024, 2)},
      {"primes", "N = " + std::to_string(n(1000000)), std::to_string(n(1000000)) + "\n"},
      {"matmul", "N = " + std::to_string(n(150)), std::to_string(std::min<std::size_t>(n(150), 1000)) + "\n"},
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

std::optional<std::string> find_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string candidate = p.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
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
  double scale = 1;
  std::string node_name = "node";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--scale" && i + 1 < argc) {
      scale = std::atof(argv[++i]);
    } else if (a == "--node" && i + 1 < argc) {
      node_name = argv[++i];
    } else {
      std::fprintf(stderr, "usage: sandbox_bench [--runs R] [--scale S] [--node PATH]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  const std::string examples = VERITY_EXAMPLES_DIR;
  const std::string runner = std::string(VERITY_BENCH_DIR) + "/wasi_run.mjs";

  std::optional<std::string> node = find_on_path(node_name);
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
  std::printf("sandbox: wabt %s interpreter, fuel counted per instruction; native: the project's C compiler -O2;"
              " node: %s\n\n",
              "1.0.32", node ? (node_version + " (node:wasi)").c_str() : "skipped");
  std::printf("%-7s %-20s %13s %16s %14s %14s %14s %10s %10s %9s\n", "task", "input", "fuel", "sandbox",
              "native", "node (wall)", "node (run)", "sbx/native", "sbx/node", "Minstr/s");

  SandboxLimits limits;
  limits.fuel = 100'000'000'000ull;
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

    Stats sandbox, native, node_wall, node_run;
    std::string reference;
    std::uint64_t fuel = 0;
    std::vector<std::string> mismatches;
    for (int r = 0; r < runs; ++r) {
      auto t = Clock::now();
      SandboxResult res = run_task(module, as_bytes(task.input), {}, limits, id);
      sandbox.samples.push_back(since(t));
      if (res.outcome != Outcome::ok) mismatches.push_back("sandbox " + std::string(outcome_name(res.outcome)) +
                                                           ": " + res.detail);
      std::string out(res.stdout_bytes.begin(), res.stdout_bytes.end());
      if (r == 0) {
        reference = out;
        fuel = res.fuel_used;
      } else if (out != reference || res.fuel_used != fuel) {
        mismatches.push_back("sandbox runs differ");
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
    double minstr = static_cast<double>(fuel) / sandbox.median() / 1e6;
    std::printf("%-7s %-20s %13llu %16s %14s %14s %14s %10s %10s %9.0f\n", task.name.c_str(), task.what.c_str(),
                static_cast<unsigned long long>(fuel), cell(sandbox).c_str(), cell(native).c_str(),
                cell(node_wall).c_str(), cell(node_run).c_str(), ratio(sandbox, native).c_str(),
                ratio(sandbox, node_run).c_str(), minstr);
    std::sort(mismatches.begin(), mismatches.end());
    mismatches.erase(std::unique(mismatches.begin(), mismatches.end()), mismatches.end());
    for (const auto& m : mismatches) std::printf("        ! %s\n", m.c_str());
  }
  std::printf("\nsbx/node compares with node's own compile+instantiate+run time, not its process start-up.\n");
  return 0;
}
