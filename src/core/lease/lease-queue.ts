/**
 * A priority queue of lease IDs by a time in ms (an expiry, or when to checkpoint next): a
 * binary min-heap plus a map from ID to heap slot, so that renewing a lease (moving it) and
 * revoking one (removing it) are O(log n) without leaving stale entries behind, as etcd's
 * LeaseExpiredNotifier does with its index map.
 *
 * ```
 *   heap (array)        slot: id → index          peek() = ids[0]
 *        [0] 1000 ms                               set(id, t): insert or move, sift
 *       /        \                                 remove(id): swap with last, sift
 *   [1] 2500    [2] 1200
 * ```
 *
 * Ties are broken by ID, so that the order of `pop()` is a function of the contents alone
 * (tests replay it exactly).
 */
import { assert } from '../assert.js';

/** See the module comment. IDs are unique in the queue; times are ms (any finite number or Infinity). */
export class LeaseQueue {
  private readonly ids: number[] = [];
  private readonly times: number[] = [];
  /** Invariant: slot.get(ids[i]) === i for every i. */
  private readonly slot = new Map<number, number>();

  /** Number of queued IDs. */
  get size(): number {
    return this.ids.length;
  }

  /** Whether `id` is queued. */
  has(id: number): boolean {
    return this.slot.has(id);
  }

  /** The time `id` is queued at, or undefined. */
  timeOf(id: number): number | undefined {
    const i = this.slot.get(id);
    return i === undefined ? undefined : this.times[i];
  }

  /** The earliest ID and its time, or undefined when empty. */
  peek(): { id: number; timeMs: number } | undefined {
    if (this.ids.length === 0) return undefined;
    return { id: this.ids[0]!, timeMs: this.times[0]! };
  }

  /** Queues `id` at `timeMs`, or moves it there if already queued. */
  set(id: number, timeMs: number): void {
    assert(!Number.isNaN(timeMs), 'lease queue time is NaN');
    const i = this.slot.get(id);
    if (i === undefined) {
      const n = this.ids.length;
      this.ids.push(id);
      this.times.push(timeMs);
      this.slot.set(id, n);
      this.up(n);
      return;
    }
    const old = this.times[i]!;
    this.times[i] = timeMs;
    if (timeMs < old) this.up(i);
    else this.down(i);
  }

  /** Removes `id`; no-op when absent. */
  remove(id: number): void {
    const i = this.slot.get(id);
    if (i === undefined) return;
    this.slot.delete(id);
    const last = this.ids.length - 1;
    const lastId = this.ids.pop()!;
    const lastTime = this.times.pop()!;
    if (i === last) return;
    this.ids[i] = lastId;
    this.times[i] = lastTime;
    this.slot.set(lastId, i);
    this.up(i);
    this.down(this.slot.get(lastId)!);
  }

  /** Removes and returns the earliest ID, or undefined when empty. */
  pop(): number | undefined {
    if (this.ids.length === 0) return undefined;
    const id = this.ids[0]!;
    this.remove(id);
    return id;
  }

  /** Empties the queue. */
  clear(): void {
    this.ids.length = 0;
    this.times.length = 0;
    this.slot.clear();
  }

  private less(a: number, b: number): boolean {
    const ta = this.times[a]!;
    const tb = this.times[b]!;
    return ta < tb || (ta === tb && this.ids[a]! < this.ids[b]!);
  }

  private swap(a: number, b: number): void {
    const ia = this.ids[a]!;
    const ib = this.ids[b]!;
    const t = this.times[a]!;
    this.ids[a] = ib;
    this.ids[b] = ia;
    this.times[a] = this.times[b]!;
    this.times[b] = t;
    this.slot.set(ib, a);
    this.slot.set(ia, b);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.ids.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && this.less(r, l) ? r : l;
      if (!this.less(c, i)) return;
      this.swap(i, c);
      i = c;
    }
  }
}
