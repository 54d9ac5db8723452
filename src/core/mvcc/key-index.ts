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

/**
 * A closed life of a key (ended by a tombstone). Revisions are stored flat:
 * [main0, sub0, main1, sub1, ...]; the last pair is the tombstone.
 */
export class Generation {
  constructor(
    /** Main revision of the put that created the key in this generation (its create_revision). */
    readonly created: number,
    /** Puts in the generation, the tombstone included, as etcd counts; nothing reads it but tests. */
    readonly version: number,
    /** Invariant: strictly increasing revisions, at least two pairs (a put and its tombstone). */
    public revs: number[],
  ) {}
}

/** A mutable {main, sub} used as an out-parameter, to avoid an allocation per lookup. */
export interface RevisionSlot {
  main: number;
  sub: number;
}

/** Called for each revision compaction removes, so the caller can delete it from the backend. */
export type DropRevision = (main: number, sub: number, tombstone: boolean) => void;

/** What `generationList` reports of one generation (tests and debugging). */
export interface GenerationView {
  readonly created: number;
  readonly version: number;
  readonly revs: readonly number[];
}

/**
 * The history of one key. `key` is the latin1 string of the key's bytes.
 *
 * Memory layout: the index holds one of these per key, so it is kept small for the common
 * case, a live key with one retained revision (a key put once, or any key after compaction):
 * that revision is `modMain.modSub` and nothing else is allocated. The current generation's
 * older revisions go to `earlier` and closed generations to `closed` only when they exist.
 * (With a `Generation` object and two arrays per key, 100,000 keys cost ~40 MB of heap; this
 * way they cost ~8 MB plus the key strings.)
 */
export class KeyIndex {
  /** The newest revision of the key (put or tombstone); 0.0 before the first put. */
  modMain = 0;
  modSub = 0;
  /** create_revision of the current generation; 0 while it is empty (deleted or never put). */
  created = 0;
  /** The version of the newest put of the current generation; 0 while it is empty. */
  version = 0;
  /**
   * The current generation's revisions before the newest (which is modMain.modSub), flat;
   * null when there are none.
   */
  private earlier: number[] | null = null;
  /** Closed generations, oldest first; null when none is retained. */
  private closed: Generation[] | null = null;

  constructor(readonly key: string) {}

  /** True when the key has a value at the newest revision (not deleted). */
  isLive(): boolean {
    return this.created !== 0;
  }

  /** True when nothing remains (no live value, no closed generation): the tree drops such keys. */
  isEmpty(): boolean {
    return this.created === 0 && this.closed === null;
  }

  /** Records a put at (main, sub), which must be newer than every revision of the key. */
  put(main: number, sub: number): void {
    assert(
      main > this.modMain || (main === this.modMain && sub > this.modSub),
      `put ${main}.${sub} not after ${this.modMain}.${this.modSub} on key index`,
    );
    if (this.created === 0) {
      this.created = main;
      this.version = 1;
    } else {
      if (this.earlier === null) this.earlier = [this.modMain, this.modSub];
      else this.earlier.push(this.modMain, this.modSub);
      this.version++;
    }
    this.modMain = main;
    this.modSub = sub;
  }

  /**
   * Starts the index of a key from a stored revision whose earlier history may be compacted
   * away: `created` and `version` come from the stored KeyValue, not from counting puts.
   */
  restore(created: number, version: number, main: number, sub: number): void {
    assert(this.modMain === 0 && this.isEmpty(), 'restore on a non-empty key index');
    this.created = created;
    this.version = version;
    this.modMain = main;
    this.modSub = sub;
  }

  /** Records the deletion of a live key at (main, sub); the key's current generation closes. */
  tombstone(main: number, sub: number): void {
    assert(this.isLive(), `tombstone on a deleted key`);
    assert(main > this.modMain || (main === this.modMain && sub > this.modSub), `tombstone ${main}.${sub} not after ${this.modMain}.${this.modSub}`);
    const revs = this.earlier ?? [];
    revs.push(this.modMain, this.modSub, main, sub);
    const g = new Generation(this.created, this.version + 1, revs);
    if (this.closed === null) this.closed = [g];
    else this.closed.push(g);
    this.created = 0;
    this.version = 0;
    this.earlier = null;
    this.modMain = main;
    this.modSub = sub;
  }

