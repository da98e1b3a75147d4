// The deterministic WASI subset (docs/sandbox.md, "The WASI subset") in
// plain JavaScript: the twin of worker/wasi_host.cpp, which is the
// specification. It must match it byte for byte: the same functions, the
// same errno values in the same order of checks, the same bytes written
// where, and the same fuel charged to the instrumented module's
// `verity_fuel` global. Any change to one is a change to both.
//
// No Node.js API is used here (no Buffer, no process, no node: modules):
// web/node_runner.mjs runs it under Node.js, and a browser worker page can
// run it as is. The caller passes a synchronous SHA-256.

export const WASI_MODULE = 'wasi_snapshot_preview1';
export const FUEL_GLOBAL = 'verity_fuel';   // mut i64: fuel left; below 0: out of fuel
export const FLAGS_GLOBAL = 'verity_flags'; // mut i32: 1 = a memory.grow was refused, 2 = stack limit trapped
export const RANDOM_TAG = 'verity/task-random';

// errno values of wasi_snapshot_preview1.
export const ERRNO = Object.freeze({ SUCCESS: 0, BADF: 8, FAULT: 21, INVAL: 28, NOSYS: 52, SPIPE: 70 });
const { SUCCESS, BADF, FAULT, INVAL, NOSYS, SPIPE } = ERRNO;

const RIGHT_FD_READ = 1n << 1n;
const RIGHT_FD_WRITE = 1n << 6n;
const FILETYPE_UNKNOWN = 0; // what pipes are in WASI: not a terminal

// How a run of `_start` ended (worker/engine_protocol.h, Ending).
export const ENDING = Object.freeze({
  returned: 0, exited: 1, trap: 2, out_of_fuel: 3, output_too_large: 4, invalid_module: 5,
});

// The table of worker/wasi_host.cpp (wasi_functions()), in the same order:
// params one letter each ('i' = i32, 'I' = i64), results '' or 'i'.
export const WASI_FUNCTIONS = Object.freeze([
  ['args_get', 'ii', 'i', true],
  ['args_sizes_get', 'ii', 'i', true],
  ['environ_get', 'ii', 'i', true],
  ['environ_sizes_get', 'ii', 'i', true],
  ['clock_res_get', 'ii', 'i', true],
  ['clock_time_get', 'iIi', 'i', true],
  ['fd_close', 'i', 'i', true],
  ['fd_fdstat_get', 'ii', 'i', true],
  ['fd_prestat_get', 'ii', 'i', true],
  ['fd_read', 'iiii', 'i', true],
  ['fd_seek', 'iIii', 'i', true],
  ['fd_write', 'iiii', 'i', true],
  ['proc_exit', 'i', '', true],
  ['random_get', 'ii', 'i', true],
  ['sched_yield', '', 'i', true],
  // Harmless names a libc may import; they answer ENOSYS.
  ['fd_advise', 'iIIi', 'i', false],
  ['fd_allocate', 'iII', 'i', false],
  ['fd_datasync', 'i', 'i', false],
  ['fd_fdstat_set_flags', 'ii', 'i', false],
  ['fd_fdstat_set_rights', 'iII', 'i', false],
  ['fd_filestat_get', 'ii', 'i', false],
  ['fd_filestat_set_size', 'iI', 'i', false],
  ['fd_filestat_set_times', 'iIIi', 'i', false],
  ['fd_pread', 'iiiIi', 'i', false],
  ['fd_prestat_dir_name', 'iii', 'i', false],
  ['fd_pwrite', 'iiiIi', 'i', false],
  ['fd_renumber', 'ii', 'i', false],
  ['fd_sync', 'i', 'i', false],
  ['fd_tell', 'ii', 'i', false],
  ['poll_oneoff', 'iiii', 'i', false],
  ['proc_raise', 'i', 'i', false],
].map(([name, params, results, implemented]) => Object.freeze({ name, params, results, implemented })));

const utf8 = new TextEncoder();

