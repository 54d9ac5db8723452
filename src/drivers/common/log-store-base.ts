/**
 * The read side that every driver's LogStore answers the same way: from its in-memory
 * `LogIndex` (hard state, snapshot point, terms), after checking the store is open. Drivers
 * differ in how they store entries and make saves durable, not in these answers.
 */
import type { Entry, HardState, SnapshotMeta } from '../../core/ports/storage-driver.js';
import type { LogIndex } from './log-index.js';
import { fitsMaxBytes } from './log-index.js';

export abstract class LogStoreBase {
  protected closed = false;

  /** Used in the "is closed" error, e.g. 'lmdb'. */
  protected abstract readonly driverName: string;

  /** The index that reads answer from (what saves have made visible). */
  protected abstract get view(): LogIndex;

  protected checkOpen(): void {
    if (this.closed) throw new Error(`${this.driverName} log store is closed`);
  }

  hardState(): HardState {
    this.checkOpen();
    return this.view.hardState();
  }

  snapshotMeta(): SnapshotMeta {
    this.checkOpen();
    return this.view.snapshotMeta();
  }

  firstIndex(): number {
    this.checkOpen();
    return this.view.firstIndex();
  }

  lastIndex(): number {
    this.checkOpen();
    return this.view.lastIndex();
  }

  term(index: number): number | undefined {
    this.checkOpen();
    return this.view.term(index);
  }

  /**
   * `entries(lo, hi, maxBytes)` for a store that reaches any retained entry by its position
   * (0 = the first retained one) without scanning: `bytesAt(k)` is the size of entry k's data
   * and `entryAt(k, index)` the entry. Stops before the entry that would pass `maxBytes`, but
   * returns at least one.
   */
  protected entriesByPosition(
    lo: number,
    hi: number,
    maxBytes: number | undefined,
    bytesAt: (k: number) => number,
    entryAt: (k: number, index: number) => Entry,
  ): Entry[] {
    this.checkOpen();
    this.view.checkRange(lo, hi);
    const out: Entry[] = [];
    let total = 0;
    const first = this.view.firstIndex();
    for (let i = lo; i < hi; i++) {
      const bytes = bytesAt(i - first);
      if (!fitsMaxBytes(out.length, total, bytes, maxBytes)) break;
      total += bytes;
      out.push(entryAt(i - first, i));
    }
    return out;
  }
}
