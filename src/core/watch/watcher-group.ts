/**
 * A set of watchers indexed by key range (range-index.ts): which watchers does an event on
 * key k concern? One stab of the index, not a test of every watcher.
 */
import type { Watcher } from './watcher.js';
import { RangeIndex } from './range-index.js';

/** Watchers by key range. Membership is by identity. */
export class WatcherGroup<W extends Watcher = Watcher> {
  private readonly index = new RangeIndex<W>();
  private readonly members = new Set<W>();

  get size(): number {
    return this.members.size;
  }

  has(w: W): boolean {
    return this.members.has(w);
  }

  /** Adds `w` (a no-op when already a member). */
  add(w: W): void {
    if (this.members.has(w)) return;
    this.members.add(w);
    this.index.add(w.start, w.end, w);
  }

  /** Removes `w`; returns whether it was a member. */
  delete(w: W): boolean {
    if (!this.members.delete(w)) return false;
    this.index.delete(w.start, w.end, w);
    return true;
  }

  /** Calls `visit` for each member whose range holds `key` (latin1). `visit` must not change the group. */
  match(key: string, visit: (w: W) => void): void {
    this.index.stab(key, visit);
  }

  [Symbol.iterator](): IterableIterator<W> {
    return this.members.values();
  }
}