  /**
   * Finds the revision holding the key's value as of store revision `atRev`, into `out`.
   * Returns false when the key did not exist at `atRev` (never created yet, or deleted).
   */
  find(atRev: number, out: RevisionSlot): boolean {
    // Fast path: reading at or after the newest change (the common, latest-state read).
    if (this.modMain <= atRev) {
      if (this.created === 0) return false;
      out.main = this.modMain;
      out.sub = this.modSub;
      return true;
    }
    if (this.created !== 0) {
      // The newest revision is after atRev; look at the older ones of this generation.
      // (A restored key's `created` may predate its retained revisions: then `earlier` can be
      // null with created <= atRev, and the value at atRev is compacted away.)
      const revs = this.earlier;
      if (this.created <= atRev && revs !== null) {
        const j = newestAtOrBefore(revs, revs.length, atRev);
        if (j >= 0) {
          out.main = revs[j]!;
          out.sub = revs[j + 1]!;
          return true;
        }
      }
    }
    const gens = this.closed;
    if (gens === null) return false;
    for (let i = gens.length - 1; i >= 0; i--) {
      const revs = gens[i]!.revs;
      // A generation whose tombstone is at or before atRev: the key was deleted then.
      if (revs[revs.length - 2]! <= atRev) return false;
      if (revs[0]! <= atRev) {
        for (let j = revs.length - 4; j >= 0; j -= 2) {
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
    if (this.closed !== null) {
      for (const g of this.closed) {
        if (g.revs[0]! > main) break;
        if (findBeforeIn(g.revs, main, sub, out)) return true;
      }
    }
    if (this.created === 0 || this.created > main) return false;
    if (main === this.modMain && sub === this.modSub) {
      const revs = this.earlier;
      if (revs === null) return false;
      out.main = revs[revs.length - 2]!;
      out.sub = revs[revs.length - 1]!;
      return true;
    }
    return this.earlier !== null && findBeforeIn(this.earlier, main, sub, out);
  }

  /**
   * Compacts the history at `atRev` (see the file comment), reporting each removed revision
   * to `drop`. Afterwards every revision <= atRev is gone except the newest one that is not a
   * tombstone. Returns `isEmpty()`.
   */
  compact(atRev: number, drop: DropRevision): boolean {
    let gens = this.closed;
    if (gens !== null) {
      // Whole generations that ended at or before atRev go, tombstone included.
      let gone = 0;
      while (gone < gens.length) {
        const revs = gens[gone]!.revs;
        if (revs[revs.length - 2]! > atRev) break;
        for (let j = 0; j < revs.length; j += 2) drop(revs[j]!, revs[j + 1]!, j === revs.length - 2);
        gone++;
      }
      if (gone === gens.length) gens = null;
      else if (gone > 0) gens = gens.slice(gone);
      this.closed = gens;
      if (gens !== null) {
        // The first remaining generation outlives atRev: keep its newest revision <= atRev
        // (never its tombstone, which is > atRev), drop older ones. Later ones are all > atRev.
        const g = gens[0]!;
        const keepAt = newestAtOrBefore(g.revs, g.revs.length - 2, atRev);
        if (keepAt > 0) {
          for (let j = 0; j < keepAt; j += 2) drop(g.revs[j]!, g.revs[j + 1]!, false);
          g.revs = g.revs.slice(keepAt);
        }
        return false;
      }
    }
    if (this.created === 0) return true;
    const revs = this.earlier;
    if (revs === null) return false;
    if (this.modMain <= atRev) {
      // Only the newest revision stays.
      for (let j = 0; j < revs.length; j += 2) drop(revs[j]!, revs[j + 1]!, false);
      this.earlier = null;
      return false;
    }
    const keepAt = newestAtOrBefore(revs, revs.length, atRev);
    if (keepAt > 0) {
      for (let j = 0; j < keepAt; j += 2) drop(revs[j]!, revs[j + 1]!, false);
      this.earlier = revs.slice(keepAt);
    }
    return false;
  }

  /** Every revision of the key in order, as [main, sub, tombstone] (tests and debugging). */
  revisions(): Array<[number, number, boolean]> {
    const out: Array<[number, number, boolean]> = [];
    for (const g of this.closed ?? []) {
      for (let j = 0; j < g.revs.length; j += 2) out.push([g.revs[j]!, g.revs[j + 1]!, j === g.revs.length - 2]);
    }
    if (this.created !== 0) {
      const revs = this.earlier ?? [];
      for (let j = 0; j < revs.length; j += 2) out.push([revs[j]!, revs[j + 1]!, false]);
      out.push([this.modMain, this.modSub, false]);
    }
    return out;
  }

  /**
   * The generations as etcd lists them (tests and debugging): closed ones, then the current
   * one, which is empty ({created: 0, version: 0, revs: []}) when the key is deleted.
   */
  generationList(): GenerationView[] {
    const current: GenerationView =
      this.created === 0
        ? { created: 0, version: 0, revs: [] }
        : { created: this.created, version: this.version, revs: [...(this.earlier ?? []), this.modMain, this.modSub] };
    return [...(this.closed ?? []).map((g) => ({ created: g.created, version: g.version, revs: g.revs.slice() })), current];
  }
}

/**
 * The position (even index) of the newest revision <= atRev among the pairs before `end` in
 * `revs`, or -1 when there is none.
 */
function newestAtOrBefore(revs: readonly number[], end: number, atRev: number): number {
  for (let j = end - 2; j >= 0; j -= 2) if (revs[j]! <= atRev) return j;
  return -1;
}

/** `KeyIndex.findBefore` within one flat revision list. */
function findBeforeIn(revs: readonly number[], main: number, sub: number, out: RevisionSlot): boolean {
  for (let j = 0; j < revs.length; j += 2) {
    if (revs[j] === main && revs[j + 1] === sub) {
      if (j === 0) return false;
      out.main = revs[j - 2]!;
      out.sub = revs[j - 1]!;
      return true;
    }
  }
  return false;
}
