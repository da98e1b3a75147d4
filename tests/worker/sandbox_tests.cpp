#define BOOST_TEST_MODULE sandbox_tests
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/encoding.h"
#include "tests/test_support.h"
#include "tests/wasm_support.h"
#include "core/transaction.h"
#include "worker/sandbox.h"

using namespace verity;
using namespace verity::worker;
using testing::leb;
using testing::section;

namespace {

Bytes module_bytes(const std::string& name) { return testing::test_module(name); }


Hash256 task_id(std::uint8_t fill) {
  Hash256 h;
  h.data.fill(fill);
  return h;
}

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

SandboxResult run(const std::string& module, std::string_view input = {}, SandboxLimits limits = {},
                  std::vector<std::string> args = {}, Hash256 id = task_id(1)) {
  return run_task(module_bytes(module), as_bytes(input), args, limits, id);
}

std::string describe(const SandboxResult& r) {
  return std::string(outcome_name(r.outcome)) + " exit=" + std::to_string(r.exit_code) +
         " fuel=" + std::to_string(r.fuel_used) + " detail=" + r.detail;
}

bool same(const SandboxResult& a, const SandboxResult& b) {
  return a.outcome == b.outcome && a.exit_code == b.exit_code && a.stdout_bytes == b.stdout_bytes &&
         a.stderr_bytes == b.stderr_bytes && a.fuel_used == b.fuel_used && a.detail == b.detail &&
         a.memory_pages == b.memory_pages && a.result_hash() == b.result_hash();
}

std::uint64_t le(const Bytes& b, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | b.at(at + i);
  return v;
}


// $down (param i32) (result i32) with `locals` i64 locals recurses forever;
// _start calls it.
Bytes fat_frames_module(std::uint32_t locals) {
  Bytes m{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  section(m, 1, {0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00});  // types
  section(m, 3, {0x02, 0x00, 0x01});                                      // funcs
  section(m, 5, {0x01, 0x00, 0x01});                                      // memory 1 page
  Bytes exports{0x02, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00,
                0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01};
  section(m, 7, exports);
  Bytes down{0x01};  // one local declaration
  leb(down, locals);
  down.push_back(0x7e);                                                   // i64
  for (std::uint8_t b : {0x20, 0x00, 0x41, 0x01, 0x6a, 0x10, 0x00, 0x0b}) down.push_back(b);
  Bytes start{0x00, 0x41, 0x00, 0x10, 0x00, 0x1a, 0x0b};
  Bytes code{0x02};
  leb(code, down.size());
  code.insert(code.end(), down.begin(), down.end());
  leb(code, start.size());
  code.insert(code.end(), start.begin(), start.end());
  section(m, 10, code);
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(outcome_names_are_stable) {
  // The values are consensus data too: a reveal carries them.
  BOOST_TEST(static_cast<int>(Outcome::ok) == 0);
  BOOST_TEST(static_cast<int>(Outcome::trap) == 1);
  BOOST_TEST(static_cast<int>(Outcome::out_of_fuel) == 2);
  BOOST_TEST(static_cast<int>(Outcome::memory_exceeded) == 3);
  BOOST_TEST(static_cast<int>(Outcome::output_too_large) == 4);
  BOOST_TEST(static_cast<int>(Outcome::invalid_module) == 5);
  BOOST_TEST(static_cast<int>(Outcome::forbidden_import) == 6);
  BOOST_TEST(outcome_name(Outcome::ok) == "ok");
  BOOST_TEST(outcome_name(Outcome::trap) == "trap");
  BOOST_TEST(outcome_name(Outcome::out_of_fuel) == "out-of-fuel");
  BOOST_TEST(outcome_name(Outcome::memory_exceeded) == "memory-exceeded");
  BOOST_TEST(outcome_name(Outcome::output_too_large) == "output-too-large");
  BOOST_TEST(outcome_name(Outcome::invalid_module) == "invalid-module");
  BOOST_TEST(outcome_name(Outcome::forbidden_import) == "forbidden-import");
  BOOST_TEST(static_cast<int>(Outcome::engine_failed) == 7);  // never committed
  BOOST_TEST(outcome_name(Outcome::engine_failed) == "engine-failed");
  for (int i = 0; i <= static_cast<int>(Outcome::engine_failed); ++i) {
    auto o = static_cast<Outcome>(i);
    BOOST_TEST((outcome_from_name(outcome_name(o)) == o));
  }
  BOOST_TEST(!outcome_from_name("OK").has_value());
}

BOOST_AUTO_TEST_CASE(runs_a_wasi_command) {
  auto r = run("hello");
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_TEST((r.outcome == Outcome::ok));
  BOOST_TEST(r.exit_code == 0u);
  BOOST_TEST(text(r.stdout_bytes) == "hi\n");
  BOOST_TEST(r.fuel_used > 0u);
  BOOST_TEST(r.memory_pages == 1u);
}

BOOST_AUTO_TEST_CASE(a_unit_of_fuel_is_a_webassembly_instruction) {
  // i32.const 1; i32.const 2; i32.add; drop: four instructions, charged by
  // the module itself at the function's entry (docs/sandbox.md, "Metering").
  auto r = run("counted");
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_REQUIRE((r.outcome == Outcome::ok));
  BOOST_TEST(r.fuel_used == 4u);

  SandboxLimits exact;
  exact.fuel = r.fuel_used;
  auto just_enough = run("counted", {}, exact);
  BOOST_TEST((just_enough.outcome == Outcome::ok));
  BOOST_TEST(just_enough.fuel_used == r.fuel_used);

  SandboxLimits short_by_one;
  short_by_one.fuel = r.fuel_used - 1;
  auto one_short = run("counted", {}, short_by_one);
  BOOST_TEST((one_short.outcome == Outcome::out_of_fuel));
  BOOST_TEST(one_short.fuel_used == r.fuel_used - 1);

  SandboxLimits none;
  none.fuel = 0;
  BOOST_TEST((run("counted", {}, none).outcome == Outcome::out_of_fuel));
}

BOOST_AUTO_TEST_CASE(the_instrumented_module_is_the_same_bytes_every_time) {
  for (const char* name : {"hello", "grow_memory", "deep_recursion", "wasi_probe", "floats"}) {
    auto a = metered_module(module_bytes(name));
    auto b = metered_module(module_bytes(name));
    BOOST_REQUIRE_MESSAGE(a.ok(), name);
    BOOST_TEST(a.value() == b.value());
    BOOST_TEST(a.value() != module_bytes(name));
    // Instrumenting an instrumented module is refused: the names are reserved.
    auto again = metered_module(a.value());
    BOOST_REQUIRE(!again.ok());
    BOOST_TEST(again.error().detail.find("reserved") != std::string::npos);
  }
  // The memory cap is part of the instrumented module (its maximum).
  SandboxLimits small;
  small.memory_pages = 64;
  BOOST_TEST(metered_module(module_bytes("hello"), small).value() != metered_module(module_bytes("hello")).value());
}

BOOST_AUTO_TEST_CASE(endless_loop_runs_out_of_fuel_identically) {
  SandboxLimits limits;
  limits.fuel = 1'000'000;
  auto a = run("endless_loop", {}, limits);
  auto b = run("endless_loop", {}, limits);
  BOOST_TEST_MESSAGE(describe(a));
  BOOST_TEST((a.outcome == Outcome::out_of_fuel));
  BOOST_TEST(a.fuel_used == 1'000'000u);
  BOOST_TEST(same(a, b));
  BOOST_TEST(a.stdout_bytes.empty());
}

BOOST_AUTO_TEST_CASE(forbidden_imports_are_named) {
  auto r = run("opens_files");
  BOOST_TEST((r.outcome == Outcome::forbidden_import));
  BOOST_TEST(r.detail == "wasi_snapshot_preview1.path_open");
  BOOST_TEST(r.fuel_used == 0u);

  auto several = run("imports_memory");
  BOOST_TEST((several.outcome == Outcome::forbidden_import));
  BOOST_TEST(several.detail == "env.memory (memory), env.leak, wasi_snapshot_preview1.sock_send");

  auto status = check_module(module_bytes("opens_files"));
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().to_string() == "forbidden-import: wasi_snapshot_preview1.path_open");
  BOOST_TEST(check_module(module_bytes("hello")).ok());
  BOOST_TEST(check_module(module_bytes("wasi_probe")).ok());
}

BOOST_AUTO_TEST_CASE(the_allowed_list_is_the_documented_subset) {
  std::vector<std::string> implemented, nosys;
  for (const auto& f : allowed_wasi_imports()) (f.implemented ? implemented : nosys).push_back(f.name);
  BOOST_TEST(implemented == (std::vector<std::string>{
                                "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get",
                                "clock_time_get", "fd_close", "fd_fdstat_get", "fd_prestat_get", "fd_read",
                                "fd_seek", "fd_write", "proc_exit", "random_get", "sched_yield"}),
             boost::test_tools::per_element());
  for (const auto& name : nosys) {
    BOOST_TEST(name.rfind("path_", 0) != 0);
    BOOST_TEST(name.rfind("sock_", 0) != 0);
  }
  BOOST_TEST(nosys.size() == 16u);
}

BOOST_AUTO_TEST_CASE(invalid_modules_are_not_run) {
  auto expect_invalid = [](const SandboxResult& r, const std::string& needle) {
    BOOST_TEST_MESSAGE(describe(r));
    BOOST_TEST((r.outcome == Outcome::invalid_module));
    BOOST_TEST(r.detail.find(needle) != std::string::npos, r.detail << " should mention " << needle);
    BOOST_TEST(r.fuel_used == 0u);
  };
  expect_invalid(run_task(as_bytes("not wasm"), {}, {}, {}, task_id(1)), "magic");
  expect_invalid(run("start_section"), "start section");
  expect_invalid(run("no_memory"), "memory");
  expect_invalid(run("bulk_memory"), "feature the sandbox refuses");  // memory.fill
  // Found by the engines fuzz target: a segment past the memory made
  // instantiation trap, which each engine reported its own way.
  expect_invalid(run("data_out_of_bounds"), "data segment 0 does not fit");
  expect_invalid(run_task(fat_frames_module(50001), {}, {}, {}, task_id(1)), "locals");

  SandboxLimits small;
  small.max_module_bytes = 16;
  expect_invalid(run("hello", {}, small), "module-too-large");
  auto status = check_module(module_bytes("start_section"));
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().reason == "invalid-module");

  // Found by the wasm_module fuzz target: check_module admitted a WASI
  // import with the wrong signature, which every run then refused.
  expect_invalid(run("wrong_import_signature"), "wasi_snapshot_preview1.fd_write is imported with the wrong signature");
  auto wrong = check_module(module_bytes("wrong_import_signature"));
  BOOST_REQUIRE(!wrong.ok());
  BOOST_TEST(wrong.error().reason == "invalid-module");
}

BOOST_AUTO_TEST_CASE(declared_memory_above_the_cap_is_memory_exceeded) {
  auto r = run("big_memory");
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_TEST((r.outcome == Outcome::memory_exceeded));
  BOOST_TEST(r.detail.find("300 pages") != std::string::npos);
  BOOST_TEST(r.fuel_used == 0u);
  BOOST_TEST(check_module(module_bytes("big_memory")).error().reason == "memory-exceeded");

  SandboxLimits roomy;
  roomy.memory_pages = 300;
  auto ok = run("big_memory", {}, roomy);
  BOOST_TEST((ok.outcome == Outcome::ok));
  BOOST_TEST(ok.memory_pages == 300u);
}

BOOST_AUTO_TEST_CASE(memory_grow_stops_at_the_cap) {
  SandboxLimits limits;
  limits.memory_pages = 64;
  // 1 page, then +16 three times = 49; the fourth grow would make 65.
  auto trapped = run("grow_memory", "t", limits);
  BOOST_TEST_MESSAGE(describe(trapped));
  BOOST_TEST((trapped.outcome == Outcome::memory_exceeded));
  BOOST_TEST(trapped.memory_pages == 49u);
  BOOST_TEST(trapped.detail.find("unreachable") != std::string::npos);

  auto exited = run("grow_memory", "e", limits);
  BOOST_TEST_MESSAGE(describe(exited));
  BOOST_TEST((exited.outcome == Outcome::memory_exceeded));
  BOOST_TEST(exited.exit_code == 1u);

  auto coped = run("grow_memory", "s", limits);
  BOOST_TEST_MESSAGE(describe(coped));
  BOOST_TEST((coped.outcome == Outcome::ok));
  BOOST_TEST(text(coped.stdout_bytes) == "coped\n");
  BOOST_TEST(coped.memory_pages == 49u);

  BOOST_TEST(same(trapped, run("grow_memory", "t", limits)));
  limits.memory_pages = 256;
  BOOST_TEST(run("grow_memory", "s", limits).memory_pages == 241u);
}

BOOST_AUTO_TEST_CASE(deep_recursion_hits_the_injected_stack_limit) {
  // $down takes 128 slots (the minimum frame), so 1,024 frames fit; the
  // 1,024th call into $down (under _start's frame) traps.
  auto a = run("deep_recursion");
  BOOST_TEST_MESSAGE(describe(a));
  BOOST_TEST((a.outcome == Outcome::trap));
  BOOST_TEST(a.detail == "call stack exhausted");
  BOOST_TEST(same(a, run("deep_recursion")));
  // A trap uses all the fuel: how far the run got is not part of its result.
  BOOST_TEST(a.fuel_used == SandboxLimits{}.fuel);
}

BOOST_AUTO_TEST_CASE(fat_frames_take_more_of_the_stack) {
  // A frame of 40,000 locals takes 40,003 slots: three fit in 131,072.
  auto r = run_task(fat_frames_module(40000), {}, {}, {}, task_id(1));
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_TEST((r.outcome == Outcome::trap));
  BOOST_TEST(r.detail == "call stack exhausted");
  BOOST_TEST(r.fuel_used == SandboxLimits{}.fuel);  // a trap uses all the fuel

  SandboxLimits limits;
  limits.fuel = 100000;  // entering a function pays for its locals up front
  auto poor = run_task(fat_frames_module(40000), {}, {}, limits, task_id(1));
  BOOST_TEST((poor.outcome == Outcome::out_of_fuel));
  BOOST_TEST(poor.fuel_used == 100000u);
}

BOOST_AUTO_TEST_CASE(huge_output_is_output_too_large) {
  SandboxLimits limits;
  limits.max_stdout = 10000;
  auto r = run("huge_output", {}, limits);
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_TEST((r.outcome == Outcome::output_too_large));
  BOOST_TEST(r.stdout_bytes.size() == 10000u);  // the first max_stdout bytes
  BOOST_TEST(same(r, run("huge_output", {}, limits)));
}

BOOST_AUTO_TEST_CASE(unreachable_traps_and_keeps_what_was_written) {
  auto r = run("unreachable");
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_TEST((r.outcome == Outcome::trap));
  BOOST_TEST(r.detail == "unreachable executed");
  BOOST_TEST(text(r.stdout_bytes) == "before\n");
  BOOST_TEST(r.fuel_used == SandboxLimits{}.fuel);  // a trap uses all the fuel
}

BOOST_AUTO_TEST_CASE(proc_exit_reports_its_code) {
  auto r = run("exit_code");
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_TEST((r.outcome == Outcome::ok));
  BOOST_TEST(r.exit_code == 3u);
}

BOOST_AUTO_TEST_CASE(random_get_is_seeded_from_the_task_id) {
  auto a = run("random", {}, {}, {}, task_id(7));
  BOOST_REQUIRE((a.outcome == Outcome::ok));
  BOOST_REQUIRE_EQUAL(a.stdout_bytes.size(), 100u);
  BOOST_TEST(same(a, run("random", {}, {}, {}, task_id(7))));

  // The stream is tagged_hash(task-random, id || index) blocks, continued
  // across calls.
  Bytes expected;
  for (std::uint64_t i = 0; i < 4; ++i) {
    Hash256 block = random_block(task_id(7), i);
    expected.insert(expected.end(), block.data.begin(), block.data.end());
  }
  expected.resize(100);
  BOOST_TEST(a.stdout_bytes == expected);

  auto b = run("random", {}, {}, {}, task_id(8));
  BOOST_TEST(a.stdout_bytes != b.stdout_bytes);
  BOOST_TEST(a.result_hash() != b.result_hash());
}

BOOST_AUTO_TEST_CASE(the_wasi_subset_behaves_as_documented) {
  auto r = run("wasi_probe", "ignored", {}, {"alpha", "be ta"});
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_REQUIRE((r.outcome == Outcome::ok));
  const Bytes& o = r.stdout_bytes;
  BOOST_REQUIRE(o.size() >= 88u);
  BOOST_TEST(le(o, 0, 8) == 0u);    // realtime clock: fixed at 0
  BOOST_TEST(le(o, 8, 8) == 0u);    // monotonic clock: fixed at 0
  BOOST_TEST(le(o, 16, 4) == 28u);  // unknown clock: EINVAL
  BOOST_TEST(le(o, 20, 4) == 0u);   // no environment variables
  BOOST_TEST(le(o, 24, 4) == 0u);
  BOOST_TEST(le(o, 28, 4) == 3u);   // argv = task, alpha, "be ta"
  BOOST_TEST(le(o, 32, 4) == 5u + 6u + 6u);
  BOOST_TEST(le(o, 36, 4) == 70u);  // fd_seek on stdout: ESPIPE
  BOOST_TEST(le(o, 40, 4) == 8u);   // fd_seek on fd 7: EBADF
  BOOST_TEST(le(o, 44, 4) == 52u);  // fd_tell: ENOSYS
  BOOST_TEST(le(o, 48, 4) == 8u);   // writing stdin: EBADF
  BOOST_TEST(le(o, 52, 4) == 21u);  // an iovec past the memory: EFAULT
  BOOST_TEST(le(o, 56, 4) == 0u);   // fd_fdstat_get(1)
  BOOST_TEST(le(o, 60, 4) == 0u);   // filetype unknown: not a terminal
  BOOST_TEST(le(o, 64, 8) == 64u);  // rights: fd_write only
  BOOST_TEST(le(o, 72, 4) == 8u);   // no preopened directories
  BOOST_TEST(le(o, 76, 4) == 0u);   // fd_close(0)
  BOOST_TEST(le(o, 80, 4) == 8u);   // reading a closed stdin: EBADF
  BOOST_TEST(le(o, 84, 4) == 0u);   // sched_yield
  std::string args(o.begin() + 88, o.end());
  BOOST_TEST(args == std::string("task\0alpha\0be ta\0", 17));
}

BOOST_AUTO_TEST_CASE(stdin_stdout_and_stderr) {
  std::string input;
  for (int i = 0; i < 5000; ++i) input.push_back(static_cast<char>('a' + i % 26));
  auto r = run("echo", input);
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_REQUIRE((r.outcome == Outcome::ok));
  BOOST_TEST(text(r.stdout_bytes) == input);
  BOOST_TEST(text(r.stderr_bytes) == "note\n");

  // WASI calls pay a unit of fuel per byte they move: echoing 5000 bytes
  // costs 10,000 more than echoing none, plus the extra loop iterations.
  auto empty = run("echo", "");
  BOOST_TEST(r.fuel_used > empty.fuel_used + 10000);

  SandboxLimits tight;
  tight.max_stderr = 3;  // stderr past its cap is dropped, not an error
  auto clipped = run("echo", "xy", tight);
  BOOST_TEST((clipped.outcome == Outcome::ok));
  BOOST_TEST(text(clipped.stderr_bytes) == "not");
  BOOST_TEST(text(clipped.stdout_bytes) == "xy");
  BOOST_TEST(clipped.result_hash() == run("echo", "xy").result_hash());  // stderr is not in the hash
}

BOOST_AUTO_TEST_CASE(result_hash_covers_outcome_exit_code_fuel_and_stdout_only) {
  SandboxResult a;
  a.outcome = Outcome::ok;
  a.stdout_bytes = {'4', '2', '\n'};
  a.fuel_used = 999;
  SandboxResult b = a;
  b.detail = "anything";
  b.stderr_bytes = {'x'};
  b.memory_pages = 3;
  BOOST_TEST(a.result_hash() == b.result_hash());
  SandboxResult c = a;
  c.exit_code = 1;
  SandboxResult d = a;
  d.outcome = Outcome::trap;
  SandboxResult e = a;
  e.stdout_bytes.push_back('\n');
  SandboxResult f = a;
  f.fuel_used = 1000;
  BOOST_TEST(a.result_hash() != c.result_hash());
  BOOST_TEST(a.result_hash() != d.result_hash());
  BOOST_TEST(a.result_hash() != e.result_hash());
  BOOST_TEST(a.result_hash() != f.result_hash());
  // It is the hash the task contract recomputes from a reveal: the outcome
  // travels as its Outcome value.
  BOOST_TEST(a.result_hash() == task_result_hash(0, 0, 999, a.stdout_bytes));
  BOOST_TEST(d.result_hash() == task_result_hash(static_cast<std::uint64_t>(Outcome::trap), 0, 999, a.stdout_bytes));
}

BOOST_AUTO_TEST_CASE(nan_bits_are_canonical_wherever_they_escape) {
  auto r = run("floats");
  BOOST_TEST_MESSAGE(describe(r));
  BOOST_REQUIRE((r.outcome == Outcome::ok));
  const Bytes& o = r.stdout_bytes;
  BOOST_REQUIRE_EQUAL(o.size(), 24u);
  BOOST_TEST(le(o, 0, 4) == 0x7fc00000u);               // f32.store of 0/0
  BOOST_TEST(le(o, 4, 4) == 0x7fc00000u);               // i32.reinterpret_f32 of -(0/0)
  BOOST_TEST(le(o, 8, 8) == 0x7ff8000000000000ull);     // f64.store of sqrt(-1)
  BOOST_TEST(le(o, 16, 4) == 0x3f800000u);              // copysign(1, -(0/0)) = +1
  BOOST_TEST(le(o, 20, 4) == 0x7fc00000u);              // through a global
}

BOOST_AUTO_TEST_CASE(fd_read_is_not_steered_by_what_it_writes) {
  // Found in review of the JavaScript twin: fd_read re-read each iovec from
  // memory before filling it, so input that overwrote a later iovec sent the
  // copy anywhere (past the memory: heap corruption in the worker).
  for (std::uint32_t target : {200u, 70000u, 0xfffffff0u}) {
    std::string input(8, '\0');
    for (int i = 0; i < 4; ++i) input[i] = static_cast<char>(target >> (8 * i));
    input[4] = 5;
    input += "hello";
    auto r = run("overlap", input);
    BOOST_TEST_MESSAGE(describe(r));
    BOOST_REQUIRE((r.outcome == Outcome::ok));
    BOOST_TEST(text(r.stdout_bytes) == std::string("\x0d\0\0\0", 4) + std::string(5, '\0') + "hello");
  }
}
