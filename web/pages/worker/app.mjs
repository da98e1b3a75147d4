// The browser worker page (/worker on the node's RPC port): a worker of the
// task market in a web page. It keeps its key in this browser (keystore.mjs),
// follows its assignments over the node's WebSocket, runs each task in a Web
// Worker (runner.mjs) on the metered module the chain names, and commits and
// reveals exactly as verity-worker does: the same planner (planner.mjs, the
// twin of worker/daemon/planner.cpp), the same commitment, salt handling,
// resend rule and deadlines (docs/worker.md, "In a browser").
import { checkMeteredModule, encodeTransaction, fromHex, newSecretKey, publicKeyOf, secretKeyFromHex,
  signTransaction, taskSandboxSeed, toHex } from './chain.mjs';
import * as keystore from './keystore.mjs';
import { NodeApi, Subscription } from './node_api.mjs';
import { outcomeText, planTask, recordRun } from './planner.mjs';
import { OUTCOME } from './sandbox.mjs';

// The metering rules this page's engine (web/wasi_host.mjs) implements
// (docs/sandbox.md, "Versions").
const METERING_VERSION = 1;
const RESEND_AFTER_MS = 8000;     // as verity-worker's kResendAfter
const STEP_MS = 500;              // each active task is stepped this often
const RETRY_MS = 5000;            // a run that gave no result is tried again after this
const SCAN_MS = 3000;             // and assignments looked for this often
const MAX_SCAN_PAGES = 20;
const MAX_STDOUT = 64 * 1024;     // what a reveal carries
const MAX_STDERR = 64 * 1024;
const MEMORY_PAGES = 256;         // the sandbox's cap (16 MiB), for messages
const LOG_LINES = 200;

const $ = (id) => document.getElementById(id);
const node = new NodeApi();

const app = {
  chain: null,            // { chainId, minStake, fee, meteringVersion }
  secret: null,           // the unlocked key
  me: '',                 // its address (hex)
  paused: false,
  byzantine: false,
  threads: 1,
  active: new Set(),      // task ids being followed
  tasks: new Map(),       // id -> what the page shows: { phase, outcome, fuel, detail, round }
  running: new Map(),     // id -> Promise of a run in progress
  retryAt: new Map(),     // id -> when a run that gave no result (module, engine) may be tried again
  commitSent: new Map(),  // id -> { at, tx }
  revealSent: new Map(),
  announced: new Set(),
  modules: new Map(),     // module hash -> instrumented bytes
  pool: [],               // idle Web Workers
  busy: 0,
  sending: Promise.resolve(),
  height: 0,
  log: [],
};

// --- what the page shows ---------------------------------------------------------------------

function say(line) {
  const stamp = new Date().toISOString().slice(11, 19);
  app.log.push(`${stamp} ${line}`);
  if (app.log.length > LOG_LINES) app.log.shift();
  $('log').textContent = app.log.slice().reverse().join('\n');
}

function setState(state) {
  document.body.dataset.state = state;  // none | locked | unlocked (the tests read it too)
  for (const el of document.querySelectorAll('[data-when]'))
    el.hidden = !el.dataset.when.split(' ').includes(state);
}

function showTask(id, fields) {
  const t = { ...(app.tasks.get(id) ?? { phase: '', outcome: '', fuel: '', detail: '' }), ...fields };
  app.tasks.set(id, t);
  let row = document.querySelector(`#tasks tr[data-task="${id}"]`);
  if (!row) {
    row = document.createElement('tr');
    row.dataset.task = String(id);
    for (let i = 0; i < 5; ++i) row.appendChild(document.createElement('td'));
    $('tasks').prepend(row);
    while ($('tasks').rows.length > 50) $('tasks').deleteRow(-1);
  }
  row.dataset.phase = t.phase;
  row.dataset.outcome = t.outcome === '' ? '' : String(t.outcome);
  row.dataset.fuel = String(t.fuel);
  const cells = [String(id), t.phase, t.outcome === '' ? '' : outcomeText(t.outcome), String(t.fuel), t.detail];
  cells.forEach((text, i) => { row.cells[i].textContent = text; });
  const current = [...app.tasks.entries()].filter(([, v]) => v.phase === 'running').map(([k]) => k);
  $('current').textContent = current.length ? `running task ${current.join(', ')}` : (app.paused ? 'paused' : 'idle');
}

