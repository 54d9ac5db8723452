/**
 * Byte helpers of the command-line client: keys and values travel as bytes, while command
 * arguments are JS strings (UTF-8 on the wire, as etcdctl's Go strings are).
 */

const encoder = new TextEncoder();

/** UTF-8 bytes of a command-line argument. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** The range end meaning "every key from `key` on", as etcd defines it. */
export const FROM_KEY_END: Uint8Array = Uint8Array.of(0);

/**
 * The range end covering every key that starts with `key` (clientv3's `WithPrefix`): drop
 * trailing 0xff bytes, then increment the last byte. An all-0xff (or empty) key has no such
 * end, and gets `"\x00"` (every key from `key` on).
 */
export function prefixRangeEnd(key: Uint8Array): Uint8Array {
  for (let i = key.length - 1; i >= 0; i--) {
    if (key[i]! < 0xff) {
      const end = key.slice(0, i + 1);
      end[i] = key[i]! + 1;
      return end;
    }
  }
  return FROM_KEY_END;
}

/** etcdctl's `--hex` form of bytes: `\x` and two lowercase hex digits per byte. */
export function hexEscape(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += '\\x' + x.toString(16).padStart(2, '0');
  return s;
}
