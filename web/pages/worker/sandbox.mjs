// A run's result as the sandbox reports it (worker/sandbox.cpp, run_task):
// the engine's response (web/wasi_host.mjs runInstrumented) classified into
// outcome, exit code and fuel used, the numbers every worker commits to.
// Pure, so that tests/web/planner_test.mjs can check each rule.
import { ENDING } from '../../wasi_host.mjs';

export const OUTCOME = Object.freeze({
  ok: 0, trap: 1, out_of_fuel: 2, memory_exceeded: 3, output_too_large: 4, invalid_module: 5, forbidden_import: 6,
  engine_failed: 7,  // not a result: never committed
});

const FLAG_GROW_REFUSED = 1;
const FLAG_STACK_EXHAUSTED = 2;

// response: runInstrumented's; limits: { fuel (BigInt or number), maxStdout, memoryPages }.
export function classify(resp, limits) {
  const fuel = BigInt(limits.fuel);
  const r = { outcome: OUTCOME.ok, exitCode: 0, fuelUsed: 0n, detail: resp.detail ?? '', stdout: resp.stdout,
    stderr: resp.stderr, memoryPages: resp.memoryPages };
  let left = resp.fuelLeft < 0n ? 0n : resp.fuelLeft;
  if (left > fuel) left = fuel;
  r.fuelUsed = fuel - left;
  switch (resp.ending) {
    case ENDING.returned: break;
    case ENDING.exited: r.exitCode = resp.exitCode; break;
    case ENDING.trap:
      // A browser cannot size its stack (web/README.md): a trap that is V8's
      // own stack overflow, not the module's stack limit (flag 2), is a
      // limit of this engine, which a native worker would not hit: not a
      // result of the task, never committed.
      if (!(resp.flags & FLAG_STACK_EXHAUSTED) && /call stack/i.test(r.detail)) {
        r.outcome = OUTCOME.engine_failed;
        r.detail = `the browser's own stack overflowed before the module's limit (${r.detail})`;
        return r;
      }
      // A trap uses all the fuel (docs/sandbox.md, "Fuel").
      r.outcome = OUTCOME.trap;
      r.fuelUsed = fuel;
      if (resp.flags & FLAG_STACK_EXHAUSTED) r.detail = 'call stack exhausted';
      break;
    case ENDING.out_of_fuel:
      r.outcome = OUTCOME.out_of_fuel;
      r.fuelUsed = fuel;
      r.detail = `ran ${fuel} units of fuel`;
      break;
    case ENDING.output_too_large:
      r.outcome = OUTCOME.output_too_large;
      r.detail = `stdout passed ${limits.maxStdout} bytes`;
      break;
    default:
      // invalid_module: the chain admitted this module and metered it; a
      // browser that cannot load it is broken, not the module (as the
      // sandbox says of its aot engine).
      r.outcome = OUTCOME.engine_failed;
      r.detail = `the browser could not load the instrumented module: ${r.detail}`;
      return r;
  }
  const failed = r.outcome === OUTCOME.trap || (r.outcome === OUTCOME.ok && r.exitCode !== 0);
  if ((resp.flags & FLAG_GROW_REFUSED) && failed) {
    const then = r.outcome === OUTCOME.trap ? `then trapped: ${r.detail}` : `then exited with ${r.exitCode}`;
    r.outcome = OUTCOME.memory_exceeded;
    r.detail = `memory.grow refused (the cap is ${limits.memoryPages} pages); ${then}`;
  }
  return r;
}
