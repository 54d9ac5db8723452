/**
 * The history of one key in the in-memory index, as etcd's keyIndex: a list of generations.
 * A generation is one life of the key, from the put that created it to the delete (tombstone)
 * that ended it. Only revisions live here; values stay in the backend, read by revision.
 *
 * Example: key "foo" put at 1.0, 2.0, deleted at 3.0, put at 4.0, 5.0, deleted at 6.0,
 * put at 7.0 (main.sub):
 *
 * ```
 * generations:
 *   {created: 1, version: 3, revs: [1.0, 2.0, 3.0(t)]}
 *   {created: 4, version: 3, revs: [4.0, 5.0, 6.0(t)]}
 *   {created: 7, version: 1, revs: [7.0]}              <- the last one: live, or empty
 * ```
 *
 * Compaction at revision R keeps, per key, the newest revision <= R unless it is a tombstone,
 * and every revision > R; generations that ended at or before R disappear:
 *
 * ```
 * compact(2): {1: [2.0, 3.0(t)]} {4: [4.0, 5.0, 6.0(t)]} {7: [7.0]}   dropped 1.0
 * compact(4): {4: [4.0, 5.0, 6.0(t)]} {7: [7.0]}                    dropped 1.0 2.0 3.0(t)
 * compact(6): {7: [7.0]}                                           dropped up to 6.0(t)
 * ```
 *
 * A key whose only generation is empty after compaction is removed from the tree index.
 */
import { assert } from '../assert.js';

/** One life of a key. Revisions are stored flat: [main0, sub0, main1, sub1, ...]. */
export class Generation {
  /**
   * Main revision of the put that created the key in this generation (its create_revision);
   * 0 while the generation is empty.
   */
  created = 0;
  /**
   * Number of puts since `created` (the version of the newest put). A tombstone counts too, as
   * in etcd; nothing reads the version of a closed generation.
   */
  version = 0;
  /**
   * Invariant: strictly increasing revisions; in every generation but the last, the last pair
   * is the tombstone and there are at least two pairs (a put and its tombstone).
   */
  revs: number[] = [];
}

/** A mutable {main, sub} used as an out-parameter, to avoid an allocation per lookup. */
export interface RevisionSlot {
  main: number;
  sub: number;
}

/** Called for each revision compaction removes, so the caller can delete it from the backend. */
export type DropRevision = (main: number, sub: number, tombstone: boolean) => void;

/** The history of one key. `key` is the latin1 string of the key's bytes. */
export class KeyIndex {
  /** Invariant: never empty; only the last generation may be empty (key currently deleted). */
  generations: Generation[] = [new Generation()];
  /** The newest revision of the key (put or tombstone); 0.0 before the first put. */
  modMain = 0;
  modSub = 0;

  constructor(readonly key: string) {}

  /** True when the key has a value at the newest revision (not deleted). */
  isLive(): boolean {
    return this.generations[this.generations.length - 1]!.revs.length !== 0;
  }

  /** The current generation (the last); empty when the key is deleted. */
  lastGeneration(): Generation {
    return this.generations[this.generations.length - 1]!;
  }

