// Fuzzes WASM module admission: worker::check_module is what the task
// contract's submission path and every worker run on a module a user
// uploaded. Properties: the verdict is an outcome name; the same bytes get
// the same verdict twice; and admission agrees with the sandbox: a module
// check_module accepts is run by run_task (here with a small fuel budget),
// never refused as invalid-module or forbidden-import, and a refused one
// is refused by run_task with the same outcome.

#include "worker/sandbox.h"
#include "tests/fuzz/fuzz.h"

using namespace verity;
using namespace verity::worker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView wasm = fuzz::input(data, size);
  SandboxLimits limits;
  limits.fuel = 10'000;
  limits.memory_pages = 16;
  limits.max_stdout = 4096;
  const Status verdict = check_module(wasm, limits);
  const Status again = check_module(wasm, limits);
  FUZZ_CHECK(bool(verdict) == bool(again));
  const SandboxResult run = run_task(wasm, {}, {}, limits, Hash256{});
  if (verdict) {
    FUZZ_CHECK(run.outcome != Outcome::invalid_module && run.outcome != Outcome::forbidden_import);
    return 0;
  }
  FUZZ_CHECK(verdict.error().reason == again.error().reason);
  const auto refused = outcome_from_name(verdict.error().reason);
  FUZZ_CHECK(refused.has_value());
  FUZZ_CHECK(run.outcome == *refused);
  return 0;
}
