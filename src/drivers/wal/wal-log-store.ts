/**
 * A LogStore on plain files: an append-only write-ahead log of checksummed frames (see
 * wal-format.ts), fsync'd once per group commit. It exists for put latency: one append and one
 * fdatasync per save, where an LMDB commit costs two syncs (data pages, then the meta page).
 *
 *     <dir>/0000000000000000.wal  0000000000000001.wal  …    segments, in sequence order
 *
 *     segment:  STATE frame │ frame │ frame │ … │ SEAL frame │ zeros (preallocated, unused)
 *     last one: STATE frame │ frame │ … │ frame ◄ pos          zeros up to `allocated`
 *
 * Writes. save() plans the change on the in-memory index at once (reads run ahead of
 * durability, as the LMDB and memory stores' do; the port only promises that a read reflects a
 * save once it resolved) and queues it. A flush, started on a microtask, encodes every queued
 * change as the records of one frame, writes it with one pwrite and fdatasyncs; saves called
 * meanwhile ride the next frame. Frames are written in call order, so saves apply in call order.
 *
 * Which thread fdatasyncs. Measured on this project's machine (ext4 on a virtio disk, 2 cores
 * shared with other work, so noisy; medians of 3 runs): a 300-byte save alone took p50 0.08 ms
 * fsync'd on the main thread and 0.107 ms through libuv's thread pool (the hop to a pool thread
 * and back through the event loop); end to end, a single member's put over tcp took p50
 * 0.27 ms vs 0.36 ms with 1 in flight, and managed ~41,700 vs ~26,300 puts/s with 256 in
 * flight. The hosts send one save at a time and batch the proposals that arrive meanwhile, so
 * the event loop has little to overlap with an fsync that it could not do right after it. The
 * default is therefore the main thread (`syncOnMainThread`). NB: that blocks the event loop for
 * as long as the disk takes to flush (~0.1 ms here); on a disk with slow flushes the pool is
 * the better choice, hence the option. A cluster member is such a case: its event loop also
 * serves the peers (a leader's appends and the followers' answers), and a 3-member cluster put
 * 256 in flight measured ~10,000 puts/s at ~135 µs CPU per put with the main thread against
 * ~19,000 at ~80 µs with the pool. The server's `wal-fsync: auto` picks the pool for cluster
 * members and the main thread for a single member (src/server/config.ts).
 *
 * Preallocation. An fdatasync that also has to make a larger file size (and newly allocated
 * blocks) durable commits the ext4 journal; one that overwrites blocks already allocated and
 * synced does not: measured 0.115 → 0.088 ms at p50 for a 352-byte append. So the current
 * segment is extended with zeros ahead of the write position, 1 MiB at a time between frames,
 * and frames overwrite those zeros (see `fill`).
 *
 * Reads. firstIndex/lastIndex/term come from a LogIndex; entries() from `slots` (a SlotTable:
 * each retained entry's type and data location, segment, offset and length, in typed arrays).
 * Unwritten entries' data is held until their frame is written; recent frames are kept whole
 * (capped at `cacheBytes`) and an entry found in one is a view of it; older data is read back
 * with a synchronous pread, served from the page cache in the usual case. Nothing per entry is
 * a heap object that outlives its request (see slot-table.ts for why that matters).
 *
 * Recovery (open): segments are read in order and their frames replayed. A frame that fails
 * its checksums in the last segment is a torn tail (a crash mid-append, so never acknowledged)
 * if no valid frame follows it in that segment: the file is cut there. Any other damage (a bad
 * frame followed by a valid one, a segment that does not end with a SEAL, records that do not
 * parse) refuses to open with the file and offset, because acknowledged entries may lie beyond.
 *
 * Compaction and snapshots write a SNAPSHOT record; once it is durable, the segments before
 * the one holding the first retained entry are deleted (and the directory fsync'd). Every segment starts with a STATE
 * frame (hard state and snapshot point at its start), so replay can begin at whichever segment
 * is now the oldest; entries of deleted segments leave a gap that the replayed SNAPSHOT record
 * must cover, and replay checks that it does.
 */
