/**
 * The byte layout of the write-ahead log: segment files made of frames, frames made of records.
 *
 * A frame is what one fsync makes durable: every record of every save in one group commit. Its
 * checksum covers the whole body, so a frame is applied entirely or not at all, which is what
 * makes a save (entries + hard state + snapshot point) atomic.
 *
 *     offset (16-aligned, within the segment file)
 *     ┌──────────────┬──────────────┬──────────────┬──────────────┬──────────────┬─────────┐
 *     │ u32 bodyBytes│ u32 crc(body)│ u32 offset   │ u32 crc(0..12)│ body: records│ 0-pad to │
 *     │              │              │ of this frame│ (header crc)  │              │ 16 bytes │
 *     └──────────────┴──────────────┴──────────────┴──────────────┴──────────────┴─────────┘
 *
 * The header is 16 bytes at a 16-aligned offset, so it never straddles a disk sector: after a
 * crash it is either wholly there or wholly absent. Its own checksum and the offset it records
 * make a random or stale 16 bytes very unlikely to pass for a frame, which is what lets recovery
 * tell a torn tail (no valid frame after the damage) from damage in the middle of the log (a
 * valid frame after it). An all-zero header fails the header checksum: zeros (a preallocated,
 * never-written tail) are never a frame.
 *
 * Records, each starting with a kind byte; integers are big-endian, u64 as two u32 halves:
 *
 *     1 ENTRIES     u64 firstIndex, u32 count, count × (u64 term, u8 type, u32 dataBytes, data)
 *                   Replaces every entry at or after firstIndex (a conflicting suffix is cut).
 *     2 HARD_STATE  u64 term, u64 vote, u64 commit
 *     3 SNAPSHOT    u8 keepSuffix, snapshot meta: the log now starts after meta.index; entries
 *                   after it survive only if keepSuffix (a compaction, or a matching snapshot).
 *     4 STATE       hard state, snapshot meta: the first frame of every segment, so that older
 *                   segments can be deleted without losing either.
 *     5 SEAL        the segment ends here; the log continues in the next segment.
 *
 *     snapshot meta = u64 index, u64 term, u32 voterCount, voters × u64, u32 learnerCount,
 *                     learners × u64
 */
import type { Entry, EntryType, HardState, SnapshotMeta } from '../../core/ports/storage-driver.js';
import { assert, assertSafeInt } from '../../core/assert.js';
import { checkEntry, checkHardState, checkSnapshotMeta, freezeHardState, freezeSnapshotMeta } from '../common/encoding.js';
import { crc32 } from './crc32.js';

/** Bytes of a frame header; also the alignment of every frame. */
export const FRAME_HEADER_BYTES = 16;
/** The largest frame body accepted on decode (a save bigger than this is refused on encode). */
export const FRAME_BODY_BYTES_MAX = 0x7fff_0000;

export const RecordKind = { Entries: 1, HardState: 2, Snapshot: 3, State: 4, Seal: 5 } as const;

/** Where an entry's data lies within its segment file. */
export interface EntryLocation {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  /** Absolute byte offset of the data within the segment file. */
  readonly dataPos: number;
  readonly dataBytes: number;
}

/** One decoded record. Entry data is not copied: only its location is reported. */
export type WalRecord =
  | { readonly kind: 'entries'; readonly firstIndex: number; readonly entries: readonly EntryLocation[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly snapshot: SnapshotMeta; readonly keepSuffix: boolean }
  | { readonly kind: 'state'; readonly hardState: HardState; readonly snapshot: SnapshotMeta }
  | { readonly kind: 'seal' };

/** One record to encode. */
export type WalRecordInput =
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly snapshot: SnapshotMeta; readonly keepSuffix: boolean }
  | { readonly kind: 'state'; readonly hardState: HardState; readonly snapshot: SnapshotMeta }
  | { readonly kind: 'seal' };

const TWO32 = 2 ** 32;

function writeU64(b: Buffer, n: number, at: number): number {
  assertSafeInt(n, 'wal u64');
  assert(n >= 0, `wal u64 is negative: ${n}`);
  b.writeUInt32BE(Math.floor(n / TWO32), at);
  b.writeUInt32BE(n >>> 0, at + 4);
  return at + 8;
}

