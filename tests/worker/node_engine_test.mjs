// Tests of the `node` engine (web/node_runner.mjs with web/wasi_host.mjs):
// builds requests in the framing of worker/engine_protocol.h, runs the
// runner on hand-written modules that already carry the instrumentation ABI
// (tests/worker/modules/js_*.wat, compiled here with wabt's wat2wasm), and
// checks every field of the responses, fuel included.
//
//   node tests/worker/node_engine_test.mjs [MODULE_DIR]
//
// MODULE_DIR holds the js_*.wat files (default: tests/worker/modules next to
// this file). Prints one line per failure and "N passed, N failed"; exits 0
// when nothing failed. Only Node.js built-ins are used.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const runner = path.join(root, 'web', 'node_runner.mjs');
const hostPath = path.join(root, 'web', 'wasi_host.mjs');
const moduleDir = path.resolve(process.argv[2] ?? path.join(here, 'modules'));

const ENDING = { returned: 0, exited: 1, trap: 2, out_of_fuel: 3, output_too_large: 4, invalid_module: 5 };
const ENDING_NAME = Object.fromEntries(Object.entries(ENDING).map(([k, v]) => [v, k]));
const SUCCESS = 0, EBADF = 8, EFAULT = 21, EINVAL = 28, ENOSYS = 52, ESPIPE = 70;

// --- modules ---

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'verity-node-engine-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const compiled = new Map();
function wasm(name) {
  if (!compiled.has(name)) {
    const src = path.join(moduleDir, `${name}.wat`);
    const out = path.join(tmp, `${name}.wasm`);
    const r = spawnSync('wat2wasm', [src, '-o', out], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`wat2wasm ${src}: ${r.error ?? r.stderr}`);
    compiled.set(name, new Uint8Array(fs.readFileSync(out)));
  }
  return compiled.get(name);
}

// --- framing (an independent implementation of worker/engine_protocol.cpp) ---

const te = new TextEncoder();
const bytesOf = (x) => (typeof x === 'string' ? te.encode(x) : Uint8Array.from(x));

function encodeRequest({ fuel, maxStdout = 1 << 20, maxStderr = 1 << 16, seed, argv = ['task'], input = '', module }) {
  const parts = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const field = (x) => { const b = bytesOf(x); u32(b.length); parts.push(Buffer.from(b)); };
  parts.push(Buffer.from('VRQ1'));
  u64(fuel);
  u64(maxStdout);
  u64(maxStderr);
  parts.push(Buffer.from(seed));
  u32(argv.length);
  for (const a of argv) field(a);
  field(input);
  field(module);
  return Buffer.concat(parts);
}

function decodeResponse(buf) {
  let at = 0;
  const need = (n) => { if (at + n > buf.length) throw new Error('response truncated'); };
  const take = (n) => { need(n); const v = buf.subarray(at, at + n); at += n; return v; };
  if (take(4).toString() !== 'VRS1') throw new Error('bad response magic');
  const r = {};
  need(1); r.ending = buf.readUInt8(at); at += 1;
  need(4); r.exitCode = buf.readUInt32LE(at); at += 4;
  need(8); r.fuelLeft = buf.readBigInt64LE(at); at += 8;
  need(4); r.flags = buf.readUInt32LE(at); at += 4;
  need(4); r.memoryPages = buf.readUInt32LE(at); at += 4;
  const field = () => { need(4); const n = buf.readUInt32LE(at); at += 4; return Buffer.from(take(n)); };
  r.detail = field().toString('utf8');
  r.stdout = field();
  r.stderr = field();
  if (at !== buf.length) throw new Error(`${buf.length - at} bytes after the response`);
  if (r.ending > 5) throw new Error(`bad ending ${r.ending}`);
  return r;
}

function spawnRunner(request) {
  return spawnSync(process.execPath, [runner], { input: request, maxBuffer: 256 << 20, timeout: 120_000 });
}

const defaultSeed = createHash('sha256').update('node engine test seed').digest();

