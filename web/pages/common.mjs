// What both pages (the explorer, the browser worker) read the chain's JSON
// with: hex as the RPC writes it, and the sandbox's outcome names by their
// numbers (core/task_outcome.h: 0 ok ... 6 forbidden-import). No
// dependencies, so the explorer's bundle stays without the worker's crypto.

export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex))
    throw new Error(`not hex: ${String(hex).slice(0, 20)}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; ++i) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

export const OUTCOMES = Object.freeze(['ok', 'trap', 'out-of-fuel', 'memory-exceeded', 'output-too-large',
  'invalid-module', 'forbidden-import']);

export function outcomeText(n) { return OUTCOMES[n] ?? `outcome ${n}`; }
