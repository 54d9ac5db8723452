/**
 * Splitting a large watch response into fragments (etcd's `fragment: true` watchers): when the
 * encoded response would reach `maxBytes` and holds at least two events, its events are cut
 * into consecutive parts each encoding below `maxBytes` (a single event larger than that still
 * travels alone). Every part but the last is sent with `fragment: true`; clients concatenate
 * parts until one without it.
 *
 * Sizes are protobuf upper bounds computed here (the core encodes nothing): every scalar field
 * counted as present at its widest, so a part sized below the limit here is below it on the wire.
 */
import type { Event, KeyValue } from '../api/kv.js';

/** Bytes of a varint holding a non-negative `n` (at most 10; negative int64s take 10). */
function varintBytes(n: number): number {
  if (n < 0) return 10;
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** A length-delimited field of `len` bytes, with its 1-byte tag. */
function lengthDelimited(len: number): number {
  return 1 + varintBytes(len) + len;
}

function keyValueBytes(kv: KeyValue): number {
  return (
    lengthDelimited(kv.key.length) +
    1 + varintBytes(kv.createRevision) +
    1 + varintBytes(kv.modRevision) +
    1 + varintBytes(kv.version) +
    lengthDelimited(kv.value.length) +
    1 + varintBytes(kv.lease)
  );
}

/** An upper bound of the encoded size of one mvccpb.Event, as a field of WatchResponse. */
export function eventFieldBytes(e: Event): number {
  let n = 2 + lengthDelimited(keyValueBytes(e.kv));
  if (e.prevKv !== null && e.prevKv !== undefined) n += lengthDelimited(keyValueBytes(e.prevKv));
  return lengthDelimited(n);
}

/**
 * An upper bound of a WatchResponse's size without its events: header (4 × int64), watch_id,
 * created, canceled, compact_revision, fragment; cancel_reason is not sent with events.
 */
export const RESPONSE_OVERHEAD_BYTES = lengthDelimited(4 * 11) + 11 + 2 + 2 + 11 + 2;

/**
 * The events cut into parts that each encode (with the response overhead) below `maxBytes`,
 * or `[events]` when no cut is needed (small enough, or fewer than two events).
 */
export function fragmentEvents(events: readonly Event[], maxBytes: number): (readonly Event[])[] {
  if (events.length < 2) return [events];
  const sizes = events.map(eventFieldBytes);
  let total = RESPONSE_OVERHEAD_BYTES;
  for (const s of sizes) total += s;
  if (total < maxBytes) return [events];
  const parts: Event[][] = [];
  let part: Event[] = [];
  let bytes = RESPONSE_OVERHEAD_BYTES;
  for (let i = 0; i < events.length; i++) {
    const s = sizes[i]!;
    if (part.length > 0 && bytes + s >= maxBytes) {
      parts.push(part);
      part = [];
      bytes = RESPONSE_OVERHEAD_BYTES;
    }
    part.push(events[i]!);
    bytes += s;
  }
  parts.push(part);
  return parts;
}