async function refreshAccount() {
  if (!app.me) return;
  try {
    const [status, acct, worker, rewards] = await Promise.all([
      node.call('status'), node.call('account', { address: app.me }), node.find('worker', { address: app.me }),
      node.call('rewards', { address: app.me })]);
    app.height = status.height;
    $('height').textContent = String(status.height);
    $('balance').textContent = acct.balance;
    $('nonce').textContent = String(acct.next_nonce);
    $('stake').textContent = worker ? worker.stake : '0';
    $('worker-status').textContent = !worker ? 'not registered' : worker.active ? 'active' :
      `unbonding ${worker.unbonding} until ${worker.unbonding_until}`;
    document.body.dataset.registered = worker && worker.active ? 'yes' : 'no';
    $('reputation').textContent = worker ? `${(worker.reputation / 10000).toFixed(2)} %` : '';
    $('record').textContent = worker ? `agreed ${worker.agreed}, outvoted ${worker.outvoted}, missed ${worker.missed}` : '';
    $('vested').textContent = rewards.vested;
    $('locked').textContent = rewards.locked;
    const locked = rewards.entries.filter((e) => e.vest_height > status.height);
    $('vesting').textContent = locked.length ? `(${locked.map((e) => `${e.amount} at height ${e.vest_height}`).join('; ')})` : '';
  } catch (e) {
    $('node-status').textContent = `node: ${e.message}`;
  }
}

// --- keys ----------------------------------------------------------------------------------------

async function showKeyState() {
  const stored = await keystore.storedKey();
  if (!stored) return setState('none');
  $('stored-address').textContent = stored.address;
  setState(app.secret ? 'unlocked' : 'locked');
}

async function useKey(secret) {
  app.secret = secret;
  app.me = toHex(publicKeyOf(secret));
  $('address').textContent = app.me;
  setState('unlocked');
  say(`key ${app.me} unlocked`);
  await startWorking();
}

async function onCreate(importHex) {
  const pass = $('passphrase').value;
  if (pass !== $('passphrase2').value) throw new Error('the passphrases differ');
  const secret = importHex ? secretKeyFromHex($('import-key').value) : newSecretKey();
  await keystore.saveKey(secret, pass);
  $('passphrase').value = $('passphrase2').value = $('import-key').value = '';
  await useKey(secret);
}

async function onUnlock() {
  const secret = await keystore.unlockKey($('unlock-passphrase').value);
  $('unlock-passphrase').value = '';
  await useKey(secret);
}

async function onForget() {
  if (!confirm('Forget this key? Without a copy of it, its balance and stake are lost.')) return;
  await keystore.forgetKey();
  location.reload();
}

// --- the chain -----------------------------------------------------------------------------------

async function loadChain() {
  const [status, genesis] = await Promise.all([node.call('status'), node.call('genesis')]);
  const p = genesis.params;
  app.chain = { chainId: status.chain_id, minStake: p.min_worker_stake, fee: p.min_fee,
    meteringVersion: p.metering_version };
  $('chain').textContent = status.chain_id;
  $('register-stake').placeholder = p.min_worker_stake;
  if (p.metering_version !== METERING_VERSION)
    say(`WARNING: the chain meters fuel by version ${p.metering_version} and this page by version ` +
      `${METERING_VERSION}: it will not run tasks of another version`);
}

// Sends one transaction signed by the page's key; one at a time (each takes
// the nonce after the previous one). Returns its hash.
function send(payload) {
  const run = async () => {
    const acct = await node.call('account', { address: app.me });
    const tx = signTransaction({ chain_id: app.chain.chainId, nonce: acct.next_nonce, fee: app.chain.fee, payload },
      app.secret);
    const answer = await node.call('send_tx', { tx: toHex(encodeTransaction(tx)) });
    return answer.hash;
  };
  const result = app.sending.then(run, run);
  app.sending = result.catch(() => {});
  return result;
}

