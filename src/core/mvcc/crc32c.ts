/**
 * CRC-32C (Castagnoli), the checksum etcd's HashKV uses over the key space, table-driven.
 * Pure code: the core may not use node:zlib.
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/**
 * Extends running checksum `crc` (0 to start) with `bytes`; returns the new checksum as an
 * unsigned 32-bit number. `crc32c(crc32c(0, a), b)` equals the checksum of a followed by b.
 */
export function crc32c(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
