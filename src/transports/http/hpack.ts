/**
 * HPACK (RFC 7541), the header compression of HTTP/2: a decoder complete enough for any
 * client (static and dynamic tables, table size updates, all literal forms, Huffman strings)
 * and a deliberately simple encoder (static-table indexes where name and value match, else
 * literals without indexing and without Huffman). The encoder never adds to the peer's dynamic
 * table, so the peer's SETTINGS_HEADER_TABLE_SIZE needs no handling on our side, and an encoded
 * block does not depend on what was sent before: the constant gRPC blocks are encoded once.
 *
 * Header strings are octets; they are held as latin1 strings (one char per octet), so that
 * `name.length + value.length + 32` is the RFC's entry size and no UTF-8 decoding is paid.
 *
 * A decoded header list is a flat array `[name0, value0, name1, value1, ...]`: one allocation
 * per block, and lookups over a handful of fields are as fast as a map.
 */
import { huffmanDecode } from './hpack-huffman.js';

/** RFC 7541 Appendix A, index 1..61. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Number of static table entries; dynamic indexes start after it. */
export const STATIC_TABLE_SIZE = STATIC.length;

/** Thrown for any malformed header block: a connection error (COMPRESSION_ERROR) for HTTP/2. */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

/** Entry overhead counted by the table size (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

/**
 * Decodes the header blocks of one connection, in order (the dynamic table is connection
 * state). After an HpackError the decoder's state is undefined: the connection must end.
 */
export class HpackDecoder {
  /** Dynamic table, oldest first: dynamic index 1 is the last element. */
  private names: string[] = [];
  private values: string[] = [];
  /** Entries evicted from the front but not yet spliced out (amortises the removal). */
  private head = 0;
  private size = 0;
  private maxSize: number;
  /** Read position in the block being decoded. */
  private pos = 0;

  /**
   * @param protocolMaxSize our SETTINGS_HEADER_TABLE_SIZE: the most a size update may ask for.
   * @param maxListSize largest decoded header list (RFC 7540 size: names + values + 32 each);
   *   a larger list is still decoded (the table must stay in sync) but reported as too large.
   */
  constructor(
    private readonly protocolMaxSize = 4096,
    private readonly maxListSize = 64 * 1024,
  ) {
    this.maxSize = protocolMaxSize;
  }

  /** Current dynamic table size in RFC units (for tests). */
  get tableSize(): number {
    return this.size;
  }

