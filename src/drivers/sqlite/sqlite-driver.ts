/**
 * The SQLite driver (better-sqlite3): two database files under the data directory, `log.db`
 * (the durable Raft log, synchronous=FULL) and `kv.db` (the backend, synchronous=NORMAL). Two
 * files rather than two tables in one so that each gets its own durability setting and a
 * backend commit never waits for a log fsync.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LogStore, StorageDriver, StorageHandles } from '../../core/ports/storage-driver.js';
import { SqliteBackend } from './sqlite-backend.js';
import { SqliteLogStore } from './sqlite-log-store.js';
import { fsyncDir } from '../wal/wal-log-store.js';
import { openWalImporting } from '../wal/wal-import.js';

/** See the file comment. Each open() opens fresh handles; close both before opening again. */
export class SqliteDriver implements StorageDriver {
  readonly kind = 'sqlite' as const;

  async open(dataDir: string): Promise<StorageHandles> {
    mkdirSync(dataDir, { recursive: true });
    const logStore = await openLog(dataDir);
    try {
      return { backend: new SqliteBackend(join(dataDir, 'kv.db')), logStore };
    } catch (err) {
      await logStore.close();
      throw err;
    }
  }
}

async function openLog(dataDir: string): Promise<LogStore> {
  const file = join(dataDir, 'log.db');
  if (process.env['SQLITE_LOG'] === 'sqlite') return new SqliteLogStore(file); // TEMP
  return openWalImporting(join(dataDir, 'wal'), {
    exists: () => existsSync(file),
    open: () => new SqliteLogStore(file),
    remove: () => {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      fsyncDir(dataDir);
    },
  });
}
