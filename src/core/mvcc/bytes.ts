/**
 * Byte-string helpers for the MVCC core, in plain JavaScript (the core may not use `Buffer`).
 *
 * The key index is keyed by the latin1 string of a key's bytes: one UTF-16 unit per byte, so
 * JavaScript's string order is byte order, and V8 stores such strings one byte per character.
 */
import type { Bytes } from '../api/kv.js';

const CHUNK = 8192;

/**
 * The latin1 string of `bytes` (char code i = byte i). Byte-wise order of two byte strings
 * equals the `<` order of their latin1 strings, which is why the index uses them as keys.
 */
export function bytesToLatin1(bytes: Bytes): string {
  const n = bytes.length;
  if (n <= CHUNK) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  // Spread arguments are limited by the stack: convert long strings piecewise.
  let s = '';
  for (let i = 0; i < n; i += CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return s;
}

/** Inverse of `bytesToLatin1`: a new array holding the char codes of `s` (each < 256). */
export function latin1ToBytes(s: string): Bytes {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Unsigned lexicographic comparison, as Go's `bytes.Compare`: negative, zero or positive. */
export function compareBytes(a: Bytes, b: Bytes): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Byte-wise equality. */
export function bytesEqual(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
