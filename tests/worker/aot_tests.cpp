#define BOOST_TEST_MODULE aot_tests
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/hash.h"
#include "tests/test_support.h"
#include "tests/wasm_support.h"
#include "worker/aot.h"
#include "worker/child_process.h"
#include "worker/engine_protocol.h"

using namespace verity;
using namespace verity::worker;
namespace fs = std::filesystem;
using testing::leb;
using testing::section;

namespace {

Bytes module_bytes(const std::string& name) { return testing::test_module(name); }


std::string runner() {
  const char* r = std::getenv("VERITY_SANDBOX_RUNNER");
  BOOST_REQUIRE_MESSAGE(r && *r, "VERITY_SANDBOX_RUNNER is not set; run with 'meson test'");
  return r;
}

// One compile cache for the suite (each test that measures the cache makes its own).
testing::TempDir& suite_dir() {
  static testing::TempDir dir("aot-tests");
  return dir;
}

AotConfig config(const fs::path& cache) {
  AotConfig c;
  c.cache_dir = cache.string();
  c.runner_path = runner();
  c.memory_cap_bytes = 256u * 65536;
  c.wall_ms = 30'000;
  c.cpu_seconds = 30;
  return c;
}
AotConfig config() { return config(suite_dir().path / "cache"); }

// Where the tests of the cache start: a cache of their own in a fresh
// directory `tag`, and aot_hello compiled into it once.
struct FreshCache {
  testing::TempDir dir;
  AotConfig cfg;
  Bytes m = module_bytes("aot_hello");
  AotCompiled first;
  explicit FreshCache(const std::string& tag) : dir(tag), cfg(config(dir.path)), first(aot_compile(m, cfg)) {
    BOOST_REQUIRE_MESSAGE(first.ok, first.error);
  }
};

EngineRequest request(std::uint64_t fuel, std::string_view input = {}) {
  EngineRequest r;
  r.fuel = fuel;
  r.max_stdout = 1u << 20;
  r.max_stderr = 64u << 10;
  for (int i = 0; i < 32; ++i) r.seed[i] = std::uint8_t(i + 1);
  r.argv = {"task"};
  r.input.assign(input.begin(), input.end());
  return r;
}

std::string compile(const std::string& name, const AotConfig& cfg = config()) {
  AotCompiled c = aot_compile(module_bytes(name), cfg);
  BOOST_REQUIRE_MESSAGE(c.ok, name << ": " << c.error);
  BOOST_TEST_MESSAGE(name << ": compiled in " << c.compile_ms << " ms" << (c.cached ? " (cache hit)" : ""));
  return c.so_path;
}

EngineResponse run(const std::string& name, EngineRequest req, const AotConfig& cfg = config()) {
  std::string so = compile(name, cfg);
  double ms = 0;
  EngineResponse r = aot_run(so, std::move(req), cfg, &ms);
  BOOST_TEST_MESSAGE(name << ": ran in " << ms << " ms, ending " << int(r.ending) << " " << r.detail);
  return r;
}

std::string text(const std::vector<std::uint8_t>& b) { return std::string(b.begin(), b.end()); }

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = char(v >> (8 * i));
  return s;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void name(Bytes& out, const std::string& s) {
  leb(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// A module with the instrumentation ABI whose _start is `pairs` times
// (i32.const 0, drop): tiny to run, enormous as C.
Bytes compile_bomb(std::size_t pairs) {
  Bytes m{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  section(m, 1, {0x01, 0x60, 0x00, 0x00});  // type 0: [] -> []
  section(m, 3, {0x01, 0x00});              // one function of type 0
  section(m, 5, {0x01, 0x00, 0x01});        // memory, 1 page
  section(m, 6, {0x02, 0x7e, 0x01, 0x42, 0x00, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b});  // mut i64, mut i32
  Bytes exports{0x04};
  name(exports, "memory");
  exports.insert(exports.end(), {0x02, 0x00});
  name(exports, "_start");
  exports.insert(exports.end(), {0x00, 0x00});
  name(exports, "verity_fuel");
  exports.insert(exports.end(), {0x03, 0x00});
  name(exports, "verity_flags");
  exports.insert(exports.end(), {0x03, 0x01});
  section(m, 7, exports);
  Bytes body{0x00};  // no locals
  body.reserve(pairs * 3 + 2);
  for (std::size_t i = 0; i < pairs; ++i) body.insert(body.end(), {0x41, 0x00, 0x1a});
  body.push_back(0x0b);
  Bytes code{0x01};
  leb(code, body.size());
  code.insert(code.end(), body.begin(), body.end());
  section(m, 10, code);
  return m;
}

ChildResult sh(const std::string& script, const ChildLimits& lim, const std::vector<std::uint8_t>& in = {},
               std::size_t max_out = 64u << 20) {
  return run_child({"/bin/sh", "-c", script}, in, lim, max_out);
}

}  // namespace

// ---- the engine on hand-instrumented modules ----

BOOST_AUTO_TEST_CASE(hello_world_output_and_fuel) {
  auto t0 = std::chrono::steady_clock::now();
  EngineResponse r = run("aot_hello", request(1000));
  BOOST_TEST_MESSAGE("aot_hello: compile and run " << ms_since(t0) << " ms");
  BOOST_TEST(int(r.ending) == int(Ending::returned), r.detail);
  BOOST_TEST(text(r.out) == "hello\n");
  BOOST_TEST(r.fuel_left == 1000 - 24);  // 10 on entry, 6 bytes + 8 for the iovec
  BOOST_TEST(r.flags == 0u);
  BOOST_TEST(r.memory_pages == 1u);
  BOOST_TEST(r.err.empty());
}

BOOST_AUTO_TEST_CASE(fuel_runs_out) {
  EngineResponse r = run("aot_loop", request(1'000'000));
  BOOST_TEST(int(r.ending) == int(Ending::out_of_fuel), r.detail);
  BOOST_TEST(r.fuel_left == -1);
  // hello needs 24: 23 is not enough (the WASI call refuses to move the bytes)
  EngineResponse h = run("aot_hello", request(23));
  BOOST_TEST(int(h.ending) == int(Ending::out_of_fuel), h.detail);
  BOOST_TEST(h.out.empty());
  EngineResponse exact = run("aot_hello", request(24));
  BOOST_TEST(int(exact.ending) == int(Ending::returned), exact.detail);
  BOOST_TEST(exact.fuel_left == 0);
}

BOOST_AUTO_TEST_CASE(deep_recursion_uses_the_big_native_stack) {
  // 100,000 and 900,000 frames return normally on the runner's 256 MiB stack.
  for (std::uint32_t depth : {100'000u, 900'000u}) {
    EngineResponse r = run("aot_recursion", request(100'000'000, le32(depth)));
    BOOST_TEST(int(r.ending) == int(Ending::returned), depth << ": " << r.detail);
    BOOST_TEST(text(r.out) == "ok");
    BOOST_TEST(r.flags == 0u);
  }
  // Past the module's own limit: its trap, with flag 2, not a native overflow.
  EngineResponse over = run("aot_recursion", request(100'000'000, le32(3'000'000)));
  BOOST_TEST(int(over.ending) == int(Ending::trap), over.detail);
  BOOST_TEST((over.flags & kFlagStackExhausted) != 0u);

  // The same 900,000 frames on a default 8 MiB stack do not fit: the native
  // stack overflows first (wasm2c's guard-page handler turns it into a trap,
  // or the runner dies). This is why aot_run asks for 256 MiB.
  EngineRequest req = request(100'000'000, le32(900'000));
  std::string so = compile("aot_recursion");
  req.module.assign(so.begin(), so.end());
  ChildLimits lim;
  lim.wall_ms = 30'000;
  lim.stack_bytes = 8u << 20;
  ChildResult c = run_child({runner()}, encode_request(req), lim);
  auto resp = decode_response(c.out.data(), c.out.size());
  bool returned = c.exited_ok() && resp && resp->ending == Ending::returned;
  BOOST_TEST(!returned, "900,000 frames fit in 8 MiB: the test no longer shows the need for a big stack");
  if (resp) BOOST_TEST_MESSAGE("8 MiB stack: " << int(resp->ending) << " " << resp->detail);
}

BOOST_AUTO_TEST_CASE(memory_grows_to_the_cap_and_no_further) {
  EngineResponse r = run("aot_grow", request(10'000));
  BOOST_TEST(int(r.ending) == int(Ending::returned), r.detail);
  BOOST_TEST(text(r.out) == "3");  // 1 -> 4 pages, then -1
  BOOST_TEST(r.memory_pages == 4u);
  BOOST_TEST(r.flags == kFlagGrowRefused);
}

BOOST_AUTO_TEST_CASE(huge_output_is_cut_at_max_stdout) {
  EngineRequest req = request(1'000'000'000);
  req.max_stdout = 100'000;
  EngineResponse r = run("aot_flood", req);
  BOOST_TEST(int(r.ending) == int(Ending::output_too_large), r.detail);
  BOOST_TEST(r.out.size() == 100'000u);
  BOOST_TEST(std::count(r.out.begin(), r.out.end(), 'x') == 100'000);
}

BOOST_AUTO_TEST_CASE(out_of_bounds_load_and_store_trap) {
  for (const char* which : {"l", "s", "h"}) {
    EngineResponse r = run("aot_oob", request(1000, which));
    BOOST_TEST(int(r.ending) == int(Ending::trap), which << ": " << r.detail);
    BOOST_TEST(r.detail.find("Out-of-bounds") != std::string::npos, r.detail);
    BOOST_TEST(r.out.empty());
  }
  EngineResponse ok = run("aot_oob", request(1000, "e"));
  BOOST_TEST(int(ok.ending) == int(Ending::returned), ok.detail);
  BOOST_TEST(text(ok.out) == "in");
}

BOOST_AUTO_TEST_CASE(proc_exit_ends_the_run) {
  EngineResponse r = run("aot_exit", request(1000));
  BOOST_TEST(int(r.ending) == int(Ending::exited), r.detail);
  BOOST_TEST(r.exit_code == 3u);
  BOOST_TEST(text(r.out) == "bye");
}

BOOST_AUTO_TEST_CASE(random_stream_is_the_tasks) {
  EngineRequest req = request(1000);
  EngineResponse r = run("aot_random", req);
  BOOST_TEST(int(r.ending) == int(Ending::returned), r.detail);
  Bytes expect;
  for (std::uint64_t i = 0; i < 2; ++i) {
    Bytes m(req.seed, req.seed + 32);
    for (int k = 7; k >= 0; --k) m.push_back(std::uint8_t(i >> (8 * k)));
    Hash256 h = tagged_hash(Domain::task_random, m);
    expect.insert(expect.end(), h.data.begin(), h.data.end());
  }
  expect.resize(40);
  BOOST_TEST(r.out == expect);
}

BOOST_AUTO_TEST_CASE(runner_failures_are_engine_failed) {
  AotConfig cfg = config();
  cfg.runner_path = "/bin/true";  // exits 0 and says nothing
  EngineResponse r = aot_run(compile("aot_hello"), request(1000), cfg);
  BOOST_TEST(int(r.ending) == int(Ending::engine_failed));
  BOOST_TEST(r.detail.find("no response") != std::string::npos, r.detail);
  cfg.runner_path = "/nonexistent/verity-sandbox";
  r = aot_run(compile("aot_hello"), request(1000), cfg);
  BOOST_TEST(int(r.ending) == int(Ending::engine_failed));
  BOOST_TEST(r.detail.find("did not start") != std::string::npos, r.detail);
  // A wall clock shorter than the run: killed, not a result.
  cfg = config();
  cfg.wall_ms = 200;
  r = aot_run(compile("aot_loop"), request(std::uint64_t(1) << 62), cfg);
  BOOST_TEST(int(r.ending) == int(Ending::engine_failed));
  BOOST_TEST(r.detail.find("wall-clock limit 200 ms") != std::string::npos, r.detail);
}

// The seccomp filter: a shared object with the shim's interface whose
// _start opens a socket. The runner must die of SIGSYS; the same object
// without the call runs normally (so the filter is what kills it).
BOOST_AUTO_TEST_CASE(seccomp_kills_a_forbidden_system_call) {
  testing::TempDir dir("aot-seccomp");
  auto build = [&](const std::string& nm, const std::string& start_body) {
    std::string src = R"(
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <unistd.h>
typedef struct { uint8_t* data; uint32_t pages, max_pages, size; } mem_t;
static uint8_t page[65536];
static mem_t mem = {page, 1, 1, 65536};
static uint64_t fuel;
static uint32_t flags;
uint32_t verity_task_abi(void) { return 1; }
size_t verity_task_instance_size(void) { return 16; }
void verity_task_init_module(void) {}
void verity_task_instantiate(void* i, void* w) { (void)i; (void)w; }
uint64_t* verity_task_fuel(void* i) { (void)i; return &fuel; }
uint32_t* verity_task_flags(void* i) { (void)i; return &flags; }
mem_t* verity_task_memory(void* i) { (void)i; return &mem; }
void verity_task_start(void* i) { (void)i; )" + start_body + R"( }
)";
    std::string c = (dir.path / (nm + ".c")).string(), so = (dir.path / (nm + ".so")).string();
    std::ofstream(c) << src;
    ChildLimits lim;
    lim.wall_ms = 60'000;
    ChildResult cc = run_child({"cc", "-shared", "-fPIC", "-O1", "-o", so, c}, {}, lim);
    BOOST_REQUIRE_MESSAGE(cc.exited_ok(), cc.describe() << " " << cc.err);
    return so;
  };
  std::string bad = build("bad", "fuel = (uint64_t)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);");
  std::string good = build("good", "fuel = 7;");
  AotConfig cfg = config();
  EngineResponse g = aot_run(good, request(1), cfg);
  BOOST_TEST(int(g.ending) == int(Ending::returned), g.detail);
  BOOST_TEST(g.fuel_left == 7);
  EngineResponse b = aot_run(bad, request(1), cfg);
  BOOST_TEST(int(b.ending) == int(Ending::engine_failed), b.detail);
  BOOST_TEST(b.detail.find("signal " + std::to_string(SIGSYS)) != std::string::npos, b.detail);
}

// ---- the compile cache and its bounds ----

BOOST_AUTO_TEST_CASE(cache_hit_skips_the_compiler) {
  FreshCache cache("aot-cache");
  auto& [dir, cfg, m, first] = cache;
  BOOST_TEST(!first.cached);
  AotCompiled second = aot_compile(m, cfg);
  BOOST_REQUIRE(second.ok);
  BOOST_TEST(second.cached);
  BOOST_TEST(second.so_path == first.so_path);
  BOOST_TEST_MESSAGE("compile " << first.compile_ms << " ms, cache hit " << second.compile_ms << " ms");
  // Only the object is left in the directory: no temporary files.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++entries;
  }
  BOOST_TEST(entries == 1);
  // Another module gets another file.
  AotCompiled other = aot_compile(module_bytes("aot_exit"), cfg);
  BOOST_REQUIRE(other.ok);
  BOOST_TEST(other.so_path != first.so_path);
}

BOOST_AUTO_TEST_CASE(corrupted_cache_file_is_compiled_again) {
  FreshCache cache("aot-corrupt");
  auto& [dir, cfg, m, first] = cache;
  auto size = fs::file_size(first.so_path);
  {
    // Flip one byte in the middle of the object.
    std::fstream f(first.so_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(size / 2));
    char c = 0;
    f.read(&c, 1);
    c = char(c ^ 0x5a);
    f.seekp(std::streamoff(size / 2));
    f.write(&c, 1);
  }
  AotCompiled again = aot_compile(m, cfg);
  BOOST_REQUIRE_MESSAGE(again.ok, again.error);
  BOOST_TEST(!again.cached);
  BOOST_TEST(again.so_path == first.so_path);
  // Truncated (a crash mid-copy by hand, a full disk): also compiled again.
  fs::resize_file(first.so_path, size / 3);
  AotCompiled third = aot_compile(m, cfg);
  BOOST_REQUIRE(third.ok);
  BOOST_TEST(!third.cached);
  BOOST_TEST(fs::file_size(third.so_path) == size);
  EngineResponse r = aot_run(third.so_path, request(1000), cfg);
  BOOST_TEST(int(r.ending) == int(Ending::returned), r.detail);
  BOOST_TEST(text(r.out) == "hello\n");
  // And it is a hit again.
  BOOST_TEST(aot_compile(m, cfg).cached);
}

BOOST_AUTO_TEST_CASE(compile_bomb_fails_within_its_bound) {
  testing::TempDir dir("aot-bomb");
  AotConfig cfg = config(dir.path);
  Bytes bomb = compile_bomb(2'000'000);
  BOOST_TEST_MESSAGE("bomb: " << bomb.size() << " bytes of wasm");
  // A tiny time bound: fails within it (plus process start-up and clean-up).
  cfg.compile_wall_ms = 1500;
  auto t0 = std::chrono::steady_clock::now();
  AotCompiled c = aot_compile(bomb, cfg);
  double ms = ms_since(t0);
  BOOST_TEST(!c.ok);
  BOOST_TEST_MESSAGE("time-bounded bomb: " << ms << " ms: " << c.error);
  BOOST_TEST(ms < 4000);
  BOOST_TEST(c.error.find("wall-clock limit") != std::string::npos, c.error);
  // Plenty of time, a small bound on the generated C: refused by size.
  cfg.compile_wall_ms = 120'000;
  cfg.max_generated_c = 1u << 20;
  t0 = std::chrono::steady_clock::now();
  c = aot_compile(bomb, cfg);
  BOOST_TEST(!c.ok);
  BOOST_TEST_MESSAGE("size-bounded bomb: " << ms_since(t0) << " ms: " << c.error);
  BOOST_TEST((c.error.find("file size limit") != std::string::npos ||
              c.error.find("generated C") != std::string::npos),
             c.error);
  // Nothing left behind.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++entries;
  }
  BOOST_TEST(entries == 0);
  // A module without the instrumentation globals is refused at compile time.
  cfg = config(dir.path);
  AotCompiled plain = aot_compile(module_bytes("hello"), cfg);
  BOOST_TEST(!plain.ok);
  BOOST_TEST(plain.error.find("verity_fuel") != std::string::npos, plain.error);
}

// ---- run_child ----

BOOST_AUTO_TEST_CASE(child_wall_clock_kills_the_group) {
  ChildLimits lim;
  lim.wall_ms = 300;
  // The shell's background child must die with it (process group), or the
  // pipe stays open and this would wait.
  ChildResult r = sh("sleep 30 & sleep 30", lim);
  BOOST_TEST(r.started);
  BOOST_TEST(r.timed_out);
  BOOST_TEST(r.signal == SIGKILL);
  BOOST_TEST(r.wall_ms < 3000);
  BOOST_TEST(r.describe() == "killed by signal 9 (wall-clock limit 300 ms)");
}

BOOST_AUTO_TEST_CASE(child_cpu_limit) {
  ChildLimits lim;
  lim.cpu_seconds = 1;
  lim.wall_ms = 30'000;
  ChildResult r = sh("while :; do :; done", lim);
  BOOST_TEST(!r.timed_out);
  BOOST_TEST((r.signal == SIGXCPU || r.signal == SIGKILL), r.describe());
  BOOST_TEST(r.describe().find("CPU time limit") != std::string::npos, r.describe());
}

BOOST_AUTO_TEST_CASE(child_data_limit) {
  ChildLimits lim;
  lim.wall_ms = 30'000;
  const std::string script = "x=$(head -c 40000000 /dev/zero | tr '\\0' a); echo ${#x}";
  ChildResult free_run = sh(script, lim);
  BOOST_TEST(free_run.exited_ok(), free_run.describe());
  BOOST_TEST(text(free_run.out) == "40000000\n");
  lim.data_bytes = 16u << 20;
  ChildResult bounded = sh(script, lim);
  BOOST_TEST(!bounded.exited_ok(), bounded.describe());
  BOOST_TEST(text(bounded.out) != "40000000\n");
}

BOOST_AUTO_TEST_CASE(child_io_never_hangs) {
  ChildLimits lim;
  lim.wall_ms = 30'000;
  // A child that never reads its stdin: 16 MiB offered, it exits, no SIGPIPE here.
  std::vector<std::uint8_t> big(16u << 20, 'a');
  ChildResult r = sh("exit 4", lim, big);
  BOOST_TEST(r.exit_code == 4);
  BOOST_TEST(r.describe() == "exited 4");
  // Both directions at once: 4 MiB through cat.
  std::vector<std::uint8_t> in(4u << 20);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = std::uint8_t(i * 7);
  ChildResult c = run_child({"cat"}, in, lim);
  BOOST_TEST(c.exited_ok(), c.describe());
  BOOST_TEST((c.out == in));
  // A flood: cut at max_out and killed.
  ChildResult y = run_child({"yes"}, {}, lim, 1u << 20);
  BOOST_TEST(y.out_truncated);
  BOOST_TEST(y.out.size() == std::size_t(1u << 20));
  BOOST_TEST(y.signal == SIGKILL);
  // stderr is kept up to 64 KiB, and drained past it.
  ChildResult e = sh("head -c 1000000 /dev/zero >&2; echo done", lim);
  BOOST_TEST(e.exited_ok(), e.describe());
  BOOST_TEST(e.err.size() == kChildMaxErr);
  BOOST_TEST(text(e.out) == "done\n");
  // Not found.
  ChildResult n = run_child({"/nonexistent/program"}, {}, lim);
  BOOST_TEST(!n.started);
  BOOST_TEST(n.describe().find("did not start") == 0u, n.describe());
}

BOOST_AUTO_TEST_CASE(child_gets_no_fds_no_privileges_no_environment) {
  int fd = ::open("/dev/null", O_RDONLY);  // not close-on-exec: must still not reach the child
  BOOST_REQUIRE(fd >= 0);
  ::setenv("VERITY_TEST_SECRET", "hunter2", 1);
  ChildLimits lim;
  lim.wall_ms = 30'000;
  // A simple command, not a pipeline: while a pipeline starts, the shell
  // itself holds its pipes' ends, and ls could list them (seen under load).
  ChildResult r = sh("ls -m /proc/$$/fd; grep NoNewPrivs /proc/$$/status; env | grep -c SECRET", lim);
  ::close(fd);
  ::unsetenv("VERITY_TEST_SECRET");
  BOOST_TEST(text(r.out) == "0, 1, 2\nNoNewPrivs:\t1\n0\n", text(r.out));
  // Own process group.
  ChildResult g = sh("ps -o pgid= -p $$; echo $$", lim);
  std::string s = text(g.out);
  auto nl = s.find('\n');
  BOOST_REQUIRE(nl != std::string::npos);
  BOOST_TEST(std::stol(s.substr(0, nl)) == std::stol(s.substr(nl + 1)), s);
}

// A worker that stops kills what run_child still runs for it (a compile in
// the background): the child's whole process group, descendants included,
// so run_child returns at once. Without it the child ran on to its
// wall-clock limit.
BOOST_AUTO_TEST_CASE(kill_running_children_stops_a_child_and_its_descendants) {
  ChildLimits lim;
  lim.wall_ms = 20000;
  ChildResult r;
  std::atomic<bool> done{false};
  std::thread t([&] {
    r = run_child({"/bin/sh", "-c", "sleep 40 & sleep 40; wait"}, {}, lim);
    done = true;
  });
  while (!done) {  // until it has started and been killed
    kill_running_children();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  t.join();
  BOOST_TEST(r.started);
  BOOST_TEST(!r.timed_out, r.describe());
  BOOST_TEST(r.signal == SIGKILL, r.describe());  // not the 20 s limit: that would say timed_out
}
