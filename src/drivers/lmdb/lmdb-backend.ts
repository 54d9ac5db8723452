/**
 * The LMDB driver's Backend: one LMDB environment (`<dataDir>/kv/data.mdb`) with one named
 * sub-database per bucket, raw binary keys and values. LMDB compares keys with memcmp (shorter
 * first on a common prefix), which is exactly the byte order the port requires.
 *
 * Durability: the environment is opened with `noSync`, so `commit()` is one synchronous write
 * transaction on the main thread with no fsync (measured: ~15 µs instead of ~220 µs with sync).
 * The log is the durable truth; `sync()` forces an fsync (mdb_env_sync(force=1) on lmdb-js's
 * worker thread). NB: LMDB documents that with MDB_NOSYNC a crash of the *operating system*
 * (not of the process) may corrupt the environment unless the file system preserves write order;
 * a killed process loses nothing that was committed (the pages are in the OS cache).
 *
 * Defragmentation. LMDB reuses freed pages but never shrinks its file, so a backend that once
 * grew past the space quota would stay there. `defragment()` rebuilds the file compactly:
 *
 *     1. copy     mdb_env_copy2(MDB_CP_COMPACT) into <dir>/defrag-copy/ on a worker thread,
 *                 and fsync it there; commits go on meanwhile (to the live file) and are also
 *                 kept in a journal
 *     2. replay   the journal onto the copy, in one transaction
 *     3. fsync    the copy                           ┐
 *     4. close    the live environment               │ one synchronous run: no commit,
 *     5. rename   defrag-copy/data.mdb → data.mdb    │ read or sync interleaves
 *     6. fsync    the directory; reopen, re-open dbs ┘
 *
 * NB: a compacting copy leaves out free pages but does not repack leaves (bbolt's defrag, which
 * copies key by key, does): a leaf page that deletions left sparse (LMDB merges a page only
 * below a quarter full) stays as it is. What deletions and compactions free in bulk — whole
 * pages, overflow pages of large values — goes back to the file system.
 *
 * Replaying is right whichever commits the copy's read snapshot already holds: a journal of
 * puts and deletes, replayed in order over any prefix of itself, leaves every key as the last
 * op on it says, and the keys it does not touch as they were. A crash before step 5 leaves the
 * old file complete (and a stray defrag-copy/, removed at the next open); the rename is atomic,
 * and the copy was durable before it, so a crash after it leaves the new file complete.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, promises as fsPromises, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import type { Backend, BackendOp, Bucket, RangeOptions } from '../../core/ports/storage-driver.js';
import { BUCKETS } from '../../core/ports/storage-driver.js';
import { asBuffer, plain, validateBackendOps, validateBucket } from '../common/encoding.js';

type RootDb = ReturnType<typeof open>;
type Db = ReturnType<RootDb['openDB']>;

/** The range options lmdb-js reads (its d.ts namespace does not export the interface). */
interface LmdbRange {
  start?: Buffer;
  end?: Buffer;
  reverse?: boolean;
  limit?: number;
  exclusiveStart?: boolean;
  inclusiveEnd?: boolean;
}

// The smallest non-empty key. Reverse scans without a lower bound must pass it explicitly
// (inclusive): lmdb-js otherwise stops at its default beginning key, exclusive, which for
// binary keys silently drops the key 0x00.
const LOWEST_KEY = Buffer.from([0]);

/** The directory, inside the environment's, where defragment() builds the compacted copy. */
const DEFRAG_DIR = 'defrag-copy';
const DATA_FILE = 'data.mdb';

/**
 * The points of defragment() after which a test may simulate a crash (see the file comment):
 * the copy is made, the journal replayed onto it, the copy fsynced, the live environment
 * closed, the copy renamed over the live file (and the directory fsynced), the file reopened.
 */
export type DefragStep = 'copied' | 'replayed' | 'synced' | 'closed' | 'renamed' | 'reopened';

/** Options of LmdbBackend.open. */
export interface LmdbBackendOptions {
  /** Test hook: called at each step of defragment(); a crash test kills the process there. */
  readonly onDefragStep?: (step: DefragStep) => void;
}

function openEnv(dir: string): RootDb {
  // NB: noSubdir explicitly, since lmdb-js guesses a single-file environment from a path with
  // an extension.
  return open({ path: dir, noSubdir: false, noSync: true, maxDbs: BUCKETS.length + 2 });
}

