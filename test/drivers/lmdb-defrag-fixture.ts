// Not a test: the data of the LMDB defragmentation tests, shared by the test and its crash
// child: a backend filled with KEYS keys of VALUE_BYTES, then all but every tenth deleted, then
// one batch (DURING_COPY) committed while the compacted copy is being made.
import type { Backend, BackendOp } from '../../src/core/ports/storage-driver.js';

export const KEYS = 2000;
export const VALUE_BYTES = 1000;

/** The key of number `i`: fixed width, so that byte order is numeric order. */
export function keyFor(i: number): Uint8Array {
  return Buffer.from(`key/${String(i).padStart(6, '0')}`);
}

/** The value of key `i`: varied bytes (a pattern of i), VALUE_BYTES long. */
export function valueFor(i: number): Uint8Array {
  const v = Buffer.alloc(VALUE_BYTES);
  for (let j = 0; j < VALUE_BYTES; j++) v[j] = (i * 31 + j * 7) & 0xff;
  return v;
}

/** Puts every key in batches of 100, then deletes all but every tenth, in batches of 100. */
export function fillBackend(backend: Backend): void {
  for (let i = 0; i < KEYS; i += 100) {
    const ops: BackendOp[] = [];
    for (let j = i; j < i + 100; j++) ops.push({ type: 'put', bucket: 'key', key: keyFor(j), value: valueFor(j) });
    backend.commit(ops);
  }
  backend.commit([{ type: 'put', bucket: 'meta', key: Buffer.from('consistent_index'), value: Buffer.from([0, 0, 0, 0, 0, 0, 0, 7]) }]);
  for (let i = 0; i < KEYS; i += 100) {
    const ops: BackendOp[] = [];
    for (let j = i; j < i + 100; j++) if (j % 10 !== 0) ops.push({ type: 'del', bucket: 'key', key: keyFor(j) });
    backend.commit(ops);
  }
}

/** The batch committed during the copy: a new key, a changed one, a deleted one. */
export const DURING_COPY: readonly BackendOp[] = [
  { type: 'put', bucket: 'key', key: Buffer.from('key/during'), value: Buffer.from('copy') },
  { type: 'put', bucket: 'key', key: keyFor(10), value: Buffer.from('changed') },
  { type: 'del', bucket: 'key', key: keyFor(20) },
  { type: 'put', bucket: 'lease', key: Buffer.from([1]), value: Buffer.from([2]) },
];

/** Every pair of the 'key' bucket after fillBackend, with DURING_COPY applied when asked. */
export function expectedKeys(withDuringCopy: boolean): [string, string][] {
  const m = new Map<string, string>();
  for (let i = 0; i < KEYS; i += 10) m.set(Buffer.from(keyFor(i)).toString('hex'), Buffer.from(valueFor(i)).toString('hex'));
  if (withDuringCopy) {
    m.set(Buffer.from('key/during').toString('hex'), Buffer.from('copy').toString('hex'));
    m.set(Buffer.from(keyFor(10)).toString('hex'), Buffer.from('changed').toString('hex'));
    m.delete(Buffer.from(keyFor(20)).toString('hex'));
  }
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The 'key' bucket of `backend` as sorted hex pairs. */
export function keysOf(backend: Backend): [string, string][] {
  return [...backend.range('key')].map(([k, v]) => [Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex')]);
}