import type { ServiceIdentifier } from 'inversify';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { LogStoreBase } from '../common/log-store-base.js';
import type { Entry, EntryType, HardState, LogStore, LogUpdate, SnapshotMeta } from '../../core/ports/storage-driver.js';
import { assert } from '../../core/assert.js';
import { SlotTable } from './slot-table.js';
import type { LogChange } from '../common/log-index.js';
import { LogIndex } from '../common/log-index.js';
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT_META } from '../common/encoding.js';
import type { WalRecord, WalRecordInput } from './wal-format.js';
import { FRAME_HEADER_BYTES, RecordError, align, decodeBody, encodeFrame, frameAt } from './wal-format.js';

/** Tuning of a WalLogStore; every field has a default. */
export interface WalOptions {
  /**
   * A segment rolls over to the next once a frame would take it past this size (a single frame
   * bigger than this still goes whole into one segment). Default 64 MiB; tests use small ones.
   */
  readonly segmentBytes?: number;
  /** fdatasync on the main thread (default, see the file comment) or on libuv's thread pool. */
  readonly syncOnMainThread?: boolean;
  /** Bytes of recently written entry data kept in memory for entries() (followers that lag, and the apply right after a save). Default 4 MiB: more only costs memory, since older entries are read back from the file. */
  readonly cacheBytes?: number;
  /** Zero-fill the segment ahead of the write position (default true, see the file comment). */
  readonly preallocate?: boolean;
}

/**
 * Optional WAL settings the server binds before loading a driver module; drivers that keep
 * their log in a WAL read them when they are built (absent: the defaults).
 */
export const WalOptionsToken: ServiceIdentifier<WalOptions> = Symbol.for('etcetera.WalOptions');

const DEFAULT_SEGMENT_BYTES = 64 * 2 ** 20;
const DEFAULT_CACHE_BYTES = 4 * 2 ** 20;
const FILL_CHUNK_BYTES = 2 ** 20;
const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;

/** One segment file, open for reading (all) and writing (the last). */
interface Segment {
  readonly seq: number;
  readonly path: string;
  readonly fd: number;
}

/** A written frame kept in memory, so that recent entries are read without a pread. */
interface CachedFrame {
  readonly seq: number;
  /** Where the frame starts in its segment. */
  readonly start: number;
  readonly bytes: Buffer;
}