export function concatBytes(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// tagged_hash(tag, data) = SHA256(SHA256(tag) || SHA256(tag) || data) (core/hash.h).
export function taggedHash(sha256, tag, data) {
  const th = sha256(typeof tag === 'string' ? utf8.encode(tag) : tag);
  return sha256(concatBytes(th, th, data));
}

// Block `index` of a task's random stream: tagged_hash(task-random, seed || u64 big-endian index).
export function randomBlock(sha256, seed, index) {
  const data = new Uint8Array(40);
  data.set(seed, 0);
  new DataView(data.buffer).setBigUint64(32, BigInt(index), false);
  return taggedHash(sha256, RANDOM_TAG, data);
}

// What an import throws to end the run (proc_exit, out of fuel, output too
// large): it unwinds the WebAssembly stack to whoever called `_start`, who
// tells it from a trap with isRunEnd(). Never a WebAssembly.RuntimeError.
const RUN_END = Object.freeze({ verityRunEnd: true });
export function isRunEnd(e) { return e === RUN_END; }

// A byte sink that grows by doubling.
class Sink {
  constructor() { this.buf = new Uint8Array(256); this.len = 0; }
  append(src) {
    const need = this.len + src.length;
    if (need > this.buf.length) {
      let cap = this.buf.length;
      while (cap < need) cap *= 2;
      const nb = new Uint8Array(cap);
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    this.buf.set(src, this.len);
    this.len = need;
  }
  bytes() { return this.buf.slice(0, this.len); }
}

// Above this a running sum of u32 lengths switches to BigInt, so it stays exact.
const EXACT_LIMIT = 2 ** 53 - 2 ** 33;

function toCap(v) {
  if (typeof v === 'bigint') return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  if (typeof v !== 'number' || !(v >= 0)) throw new TypeError('a cap must be a non-negative number or bigint');
  return Math.min(Math.floor(v), Number.MAX_SAFE_INTEGER);
}

// One run's host. argv: array of Uint8Array or string (argv[0] included);
// input: Uint8Array; maxStdout/maxStderr: number or bigint; seed: 32 bytes;
// sha256: synchronous (Uint8Array) -> Uint8Array(32).
// Returns { imports, bind(instance), state }: pass `imports` to
// WebAssembly.instantiate, then bind(instance) before calling `_start`.
export function createWasiHost({ argv = [], input = new Uint8Array(0), maxStdout, maxStderr, seed, sha256 }) {
  if (typeof sha256 !== 'function') throw new TypeError('sha256 must be a function');
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('seed must be 32 bytes');
  const args = argv.map((a) => (typeof a === 'string' ? utf8.encode(a) : Uint8Array.from(a)));
  const inputBytes = Uint8Array.from(input);
  const capOut = toCap(maxStdout);
  const capErr = toCap(maxStderr);
  // Random stream: SHA256(tag) twice and the seed are fixed; the index varies.
  const tagHash = sha256(utf8.encode(RANDOM_TAG));
  const randomPrefix = concatBytes(tagHash, tagHash, seed, new Uint8Array(8));
  const randomIndexView = new DataView(randomPrefix.buffer, 96, 8);

  let memory = null;  // WebAssembly.Memory
  let fuelGlobal = null;  // WebAssembly.Global (i64)
  let inputPos = 0;
  const closed = [false, false, false];
  let randomIndex = 0;
  let randomBlockBytes = new Uint8Array(32);
  let randomLeft = 0;
  const out = new Sink();
  const err = new Sink();

  const state = {
    ended: false,          // an import ended the run (one of the three below, or hostError)
    exited: false,
    exitCode: 0,
    outOfFuel: false,
    outputTooLarge: false,
    hostError: null,       // a bug in this host (not a result): the engine failed
    get stdout() { return out.bytes(); },
    get stderr() { return err.bytes(); },
  };

  // Guest memory at the moment of a call (memory.grow detaches old buffers).
  let u8 = null, dv = null, memSize = 0;
  function refresh() {
    const buf = memory.buffer;
    u8 = new Uint8Array(buf);
    dv = new DataView(buf);
    memSize = buf.byteLength;
  }
  const inBounds = (ptr, len) => ptr + len <= memSize;  // ptr, len: u32 (len may be a larger sum)
  const load32 = (p) => dv.getUint32(p, true);
  const store32 = (p, v) => dv.setUint32(p, v >>> 0, true);
  const store64 = (p, v) => dv.setBigUint64(p, v, true);

  // One unit of fuel per byte moved. Charged bytes beyond the fuel left set
  // the fuel to -1 and end the run out of fuel.
  function charge(bytes) {
    const fuel = fuelGlobal.value;
    const b = BigInt(bytes);
    if (fuel < 0n || b > fuel) {
      fuelGlobal.value = -1n;
      state.outOfFuel = true;
      return false;
    }
    fuelGlobal.value = fuel - b;
    return true;
  }
  function end() {
    state.ended = true;
    throw RUN_END;
  }
  const fdOpen = (fd) => fd <= 2 && !closed[fd];

  // Checks the iovec array at (iovs, count) and every buffer it names, and
  // keeps a copy of the pairs in `pairs`, which the call then uses (as readv
  // does, and the C++ host): a read may overwrite the array itself and must
  // not be steered by that. Returns the total byte count (a number, or a
  // bigint when past 2^53), or -1 (EFAULT) if any is out of bounds.
  function checkIovecs(iovs, count, pairs) {
    if (!inBounds(iovs, count * 8)) return -1;
    let sum = 0;
    for (let i = 0; i < count; ++i) {
      const buf = load32(iovs + 8 * i);
      const len = load32(iovs + 8 * i + 4);
      if (!inBounds(buf, len)) return -1;
      pairs.push([buf, len]);
      if (typeof sum === 'bigint') sum += BigInt(len);
      else if ((sum += len) > EXACT_LIMIT) sum = BigInt(sum);
    }
    return sum;
  }
  const plus = (a, b) => (typeof a === 'bigint' ? a + BigInt(b) : a + b);

  const impl = {
    args_sizes_get(countPtr, sizePtr) {
      let bytes = 0;
      for (const a of args) bytes = (bytes + a.length + 1) >>> 0;  // a u32 sum, as in C++
      if (!inBounds(countPtr, 4) || !inBounds(sizePtr, 4)) return FAULT;
      store32(countPtr, args.length);
      store32(sizePtr, bytes);
      return SUCCESS;
    },
    environ_sizes_get(countPtr, sizePtr) {
      if (!inBounds(countPtr, 4) || !inBounds(sizePtr, 4)) return FAULT;
      store32(countPtr, 0);
      store32(sizePtr, 0);
      return SUCCESS;
    },
    args_get(argvPtr, bufPtr) {
      let bytes = 0;
      for (const a of args) bytes += a.length + 1;
      if (!inBounds(argvPtr, 4 * args.length) || !inBounds(bufPtr, bytes)) return FAULT;
      if (!charge(bytes + 4 * args.length)) end();
      let ptr = bufPtr;
      for (let i = 0; i < args.length; ++i) {
        store32(argvPtr + 4 * i, ptr);
        u8.set(args[i], ptr);
        u8[ptr + args[i].length] = 0;
        ptr += args[i].length + 1;
      }
      return SUCCESS;
    },
    environ_get() {
      return SUCCESS;  // the environment is empty: nothing to write
    },
    clock_res_get(id, outPtr) {
      if (id > 3) return INVAL;  // realtime, monotonic, process and thread CPU time
      if (!inBounds(outPtr, 8)) return FAULT;
      store64(outPtr, 1n);  // resolution 1 ns
      return SUCCESS;
    },
    clock_time_get(id, _precision, outPtr) {
      if (id > 3) return INVAL;
      if (!inBounds(outPtr, 8)) return FAULT;
      store64(outPtr, 0n);  // every clock reads 0 (the epoch) and never advances
      return SUCCESS;
    },
    fd_close(fd) {
      if (!fdOpen(fd)) return BADF;
      closed[fd] = true;
      return SUCCESS;
    },
    fd_fdstat_get(fd, p) {
      if (!fdOpen(fd)) return BADF;
      if (!inBounds(p, 24)) return FAULT;
      u8.fill(0, p, p + 24);
      u8[p] = FILETYPE_UNKNOWN;
      store64(p + 8, fd === 0 ? RIGHT_FD_READ : RIGHT_FD_WRITE);
      return SUCCESS;
    },
    fd_prestat_get() {
      return BADF;  // no preopened directories
    },
    fd_seek(fd) {
      return fdOpen(fd) ? SPIPE : BADF;  // streams, not files
    },
    fd_read(fd, iovs, count, nreadPtr) {
      if (fd !== 0 || !fdOpen(fd)) return BADF;
      const pairs = [];
      const total = checkIovecs(iovs, count, pairs);
      if (total === -1 || !inBounds(nreadPtr, 4)) return FAULT;
      const left = inputBytes.length - inputPos;
      const n = total < left ? Number(total) : left;
      if (!charge(n + 8 * count)) end();
      let done = 0;
      for (let i = 0; i < pairs.length && done < n; ++i) {
        const [buf, len] = pairs[i];
        const k = Math.min(len, n - done);
        u8.set(inputBytes.subarray(inputPos, inputPos + k), buf);
        inputPos += k;
        done += k;
      }
      store32(nreadPtr, done);
      return SUCCESS;
    },
    fd_write(fd, iovs, count, nwrittenPtr) {
      if (fd === 0 || !fdOpen(fd)) return BADF;
      const pairs = [];
      const total = checkIovecs(iovs, count, pairs);
      if (total === -1 || !inBounds(nwrittenPtr, 4)) return FAULT;
      if (!charge(plus(total, 8 * count))) end();
      const sink = fd === 1 ? out : err;
      const cap = fd === 1 ? capOut : capErr;
      for (const [buf, len] of pairs) {
        const room = cap - sink.len;
        const k = Math.min(len, room);
        if (k > 0) sink.append(u8.subarray(buf, buf + k));
        if (k < len && fd === 1) {
          state.outputTooLarge = true;  // stdout keeps its first max_stdout bytes
          end();
        }
      }
      // Stderr past its cap is dropped silently but reported written.
      store32(nwrittenPtr, typeof total === 'bigint' ? Number(BigInt.asUintN(32, total)) : total % 2 ** 32);
      return SUCCESS;
    },
    proc_exit(code) {
      state.exited = true;
      state.exitCode = code;
      end();
    },
    random_get(buf, len) {
      if (!inBounds(buf, len)) return FAULT;
      if (!charge(len)) end();
      let i = 0;
      while (i < len) {
        if (randomLeft === 0) {
          randomIndexView.setUint32(0, Math.floor(randomIndex / 2 ** 32), false);
          randomIndexView.setUint32(4, randomIndex >>> 0, false);
          randomIndex += 1;
          randomBlockBytes = sha256(randomPrefix);
          randomLeft = 32;
        }
        const take = Math.min(randomLeft, len - i);
        const from = 32 - randomLeft;
        u8.set(randomBlockBytes.subarray(from, from + take), buf + i);
        randomLeft -= take;
        i += take;
      }
      return SUCCESS;
    },
    sched_yield() {
      return SUCCESS;
    },
  };
  const nosys = () => NOSYS;

  // Every import: refuses to run once the run has ended (a module cannot
  // catch RUN_END, but if it somehow did it gets nowhere), converts i32
  // arguments to unsigned, and turns a bug in this file into hostError.
  function wrap(name, params, fn) {
    const kinds = Array.from(params);
    return function (...a) {
      if (state.ended) throw RUN_END;
      for (let i = 0; i < kinds.length; ++i) if (kinds[i] === 'i') a[i] = a[i] >>> 0;
      try {
        refresh();
        return fn(...a);
      } catch (e) {
        if (e === RUN_END) throw e;
        if (e instanceof RangeError && /call stack/i.test(e.message)) throw e;  // a stack overflow: a trap
        state.hostError = new Error(`${name}: ${e && e.message}`, { cause: e });
        state.ended = true;
        throw RUN_END;
      }
    };
  }

  const wasi = {};
  for (const f of WASI_FUNCTIONS) wasi[f.name] = wrap(f.name, f.params, f.implemented ? impl[f.name] : nosys);
  const imports = { [WASI_MODULE]: wasi };

  function bind(instance) {
    const ex = instance.exports;
    if (!(ex.memory instanceof WebAssembly.Memory)) throw new TypeError('no exported memory "memory"');
    if (!(ex[FUEL_GLOBAL] instanceof WebAssembly.Global)) throw new TypeError(`no exported global ${FUEL_GLOBAL}`);
    memory = ex.memory;
    fuelGlobal = ex[FUEL_GLOBAL];
  }

  return { imports, bind, state };
}

class InvalidModule extends Error {}

// Runs one instrumented module: the whole of an engine's job except the
// framing. request: { fuel (bigint), maxStdout, maxStderr, seed, argv,
// input, module (bytes) }. Resolves to { ending, exitCode, fuelLeft (bigint),
// flags, memoryPages, detail, stdout, stderr } (engine_protocol.h,
// EngineResponse); rejects only when the engine itself failed (a bug here).
export async function runInstrumented(request, sha256) {
  const host = createWasiHost({
    argv: request.argv, input: request.input, maxStdout: request.maxStdout,
    maxStderr: request.maxStderr, seed: request.seed, sha256,
  });
  const result = {
    ending: ENDING.invalid_module, exitCode: 0, fuelLeft: 0n, flags: 0, memoryPages: 0,
    detail: '', stdout: new Uint8Array(0), stderr: new Uint8Array(0),
  };
  let instance, start, fuel, flags, memory;
  try {
    const module = await WebAssembly.compile(request.module);
    instance = await WebAssembly.instantiate(module, host.imports);
    const ex = instance.exports;
    start = ex._start;
    if (typeof start !== 'function') throw new InvalidModule('no exported function _start');
    if (!(ex.memory instanceof WebAssembly.Memory)) throw new InvalidModule('no exported memory "memory"');
    fuel = ex[FUEL_GLOBAL];
    flags = ex[FLAGS_GLOBAL];
    if (!(fuel instanceof WebAssembly.Global)) throw new InvalidModule(`no exported global ${FUEL_GLOBAL}`);
    if (!(flags instanceof WebAssembly.Global)) throw new InvalidModule(`no exported global ${FLAGS_GLOBAL}`);
    memory = ex.memory;
    host.bind(instance);
    // The fuel limit, as a C++ cast to int64_t would store it. Throws unless
    // verity_fuel is a mutable i64.
    fuel.value = BigInt.asIntN(64, BigInt(request.fuel));
    if (typeof flags.value !== 'number') throw new InvalidModule(`${FLAGS_GLOBAL} is not an i32`);
  } catch (e) {
    if (e instanceof InvalidModule || e instanceof WebAssembly.CompileError ||
        e instanceof WebAssembly.LinkError || e instanceof TypeError || e instanceof RangeError ||
        e instanceof WebAssembly.RuntimeError) {
      result.detail = String(e.message);
      return result;
    }
    throw e;
  }

  let caught = null, threw = false;
  const t0 = performance.now();
  try {
    start();
  } catch (e) {
    caught = e;
    threw = true;
  }
  // The run of _start alone, for benchmarks; not part of the response.
  result.runMs = performance.now() - t0;
  const st = host.state;
  if (st.hostError) throw st.hostError;
  result.fuelLeft = fuel.value;
  result.flags = flags.value >>> 0;
  result.memoryPages = memory.buffer.byteLength / 65536;
  result.stdout = st.stdout;
  result.stderr = st.stderr;
  const isTrap = threw && (caught instanceof WebAssembly.RuntimeError || caught instanceof RangeError);
  if (st.outOfFuel || (isTrap && result.fuelLeft < 0n)) {
    result.ending = ENDING.out_of_fuel;
  } else if (st.outputTooLarge) {
    result.ending = ENDING.output_too_large;
  } else if (st.exited) {
    result.ending = ENDING.exited;
    result.exitCode = st.exitCode;
  } else if (!threw) {
    result.ending = ENDING.returned;
  } else if (isTrap) {
    result.ending = ENDING.trap;
    result.detail = String(caught.message);
  } else {
    throw caught;  // neither a trap nor an ending of ours: the engine failed
  }
  return result;
}
