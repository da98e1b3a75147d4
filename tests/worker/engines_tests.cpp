#define BOOST_TEST_MODULE engines_tests
#include <boost/test/unit_test.hpp>

// The differential test: every sandbox test module and every example task,
// on all three engines (interp, aot, node), must give the same outcome, exit
// code, stdout, stderr, fuel and final memory size: the result hash is
// consensus, so an engine that differs in anything hashed is a fork. The aot
// cache lives in the build folder (VERITY_AOT_CACHE), so only a first run
// compiles. Where Node.js is missing the node engine is skipped, and says so.

#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/hash.h"
#include "tests/test_support.h"
#include "tests/wasm_support.h"
#include "worker/sandbox.h"

using namespace verity;
using namespace verity::worker;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) throw std::runtime_error(std::string(name) + " is not set; run with 'meson test'");
  return v;
}

Bytes read_bytes(const std::string& path) {
  std::string raw = testing::read_file(path);
  return Bytes(raw.begin(), raw.end());
}

Bytes test_module(const std::string& name) { return testing::test_module(name); }
Bytes example(const std::string& name) { return read_bytes(env("VERITY_EXAMPLES") + "/" + name + ".wasm"); }

bool have_node() { return std::system("node --version >/dev/null 2>&1") == 0; }

EngineConfig config(Engine e) {
  EngineConfig c;
  c.engine = e;
  c.aot_cache_dir = env("VERITY_AOT_CACHE");
  c.fallback = false;  // a failing aot must fail the test, not hide behind interp
  return c;
}

std::string describe(const SandboxResult& r) {
  return std::string(engine_name(r.engine)) + ": " + std::string(outcome_name(r.outcome)) +
         " exit=" + std::to_string(r.exit_code) + " fuel=" + std::to_string(r.fuel_used) +
         " out=" + std::to_string(r.stdout_bytes.size()) + "B err=" + std::to_string(r.stderr_bytes.size()) +
         "B pages=" + std::to_string(r.memory_pages) + " detail=" + r.detail;
}

struct Case {
  std::string what;
  Bytes module;
  std::string input;
  std::vector<std::string> args;
  SandboxLimits limits;
};

// Runs one case everywhere and compares with interp, the reference.
void check(const Case& c, std::vector<std::string>* summary = nullptr) {
  Hash256 id = sha256(as_bytes(c.what));
  SandboxResult ref = run_task(c.module, as_bytes(c.input), c.args, c.limits, id, config(Engine::interp));
  BOOST_TEST_MESSAGE(c.what << " " << describe(ref));
  BOOST_TEST((ref.engine == Engine::interp));
  std::vector<Engine> others = {Engine::aot};
  if (have_node()) others.push_back(Engine::node);
  for (Engine e : others) {
    SandboxResult r = run_task(c.module, as_bytes(c.input), c.args, c.limits, id, config(e));
    std::string what = c.what + " on " + std::string(engine_name(e));
    BOOST_TEST_MESSAGE("  " << describe(r));
    BOOST_TEST((r.engine == e), what);
    BOOST_TEST((r.outcome == ref.outcome), what << ": " << outcome_name(r.outcome) << " vs " << outcome_name(ref.outcome)
                                                 << " (" << r.detail << ")");
    BOOST_TEST(r.exit_code == ref.exit_code, what);
    BOOST_TEST(r.fuel_used == ref.fuel_used, what);
    BOOST_TEST((r.stdout_bytes == ref.stdout_bytes), what << ": stdout differs");
    BOOST_TEST((r.stderr_bytes == ref.stderr_bytes), what << ": stderr differs");
    BOOST_TEST(r.memory_pages == ref.memory_pages, what);
    BOOST_TEST((r.result_hash() == ref.result_hash()), what);
    if (summary) summary->push_back(what + ": " + std::to_string(r.run_ms) + " ms");
  }
}

std::string numbers(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += std::to_string(static_cast<std::int64_t>(rng())) + "\n";
  return s;
}

