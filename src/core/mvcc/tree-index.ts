/**
 * The in-memory key index: an ordered map from key to its `KeyIndex` (history of revisions),
 * as etcd's treeIndex. It is the only part of the key space kept in memory; values are read from
 * the backend by revision.
 *
 * Keys are the latin1 strings of the key bytes (see bytes.ts): their `<` order is byte order.
 */
import BTreeModule from 'sorted-btree';
import { assert } from '../assert.js';
import type { DropRevision, RevisionSlot } from './key-index.js';
import { KeyIndex } from './key-index.js';

// sorted-btree is CommonJS: its class is the module's `default` property.
const BTree = BTreeModule.default;
type Tree = InstanceType<typeof BTree<string, KeyIndex>>;

/**
 * Where a range ends, in the index's terms (etcd's mvcc convention):
 * `undefined` = the single key `start`; `''` = no upper bound; otherwise the exclusive end.
 */
export type RangeEnd = string | undefined;

/** Receives each key of a range visible at the read revision, in key order. */
export type VisitKey = (ki: KeyIndex, main: number, sub: number) => void;

/**
 * Key → history, ordered by key bytes. Mutated only by the store's write path, compaction and
 * restore; ranges visit keys in byte order with the revision visible at the read revision.
 */
export class TreeIndex {
  private readonly tree: Tree = new BTree<string, KeyIndex>();
  private readonly slot: RevisionSlot = { main: 0, sub: 0 };

  /** Number of keys with any retained history. */
  get size(): number {
    return this.tree.size;
  }

  /** The history of `key`, if any is retained. */
  get(key: string): KeyIndex | undefined {
    return this.tree.get(key);
  }

  /** The history of `key`, created empty when absent. */
  getOrCreate(key: string): KeyIndex {
    let ki = this.tree.get(key);
    if (ki === undefined) {
      ki = new KeyIndex(key);
      this.tree.set(key, ki);
    }
    return ki;
  }

  /** Records a put of `key` at (main, sub). */
  put(key: string, main: number, sub: number): void {
    this.getOrCreate(key).put(main, sub);
  }

  /** Records the deletion of live `key` at (main, sub). */
  tombstone(key: string, main: number, sub: number): void {
    const ki = this.tree.get(key);
    assert(ki !== undefined, 'tombstone of a key absent from the index');
    ki.tombstone(main, sub);
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
      const ki = this.tree.get(start);
      if (ki === undefined || !ki.find(atRev, slot)) return 0;
      visit(ki, slot.main, slot.sub);
      return 1;
    }
    if (end !== '' && end <= start) return 0;
    const max = limit > 0 ? limit : Infinity;
    let count = 0;
    // forRange with a callback is several times faster than the pair iterator on long ranges.
    const high = end === '' ? this.tree.maxKey() : end;
    if (high === undefined) return 0;
    this.tree.forRange(start, high, end === '', (_k, ki) => {
      if (!ki.find(atRev, slot)) return;
      if (count < max) visit(ki, slot.main, slot.sub);
      count++;
    });
    return count;
  }

  /**
   * Compacts every key's history at `atRev` (see KeyIndex.compact), reporting each removed
   * revision to `drop`, and removes keys left with no history.
   */
  compact(atRev: number, drop: DropRevision): void {
    this.tree.editAll((_k, ki) => (ki.compact(atRev, drop) ? { delete: true } : undefined));
  }

  /** Every key index in key order (tests, restore checks, debugging). */
  *keyIndexes(): IterableIterator<KeyIndex> {
    for (const [, ki] of this.tree.entries()) yield ki;
  }
}
