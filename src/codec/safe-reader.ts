/**
 * The protobuf reader every codec of etcetera decodes with: 64-bit varints come out as JS
 * numbers (refused when outside the safe-integer range), and unknown fields are dropped. Shared
 * by the client/etcd message codec (messages.ts) and the raft peer codec (raft-codec.ts).
 */
import protobuf from 'protobufjs';
// NB: schema.ts clears util.Long and calls protobuf.configure(), which rebinds the readers'
// 64-bit methods; the slow paths below must be taken after that, so it loads first.
import './schema.js';

const BufferReader = protobuf.BufferReader;
type Int64Reader = (this: protobuf.Reader) => number;
const slowInt64 = BufferReader.prototype.int64 as unknown as Int64Reader;
const slowUint64 = BufferReader.prototype.uint64 as unknown as Int64Reader;
const slowSint64 = BufferReader.prototype.sint64 as unknown as Int64Reader;

function unsafe(v: number): never {
  throw new RangeError(`64-bit integer out of the safe range: ${v}`);
}

/**
 * Reads a non-negative varint of up to 7 bytes (< 2^49, always safe) without allocating; longer
 * ones (large or negative values) go to protobufjs's LongBits path and are range-checked.
 */
function makeVarint64(slow: Int64Reader): Int64Reader {
  return function readVarint64(this: protobuf.Reader): number {
    const buf = this.buf;
    const len = this.len;
    const start = this.pos;
    let pos = start;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (pos >= len) throw new RangeError(`index out of range: ${pos} + 1 > ${len}`);
      const b = buf[pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
      mul *= 128;
    }
    this.pos = start;
    const n = slow.call(this);
    if (!Number.isSafeInteger(n)) unsafe(n);
    return n;
  };
}

function readSint64(this: protobuf.Reader): number {
  const n = slowSint64.call(this);
  if (!Number.isSafeInteger(n)) unsafe(n);
  return n;
}

/** protobufjs's Buffer reader with safe-number 64-bit reads and unknown fields discarded. */
export class SafeReader extends BufferReader {
  constructor(buf: Buffer) {
    super(buf);
    this.discardUnknown = true;
  }
}
{
  const p = SafeReader.prototype as unknown as Record<string, Int64Reader>;
  p['int64'] = makeVarint64(slowInt64);
  p['uint64'] = makeVarint64(slowUint64);
  p['sint64'] = readSint64;
}

/** A Buffer view of `bytes` (no copy), as protobufjs's BufferReader wants. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
