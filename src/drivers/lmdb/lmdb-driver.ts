/**
 * The LMDB driver: two LMDB environments under the data directory, `log/` (the durable Raft log,
 * fsync per group commit) and `kv/` (the backend, no fsync per commit). See LmdbLogStore and
 * LmdbBackend for why they differ.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StorageDriver, StorageHandles } from '../../core/ports/storage-driver.js';
import { LmdbBackend } from './lmdb-backend.js';
import { LmdbLogStore } from './lmdb-log-store.js';

/** See the file comment. Each open() opens fresh handles; close both before opening again. */
export class LmdbDriver implements StorageDriver {
  readonly kind = 'lmdb' as const;

  async open(dataDir: string): Promise<StorageHandles> {
    mkdirSync(dataDir, { recursive: true });
    const logStore = LmdbLogStore.open(join(dataDir, 'log'));
    try {
      return { backend: LmdbBackend.open(join(dataDir, 'kv')), logStore };
    } catch (err) {
      await logStore.close();
      throw err;
    }
  }
}
