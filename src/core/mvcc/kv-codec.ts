/**
 * mvccpb.KeyValue in protobuf wire format, hand-written: the backend value of every revision,
 * as in etcd, so that the stored bytes are exactly what etcd would store.
 *
 * ```
 * field  name             wire type   tag byte
 *   1    key              bytes (2)   0x0a
 *   2    create_revision  varint (0)  0x10
 *   3    mod_revision     varint (0)  0x18
 *   4    version          varint (0)  0x20
 *   5    value            bytes (2)   0x2a
 *   6    lease            varint (0)  0x30
 * ```
 *
 * Fields are written in field order and zero values are omitted (proto3). A tombstone's value
 * is a KeyValue holding only the key. int64 varints of negative numbers take 10 bytes (two's
 * complement), as protobuf does; only a lease ID could be negative.
 */
import type { KeyValue } from '../api/kv.js';
import { EMPTY } from '../api/kv.js';
import { assert } from '../assert.js';

const TAG_KEY = 0x0a;
const TAG_CREATE = 0x10;
const TAG_MOD = 0x18;
const TAG_VERSION = 0x20;
const TAG_VALUE = 0x2a;
const TAG_LEASE = 0x30;

function varintSize(n: number): number {
  if (n < 0) return 10;
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x20_0000) return 3;
  if (n < 0x1000_0000) return 4;
  let size = 4;
  let rest = Math.floor(n / 0x1000_0000);
  while (rest > 0) {
    size++;
    rest = Math.floor(rest / 128);
  }
  return size;
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  if (n < 0) {
    let v = BigInt.asUintN(64, BigInt(n));
    for (let i = 0; i < 9; i++) {
      out[pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    out[pos++] = Number(v);
    return pos;
  }
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

function intFieldSize(n: number): number {
  return n === 0 ? 0 : 1 + varintSize(n);
}

function bytesFieldSize(b: Uint8Array): number {
  return b.length === 0 ? 0 : 1 + varintSize(b.length) + b.length;
}

/** Encodes `kv`; every number must be a safe integer (asserted). */
export function encodeKeyValue(kv: KeyValue): Uint8Array {
  assert(
    Number.isSafeInteger(kv.createRevision) &&
      Number.isSafeInteger(kv.modRevision) &&
      Number.isSafeInteger(kv.version) &&
      Number.isSafeInteger(kv.lease),
    'KeyValue numbers must be safe integers',
  );
  const size =
    bytesFieldSize(kv.key) +
    intFieldSize(kv.createRevision) +
    intFieldSize(kv.modRevision) +
    intFieldSize(kv.version) +
    bytesFieldSize(kv.value) +
    intFieldSize(kv.lease);
  const out = new Uint8Array(size);
  let pos = 0;
  if (kv.key.length !== 0) {
    out[pos++] = TAG_KEY;
    pos = writeVarint(out, pos, kv.key.length);
    out.set(kv.key, pos);
    pos += kv.key.length;
  }
  if (kv.createRevision !== 0) {
    out[pos++] = TAG_CREATE;
    pos = writeVarint(out, pos, kv.createRevision);
  }
  if (kv.modRevision !== 0) {
    out[pos++] = TAG_MOD;
    pos = writeVarint(out, pos, kv.modRevision);
  }
  if (kv.version !== 0) {
    out[pos++] = TAG_VERSION;
    pos = writeVarint(out, pos, kv.version);
  }
  if (kv.value.length !== 0) {
    out[pos++] = TAG_VALUE;
    pos = writeVarint(out, pos, kv.value.length);
    out.set(kv.value, pos);
    pos += kv.value.length;
  }
  if (kv.lease !== 0) {
    out[pos++] = TAG_LEASE;
    pos = writeVarint(out, pos, kv.lease);
  }
  assert(pos === size, 'KeyValue size mismatch');
  return out;
}

// Decoder cursor. Decoding is synchronous and never re-entered, so one module-level cursor
// saves allocating a reader per call.
let cur = 0;

function readVarint(b: Uint8Array): number {
  // Fast path: up to 4 bytes (28 bits) with 32-bit arithmetic.
  let result = 0;
  let shift = 0;
  for (; shift < 28; shift += 7) {
    assert(cur < b.length, 'truncated varint');
    const byte = b[cur++]!;
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) return result >>> 0;
  }
  // Slow path: the remaining bytes, exactly, with BigInt (negative numbers take 10 bytes).
  let big = BigInt(result >>> 0);
  for (let bigShift = 28n; bigShift < 70n; bigShift += 7n) {
    assert(cur < b.length, 'truncated varint');
    const byte = b[cur++]!;
    big |= BigInt(byte & 0x7f) << bigShift;
    if (byte < 0x80) {
      const n = Number(BigInt.asIntN(64, big));
      assert(Number.isSafeInteger(n), 'varint beyond the safe integer range');
      return n;
    }
  }
  assert(false, 'varint longer than 10 bytes');
}

function readBytes(b: Uint8Array): Uint8Array {
  const len = readVarint(b);
  assert(len >= 0 && cur + len <= b.length, 'truncated bytes field');
  const out = b.subarray(cur, cur + len);
  cur += len;
  return out;
}

function skipField(b: Uint8Array, wireType: number): void {
  switch (wireType) {
    case 0:
      readVarint(b);
      return;
    case 1:
      cur += 8;
      break;
    case 2:
      readBytes(b);
      return;
    case 5:
      cur += 4;
      break;
    default:
      assert(false, `unknown wire type ${wireType}`);
  }
  assert(cur <= b.length, 'truncated field');
}

/**
 * Decodes a stored KeyValue. `key` and `value` are views into `b` (no copy): callers treat them
 * as immutable. Malformed bytes are corruption (assertion), since only this module writes them.
 */
export function decodeKeyValue(b: Uint8Array): KeyValue {
  let key: Uint8Array = EMPTY;
  let value: Uint8Array = EMPTY;
  let createRevision = 0;
  let modRevision = 0;
  let version = 0;
  let lease = 0;
  cur = 0;
  while (cur < b.length) {
    const tag = readVarint(b);
    switch (tag) {
      case TAG_KEY:
        key = readBytes(b);
        break;
      case TAG_CREATE:
        createRevision = readVarint(b);
        break;
      case TAG_MOD:
        modRevision = readVarint(b);
        break;
      case TAG_VERSION:
        version = readVarint(b);
        break;
      case TAG_VALUE:
        value = readBytes(b);
        break;
      case TAG_LEASE:
        lease = readVarint(b);
        break;
      default:
        skipField(b, tag & 7);
    }
  }
  return { key, createRevision, modRevision, version, value, lease };
}
