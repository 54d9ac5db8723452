/**
 * Encode once: the frame of an event-carrying WatchResponse, built from bytes shared by every
 * watcher that receives the same events.
 *
 * A revision fanned out to N watchers of one view (same range, filters, prev_kv) makes N
 * replies that differ only in `watch_id` (and the header, shared by every reply of a revision
 * on a stream). The watch hub hands all of them the same `events` array, so its encoding —
 * the `events` fields (11) — is done once and cached by array identity; so is the `header`
 * field (1), by header object. A reply's frame is then one allocation and three copies (on
 * the gRPC port no allocation: `WatchReplyWriter` writes it straight into the connection's
 * output buffer):
 *
 * ```
 *   frame header │ header field (cached) │ watch_id field │ [fragment field] │ events fields (cached)
 * ```
 *
 * Field order on the wire is free in protobuf, and these are the fields' numeric order anyway.
 * Replies with anything else set (created, canceled, compact_revision, cancel_reason) are rare
 * and go through the generic encoder. The result decodes to the same message as the generic
 * encoding (checked by test/transports/watch-encoding.test.ts).
 */
import type { ResponseHeader } from '../../core/api/kv.js';
import type { WatchResponse } from '../../core/api/watch.js';
import { codecOf } from '../../codec/messages.js';
import { encodeFrame, frameHeaderBytes, writeFrameHeader, type FrameKind } from './frame.js';

const eventCodec = codecOf('mvccpb.Event');
const responseCodec = codecOf('etcdserverpb.WatchResponse');

/** Encoded `events` fields by events array; arrays are never mutated once handed out. */
const eventsCache = new WeakMap<object, Uint8Array>();
/** Encoded `header` field by header object. */
const headerCache = new WeakMap<ResponseHeader, Uint8Array>();

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** Writes a non-negative safe integer as a varint; returns the next offset. */
function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** The varint of an int64 field (negative values as 10-byte two's complement). */
function int64Varint(n: number): Uint8Array {
  if (n >= 0) {
    const out = new Uint8Array(varintBytes(n));
    writeVarint(out, 0, n);
    return out;
  }
  let v = BigInt.asUintN(64, BigInt(n));
  const out = new Uint8Array(10);
  for (let i = 0; i < 10; i++) {
    out[i] = Number(v & 0x7fn) | (i < 9 ? 0x80 : 0);
    v >>= 7n;
  }
  return out;
}

function eventsField(events: readonly object[]): Uint8Array {
  let cached = eventsCache.get(events);
  if (cached !== undefined) return cached;
  const parts = events.map((e) => eventCodec.encode(e as never));
  let size = 0;
  for (const p of parts) size += 1 + varintBytes(p.length) + p.length;
  cached = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    cached[pos++] = (11 << 3) | 2;
    pos = writeVarint(cached, pos, p.length);
    cached.set(p, pos);
    pos += p.length;
  }
  eventsCache.set(events, cached);
  return cached;
}

function headerField(h: ResponseHeader): Uint8Array {
  let cached = headerCache.get(h);
  if (cached !== undefined) return cached;
  const fields: [number, number][] = [
    [1, h.clusterId],
    [2, h.memberId],
    [3, h.revision],
    [4, h.raftTerm],
  ];
  const enc = fields.filter(([, v]) => v !== 0).map(([f, v]) => [f, int64Varint(v)] as const);
  let inner = 0;
  for (const [, v] of enc) inner += 1 + v.length;
  cached = new Uint8Array(1 + varintBytes(inner) + inner);
  cached[0] = (1 << 3) | 2;
  let pos = writeVarint(cached, 1, inner);
  for (const [f, v] of enc) {
    cached[pos++] = f << 3;
    cached.set(v, pos);
    pos += v.length;
  }
  headerCache.set(h, cached);
  return cached;
}

/**
 * Encodes event and progress replies in two steps, so that a transport can write one straight
 * into its output buffer: `prepare` measures a reply, `writeTo` writes the reply prepared last.
 * Consecutive replies of a fan-out share their header and events objects, so the last ones
 * seen are remembered by identity in front of the caches (two WeakMap lookups per reply are
 * a visible share of it). One writer per transport; not reentrant between the two calls.
 */
