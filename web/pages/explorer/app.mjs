// The node's explorer and dashboard (/ on the RPC port): the chain, blocks,
// transactions, accounts, validators, tasks and workers, read from the
// public JSON-RPC and WebSocket only, so the page works against any node.
// Routes are hashes (#/block/12, #/tx/HASH, #/account/KEY, #/validators,
// #/tasks, #/task/3, #/workers, #/worker/KEY, #/search/Q). Everything from
// the chain is put in the page as text (never as HTML).
import { NodeApi, Subscription } from '../worker/node_api.mjs';
import { amount, blockSeries, eventText, outputText, parseQuery, percent, polyline, short, taskRounds }
  from './format.mjs';
import { fromHex, outcomeText, toHex } from '../common.mjs';

const node = new NodeApi();
const $ = (id) => document.getElementById(id);
const scriptStarted = performance.now();  // since the page was asked for: the browser's own part
const CHART_BLOCKS = 60;
const HISTORY_PAGE = 25;  // entries of an account's history per page

// h('a', {href: '#/block/1'}, 'text', child...): an element, text children as text nodes.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('data-')) el.setAttribute(k, v);
    else el[k] = v;
  }
  for (const c of children.flat(Infinity)) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
}
const link = (route, text) => h('a', { href: `#/${route}` }, text);
const blockLink = (height) => link(`block/${height}`, String(height));
const accountLink = (key) => link(`account/${key}`, short(key));
const table = (head, rows) => h('table', {}, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))),
  h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
// A definition list; each value gets data-field=NAME for the tests.
const fields = (pairs) => h('dl', {}, pairs.map(([name, value, key]) => [h('dt', {}, name),
  h('dd', key ? { 'data-field': key } : {}, value)]));

let validatorNames = new Map();  // consensus key and operator -> name
function learnNames(validators) {
  for (const v of validators) {
    validatorNames.set(v.consensus_key, v.name);
    validatorNames.set(v.operator, v.name);
  }
}
async function names() {
  if (!validatorNames.size) learnNames((await node.call('validators')).validators);
  return validatorNames;
}
const named = (key) => validatorNames.get(key) ?? short(key);

// --- views: each returns the element to show ------------------------------------------------

const chart = { blocks: [], live: null };

// One request (a batch) brings the chain's figures, the last 61 blocks'
// summaries for the charts and the latest blocks, and the validators'
// names; body[data-charts-ms] says when the charts were drawn.
async function dashboard() {
  const [st, recent, vals] = await node.batch([['status', {}], ['blocks', { limit: CHART_BLOCKS + 1 }],
    ['validators', {}]]);
  if (st.error) throw new Error(st.error.message);
  const status = st.result;
  if (vals.result) learnNames(vals.result.validators);
  const view = h('section', {},
    h('h2', {}, 'Chain'),
    fields([['Chain', status.chain_id], ['Height', String(status.height), 'height'],
      ['Mempool', `${status.mempool_txs} transactions, ${amount(status.mempool_bytes)} bytes`, 'mempool'],
      ['Peers', String(status.peers)], ['Node', `${status.moniker} (${status.version})`]]),
    h('div', { className: 'charts' },
      h('figure', {}, h('figcaption', {}, 'Block interval (ms)'), h('div', { id: 'chart-interval' })),
      h('figure', {}, h('figcaption', {}, 'Transactions per second'), h('div', { id: 'chart-tps' }))),
    h('h2', {}, 'Latest blocks'), h('div', { id: 'latest' }));
  chart.live = null;
  chart.blocks = (recent.result?.blocks ?? []).reverse();
  drawDashboard(view);
  chart.live = view;
  document.body.dataset.chartsMs = performance.now().toFixed(1);
  return view;
}

function svgChart(values, unit, what = 'blocks') {
  const W = 420, H = 110;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', polyline(values, W, H - 4));
  svg.append(line);
  const max = values.length ? Math.max(...values) : 0;
  const last = values.length ? values[values.length - 1] : 0;
  return h('div', {}, svg, h('small', {}, `last ${last.toFixed(1)} ${unit}, max ${max.toFixed(1)} ${unit}, ` +
    `${values.length} ${what}`));
}