std::string binary(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& ch : s) ch = static_cast<char>(rng());
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(node_is_there_or_the_skip_is_said) {
  if (!have_node()) BOOST_TEST_MESSAGE("SKIP node engine: no `node` on PATH (apt-get install nodejs)");
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(every_test_module_on_every_engine) {
  SandboxLimits small_fuel;
  small_fuel.fuel = 200'000;
  SandboxLimits small_memory;
  small_memory.memory_pages = 64;
  SandboxLimits small_output;
  small_output.max_stdout = 10'000;
  SandboxLimits tight_stderr;
  tight_stderr.max_stderr = 3;
  std::vector<Case> cases = {
      {"hello", test_module("hello"), "", {}, {}},
      {"counted", test_module("counted"), "", {}, {}},
      {"endless_loop", test_module("endless_loop"), "", {}, small_fuel},
      {"unreachable", test_module("unreachable"), "", {}, {}},
      {"exit_code", test_module("exit_code"), "", {}, {}},
      {"deep_recursion", test_module("deep_recursion"), "", {}, {}},
      {"huge_output", test_module("huge_output"), "", {}, small_output},
      {"grow_memory t", test_module("grow_memory"), "t", {}, small_memory},
      {"grow_memory e", test_module("grow_memory"), "e", {}, small_memory},
      {"grow_memory s", test_module("grow_memory"), "s", {}, small_memory},
      {"grow_memory s, 256 pages", test_module("grow_memory"), "s", {}, {}},
      {"random", test_module("random"), "", {}, {}},
      {"wasi_probe", test_module("wasi_probe"), "ignored", {"alpha", "be ta"}, {}},
      {"echo", test_module("echo"), std::string(5000, 'q'), {}, {}},
      {"echo, stderr capped", test_module("echo"), "xy", {}, tight_stderr},
      {"floats", test_module("floats"), "", {}, {}},
      {"overlap", test_module("overlap"), std::string("\xc8\0\0\0\x05\0\0\0hello", 13), {}, {}},
      {"overlap outside", test_module("overlap"), std::string("\x70\x11\x01\0\x05\0\0\0hello", 13), {}, {}},
  };
  // Out of fuel at every point of a short run, and in a WASI call.
  for (std::uint64_t fuel : {1, 3, 10, 25, 40, 60}) {
    SandboxLimits l;
    l.fuel = fuel;
    cases.push_back({"hello, fuel " + std::to_string(fuel), test_module("hello"), "", {}, l});
    cases.push_back({"echo, fuel " + std::to_string(fuel * 100), test_module("echo"), "abcdef", {}, [&] {
                       SandboxLimits m;
                       m.fuel = fuel * 100;
                       return m;
                     }()});
  }
  for (const Case& c : cases) check(c);
}

BOOST_AUTO_TEST_CASE(every_example_task_on_every_engine) {
  std::vector<std::string> timings;
  SandboxLimits poor;
  poor.fuel = 2'000'000;
  std::vector<Case> cases = {
      {"sort small", example("sort"), "3 1 2\n-5\n", {}, {}},
      {"sort 3000", example("sort"), numbers(3000, 1), {}, {}},
      {"sort bad input", example("sort"), "1 2 x\n", {}, {}},
      {"sort out of fuel", example("sort"), numbers(3000, 2), {}, poor},
      {"sha256 empty", example("sha256"), "", {}, {}},
      {"sha256 100k", example("sha256"), binary(100'000, 3), {}, {}},
      {"primes 100000", example("primes"), "100000\n", {}, {}},
      {"primes bad", example("primes"), "-3\n", {}, {}},
      {"matmul 40", example("matmul"), "40\n", {}, {}},
      {"wc 100k", example("wc"), binary(100'000, 4), {}, {}},
      {"wc text", example("wc"), "one two\nthree\n", {}, {}},
  };
  for (const Case& c : cases) check(c, &timings);
  for (const auto& t : timings) BOOST_TEST_MESSAGE(t);
}

// In a cache of its own: the first run compiles, the second finds the
// module compiled (asserted by what the cache answered, not by timing).
BOOST_AUTO_TEST_CASE(the_aot_cache_is_used_the_second_time) {
  verity::testing::TempDir cache("aot-cache");
  EngineConfig c = config(Engine::aot);
  c.aot_cache_dir = cache.path.string();
  Hash256 id;
  auto first = run_task(example("wc"), as_bytes("a b\n"), {}, {}, id, c);
  auto second = run_task(example("wc"), as_bytes("a b\n"), {}, {}, id, c);
  BOOST_TEST_MESSAGE("compile " << first.compile_ms << " ms, then " << second.compile_ms << " ms");
  BOOST_TEST((first.engine == Engine::aot));
  BOOST_TEST(!first.aot_cached);
  BOOST_TEST((second.engine == Engine::aot));
  BOOST_TEST(second.aot_cached);
  BOOST_TEST((first.result_hash() == second.result_hash()));
}

BOOST_AUTO_TEST_CASE(aot_without_a_cache_falls_back_to_interp) {
  EngineConfig c;
  c.engine = Engine::aot;  // no cache directory: it cannot compile
  Hash256 id;
  auto r = run_task(test_module("hello"), {}, {}, {}, id, c);
  BOOST_TEST((r.engine == Engine::interp));
  BOOST_TEST((r.outcome == Outcome::ok));
  BOOST_TEST(r.detail.find("ran on interp") != std::string::npos, r.detail);
  c.fallback = false;
  auto failed = run_task(test_module("hello"), {}, {}, {}, id, c);
  BOOST_TEST((failed.outcome == Outcome::engine_failed));
}

BOOST_AUTO_TEST_CASE(compile_in_background_runs_interp_first_then_aot) {
  // A worker's setting: a module's first task must not wait for its compile.
  testing::TempDir dir("engines-bg");
  EngineConfig c;
  c.engine = Engine::aot;
  c.aot_cache_dir = (dir.path / "cache").string();
  c.compile_in_background = true;
  Hash256 id;
  auto first = run_task(example("primes"), as_bytes("1000\n"), {}, {}, id, c);
  BOOST_TEST((first.engine == Engine::interp));
  BOOST_TEST(first.detail.find("compiling it in the background") != std::string::npos, first.detail);
  SandboxResult later;
  for (int i = 0; i < 240; ++i) {  // up to a minute for the compile
    later = run_task(example("primes"), as_bytes("1000\n"), {}, {}, id, c);
    if (later.engine == Engine::aot) break;
    ::usleep(250'000);
  }
  BOOST_TEST((later.engine == Engine::aot));
  BOOST_TEST((later.result_hash() == first.result_hash()));
}
