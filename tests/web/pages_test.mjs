// Tests of the browser worker page's logic under Node.js
// (web/pages/worker/): the chain's encodings, hashes and signatures against
// the vectors the C++ computes (vectors.json, which planner_tests checks
// against core/), the planner against the rules of worker/daemon/planner.cpp,
// and the classification of a run against worker/sandbox.cpp's.
//
//   node tests/web/pages_test.mjs
//
// Needs web/node_modules (npm ci --prefix web): without it, says so and
// exits 77 (skipped). Prints one line per failure and "N passed, N failed".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
if (!fs.existsSync(path.join(root, 'web', 'node_modules', '@noble', 'curves'))) {
  console.log('SKIP: web/node_modules is missing (npm ci --prefix web)');
  process.exit(77);
}
const pages = path.join(root, 'web', 'pages', 'worker');
const chain = await import(path.join(pages, 'chain.mjs'));
const { planTask, recordRun } = await import(path.join(pages, 'planner.mjs'));
const { classify, OUTCOME } = await import(path.join(pages, 'sandbox.mjs'));
const { ENDING } = await import(path.join(root, 'web', 'wasi_host.mjs'));
const format = await import(path.join(root, 'web', 'pages', 'explorer', 'format.mjs'));
const { schnorr } = await import(path.join(root, 'web', 'node_modules', '@noble', 'curves', 'secp256k1.js'));
const { fromHex, toHex } = chain;