function drawDashboard(view) {
  const series = blockSeries(chart.blocks);
  view.querySelector('#chart-interval').replaceChildren(svgChart(series.map((s) => s.interval), 'ms'));
  view.querySelector('#chart-tps').replaceChildren(svgChart(series.map((s) => s.tps), 'tx/s'));
  const latest = chart.blocks.slice(-10).reverse();
  view.querySelector('#latest').replaceChildren(table(['Height', 'Time', 'Transactions', 'Proposer', 'Hash'],
    latest.map((b) => [blockLink(b.height), new Date(b.timestamp_ms).toISOString().slice(11, 23), String(b.txs),
      named(b.proposer), link(`block/${b.height}`, short(b.hash))])));
}

// A new block over the WebSocket: the summaries of the blocks since the
// last drawn are fetched, and the dashboard redrawn, at most once a second.
let pendingLive = false;
async function onBlock(note) {
  $('live-height').textContent = String(note.height);
  document.body.dataset.liveHeight = String(note.height);
  if (!chart.live || !chart.live.isConnected || pendingLive) return;
  pendingLive = true;
  setTimeout(async () => {
    try {
      const last = chart.blocks.length ? chart.blocks[chart.blocks.length - 1].height : 0;
      const tip = Number(document.body.dataset.liveHeight);
      const limit = Math.min(tip - last, CHART_BLOCKS + 1);
      const { blocks } = limit > 0 ? await node.call('blocks', { before: tip + 1, limit }) : { blocks: [] };
      chart.blocks.push(...blocks.filter((b) => b.height > last).reverse());
      chart.blocks = chart.blocks.slice(-CHART_BLOCKS - 1);
      const f = chart.live.querySelector('[data-field="height"]');
      if (f) f.textContent = String(tip);
      drawDashboard(chart.live);
    } finally {
      pendingLive = false;
    }
  }, 1000);
}

async function blockView(ref) {
  const b = await node.find('block', /^\d+$/.test(ref) ? { height: Number(ref) } : { hash: ref });
  if (!b) return notFound(`no block ${ref}`);
  await names();
  const { validators } = await node.call('validators');
  const signed = new Set((b.certificate?.signatures ?? []).map((s) => s.validator));
  const inSet = validators.filter((v) => v.in_set);
  const missed = inSet.filter((v) => !signed.has(v.consensus_key)).map((v) => v.name);
  const hd = b.header;
  return h('section', {},
    h('h2', {}, `Block ${b.height}`),
    fields([['Hash', b.hash, 'hash'], ['Height', String(b.height), 'height'], ['View', String(hd.view)],
      ['Time', new Date(hd.timestamp_ms).toISOString()], ['Proposer', named(hd.proposer), 'proposer'],
      ['Previous', b.height > 1 ? link(`block/${b.height - 1}`, short(hd.prev_hash)) : short(hd.prev_hash)],
      ['State root', hd.state_root], ['Transaction root', hd.tx_root],
      ['Signed by', b.certificate ? [...signed].map(named).join(', ') : 'not certified yet', 'signers'],
      ['Missed', b.certificate ? (missed.join(', ') || 'none') : '—', 'missed']]),
    h('p', { className: 'note' }, 'Missed: validators of the current set whose signature the certificate lacks.'),
    h('h3', {}, `Transactions (${b.txs.length})`),
    txTable(b.txs),
    h('h3', {}, `The block's own events (${b.events.length})`),
    h('p', { className: 'note' }, 'Task assignment and settlement, downtime jailing, evidence: what the block ' +
      'did by itself, in no transaction\'s receipt.'),
    eventTable(b.events));
}

const eventTable = (events) => table(['Kind', 'Attributes'], events.map((e) => [e.kind, eventText(e)]));

