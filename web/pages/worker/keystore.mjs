// Where the worker page keeps what must outlive a reload: its key, encrypted
// under a passphrase, and the result of every task it ran and has not seen
// settle (the browser's HOME/tasks/ID.json: without it a commitment could
// never be opened). Both live in the browser's IndexedDB for this origin
// (the node's address), nowhere else; the key leaves it only as a signature.
//
// The key: PBKDF2-HMAC-SHA256 (600,000 iterations, a random 16-byte salt)
// derives an AES-256-GCM key (WebCrypto, not extractable) that encrypts the
// 32-byte secret with a random 12-byte IV, the address as additional data.
// A wrong passphrase fails GCM's tag check: "wrong passphrase".
import { fromHex, publicKeyOf, toHex } from './chain.mjs';

const DB = 'verity-worker';
const KEYS = 'keys';
const TASKS = 'tasks';
export const PBKDF2_ITERATIONS = 600000;

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore(KEYS, { keyPath: 'name' });
      db.createObjectStore(TASKS, { keyPath: 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function withStore(name, mode, f) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(name, mode);
      const store = tx.objectStore(name);
      let result;
      const req = f(store);
      if (req) req.onsuccess = () => { result = req.result; };
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

async function deriveKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false,
    ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, base,
    { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

// Stores `secretKey` encrypted under `passphrase` as the page's worker key
// (replacing none: call forgetKey first). Returns its address (hex).
export async function saveKey(secretKey, passphrase) {
  if (!passphrase || passphrase.length < 8) throw new Error('the passphrase must have at least 8 characters');
  const address = toHex(publicKeyOf(secretKey));
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aes = await deriveKey(passphrase, salt, PBKDF2_ITERATIONS);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: fromHex(address) }, aes, secretKey));
  const record = { name: 'worker', address, kdf: 'PBKDF2-HMAC-SHA256', iterations: PBKDF2_ITERATIONS,
    salt: toHex(salt), iv: toHex(iv), ciphertext: toHex(ciphertext) };
  await withStore(KEYS, 'readwrite', (s) => s.add(record));
  return address;
}

// The stored key's record (address, no secret), or null.
export async function storedKey() {
  return (await withStore(KEYS, 'readonly', (s) => s.get('worker'))) ?? null;
}

// The secret key, decrypted; throws "wrong passphrase".
export async function unlockKey(passphrase) {
  const record = await storedKey();
  if (!record) throw new Error('no key stored in this browser');
  const aes = await deriveKey(passphrase, fromHex(record.salt), record.iterations);
  let secret;
  try {
    secret = new Uint8Array(await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromHex(record.iv), additionalData: fromHex(record.address) }, aes,
      fromHex(record.ciphertext)));
  } catch {
    throw new Error('wrong passphrase');
  }
  if (toHex(publicKeyOf(secret)) !== record.address) throw new Error('the stored key does not match its address');
  return secret;
}

export async function forgetKey() {
  await withStore(KEYS, 'readwrite', (s) => s.delete('worker'));
}

// Task results, by chain, worker and task (the planner's TaskState, with
// output and salt as hex).
const taskId = (chainId, address, task) => `${chainId}/${address}/${task}`;

export async function saveTaskState(chainId, address, state) {
  const record = { id: taskId(chainId, address, state.task), chainId, address, task: state.task,
    assigned_height: state.assigned_height, outcome: state.outcome, exit_code: state.exit_code,
    fuel_used: state.fuel_used, output: toHex(state.output), salt: toHex(state.salt) };
  await withStore(TASKS, 'readwrite', (s) => s.put(record));
}

function stateOf(record) {
  return { task: record.task, assigned_height: record.assigned_height, outcome: record.outcome,
    exit_code: record.exit_code, fuel_used: record.fuel_used, output: fromHex(record.output),
    salt: fromHex(record.salt) };
}

export async function loadTaskState(chainId, address, task) {
  const record = await withStore(TASKS, 'readonly', (s) => s.get(taskId(chainId, address, task)));
  return record ? stateOf(record) : null;
}

export async function deleteTaskState(chainId, address, task) {
  await withStore(TASKS, 'readwrite', (s) => s.delete(taskId(chainId, address, task)));
}

// The task ids with a stored result for this chain and worker.
export async function storedTasks(chainId, address) {
  const all = await withStore(TASKS, 'readonly', (s) => s.getAll());
  return (all ?? []).filter((r) => r.chainId === chainId && r.address === address).map((r) => r.task);
}
