/**
 * An ordered index over the key ranges of watchers, so that finding the watchers of one event
 * costs O(log R + matches) for R distinct ranges instead of a test of every watcher.
 *
 * Keys are latin1 strings of key bytes (see mvcc/bytes.ts: `<` order is byte order). A range
 * is given as in the MVCC index (`RangeEnd`): `undefined` = the single key `start`, `''` = no
 * upper bound, otherwise the exclusive end.
 *
 * Two structures:
 *
 * ```
 *   points   Map key → items           single-key watchers: one hash lookup per event
 *   ranges   AVL tree of distinct [start, end) ranges, ordered by (start, end), each node
 *            holding its items and the largest end in its subtree (maxEnd, null = unbounded):
 *
 *                    [b, f) max ∞
 *                   /            \
 *          [a, c) max c       [d, ∞) max ∞
 *
 *            stab(k): skip a subtree whose maxEnd <= k; skip the right subtree of a node
 *            whose start > k (every start there is larger still).
 * ```
 *
 * Many watchers on one prefix share one node, so a fan-out of 10,000 watchers on a prefix is
 * one tree visit and one Set iteration.
 */
import type { RangeEnd } from '../mvcc/tree-index.js';

/** A tree node: one distinct range and the items watching it. */
interface Node<T> {
  readonly start: string;
  /** Exclusive end; null = no upper bound. */
  readonly end: string | null;
  readonly items: Set<T>;
  left: Node<T> | null;
  right: Node<T> | null;
  height: number;
  /** Largest end in this subtree; null = unbounded. Invariant: kept exact by every rotation. */
  maxEnd: string | null;
}

function height<T>(n: Node<T> | null): number {
  return n === null ? 0 : n.height;
}

/** The larger of two ends, null (unbounded) being the largest. */
function maxOf(a: string | null, b: string | null): string | null {
  if (a === null || b === null) return null;
  return a > b ? a : b;
}

function update<T>(n: Node<T>): void {
  const l = n.left;
  const r = n.right;
  n.height = 1 + Math.max(height(l), height(r));
  let m = n.end;
  if (l !== null) m = maxOf(m, l.maxEnd);
  if (r !== null) m = maxOf(m, r.maxEnd);
  n.maxEnd = m;
}

function rotateRight<T>(n: Node<T>): Node<T> {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft<T>(n: Node<T>): Node<T> {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

function balance<T>(n: Node<T>): Node<T> {
  update(n);
  const bf = height(n.left) - height(n.right);
  if (bf > 1) {
    if (height(n.left!.left) < height(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (bf < -1) {
    if (height(n.right!.right) < height(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

/** Orders ranges by start, then end (unbounded last). */
function compare(start: string, end: string | null, n: Node<unknown>): number {
  if (start !== n.start) return start < n.start ? -1 : 1;
  if (end === n.end) return 0;
  if (end === null) return 1;
  if (n.end === null) return -1;
  return end < n.end ? -1 : 1;
}

/** Items indexed by key range; see the module comment. Not thread-safe, not re-entrant. */
export class RangeIndex<T> {
  /**
   * Single-key items: one item is stored as itself, several in a Set (most keys have one
   * watcher, and a Set costs ~200 bytes). NB: so T must not itself be a Set.
   */
  private readonly points = new Map<string, T | Set<T>>();
  private root: Node<T> | null = null;
  private count = 0;
  private nodes = 0;

  /** Number of (range, item) entries. */
  get size(): number {
    return this.count;
  }

  /** Number of distinct ranges in the tree (not counting single keys); for tests and metrics. */
  get distinctRanges(): number {
    return this.nodes;
  }

  /** Adds `item` under the range; adding the same pair twice is a no-op. */
  add(start: string, end: RangeEnd, item: T): void {
    if (end === undefined) {
      const cur = this.points.get(start);
      if (cur === undefined) this.points.set(start, item);
      else if (cur instanceof Set) {
        if (cur.has(item)) return;
        cur.add(item);
      } else {
        if (cur === item) return;
        this.points.set(start, new Set([cur, item]));
      }
      this.count++;
      return;
    }
    const e = end === '' ? null : end;
    let node = this.find(start, e);
    if (node === null) {
      node = { start, end: e, items: new Set(), left: null, right: null, height: 1, maxEnd: e };
      this.root = this.insert(this.root, node);
      this.nodes++;
    }
    if (!node.items.has(item)) {
      node.items.add(item);
      this.count++;
    }
  }

  /** Removes `item` from the range; returns whether it was there. */
  delete(start: string, end: RangeEnd, item: T): boolean {
    if (end === undefined) {
      const cur = this.points.get(start);
      if (cur === undefined) return false;
      if (cur instanceof Set) {
        if (!cur.delete(item)) return false;
        if (cur.size === 1) this.points.set(start, cur.values().next().value as T);
      } else {
        if (cur !== item) return false;
        this.points.delete(start);
      }
      this.count--;
      return true;
    }
    const e = end === '' ? null : end;
    const node = this.find(start, e);
    if (node === null || !node.items.delete(item)) return false;
    this.count--;
    if (node.items.size === 0) {
      this.root = this.remove(this.root, start, e);
      this.nodes--;
    }
    return true;
  }

  /**
   * Calls `visit` for every item whose range contains `key`. `visit` must not change the index
   * (collect first, then act).
   */
  stab(key: string, visit: (item: T) => void): void {
    const cur = this.points.get(key);
    if (cur instanceof Set) for (const item of cur) visit(item);
    else if (cur !== undefined) visit(cur);
    if (this.root !== null) stabNode(this.root, key, visit);
  }

  private find(start: string, end: string | null): Node<T> | null {
    let n = this.root;
    while (n !== null) {
      const c = compare(start, end, n);
      if (c === 0) return n;
      n = c < 0 ? n.left : n.right;
    }
    return null;
  }

  private insert(n: Node<T> | null, node: Node<T>): Node<T> {
    if (n === null) return node;
    if (compare(node.start, node.end, n) < 0) n.left = this.insert(n.left, node);
    else n.right = this.insert(n.right, node);
    return balance(n);
  }

  private remove(n: Node<T> | null, start: string, end: string | null): Node<T> | null {
    if (n === null) return null;
    const c = compare(start, end, n);
    if (c < 0) {
      n.left = this.remove(n.left, start, end);
      return balance(n);
    }
    if (c > 0) {
      n.right = this.remove(n.right, start, end);
      return balance(n);
    }
    if (n.left === null) return n.right;
    if (n.right === null) return n.left;
    // Two children: the in-order successor (leftmost of the right subtree) takes n's place.
    let succ = n.right;
    while (succ.left !== null) succ = succ.left;
    succ.right = removeMin(n.right);
    succ.left = n.left;
    return balance(succ);
  }
}

function removeMin<T>(n: Node<T>): Node<T> | null {
  if (n.left === null) return n.right;
  n.left = removeMin(n.left);
  return balance(n);
}

function stabNode<T>(n: Node<T>, key: string, visit: (item: T) => void): void {
  // Recursion depth is the tree height: O(log R).
  if (n.maxEnd !== null && n.maxEnd <= key) return;
  if (n.left !== null) stabNode(n.left, key, visit);
  if (n.start > key) return;
  if (n.end === null || n.end > key) for (const item of n.items) visit(item);
  if (n.right !== null) stabNode(n.right, key, visit);
}