function txTable(txs) {
  return table(['Transaction', 'Type', 'Sender', 'Nonce', 'Fee'], txs.map((t) => [
    t.hash ? link(`tx/${t.hash}`, short(t.hash)) : '', t.payload.type, accountLink(t.sender), String(t.nonce),
    amount(t.fee)]));
}

async function sha256Hex(hex) {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', fromHex(hex))));
}

// A payload's fields; a module as its size and hash, never as hex.
async function payloadFields(p) {
  const out = [];
  for (const [k, v] of Object.entries(p)) {
    if (k === 'type') continue;
    if (k === 'module') {
      out.push(['module', v ? `${amount(v.length / 2)} bytes, sha256 ${await sha256Hex(v)}` : '(by hash)', 'module']);
    } else if (k === 'input' || k === 'output') {
      const text = outputText(v);
      out.push([k, text === null ? `${v.length / 2} bytes: ${short(v, 32)}` : text]);
    } else if (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) && ['to', 'validator'].includes(k)) {
      out.push([k, accountLink(v)]);
    } else {
      out.push([k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
    }
  }
  return out;
}

async function txView(hash) {
  const t = await node.find('tx', { hash });
  if (!t) return notFound(`no transaction ${hash}`);
  const r = t.receipt;
  return h('section', {},
    h('h2', {}, `Transaction ${short(hash)}`),
    fields([['Hash', hash], ['Status', t.status, 'status'], ['Type', t.tx.payload.type, 'type'],
      ['Sender', accountLink(t.tx.sender)], ['Nonce', String(t.tx.nonce)], ['Fee', amount(t.tx.fee)],
      ...(r ? [['Block', blockLink(r.height)], ['Result', r.ok ? 'ok' : `failed: ${r.reason}`, 'result'],
        ['Fee paid', amount(r.fee_paid)]] : [])]),
    h('h3', {}, 'Payload'), fields(await payloadFields(t.tx.payload)),
    ...(r ? [h('h3', {}, 'Events'), table(['Kind', 'Attributes'], r.events.map((e) => [e.kind,
      Object.entries(e.attributes).map(([k, v]) => `${k}=${v}`).join(' ')]))] : []));
}

// A page of the `history` method (an account's or a task's), then a
// button for the next; each row has data-row=history, data-height and
// data-tx (the transaction's hash, empty for a block's own events).
function historyBox(params, title) {
  const box = h('div', {}, h('h3', {}, title));
  const rows = h('tbody', {});
  const more = h('button', { type: 'button' }, 'Older');
  box.append(h('table', {}, h('thead', {}, h('tr', {}, ['Block', 'Transaction', 'Type', 'Result', 'Events']
    .map((c) => h('th', {}, c)))), rows), more);
  const load = async (cursor) => {
    more.disabled = true;
    const page = await node.call('history', { ...params, cursor, limit: HISTORY_PAGE });
    for (const e of page.entries) {
      const row = h('tr', { 'data-row': 'history', 'data-height': String(e.height), 'data-tx': e.tx_hash ?? '' },
        h('td', {}, blockLink(e.height)),
        h('td', {}, e.tx_hash ? link(`tx/${e.tx_hash}`, short(e.tx_hash)) : 'the block\'s own events'),
        h('td', {}, e.type || '—'), h('td', {}, e.tx_hash ? (e.ok ? 'ok' : `failed: ${e.reason}`) : ''),
        h('td', {}, e.events.map((ev) => h('div', {}, `${ev.kind} ${eventText(ev)}`))));
      rows.append(row);
    }
    if (!page.entries.length && !rows.children.length) rows.append(h('tr', {}, h('td', {}, 'none')));
    more.hidden = page.next_cursor === '';
    more.disabled = false;
    more.onclick = () => load(page.next_cursor).catch((e) =>
      box.append(h('p', { className: 'not-found' }, `The node answered: ${e.message}`)));
    return page;
  };
  box.loaded = load('');
  return box;
}

async function accountView(key) {
  const [acct, dels, rewards, worker] = await node.batch([['account', { address: key }],
    ['delegations', { address: key }], ['rewards', { address: key }], ['worker', { address: key }]]);
  if (acct.error) return notFound(acct.error.message);
  const a = acct.result, d = dels.result ?? { delegations: [], unbonding: [] }, rw = rewards.result;
  await names();
  return h('section', {},
    h('h2', {}, `Account ${short(key)}`),
    fields([['Address', key], ['Balance', amount(a.balance), 'balance'], ['Nonce', String(a.nonce), 'nonce'],
      ['Worker', worker.result ? link(`worker/${key}`, worker.result.active ? 'active' : 'inactive') : 'no'],
      ['Rewards vested', amount(rw?.vested ?? '0'), 'vested'], ['Rewards locked', amount(rw?.locked ?? '0'), 'locked']]),
    h('h3', {}, 'Delegations'),
    table(['Validator', 'Shares', 'Value'], d.delegations.map((x) => [named(x.validator), String(x.shares),
      amount(x.value)])),
    h('h3', {}, 'Unbonding'),
    table(['Validator', 'Amount', 'Since', 'Until'], d.unbonding.map((x) => [named(x.validator), amount(x.amount),
      blockLink(x.creation_height), String(x.completion_height)])),
    h('h3', {}, 'Locked rewards'),
    table(['Amount', 'Vests at'], (rw?.entries ?? []).map((e) => [amount(e.amount), String(e.vest_height)])),
    await shownHistory({ address: key }, 'History: transactions and events that name it, newest first'));
}

// The history box once its first page is in (a failure shows in its place).
async function shownHistory(params, title) {
  const box = historyBox(params, title);
  try {
    await box.loaded;
  } catch (e) {
    box.append(h('p', { className: 'not-found' }, `The node answered: ${e.message}`));
  }
  return box;
}

async function validatorsView() {
  const { height, validators } = await node.call('validators');
  const total = validators.reduce((s, v) => s + v.power, 0);
  return h('section', {},
    h('h2', {}, `Validators at height ${height}`),
    table(['Name', 'Operator', 'Power', 'Share', 'Commission', 'Tokens', 'Missed in window', 'Status',
      'Jailed until', 'Slashes'],
      validators.map((v) => [h('span', { 'data-validator': v.name }, v.name), accountLink(v.operator),
        String(v.power), percent(v.power, total), `${(v.commission_bps / 100).toFixed(2)} %`, amount(v.tokens),
        h('span', { 'data-missed': String(v.missed_in_window), title: `jailed above ${v.missed_allowed}` },
          `${v.missed_in_window} of ${v.window_commits}`),
        v.banned ? 'banned' : v.status, v.jailed ? String(v.jailed_until) : '',
        h('span', { 'data-slashes': String(v.slashes) }, String(v.slashes))])),
    h('p', { className: 'note' }, 'Missed in window: commits it did not sign among the last ones counted ' +
      '(the downtime rule, docs/contracts.md); more than the allowed number in a full window jails it. ' +
      'Slashes: its punishments (downtime jailing, double signing) in the blocks this node committed.'));
}

async function tasksView() {
  const { tasks } = await node.call('tasks', { limit: 50 });
  return h('section', {},
    h('h2', {}, 'Tasks'),
    table(['Task', 'Status', 'Submitter', 'Reward', 'Fuel', 'Replicas', 'Result'], tasks.map((t) => [
      link(`task/${t.id}`, String(t.id)), t.status, accountLink(t.submitter), amount(t.reward), amount(t.fuel),
      String(t.replicas), t.result ? outcomeText(t.result.outcome) : ''])));
}

async function taskView(id) {
  const t = await node.find('task', { id: Number(id) });
  if (!t) return notFound(`no task ${id}`);
  const history = await taskHistory(t.id);
  const rounds = taskRounds(history);
  const r = t.result;
  const text = r ? outputText(r.output) : null;
  return h('section', {},
    h('h2', {}, `Task ${t.id}`),
    fields([['Status', t.failure ? `${t.status}: ${t.failure}` : t.status, 'status'],
      ['Submitter', accountLink(t.submitter)], ['Module', `sha256 ${t.module_hash}`],
      ['Reward', `${amount(t.reward)} × ${t.replicas} workers`], ['Fuel limit', amount(t.fuel)],
      ['Windows', `commit ${t.commit_blocks} blocks, reveal ${t.reveal_blocks} blocks`],
      ['Submitted at', blockLink(t.submitted_height)],
      ['Audits', [String(t.audits), ...rounds.audits.map((a) => [', requested at ', blockLink(a.height), ' by ',
        accountLink(a.auditor)])]],
      ...(r ? [['Outcome', `${outcomeText(r.outcome)}, exit ${r.exit_code}`, 'outcome'],
        ['Fuel used', amount(r.fuel_used), 'fuel'],
        ['Output', text === null ? r.output : h('pre', {}, text), 'output'],
        ['Settled at', blockLink(r.settled_height)], ['Rewards vest at', String(r.vest_height)],
        ['Majority', r.majority.flatMap((k, i) => [i ? ', ' : '', link(`worker/${k}`, short(k))])]] : [])]),
    h('h3', {}, 'Rounds'),
    rounds.rounds.length ? rounds.rounds.map(roundTable) : h('p', {}, 'none assigned yet'),
    ...(t.round ? [h('h3', {}, `Round in progress: ${t.round.kind}`),
      fields([['Assigned at', t.round.assigned_height ? blockLink(t.round.assigned_height) : 'waiting for workers'],
        ['Commit by', String(t.round.commit_deadline)], ['Reveal by', String(t.round.reveal_deadline)]]),
      table(['Worker', 'Committed', 'Revealed', 'Outcome', 'Fuel'], t.round.assignments.map((a) => [
        link(`worker/${a.worker}`, short(a.worker)), a.committed ? 'yes' : 'no', a.revealed ? 'yes' : 'no',
        a.revealed ? outcomeText(a.outcome) : '', a.revealed ? amount(a.fuel_used) : '']))] : []));
}

// Every entry of a task's history (a few pages of the `history` method).
async function taskHistory(id) {
  const entries = [];
  let cursor = '';
  for (let i = 0; i < 4; ++i) {
    const page = await node.call('history', { task: id, cursor, limit: 100 });
    entries.push(...page.entries);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return entries;
}

// One round: each worker with the heights of its commit and reveal
// (data-row=round, data-worker, data-committed, data-revealed).
function roundTable(round) {
  const end = round.end ? [', ', round.end.text, ' at ', blockLink(round.end.height)] : ', in progress';
  return h('div', {}, h('h4', {}, `${round.kind}: assigned at `, blockLink(round.assigned), end),
    h('table', {}, h('thead', {}, h('tr', {}, ['Worker', 'Committed at', 'Revealed at', 'Result hash', 'For it']
      .map((c) => h('th', {}, c)))),
    h('tbody', {}, round.workers.map((w) => h('tr', { 'data-row': 'round', 'data-worker': w.worker,
      'data-committed': String(w.committed ?? ''), 'data-revealed': String(w.revealed ?? '') },
    h('td', {}, link(`worker/${w.worker}`, short(w.worker))),
    h('td', {}, w.committed !== null ? blockLink(w.committed) : `no (by ${round.commitDeadline})`),
    h('td', {}, w.revealed !== null ? blockLink(w.revealed) : `no (by ${round.revealDeadline})`),
    h('td', {}, short(w.resultHash)), h('td', {}, w.fate))))));
}

const workerRow = (w) => [link(`worker/${w.key}`, short(w.key)), amount(w.stake), w.active ? 'active' : 'inactive',
  `${(w.reputation / 10000).toFixed(2)} %`, String(w.agreed), String(w.outvoted), String(w.missed), String(w.slashes)];
const workerHead = ['Worker', 'Stake', 'Status', 'Reputation', 'Agreed', 'Outvoted', 'Missed', 'Slashes'];

async function workersView() {
  const { workers } = await node.call('workers');
  return h('section', {}, h('h2', {}, 'Workers'), table(workerHead, workers.map(workerRow)));
}

async function workerView(key) {
  const w = await node.find('worker', { address: key });
  if (!w) return notFound(`no worker ${key}`);
  const { points } = await node.call('worker_history', { address: key, limit: 100 });
  const series = points.reverse();
  return h('section', {},
    h('h2', {}, `Worker ${short(key)}`),
    fields([['Key', accountLink(key)], ['Stake', amount(w.stake), 'stake'],
      ['Status', w.active ? 'active' : `unbonding ${amount(w.unbonding)} until ${w.unbonding_until}`],
      ['Reputation', `${(w.reputation / 10000).toFixed(2)} %`, 'reputation'],
      ['Tasks served', String(w.agreed + w.outvoted + w.missed), 'served'],
      ['Outvoted', String(w.outvoted)], ['Missed', String(w.missed)], ['Slashes', String(w.slashes), 'slashes']]),
    h('h3', {}, 'Reputation over time'),
    h('div', { 'data-points': String(series.length) }, series.length ? [svgChart(series.map((p) => p.reputation / 10000),
      '%', 'points'), h('small', {}, ` from block ${series[0].height} to ${series[series.length - 1].height}, a point at each ` +
      'change of its record')] : 'no history'),
    await shownHistory({ address: key }, 'History'));
}

// The search box: the first thing that exists, in the order parseQuery gives.
async function searchView(q) {
  const p = parseQuery(q);
  if (p.kind === 'height') return blockView(String(p.height));
  if (p.kind === 'task') return taskView(String(p.id));
  if (p.kind === 'hash') {
    const [tx, block, worker, acct] = await node.batch([['tx', { hash: p.hash }], ['block', { hash: p.hash }],
      ['worker', { address: p.hash }], ['account', { address: p.hash }]]);
    if (tx.result) return txView(p.hash);
    if (block.result) return blockView(p.hash);
    if (worker.result) return workerView(p.hash);
    if (acct.result && (acct.result.balance !== '0' || acct.result.nonce > 0)) return accountView(p.hash);
  }
  if (p.kind === 'name') {
    const { validators } = await node.call('validators');
    const v = validators.find((x) => x.name.toLowerCase() === p.name.toLowerCase());
    if (v) return accountView(v.operator);
  }
  return notFound(`Nothing found for “${q}”: search a height, a task (task 5), a transaction, block, ` +
    'account or worker hash, or a validator name');
}

function notFound(message) {
  return h('section', {}, h('p', { className: 'not-found', 'data-not-found': 'yes' }, message));
}

// --- routing -------------------------------------------------------------------------------------

const routes = {
  '': dashboard, block: blockView, tx: txView, account: accountView, validators: validatorsView,
  tasks: tasksView, task: taskView, workers: workersView, worker: workerView,
  search: (q) => searchView(decodeURIComponent(q)),
};

let shown = 0;
async function route() {
  const started = performance.now();
  const [, name = '', arg = ''] = /^#\/([a-z]*)\/?(.*)$/.exec(location.hash) ?? [];
  const view = routes[name] ?? dashboard;
  const serial = ++shown;
  document.body.dataset.view = 'loading';
  let el;
  try {
    el = await view(arg);
  } catch (e) {
    el = notFound(`The node answered: ${e.message}`);
  }
  if (serial !== shown) return;  // a later route won
  $('view').replaceChildren(el);
  // How long the view took to show its data (the tests print it): for the
  // first view since the page was asked for (scripts loaded included), for
  // the others since the route changed.
  document.body.dataset.renderMs = (serial === 1 ? performance.now() : performance.now() - started).toFixed(1);
  document.body.dataset.scriptMs = scriptStarted.toFixed(1);
  document.body.dataset.view = name || 'dashboard';
}

$('search').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('q').value.trim();
  if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
});
window.addEventListener('hashchange', route);
new Subscription({ topic: 'blocks', onEvent: onBlock,
  onState: (s) => { $('live').textContent = s === 'connected' ? 'live' : 'reconnecting'; } });
route();
