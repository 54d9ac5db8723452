/**
 * The raft core's read-only view of stable storage, and an in-memory implementation.
 *
 * The core never writes storage: it hands the host a Ready, the host persists it, and storage
 * reads reflect it afterwards. `RaftStorage` is a structural subset of the `LogStore` port
 * (src/core/ports/storage-driver.ts) plus `snapshot()`, so a host adapts a LogStore by adding
 * one method that pairs `snapshotMeta()` with the projection's snapshot bytes.
 *
 * Log layout, as etcd's MemoryStorage:
 *
 *   snapshotMeta().index = firstIndex() - 1        the compaction point ("dummy" entry: only
 *   |                                              its term is known, through term())
 *   v
 *   [ c ][ first ... ............... last ]
 *          entries(lo, hi) for firstIndex() <= lo <= hi <= lastIndex() + 1
 */
import { assert } from '../assert.js';
import type { Entry, HardState, SnapshotMeta } from '../ports/storage-driver.js';
import type { Snapshot } from './messages.js';

/** What the raft core reads from stable storage. All reads are synchronous. */
export interface RaftStorage {
  /** The hard state as last persisted ({0,0,0} on a new store). */
  hardState(): HardState;
  /**
   * The compaction point: index and term of the last discarded entry, and the membership at
   * that index. The core starts from its voters/learners when it (re)starts.
   */
  snapshotMeta(): SnapshotMeta;
  /** snapshotMeta().index + 1. */
  firstIndex(): number;
  /** Index of the last stored entry, or snapshotMeta().index when none follows it. */
  lastIndex(): number;
  /** Term of the entry at `index`, snapshotMeta().term at its index, undefined outside. */
  term(index: number): number | undefined;
  /**
   * Entries in [lo, hi) with firstIndex() <= lo <= hi <= lastIndex() + 1. With `maxBytes`, stops
   * before the entry whose data would push the total past it, but always returns at least one.
   */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /**
   * The most recent snapshot for sending to a follower that is behind the compaction point;
   * its index must be >= snapshotMeta().index. Undefined means "not available right now, ask
   * again later" (etcd's ErrSnapshotTemporarilyUnavailable).
   */
  snapshot(): Snapshot | undefined;
}

/** The persistent part of one Ready, in the shape `MemoryRaftStorage.save` takes. */
export interface RaftStorageUpdate {
  readonly snapshot?: Snapshot;
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState;
}

const EMPTY_META: SnapshotMeta = Object.freeze({ index: 0, term: 0, voters: [], learners: [] });

/**
 * `RaftStorage` in memory, for tests and the simulation (the server uses a LogStore driver).
 * The host-side writes (`save`, `compact`, `setSnapshot`) mirror what a LogStore does with a
 * Ready, synchronously: a crash in the simulation loses exactly what was not saved yet.
 */
export class MemoryRaftStorage implements RaftStorage {
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private meta: SnapshotMeta = EMPTY_META;
  // Invariant: ents[i].index === meta.index + 1 + i.
  private ents: Entry[] = [];
  // The last snapshot with data; its index may be above `meta.index` (taken, not yet compacted).
  private snap: Snapshot = { meta: EMPTY_META, data: new Uint8Array(0) };

  hardState(): HardState {
    return this.hard;
  }

  snapshotMeta(): SnapshotMeta {
    return this.meta;
  }

  firstIndex(): number {
    return this.meta.index + 1;
  }

  lastIndex(): number {
    return this.meta.index + this.ents.length;
  }

  term(index: number): number | undefined {
    if (index === this.meta.index) return this.meta.term;
    if (index < this.meta.index || index > this.lastIndex()) return undefined;
    return this.ents[index - this.meta.index - 1]!.term;
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    assert(lo >= this.firstIndex() && lo <= hi && hi <= this.lastIndex() + 1, `entries [${lo}, ${hi}) outside [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    const base = this.meta.index + 1;
    if (maxBytes === undefined) return this.ents.slice(lo - base, hi - base);
    const out: Entry[] = [];
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - base]!;
      total += e.data.byteLength;
      if (out.length > 0 && total > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot | undefined {
    return this.snap;
  }

  /**
   * Persists one Ready's snapshot, entries and hard state, in that order, like LogStore.save:
   * a snapshot resets the log to start after it (every stored entry is dropped: the core sends
   * a snapshot only when its entry at that index differs); entries replace any stored entry
   * at or after their first index; entries at or below the compaction point are skipped.
   */
  save(update: RaftStorageUpdate): void {
    if (update.snapshot !== undefined) {
      const s = update.snapshot;
      assert(s.meta.index >= this.meta.index, `snapshot ${s.meta.index} older than ${this.meta.index}`);
      this.meta = s.meta;
      this.snap = s;
      this.ents = [];
    }
    const ents = update.entries;
    if (ents !== undefined && ents.length > 0) {
      const first = ents[0]!.index;
      assert(first <= this.lastIndex() + 1, `gap: appending ${first} after ${this.lastIndex()}`);
      const skip = Math.max(0, this.firstIndex() - first);
      if (skip < ents.length) {
        const from = first + skip;
        this.ents.length = from - this.firstIndex();
        for (let i = skip; i < ents.length; i++) this.ents.push(ents[i]!);
      }
    }
    if (update.hardState !== undefined) this.hard = update.hardState;
  }

  /**
   * Discards entries up to and including `index` (<= lastIndex), recording `snapshot` as the
   * snapshot a lagging follower gets. The host calls it only for an applied index, with the
   * projection's bytes at that index and the membership then.
   */
  compact(index: number, data: Uint8Array, voters: readonly number[], learners: readonly number[]): void {
    assert(index > this.meta.index && index <= this.lastIndex(), `compact ${index} outside (${this.meta.index}, ${this.lastIndex()}]`);
    const term = this.term(index)!;
    const meta: SnapshotMeta = { index, term, voters: voters.slice(), learners: learners.slice() };
    this.ents = this.ents.slice(index - this.meta.index);
    this.meta = meta;
    this.snap = { meta, data };
  }
}
