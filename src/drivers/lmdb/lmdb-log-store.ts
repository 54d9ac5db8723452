/**
 * The LMDB driver's former LogStore, kept to read data directories of earlier versions (the
 * driver now imports it into a WalLogStore on open, see lmdb-driver.ts): its own LMDB
 * environment (`<dataDir>/log/data.mdb`), separate from the backend's because the two want
 * opposite durability settings. Two sub-databases:
 *
 *     entries   key: logIndex, 8 bytes big-endian     value: term u64be | type u8 | data
 *     meta      'hardState' → JSON    'snapshot' → JSON (SnapshotMeta)
 *
 * Durability: opened with `overlappingSync: false` and without `noSync`. lmdb-js then begins its
 * batched write transactions with flags 0 (writer.cpp: MDB_NOSYNC is only used with
 * overlappingSync), so mdb_txn_commit fdatasyncs before the commit is flagged done, and the write
 * promises resolve only after that (the default, overlappingSync, resolves *before* the flush).
 *
 * Group commit: lmdb-js puts every asynchronous write of one event turn into one transaction,
 * committed (and fsynced) on its worker thread, off the event loop. Each save() is additionally
 * wrapped in `batch()`, which keeps its deletes, puts and metadata in one transaction whatever
 * else happens in that turn. Transactions commit in call order, so saves apply in call order.
 *
 * Reads. The worker commits while JavaScript runs, so LMDB's own view may be at any committed
 * transaction between the last resolved save and the last called one. Reads therefore never
 * depend on which: firstIndex/lastIndex/term/hardState/snapshotMeta come from the `index`, which
 * moves when save() is *called*; entries() takes an entry from `pending` (the entries of saves
 * not yet resolved, newest writer wins) when it is there, and from LMDB otherwise. An entry in
 * the index's range that is not pending was written by a resolved save and touched by no
 * unresolved one, so every committed view of LMDB agrees on it. NB: so reads run ahead of
 * durability (as the memory driver's do); the port only promises they reflect a save once it
 * resolves. If a write fails the store refuses all later writes: the member must stop.
 */
import { open } from 'lmdb';
import { LogStoreBase } from '../common/log-store-base.js';
import type { Entry, EntryType, HardState, LogStore, LogUpdate, SnapshotMeta } from '../../core/ports/storage-driver.js';
import { assert } from '../../core/assert.js';
import type { LogChange } from '../common/log-index.js';
import { LogIndex, fitsMaxBytes } from '../common/log-index.js';
import {
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT_META,
  checkEntry,
  decodeHardState,
  decodeSnapshotMeta,
  encodeHardState,
  encodeSnapshotMeta,
  plain,
  readU64be,
  u64be,
} from '../common/encoding.js';

type RootDb = ReturnType<typeof open>;
type Db = ReturnType<RootDb['openDB']>;

const HARD_STATE_KEY = 'hardState';
const SNAPSHOT_KEY = 'snapshot';
const ENTRY_HEADER_BYTES = 9;

/** Encodes an entry's value (the index is the key). */
function encodeEntry(e: Entry): Buffer {
  checkEntry(e);
  const b = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + e.data.byteLength);
  b.writeBigUInt64BE(BigInt(e.term), 0);
  b.writeUInt8(e.type, 8);
  b.set(e.data, ENTRY_HEADER_BYTES);
  return b;
}

/** Decodes a stored entry value; `v` must be a buffer the caller owns. */
function decodeEntry(index: number, v: Buffer): Entry {
  assert(v.byteLength >= ENTRY_HEADER_BYTES, `stored entry ${index} is too short`);
  const e: Entry = {
    term: readU64be(v, 0),
    index,
    type: v.readUInt8(8) as EntryType,
    data: plain(v.subarray(ENTRY_HEADER_BYTES)),
  };
  checkEntry(e);
  return e;
}

/** See the file comment. Open it with `LmdbLogStore.open(dir)`. */
export class LmdbLogStore extends LogStoreBase implements LogStore {
  private readonly index: LogIndex;
  // Entries of saves not yet resolved, by logIndex; `seq` names the save that wrote it last.
  private readonly pending = new Map<number, { readonly entry: Entry; readonly seq: number }>();
  private seq = 0;
  // Settles after the latest save (never rejects: it only orders no-op saves and close()).
  private tail: Promise<void> = Promise.resolve();
  // Set once a write fails: the planned state no longer matches the disk, so the store refuses
  // further writes (a storage error on the Raft path is fatal).
  private failure: unknown;