async function onRegister() {
  const stake = $('register-stake').value.trim() || app.chain.minStake;
  if (!/^[0-9]{1,20}$/.test(stake)) throw new Error('the stake is a whole number of base units');
  const hash = await send({ type: 'register_worker', stake: BigInt(stake) });
  say(`register_worker sent: stake ${stake} (tx ${hash})`);
}

async function onUnregister() {
  const hash = await send({ type: 'unregister_worker' });
  say(`unregister_worker sent (tx ${hash})`);
}

// Pays out vested rewards (claim) and unbonded stake (withdraw).
async function onClaim() {
  const hash = await send({ type: 'claim' });
  say(`claim sent (tx ${hash})`);
}

async function onWithdraw() {
  const hash = await send({ type: 'withdraw' });
  say(`withdraw sent (tx ${hash})`);
}

// --- the work ------------------------------------------------------------------------------------

// One tab works for a key at a time (the Web Locks API): a second tab of
// this browser with the same key would send the same commitments twice and
// race for nonces. The lock goes with the tab (closed or reloaded).
function holdWorkLock() {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.locks.request(`verity-worker/${app.me}`, { ifAvailable: true }, (lock) => {
      resolve(Boolean(lock));
      return lock ? new Promise(() => {}) : undefined;  // held while the page lives
    });
  });
}

async function startWorking() {
  if (!app.chain) await loadChain();
  setInterval(refreshAccount, 2000);
  refreshAccount();
  if (!(await holdWorkLock())) {
    say('another tab of this browser is working with this key: this one only shows the account');
    $('current').textContent = 'working in another tab';
    document.body.dataset.working = 'elsewhere';
    return;
  }
  document.body.dataset.working = 'here';
  for (const id of await keystore.storedTasks(app.chain.chainId, app.me)) app.active.add(id);
  new Subscription({
    topic: 'tasks',
    onEvent: (e) => { if (e.kind === 'task_assigned' && e.attributes?.worker === app.me) app.active.add(Number(e.attributes.task)); },
    onConnect: () => scan(),
    onState: (s) => { $('node-status').textContent = `node: ${s}`; },
  });
  setInterval(scan, SCAN_MS);
  loop();
}

// Every round in progress that assigns this key and that it has not revealed.
async function scan() {
  if (!app.me) return;
  let before = 0;
  try {
    for (let page = 0; page < MAX_SCAN_PAGES; ++page) {
      const { tasks } = await node.call('tasks', { before, limit: 100, in_progress: true });
      for (const t of tasks) {
        before = t.id;
        if (t.round?.assignments.some((a) => a.worker === app.me && !a.revealed)) app.active.add(t.id);
      }
      if (tasks.length < 100 || before <= 1) return;
    }
  } catch (e) {
    say(`cannot list tasks: ${e.message}`);
  }
}

async function loop() {
  for (;;) {
    for (const id of [...app.active]) {
      if (app.running.has(id)) continue;
      try {
        if (!(await step(id))) app.active.delete(id);
      } catch (e) {
        say(`task ${id}: ${e.message}`);
      }
    }
    await new Promise((r) => setTimeout(r, STEP_MS));
  }
}

async function height() {
  try { return (await node.call('status')).height; } catch { return null; }
}

