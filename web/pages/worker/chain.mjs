// The chain's encodings, hashes and signatures that a worker needs, in
// JavaScript: the twin of core/encoding.h, core/hash.h and
// core/transaction.h (the payloads a worker sends: register_worker,
// unregister_worker, commit_result, reveal_result, claim, withdraw). They must match the C++ byte for byte: the node
// checks every signature, and a commitment that the reveal does not open
// fails (commitment-mismatch). tests/web/chain_test.mjs checks them against
// vectors the C++ code produced (tests/web/vectors.json).
import { sha256 } from '@noble/hashes/sha2.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { concatBytes, taggedHash as hostTaggedHash } from '../../wasi_host.mjs';
import { fromHex, toHex } from '../common.mjs';

const utf8 = new TextEncoder();

export { fromHex, toHex };

export { concatBytes };

// core/encoding.h's Writer: u8, varint (unsigned LEB128, minimal, at most
// 64 bits: numbers are BigInt or safe integers), fixed bytes, bytes and
// strings with a varint length.
export class Writer {
  constructor() { this.parts = []; }
  u8(v) { this.parts.push(Uint8Array.of(v & 0xff)); return this; }
  varint(v) {
    let n = BigInt(v);
    if (n < 0n || n >= 1n << 64n) throw new RangeError(`varint out of range: ${v}`);
    const out = [];
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n !== 0n) b |= 0x80;
      out.push(b);
    } while (n !== 0n);
    this.parts.push(Uint8Array.from(out));
    return this;
  }
  fixed(bytes, length) {
    if (bytes.length !== length) throw new RangeError(`expected ${length} bytes, got ${bytes.length}`);
    this.parts.push(bytes);
    return this;
  }
  bytes(b) { return this.varint(b.length).fixed(b, b.length); }
  string(s) { return this.bytes(utf8.encode(s)); }
  take() { return concatBytes(...this.parts); }
}

// core/hash.h: tagged_hash(d, m) = SHA256(SHA256(tag) || SHA256(tag) || m).
export const TAGS = Object.freeze({
  transaction_sign: 'verity/transaction-sign',
  transaction_id: 'verity/transaction-id',
  task_commitment: 'verity/task-commitment',
  task_result: 'verity/task-result',
  task_random: 'verity/task-random',
});

export function taggedHash(tag, data) { return hostTaggedHash(sha256, tag, data); }

// task_result_hash(outcome, exit_code, fuel_used, output)
//   = tagged_hash(task_result, varint(outcome) || varint(exit_code) || varint(fuel_used) || bytes(output))
export function taskResultHash(outcome, exitCode, fuelUsed, output) {
  const w = new Writer().varint(outcome).varint(exitCode).varint(fuelUsed).bytes(output);
  return taggedHash(TAGS.task_result, w.take());
}

// task_commitment = tagged_hash(task_commitment, string(chain_id) || varint(task_id) || result_hash || salt || worker)
export function taskCommitment(chainId, taskId, resultHash, salt, worker) {
  const w = new Writer().string(chainId).varint(taskId).fixed(resultHash, 32).fixed(salt, 32).fixed(worker, 32);
  return taggedHash(TAGS.task_commitment, w.take());
}

// The seed of a task's random_get stream: tagged_hash(task_random, string(chain_id) || varint(task_id)).
export function taskSandboxSeed(chainId, taskId) {
  return taggedHash(TAGS.task_random, new Writer().string(chainId).varint(taskId).take());
}

// The payloads a worker sends, with their wire tags (core/transaction.h)
// and their fields in order. JSON names are the RPC's.
export const PAYLOADS = Object.freeze({
  withdraw: { tag: 5, fields: [] },
  claim: { tag: 6, fields: [] },
  register_worker: { tag: 9, fields: [['stake', 'amount']] },
  unregister_worker: { tag: 10, fields: [] },
  commit_result: { tag: 12, fields: [['task', 'u64'], ['commitment', 'hash']] },
  reveal_result: {
    tag: 13,
    fields: [['task', 'u64'], ['outcome', 'u64'], ['exit_code', 'u64'], ['fuel_used', 'u64'], ['output', 'bytes'],
      ['salt', 'hash']],
  },
});

const kMaxTaskIoBytes = 64 * 1024;

function encodePayload(w, payload) {
  const kind = PAYLOADS[payload.type];
  if (!kind) throw new Error(`unknown payload type ${payload.type}`);
  w.u8(kind.tag);
  for (const [name, type] of kind.fields) {
    const v = payload[name];
    if (v === undefined) throw new Error(`${payload.type}: ${name} is missing`);
    switch (type) {
      case 'u64': case 'amount': w.varint(v); break;  // an Amount encodes as its units, a varint
      case 'hash': w.fixed(v, 32); break;
      case 'bytes':
        if (v.length > kMaxTaskIoBytes) throw new RangeError(`${name}: more than ${kMaxTaskIoBytes} bytes`);
        w.bytes(v);
        break;
      default: throw new Error(`field type ${type}`);
    }
  }
}

// The unsigned part: string(chain_id) || sender || varint(nonce) || varint(fee) || payload.
export function encodeUnsigned(tx) {
  const w = new Writer().string(tx.chain_id).fixed(tx.sender, 32).varint(tx.nonce).varint(tx.fee);
  encodePayload(w, tx.payload);
  return w.take();
}

export function signingHash(tx) { return taggedHash(TAGS.transaction_sign, encodeUnsigned(tx)); }

export function encodeTransaction(tx) { return concatBytes(encodeUnsigned(tx), tx.signature); }

export function transactionId(tx) { return taggedHash(TAGS.transaction_id, encodeTransaction(tx)); }

// Fills in sender and signature (BIP-340, fresh auxiliary randomness).
export function signTransaction(tx, secretKey) {
  tx.sender = schnorr.getPublicKey(secretKey);
  tx.signature = schnorr.sign(signingHash(tx), secretKey);
  return tx;
}

export function verifyTransaction(tx) { return schnorr.verify(tx.signature, signingHash(tx), tx.sender); }

export function publicKeyOf(secretKey) { return schnorr.getPublicKey(secretKey); }

export function newSecretKey() { return schnorr.utils.randomSecretKey(); }

// A secret key given as 64 hex digits, checked (a valid scalar).
export function secretKeyFromHex(hex) {
  const sk = fromHex(hex.trim());
  if (sk.length !== 32) throw new Error('a secret key is 32 bytes (64 hex digits)');
  schnorr.getPublicKey(sk);  // throws on 0 or >= n
  return sk;
}

// The instrumented module a node served for a task, checked against the
// task's metered_hash (recorded in consensus when the task was submitted):
// bytes that hash to anything else are not what the chain metered, whatever
// the node says, and are never run. Returns the bytes; throws module-mismatch.
export function checkMeteredModule(wasm, meteredHashHex) {
  const got = toHex(sha256(wasm));
  if (got !== String(meteredHashHex).toLowerCase())
    throw new Error(`not running it: module-mismatch: the metered module hashes to ${got}, the task names ` +
      `${meteredHashHex}`);
  return wasm;
}

export { sha256 };
