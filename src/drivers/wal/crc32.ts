/**
 * CRC-32 (IEEE 802.3, the polynomial of zip and gzip) for the write-ahead log's frame checksums.
 * node:zlib's `crc32` computes exactly this natively, but only since Node 20.15 / 22.2 and our
 * engines say >= 20, so a table-driven fallback (one table lookup per byte) stands in where it
 * is absent. Both give the same values, so a log written under one reads under the other.
 */
import * as zlib from 'node:zlib';

const TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The table-driven CRC-32 of `data` (exported for the test that compares it with zlib's). */
export function crc32Table(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 of `data` as an unsigned 32-bit number: node:zlib's when present, else the table's. */
export const crc32: (data: Uint8Array) => number = typeof native === 'function' ? (d) => native(d) >>> 0 : crc32Table;