// Runs a module (a js_*.wat name or bytes) and returns the decoded response.
function run(module, opts = {}) {
  const bytes = typeof module === 'string' ? wasm(module) : module;
  const r = spawnRunner(encodeRequest({ seed: defaultSeed, fuel: 1_000_000n, ...opts, module: bytes }));
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`runner exited ${r.status}: ${r.stderr}`);
  return decodeResponse(r.stdout);
}

// --- checks ---

class Failure extends Error {}
function eq(actual, expected, what) {
  const a = Buffer.isBuffer(actual) || actual instanceof Uint8Array ? Buffer.from(actual).toString('hex') : actual;
  const e = Buffer.isBuffer(expected) || expected instanceof Uint8Array ? Buffer.from(expected).toString('hex') : expected;
  if (a !== e) throw new Failure(`${what}: got ${String(a)}, expected ${String(e)}`);
}
function ok(cond, what) { if (!cond) throw new Failure(what); }
function expectResult(r, want) {
  eq(ENDING_NAME[r.ending], want.ending, 'ending');
  if ('exitCode' in want) eq(r.exitCode, want.exitCode, 'exit_code');
  if ('fuelLeft' in want) eq(r.fuelLeft, BigInt(want.fuelLeft), 'fuel_left');
  if ('flags' in want) eq(r.flags, want.flags, 'flags');
  if ('memoryPages' in want) eq(r.memoryPages, want.memoryPages, 'memory_pages');
  if ('stdout' in want) eq(r.stdout, bytesOf(want.stdout), 'stdout');
  if ('stderr' in want) eq(r.stderr, bytesOf(want.stderr), 'stderr');
  if ('detail' in want) {
    if (want.detail instanceof RegExp) ok(want.detail.test(r.detail), `detail ${JSON.stringify(r.detail)} !~ ${want.detail}`);
    else eq(r.detail, want.detail, 'detail');
  }
}
const u32s = (...vs) => { const b = Buffer.alloc(4 * vs.length); vs.forEach((v, i) => b.writeUInt32LE(v >>> 0, 4 * i)); return b; };
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v))); return b; };

// The random stream: block i = tagged_hash("verity/task-random", seed || u64 BE i).
function randomStream(seed, n) {
  const sha = (d) => createHash('sha256').update(d).digest();
  const th = sha(Buffer.from('verity/task-random'));
  const blocks = [];
  for (let i = 0; 32 * i < n; ++i) {
    const idx = Buffer.alloc(8);
    idx.writeBigUInt64BE(BigInt(i));
    blocks.push(sha(Buffer.concat([th, th, seed, idx])));
  }
  return Buffer.concat(blocks).subarray(0, n);
}

// --- the tests ---

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('hello world: stdout, stderr, fuel', () => {
  const r = run('js_hello', { fuel: 1000n });
  expectResult(r, { ending: 'returned', exitCode: 0, fuelLeft: 1000 - 60, flags: 0, memoryPages: 1,
    stdout: 'hello, world\n', stderr: u32s(0, 13), detail: '' });
});

test('hello world on exactly enough fuel ends with 0 left', () => {
  expectResult(run('js_hello', { fuel: 60n }), { ending: 'returned', fuelLeft: 0, stdout: 'hello, world\n', stderr: u32s(0, 13) });
});

test('fuel one short: the last fd_write runs out (fuel -1, its bytes not written)', () => {
  expectResult(run('js_hello', { fuel: 59n }), { ending: 'out_of_fuel', fuelLeft: -1, stdout: 'hello, world\n', stderr: '' });
});

test('out of fuel in a WASI call: fd_write needs 29, 28 left', () => {
  expectResult(run('js_hello', { fuel: 38n }), { ending: 'out_of_fuel', fuelLeft: -1, stdout: '', stderr: '' });
});

test('out of fuel in the module itself (burn 10 of 9)', () => {
  expectResult(run('js_hello', { fuel: 9n }), { ending: 'out_of_fuel', fuelLeft: -1, stdout: '', exitCode: 0 });
});