export class WatchReplyWriter {
  private header: Uint8Array = EMPTY_BYTES;
  private events: Uint8Array | null = null;
  private id = 0;
  /** The 10-byte varint of a negative id (progress replies: -1), else null. */
  private negative: Uint8Array | null = null;
  private fragment = false;
  private lastHeader: ResponseHeader | null = null;
  private lastHeaderBytes: Uint8Array = EMPTY_BYTES;
  private lastEvents: readonly object[] | null = null;
  private lastEventsBytes: Uint8Array = EMPTY_BYTES;

  /**
   * Bytes of the shared-bytes encoding of `res` (a WatchResponse message, no framing), or -1
   * for the rare replies that need the generic encoder (created, canceled, compaction, no
   * header). Keeps what `writeTo` needs.
   */
  prepare(res: WatchResponse): number {
    const h = res.header;
    if (res.created || res.canceled || (res.compactRevision ?? 0) !== 0 || (res.cancelReason ?? '') !== '' || !h) return -1;
    const last = this.lastHeader;
    if (h !== last) {
      // The streams of a fan-out each have their own header object of the revision, and their
      // replies interleave: equal fields are the same bytes.
      if (last === null || h.revision !== last.revision || h.memberId !== last.memberId || h.clusterId !== last.clusterId || h.raftTerm !== last.raftTerm) {
        this.lastHeaderBytes = headerField(h);
      }
      this.lastHeader = h;
    }
    const header = this.lastHeaderBytes;
    let events: Uint8Array | null = null;
    if (res.events.length > 0) {
      if (res.events !== this.lastEvents) {
        this.lastEvents = res.events;
        this.lastEventsBytes = eventsField(res.events);
      }
      events = this.lastEventsBytes;
    }
    const id64 = res.watchId;
    // Ids are small non-negative numbers but for -1 (progress replies): 10 bytes, rare.
    const negative = id64 < 0 ? int64Varint(id64) : null;
    this.header = header;
    this.events = events;
    this.id = id64;
    this.negative = negative;
    this.fragment = res.fragment === true;
    const idBytes = id64 === 0 ? 0 : 1 + (negative === null ? varintBytes(id64) : negative.length);
    return header.length + idBytes + (this.fragment ? 2 : 0) + (events === null ? 0 : events.length);
  }

  /** Writes the reply measured by the last `prepare` at `buf[pos]`; returns the end offset. */
  writeTo(buf: Uint8Array, pos: number): number {
    const header = this.header;
    buf.set(header, pos);
    pos += header.length;
    const id64 = this.id;
    if (id64 !== 0) {
      buf[pos++] = 2 << 3;
      const negative = this.negative;
      if (negative === null) pos = writeVarint(buf, pos, id64);
      else {
        buf.set(negative, pos);
        pos += negative.length;
      }
    }
    if (this.fragment) {
      buf[pos++] = 7 << 3;
      buf[pos++] = 1;
    }
    const events = this.events;
    if (events !== null) {
      buf.set(events, pos);
      pos += events.length;
    }
    return pos;
  }
}

const EMPTY_BYTES = new Uint8Array(0);
const writer = new WatchReplyWriter();

/**
 * The frame (see frame.ts) of kind `kind` and id `id` carrying `res`. Event replies and
 * progress replies take the shared-bytes path; others the generic encoder.
 */
export function encodeWatchResponseFrame(kind: FrameKind, id: number, res: WatchResponse): Buffer {
  const buf = encodeWatchResponseAfter(frameHeaderBytes(kind), res);
  if (buf === undefined) return encodeFrame(kind, id, 0, responseCodec, res);
  writeFrameHeader(buf, kind, id, 0);
  return buf;
}

/**
 * The shared-bytes encoding of an event or progress reply, after `head` bytes left for the
 * caller's framing (the frame header here, gRPC's 5-byte message prefix on the gRPC port);
 * undefined for the rare replies that need the generic encoder.
 */
export function encodeWatchResponseAfter(head: number, res: WatchResponse): Buffer | undefined {
  const n = writer.prepare(res);
  if (n < 0) return undefined;
  const buf = Buffer.allocUnsafe(head + n);
  writer.writeTo(buf, head);
  return buf;
}
