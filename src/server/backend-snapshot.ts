/**
 * The projection as bytes: every bucket of the backend, for a Raft snapshot sent to a member
 * that is behind the leader's retained log. The receiver replaces its whole backend with it in
 * one atomic commit, then reloads what it keeps in memory (key index, members, leases).
 *
 * Layout (all integers big-endian):
 *
 *   "ETCS" u8 version=1
 *   repeated: u8 bucket number (index in BUCKETS) · u32 key length · key · u32 value length · value
 *   u8 0xff (end)
 *
 * The meta bucket travels too, so the receiver's consistent index becomes the snapshot's.
 */
import { assert } from '../core/assert.js';
import { BUCKETS, type Backend, type BackendOp, type Bucket } from '../core/ports/storage-driver.js';

const MAGIC = Buffer.from('ETCS');
const VERSION = 1;
const END = 0xff;

/** Serialises every bucket of `backend`. */
export function encodeBackendSnapshot(backend: Backend): Uint8Array {
  const parts: Buffer[] = [MAGIC, Buffer.from([VERSION])];
  BUCKETS.forEach((bucket, n) => {
    for (const [k, v] of backend.range(bucket)) {
      const head = Buffer.allocUnsafe(5);
      head[0] = n;
      head.writeUInt32BE(k.byteLength, 1);
      const vlen = Buffer.allocUnsafe(4);
      vlen.writeUInt32BE(v.byteLength, 0);
      parts.push(head, Buffer.from(k.buffer, k.byteOffset, k.byteLength), vlen, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    }
  });
  parts.push(Buffer.from([END]));
  return Buffer.concat(parts);
}

/** Parses a snapshot into backend puts. Throws on anything malformed (it came from a peer). */
export function decodeBackendSnapshot(data: Uint8Array): BackendOp[] {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 6 || !b.subarray(0, 4).equals(MAGIC) || b[4] !== VERSION) throw new Error('not a backend snapshot');
  const ops: BackendOp[] = [];
  let at = 5;
  for (;;) {
    if (at >= b.length) throw new Error('backend snapshot is truncated');
    const n = b[at]!;
    if (n === END) break;
    const bucket: Bucket | undefined = BUCKETS[n];
    if (bucket === undefined || at + 5 > b.length) throw new Error('backend snapshot is malformed');
    const klen = b.readUInt32BE(at + 1);
    at += 5;
    if (at + klen + 4 > b.length) throw new Error('backend snapshot is truncated');
    const key = b.subarray(at, at + klen);
    at += klen;
    const vlen = b.readUInt32BE(at);
    at += 4;
    if (at + vlen > b.length) throw new Error('backend snapshot is truncated');
    ops.push({ type: 'put', bucket, key, value: b.subarray(at, at + vlen) });
    at += vlen;
  }
  assert(at === b.length - 1, 'backend snapshot has trailing bytes');
  return ops;
}

/** Replaces the whole content of `backend` with `snapshot` in one atomic commit. */
export function restoreBackendSnapshot(backend: Backend, snapshot: Uint8Array): void {
  const puts = decodeBackendSnapshot(snapshot);
  const ops: BackendOp[] = [];
  for (const bucket of BUCKETS) for (const [k] of backend.range(bucket)) ops.push({ type: 'del', bucket, key: k });
  ops.push(...puts);
  backend.commit(ops);
}
