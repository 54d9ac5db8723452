/**
 * The SQLite driver's Backend: `<dataDir>/kv.db`, one table per bucket:
 *
 *     CREATE TABLE bucket_<name> (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID
 *
 * SQLite compares BLOBs with memcmp (shorter first on a common prefix), which is the byte order
 * the port requires; WITHOUT ROWID stores the rows in that key's B-tree itself.
 *
 * Durability: WAL with `synchronous=NORMAL`: a commit appends to the WAL without fsync (the log
 * is the durable truth) yet the database stays consistent after a crash. `sync()` runs a FULL
 * checkpoint, which in this mode fsyncs the WAL before copying it back and the database file
 * after.
 */
import Database from 'better-sqlite3';
import type { Backend, BackendOp, Bucket, RangeOptions } from '../../core/ports/storage-driver.js';
import { BUCKETS } from '../../core/ports/storage-driver.js';
import { asBuffer, plain, validateBackendOps, validateBucket } from '../common/encoding.js';

type Db = Database.Database;
type Stmt = Database.Statement;

interface BucketStatements {
  readonly get: Stmt;
  readonly put: Stmt;
  readonly del: Stmt;
}

/** See the file comment. */
export class SqliteBackend implements Backend {
  private readonly db: Db;
  private readonly stmts = new Map<Bucket, BucketStatements>();
  // Range statements by shape (bucket, which bounds, direction), prepared on first use.
  private readonly rangeStmts = new Map<string, Stmt>();
  private readonly applyOps: (ops: readonly BackendOp[]) => void;
  private readonly pageCount: Stmt;
  private readonly pageSize: number;
  private closed = false;

  /** Opens (creating if absent) the backend database file `file`. */
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    for (const b of BUCKETS) {
      const t = tableName(b);
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${t} (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID`);
      this.stmts.set(b, {
        get: this.db.prepare(`SELECT v FROM ${t} WHERE k = ?`).pluck(),
        put: this.db.prepare(`INSERT OR REPLACE INTO ${t} (k, v) VALUES (?, ?)`),
        del: this.db.prepare(`DELETE FROM ${t} WHERE k = ?`),
      });
    }
    // better-sqlite3's transaction() wraps in BEGIN/COMMIT and rolls back if the function throws.
    this.applyOps = this.db.transaction((ops: readonly BackendOp[]) => {
      for (const op of ops) {
        const s = this.stmts.get(op.bucket)!;
        if (op.type === 'put') s.put.run(asBuffer(op.key), asBuffer(op.value));
        else s.del.run(asBuffer(op.key));
      }
    });
    this.pageCount = this.db.prepare('PRAGMA page_count').pluck();
    this.pageSize = this.db.pragma('page_size', { simple: true }) as number;
  }

  private bucket(bucket: Bucket): BucketStatements {
    if (this.closed) throw new Error('sqlite backend is closed');
    validateBucket(bucket);
    return this.stmts.get(bucket)!;
  }

  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined {
    const v = this.bucket(bucket).get.get(asBuffer(key)) as Buffer | undefined;
    return v === undefined ? undefined : plain(v);
  }

  *range(bucket: Bucket, options: RangeOptions = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    this.bucket(bucket);
    const { start, end } = options;
    if (start !== undefined && end !== undefined && Buffer.compare(start, end) >= 0) return;
    const reverse = options.reverse === true;
    const stmt = this.rangeStmt(bucket, start !== undefined, end !== undefined, reverse);
    const params: unknown[] = [];
    if (start !== undefined) params.push(asBuffer(start));
    if (end !== undefined) params.push(asBuffer(end));
    params.push(options.limit !== undefined && options.limit > 0 ? options.limit : -1);
    // NB: while this iterator is open the connection is busy: reads work, writes throw. The
    // port forbids commit() before the iterator finishes or is returned, which closes it.
    for (const row of stmt.iterate(...params) as IterableIterator<[Buffer, Buffer]>) {
      yield [plain(row[0]), plain(row[1])];
    }
  }

  private rangeStmt(bucket: Bucket, hasStart: boolean, hasEnd: boolean, reverse: boolean): Stmt {
    const shape = `${bucket}:${hasStart ? 's' : ''}${hasEnd ? 'e' : ''}${reverse ? 'r' : ''}`;
    let stmt = this.rangeStmts.get(shape);
    // A statement runs one query at a time; a second open range of the same shape (nested
    // iteration) gets a fresh, uncached statement.
    if (stmt === undefined || stmt.busy) {
      const where = [hasStart ? 'k >= ?' : '', hasEnd ? 'k < ?' : ''].filter((c) => c !== '').join(' AND ');
      const sql =
        `SELECT k, v FROM ${tableName(bucket)}` +
        (where === '' ? '' : ` WHERE ${where}`) +
        ` ORDER BY k ${reverse ? 'DESC' : 'ASC'} LIMIT ?`;
      const fresh = this.db.prepare(sql).raw();
      if (stmt === undefined) this.rangeStmts.set(shape, fresh);
      stmt = fresh;
    }
    return stmt;
  }

  commit(ops: readonly BackendOp[]): void {
    if (this.closed) throw new Error('sqlite backend is closed');
    validateBackendOps(ops);
    if (ops.length === 0) return;
    this.applyOps(ops);
  }

  async sync(): Promise<void> {
    if (this.closed) throw new Error('sqlite backend is closed');
    const [r] = this.db.pragma('wal_checkpoint(FULL)') as { busy: number; log: number; checkpointed: number }[];
    // A partial checkpoint (a reader still on an older snapshot) would leave WAL frames unsynced.
    if (r === undefined || r.busy !== 0 || r.checkpointed < r.log) {
      throw new Error(`sqlite backend sync: checkpoint incomplete ${JSON.stringify(r)}`);
    }
  }

  /** VACUUM: SQLite rebuilds the file without its free pages (prepared statements survive). */
  defragment(): void {
    if (this.closed) throw new Error('sqlite backend is closed');
    this.db.exec('VACUUM');
  }

  sizeBytes(): number {
    if (this.closed) throw new Error('sqlite backend is closed');
    return (this.pageCount.get() as number) * this.pageSize;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function tableName(bucket: Bucket): string {
  // Bucket names come from the closed BUCKETS list (validated), so interpolation is safe.
  return `bucket_${bucket}`;
}