function openDbs(env: RootDb): Map<Bucket, Db> {
  const dbs = new Map<Bucket, Db>();
  for (const b of BUCKETS) dbs.set(b, env.openDB({ name: `bucket.${b}`, keyEncoding: 'binary', encoding: 'binary' }));
  return dbs;
}

/**
 * Closes `env` now. lmdb-js closes a root environment synchronously when it has no asynchronous
 * write or read in flight, which this backend never starts (its commits are transactionSync and
 * its reads synchronous); the swap in defragment() relies on it, since lmdb-js shares one native
 * environment per path: reopening before the close completed would map the old file again.
 */
function closeEnvNow(env: RootDb): void {
  void env.close();
  const status = (env as unknown as { status: string }).status;
  if (status !== 'closed') throw new Error(`lmdb environment did not close synchronously (${status})`);
}

/** fsync(2) of a file or a directory, so that its data or its entries are durable. */
function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncPath on libuv's thread pool. */
async function fsyncPathAsync(path: string): Promise<void> {
  const fh = await fsPromises.open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** See the file comment. */
export class LmdbBackend implements Backend {
  private env: RootDb;
  private dbs: Map<Bucket, Db>;
  private closed = false;
  /** The defragmentation in progress, which every defragment() call meanwhile joins. */
  private defragging: Promise<void> | undefined;
  /** While a compacted copy is being made: copies of the batches committed since it began. */
  private journal: BackendOp[][] | undefined;
  /** sync() calls in flight; the environment must not close under one (it runs on a worker). */
  private readonly syncs = new Set<Promise<void>>();

  private constructor(
    private readonly dir: string,
    private readonly options: LmdbBackendOptions,
  ) {
    this.env = openEnv(dir);
    this.dbs = openDbs(this.env);
  }

  /**
   * Opens (creating if absent) the backend environment in directory `dir`. A compacted copy left
   * by a defragmentation that crashed is removed: the live file is complete either way.
   */
  static open(dir: string, options: LmdbBackendOptions = {}): LmdbBackend {
    rmSync(join(dir, DEFRAG_DIR), { recursive: true, force: true });
    return new LmdbBackend(dir, options);
  }

  private db(bucket: Bucket): Db {
    if (this.closed) throw new Error('lmdb backend is closed');
    validateBucket(bucket);
    return this.dbs.get(bucket)!;
  }

  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined {
    // With encoding 'binary', get() returns a fresh copy (getBinary), safe to keep.
    const v = this.db(bucket).get(asBuffer(key)) as Buffer | undefined;
    return v === undefined ? undefined : plain(v);
  }

  *range(bucket: Bucket, options: RangeOptions = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    const db = this.db(bucket);
    const { start, end } = options;
    if (start !== undefined && end !== undefined && Buffer.compare(start, end) >= 0) return;
    const q: LmdbRange = {};
    if (options.reverse) {
      // lmdb-js walks a reverse range from `start` (high) down to `end` (low); the port's
      // [start, end) becomes: from our end, exclusive, down to our start, inclusive.
      q.reverse = true;
      if (end !== undefined) {
        q.start = asBuffer(end);
        q.exclusiveStart = true;
      }
      q.end = start !== undefined ? asBuffer(start) : LOWEST_KEY;
      q.inclusiveEnd = true;
    } else {
      if (start !== undefined) q.start = asBuffer(start);
      if (end !== undefined) q.end = asBuffer(end);
    }
    if (options.limit !== undefined && options.limit > 0) q.limit = options.limit;
    // Keys come back as copies (Uint8Array.slice of lmdb-js's key buffer) and values as copies
    // too with encoding 'binary', so the pairs stay valid after the cursor moves on. Breaking
    // out of this loop (the caller's return()) closes the cursor and its read transaction.
    for (const { key, value } of db.getRange(q)) {
      yield [plain(key as Buffer), plain(value as Buffer)];
    }
  }

  commit(ops: readonly BackendOp[]): void {
    if (this.closed) throw new Error('lmdb backend is closed');
    validateBackendOps(ops);
    if (ops.length === 0) return;
    if (this.journal !== undefined) this.journal.push(ops.map(copyOp));
    // One synchronous transaction: an exception inside aborts it, so a batch is all or nothing.
    this.env.transactionSync(() => {
      for (const op of ops) {
        const db = this.dbs.get(op.bucket)!;
        if (op.type === 'put') db.putSync(asBuffer(op.key), asBuffer(op.value));
        else db.removeSync(asBuffer(op.key));
      }
    });
  }

  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('lmdb backend is closed'));
    // NB: `env.flushed` would not fsync a noSync environment; sync(callback) runs
    // mdb_env_sync(env, force=1) on a worker thread, which does (it is not in lmdb-js's d.ts).
    const env = this.env as unknown as { sync(cb: (err?: unknown) => void): void };
    const done = new Promise<void>((resolve, reject) => env.sync((err) => (err ? reject(err) : resolve())));
    this.syncs.add(done);
    const forget = (): void => void this.syncs.delete(done);
    done.then(forget, forget);
    return done;
  }

  sizeBytes(): number {
    return statSync(join(this.dir, DATA_FILE)).size;
  }

  /**
   * Rewrites the file compactly (see the file comment) and resolves once `sizeBytes()` reports
   * the compacted file. Commits, reads and syncs may go on while it runs. Calls made while one
   * runs join it. On an error before the swap the live file is untouched and the backend stays
   * usable; an error once the live environment is closed (reopening failed) leaves it closed,
   * and the member must stop, as after any storage error.
   */
  defragment(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('lmdb backend is closed'));
    this.defragging ??= this.runDefragment().finally(() => {
      this.defragging = undefined;
    });
    return this.defragging;
  }

  private async runDefragment(): Promise<void> {
    const tmp = join(this.dir, DEFRAG_DIR);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const journal: BackendOp[][] = [];
    // The journal starts before the copy's read transaction (taken later, on the worker), so
    // every commit that the copy may miss is in it.
    this.journal = journal;
    try {
      await this.env.backup(tmp, true);
      // The bulk of the copy goes to disk here, off the event loop; the fsync of the swap then
      // only has the replayed pages left to write.
      await fsyncPathAsync(join(tmp, DATA_FILE));
      this.step('copied');
      // The live environment closes below; no sync may be running on it then.
      while (this.syncs.size > 0) await Promise.allSettled([...this.syncs]);
      // close() came while copying: leave the live file as it is.
      if (this.closed) return;
      // From here on, synchronous: nothing else runs until the swap is done.
      this.journal = undefined;
      this.swapIn(tmp, journal);
    } finally {
      this.journal = undefined;
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Steps 2–6 of the file comment. Synchronous. */
  private swapIn(tmp: string, journal: readonly BackendOp[][]): void {
    const copyFile = join(tmp, DATA_FILE);
    if (journal.length > 0) {
      const copy = openEnv(tmp);
      try {
        const dbs = openDbs(copy);
        copy.transactionSync(() => {
          for (const ops of journal) {
            for (const op of ops) {
              const db = dbs.get(op.bucket)!;
              if (op.type === 'put') db.putSync(asBuffer(op.key), asBuffer(op.value));
              else db.removeSync(asBuffer(op.key));
            }
          }
        });
      } finally {
        closeEnvNow(copy);
      }
    }
    this.step('replayed');
    fsyncPath(copyFile);
    this.step('synced');
    closeEnvNow(this.env);
    this.step('closed');
    try {
      renameSync(copyFile, join(this.dir, DATA_FILE));
      fsyncPath(this.dir);
    } catch (err) {
      // The live file is whole whether or not the rename happened: go on with it.
      this.reopen();
      throw err;
    }
    this.step('renamed');
    this.reopen();
    this.step('reopened');
  }

  private reopen(): void {
    try {
      this.env = openEnv(this.dir);
      this.dbs = openDbs(this.env);
    } catch (err) {
      this.closed = true;
      throw err;
    }
  }

  private step(step: DefragStep): void {
    this.options.onDefragStep?.(step);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.defragging?.catch(() => undefined);
    await Promise.allSettled([...this.syncs]);
    await this.env.close();
  }
}

/** A batch op with its own copies of the bytes (the caller may reuse its buffers later). */
function copyOp(op: BackendOp): BackendOp {
  return op.type === 'put'
    ? { type: 'put', bucket: op.bucket, key: Uint8Array.from(op.key), value: Uint8Array.from(op.value) }
    : { type: 'del', bucket: op.bucket, key: Uint8Array.from(op.key) };
}