function snapshotBytes(m: SnapshotMeta): number {
  return 16 + 4 + 8 * m.voters.length + 4 + 8 * m.learners.length;
}

function writeSnapshot(b: Buffer, m: SnapshotMeta, at: number): number {
  at = writeU64(b, m.index, at);
  at = writeU64(b, m.term, at);
  b.writeUInt32BE(m.voters.length, at);
  at += 4;
  for (const id of m.voters) at = writeU64(b, id, at);
  b.writeUInt32BE(m.learners.length, at);
  at += 4;
  for (const id of m.learners) at = writeU64(b, id, at);
  return at;
}

function writeHardState(b: Buffer, hs: HardState, at: number): number {
  at = writeU64(b, hs.term, at);
  at = writeU64(b, hs.vote, at);
  return writeU64(b, hs.commit, at);
}

function recordBytes(r: WalRecordInput): number {
  switch (r.kind) {
    case 'entries': {
      let n = 1 + 8 + 4;
      for (const e of r.entries) n += 13 + e.data.byteLength;
      return n;
    }
    case 'hardState':
      return 1 + 24;
    case 'snapshot':
      return 1 + 1 + snapshotBytes(r.snapshot);
    case 'state':
      return 1 + 24 + snapshotBytes(r.snapshot);
    case 'seal':
      return 1;
  }
}

/** Rounds `n` up to the frame alignment. */
export function align(n: number): number {
  return Math.ceil(n / FRAME_HEADER_BYTES) * FRAME_HEADER_BYTES;
}

/**
 * One encoded frame, ready to be written at `offset` of a segment. `entryDataOffsets[i][j]` is
 * where the data of entry j of record i starts, relative to the frame start.
 */
export interface EncodedFrame {
  readonly bytes: Buffer;
  readonly entryDataOffsets: readonly (readonly number[])[];
}

/** Encodes `records` as one frame to be written at byte `offset` of its segment. */
export function encodeFrame(records: readonly WalRecordInput[], offset: number): EncodedFrame {
  assert(offset % FRAME_HEADER_BYTES === 0 && offset < TWO32, `bad frame offset ${offset}`);
  assert(records.length > 0, 'a frame holds at least one record');
  let bodyBytes = 0;
  for (const r of records) bodyBytes += recordBytes(r);
  if (bodyBytes > FRAME_BODY_BYTES_MAX) throw new Error(`wal: a save of ${bodyBytes} bytes exceeds ${FRAME_BODY_BYTES_MAX}`);
  const b = Buffer.alloc(align(FRAME_HEADER_BYTES + bodyBytes));
  let at = FRAME_HEADER_BYTES;
  const entryDataOffsets: number[][] = [];
  for (const r of records) {
    const offsets: number[] = [];
    entryDataOffsets.push(offsets);
    switch (r.kind) {
      case 'entries': {
        b[at++] = RecordKind.Entries;
        assert(r.entries.length > 0, 'an entries record holds at least one entry');
        at = writeU64(b, r.entries[0]!.index, at);
        b.writeUInt32BE(r.entries.length, at);
        at += 4;
        for (let i = 0; i < r.entries.length; i++) {
          const e = r.entries[i]!;
          checkEntry(e);
          assert(e.index === r.entries[0]!.index + i, `wal entries not consecutive at ${e.index}`);
          at = writeU64(b, e.term, at);
          b[at++] = e.type;
          b.writeUInt32BE(e.data.byteLength, at);
          at += 4;
          offsets.push(at);
          b.set(e.data, at);
          at += e.data.byteLength;
        }
        break;
      }
      case 'hardState':
        checkHardState(r.hardState);
        b[at++] = RecordKind.HardState;
        at = writeHardState(b, r.hardState, at);
        break;
      case 'snapshot':
        checkSnapshotMeta(r.snapshot);
        b[at++] = RecordKind.Snapshot;
        b[at++] = r.keepSuffix ? 1 : 0;
        at = writeSnapshot(b, r.snapshot, at);
        break;
      case 'state':
        checkHardState(r.hardState);
        checkSnapshotMeta(r.snapshot);
        b[at++] = RecordKind.State;
        at = writeHardState(b, r.hardState, at);
        at = writeSnapshot(b, r.snapshot, at);
        break;
      case 'seal':
        b[at++] = RecordKind.Seal;
        break;
    }
  }
  assert(at === FRAME_HEADER_BYTES + bodyBytes, 'wal frame size mismatch');
  const body = b.subarray(FRAME_HEADER_BYTES, at);
  b.writeUInt32BE(bodyBytes, 0);
  b.writeUInt32BE(crc32(body), 4);
  b.writeUInt32BE(offset, 8);
  b.writeUInt32BE(crc32(b.subarray(0, 12)), 12);
  return { bytes: b, entryDataOffsets };
}

