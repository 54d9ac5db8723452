/**
 * Revisions and their backend key encoding.
 *
 * A revision is {main, sub}: `main` is the store revision of a write request (one per request
 * that changed something), `sub` orders the changes inside it (a txn's puts and deletes).
 * In the backend's `key` bucket each change is stored under its revision, encoded as etcd does:
 *
 * ```
 *  0               8   9               17  18
 *  +---------------+---+---------------+---+
 *  | main (BE u64) | _ | sub (BE u64)  | t |   't' only on a tombstone (deletion)
 *  +---------------+---+---------------+---+
 * ```
 *
 * Big-endian integers make byte order equal to numeric order, so a scan of the bucket in key
 * order is a scan in revision order (the tombstone marker comes after the 17 bytes that already
 * identify the revision, so it never changes the order).
 */
import { assert } from '../assert.js';

/** A point in the key space's history. Both parts are non-negative safe integers. */
export interface Revision {
  readonly main: number;
  readonly sub: number;
}

/** Length of an encoded revision. */
export const REVISION_BYTES = 17;
/** Length of an encoded revision with the tombstone marker. */
export const TOMBSTONE_REVISION_BYTES = 18;

const SEPARATOR = 0x5f; // '_'
const TOMBSTONE_MARK = 0x74; // 't'
const TWO_POW_32 = 0x1_0000_0000;

/** Orders revisions by main, then sub: negative, zero or positive. */
export function compareRevision(a: Revision, b: Revision): number {
  return a.main !== b.main ? a.main - b.main : a.sub - b.sub;
}

/** Writes `n` (a non-negative safe integer) as 8 big-endian bytes at `off`. */
export function writeUint64BE(out: Uint8Array, off: number, n: number): void {
  assert(Number.isSafeInteger(n) && n >= 0, `not a non-negative safe integer: ${n}`);
  const hi = Math.floor(n / TWO_POW_32);
  const lo = n >>> 0;
  out[off] = hi >>> 24;
  out[off + 1] = (hi >>> 16) & 0xff;
  out[off + 2] = (hi >>> 8) & 0xff;
  out[off + 3] = hi & 0xff;
  out[off + 4] = lo >>> 24;
  out[off + 5] = (lo >>> 16) & 0xff;
  out[off + 6] = (lo >>> 8) & 0xff;
  out[off + 7] = lo & 0xff;
}

/** Reads 8 big-endian bytes at `off`; asserts the value is a safe integer (else: corruption). */
export function readUint64BE(b: Uint8Array, off: number): number {
  const hi = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  const lo = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>> 0;
  assert(hi < 0x20_0000, 'uint64 beyond the safe integer range');
  return hi * TWO_POW_32 + lo;
}

/** The backend key of revision (main, sub), with the tombstone marker when `tombstone`. */
export function encodeRevision(main: number, sub: number, tombstone = false): Uint8Array {
  const out = new Uint8Array(tombstone ? TOMBSTONE_REVISION_BYTES : REVISION_BYTES);
  writeUint64BE(out, 0, main);
  out[8] = SEPARATOR;
  writeUint64BE(out, 9, sub);
  if (tombstone) out[17] = TOMBSTONE_MARK;
  return out;
}

/** A decoded backend key of the `key` bucket. */
export interface DecodedRevision extends Revision {
  readonly tombstone: boolean;
}

/** Decodes a backend key of the `key` bucket; a malformed key is corruption (assertion). */
export function decodeRevision(b: Uint8Array): DecodedRevision {
  const tombstone = b.length === TOMBSTONE_REVISION_BYTES;
  assert(b.length === REVISION_BYTES || tombstone, `bad revision key length ${b.length}`);
  assert(b[8] === SEPARATOR, 'bad revision key separator');
  assert(!tombstone || b[17] === TOMBSTONE_MARK, 'bad tombstone marker');
  return { main: readUint64BE(b, 0), sub: readUint64BE(b, 9), tombstone };
}

/** The main revision of an encoded revision key, without decoding the rest. */
export function revisionMainOf(b: Uint8Array): number {
  return readUint64BE(b, 0);
}