  /** True when nothing remains (only an empty generation): the tree drops such keys. */
  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0]!.revs.length === 0;
  }

  /** Records a put at (main, sub), which must be newer than every revision of the key. */
  put(main: number, sub: number): void {
    assert(
      main > this.modMain || (main === this.modMain && sub > this.modSub),
      `put ${main}.${sub} not after ${this.modMain}.${this.modSub} on key index`,
    );
    const g = this.generations[this.generations.length - 1]!;
    if (g.revs.length === 0) g.created = main;
    g.revs.push(main, sub);
    g.version++;
    this.modMain = main;
    this.modSub = sub;
  }

  /**
   * Starts the index of a key from a stored revision whose earlier history may be compacted
   * away: `created` and `version` come from the stored KeyValue, not from counting puts.
   */
  restore(created: number, version: number, main: number, sub: number): void {
    assert(this.modMain === 0 && this.isEmpty(), 'restore on a non-empty key index');
    const g = this.generations[0]!;
    g.created = created;
    g.version = version;
    g.revs.push(main, sub);
    this.modMain = main;
    this.modSub = sub;
  }

  /** Records the deletion of a live key at (main, sub) and opens a new, empty generation. */
  tombstone(main: number, sub: number): void {
    assert(this.isLive(), `tombstone on a deleted key`);
    this.put(main, sub);
    this.generations.push(new Generation());
  }

  /**
   * Finds the revision holding the key's value as of store revision `atRev`, into `out`.
   * Returns false when the key did not exist at `atRev` (never created yet, or deleted).
   */
  find(atRev: number, out: RevisionSlot): boolean {
    const gens = this.generations;
    const last = gens.length - 1;
    // Fast path: reading at or after the newest change (the common, latest-state read).
    if (this.modMain <= atRev) {
      const g = gens[last]!;
      if (g.revs.length === 0) return false;
      out.main = this.modMain;
      out.sub = this.modSub;
      return true;
    }
    for (let i = last; i >= 0; i--) {
      const revs = gens[i]!.revs;
      if (revs.length === 0) continue;
      // A closed generation whose tombstone is at or before atRev: the key was deleted then.
      if (i !== last && revs[revs.length - 2]! <= atRev) return false;
      if (revs[0]! <= atRev) {
        for (let j = revs.length - 2; j >= 0; j -= 2) {
          if (revs[j]! <= atRev) {
            out.main = revs[j]!;
            out.sub = revs[j + 1]!;
            return true;
          }
        }
      }
    }
    return false;
  }

  /**
   * Finds the put that precedes revision (main, sub) of this key within the same generation,
   * into `out`: the value a change at (main, sub) replaced. Returns false when (main, sub)
   * created the key (first of its generation), or is not in the retained history, or when the
   * preceding revision was compacted away.
   */
  findBefore(main: number, sub: number, out: RevisionSlot): boolean {
    for (const g of this.generations) {
      const revs = g.revs;
      if (revs.length === 0 || revs[0]! > main) continue;
      for (let j = 0; j < revs.length; j += 2) {
        if (revs[j] === main && revs[j + 1] === sub) {
          if (j === 0) return false;
          out.main = revs[j - 2]!;
          out.sub = revs[j - 1]!;
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Compacts the history at `atRev` (see the file comment), reporting each removed revision
   * to `drop`. Afterwards every revision <= atRev is gone except the newest one that is not a
   * tombstone. Returns `isEmpty()`.
   */
  compact(atRev: number, drop: DropRevision): boolean {
    const gens = this.generations;
    const last = gens.length - 1;
    // The first generation that is still alive at atRev or was created after it.
    let genIdx = 0;
    while (genIdx < last) {
      const revs = gens[genIdx]!.revs;
      if (revs[revs.length - 2]! > atRev) break;
      genIdx++;
    }
    // Whole generations that ended at or before atRev go, tombstone included.
    for (let i = 0; i < genIdx; i++) {
      const revs = gens[i]!.revs;
      for (let j = 0; j < revs.length; j += 2) drop(revs[j]!, revs[j + 1]!, j === revs.length - 2);
    }
    const g = gens[genIdx]!;
    // The newest revision <= atRev in g stays; older ones go. None of them is g's tombstone:
    // that one is > atRev (otherwise the loop above would have moved past g) or g has none.
    let keepAt = -1;
    for (let j = g.revs.length - 2; j >= 0; j -= 2) {
      if (g.revs[j]! <= atRev) {
        keepAt = j;
        break;
      }
    }
    if (keepAt > 0) {
      for (let j = 0; j < keepAt; j += 2) drop(g.revs[j]!, g.revs[j + 1]!, false);
      g.revs = g.revs.slice(keepAt);
    }
    if (genIdx > 0) this.generations = gens.slice(genIdx);
    return this.isEmpty();
  }

  /** Every revision of the key in order, as [main, sub, tombstone] (tests and debugging). */
  revisions(): Array<[number, number, boolean]> {
    const out: Array<[number, number, boolean]> = [];
    const last = this.generations.length - 1;
    this.generations.forEach((g, i) => {
      for (let j = 0; j < g.revs.length; j += 2) {
        out.push([g.revs[j]!, g.revs[j + 1]!, i !== last && j === g.revs.length - 2]);
      }
    });
    return out;
  }
}
