/**
 * Byte encodings shared by the persistent drivers, and the checks every driver applies to what
 * it is asked to store. Each record is checked when it is encoded and again when it is decoded
 * (STYLE §6): bytes read back from disk that do not decode are corruption, so they assert.
 */
import type { BackendOp, Entry, HardState, SnapshotMeta } from '../../core/ports/storage-driver.js';
import { BUCKETS, EntryType } from '../../core/ports/storage-driver.js';
import { assert, assertSafeInt } from '../../core/assert.js';

const bucketSet: ReadonlySet<string> = new Set(BUCKETS);

/**
 * The largest backend key every driver accepts. LMDB's limit (lmdb-js builds it with a 1978-byte
 * maximum) is the binding one; the others enforce it too so that a driver swap cannot turn a
 * working member into one that fails on the same data.
 */
export const BACKEND_KEY_BYTES_MAX = 1978;

/** A Buffer view of `u8` without copying (lmdb-js and better-sqlite3 are happiest with Buffers). */
export function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/**
 * A plain Uint8Array view of `b` (no copy). Drivers return plain Uint8Arrays, never Buffers, so
 * that every driver's results compare equal under deepStrictEqual and nobody starts relying on
 * Buffer methods that only some drivers' results have.
 */
export function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** `n` as 8 bytes big-endian, so that byte order equals numeric order (STYLE §5). */
export function u64be(n: number): Buffer {
  assertSafeInt(n, 'u64 key');
  assert(n >= 0, `u64 key is negative: ${n}`);
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** The inverse of `u64be`; asserts the result is a safe integer. */
export function readU64be(b: Uint8Array, offset = 0): number {
  assert(b.byteLength >= offset + 8, 'u64: short buffer');
  const n = Number(asBuffer(b).readBigUInt64BE(offset));
  assertSafeInt(n, 'decoded u64');
  return n;
}

/**
 * Checks a whole backend batch before any of it is applied, so that a bad op is rejected with
 * nothing written: unknown bucket, non-byte key or value, empty or oversized key. Throws a plain
 * `Error` (the caller's batch is wrong; the store is fine).
 */
export function validateBackendOps(ops: readonly BackendOp[]): void {
  for (const op of ops) {
    if (!bucketSet.has(op.bucket)) throw new Error(`unknown bucket ${String(op.bucket)}`);
    if (!(op.key instanceof Uint8Array)) throw new Error('backend key must be a Uint8Array');
    if (op.key.byteLength === 0) throw new Error('backend key must not be empty');
    if (op.key.byteLength > BACKEND_KEY_BYTES_MAX) {
      throw new Error(`backend key of ${op.key.byteLength} bytes exceeds ${BACKEND_KEY_BYTES_MAX}`);
    }
    if (op.type === 'put') {
      if (!(op.value instanceof Uint8Array)) throw new Error('backend value must be a Uint8Array');
    } else if (op.type !== 'del') {
      throw new Error(`unknown backend op ${String((op as { type: unknown }).type)}`);
    }
  }
}

/** Checks a bucket name given to a read (reads of an unknown bucket are a caller bug). */
export function validateBucket(bucket: string): void {
  if (!bucketSet.has(bucket)) throw new Error(`unknown bucket ${bucket}`);
}

/** Asserts the shape of a log entry on its way to or from a store. */
export function checkEntry(e: Entry): void {
  assertSafeInt(e.index, 'entry index');
  assertSafeInt(e.term, 'entry term');
  assert(e.index > 0, `entry index must be > 0: ${e.index}`);
  assert(e.term >= 0, `entry term must be >= 0: ${e.term}`);
  assert(e.type === EntryType.Normal || e.type === EntryType.ConfChange, `bad entry type ${e.type}`);
  assert(e.data instanceof Uint8Array, 'entry data must be a Uint8Array');
}

/** Asserts a hard state's fields are non-negative safe integers. */
export function checkHardState(hs: HardState): void {
  for (const f of ['term', 'vote', 'commit'] as const) {
    assertSafeInt(hs[f], `hardState.${f}`);
    assert(hs[f] >= 0, `hardState.${f} is negative`);
  }
}

/** Asserts a snapshot meta's fields (index, term, member id lists). */
export function checkSnapshotMeta(m: SnapshotMeta): void {
  assertSafeInt(m.index, 'snapshot index');
  assertSafeInt(m.term, 'snapshot term');
  assert(m.index >= 0 && m.term >= 0, 'snapshot index and term must be >= 0');
  assert(Array.isArray(m.voters) && Array.isArray(m.learners), 'snapshot voters/learners must be arrays');
  for (const id of [...m.voters, ...m.learners]) assertSafeInt(id, 'snapshot member id');
}

/** A frozen copy, so that the store's state cannot be changed through what a read returned. */
export function freezeHardState(hs: HardState): HardState {
  return Object.freeze({ term: hs.term, vote: hs.vote, commit: hs.commit });
}

/** A frozen deep copy of `m` (see `freezeHardState`). */
export function freezeSnapshotMeta(m: SnapshotMeta): SnapshotMeta {
  return Object.freeze({
    index: m.index,
    term: m.term,
    voters: Object.freeze([...m.voters]),
    learners: Object.freeze([...m.learners]),
  });
}

/** The hard state of a new store. */
export const EMPTY_HARD_STATE: HardState = freezeHardState({ term: 0, vote: 0, commit: 0 });

/** The snapshot meta of a new store. */
export const EMPTY_SNAPSHOT_META: SnapshotMeta = freezeSnapshotMeta({ index: 0, term: 0, voters: [], learners: [] });

/** Hard state as the JSON text the persistent drivers store (numbers stay exact below 2^53). */
export function encodeHardState(hs: HardState): string {
  checkHardState(hs);
  return JSON.stringify({ term: hs.term, vote: hs.vote, commit: hs.commit });
}

/** Parses what `encodeHardState` wrote; asserts on anything else. */
export function decodeHardState(text: string): HardState {
  const v = JSON.parse(text) as HardState;
  assert(typeof v === 'object' && v !== null, 'stored hard state is not an object');
  checkHardState(v);
  return freezeHardState(v);
}

/** Snapshot meta as stored JSON text. */
export function encodeSnapshotMeta(m: SnapshotMeta): string {
  checkSnapshotMeta(m);
  return JSON.stringify({ index: m.index, term: m.term, voters: m.voters, learners: m.learners });
}

/** Parses what `encodeSnapshotMeta` wrote; asserts on anything else. */
export function decodeSnapshotMeta(text: string): SnapshotMeta {
  const v = JSON.parse(text) as SnapshotMeta;
  assert(typeof v === 'object' && v !== null, 'stored snapshot meta is not an object');
  checkSnapshotMeta(v);
  return freezeSnapshotMeta(v);
}
