/**
 * The read side that every driver's LogStore answers the same way: from its in-memory
 * `LogIndex` (hard state, snapshot point, terms), after checking the store is open. Drivers
 * differ in how they store entries and make saves durable, not in these answers.
 */
import type { HardState, SnapshotMeta } from '../../core/ports/storage-driver.js';
import type { LogIndex } from './log-index.js';

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
}
