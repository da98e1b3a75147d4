// What the explorer shows, as pure functions (tests/web/pages_test.mjs
// checks them under Node.js): the search box's reading of a query, amounts,
// hashes, task output as text, and the series and SVG paths of its charts.
import { fromHex } from '../common.mjs';

// What a search for `q` looks for, in order: a height, a task ("task 5",
// "t5", "#5"), a 64-digit hex (a transaction, a block, a worker or an
// account), else a validator's name.
export function parseQuery(q) {
  const s = String(q ?? '').trim();
  if (!s) return { kind: 'empty' };
  if (/^\d{1,19}$/.test(s)) return { kind: 'height', height: Number(s) };
  const task = /^(?:task\s*|t|#)(\d{1,19})$/i.exec(s);
  if (task) return { kind: 'task', id: Number(task[1]) };
  if (/^[0-9a-fA-F]{64}$/.test(s)) return { kind: 'hash', hash: s.toLowerCase() };
  return { kind: 'name', name: s };
}

export function short(hex, n = 8) {
  const s = String(hex ?? '');
  return s.length > 2 * n + 1 ? `${s.slice(0, n)}…${s.slice(-4)}` : s;
}

// Base units as a decimal string, grouped by thousands.
export function amount(units) {
  return String(units ?? '0').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function percent(part, whole, digits = 1) {
  const w = Number(whole);
  return w > 0 ? `${((Number(part) * 100) / w).toFixed(digits)} %` : '—';
}

// Task output: the text when it is UTF-8 of printable characters (and
// newlines, tabs), else null (the caller shows hex).
export function outputText(hex) {
  if (!hex) return '';
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(fromHex(hex));
  } catch {
    return null;
  }
  return /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text) ? text : null;
}

// From blocks in ascending height ({height, timestamp_ms, txs}): per block
// after the first, the interval since the previous (ms) and transactions
// per second over it.
export function blockSeries(blocks) {
  const out = [];
  for (let i = 1; i < blocks.length; ++i) {
    const dt = blocks[i].timestamp_ms - blocks[i - 1].timestamp_ms;
    out.push({ height: blocks[i].height, interval: dt, tps: dt > 0 ? (blocks[i].txs * 1000) / dt : 0 });
  }
  return out;
}

// An SVG polyline's points for values in a width x height box (y grows down).
export function polyline(values, width, height) {
  if (values.length === 0) return '';
  const max = Math.max(...values, 1e-9);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values.map((v, i) => `${(i * step).toFixed(1)},${(height - (Math.max(v, 0) / max) * height).toFixed(1)}`)
    .join(' ');
}

// A task's rounds, read from its history (the `history` method's entries
// for the task, newest first, as the node gives them): oldest round first,
// each with its kind, the height it was assigned at, its deadlines, per
// worker the heights of its commit and reveal, its result hash and how it
// ended for it (majority, outvoted, missed, slashed), and how the round
// ended; besides, the height of the submission and the audits requested.
// Within a height the transactions come before the block's own events
// (assignment runs before them, but a worker never commits in the block
// that assigns it).
export function taskRounds(entries) {
  const out = { submitted: null, rounds: [], audits: [] };
  const ordered = [...(entries ?? [])].sort((a, b) => a.height - b.height ||
    (a.index ?? Number.MAX_SAFE_INTEGER) - (b.index ?? Number.MAX_SAFE_INTEGER));
  let round = null;
  // The worker's line in the latest round that has it (a slash at an audit
  // falls on the round it was outvoted in).
  const line = (key) => {
    for (let i = out.rounds.length - 1; i >= 0; --i) {
      const w = out.rounds[i].workers.find((x) => x.worker === key);
      if (w) return w;
    }
    return { worker: key };  // not assigned in a round the history shows: counted nowhere
  };
  for (const e of ordered) {
    for (const ev of e.events ?? []) {
      const a = ev.attributes ?? {};
      switch (ev.kind) {
        case 'task_submitted': out.submitted = e.height; break;
        case 'task_assigned':
          if (!round || round.assigned !== e.height || round.kind !== a.round) {
            round = { kind: a.round, assigned: e.height, commitDeadline: Number(a.commit_deadline),
              revealDeadline: Number(a.reveal_deadline), workers: [], end: null };
            out.rounds.push(round);
          }
          round.workers.push({ worker: a.worker, committed: null, revealed: null, resultHash: '', fate: '' });
          break;
        case 'task_committed': line(a.worker).committed = e.height; break;
        case 'task_revealed': Object.assign(line(a.worker), { revealed: e.height, resultHash: a.result_hash }); break;
        case 'task_worker_missed': line(a.worker).fate = 'missed'; break;
        case 'worker_slashed': line(a.worker).fate = `slashed ${amount(a.amount)} (${a.reason})`; break;
        case 'task_settled':
          if (round) {
            round.end = { height: e.height, text: `settled, ${a.agreeing} agreeing` };
            for (const w of round.workers)
              if (!w.fate && w.revealed !== null) w.fate = w.resultHash === a.result_hash ? 'majority' : 'outvoted';
          }
          break;
        case 'task_failed': if (round) round.end = { height: e.height, text: `failed: ${a.reason}` }; break;
        case 'task_retry': if (round) round.end = { height: e.height, text: `retried: ${a.reason}` }; break;
        case 'task_audited': if (round) round.end = { height: e.height, text: `audit: ${a.outcome}` }; break;
        case 'task_audit_ended': if (round) round.end = { height: e.height, text: `audit ended: ${a.outcome}` }; break;
        case 'task_audit_requested': out.audits.push({ height: e.height, auditor: a.auditor }); break;
        default: break;
      }
    }
  }
  return out;
}

// One line for an event: its attributes as name=value, keys shortened.
export function eventText(ev) {
  return Object.entries(ev.attributes ?? {}).map(([k, v]) =>
    `${k}=${/^[0-9a-f]{64}$/.test(v) ? short(v) : v}`).join(' ');
}