interface Pending {
  readonly change: LogChange;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}.wal`;
}

/** Writes all of `b` at `pos` (pwrite may write less than asked). */
function writeFully(fd: number, b: Uint8Array, pos: number): void {
  let done = 0;
  while (done < b.byteLength) done += fs.writeSync(fd, b, done, b.byteLength - done, pos + done);
}

/** Reads exactly `bytes` at `pos`; asserts that the file holds them. */
function readFully(fd: number, bytes: number, pos: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let done = 0;
  while (done < bytes) {
    const n = fs.readSync(fd, out, done, bytes - done, pos + done);
    assert(n > 0, `wal: short read at ${pos + done}`);
    done += n;
  }
  return out;
}

function fdatasyncPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

function writePool(fd: number, b: Uint8Array, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done >= b.byteLength) return resolve();
      fs.write(fd, b, done, b.byteLength - done, pos + done, (err, n) => (err ? reject(err) : step(done + n)));
    };
    step(0);
  });
}

/** fsyncs a directory, so that files created, renamed or deleted in it stay so after a crash. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function isZero(b: Uint8Array, from: number, to: number): boolean {
  const end = Math.min(to, b.byteLength);
  for (let i = from; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** Thrown when a log cannot be opened because it is damaged where acknowledged entries may be. */
export class WalCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    why: string,
  ) {
    super(`wal: ${file} is corrupt at offset ${offset}: ${why}; refusing to open (acknowledged entries may be lost)`);
    this.name = 'WalCorruptError';
  }
}

/** What replaying the segments produced. */
interface Replayed {
  readonly snap: SnapshotMeta;
  readonly hard: HardState;
  readonly terms: number[];
  readonly slots: SlotTable;
  readonly segments: Segment[];
  /** The segment to append to, and where; undefined if a new segment must be started. */
  readonly tail: { readonly seg: Segment; readonly pos: number; readonly size: number } | undefined;
}

/** See the file comment. Open it with `WalLogStore.open(dir)`. */
export class WalLogStore extends LogStoreBase implements LogStore {
  private readonly segmentBytes: number;
  private readonly syncOnMainThread: boolean;
  private readonly cacheBytes: number;
  private readonly preallocate: boolean;

  private readonly index: LogIndex;
  // Invariant: slots position i describes entry index.firstIndex() + i; slots.length === lastIndex - snapshot index.
  private readonly slots: SlotTable;
  // The data of entries whose frame is not written yet, by log index. An entry replaced (a
  // conflicting append) before its frame was written stays here until that frame is written;
  // the identity of the data says which of the two the slot describes.
  private readonly unwritten = new Map<number, Uint8Array>();
  // Segments in sequence order; the last one is `current`.
  private readonly segments: Segment[];
  private current!: Segment;
  // Where the next frame goes in `current` (16-aligned), and the end of the frames known valid.
  private pos = 0;
  // Bytes of `current` that exist on disk (written, synced zeros or frames).
  private allocated = 0;
  // The end of `current`'s STATE frame: a segment holding only that never rolls over.
  private stateEnd = 0;
  // The hard state and snapshot point of everything written so far (for STATE frames).
  private writtenHard: HardState;
  private writtenSnap: SnapshotMeta;

  private queue: Pending[] = [];
  private flushing = false;
  private idle: Promise<void> = Promise.resolve();
  // Written frames kept in memory, in write order (so by segment, then offset) from `cacheHead`.
  private cached: CachedFrame[] = [];
  private cacheHead = 0;
  private cachedBytes = 0;
  // Set once a write fails: the disk no longer matches the index, so later writes are refused.
  private failure: unknown;

  private constructor(
    private readonly dir: string,
    options: WalOptions,
    r: Replayed,
  ) {
    super();
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.syncOnMainThread = options.syncOnMainThread ?? true;
    this.cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.preallocate = options.preallocate ?? true;
    assert(this.segmentBytes >= 4096 && this.segmentBytes < 2 ** 31, `wal segment size ${this.segmentBytes} out of range`);
    this.index = LogIndex.load(r.snap, r.hard, r.terms);
    this.slots = r.slots;
    this.segments = r.segments;
    this.writtenHard = r.hard;
    this.writtenSnap = r.snap;
    if (r.tail === undefined) {
      this.startSegment(this.segments.length === 0 ? 0 : this.segments[this.segments.length - 1]!.seq + 1);
    } else {
      this.current = r.tail.seg;
      this.pos = r.tail.pos;
      this.allocated = r.tail.size;
      this.stateEnd = 0; // an existing segment may roll over at once
    }
  }

  /**
   * Opens (creating if absent) the log in directory `dir`: replays its segments, cuts a torn
   * tail, and throws `WalCorruptError` on damage that may hide acknowledged entries.
   */
  static open(dir: string, options: WalOptions = {}): WalLogStore {
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      fsyncDir(dirname(dir));
    }
    const r = replay(dir);
    try {
      return new WalLogStore(dir, options, r);
    } catch (err) {
      for (const s of r.segments) fs.closeSync(s.fd);
      throw err;
    }
  }

  protected readonly driverName = 'wal';

  protected get view(): LogIndex {
    return this.index;
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.entriesByPosition(lo, hi, maxBytes, (k) => this.slots.bytes(k), (k, i) => this.entryAt(k, i));
  }

  /** Entry `i`, at position `k` of the slots: held, cached or read back from its segment. */
  private entryAt(k: number, i: number): Entry {
    const slots = this.slots;
    const bytes = slots.bytes(k);
    const seq = slots.seq(k);
    let data: Uint8Array;
    if (seq === SlotTable.UNWRITTEN) {
      data = this.unwritten.get(i)!;
      assert(data !== undefined, `wal entry ${i} is neither written nor held`);
    } else {
      data = this.cachedData(seq, slots.pos(k), bytes) ?? readFully(this.segment(seq).fd, bytes, slots.pos(k));
    }
    return { term: this.index.term(i)!, index: i, type: slots.type(k) as EntryType, data };
  }

  /** The segment with sequence number `seq` (retained segments are consecutive). */
  private segment(seq: number): Segment {
    const s = this.segments[seq - this.segments[0]!.seq];
    assert(s !== undefined && s.seq === seq, `wal segment ${seq} is not open`);
    return s;
  }

  /** A view of `bytes` at `pos` of segment `seq` if a cached frame holds them. */
  private cachedData(seq: number, pos: number, bytes: number): Uint8Array | undefined {
    // Binary search for the last cached frame starting at or before (seq, pos).
    let lo = this.cacheHead;
    let hi = this.cached.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const f = this.cached[mid]!;
      if (f.seq < seq || (f.seq === seq && f.start <= pos)) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return undefined;
    const f = this.cached[found]!;
    const off = pos - f.start;
    if (f.seq !== seq || off + bytes > f.bytes.byteLength) return undefined;
    return new Uint8Array(f.bytes.buffer, f.bytes.byteOffset + off, bytes);
  }

  save(update: LogUpdate): Promise<void> {
    try {
      this.checkWritable();
      return this.enqueue(this.index.plan(update));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  compact(meta: SnapshotMeta): Promise<void> {
    try {
      this.checkWritable();
      return this.enqueue(this.index.planCompact(meta));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Saves already called still complete.
    while (this.flushing) await this.idle;
    for (const s of this.segments) fs.closeSync(s.fd);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.failure !== undefined) throw new Error('wal log store failed earlier', { cause: this.failure });
  }

  /** Applies `c` to the index and slots now, and queues it for the next frame. */
  private enqueue(c: LogChange): Promise<void> {
    const snapBefore = this.index.snapshotMeta().index;
    if (c.snapshot !== undefined) {
      if (c.keepSuffix) this.slots.dropFront(c.snapshot.index - snapBefore);
      else this.slots.clear();
    }
    if (c.puts.length > 0) {
      const snapIndex = c.snapshot?.index ?? snapBefore;
      this.slots.truncate(c.puts[0]!.index - snapIndex - 1);
      for (const e of c.puts) {
        this.slots.push(e.type, e.data.byteLength, SlotTable.UNWRITTEN, 0);
        this.unwritten.set(e.index, e.data);
      }
    }
    this.index.apply(c);
    assert(this.slots.length === this.index.lastIndex() - this.index.snapshotMeta().index, 'wal slots out of step with the index');
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ change: c, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // A microtask, so that saves called in the same synchronous run share one frame.
        queueMicrotask(() => (this.idle = this.flushLoop()));
      }
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        if (this.failure === undefined) {
          try {
            await this.writeBatch(batch);
          } catch (err) {
            this.failure = err;
          }
        }
        if (this.failure !== undefined) {
          const err = new Error('wal log store write failed', { cause: this.failure });
          for (const p of batch) p.reject(err);
        } else {
          for (const p of batch) p.resolve();
        }
        if (this.queue.length === 0 && this.failure === undefined && this.needsFill()) {
          // After the answers to this batch have gone out (their continuations run first).
          await new Promise((resolve) => setImmediate(resolve));
          try {
            await this.fill();
          } catch (err) {
            // The next frame would meet a file in an unknown state: stop, as for a frame.
            this.failure = err;
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Writes `batch` as one frame and makes it durable. */
  private async writeBatch(batch: readonly Pending[]): Promise<void> {
    const records: WalRecordInput[] = [];
    let snapshotMoved = false;
    let hard = this.writtenHard;
    let snap = this.writtenSnap;
    for (const { change: c } of batch) {
      if (c.snapshot !== undefined) {
        records.push({ kind: 'snapshot', snapshot: c.snapshot, keepSuffix: c.keepSuffix });
        snap = c.snapshot;
        snapshotMoved = true;
      }
      if (c.puts.length > 0) records.push({ kind: 'entries', entries: c.puts });
      if (c.hardState !== undefined) {
        records.push({ kind: 'hardState', hardState: c.hardState });
        hard = c.hardState;
      }
    }
    if (records.length === 0) return;
    let frame = encodeFrame(records, this.pos);
    if (this.pos + frame.bytes.byteLength > this.segmentBytes && this.pos > this.stateEnd) {
      await this.rollover();
      frame = encodeFrame(records, this.pos);
    }
    const at = this.pos;
    await this.writeFrame(frame.bytes);
    this.writtenHard = hard;
    this.writtenSnap = snap;

    // The entries are on disk: point their slots there (unless a later save replaced them:
    // then the held data is no longer theirs), and keep the frame while the cache has room.
    const seq = this.current.seq;
    const first = this.index.firstIndex();
    const last = this.index.lastIndex();
    let r = 0;
    for (const p of batch) {
      const c = p.change;
      if (c.snapshot !== undefined) r++;
      if (c.puts.length > 0) {
        const offsets = frame.entryDataOffsets[r++]!;
        for (let j = 0; j < c.puts.length; j++) {
          const e = c.puts[j]!;
          if (this.unwritten.get(e.index) !== e.data) continue;
          this.unwritten.delete(e.index);
          if (e.index >= first && e.index <= last) this.slots.setWritten(e.index - first, seq, at + offsets[j]!);
        }
      }
      if (c.hardState !== undefined) r++;
    }
    if (this.cacheBytes > 0) {
      this.cached.push({ seq, start: at, bytes: frame.bytes });
      this.cachedBytes += frame.bytes.byteLength;
    }
    this.trimCache();
    if (snapshotMoved) this.deleteOldSegments();
  }

  /** Writes `bytes` at `pos` of the current segment and fdatasyncs it. */
  private async writeFrame(bytes: Buffer): Promise<void> {
    const end = this.pos + bytes.byteLength;
    writeFully(this.current.fd, bytes, this.pos);
    if (this.syncOnMainThread) fs.fdatasyncSync(this.current.fd);
    else await fdatasyncPool(this.current.fd);
    this.pos = end;
    if (end > this.allocated) this.allocated = end;
  }

  /** Whether the room preallocated ahead of `pos` runs low (see `fill`). */
  private needsFill(): boolean {
    return this.preallocate && this.allocated - this.pos < FILL_CHUNK_BYTES / 2 && this.allocated < this.segmentBytes;
  }

  /**
   * Extends the current segment by up to FILL_CHUNK_BYTES of zeros, durably. It runs in the
   * flush loop, between frames, so it never races a frame for the same bytes, and its own
   * fdatasync writes the zeros out: a frame's fdatasync never has to. (Zero-filling on the
   * thread pool alongside the frames was tried: every frame fsync'd while a fill was under way
   * had to flush the fill's dirty pages too, which showed in the p99.) Measured here: 1 MiB of
   * zeros plus fdatasync ~0.6 ms, once per ~3000 small saves.
   */
  private async fill(): Promise<void> {
    const from = Math.max(this.allocated, this.pos);
    const bytes = Math.min(FILL_CHUNK_BYTES, this.segmentBytes - from);
    if (bytes <= 0) return;
    const zeros = Buffer.alloc(bytes);
    if (this.syncOnMainThread) {
      writeFully(this.current.fd, zeros, from);
      fs.fdatasyncSync(this.current.fd);
    } else {
      await writePool(this.current.fd, zeros, from);
      await fdatasyncPool(this.current.fd);
    }
    this.allocated = from + bytes;
  }

  /** Seals the current segment (durably) and starts the next. */
  private async rollover(): Promise<void> {
    await this.writeFrame(encodeFrame([{ kind: 'seal' }], this.pos).bytes);
    this.startSegment(this.current.seq + 1);
  }

  /**
   * Creates segment `seq` (truncating a leftover file of that name) holding one STATE frame of
   * what is written so far, durably (file and directory), and makes it current. Synchronous: it
   * runs at open and at a rollover, once per segment.
   */
  private startSegment(seq: number): void {
    const path = join(this.dir, segmentName(seq));
    const fd = fs.openSync(path, 'w+');
    const seg: Segment = { seq, path, fd };
    const state = encodeFrame([{ kind: 'state', hardState: this.writtenHard, snapshot: this.writtenSnap }], 0).bytes;
    writeFully(fd, state, 0);
    fs.fdatasyncSync(fd);
    this.segments.push(seg);
    fsyncDir(this.dir);
    this.current = seg;
    this.pos = this.stateEnd = this.allocated = state.byteLength;
  }

  /** Deletes the segments before the one holding the first retained entry (never the current one). */
  private deleteOldSegments(): void {
    const s0 = this.slots.length > 0 ? this.slots.seq(0) : SlotTable.UNWRITTEN;
    const firstLive = s0 === SlotTable.UNWRITTEN ? this.current.seq : s0;
    const keepFrom = Math.min(firstLive, this.current.seq);
    let deleted = false;
    while (this.segments.length > 1 && this.segments[0]!.seq < keepFrom) {
      const s = this.segments.shift()!;
      fs.closeSync(s.fd);
      fs.unlinkSync(s.path);
      deleted = true;
    }
    if (deleted) fsyncDir(this.dir);
  }

  private trimCache(): void {
    while (this.cachedBytes > this.cacheBytes && this.cacheHead < this.cached.length) {
      const f = this.cached[this.cacheHead]!;
      this.cached[this.cacheHead++] = undefined!;
      this.cachedBytes -= f.bytes.byteLength;
    }
    if (this.cacheHead > 64 && this.cacheHead * 2 > this.cached.length) {
      this.cached = this.cached.slice(this.cacheHead);
      this.cacheHead = 0;
    }
  }
}

/**
 * Reads every segment in `dir` and rebuilds the log (see the file comment for what counts as a
 * torn tail and what as corruption). Cuts a torn tail off the file, durably, before returning.
 */
function replay(dir: string): Replayed {
  const names = fs
    .readdirSync(dir)
    .filter((n) => SEGMENT_NAME.test(n))
    .sort();
  const segments: Segment[] = [];
  let snap: SnapshotMeta = EMPTY_SNAPSHOT_META;
  let hard: HardState = EMPTY_HARD_STATE;
  // Replayed entries: base is the index of slots[0]. Between snap.index + 1 and base there may
  // be a gap (entries of deleted segments) that a later SNAPSHOT record must cover.
  let base = 1;
  let terms: number[] = [];
  const slots = new SlotTable();
  let started = false;
  let tail: Replayed['tail'];
  try {
    // Trailing segments holding nothing but zeros (created, never written) are dropped.
    // Segments are read one at a time, so that replay holds one in memory, not all of them.
    const files = names.map((n) => ({ name: n, path: join(dir, n) }));
    let last = files.length - 1;
    while (last >= 0 && isZero(fs.readFileSync(files[last]!.path), 0, Infinity)) {
      fs.unlinkSync(files[last]!.path);
      last--;
    }
    if (last < files.length - 1) fsyncDir(dir);
    for (let k = 0; k <= last; k++) {
      const { name, path } = files[k]!;
      const file = fs.readFileSync(path);
      const isLast = k === last;
      const seq = parseInt(SEGMENT_NAME.exec(name)![1]!, 16);
      if (segments.length > 0) {
        const prev = segments[segments.length - 1]!.seq;
        if (seq !== prev + 1) throw new WalCorruptError(path, 0, `segment ${segmentName(prev + 1)} is missing`);
      }
      const seg: Segment = { seq, path, fd: fs.openSync(path, isLast ? 'r+' : 'r') };
      segments.push(seg);
      let off = 0;
      let sealed = false;
      let frames = 0;
      while (!sealed) {
        const bodyBytes = frameAt(file, off);
        if (bodyBytes === undefined) {
          // The end of the frames: clean (zeros), torn, or damage.
          for (let y = off + FRAME_HEADER_BYTES; y + FRAME_HEADER_BYTES <= file.byteLength; y += FRAME_HEADER_BYTES) {
            if (isZero(file, y, y + FRAME_HEADER_BYTES)) continue;
            if (frameAt(file, y) !== undefined) throw new WalCorruptError(path, off, `a damaged frame is followed by a valid one at ${y}`);
          }
          if (!isLast) throw new WalCorruptError(path, off, 'a segment before the last one does not end with a seal');
          break;
        }
        let records: WalRecord[];
        try {
          records = decodeBody(file, off + FRAME_HEADER_BYTES, bodyBytes);
        } catch (err) {
          if (err instanceof RecordError) throw new WalCorruptError(path, off, err.message);
          throw err;
        }
        for (let i = 0; i < records.length; i++) {
          const r = records[i]!;
          const bad = (why: string): never => {
            throw new WalCorruptError(path, off, why);
          };
          if (frames === 0 && i === 0 && r.kind !== 'state') bad('a segment does not start with a STATE record');
          switch (r.kind) {
            case 'state':
              if (frames !== 0 || i !== 0) bad('a STATE record after the start of a segment');
              if (!started) {
                snap = r.snapshot;
                hard = r.hardState;
                base = snap.index + 1;
                started = true;
              } else if (r.snapshot.index !== snap.index || r.snapshot.term !== snap.term || r.hardState.term !== hard.term || r.hardState.commit !== hard.commit || r.hardState.vote !== hard.vote) {
                bad('the STATE record disagrees with the previous segments');
              }
              break;
            case 'hardState':
              hard = r.hardState;
              break;
            case 'snapshot': {
              const s = r.snapshot;
              if (s.index < snap.index) bad(`snapshot index ${s.index} goes back from ${snap.index}`);
              const end = base + slots.length; // one past the last replayed entry
              if (!r.keepSuffix || s.index + 1 >= end) {
                slots.clear();
                terms = [];
                base = s.index + 1;
              } else if (s.index >= base) {
                slots.dropFront(s.index - base + 1);
                terms.splice(0, s.index - base + 1);
                base = s.index + 1;
              }
              snap = s;
              break;
            }
            case 'entries': {
              const lo = r.firstIndex;
              if (lo <= snap.index) bad(`entries from ${lo} are at or below the snapshot index ${snap.index}`);
              if (lo < base || lo > base + slots.length) {
                // A gap, or a rewrite inside one: the entries before lo come from deleted segments.
                slots.clear();
                terms = [];
                base = lo;
              } else {
                slots.truncate(lo - base);
                terms.length = lo - base;
              }
              for (const e of r.entries) {
                if (terms.length > 0 && e.term < terms[terms.length - 1]!) bad(`entry ${e.index} has a lower term than its predecessor`);
                slots.push(e.type, e.dataBytes, seq, e.dataPos);
                terms.push(e.term);
              }
              break;
            }
            case 'seal':
              if (i !== records.length - 1) bad('a SEAL record is not the last of its frame');
              sealed = true;
              break;
          }
        }
        frames++;
        off = align(off + FRAME_HEADER_BYTES + bodyBytes);
      }
      if (isLast) {
        let size = file.byteLength;
        if (!isZero(file, off, size)) {
          // A torn tail: never acknowledged (its fdatasync did not return). Cut it durably.
          fs.ftruncateSync(seg.fd, off);
          fs.fdatasyncSync(seg.fd);
          size = off;
        }
        // A sealed or frame-less last segment is not appended to: a new one is started.
        if (!sealed && frames > 0) tail = { seg, pos: off, size };
        else if (frames === 0) {
          // Torn while being started (its STATE frame is fsync'd before anything else goes in).
          // Only a first segment may start a log from nothing: any other one needs a predecessor.
          if (segments.length === 1 && seq !== 0) throw new WalCorruptError(path, 0, 'the only segment has no valid STATE frame');
          fs.closeSync(seg.fd);
          segments.pop();
          fs.unlinkSync(path);
          fsyncDir(dir);
        }
      }
    }
    if (slots.length > 0 && base !== snap.index + 1) {
      const at = segments[0]!;
      throw new WalCorruptError(at.path, 0, `entries ${snap.index + 1}..${base - 1} are missing (deleted segment?)`);
    }
    if (slots.length === 0) base = snap.index + 1;
  } catch (err) {
    for (const s of segments) fs.closeSync(s.fd);
    throw err;
  }
  return { snap, hard, terms, slots, segments, tail };
}