test('fuel 0', () => {
  expectResult(run('js_hello', { fuel: 0n }), { ending: 'out_of_fuel', fuelLeft: -10, stdout: '' });
});

function echoFuel(len) {
  const chunks = Math.ceil(len / 7);
  return 2 * len + 16 * (chunks + 1) + 8 * chunks + (chunks + 1);
}
for (const len of [0, 1, 6, 7, 8, 100, 5000]) {
  test(`echo of ${len} bytes through fd_read in chunks of 3+4`, () => {
    const input = Buffer.from(Array.from({ length: len }, (_, i) => (i * 37 + 11) & 255));
    expectResult(run('js_echo', { input, fuel: 100_000n }), { ending: 'returned', stdout: input, stderr: '',
      fuelLeft: 100_000 - echoFuel(len) });
  });
}

test('out of fuel in fd_read', () => {
  // 100 bytes: first turn burn 1 + read 7 + 16 = 24 > 20
  expectResult(run('js_echo', { input: Buffer.alloc(100, 65), fuel: 20n }), { ending: 'out_of_fuel', fuelLeft: -1, stdout: '' });
});

test('random_get: the task stream across calls, EFAULT uncharged', () => {
  const seed = createHash('sha256').update('another seed').digest();
  const r = run('js_random', { seed, fuel: 500n });
  expectResult(r, { ending: 'returned', stdout: randomStream(seed, 80), stderr: u32s(EFAULT), fuelLeft: 500 - 180 });
});

test('random_get: a different seed gives a different stream', () => {
  const r = run('js_random', { fuel: 500n });
  expectResult(r, { ending: 'returned', stdout: randomStream(defaultSeed, 80) });
});

test('random_get out of fuel: 30 bytes with 29 left', () => {
  expectResult(run('js_random', { fuel: 79n }), { ending: 'out_of_fuel', fuelLeft: -1, stdout: '' });
  expectResult(run('js_random', { fuel: 80n }), { ending: 'out_of_fuel', fuelLeft: -1, stdout: '' });
  expectResult(run('js_random', { fuel: 180n }), { ending: 'returned', fuelLeft: 0 });
});

for (const argv of [['task'], ['task', 'a', '', 'héllo wörld', '--flag=1'], []]) {
  test(`args: ${JSON.stringify(argv)}`, () => {
    const enc = argv.map((a) => Buffer.from(a, 'utf8'));
    const size = enc.reduce((s, a) => s + a.length + 1, 0);
    const ptrs = [];
    let p = 2048;
    for (const a of enc) { ptrs.push(p); p += a.length + 1; }
    const strings = Buffer.concat(enc.flatMap((a) => [a, Buffer.alloc(1)]));
    // args_get with its buffer at 65530 faults only when the strings do not fit
    const getErr = 65530 + size <= 65536 && 1024 + 4 * enc.length <= 65536 ? SUCCESS : EFAULT;
    const want = Buffer.concat([u32s(enc.length, size, getErr, EFAULT), u32s(...ptrs), strings]);
    const argsFuel = size + 4 * enc.length;
    const fuel = (getErr === SUCCESS ? argsFuel : 0) + argsFuel + 16 + 4 * enc.length + size + 24;
    expectResult(run('js_args', { argv, fuel: 10_000n }), { ending: 'returned', stdout: want, fuelLeft: 10_000 - fuel });
  });
}

