/**
 * Keys as users write them (strings or bytes) and the key-range rules of etcd (spec §9.2),
 * shared by the client's conveniences and its txn builder.
 */
import type { Bytes } from '../core/api/kv.js';

/** A key or value as the conveniences accept it: a string (sent as UTF-8) or raw bytes. */
export type KeyLike = string | Uint8Array;

const ZERO: Bytes = Uint8Array.of(0);

/** `k` as bytes: strings are UTF-8 encoded, bytes are passed through (not copied). */
export function toBytes(k: KeyLike): Bytes {
  return typeof k === 'string' ? Buffer.from(k, 'utf8') : k;
}

/**
 * The `range_end` that selects every key starting with `key` (spec §9.2): drop trailing 0xff
 * bytes, increment the last remaining byte (`"aa"` → `"ab"`, `"a\xff"` → `"b"`). A key that is
 * empty or all 0xff has no such bound; then the answer is `"\x00"`, which means "every key ≥
 * key" — for all-0xff keys exactly the keys with that prefix, as etcd's clients do.
 */
export function prefixEnd(key: Bytes): Bytes {
  for (let i = key.length - 1; i >= 0; i--) {
    if (key[i]! < 0xff) {
      const end = Buffer.from(key.subarray(0, i + 1)); // a copy: the caller's key stays intact
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return ZERO;
}

/** How a convenience call names a set of keys. At most one of the three may be given. */
export interface RangeSelector {
  /** Every key starting with the key (`range_end` = `prefixEnd(key)`). */
  prefix?: boolean;
  /** Every key ≥ the key (`range_end` = `"\x00"`). */
  fromKey?: boolean;
  /** Every key in [key, rangeEnd). */
  rangeEnd?: KeyLike;
}

/**
 * Turns a key and a selector into etcd's (key, range_end). An empty key with `prefix` or
 * `fromKey` means all keys, sent as key `"\x00"` (etcd rejects an empty key), like etcdctl.
 */
export function keyRange(key: KeyLike, sel: RangeSelector | undefined): { key: Bytes; rangeEnd: Bytes | null } {
  let k = toBytes(key);
  if (sel === undefined) return { key: k, rangeEnd: null };
  const n = (sel.prefix ? 1 : 0) + (sel.fromKey ? 1 : 0) + (sel.rangeEnd !== undefined ? 1 : 0);
  if (n > 1) throw new TypeError('give at most one of prefix, fromKey, rangeEnd');
  if (sel.rangeEnd !== undefined) return { key: k, rangeEnd: toBytes(sel.rangeEnd) };
  if (!sel.prefix && !sel.fromKey) return { key: k, rangeEnd: null };
  if (k.length === 0) return { key: ZERO, rangeEnd: ZERO };
  return { key: k, rangeEnd: sel.prefix ? prefixEnd(k) : ZERO };
}
