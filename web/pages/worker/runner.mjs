// The Web Worker that runs one task at a time for the worker page
// (app.mjs), off the page's thread: the instrumented module on this
// browser's WebAssembly engine with the JavaScript WASI host
// (web/wasi_host.mjs), exactly as the sandbox's engines run it.
//
// message in:  { id, module (Uint8Array: the instrumented module), input,
//                fuel (string), seed (32 bytes), maxStdout, maxStderr, memoryPages }
// message out: { id, outcome, exitCode, fuelUsed (string), detail, stdout, stderr, memoryPages, runMs }
import { sha256 } from '@noble/hashes/sha2.js';
import { runInstrumented } from '../../wasi_host.mjs';
import { classify, OUTCOME } from './sandbox.mjs';

self.onmessage = async (event) => {
  const job = event.data;
  let answer;
  try {
    const resp = await runInstrumented({
      fuel: BigInt(job.fuel), maxStdout: job.maxStdout, maxStderr: job.maxStderr, seed: job.seed,
      argv: ['task'], input: job.input, module: job.module,
    }, sha256);
    const r = classify(resp, { fuel: BigInt(job.fuel), maxStdout: job.maxStdout, memoryPages: job.memoryPages });
    answer = { id: job.id, outcome: r.outcome, exitCode: r.exitCode, fuelUsed: String(r.fuelUsed), detail: r.detail,
      stdout: r.stdout, stderr: r.stderr, memoryPages: r.memoryPages, runMs: resp.runMs ?? 0 };
  } catch (e) {
    answer = { id: job.id, outcome: OUTCOME.engine_failed, exitCode: 0, fuelUsed: '0',
      detail: `the engine failed: ${e && e.message ? e.message : String(e)}`, stdout: new Uint8Array(0),
      stderr: new Uint8Array(0), memoryPages: 0, runMs: 0 };
  }
  self.postMessage(answer);
};