test('clocks, environ, fdstat, prestat, seek, sched_yield, wrong descriptors', () => {
  const parts = [];
  for (let id = 0; id < 4; ++id) parts.push(u32s(SUCCESS), u64(0));
  parts.push(u32s(EINVAL), u64(-1), u32s(EINVAL), u64(-1));
  parts.push(u32s(EINVAL, EFAULT, SUCCESS, EFAULT));
  parts.push(u32s(SUCCESS), u64(1), u32s(SUCCESS), u64(1), u32s(EINVAL), u64(-1), u32s(EFAULT));
  parts.push(u32s(SUCCESS), u64(0), u32s(EFAULT, EFAULT, SUCCESS));
  parts.push(u32s(SUCCESS), u64(0), u64(2), u64(0));
  parts.push(u32s(SUCCESS), u64(0), u64(64), u64(0));
  parts.push(u32s(SUCCESS), u64(0), u64(64), u64(0));
  parts.push(u32s(EBADF), u64(-1), u64(-1), u64(-1));
  parts.push(u32s(EFAULT, SUCCESS, EBADF));
  parts.push(u32s(EBADF, EBADF, ESPIPE, ESPIPE, ESPIPE, EBADF, SUCCESS));
  parts.push(u32s(EBADF, EBADF, EBADF, EBADF, EBADF));
  const want = Buffer.concat(parts);
  // none of these calls moves bytes: only the final write is charged
  expectResult(run('js_probe', { fuel: 10_000n }), { ending: 'returned', stdout: want, stderr: '',
    fuelLeft: 10_000 - (want.length + 8) });
});

test('the 16 ENOSYS functions', () => {
  expectResult(run('js_nosys', { fuel: 1000n }), { ending: 'returned', stdout: u32s(...Array(16).fill(ENOSYS)), fuelLeft: 1000 - 72 });
});

test('EFAULT: out-of-bounds iovecs, buffers and result pointers, uncharged', () => {
  expectResult(run('js_efault', { fuel: 52n }), { ending: 'returned', fuelLeft: 0,
    stdout: u32s(EFAULT, EFAULT, EFAULT, EFAULT, EFAULT, EFAULT, EFAULT, EFAULT, 0) });
});

test('fd_close, then writing gives EBADF', () => {
  expectResult(run('js_close', { fuel: 1000n }), { ending: 'returned', stdout: '', fuelLeft: 1000 - 48,
    stderr: u32s(SUCCESS, EBADF, EBADF, EBADF, EBADF, EBADF, SUCCESS, EBADF, EBADF, SUCCESS) });
});

test('fd_read uses the iovecs as they were at the call: input that rewrites a later iovec does not steer it', () => {
  for (const target of [200, 70000]) {  // in memory, or far outside it: either way the read goes to (300, 5)
    const input = Buffer.concat([u32s(target, 5), Buffer.from('hello')]);
    expectResult(run('js_overlap', { input, fuel: 1000n }), { ending: 'returned', fuelLeft: 1000 - (13 + 16) - (14 + 24),
      stdout: Buffer.concat([u32s(13), Buffer.alloc(5), Buffer.from('hello')]) });
  }
});

test('stdout cap: exactly max_stdout is fine', () => {
  expectResult(run('js_stdout_cap', { maxStdout: 30, fuel: 100n }), { ending: 'returned', fuelLeft: 100 - 78,
    stdout: 'abcdefghij'.repeat(3) });
});
for (const [cap, fuelCharged] of [[25, 78], [23, 78], [10, 52], [3, 26], [0, 26]]) {
  test(`stdout cap ${cap}: output_too_large, stdout exactly ${cap} bytes`, () => {
    expectResult(run('js_stdout_cap', { maxStdout: cap, fuel: 100n }), { ending: 'output_too_large', exitCode: 0,
      fuelLeft: 100 - fuelCharged, stdout: 'abcdefghij'.repeat(3).slice(0, cap), detail: '' });
  });
}

test('stdout cap: out of fuel takes precedence (the charge comes first)', () => {
  expectResult(run('js_stdout_cap', { maxStdout: 0, fuel: 25n }), { ending: 'out_of_fuel', fuelLeft: -1, stdout: '' });
});

for (const cap of [15, 0, 30, 1 << 16]) {
  test(`stderr cap ${cap}: kept, the rest dropped but reported written`, () => {
    const all = '0123456789'.repeat(3);
    expectResult(run('js_stderr_cap', { maxStderr: cap, fuel: 100n }), { ending: 'returned', fuelLeft: 100 - 74,
      stdout: u32s(10, 10, 10), stderr: all.slice(0, cap) });
  });
}

