/**
 * The in-memory key index: an ordered map from key to its `KeyIndex` (history of revisions),
 * as etcd's treeIndex. It is the only part of the key space kept in memory; values are read from
 * the backend by revision.
 *
 * Keys are the latin1 strings of the key bytes (see bytes.ts): their `<` order is byte order.
 *
 * Memory: most keys of a configuration store are put once and read many times, and a fresh
 * key's whole history is one revision. Such a key (put at main.0, nothing else retained) is
 * stored as that number instead of a `KeyIndex`: with 100,000 fresh keys that is ~7.6 MB of
 * objects not allocated, and as many bytes the V8 old generation does not have to grow by
 * twice over (its limit is a multiple of the live heap). A second put, a delete or a txn's
 * sub-revision turns the key into a `KeyIndex` ("materializes" it). Callers never see the
 * numbers: `get` answers with a read-only `KeyIndex` built for the call, and every change goes
 * through this class (`put`, `tombstone`, `restore`), never through a `KeyIndex` from `get`.
 */
import BTreeModule from 'sorted-btree';
import { assert } from '../assert.js';
import type { DropRevision, RevisionSlot } from './key-index.js';
import { KeyIndex } from './key-index.js';

// sorted-btree is CommonJS: its class is the module's `default` property.
const BTree = BTreeModule.default;
/** A KeyIndex, or the main revision of a fresh key (see the file comment). */
type Slot = KeyIndex | number;
type Tree = InstanceType<typeof BTree<string, Slot>>;

/** The KeyIndex a fresh key's number stands for. */
function materialize(key: string, main: number): KeyIndex {
  const ki = new KeyIndex(key);
  ki.restore(main, 1, main, 0);
  return ki;
}

/**
 * Where a range ends, in the index's terms (etcd's mvcc convention):
 * `undefined` = the single key `start`; `''` = no upper bound; otherwise the exclusive end.
 */
export type RangeEnd = string | undefined;

/** Receives each key of a range visible at the read revision, in key order. */
export type VisitKey = (key: string, main: number, sub: number) => void;

/**
 * Key → history, ordered by key bytes. Mutated only by the store's write path, compaction and
 * restore; ranges visit keys in byte order with the revision visible at the read revision.
 */
export class TreeIndex {
  private readonly tree: Tree = new BTree<string, Slot>();
  private readonly slot: RevisionSlot = { main: 0, sub: 0 };

  /** Number of keys with any retained history. */
  get size(): number {
    return this.tree.size;
  }

  /**
   * The history of `key`, if any is retained: read it, do not change it (for a fresh key it is
   * a copy made for this call; see the file comment).
   */
  get(key: string): KeyIndex | undefined {
    const v = this.tree.get(key);
    return typeof v === 'number' ? materialize(key, v) : v;
  }

  /** The stored KeyIndex of `key`, made (and stored) from a fresh key's number when needed. */
  private mutable(key: string): KeyIndex | undefined {
    const v = this.tree.get(key);
    if (typeof v !== 'number') return v;
    const ki = materialize(key, v);
    this.tree.set(key, ki);
    return ki;
  }

  /** Records a put of `key` at (main, sub), newer than every revision of the key. */
  put(key: string, main: number, sub: number): void {
    const ki = this.mutable(key);
    if (ki !== undefined) ki.put(main, sub);
    else if (sub === 0 && main > 0) this.tree.set(key, main);
    else {
      const fresh = new KeyIndex(key);
      fresh.put(main, sub);
      this.tree.set(key, fresh);
    }
  }

  /** Records the deletion of live `key` at (main, sub). */
  tombstone(key: string, main: number, sub: number): void {
    const ki = this.mutable(key);
    assert(ki !== undefined, 'tombstone of a key absent from the index');
    ki.tombstone(main, sub);
  }

  /**
   * Starts the history of a key absent from the index from a stored revision whose earlier
   * history may be compacted away (see KeyIndex.restore).
   */
  restore(key: string, created: number, version: number, main: number, sub: number): void {
    assert(this.tree.get(key) === undefined, 'restore of a key already in the index');
    if (created === main && version === 1 && sub === 0 && main > 0) {
      this.tree.set(key, main);
      return;
    }
    const ki = new KeyIndex(key);
    ki.restore(created, version, main, sub);
    this.tree.set(key, ki);
  }

  /**
   * Calls `visit` for every key in [start, end) that has a value at `atRev`, in key order, with
   * the revision holding that value. Returns how many keys it visited. `limit` > 0 stops the
   * calls after that many keys but still counts the rest (Range's `count` ignores limit).
   * `visit` must not add or remove keys, nor call back into this index (scratch state is shared).
   */
  range(start: string, end: RangeEnd, atRev: number, limit: number, visit: VisitKey): number {
    const slot = this.slot;
    if (end === undefined) {
      const v = this.tree.get(start);
      if (v === undefined || !find(v, atRev, slot)) return 0;
      visit(start, slot.main, slot.sub);
      return 1;
    }
    if (end !== '' && end <= start) return 0;
    const max = limit > 0 ? limit : Infinity;
    let count = 0;
    // forRange with a callback is several times faster than the pair iterator on long ranges.
    const high = end === '' ? this.tree.maxKey() : end;
    if (high === undefined) return 0;
    this.tree.forRange(start, high, end === '', (k, v) => {
      if (!find(v, atRev, slot)) return;
      if (count < max) visit(k, slot.main, slot.sub);
      count++;
    });
    return count;
  }

  /**
   * Compacts every key's history at `atRev` (see KeyIndex.compact), reporting each removed
   * revision to `drop`, and removes keys left with no history.
   */
  compact(atRev: number, drop: DropRevision): void {
    // A fresh key's one revision is live: compaction keeps it, so numbers are left alone.
    this.tree.editAll((_k, v) => (typeof v !== 'number' && v.compact(atRev, drop) ? { delete: true } : undefined));
  }

  /** Every key index in key order, read-only (tests, restore checks, debugging). */
  *keyIndexes(): IterableIterator<KeyIndex> {
    for (const [k, v] of this.tree.entries()) yield typeof v === 'number' ? materialize(k, v) : v;
  }
}

/** KeyIndex.find for either form of a slot. */
function find(v: Slot, atRev: number, out: RevisionSlot): boolean {
  if (typeof v !== 'number') return v.find(atRev, out);
  if (v > atRev) return false;
  out.main = v;
  out.sub = 0;
  return true;
}
