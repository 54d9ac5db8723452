/**
 * One-time import of another LogStore into a new write-ahead log, for data directories written
 * before the WAL existed (the LMDB driver's old `log/` environment).
 *
 * Crash safety: the WAL is built under `<target>.import`, closed (every save fsync'd), then
 * renamed to `<target>` and the parent directory fsync'd. Until that rename the old log is the
 * truth and a crashed import is redone from scratch; after it the WAL is, and the caller deletes
 * the old log (a leftover one is ignored and deleted on the next open).
 */
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import type { LogStore } from '../../core/ports/storage-driver.js';
import { assert } from '../../core/assert.js';
import type { WalOptions } from './wal-log-store.js';
import { WalLogStore, fsyncDir } from './wal-log-store.js';

/** Entries per save while importing (bounds the memory of one frame). */
const IMPORT_BATCH = 1024;

/**
 * Copies `from` (snapshot point, entries, hard state) into a new WAL at `target`, which must not
 * exist yet. `from` stays open; the caller closes and removes it.
 */
export async function importIntoWal(from: LogStore, target: string, options: WalOptions = {}): Promise<void> {
  assert(!fs.existsSync(target), `wal import: ${target} exists already`);
  const tmp = `${target}.import`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const wal = WalLogStore.open(tmp, options);
  try {
    const snap = from.snapshotMeta();
    if (snap.index > 0) await wal.save({ snapshot: snap });
    const last = from.lastIndex();
    for (let lo = from.firstIndex(); lo <= last; ) {
      const hi = Math.min(last + 1, lo + IMPORT_BATCH);
      const entries = from.entries(lo, hi);
      await wal.save({ entries });
      lo += entries.length;
    }
    await wal.save({ hardState: from.hardState() });
    assert(wal.lastIndex() === last && wal.firstIndex() === from.firstIndex(), 'wal import: the imported log differs');
  } finally {
    await wal.close();
  }
  fs.renameSync(tmp, target);
  fsyncDir(dirname(target));
}

/** A previous version's log in a data directory, as `openWalImporting` needs to see it. */
export interface LegacyLog {
  /** Whether it is there. */
  exists(): boolean;
  /** Opens it for reading. */
  open(): LogStore;
  /** Deletes it (after a finished import), durably. */
  remove(): void;
}

/**
 * Opens the WAL in `walDir`; if `legacy` exists and the WAL does not, imports it first. If both
 * exist, an earlier import finished (the WAL is renamed into place last) and only the deletion
 * of the old log was interrupted: it is deleted now, not imported again.
 */
export async function openWalImporting(walDir: string, legacy: LegacyLog, options: WalOptions = {}): Promise<WalLogStore> {
  if (legacy.exists()) {
    if (!fs.existsSync(walDir)) {
      const old = legacy.open();
      try {
        await importIntoWal(old, walDir, options);
      } finally {
        await old.close();
      }
    }
    legacy.remove();
  }
  return WalLogStore.open(walDir, options);
}