test('proc_exit(7)', () => {
  expectResult(run('js_exit', { input: u32s(7), fuel: 100n }), { ending: 'exited', exitCode: 7, stdout: 'bye\n',
    fuelLeft: 100 - 24, detail: '' });
});
test('proc_exit(0) is exited, not returned', () => {
  expectResult(run('js_exit', { input: u32s(0), fuel: 100n }), { ending: 'exited', exitCode: 0, fuelLeft: 76 });
});
test('proc_exit(0xffffffff): the code is a u32', () => {
  expectResult(run('js_exit', { input: u32s(0xffffffff), fuel: 100n }), { ending: 'exited', exitCode: 0xffffffff });
});

test('an endless loop that pays for itself runs out of fuel', () => {
  expectResult(run('js_loop', { fuel: 23n }), { ending: 'out_of_fuel', fuelLeft: -2, stdout: 'start' });
});
test('an endless loop with much fuel', () => {
  expectResult(run('js_loop', { fuel: 30_000_002n }), { ending: 'out_of_fuel', fuelLeft: -2, stdout: 'start' });
});

test('unreachable: trap with the engine message, stdout kept', () => {
  expectResult(run('js_trap', { input: 'u', fuel: 100n }), { ending: 'trap', exitCode: 0, stdout: 'before\n',
    fuelLeft: 100 - 24, detail: /unreachable/ });
});
test('integer divide by zero: trap', () => {
  expectResult(run('js_trap', { input: 'd', fuel: 100n }), { ending: 'trap', detail: /divide by zero/, fuelLeft: 76 });
});
test('out-of-bounds load: trap', () => {
  expectResult(run('js_trap', { input: 'm', fuel: 100n }), { ending: 'trap', detail: /out of bounds/, fuelLeft: 76 });
});
test('no trap: returned', () => {
  expectResult(run('js_trap', { input: 'x', fuel: 100n }), { ending: 'returned', detail: '', fuelLeft: 76 });
});

for (const depth of [100_000, 131_072, 1_000_000]) {
  test(`recursion ${depth} frames deep returns normally`, () => {
    expectResult(run('js_deep', { input: u32s(depth), fuel: 10_000_000n }), { ending: 'returned', stdout: '!',
      fuelLeft: 10_000_000 - (depth + 1 + 12 + 9) });
  });
}

test('memory.grow: memory_pages and flags reported', () => {
  expectResult(run('js_grow', { fuel: 10n }), { ending: 'returned', memoryPages: 3, flags: 1, fuelLeft: 10 });
});

test('1 MiB of stdout in one write', () => {
  const mem = Buffer.alloc(65536);
  for (let i = 0; i < 65536; ++i) mem[i] = i % 251;
  for (let i = 0; i < 128; i += 8) { mem.writeUInt32LE(0, i); mem.writeUInt32LE(65536, i + 4); }
  const want = Buffer.concat(Array(16).fill(mem));
  expectResult(run('js_big', { maxStdout: 1 << 20, fuel: 2_000_000n }), { ending: 'returned', stdout: want,
    fuelLeft: 2_000_000 - (1 << 20) - 128 });
  expectResult(run('js_big', { maxStdout: (1 << 20) - 1, fuel: 2_000_000n }), { ending: 'output_too_large',
    stdout: want.subarray(0, (1 << 20) - 1) });
});

test('a garbage module: invalid_module with the message', () => {
  const r = run(Buffer.from('this is not a WebAssembly module'));
  expectResult(r, { ending: 'invalid_module', stdout: '', stderr: '', fuelLeft: 0, exitCode: 0 });
  ok(r.detail.length > 0, 'a detail');
});
test('an empty module: invalid_module', () => {
  expectResult(run(Buffer.alloc(0)), { ending: 'invalid_module', detail: /./ });
});
test('no instrumentation globals: invalid_module', () => {
  expectResult(run('js_nofuel'), { ending: 'invalid_module', detail: 'no exported global verity_fuel' });
});
test('an import the host lacks: invalid_module', () => {
  expectResult(run('js_badimport'), { ending: 'invalid_module', detail: /env|foo|import/i });
});

