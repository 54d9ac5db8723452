/**
 * The SQLite driver's former LogStore, kept to read data directories of earlier versions (the
 * driver now imports it into a WalLogStore on open, see sqlite-driver.ts): `<dataDir>/log.db`,
 * in WAL mode with `synchronous=FULL`, so a committed transaction's WAL frames are fsynced
 * before COMMIT returns.
 *
 *     entries (idx BLOB PRIMARY KEY, term INTEGER, type INTEGER, data BLOB) WITHOUT ROWID
 *             idx = logIndex as 8 bytes big-endian (BLOB order = numeric order)
 *     meta    (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID: 'hardState', 'snapshot' as JSON
 *
 * Group commit: better-sqlite3 is synchronous, so a commit's fsync blocks the event loop. To
 * pay it once per event-loop turn rather than once per call, save() plans its change at once
 * and queues it; a `setImmediate` callback writes every queued change in one transaction, then
 * resolves their promises in call order. Reads see the `visible` LogIndex, which moves in that
 * same callback right after COMMIT, so entries() and the index always agree.
 */
import Database from 'better-sqlite3';
import { LogStoreBase } from '../common/log-store-base.js';
import type { Entry, EntryType, HardState, LogStore, LogUpdate, SnapshotMeta } from '../../core/ports/storage-driver.js';
import { assert } from '../../core/assert.js';
import type { LogChange } from '../common/log-index.js';
import { LogIndex, fitsMaxBytes } from '../common/log-index.js';
import {
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT_META,
  asBuffer,
  checkEntry,
  decodeHardState,
  decodeSnapshotMeta,
  encodeHardState,
  encodeSnapshotMeta,
  plain,
  readU64be,
  u64be,
} from '../common/encoding.js';

type Stmt = Database.Statement;

const HARD_STATE_KEY = 'hardState';
const SNAPSHOT_KEY = 'snapshot';

interface Pending {
  readonly change: LogChange;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** See the file comment. */
export class SqliteLogStore extends LogStoreBase implements LogStore {
  private readonly db: Database.Database;
  private readonly visible: LogIndex;
  // Runs ahead of `visible` by the queued changes.
  private readonly planned: LogIndex;
  private readonly insertEntry: Stmt;
  private readonly deleteRange: Stmt;
  private readonly selectRange: Stmt;
  private readonly putMeta: Stmt;
  private readonly writeChanges: (changes: readonly LogChange[]) => void;
  private queue: Pending[] = [];
  private flushTimer: NodeJS.Immediate | undefined;
  // Set once a write fails; the store then refuses writes (storage errors on the Raft path are fatal).
  private failure: unknown;

  /** Opens (creating if absent) the log database file `file`. */
  constructor(file: string) {
    super();
    const db = (this.db = new Database(file));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(
      'CREATE TABLE IF NOT EXISTS entries (idx BLOB PRIMARY KEY NOT NULL, term INTEGER NOT NULL,' +
        ' type INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID',
    );
    db.exec('CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY NOT NULL, v TEXT NOT NULL) WITHOUT ROWID');
    this.insertEntry = db.prepare('INSERT OR REPLACE INTO entries (idx, term, type, data) VALUES (?, ?, ?, ?)');
    this.deleteRange = db.prepare('DELETE FROM entries WHERE idx >= ? AND idx < ?');
    this.selectRange = db.prepare('SELECT idx, term, type, data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').raw();
    this.putMeta = db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)');
    this.writeChanges = db.transaction((changes: readonly LogChange[]) => {
      for (const c of changes) this.writeChange(c);
    });

    const getMeta = db.prepare('SELECT v FROM meta WHERE k = ?').pluck();
    const hsText = getMeta.get(HARD_STATE_KEY) as string | undefined;
    const snapText = getMeta.get(SNAPSHOT_KEY) as string | undefined;
    const hs = hsText === undefined ? EMPTY_HARD_STATE : decodeHardState(hsText);
    const snap = snapText === undefined ? EMPTY_SNAPSHOT_META : decodeSnapshotMeta(snapText);
    const terms: number[] = [];
    let expect = snap.index + 1;
    for (const [idx, term] of db.prepare('SELECT idx, term FROM entries ORDER BY idx').raw().iterate() as IterableIterator<[Buffer, number]>) {
      const index = readU64be(idx);
      assert(index === expect, `stored log has entry ${index} where ${expect} was expected`);
      terms.push(term);
      expect++;
    }
    this.visible = LogIndex.load(snap, hs, terms);
    this.planned = this.visible.clone();
  }

  protected readonly driverName = 'sqlite';

  protected get view(): LogIndex {
    return this.visible;
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    this.checkOpen();
    this.visible.checkRange(lo, hi);
    const out: Entry[] = [];
    if (lo === hi) return out;
    let total = 0;
    let expect = lo;
    const rows = this.selectRange.iterate(u64be(lo), u64be(hi)) as IterableIterator<[Buffer, number, number, Buffer]>;
    for (const [idx, term, type, data] of rows) {
      const index = readU64be(idx);
      assert(index === expect, `log entry ${expect} is missing`);
      const e: Entry = { term, index, type: type as EntryType, data: plain(data) };
      checkEntry(e);
      assert(term === this.visible.term(index), `log entry ${index} has term ${term}, index says ${this.visible.term(index)}`);
      if (!fitsMaxBytes(out.length, total, data.byteLength, maxBytes)) break;
      total += data.byteLength;
      out.push(e);
      expect++;
    }
    assert(out.length > 0, `log entry ${lo} is missing`);
    return out;
  }

  save(update: LogUpdate): Promise<void> {
    try {
      this.checkWritable();
      return this.enqueue(this.planned.plan(update));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  compact(meta: SnapshotMeta): Promise<void> {
    try {
      this.checkWritable();
      return this.enqueue(this.planned.planCompact(meta));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.failure !== undefined) throw new Error('sqlite log store failed earlier', { cause: this.failure });
  }

  private enqueue(change: LogChange): Promise<void> {
    this.planned.apply(change);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ change, resolve, reject });
      this.flushTimer ??= setImmediate(() => this.flush());
    });
  }

  /** Writes every queued change in one transaction (one fsync), then settles them in order. */
  private flush(): void {
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (this.failure === undefined) {
      try {
        this.writeChanges(batch.map((p) => p.change));
      } catch (err) {
        this.failure = err;
      }
    }
    if (this.failure !== undefined) {
      const err = new Error('sqlite log store write failed', { cause: this.failure });
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) {
      this.visible.apply(p.change);
      p.resolve();
    }
  }

  private writeChange(c: LogChange): void {
    for (const [lo, hi] of c.deletes) this.deleteRange.run(u64be(lo), u64be(hi));
    for (const e of c.puts) {
      checkEntry(e);
      this.insertEntry.run(u64be(e.index), e.term, e.type, asBuffer(e.data));
    }
    if (c.snapshot !== undefined) this.putMeta.run(SNAPSHOT_KEY, encodeSnapshotMeta(c.snapshot));
    if (c.hardState !== undefined) this.putMeta.run(HARD_STATE_KEY, encodeHardState(c.hardState));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Saves already called still complete: write them now rather than on the next turn.
    this.flush();
    this.closed = true;
    this.db.close();
  }
}