// One step of a task's life; false once the page is done with it. The
// decisions are the planner's; this is their I/O (worker/daemon/loop.cpp's step).
async function step(id) {
  const name = `task ${id}`;
  const t = await node.find('task', { id });
  if (!t) { await forget(id); return false; }
  const chainId = app.chain.chainId;
  const input = { task: t, me: app.me, chainId, state: await keystore.loadTaskState(chainId, app.me, id),
    sentBefore: app.commitSent.has(id) || app.revealSent.has(id), height: null, meteringVersion: METERING_VERSION };
  if (input.state && !app.tasks.has(id))  // after a reload: what it ran, from what it stored
    showTask(id, { phase: 'ran', outcome: input.state.outcome, fuel: input.state.fuel_used, detail: 'stored' });
  const mine = t.round?.assignments.find((a) => a.worker === app.me);
  if (t.round && t.round.assigned_height !== 0 && mine && !mine.revealed) input.height = await height();
  const p = planTask(input);
  switch (p.kind) {
    case 'run':
      // In the background, so that other tasks' commitments and reveals go
      // on meanwhile; the step after it finds the stored result and commits.
      if (app.paused || app.busy >= app.threads) return true;  // paused, or every thread busy: later
      if ((app.retryAt.get(id) ?? 0) > Date.now()) return true;  // the last try gave no result: not yet
      if (!app.announced.has(id)) { app.announced.add(id); say(`${name}: ${p.log}`); }
      app.busy += 1;
      app.running.set(id, runTask(t, p.assignedHeight, name).then((state) => {
        // No result (the module did not check out, the engine failed): try
        // again in RETRY_MS, not at every step.
        if (state) app.retryAt.delete(id);
        else app.retryAt.set(id, Date.now() + RETRY_MS);
      }).finally(() => {
        app.busy -= 1;
        app.running.delete(id);
      }));
      return true;
    case 'end':
      if (p.log) say(`${name}: ${p.log}`);
      if (p.log) showTask(id, { phase: t.status === 'settled' ? 'settled' : t.status, detail: p.log });
      if (p.report) {
        const w = await node.find('worker', { address: app.me });
        if (w) say(`worker: stake ${w.stake}, reputation ${w.reputation} ppm, agreed ${w.agreed}, outvoted ` +
          `${w.outvoted}, missed ${w.missed}`);
      }
      await forget(id);
      return p.keep;
    case 'refuse_metering': case 'commit_missed': case 'salt_lost':
      showTask(id, { phase: p.kind.replace('_', ' '), detail: p.log });
      return true;
    case 'commit':
      await sendOnce(app.commitSent, id, name, p.payload, 'commit_result', p.log, 'committed');
      return true;
    case 'reveal':
      await sendOnce(app.revealSent, id, name, p.payload, 'reveal_result', p.log, 'revealed');
      return true;
    default:
      return true;
  }
}

async function forget(id) {
  await keystore.deleteTaskState(app.chain.chainId, app.me, id);
  app.retryAt.delete(id);
  app.commitSent.delete(id);
  app.revealSent.delete(id);
  app.announced.delete(id);
}

// Whether to send a commitment (or reveal) now: never sent, or sent 8 s ago
// and the node no longer has it or committed it as failed (a second one
// while the first is pending would fail in its block and pay a fee).
async function maySend(sent, id, name) {
  const s = sent.get(id);
  if (!s) return true;
  if (Date.now() - s.at < RESEND_AFTER_MS) return false;
  if (!s.tx) return true;
  let found;
  try { found = await node.find('tx', { hash: s.tx }); } catch { return false; }
  if (!found) { say(`${name}: tx ${s.tx} is gone from the node; sending again`); return true; }
  if (found.receipt && !found.receipt.ok) {
    say(`${name}: tx ${s.tx} failed in its block (${found.receipt.reason}); sending again`);
    return true;
  }
  s.at = Date.now();
  return false;
}

async function sendOnce(sent, id, name, payload, what, done, phase) {
  if (!(await maySend(sent, id, name))) return;
  try {
    const hash = await send(payload);
    sent.set(id, { at: Date.now(), tx: hash });
    say(`${name}: ${done} (tx ${hash})`);
    showTask(id, { phase });
  } catch (e) {
    say(`${name}: ${what} failed: ${e.message}`);
    sent.set(id, { at: Date.now() - RESEND_AFTER_MS + 1000, tx: '' });
  }
}

// The instrumented module the task names, from the node, checked against
// the task's metered_hash: bytes that hash to anything else are not what
// the chain metered, whatever the node says, and are never run.
async function meteredModule(t) {
  if (app.modules.has(t.module_hash)) return app.modules.get(t.module_hash);
  const m = await node.call('module', { hash: t.module_hash, metered: true });
  const wasm = checkMeteredModule(fromHex(m.wasm), t.metered_hash);
  if (app.modules.size >= 16) app.modules.delete(app.modules.keys().next().value);
  app.modules.set(t.module_hash, wasm);
  return wasm;
}

