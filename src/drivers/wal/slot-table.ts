/**
 * Where each retained WAL entry lives: its type, length, segment and offset, in parallel typed
 * arrays rather than an object per entry.
 *
 * Why not objects: a log keeps up to snapshot-count entries (10,000 by default) between
 * compactions, so each entry's record lives far longer than a V8 scavenge interval and is
 * promoted to the old generation, where it dies at the next compaction. With 256 puts in
 * flight that promoted garbage (with the per-entry data views the cache used to hold) was
 * ~15 MB of old-generation growth over 100,000 puts, and the old generation's committed size
 * is what a server's RSS shows. Numbers in typed arrays are not objects: nothing to promote.
 *
 * Positions are relative: position 0 is the first retained entry. `dropFront` moves the
 * window (compaction); `truncate` cuts the tail (a conflicting append rewrites it).
 */
export class SlotTable {
  /** Segment sequence number of the entry's frame; UNWRITTEN while it is queued. */
  private seqs: Float64Array;
  private positions: Float64Array;
  private lengths: Uint32Array;
  private types: Uint8Array;
  private head = 0;
  private size = 0;

  /** Marks an entry whose frame is not written yet (its data is held by the store). */
  static readonly UNWRITTEN = -1;

  constructor(capacity = 1024) {
    this.seqs = new Float64Array(capacity);
    this.positions = new Float64Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.types = new Uint8Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Appends an entry at position `length`. */
  push(type: number, bytes: number, seq: number, pos: number): void {
    if (this.head + this.size === this.seqs.length) this.makeRoom();
    const k = this.head + this.size++;
    this.types[k] = type;
    this.lengths[k] = bytes;
    this.seqs[k] = seq;
    this.positions[k] = pos;
  }

  /** Keeps the first `n` entries (n <= length). */
  truncate(n: number): void {
    if (n < this.size) this.size = n;
  }

  /** Removes the first `n` entries (n <= length): position n becomes 0. */
  dropFront(n: number): void {
    const k = Math.min(n, this.size);
    this.head += k;
    this.size -= k;
    if (this.size === 0) this.head = 0;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  type(i: number): number {
    return this.types[this.head + i]!;
  }

  bytes(i: number): number {
    return this.lengths[this.head + i]!;
  }

  /** The segment of entry i's frame, or UNWRITTEN. */
  seq(i: number): number {
    return this.seqs[this.head + i]!;
  }

  pos(i: number): number {
    return this.positions[this.head + i]!;
  }

  /** Records that entry i's data is now at `pos` of segment `seq`. */
  setWritten(i: number, seq: number, pos: number): void {
    this.seqs[this.head + i] = seq;
    this.positions[this.head + i] = pos;
  }

  /** Slides the live window to the start, or doubles the arrays when more than half is live. */
  private makeRoom(): void {
    const cap = this.seqs.length;
    const next = this.size * 2 > cap ? cap * 2 : cap;
    const move = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = next === cap ? a : make(next);
      if (b === a) a.copyWithin(0, this.head, this.head + this.size);
      else b.set(a.subarray(this.head, this.head + this.size), 0);
      return b;
    };
    this.seqs = move(this.seqs, (n) => new Float64Array(n));
    this.positions = move(this.positions, (n) => new Float64Array(n));
    this.lengths = move(this.lengths, (n) => new Uint32Array(n));
    this.types = move(this.types, (n) => new Uint8Array(n));
    this.head = 0;
  }
}