let passed = 0, failed = 0;
function test(name, f) {
  try {
    f();
    passed += 1;
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

// --- vectors ---

const v = JSON.parse(fs.readFileSync(path.join(here, 'vectors.json'), 'utf8'));
const secret = fromHex(v.secret_key);

test('the public key of the secret key', () => {
  assert.equal(toHex(chain.publicKeyOf(secret)), v.public_key);
});

test('task_result_hash, a u64 fuel at its maximum included', () => {
  for (const r of v.task_result)
    assert.equal(toHex(chain.taskResultHash(r.outcome, r.exit_code, BigInt(r.fuel_used), fromHex(r.output))), r.hash);
});

test('task_commitment', () => {
  const r = v.task_result[0];
  const result = chain.taskResultHash(r.outcome, r.exit_code, BigInt(r.fuel_used), fromHex(r.output));
  const c = v.commitment;
  assert.equal(toHex(chain.taskCommitment(v.chain_id, c.task, result, fromHex(c.salt), fromHex(v.public_key))), c.hash);
});

test('task_sandbox_seed', () => {
  assert.equal(toHex(chain.taskSandboxSeed(v.chain_id, v.seed.task)), v.seed.hash);
});

function payloadOf(json) {
  const p = { ...json };
  for (const k of ['commitment', 'output', 'salt']) if (k in p) p[k] = fromHex(p[k]);
  if ('stake' in p) p.stake = BigInt(p.stake);
  return p;
}

for (const t of v.transactions) {
  test(`${t.payload.type}: signing hash, encoding, id and signature`, () => {
    const tx = { chain_id: v.chain_id, sender: fromHex(v.public_key), nonce: t.nonce, fee: BigInt(t.fee),
      payload: payloadOf(t.payload) };
    assert.equal(toHex(chain.signingHash(tx)), t.signing_hash);
    // The same auxiliary data gives the very signature libsecp256k1 made.
    assert.equal(toHex(schnorr.sign(chain.signingHash(tx), secret, fromHex(v.aux))), t.signature);
    tx.signature = fromHex(t.signature);
    assert.equal(toHex(chain.encodeTransaction(tx)), t.encoded);
    assert.equal(toHex(chain.transactionId(tx)), t.id);
    // signTransaction (fresh auxiliary randomness) signs something the chain accepts.
    const signed = chain.signTransaction({ ...tx, signature: undefined }, secret);
    assert.ok(chain.verifyTransaction(signed));
    assert.equal(toHex(signed.sender), v.public_key);
  });
}

test('the encoder refuses what the chain cannot decode', () => {
  assert.throws(() => new chain.Writer().varint(1n << 64n), /out of range/);
  assert.throws(() => new chain.Writer().varint(-1), /out of range/);
  assert.throws(() => chain.encodeUnsigned({ chain_id: 'c', sender: new Uint8Array(32), nonce: 0, fee: 0,
    payload: { type: 'reveal_result', task: 1, outcome: 0, exit_code: 0, fuel_used: 0,
      output: new Uint8Array(64 * 1024 + 1), salt: new Uint8Array(32) } }), /more than 65536 bytes/);
  assert.throws(() => chain.encodeUnsigned({ chain_id: 'c', sender: new Uint8Array(31), nonce: 0, fee: 0,
    payload: { type: 'unregister_worker' } }), /expected 32 bytes/);
  assert.throws(() => chain.secretKeyFromHex('00'.repeat(32)));
  assert.throws(() => chain.fromHex('zz'), /not hex/);
});

test('a metered module is run only when it hashes to the task\'s metered_hash', () => {
  const wasm = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0);
  const hash = toHex(chain.sha256(wasm));
  assert.equal(chain.checkMeteredModule(wasm, hash), wasm);
  assert.equal(chain.checkMeteredModule(wasm, hash.toUpperCase()), wasm);  // hex in either case
  const altered = wasm.slice();
  altered[7] = 1;
  assert.throws(() => chain.checkMeteredModule(altered, hash), /module-mismatch/);
});

// --- the planner (worker/daemon/planner.cpp's rules, as tests/worker/planner_tests.cpp has them) ---

const ME = v.public_key;
const OTHER = '22'.repeat(32);
function task({ meCommitted = false, otherCommitted = false, meRevealed = false, assigned = 5 } = {}) {
  return { id: 3, status: 'open', fuel: 1000, metering_version: 1, round: { kind: 'first', assigned_height: assigned,
    commit_deadline: 25, reveal_deadline: 45, assignments: [
      { worker: ME, committed: meCommitted, revealed: meRevealed },
      { worker: OTHER, committed: otherCommitted, revealed: false }] } };
}
const state = (assigned = 5) => ({ task: 3, assigned_height: assigned, outcome: 0, exit_code: 0, fuel_used: 700,
  output: Uint8Array.of(0x68, 0x69), salt: new Uint8Array(32).fill(9) });
const plan = (t, s = null, height = 10, sentBefore = false, meteringVersion = 1) =>
  planTask({ task: t, me: ME, chainId: v.chain_id, state: s, sentBefore, height, meteringVersion });

test('assigned and not run: run, for the round assigned', () => {
  const p = plan(task());
  assert.equal(p.kind, 'run');
  assert.equal(p.assignedHeight, 5);
});
test('waiting for workers: wait', () => assert.equal(plan(task({ assigned: 0 })).kind, 'wait'));
test('another metering version: refused, never run', () => {
  const p = plan(task(), null, 10, false, 2);
  assert.equal(p.kind, 'refuse_metering');
  assert.match(p.log, /metered by version 1/);
});
test('ran, not committed: the commitment of the stored result and salt', () => {
  const s = state();
  const p = plan(task(), s);
  assert.equal(p.kind, 'commit');
  const result = chain.taskResultHash(0, 0, 700, s.output);
  assert.equal(toHex(p.payload.commitment), toHex(chain.taskCommitment(v.chain_id, 3, result, s.salt, fromHex(ME))));
});
test('the commit deadline passed: commit_missed, nothing sent', () => {
  assert.equal(plan(task(), state(), 26).kind, 'commit_missed');
  assert.equal(plan(task(), state(), 25).kind, 'commit');
  assert.equal(plan(task(), state(), null).kind, 'commit');  // the height unknown: try
});
test('committed, the other not, deadline not passed: wait; passed: reveal', () => {
  assert.equal(plan(task({ meCommitted: true }), state(), 25).kind, 'wait');
  assert.equal(plan(task({ meCommitted: true }), state(), null).kind, 'wait');
  const p = plan(task({ meCommitted: true }), state(), 26);
  assert.equal(p.kind, 'reveal');
  assert.equal(p.payload.fuel_used, 700);
});
test('every worker committed: reveal at once', () => {
  assert.equal(plan(task({ meCommitted: true, otherCommitted: true }), state(), 10).kind, 'reveal');
});
test('committed with the salt lost: salt_lost', () => {
  assert.equal(plan(task({ meCommitted: true, otherCommitted: true })).kind, 'salt_lost');
});
test('revealed: wait for the settlement', () => {
  assert.equal(plan(task({ meCommitted: true, meRevealed: true }), state()).kind, 'wait');
});
test('a result of an earlier round: end, keep following the new round', () => {
  const p = plan(task({ assigned: 30 }), state(5));
  assert.equal(p.kind, 'end');
  assert.equal(p.keep, true);
  assert.equal(p.report, true);
});
test('settled: end, with whether this worker agreed', () => {
  const t = { ...task(), status: 'settled', round: null,
    result: { outcome: 0, fuel_used: 700, result_hash: 'ab', majority: [ME] } };
  const p = plan(t, state());
  assert.equal(p.kind, 'end');
  assert.equal(p.keep, false);
  assert.match(p.log, /^settled: ok, fuel 700, result ab \(agreed: rewarded\)$/);
  assert.match(plan({ ...t, result: { ...t.result, majority: [OTHER] } }, state()).log, /not in the majority/);
  assert.equal(plan(t).log, '');  // nothing run or sent: nothing to say
});
test('recordRun: output cut to 64 KiB; the lie alters it as verity-worker --byzantine does', () => {
  assert.equal(recordRun(1, 5, 0, 0, 1, new Uint8Array(70000), new Uint8Array(32), false).output.length, 65536);
  assert.deepEqual([...recordRun(1, 5, 0, 0, 1, Uint8Array.of(0x41, 0x42), new Uint8Array(32), true).output], [0x40, 0x42]);
  assert.deepEqual([...recordRun(1, 5, 0, 0, 1, new Uint8Array(0), new Uint8Array(32), true).output], [0x21]);
  const honest = Uint8Array.of(1, 2);
  recordRun(1, 5, 0, 0, 1, honest, new Uint8Array(32), true);
  assert.deepEqual([...honest], [1, 2]);  // the run's own bytes are not changed
});

// --- the classification (worker/sandbox.cpp, run_task) ---

const resp = (ending, fields = {}) => ({ ending, exitCode: 0, fuelLeft: 400n, flags: 0, memoryPages: 1, detail: '',
  stdout: new Uint8Array(0), stderr: new Uint8Array(0), ...fields });
const limits = { fuel: 1000n, maxStdout: 65536, memoryPages: 256 };

test('returned and exited: ok, fuel used = limit - left, the exit code', () => {
  assert.deepEqual([classify(resp(ENDING.returned), limits)].map((r) => [r.outcome, r.exitCode, r.fuelUsed]),
    [[OUTCOME.ok, 0, 600n]]);
  const e = classify(resp(ENDING.exited, { exitCode: 3 }), limits);
  assert.deepEqual([e.outcome, e.exitCode, e.fuelUsed], [OUTCOME.ok, 3, 600n]);
});
test('a trap and out of fuel use all the fuel', () => {
  const t = classify(resp(ENDING.trap, { detail: 'unreachable' }), limits);
  assert.deepEqual([t.outcome, t.fuelUsed], [OUTCOME.trap, 1000n]);
  const s = classify(resp(ENDING.trap, { flags: 2, detail: 'unreachable' }), limits);
  assert.deepEqual([s.outcome, s.detail], [OUTCOME.trap, 'call stack exhausted']);
  const f = classify(resp(ENDING.out_of_fuel, { fuelLeft: -1n }), limits);
  assert.deepEqual([f.outcome, f.fuelUsed], [OUTCOME.out_of_fuel, 1000n]);
});
test("the browser's own stack overflow is no result (never committed)", () => {
  const r = classify(resp(ENDING.trap, { detail: 'Maximum call stack size exceeded' }), limits);
  assert.equal(r.outcome, OUTCOME.engine_failed);
});
test('a module the browser cannot load is no result', () => {
  assert.equal(classify(resp(ENDING.invalid_module, { detail: 'CompileError' }), limits).outcome, OUTCOME.engine_failed);
});
test('a refused memory.grow, then a trap or a nonzero exit: memory-exceeded', () => {
  assert.equal(classify(resp(ENDING.trap, { flags: 1, detail: 'unreachable' }), limits).outcome, OUTCOME.memory_exceeded);
  assert.equal(classify(resp(ENDING.exited, { flags: 1, exitCode: 1 }), limits).outcome, OUTCOME.memory_exceeded);
  assert.equal(classify(resp(ENDING.exited, { flags: 1, exitCode: 0 }), limits).outcome, OUTCOME.ok);
});
test('output too large keeps the fuel used', () => {
  const r = classify(resp(ENDING.output_too_large), limits);
  assert.deepEqual([r.outcome, r.fuelUsed], [OUTCOME.output_too_large, 600n]);
});

// --- the explorer's formatting (web/pages/explorer/format.mjs) ---

test('the search box reads heights, tasks, hashes and names', () => {
  assert.deepEqual(format.parseQuery(' 42 '), { kind: 'height', height: 42 });
  for (const q of ['task 5', 'Task5', 't5', '#5']) assert.deepEqual(format.parseQuery(q), { kind: 'task', id: 5 }, q);
  assert.deepEqual(format.parseQuery('AB'.repeat(32)), { kind: 'hash', hash: 'ab'.repeat(32) });
  assert.deepEqual(format.parseQuery('validator-2'), { kind: 'name', name: 'validator-2' });
  assert.deepEqual(format.parseQuery('ab'.repeat(31)), { kind: 'name', name: 'ab'.repeat(31) });  // not 64 digits
  assert.deepEqual(format.parseQuery('   '), { kind: 'empty' });
});
test('amounts are grouped, shares are percentages', () => {
  assert.equal(format.amount('1234567'), '1,234,567');
  assert.equal(format.amount('100'), '100');
  assert.equal(format.amount('18446744073709551615'), '18,446,744,073,709,551,615');
  assert.equal(format.percent(1, 4), '25.0 %');
  assert.equal(format.percent(1, 0), '—');
});
test('task output is shown as text only when it is printable UTF-8', () => {
  assert.equal(format.outputText('68690a'), 'hi\n');
  assert.equal(format.outputText('c3a9'), 'é');
  assert.equal(format.outputText('ff00'), null);  // not UTF-8
  assert.equal(format.outputText('0001'), null);  // control characters
  assert.equal(format.outputText(''), '');
});
test('block intervals and transactions per second, and their chart', () => {
  const s = format.blockSeries([{ height: 1, timestamp_ms: 1000, txs: 0 }, { height: 2, timestamp_ms: 1500, txs: 5 },
    { height: 3, timestamp_ms: 1500, txs: 2 }]);
  assert.deepEqual(s, [{ height: 2, interval: 500, tps: 10 }, { height: 3, interval: 0, tps: 0 }]);
  assert.equal(format.polyline([0, 10], 100, 50), '0.0,50.0 100.0,0.0');
  assert.equal(format.polyline([], 100, 50), '');
  assert.equal(format.short('a'.repeat(64)), 'aaaaaaaa…aaaa');
});

test("a task's rounds are read from its history, with each worker's commit and reveal heights", () => {
  const [A, B, C, D, E] = ['a', 'b', 'c', 'd', 'e'].map((x) => x.repeat(64));
  const ev = (kind, attributes) => ({ kind, attributes: { task: '3', ...attributes } });
  const tx = (height, index, ...events) => ({ height, index, events });
  const hooks = (height, ...events) => ({ height, index: null, events });
  const assigned = (w, round, c, r) => ev('task_assigned', { worker: w, round, commit_deadline: c, reveal_deadline: r });
  // As the node gives them: newest first, a block's own events before its transactions.
  const entries = [
    hooks(20, ev('task_audit_ended', { auditor: E, outcome: 'no-commitments' })),
    hooks(16, assigned(B, 'audit', '18', '20')),
    tx(15, 0, ev('task_audit_requested', { auditor: E })),
    hooks(14, ev('worker_slashed', { worker: D, amount: '1000', reason: 'outvoted' }),
      ev('task_settled', { result_hash: 'x', agreeing: '2' })),
    tx(13, 2, ev('task_revealed', { worker: D, result_hash: 'z' })),
    tx(13, 1, ev('task_revealed', { worker: B, result_hash: 'x' })),
    tx(13, 0, ev('task_revealed', { worker: A, result_hash: 'x' })),
    tx(12, 0, ev('task_committed', { worker: A }), ev('task_committed', { worker: B })),
    tx(12, 1, ev('task_committed', { worker: D })),
    hooks(11, assigned(A, 'retry', '12', '13'), assigned(B, 'retry', '12', '13'), assigned(D, 'retry', '12', '13')),
    hooks(10, ev('task_worker_missed', { worker: C, committed: 'false' }),
      ev('task_retry', { reason: 'no-majority', committed: '2', revealed: '2' })),
    tx(9, 0, ev('task_revealed', { worker: A, result_hash: 'x' }), ev('task_revealed', { worker: B, result_hash: 'y' })),
    tx(7, 1, ev('task_committed', { worker: B })),
    tx(7, 0, ev('task_committed', { worker: A })),
    hooks(6, assigned(A, 'first', '7', '9'), assigned(B, 'first', '7', '9'), assigned(C, 'first', '7', '9')),
    tx(5, 0, ev('task_submitted', { submitter: E })),
  ];
  const r = format.taskRounds(entries);
  assert.equal(r.submitted, 5);
  assert.deepEqual(r.audits, [{ height: 15, auditor: E }]);
  assert.deepEqual(r.rounds.map((x) => [x.kind, x.assigned, x.commitDeadline, x.revealDeadline, x.end?.text]), [
    ['first', 6, 7, 9, 'retried: no-majority'], ['retry', 11, 12, 13, 'settled, 2 agreeing'],
    ['audit', 16, 18, 20, 'audit ended: no-commitments']]);
  assert.deepEqual(r.rounds[0].workers.map((w) => [w.committed, w.revealed, w.resultHash, w.fate]),
    [[7, 9, 'x', ''], [7, 9, 'y', ''], [null, null, '', 'missed']]);
  assert.deepEqual(r.rounds[1].workers.map((w) => [w.worker, w.committed, w.revealed, w.fate]),
    [[A, 12, 13, 'majority'], [B, 12, 13, 'majority'], [D, 12, 13, 'slashed 1,000 (outvoted)']]);
  assert.deepEqual(r.rounds[2].workers.map((w) => [w.worker, w.committed, w.fate]), [[B, null, '']]);
  assert.deepEqual(format.taskRounds([]), { submitted: null, rounds: [], audits: [] });
  assert.equal(format.eventText(ev('task_committed', { worker: A })), `task=3 worker=${format.short(A)}`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