  private constructor(
    private readonly env: RootDb,
    private readonly entriesDb: Db,
    private readonly metaDb: Db,
  ) {
    super();
    const hsText = metaDb.get(HARD_STATE_KEY) as string | undefined;
    const snapText = metaDb.get(SNAPSHOT_KEY) as string | undefined;
    const hs = hsText === undefined ? EMPTY_HARD_STATE : decodeHardState(hsText);
    const snap = snapText === undefined ? EMPTY_SNAPSHOT_META : decodeSnapshotMeta(snapText);
    const terms: number[] = [];
    let expect = snap.index + 1;
    for (const { key, value } of entriesDb.getRange({})) {
      const index = readU64be(key as Buffer);
      assert(index === expect, `stored log has entry ${index} where ${expect} was expected`);
      terms.push(decodeEntry(index, value as Buffer).term);
      expect++;
    }
    this.index = LogIndex.load(snap, hs, terms);
  }

  /** Opens (creating if absent) the log environment in directory `dir`. */
  static open(dir: string): LmdbLogStore {
    const env = open({ path: dir, overlappingSync: false, maxDbs: 4 });
    const entriesDb = env.openDB({ name: 'entries', keyEncoding: 'binary', encoding: 'binary' });
    const metaDb = env.openDB({ name: 'meta', encoding: 'string' });
    return new LmdbLogStore(env, entriesDb, metaDb);
  }

  protected readonly driverName = 'lmdb';

  protected get view(): LogIndex {
    return this.index;
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    this.checkOpen();
    this.index.checkRange(lo, hi);
    const out: Entry[] = [];
    let total = 0;
    const take = (e: Entry): boolean => {
      assert(e.term === this.index.term(e.index), `log entry ${e.index} has term ${e.term}, index says ${this.index.term(e.index)}`);
      if (!fitsMaxBytes(out.length, total, e.data.byteLength, maxBytes)) return false;
      total += e.data.byteLength;
      out.push(e);
      return true;
    };
    // Below the lowest pending index, one cursor over LMDB; from there on, entry by entry.
    let firstPending = hi;
    for (const i of this.pending.keys()) if (i >= lo && i < firstPending) firstPending = i;
    let next = lo;
    if (lo < firstPending) {
      for (const { key, value } of this.entriesDb.getRange({ start: u64be(lo), end: u64be(firstPending) })) {
        const index = readU64be(key as Buffer);
        assert(index === next, `log entry ${next} is missing`);
        if (!take(decodeEntry(index, value as Buffer))) return out;
        next++;
      }
      assert(next === firstPending, `log entry ${next} is missing`);
    }
    for (; next < hi; next++) {
      let e = this.pending.get(next)?.entry;
      if (e === undefined) {
        const v = this.entriesDb.get(u64be(next)) as Buffer | undefined;
        assert(v !== undefined, `log entry ${next} is missing`);
        e = decodeEntry(next, v);
      }
      if (!take(e)) break;
    }
    return out;
  }

  save(update: LogUpdate): Promise<void> {
    try {
      this.checkWritable();
      const change = this.index.plan(update);
      const done = this.write(change);
      this.index.apply(change);
      return done;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  compact(meta: SnapshotMeta): Promise<void> {
    try {
      this.checkWritable();
      const change = this.index.planCompact(meta);
      const done = this.write(change);
      this.index.apply(change);
      return done;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.failure !== undefined) throw new Error('lmdb log store failed earlier', { cause: this.failure });
  }

  private write(c: LogChange): Promise<void> {
    const hasWrites = c.deletes.length > 0 || c.puts.length > 0 || c.snapshot !== undefined || c.hardState !== undefined;
    let written: Promise<unknown> = this.tail;
    if (hasWrites) {
      try {
        written = this.entriesDb.batch(() => {
          for (const [lo, hi] of c.deletes) for (let i = lo; i < hi; i++) this.entriesDb.remove(u64be(i));
          for (const e of c.puts) this.entriesDb.put(u64be(e.index), encodeEntry(e));
          if (c.snapshot !== undefined) this.metaDb.put(SNAPSHOT_KEY, encodeSnapshotMeta(c.snapshot));
          if (c.hardState !== undefined) this.metaDb.put(HARD_STATE_KEY, encodeHardState(c.hardState));
        });
      } catch (err) {
        // Part of the batch may be queued already: what reaches the disk is unknown.
        this.failure ??= err;
        throw err;
      }
    }
    const seq = ++this.seq;
    for (const e of c.puts) this.pending.set(e.index, { entry: e, seq });
    const done = written.then(
      () => {
        if (this.failure !== undefined) throw new Error('lmdb log store failed earlier', { cause: this.failure });
        // Drop this save's entries from `pending` on a later turn, once lmdb-js has certainly
        // renewed its read transaction past this commit (it does so as it resolves).
        if (c.puts.length > 0) {
          setImmediate(() => {
            for (const e of c.puts) if (this.pending.get(e.index)?.seq === seq) this.pending.delete(e.index);
          });
        }
      },
      (err: unknown) => {
        this.failure ??= err;
        throw err;
      },
    );
    this.tail = done.catch(() => {});
    return done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.env.close();
  }
}
