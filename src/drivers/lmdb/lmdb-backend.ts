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
 */
import { statSync } from 'node:fs';
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

/** See the file comment. */
export class LmdbBackend implements Backend {
  private readonly dbs = new Map<Bucket, Db>();
  private closed = false;

  private constructor(
    private readonly env: RootDb,
    private readonly dir: string,
  ) {
    for (const b of BUCKETS) {
      this.dbs.set(b, env.openDB({ name: `bucket.${b}`, keyEncoding: 'binary', encoding: 'binary' }));
    }
  }

  /** Opens (creating if absent) the backend environment in directory `dir`. */
  static open(dir: string): LmdbBackend {
    const env = open({ path: dir, noSync: true, maxDbs: BUCKETS.length + 2 });
    return new LmdbBackend(env, dir);
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
    return new Promise((resolve, reject) => env.sync((err) => (err ? reject(err) : resolve())));
  }

  sizeBytes(): number {
    return statSync(join(this.dir, 'data.mdb')).size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.env.close();
  }
}