function worker() {
  return app.pool.pop() ?? new Worker(new URL('./runner.js', import.meta.url), { type: 'module' });
}

// Runs the task in a Web Worker and stores the result with a fresh salt
// before anything is committed; null when there is nothing to commit yet.
async function runTask(t, assignedHeight, name) {
  const id = t.id;
  let module;
  try { module = await meteredModule(t); } catch (e) { say(`${name}: ${e.message}`); return null; }
  showTask(id, { phase: 'running', outcome: '', fuel: '', detail: `fuel limit ${t.fuel}` });
  const w = worker();
  const started = performance.now();
  let r;
  try {
    r = await new Promise((resolve, reject) => {
      w.onmessage = (e) => resolve(e.data);
      w.onerror = (e) => reject(new Error(e.message || 'the Web Worker failed'));
      w.postMessage({ id, module, input: fromHex(t.input), fuel: String(t.fuel),
        seed: taskSandboxSeed(app.chain.chainId, id), maxStdout: MAX_STDOUT, maxStderr: MAX_STDERR,
        memoryPages: MEMORY_PAGES });
    });
    app.pool.push(w);
  } catch (e) {
    w.terminate();
    r = { outcome: OUTCOME.engine_failed, detail: e.message };
  }
  const ms = Math.round(performance.now() - started);
  if (r.outcome === OUTCOME.engine_failed) {
    say(`${name}: the browser engine failed, not committing: ${r.detail}`);
    showTask(id, { phase: 'engine failed', detail: r.detail });
    return null;
  }
  const salt = crypto.getRandomValues(new Uint8Array(32));
  const state = recordRun(id, assignedHeight, r.outcome, r.exitCode, Number(r.fuelUsed), r.stdout, salt,
    app.byzantine);
  say(`${name}: ran: ${outcomeText(r.outcome)}, exit ${r.exitCode}, fuel ${r.fuelUsed}, ${r.stdout.length} bytes ` +
    `out, ${ms} ms in the browser${r.detail ? ` (${r.detail})` : ''}${app.byzantine ? ' [byzantine: output altered]' : ''}`);
  try {
    await keystore.saveTaskState(app.chain.chainId, app.me, state);
  } catch (e) {
    say(`${name}: cannot store the result (${e.message}); not committing`);
    return null;
  }
  showTask(id, { phase: 'ran', outcome: r.outcome, fuel: r.fuelUsed, detail: `${ms} ms` });
  return state;
}

// --- wiring --------------------------------------------------------------------------------------

function handle(button, f) {
  $(button).addEventListener('click', async () => {
    $('error').textContent = '';
    $(button).disabled = true;
    try { await f(); } catch (e) { $('error').textContent = e.message; } finally { $(button).disabled = false; }
  });
}

handle('create-key', () => onCreate(false));
handle('import', () => onCreate(true));
handle('unlock', onUnlock);
handle('forget', onForget);
handle('register', onRegister);
handle('unregister', onUnregister);
handle('claim', onClaim);
handle('withdraw', onWithdraw);
$('pause').addEventListener('click', () => {
  app.paused = !app.paused;
  $('pause').textContent = app.paused ? 'Resume' : 'Pause';
  document.body.dataset.paused = app.paused ? 'yes' : 'no';
  say(app.paused ? 'paused: no new task starts (results already run are still committed and revealed)' : 'resumed');
  if (app.busy === 0) $('current').textContent = app.paused ? 'paused' : 'idle';
});
const cores = navigator.hardwareConcurrency || 1;
for (let n = 1; n <= cores; ++n) $('threads').add(new Option(String(n), String(n)));
$('threads').addEventListener('change', () => { app.threads = Number($('threads').value); });
$('byzantine').addEventListener('change', () => {
  app.byzantine = $('byzantine').checked;
  say(app.byzantine ? 'LYING about results from now on (tests only: the chain will slash this worker)' :
    'honest again');
});

loadChain().then(showKeyState).catch((e) => { $('error').textContent = `cannot reach the node: ${e.message}`; });
