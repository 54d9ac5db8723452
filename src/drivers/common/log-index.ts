/**
 * The in-memory index every LogStore keeps: snapshot point, hard state and the term of each
 * stored entry. It answers the synchronous reads that Raft makes all the time (firstIndex,
 * lastIndex, term) without touching the disk, and it turns a `LogUpdate` into a `LogChange`:
 * the exact deletes and puts a driver must write in one transaction.
 *
 * A driver plans each save against the log it will meet on disk once all earlier saves are
 * written, so back-to-back saves can be validated and queued before any of them is durable:
 *
 *     save(u) called ──► plan(u) ──► change ──► apply(change) on the planning index
 *                                      │
 *                                      └─► written in one transaction ──► resolve
 *
 * The SQLite store keeps a second, `visible` index that applies the change only once it is
 * durable; the LMDB store reads from the planning index (see LmdbLogStore for why).
 *
 * Layout of the terms array (snapshot point s = snapshot.index):
 *
 *     index:  s (compacted) | s+1      s+2      …  s+n
 *     terms:                | terms[0] terms[1] …  terms[n-1]     n = terms.length
 */
import type { Entry, HardState, LogUpdate, SnapshotMeta } from '../../core/ports/storage-driver.js';
import { assert, assertSafeInt } from '../../core/assert.js';
import {
  plain,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT_META,
  checkEntry,
  checkHardState,
  checkSnapshotMeta,
  freezeHardState,
  freezeSnapshotMeta,
} from './encoding.js';

/**
 * What one save (or compaction) does to the stored log, in the order a driver must write it:
 * first the deletes, then the puts, then the metadata. Index ranges are half-open [lo, hi).
 */
export interface LogChange {
  /** The new snapshot / compaction point, if it moves. */
  readonly snapshot?: SnapshotMeta;
  /** With `snapshot`: whether stored entries after `snapshot.index` survive (their terms matched). */
  readonly keepSuffix: boolean;
  /** Stored entries to delete, as index ranges [lo, hi). */
  readonly deletes: readonly (readonly [number, number])[];
  /** Entries to write, with consecutive indexes, after the deletes. */
  readonly puts: readonly Entry[];
  readonly hardState?: HardState;
}

/** See the file comment. Not a store: it only indexes one. */
export class LogIndex {
  private snap: SnapshotMeta = EMPTY_SNAPSHOT_META;
  private hard: HardState = EMPTY_HARD_STATE;
  // Invariant: terms[i] is the term of entry snap.index + 1 + i, and terms never decrease.
  private terms: number[] = [];

  /** An index over a store that already holds `terms` for the entries after `snap.index`. */
  static load(snap: SnapshotMeta, hard: HardState, terms: number[]): LogIndex {
    const ix = new LogIndex();
    ix.snap = freezeSnapshotMeta(snap);
    ix.hard = freezeHardState(hard);
    ix.terms = terms;
    return ix;
  }

  /** A deep copy (the driver's `visible` starts as a copy of `planned`). */
  clone(): LogIndex {
    return LogIndex.load(this.snap, this.hard, [...this.terms]);
  }

  hardState(): HardState {
    return this.hard;
  }

  snapshotMeta(): SnapshotMeta {
    return this.snap;
  }

  firstIndex(): number {
    return this.snap.index + 1;
  }

  lastIndex(): number {
    return this.snap.index + this.terms.length;
  }

  term(index: number): number | undefined {
    if (index === this.snap.index) return this.snap.term;
    if (index < this.snap.index || index > this.lastIndex()) return undefined;
    return this.terms[index - this.snap.index - 1];
  }

  /** Asserts that [lo, hi) is a readable entry range (LogStore.entries' precondition). */
  checkRange(lo: number, hi: number): void {
    assertSafeInt(lo, 'entries lo');
    assertSafeInt(hi, 'entries hi');
    assert(lo >= this.firstIndex(), `entries lo ${lo} < firstIndex ${this.firstIndex()}`);
    assert(hi <= this.lastIndex() + 1, `entries hi ${hi} > lastIndex + 1 = ${this.lastIndex() + 1}`);
    assert(lo <= hi, `entries lo ${lo} > hi ${hi}`);
  }

