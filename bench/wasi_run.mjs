// Runs a WASI command module under Node.js's WASI (node:wasi), for
// bench/sandbox_bench: stdin, stdout and stderr are the process's own;
// argv[0] is "task" as in the sandbox; the environment is empty. Prints, as
// the last line of stderr, "verity-node-run-ns N": the time of compile,
// instantiate and _start, without Node's own start-up.
//
//   node --experimental-wasi-unstable-preview1 --no-warnings bench/wasi_run.mjs TASK.wasm [ARGS...]
//
// Node 18 (Debian 12) needs the flag; newer Nodes accept it and require
// `version`, which older ones ignore.
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import process from 'node:process';

const [wasmPath, ...args] = process.argv.slice(2);
const bytes = readFileSync(wasmPath);
const start = process.hrtime.bigint();
const wasi = new WASI({
  version: 'preview1',
  args: ['task', ...args],
  env: {},
  returnOnExit: true,
});
const module = await WebAssembly.compile(bytes);
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
const code = wasi.start(instance);
const elapsed = process.hrtime.bigint() - start;
process.stderr.write(`\nverity-node-run-ns ${elapsed}\n`);
process.exitCode = code;
