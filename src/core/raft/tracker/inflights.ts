/**
 * The bounded window of appends a leader has sent to one follower in replicate state and not
 * yet seen acknowledged: at most `capacity` messages and (if `maxBytes` > 0) about `maxBytes`
 * of entry data. A ring buffer of (last index, bytes) pairs in send order, so freeing
 * everything up to an acknowledged index pops from the front.
 *
 *   start            start + count
 *   v                v
 *   [ i1 | i2 | i3 |    ...   ]   (wraps around at capacity)
 */
import { assert } from '../../assert.js';

/** See the file comment. */
export class Inflights {
  private readonly indexes: number[];
  private readonly sizes: number[];
  private start = 0;
  // Invariant: 0 <= count <= capacity.
  private count = 0;
  private bytes = 0;

  constructor(
    readonly capacity: number,
    /** 0 = no byte limit. */
    readonly maxBytes: number,
  ) {
    assert(capacity > 0, 'inflights capacity must be > 0');
    this.indexes = new Array<number>(capacity).fill(0);
    this.sizes = new Array<number>(capacity).fill(0);
  }

  /** Records an append whose last entry is `index`; indexes must increase. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'add to full inflights');
    if (this.count > 0) {
      const last = this.indexes[(this.start + this.count - 1) % this.capacity]!;
      assert(index > last, `inflight index ${index} not above ${last}`);
    }
    const slot = (this.start + this.count) % this.capacity;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every append whose last index is <= `index` (the follower acknowledged it). */
  freeLE(index: number): void {
    while (this.count > 0 && this.indexes[this.start]! <= index) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** True when no further append may be sent. */
  full(): boolean {
    return this.count === this.capacity || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  size(): number {
    return this.count;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