/**
 * The body length of a valid frame at `offset` of `file` (the whole segment's bytes), or
 * undefined when no valid frame starts there (bad header, bad offset, overrun, bad body crc).
 */
export function frameAt(file: Uint8Array, offset: number): number | undefined {
  if (offset + FRAME_HEADER_BYTES > file.byteLength) return undefined;
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (b.readUInt32BE(offset + 12) !== crc32(b.subarray(offset, offset + 12))) return undefined;
  if (b.readUInt32BE(offset + 8) !== offset) return undefined;
  const bodyBytes = b.readUInt32BE(offset);
  const start = offset + FRAME_HEADER_BYTES;
  if (bodyBytes === 0 || bodyBytes > FRAME_BODY_BYTES_MAX || start + bodyBytes > b.byteLength) return undefined;
  if (b.readUInt32BE(offset + 4) !== crc32(b.subarray(start, start + bodyBytes))) return undefined;
  return bodyBytes;
}

/** Thrown by `decodeBody` on a frame whose checksum matched but whose records do not parse. */
export class RecordError extends Error {}

/** Decodes the records of the frame body at [start, start + bodyBytes) of `file`. */
export function decodeBody(file: Uint8Array, start: number, bodyBytes: number): WalRecord[] {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const end = start + bodyBytes;
  let at = start;
  const need = (n: number): void => {
    if (at + n > end) throw new RecordError('record overruns its frame');
  };
  const u64 = (): number => {
    need(8);
    const n = b.readUInt32BE(at) * TWO32 + b.readUInt32BE(at + 4);
    at += 8;
    if (!Number.isSafeInteger(n)) throw new RecordError('u64 beyond 2^53');
    return n;
  };
  const u32 = (): number => {
    need(4);
    const n = b.readUInt32BE(at);
    at += 4;
    return n;
  };
  const u8 = (): number => {
    need(1);
    return b[at++]!;
  };
  const ids = (): number[] => {
    const n = u32();
    need(8 * n);
    return Array.from({ length: n }, u64);
  };
  const snapshot = (): SnapshotMeta => {
    const index = u64();
    const term = u64();
    const voters = ids();
    const learners = ids();
    return freezeSnapshotMeta({ index, term, voters, learners });
  };
  const hardState = (): HardState => {
    const term = u64();
    const vote = u64();
    const commit = u64();
    return freezeHardState({ term, vote, commit });
  };
  const out: WalRecord[] = [];
  while (at < end) {
    const kind = u8();
    switch (kind) {
      case RecordKind.Entries: {
        const firstIndex = u64();
        const count = u32();
        if (count === 0 || firstIndex === 0) throw new RecordError('empty entries record');
        const entries: EntryLocation[] = [];
        for (let i = 0; i < count; i++) {
          const term = u64();
          const type = u8();
          if (type !== 0 && type !== 1) throw new RecordError(`bad entry type ${type}`);
          const dataBytes = u32();
          need(dataBytes);
          entries.push({ index: firstIndex + i, term, type: type as EntryType, dataPos: at, dataBytes });
          at += dataBytes;
        }
        out.push({ kind: 'entries', firstIndex, entries });
        break;
      }
      case RecordKind.HardState:
        out.push({ kind: 'hardState', hardState: hardState() });
        break;
      case RecordKind.Snapshot: {
        const keep = u8();
        if (keep > 1) throw new RecordError('bad keepSuffix flag');
        out.push({ kind: 'snapshot', keepSuffix: keep === 1, snapshot: snapshot() });
        break;
      }
      case RecordKind.State: {
        const hs = hardState();
        out.push({ kind: 'state', hardState: hs, snapshot: snapshot() });
        break;
      }
      case RecordKind.Seal:
        out.push({ kind: 'seal' });
        break;
      default:
        throw new RecordError(`unknown record kind ${kind}`);
    }
  }
  return out;
}