  /** Dynamic table entries, newest first (for tests). */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = this.names.length - 1; i >= this.head; i--) out.push([this.names[i]!, this.values[i]!]);
    return out;
  }

  /**
   * Decodes one complete header block. Returns the flat list, or null when the list exceeds
   * the size limit (the block was still fully processed).
   * @throws HpackError on a malformed block.
   */
  decode(block: Uint8Array): string[] | null {
    const out: string[] = [];
    let listSize = 0;
    this.pos = 0;
    const end = block.length;
    let fieldSeen = false;
    while (this.pos < end) {
      const b = block[this.pos]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed field.
        const index = this.int(block, 7);
        if (index === 0) throw new HpackError('index 0');
        name = this.nameAt(index);
        value = this.valueAt(index);
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update: only before the first field of a block.
        if (fieldSeen) throw new HpackError('table size update after a header field');
        const size = this.int(block, 5);
        if (size > this.protocolMaxSize) throw new HpackError('table size update above the setting');
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
        const indexing = (b & 0xc0) === 0x40;
        const index = this.int(block, indexing ? 6 : 4);
        name = index === 0 ? this.str(block) : this.nameAt(index);
        value = this.str(block);
        if (indexing) this.add(name, value);
      }
      fieldSeen = true;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      out.push(name, value);
    }
    return listSize > this.maxListSize ? null : out;
  }

  private nameAt(index: number): string {
    if (index <= STATIC_TABLE_SIZE) return STATIC[index - 1]![0];
    return this.names[this.dynamicSlot(index)]!;
  }

  private valueAt(index: number): string {
    if (index <= STATIC_TABLE_SIZE) return STATIC[index - 1]![1];
    return this.values[this.dynamicSlot(index)]!;
  }

  private dynamicSlot(index: number): number {
    const slot = this.names.length - (index - STATIC_TABLE_SIZE);
    if (slot < this.head) throw new HpackError(`index ${index} beyond the tables`);
    return slot;
  }

  private add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.maxSize) {
      // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
      this.evict(this.maxSize);
      return;
    }
    this.evict(size);
    this.names.push(name);
    this.values.push(value);
    this.size += size;
  }

  /** Evicts oldest entries until `room` more fits under the maximum. */
  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.head < this.names.length) {
      this.size -= this.names[this.head]!.length + this.values[this.head]!.length + ENTRY_OVERHEAD;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.names.length) {
      this.names = this.names.slice(this.head);
      this.values = this.values.slice(this.head);
      this.head = 0;
    }
  }

  /** Reads an integer with an n-bit prefix at `pos` (RFC 7541 §5.1), advancing `pos`. */
  private int(buf: Uint8Array, n: number): number {
    const mask = (1 << n) - 1;
    let pos = this.pos;
    let value = buf[pos]! & mask;
    pos++;
    if (value === mask) {
      let shift = 0;
      for (;;) {
        if (pos >= buf.length) throw new HpackError('truncated integer');
        const b = buf[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
        // Nothing in a header block needs more than 2^31; refuse longer encodings.
        if (shift > 28) throw new HpackError('integer too large');
      }
      if (value > 0x7fffffff) throw new HpackError('integer too large');
    }
    this.pos = pos;
    return value;
  }

  /** Reads a string literal at `pos` (RFC 7541 §5.2), advancing `pos`. */
  private str(buf: Uint8Array): string {
    if (this.pos >= buf.length) throw new HpackError('truncated string');
    const huffman = (buf[this.pos]! & 0x80) !== 0;
    const length = this.int(buf, 7);
    const start = this.pos;
    const stop = start + length;
    if (stop > buf.length) throw new HpackError('string beyond the block');
    this.pos = stop;
    if (!huffman) return latin1(buf, start, stop);
    const t = huffmanDecode(buf, start, stop);
    if (t === null) throw new HpackError('bad Huffman string');
    return t;
  }
}

function latin1(buf: Uint8Array, start: number, stop: number): string {
  if (Buffer.isBuffer(buf)) return buf.toString('latin1', start, stop);
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1', start, stop);
}

/** Static index of each exact (name, value) pair, and of each name's first entry. */
const STATIC_PAIR = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC.forEach(([n, v], i) => {
  if (!STATIC_PAIR.has(`${n}\0${v}`)) STATIC_PAIR.set(`${n}\0${v}`, i + 1);
  if (!STATIC_NAME.has(n)) STATIC_NAME.set(n, i + 1);
});

function pushInt(out: number[], value: number, n: number, first: number): void {
  const mask = (1 << n) - 1;
  if (value < mask) {
    out.push(first | value);
    return;
  }
  out.push(first | mask);
  value -= mask;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function pushString(out: number[], text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  pushInt(out, bytes.length, 7, 0);
  for (const b of bytes) out.push(b);
}

/**
 * Encodes a header list (flat `[name, value, ...]`, names lower case) into one header block,
 * statelessly: static indexes for exact matches, otherwise literals without indexing.
 * Values are taken as latin1 octets (callers percent-encode or otherwise keep them ASCII).
 */
export function encodeHeaders(list: readonly string[]): Buffer {
  const out: number[] = [];
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    const exact = STATIC_PAIR.get(`${name}\0${value}`);
    if (exact !== undefined) {
      pushInt(out, exact, 7, 0x80);
      continue;
    }
    const byName = STATIC_NAME.get(name);
    if (byName !== undefined) {
      pushInt(out, byName, 4, 0x00);
    } else {
      out.push(0x00);
      pushString(out, name);
    }
    pushString(out, value);
  }
  return Buffer.from(out);
}