test('the same request twice gives the same response', () => {
  const req = encodeRequest({ seed: defaultSeed, fuel: 500n, module: wasm('js_random') });
  const a = spawnRunner(req), b = spawnRunner(req);
  eq(a.status, 0, 'status');
  eq(Buffer.compare(a.stdout, b.stdout), 0, 'identical responses');
});

test('malformed requests: exit nonzero, nothing on stdout', () => {
  const good = encodeRequest({ seed: defaultSeed, fuel: 100n, module: wasm('js_hello') });
  const bad = {
    empty: Buffer.alloc(0),
    magic: Buffer.concat([Buffer.from('VRQ2'), good.subarray(4)]),
    truncated: good.subarray(0, good.length - 1),
    'trailing byte': Buffer.concat([good, Buffer.alloc(1)]),
    'header only': good.subarray(0, 60),
    'huge argc': (() => { const b = Buffer.from(good); b.writeUInt32LE(0xffffffff, 60); return b; })(),
  };
  for (const [what, req] of Object.entries(bad)) {
    const r = spawnRunner(req);
    ok(r.status !== 0 && r.status !== null, `${what}: exit status ${r.status}`);
    eq(r.stdout.length, 0, `${what}: stdout bytes`);
  }
  const r = spawnRunner(good);
  eq(r.status, 0, 'the good request');
});

test('wasi_host.mjs uses no Node.js API', () => {
  const code = fs.readFileSync(hostPath, 'utf8').split('\n').map((l) => l.replace(/\/\/.*$/, '')).join('\n');
  for (const word of [/\bnode:/, /\bprocess\b/, /\bBuffer\b/, /\brequire\s*\(/, /\bimport\s/, /\bglobalThis\b/])
    ok(!word.test(code), `wasi_host.mjs mentions ${word}`);
});

test('wasi_host.mjs in-process: the API a browser worker uses', async () => {
  const { createWasiHost, runInstrumented, isRunEnd, WASI_FUNCTIONS } = await import(hostPath);
  eq(WASI_FUNCTIONS.length, 31, 'functions');
  eq(WASI_FUNCTIONS.filter((f) => !f.implemented).length, 16, 'ENOSYS functions');
  const sha256 = (d) => new Uint8Array(createHash('sha256').update(d).digest());
  const host = createWasiHost({ argv: ['task'], input: new Uint8Array(0), maxStdout: 100, maxStderr: 100, seed: new Uint8Array(32), sha256 });
  const { instance } = await WebAssembly.instantiate(wasm('js_exit'), host.imports);
  host.bind(instance);
  instance.exports.verity_fuel.value = 100n;
  let caught = null;
  try { instance.exports._start(); } catch (e) { caught = e; }
  ok(isRunEnd(caught), 'proc_exit throws the run-end object');
  ok(host.state.exited && host.state.exitCode === 0, 'exited with 0 (no input: the code is memory\'s 0)');
  eq(Buffer.from(host.state.stdout).toString(), 'bye\n', 'stdout');
  const r = await runInstrumented({ fuel: 1000n, maxStdout: 100n, maxStderr: 100n, seed: new Uint8Array(32),
    argv: [], input: new Uint8Array(0), module: wasm('js_hello') }, sha256);
  eq(r.ending, ENDING.returned, 'runInstrumented ending');
  eq(r.fuelLeft, 940n, 'runInstrumented fuel');
});

// --- run ---

let passed = 0, failed = 0;
for (const t of tests) {
  try {
    await t.fn();
    ++passed;
    console.log(`ok    ${t.name}`);
  } catch (e) {
    ++failed;
    console.log(`FAIL  ${t.name}: ${e instanceof Failure ? e.message : e.stack}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
