/**
 * The raft log as the core sees it: stable storage followed by the unstable tail, plus the
 * commit and applied marks.
 *
 *   firstIndex                  applied      committed        lastIndex
 *   |  storage (persisted) ....|.............|....| unstable (not yet persisted) |
 *
 * Invariant: firstIndex - 1 <= applied <= committed <= lastIndex. Committed entries may still be
 * unstable; the host persists a Ready before it applies its committed entries, so nothing is
 * applied before it is durable here.
 */
import { assert } from '../assert.js';
import type { Entry } from '../ports/storage-driver.js';
import { Unstable } from './log-unstable.js';
import type { Snapshot } from './messages.js';
import type { RaftStorage } from './storage.js';

/** Sum of data bytes, the size unit of every byte limit in the core. */
export function entriesBytes(ents: readonly Entry[]): number {
  let n = 0;
  for (let i = 0; i < ents.length; i++) n += ents[i]!.data.byteLength;
  return n;
}

/** See the file comment. */
export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be committed (on a quorum's stable storage). */
  committed: number;
  /** Highest index the host has applied (reported through advance()). */
  applied: number;

  constructor(
    readonly storage: RaftStorage,
    /** Limit on committed-entry bytes handed out in one Ready (at least one entry). */
    private readonly maxApplyBytes: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // Everything up to the compaction point was applied before it was compacted.
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term at `index`, or undefined when it is compacted (below firstIndex - 1) or beyond lastIndex. */
  term(index: number): number | undefined {
    const t = this.unstable.maybeTerm(index);
    if (t !== undefined) return t;
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, `no term for the last index ${this.lastIndex()}`);
    return t;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** The election restriction (Raft §5.4.1): is a log ending at (index, term) at least as up to date as ours? */
  isUpToDate(index: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && index >= this.lastIndex());
  }

  /**
   * Appends the leader's entries after (index, logTerm) if our log matches there (Raft's
   * AppendEntries consistency check). Returns the index of the last new entry, or undefined on
   * mismatch. Only a conflicting suffix is replaced, so a stale or duplicated append never
   * truncates entries that a newer append already added.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, `entry ${ci} conflicts with the committed prefix (committed ${this.committed})`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends (possibly replacing a suffix); returns the new last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, `append after ${after} would overwrite committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` that is new or conflicts with ours (different term),
   * or 0 if all of them are already here. Entries must be consecutive.
   */
  findConflict(ents: readonly Entry[]): number {
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term`, with that term.
   * A follower that rejects an append answers with it, and the leader uses it on its own log,
   * so one round trip skips every entry of a conflicting term at once. Compacted indexes
   * answer with term 0 (the caller falls back to the index).
   */
  findConflictByTerm(index: number, term: number): [index: number, term: number] {
    for (; index > 0; index--) {
      const t = this.term(index);
      if (t === undefined) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  /** Entries from `lo` to the end, at most `maxBytes` of data (at least one entry). */
  entries(lo: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, last + 1, maxBytes);
  }

  /** Entries in [lo, hi); firstIndex <= lo <= hi <= lastIndex + 1. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex() && lo <= hi && hi <= this.lastIndex() + 1, `slice [${lo}, ${hi}) outside [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    if (lo === hi) return [];
    const u = this.unstable;
    let out: Entry[] = [];
    if (lo < u.offset) {
      const stableHi = Math.min(hi, u.offset);
      out = this.storage.entries(lo, stableHi, maxBytes);
      // Storage stopped at the byte limit: do not add unstable entries after a gap.
      if (out.length < stableHi - lo) return out;
    }
    if (hi > u.offset) {
      const tail = u.slice(Math.max(lo, u.offset), hi);
      out = out.length === 0 ? tail : out.concat(tail);
    }
    return limitBytes(out, maxBytes);
  }

  /** Committed entries not yet handed to the host for applying. */
  nextCommittedEntries(): Entry[] {
    // While a received snapshot is unpersisted, the host applies it first.
    if (this.unstable.snapshot !== undefined) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed < lo) return [];
    return this.slice(lo, this.committed + 1, this.maxApplyBytes);
  }

  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== undefined) return false;
    return this.committed >= Math.max(this.applied + 1, this.firstIndex());
  }

  /** The snapshot to send a lagging follower: a pending received one, else storage's. */
  snapshot(): Snapshot | undefined {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed && index >= this.applied, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  /** Restores to a snapshot received from the leader (the log now starts after it). */
  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }
}

/** `ents` cut so that their data stays within `maxBytes`, keeping at least one entry. */
export function limitBytes(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1) return ents;
  let total = ents[0]!.data.byteLength;
  for (let i = 1; i < ents.length; i++) {
    total += ents[i]!.data.byteLength;
    if (total > maxBytes) return ents.slice(0, i);
  }
  return ents;
}
