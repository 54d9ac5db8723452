/**
 * The storage ports. Every driver (memory, LMDB, SQLite) implements both:
 *
 * - `LogStore`, Raft's durable log: the event source. `save()` resolving is the durability
 *   point: nothing is acknowledged, and no message that depends on it is sent, before it.
 * - `Backend`, the projection's store: named buckets of byte-ordered keys. Its commits are
 *   atomic but need not be durable when they return: the log is the truth, and recovery
 *   replays the log after the consistent index that each commit records. `sync()` makes
 *   everything committed so far durable (needed before the log prefix is discarded).
 *
 * Reads on both ports are synchronous: the drivers read memory, an mmap'd LMDB file or SQLite
 * in-process, and the MVCC core reads values on demand from its pure, synchronous code.
 */
import type { ServiceIdentifier } from 'inversify';

/** The backend's buckets. Keys within a bucket are ordered byte-wise. */
export const BUCKETS = ['key', 'meta', 'lease', 'members', 'alarm', 'auth'] as const;
export type Bucket = (typeof BUCKETS)[number];

/** One write in a backend batch. */
export type BackendOp =
  | { readonly type: 'put'; readonly bucket: Bucket; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly bucket: Bucket; readonly key: Uint8Array };

export interface RangeOptions {
  /** Inclusive lower bound; absent = from the first key. */
  readonly start?: Uint8Array;
  /** Exclusive upper bound; absent = to the last key. */
  readonly end?: Uint8Array;
  /** Descending order when true (still within [start, end)). */
  readonly reverse?: boolean;
  /** At most this many pairs; absent or 0 = no limit. */
  readonly limit?: number;
}

export interface Backend {
  /** The value under `key`, or undefined. */
  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined;
  /**
   * Pairs in [start, end) in byte order (or reverse). The iterator is lazy; the caller must not
   * call `commit` before it finishes or is abandoned with `return()`.
   */
  range(bucket: Bucket, options?: RangeOptions): IterableIterator<[Uint8Array, Uint8Array]>;
  /** Applies all ops atomically, in order; visible to reads when it returns. */
  commit(ops: readonly BackendOp[]): void;
  /** Makes every commit so far durable. */
  sync(): Promise<void>;
  /** Bytes the backend occupies (file size, or an estimate for memory). */
  sizeBytes(): number;
  /**
   * Optional: rewrites the store compactly so that the space freed by deletions and compactions
   * goes back to the file system and `sizeBytes()` shrinks (etcd's Defrag), once it returns or
   * its promise resolves. A driver that does it synchronously (SQLite's VACUUM) returns nothing;
   * one that copies on another thread (LMDB) returns a promise, and must keep every commit made
   * meanwhile. A driver that cannot do this leaves it out.
   */
  defragment?(): void | Promise<void>;
  close(): Promise<void>;
}

export const EntryType = { Normal: 0, ConfChange: 1 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** A Raft log entry. `data` is opaque to the log store. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Raft's persistent state besides the log. */
export interface HardState {
  readonly term: number;
  /** Member id voted for in `term`, 0 = none. */
  readonly vote: number;
  readonly commit: number;
}

/** Where the last snapshot (or log compaction point) stands. `data` is not stored here. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** Voter and learner ids at `index` (empty until membership exists). */
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

/** One atomic, durable write to the log store. */
export interface LogUpdate {
  /**
   * Entries with consecutive indexes. `entries[0].index` may be at most `lastIndex() + 1`;
   * every stored entry at or after it is replaced (a conflicting suffix is truncated).
   */
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState;
  /**
   * A snapshot received from a leader: the log is reset to start after `snapshot.index`
   * (entries at or below it are dropped; later ones kept only if their terms match).
   */
  readonly snapshot?: SnapshotMeta;
}

export interface LogStore {
  /** Hard state as last saved ({0,0,0} on a new store). */
  hardState(): HardState;
  /** The last snapshot / compaction point ({index: 0, term: 0} on a new store). */
  snapshotMeta(): SnapshotMeta;
  /** snapshotMeta().index + 1. */
  firstIndex(): number;
  /** Index of the last entry, or snapshotMeta().index when there are none after it. */
  lastIndex(): number;
  /** Term of the entry at `index`; snapshotMeta().term at its index; undefined outside. */
  term(index: number): number | undefined;
  /** Entries in [lo, hi), lo >= firstIndex(), hi <= lastIndex() + 1; stops early once their data exceeds maxBytes (always at least one). */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /**
   * Writes `update` atomically and resolves when it is durable (fsync'd). Calls are applied in
   * call order; reads reflect an update once its promise resolves.
   */
  save(update: LogUpdate): Promise<void>;
  /**
   * Discards entries up to and including `index` (<= lastIndex), recording `meta` as the new
   * snapshot point (meta.index === index).
   */
  compact(meta: SnapshotMeta): Promise<void>;
  close(): Promise<void>;
}

/** What a driver opens from a data directory. */
export interface StorageHandles {
  readonly backend: Backend;
  readonly logStore: LogStore;
}

export type StorageKind = 'memory' | 'lmdb' | 'sqlite';

export interface StorageDriver {
  readonly kind: StorageKind;
  /**
   * Opens (creating if absent) the log store and backend under `dataDir`. The memory driver
   * ignores the directory but keeps its data across close/open of the same driver instance,
   * so that tests can reopen it.
   */
  open(dataDir: string): Promise<StorageHandles>;
}

export const StorageDriver: ServiceIdentifier<StorageDriver> = Symbol.for('etcetera.StorageDriver');