  /**
   * Validates `update` against this index and returns the change it makes. Does not apply it.
   * The order within one update is etcd's: snapshot, then entries, then hard state.
   */
  plan(update: LogUpdate): LogChange {
    let first = this.firstIndex();
    let last = this.lastIndex();
    let snapIndex = this.snap.index;
    let snapTerm = this.snap.term;
    const deletes: [number, number][] = [];
    let snapshot: SnapshotMeta | undefined;
    let keepSuffix = false;
    if (update.snapshot !== undefined) {
      const s = update.snapshot;
      checkSnapshotMeta(s);
      assert(s.index >= this.snap.index, `snapshot index ${s.index} is older than ${this.snap.index}`);
      // Log matching: if our entry at s.index has the snapshot's term, everything before it is
      // the snapshot's history and everything after it may stay; otherwise nothing does.
      keepSuffix = this.term(s.index) === s.term;
      const delHi = keepSuffix ? s.index + 1 : last + 1;
      if (delHi > first) deletes.push([first, delHi]);
      snapshot = freezeSnapshotMeta(s);
      snapIndex = s.index;
      snapTerm = s.term;
      first = s.index + 1;
      last = keepSuffix ? last : s.index;
    }
    let puts: Entry[] = [];
    const entries = update.entries ?? [];
    if (entries.length > 0) {
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        checkEntry(e);
        if (i > 0) {
          assert(e.index === entries[i - 1]!.index + 1, `entries not consecutive at ${e.index}`);
          assert(e.term >= entries[i - 1]!.term, `entry terms decrease at ${e.index}`);
        }
      }
      // Entries at or below the snapshot point are already covered by it (etcd's MemoryStorage
      // ignores them the same way).
      const skip = Math.max(0, first - entries[0]!.index);
      if (skip < entries.length) {
        puts = entries.slice(skip).map((e) => Object.freeze({ term: e.term, index: e.index, type: e.type, data: plain(e.data) }));
        const lo = puts[0]!.index;
        const hi = puts[puts.length - 1]!.index;
        assert(lo <= last + 1, `entries start at ${lo}, after lastIndex + 1 = ${last + 1}`);
        // lo - 1 is the snapshot point or an entry that survives (a snapshot that kept nothing
        // leaves last === snapIndex, so lo === snapIndex + 1).
        const prevTerm = lo - 1 === snapIndex ? snapTerm : this.term(lo - 1);
        assert(prevTerm !== undefined && puts[0]!.term >= prevTerm, `entry ${lo} has a lower term than its predecessor`);
        // Stored entries after the new last one would survive the overwrite: delete them.
        if (hi < last) deletes.push([hi + 1, last + 1]);
      }
    }
    let hardState: HardState | undefined;
    if (update.hardState !== undefined) {
      checkHardState(update.hardState);
      hardState = freezeHardState(update.hardState);
    }
    return Object.freeze({ snapshot, keepSuffix, deletes, puts, hardState });
  }

  /**
   * Validates a compaction to `meta` (LogStore.compact's preconditions) and returns its change:
   * entries up to and including meta.index go, later ones stay.
   */
  planCompact(meta: SnapshotMeta): LogChange {
    checkSnapshotMeta(meta);
    assert(meta.index >= this.snap.index, `compact index ${meta.index} < snapshot index ${this.snap.index}`);
    assert(meta.index <= this.lastIndex(), `compact index ${meta.index} > lastIndex ${this.lastIndex()}`);
    assert(this.term(meta.index) === meta.term, `compact term ${meta.term} does not match entry ${meta.index}`);
    const deletes: [number, number][] = meta.index >= this.firstIndex() ? [[this.firstIndex(), meta.index + 1]] : [];
    return Object.freeze({ snapshot: freezeSnapshotMeta(meta), keepSuffix: true, deletes, puts: [], hardState: undefined });
  }

  /** Applies a change that `plan`/`planCompact` produced on an index in the same state. */
  apply(c: LogChange): void {
    if (c.snapshot !== undefined) {
      if (c.keepSuffix) this.terms.splice(0, c.snapshot.index - this.snap.index);
      else this.terms = [];
      this.snap = c.snapshot;
    }
    if (c.puts.length > 0) {
      const lo = c.puts[0]!.index;
      this.terms.length = lo - this.snap.index - 1;
      for (const e of c.puts) this.terms.push(e.term);
    }
    if (c.hardState !== undefined) this.hard = c.hardState;
  }
}

/**
 * Whether an entry of `size` data bytes still fits after `count` entries totalling `total`
 * bytes, under LogStore.entries' limit (etcd's limitSize: always at least one entry, then stop
 * before the total would exceed maxBytes).
 */
export function fitsMaxBytes(count: number, total: number, size: number, maxBytes: number | undefined): boolean {
  return count === 0 || maxBytes === undefined || total + size <= maxBytes;
}
