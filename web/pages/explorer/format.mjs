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
