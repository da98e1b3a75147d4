// The `node` engine: runs one instrumented task module under Node.js's V8
// with the JavaScript WASI host (web/wasi_host.mjs).
//
//   node web/node_runner.mjs < request > response
//
// Reads one request on stdin and writes one response on stdout, in the
// framing of worker/engine_protocol.h (see web/README.md), then exits 0.
// A malformed request, or a failure of the engine itself, exits nonzero
// with a message on stderr and nothing on stdout. Nothing else is ever
// written to stdout.
//
// The module runs in a worker thread with a large stack (STACK_SIZE_MB):
// the metering rewriter's injected stack limit (131,072 slots) must always
// trap before V8's own stack limit does.

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { runInstrumented } from './wasi_host.mjs';

const STACK_SIZE_MB = 256;

const sha256 = (data) => new Uint8Array(createHash('sha256').update(data).digest());

// --- framing (worker/engine_protocol.cpp) ---

// Returns the request, or null when it is malformed (as decode_request).
function decodeRequest(bytes) {
  // A plain Uint8Array view (a Buffer's slice() would share memory, not copy).
  const b = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 0;
  const need = (n) => {
    if (n > b.length - at) throw new RangeError('truncated');
  };
  const u32 = () => { need(4); const v = dv.getUint32(at, true); at += 4; return v; };
  const u64 = () => { need(8); const v = dv.getBigUint64(at, true); at += 8; return v; };
  const raw = (n) => { need(n); const v = b.slice(at, at + n); at += n; return v; };
  const bytesField = () => raw(u32());
  try {
    const magic = raw(4);
    if (String.fromCharCode(...magic) !== 'VRQ1') return null;
    const fuel = u64();
    const maxStdout = u64();
    const maxStderr = u64();
    const seed = raw(32);
    const argc = u32();
    if (argc > Math.floor((b.length - at) / 4)) return null;
    const argv = [];
    for (let i = 0; i < argc; ++i) argv.push(bytesField());
    const input = bytesField();
    const module = bytesField();
    if (at !== b.length) return null;
    return { fuel, maxStdout, maxStderr, seed, argv, input, module };
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}

const utf8 = new TextEncoder();

function encodeResponse(r) {
  const detail = utf8.encode(r.detail ?? '');
  const out = r.stdout ?? new Uint8Array(0);
  const err = r.stderr ?? new Uint8Array(0);
  const size = 4 + 1 + 4 + 8 + 4 + 4 + 12 + detail.length + out.length + err.length;
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  let at = 0;
  buf.set(utf8.encode('VRS1'), 0); at = 4;
  dv.setUint8(at, r.ending); at += 1;
  dv.setUint32(at, r.exitCode >>> 0, true); at += 4;
  dv.setBigInt64(at, BigInt.asIntN(64, r.fuelLeft), true); at += 8;
  dv.setUint32(at, r.flags >>> 0, true); at += 4;
  dv.setUint32(at, r.memoryPages >>> 0, true); at += 4;
  for (const part of [detail, out, err]) {
    dv.setUint32(at, part.length, true); at += 4;
    buf.set(part, at); at += part.length;
  }
  return buf;
}

// Writes all of buf to fd synchronously (retrying partial writes and EAGAIN).
function writeAll(fd, buf) {
  let at = 0;
  while (at < buf.length) {
    try {
      at += fs.writeSync(fd, buf, at, buf.length - at);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function fail(message, code) {
  try { fs.writeSync(2, `node_runner: ${message}\n`); } catch { /* nothing more to do */ }
  process.exit(code);
}

if (isMainThread) {
  let req;
  try {
    req = decodeRequest(fs.readFileSync(0));
  } catch (e) {
    fail(`cannot read the request: ${e.message}`, 2);
  }
  if (!req) fail('malformed request', 2);
  // Every field was copied out of the request by slice(): each has its own buffer.
  const transfer = [req.input.buffer, req.module.buffer, req.seed.buffer, ...req.argv.map((a) => a.buffer)];
  let worker;
  try {
    worker = new Worker(new URL(import.meta.url), {
      workerData: req,
      transferList: transfer,
      resourceLimits: { stackSizeMb: STACK_SIZE_MB },
      stdout: true,  // the worker's console output must never reach our stdout
      stderr: false,
    });
  } catch (e) {
    fail(`cannot start the engine thread: ${e.message}`, 3);
  }
  worker.stdout.pipe(process.stderr);
  let answered = false;
  worker.on('message', (r) => {
    if (answered) return;
    answered = true;
    try {
      writeAll(1, encodeResponse(r));
      // The run of _start alone, as verity-sandbox reports it (stderr only).
      if (typeof r.runMs === 'number') writeAll(2, Buffer.from(`verity-run-ns ${Math.round(r.runMs * 1e6)}\n`));
    } catch (e) {
      fail(`cannot write the response: ${e.message}`, 3);
    }
    process.exit(0);
  });
  worker.on('error', (e) => { if (!answered) fail(`engine failed: ${e && e.stack ? e.stack : e}`, 3); });
  worker.on('exit', (code) => { if (!answered) fail(`engine exited without an answer (code ${code})`, 3); });
} else {
  const r = await runInstrumented(workerData, sha256);
  parentPort.postMessage(r, [r.stdout.buffer, r.stderr.buffer]);
}
