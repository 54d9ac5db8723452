/**
 * The backend's `lease` bucket, as etcd lays it out: one record per lease, keyed by the lease
 * ID as 8 big-endian bytes, the value a `leasepb.Lease` in protobuf wire format:
 *
 * ```
 * field  name          wire type   tag byte
 *   1    ID            varint (0)  0x08
 *   2    TTL           varint (0)  0x10
 *   3    RemainingTTL  varint (0)  0x18
 * ```
 *
 * Zero fields are omitted (proto3). Every number is a non-negative safe integer; anything else
 * read back is corruption (assertion), since only this module writes the bucket. Attached keys
 * are not stored here: as in etcd, they are rebuilt from the key space (each KeyValue names
 * its lease).
 */
import { assert } from '../assert.js';
import type { BackendOp } from '../ports/storage-driver.js';
import { readUint64BE, writeUint64BE } from '../mvcc/revision.js';

/** What the `lease` bucket remembers of one lease. */
export interface LeaseRecord {
  readonly id: number;
  /** Granted TTL in seconds, >= 1. */
  readonly ttlSec: number;
  /** Remaining TTL from the last checkpoint in seconds; 0 = none (use `ttlSec`). */
  readonly remainingTtlSec: number;
}

const TAG_ID = 0x08;
const TAG_TTL = 0x10;
const TAG_REMAINING = 0x18;

/** The bucket key of lease `id`. */
export function leaseKey(id: number): Uint8Array {
  const k = new Uint8Array(8);
  writeUint64BE(k, 0, id);
  return k;
}

function pushVarint(out: number[], n: number): void {
  assert(Number.isSafeInteger(n) && n >= 0, `lease field is not a non-negative safe integer: ${n}`);
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

/** Encodes a record as `leasepb.Lease`. */
export function encodeLeaseRecord(r: LeaseRecord): Uint8Array {
  const out: number[] = [];
  if (r.id !== 0) {
    out.push(TAG_ID);
    pushVarint(out, r.id);
  }
  if (r.ttlSec !== 0) {
    out.push(TAG_TTL);
    pushVarint(out, r.ttlSec);
  }
  if (r.remainingTtlSec !== 0) {
    out.push(TAG_REMAINING);
    pushVarint(out, r.remainingTtlSec);
  }
  return Uint8Array.from(out);
}

/** Decodes a stored record; malformed bytes are corruption (assertion). */
export function decodeLeaseRecord(b: Uint8Array): LeaseRecord {
  let pos = 0;
  const varint = (): number => {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      assert(pos < b.length, 'truncated lease record');
      const byte = b[pos++]!;
      n += (byte & 0x7f) * mul;
      if (byte < 0x80) {
        assert(Number.isSafeInteger(n), 'lease record number beyond the safe range');
        return n;
      }
      mul *= 128;
    }
    assert(false, 'lease record varint too long');
  };
  let id = 0;
  let ttlSec = 0;
  let remainingTtlSec = 0;
  while (pos < b.length) {
    const tag = b[pos++];
    if (tag === TAG_ID) id = varint();
    else if (tag === TAG_TTL) ttlSec = varint();
    else if (tag === TAG_REMAINING) remainingTtlSec = varint();
    else assert(false, `unknown lease record tag ${tag}`);
  }
  return { id, ttlSec, remainingTtlSec };
}

/** The backend write that stores `r`. */
export function putLeaseOp(r: LeaseRecord): BackendOp {
  return { type: 'put', bucket: 'lease', key: leaseKey(r.id), value: encodeLeaseRecord(r) };
}

/** The backend write that forgets lease `id`. */
export function deleteLeaseOp(id: number): BackendOp {
  return { type: 'del', bucket: 'lease', key: leaseKey(id) };
}

/** Reads every record of the bucket, by ascending ID, checking key against value. */
export function* readLeaseRecords(range: Iterable<[Uint8Array, Uint8Array]>): Generator<LeaseRecord> {
  for (const [k, v] of range) {
    assert(k.length === 8, `bad lease key length ${k.length}`);
    const r = decodeLeaseRecord(v);
    assert(r.id === readUint64BE(k, 0) && r.id > 0 && r.ttlSec > 0, `lease record disagrees with its key ${readUint64BE(k, 0)}`);
    yield r;
  }
}
