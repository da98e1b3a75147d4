#define BOOST_TEST_MODULE examples_tests
#include <boost/test/unit_test.hpp>

// Every example task (examples/tasks/*.c) run in the sandbox prints exactly
// what the same C source built natively prints, with the same exit code, on
// a few inputs each; and a second sandbox run gives the same fuel.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/hash.h"
#include "tests/test_support.h"
#include "worker/sandbox.h"

using namespace verity;
using namespace verity::worker;

namespace {

std::string examples_dir() {
  const char* dir = std::getenv("VERITY_EXAMPLES");
  if (!dir) throw std::runtime_error("VERITY_EXAMPLES is not set; run with 'meson test'");
  return dir;
}

struct Native {
  std::string out;
  int exit_code = -1;
};

Native run_native(const std::string& task, const std::string& input) {
  testing::TempDir dir("examples");
  std::string in_path = (dir.path / "input").string();
  std::ofstream(in_path, std::ios::binary) << input;
  std::string cmd = "'" + examples_dir() + "/" + task + "_native' < '" + in_path + "' 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  Native n;
  char buf[65536];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) n.out.append(buf, got);
  int status = ::pclose(p);
  n.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return n;
}

Bytes wasm(const std::string& task) {
  std::string raw = testing::read_file(examples_dir() + "/" + task + ".wasm");
  return Bytes(raw.begin(), raw.end());
}

SandboxResult run_sandboxed(const std::string& task, const std::string& input) {
  Hash256 id = sha256(as_bytes(task + ":" + input));
  return run_task(wasm(task), as_bytes(input), {}, SandboxLimits{}, id);
}

void check_same(const std::string& task, const std::string& input) {
  Native native = run_native(task, input);
  SandboxResult a = run_sandboxed(task, input);
  std::string what = task + " on " + std::to_string(input.size()) + " input bytes";
  BOOST_TEST_MESSAGE(what << ": " << outcome_name(a.outcome) << ", exit " << a.exit_code << ", fuel "
                          << a.fuel_used << ", " << a.stdout_bytes.size() << " output bytes");
  BOOST_TEST((a.outcome == Outcome::ok), what << ": " << outcome_name(a.outcome) << " " << a.detail);
  BOOST_TEST(static_cast<int>(a.exit_code) == native.exit_code, what);
  BOOST_TEST(std::string(a.stdout_bytes.begin(), a.stdout_bytes.end()) == native.out, what);
  SandboxResult b = run_sandboxed(task, input);
  BOOST_TEST(b.fuel_used == a.fuel_used, what);
  BOOST_TEST(b.result_hash() == a.result_hash(), what);
}

std::string numbers(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += std::to_string(static_cast<std::int64_t>(rng()) >> (rng() % 64));
    s += (i % 10 == 9) ? "\n" : (i % 3 ? " " : "\t ");
  }
  return s;
}

std::string bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(rng() & 0xff));
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sort_matches_native) {
  check_same("sort", "");
  check_same("sort", "5 3 9 -1 0 3\n");
  check_same("sort", "9223372036854775807 -9223372036854775808 0 +12 -0");
  check_same("sort", numbers(3000, testing::test_seed()));
  check_same("sort", "1 2 x 3\n");                     // exit 2, nothing printed
  check_same("sort", "99999999999999999999\n");        // out of range: exit 2
}

BOOST_AUTO_TEST_CASE(sha256_matches_native_and_core) {
  for (const std::string& input : {std::string(), std::string("abc"), bytes(100000, testing::test_seed())}) {
    check_same("sha256", input);
    auto r = run_sandboxed("sha256", input);
    BOOST_TEST(std::string(r.stdout_bytes.begin(), r.stdout_bytes.end()) == sha256(as_bytes(input)).hex() + "\n");
  }
}

BOOST_AUTO_TEST_CASE(primes_match_native) {
  for (const char* n : {"0", "1", "2", "100", "100000", "-5", "ten"}) check_same("primes", n);
}

BOOST_AUTO_TEST_CASE(matmul_matches_native) {
  for (const char* n : {"1", "7", "60", "0"}) check_same("matmul", n);
}

BOOST_AUTO_TEST_CASE(wc_matches_native) {
  check_same("wc", "");
  check_same("wc", "hello world\n");
  check_same("wc", "  two\t\twords, no newline at the end  \r\v\f");
  check_same("wc", bytes(70000, testing::test_seed()));  // binary, more than one 64 KiB read
  check_same("wc", numbers(2000, 7));
}
