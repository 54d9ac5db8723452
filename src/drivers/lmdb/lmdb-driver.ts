/**
 * The LMDB driver: under the data directory, `wal/` (the durable Raft log: a write-ahead log of
 * plain files, one fdatasync per group commit, see WalLogStore) and `kv/` (the backend, an LMDB
 * environment without fsync per commit, see LmdbBackend).
 *
 * Data directories written before the WAL keep their Raft log in a second LMDB environment,
 * `log/` (LmdbLogStore). On open, if `log/` exists and `wal/` does not, the old log is imported
 * into a new WAL once (see importIntoWal), then deleted. If both exist, the import finished
 * (the WAL is renamed into place last) and only the deletion was interrupted: `log/` goes.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LogStore, StorageDriver, StorageHandles } from '../../core/ports/storage-driver.js';
import { LmdbBackend } from './lmdb-backend.js';
import { LmdbLogStore } from './lmdb-log-store.js';
import type { WalOptions } from '../wal/wal-log-store.js';
import { fsyncDir } from '../wal/wal-log-store.js';
import type { LegacyLog } from '../wal/wal-import.js';
import { openWalImporting } from '../wal/wal-import.js';

/** See the file comment. Each open() opens fresh handles; close both before opening again. */
export class LmdbDriver implements StorageDriver {
  readonly kind = 'lmdb' as const;

  /** `walOptions` tune the log (tests use small segments); the defaults suit a server. */
  constructor(private readonly walOptions: WalOptions = {}) {}

  async open(dataDir: string): Promise<StorageHandles> {
    mkdirSync(dataDir, { recursive: true });
    const logStore = await openLog(dataDir, this.walOptions);
    try {
      return { backend: LmdbBackend.open(join(dataDir, 'kv')), logStore };
    } catch (err) {
      await logStore.close();
      throw err;
    }
  }
}

/** Opens `<dataDir>/wal`, importing a previous version's `<dataDir>/log` first if needed. */
function openLog(dataDir: string, options: WalOptions): Promise<LogStore> {
  const oldDir = join(dataDir, 'log');
  const legacy: LegacyLog = {
    exists: () => existsSync(join(oldDir, 'data.mdb')),
    open: () => LmdbLogStore.open(oldDir),
    remove: () => {
      rmSync(oldDir, { recursive: true, force: true });
      fsyncDir(dataDir);
    },
  };
  return openWalImporting(join(dataDir, 'wal'), legacy, options);
}
