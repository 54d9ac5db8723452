/**
 * The memory driver's LogStore: the entries in an array beside a `LogIndex`. A save is applied
 * when it is called and its promise is already resolved, so calls are trivially applied in call
 * order. "Durable" means: kept for as long as the driver instance lives, across close/open.
 */
import type { Entry, HardState, LogStore, LogUpdate, SnapshotMeta } from '../../core/ports/storage-driver.js';
import { LogStoreBase } from '../common/log-store-base.js';
import { assert } from '../../core/assert.js';
import type { LogChange } from '../common/log-index.js';
import { LogIndex } from '../common/log-index.js';

/** See the file comment. NB: `entries()` returns the saved entry objects (frozen) and their data arrays as given. */
export class MemoryLogStore extends LogStoreBase implements LogStore {
  private readonly index = new LogIndex();
  // Invariant: ents[i].index === index.firstIndex() + i, and ents.length === lastIndex - snapshot index.
  private ents: Entry[] = [];

  /** Marks the store open again (the memory driver reuses one instance across reopen). */
  reopen(): void {
    this.closed = false;
  }

  protected readonly driverName = 'memory';

  protected get view(): LogIndex {
    return this.index;
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.entriesByPosition(lo, hi, maxBytes, (k) => this.ents[k]!.data.byteLength, (k) => this.ents[k]!);
  }

  save(update: LogUpdate): Promise<void> {
    try {
      this.checkOpen();
      this.apply(this.index.plan(update));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  compact(meta: SnapshotMeta): Promise<void> {
    try {
      this.checkOpen();
      this.apply(this.index.planCompact(meta));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private apply(c: LogChange): void {
    const snapBefore = this.index.snapshotMeta().index;
    if (c.snapshot !== undefined) {
      if (c.keepSuffix) this.ents.splice(0, c.snapshot.index - snapBefore);
      else this.ents = [];
    }
    if (c.puts.length > 0) {
      const snapIndex = c.snapshot?.index ?? snapBefore;
      this.ents.length = c.puts[0]!.index - snapIndex - 1;
      this.ents.push(...c.puts);
    }
    this.index.apply(c);
    assert(this.ents.length === this.index.lastIndex() - this.index.snapshotMeta().index, 'memory log out of step with its index');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
