/**
 * The memory driver's Backend: one B+ tree per bucket, keyed by the latin1 string of the key
 * bytes. A latin1 string has one UTF-16 unit per byte, so JavaScript's string order is byte
 * order, and V8 stores such strings one byte per character.
 */
import BTreeModule from 'sorted-btree';
import type { Backend, BackendOp, Bucket, RangeOptions } from '../../core/ports/storage-driver.js';
import { BUCKETS } from '../../core/ports/storage-driver.js';
import { plain, validateBackendOps } from '../common/encoding.js';

// sorted-btree is CommonJS: its class is the module's `default` property.
const BTree = BTreeModule.default;
type Tree = InstanceType<typeof BTree<string, Uint8Array>>;

/** The key bytes as a latin1 string, whose string order is the bytes' order. */
export function toLatin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The inverse of `toLatin1`. */
export function fromLatin1(s: string): Uint8Array {
  return plain(Buffer.from(s, 'latin1'));
}

/**
 * A Backend in memory. Commits are atomic (a batch is validated whole before any op is
 * applied) and "durable" for as long as the instance lives, which is what the memory driver
 * promises across close/open. NB: `get` and `range` return the stored value arrays themselves;
 * callers must not mutate them.
 */
export class MemoryBackend implements Backend {
  private readonly trees = new Map<Bucket, Tree>();
  private bytes = 0;
  private closed = false;

  constructor() {
    for (const b of BUCKETS) this.trees.set(b, new BTree<string, Uint8Array>());
  }

  /** Marks the backend open again (the memory driver reuses one instance across reopen). */
  reopen(): void {
    this.closed = false;
  }

  private tree(bucket: Bucket): Tree {
    if (this.closed) throw new Error('memory backend is closed');
    const t = this.trees.get(bucket);
    if (t === undefined) throw new Error(`unknown bucket ${bucket}`);
    return t;
  }

  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined {
    return this.tree(bucket).get(toLatin1(key));
  }

  *range(bucket: Bucket, options: RangeOptions = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    const tree = this.tree(bucket);
    const lo = options.start === undefined ? undefined : toLatin1(options.start);
    const hi = options.end === undefined ? undefined : toLatin1(options.end);
    const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
    let n = 0;
    if (!options.reverse) {
      const it = tree.entries(lo);
      for (let r = it.next(); !r.done; r = it.next()) {
        const [k, v] = r.value;
        if (hi !== undefined && k >= hi) return;
        if (n++ >= limit) return;
        yield [fromLatin1(k), v];
      }
    } else {
      // entriesReversed(highestKey) starts at highestKey inclusive; skip it when it equals the
      // exclusive end.
      const it = tree.entriesReversed(hi);
      for (let r = it.next(); !r.done; r = it.next()) {
        const [k, v] = r.value;
        if (hi !== undefined && k >= hi) continue;
        if (lo !== undefined && k < lo) return;
        if (n++ >= limit) return;
        yield [fromLatin1(k), v];
      }
    }
  }

  commit(ops: readonly BackendOp[]): void {
    // Validate first so that a bad op leaves nothing half-applied.
    if (this.closed) throw new Error('memory backend is closed');
    validateBackendOps(ops);
    for (const op of ops) {
      const tree = this.tree(op.bucket);
      const k = toLatin1(op.key);
      const old = tree.get(k);
      if (old !== undefined) this.bytes -= k.length + old.byteLength;
      if (op.type === 'put') {
        // Copy: the caller may reuse its buffer.
        const v = new Uint8Array(op.value);
        tree.set(k, v);
        this.bytes += k.length + v.byteLength;
      } else {
        tree.delete(k);
      }
    }
  }

  async sync(): Promise<void> {}

  sizeBytes(): number {
    return this.bytes;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
