/**
 * The unstable part of the raft log: entries (and possibly a snapshot) the core has accepted
 * but the host has not yet reported as persisted. They leave through `Ready.entries` /
 * `Ready.snapshot` and become stable when `advance()` calls `stableTo` / `stableSnapTo`.
 *
 *   storage: [ ... stable entries ... ]
 *   unstable:            [snapshot?]   [ offset, offset+1, ... ]
 *
 * Invariant: offset <= storage.lastIndex() + 1; an entry here shadows any stored entry with the
 * same index (the host will overwrite it when it persists the Ready).
 */
import { assert } from '../assert.js';
import type { Entry } from '../ports/storage-driver.js';
import type { Snapshot } from './messages.js';

/** See the file comment. */
export class Unstable {
  /** A snapshot received from the leader and not yet persisted. */
  snapshot: Snapshot | undefined = undefined;
  /** Entries not yet persisted. Read-only outside this class. */
  entries: Entry[] = [];
  // True once `entries` was handed out (`shareEntries`): the next append copies it first, so a
  // Ready the host is still persisting never changes under it.
  private shared = false;
  /** Index of entries[0] (or where it would be). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index if a snapshot is pending (its index + 1), else undefined. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.meta.index + 1;
  }

  /** The last index held here, or undefined if this holds nothing. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) return this.snapshot.meta.index;
    return undefined;
  }

  /** The term at `index` if this holds it. */
  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.meta.index === index) return this.snapshot.meta.term;
      return undefined;
    }
    const i = index - this.offset;
    if (i >= this.entries.length) return undefined;
    return this.entries[i]!.term;
  }

  /** The host persisted entries up to `index` (whose term was `term`); drop them from here. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    // A mismatch means the entries were replaced after the Ready was taken; the newer ones
    // come in the next Ready, so nothing becomes stable now.
    if (t === undefined || t !== term || index < this.offset) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
    this.shared = false;
  }

  /** The host persisted the snapshot at `index`. */
  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index === index) this.snapshot = undefined;
  }

  /** Replaces everything with a snapshot received from the leader. */
  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.shared = false;
    this.snapshot = s;
  }

  /** Appends `ents` (consecutive), replacing any entry at or after ents[0].index. */
  truncateAndAppend(ents: readonly Entry[]): void {
    const from = ents[0]!.index;
    if (from === this.offset + this.entries.length) {
      if (this.shared) {
        this.entries = this.entries.concat(ents);
        this.shared = false;
      } else {
        for (let i = 0; i < ents.length; i++) this.entries.push(ents[i]!);
      }
    } else if (from <= this.offset) {
      // Replaces the whole unstable part (and, once persisted, stored entries from `from`).
      this.offset = from;
      this.entries = ents.slice();
      this.shared = false;
    } else {
      this.entries = this.entries.slice(0, from - this.offset).concat(ents);
      this.shared = false;
    }
  }

  /** The unstable entries, for a Ready: the array is not mutated afterwards. */
  shareEntries(): readonly Entry[] {
    this.shared = true;
    return this.entries;
  }

  /** Entries in [lo, hi), all held here. */
  slice(lo: number, hi: number): Entry[] {
    assert(lo >= this.offset && lo <= hi && hi <= this.offset + this.entries.length, `unstable.slice [${lo}, ${hi}) outside [${this.offset}, ${this.offset + this.entries.length})`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
