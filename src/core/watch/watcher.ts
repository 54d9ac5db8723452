/**
 * One watcher: a key range, a position in the revision history, event filters, and a bounded
 * queue of batches waiting for its consumer.
 *
 * Position: `nextRevision` is the first revision this watcher still needs. Everything below it
 * has been queued for (or handed to) the consumer, or did not match. While the watcher is
 * synced, live revisions advance it; while it is unsynced, the catch-up reads history from it.
 *
 * ```
 *   revisions   … 7  8  9  10  11  12 …
 *                        ▲            ▲
 *   queue:  [8] [9]      │            └ store revision (the last one notified)
 *                        └ nextRevision = 10 (8 and 9 queued; the consumer took everything < 8)
 * ```
 *
 * Pure data and small decisions; the watchable store moves watchers between states.
 */
import type { Bytes, Event } from '../api/kv.js';
import { EventType } from '../api/kv.js';
import { FilterType } from '../api/watch.js';
import { assert } from '../assert.js';
import { bytesToLatin1 } from '../mvcc/bytes.js';
import { toRangeEnd } from '../mvcc/kv-store.js';
import type { RangeEnd } from '../mvcc/tree-index.js';

/**
 * What a consumer receives: the events of one or more whole revisions, in (revision, sub)
 * order, and `revision`: every revision up to it has been delivered to this watcher (or did
 * not match it), so a client may resume from `revision + 1`. Live batches hold one revision
 * (and `revision` is that revision); catch-up batches may hold many. A batch without events is
 * a progress notification.
 */
export interface WatchBatch {
  readonly revision: number;
  readonly events: readonly Event[];
}

/** What a client asks to watch, in the core's terms (etcd's WatchCreateRequest, less ids). */
export interface WatchSpec {
  /** Empty is treated as "\0" (etcd). */
  readonly key: Bytes;
  /** As in Range: empty = the single key, "\0" = every key ≥ key, else the exclusive end. */
  readonly rangeEnd?: Bytes | null;
  /** Inclusive; 0 (or absent) = from now, the current revision + 1. */
  readonly startRevision?: number;
  readonly filters?: readonly FilterType[] | null;
  readonly prevKv?: boolean;
  readonly progressNotify?: boolean;
}

/** A watch key range in index terms: latin1 start, and a RangeEnd (see tree-index.ts). */
export interface WatchRange {
  readonly start: string;
  readonly end: RangeEnd;
}

/**
 * The range a watch covers, or null when it is empty (`range_end` ≤ key, not "\0"): etcd
 * refuses such a watch with `mvcc: watcher range is empty`.
 */
export function watchRange(key: Bytes, rangeEnd: Bytes | null | undefined): WatchRange | null {
  const start = key.length === 0 ? '\0' : bytesToLatin1(key);
  const end = toRangeEnd(rangeEnd);
  if (end !== undefined && end !== '' && end <= start) return null;
  return { start, end };
}

/** Where a watcher is in its life. See watchable-store.ts. */
export type WatcherState = 'new' | 'synced' | 'unsynced' | 'victim' | 'removed';

/** A queued batch and the first revision it covers (where to resume should it be dropped). */
interface QueuedBatch {
  readonly first: number;
  readonly batch: WatchBatch;
}

/** A watcher. Subclassed by the shell to carry its consumer. See the module comment. */
export class Watcher {
  readonly start: string;
  readonly end: RangeEnd;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  /** As asked; 0 = from now. */
  readonly startRevision: number;
  /** The first revision this watcher still needs. Invariant: only grows, except on a dropped queue. */
  nextRevision = 0;
  state: WatcherState = 'new';
  /** The store's compacted revision when the watcher was added (see syncPass). */
  compactRevisionAtAdd = 0;
  /** True once a batch with events was queued since the last progress check (etcd: "had events"). */
  active = false;
  /** Events in `queue`. Invariant: the sum of the queued batches' event counts. */
  queuedEvents = 0;
  private queue: QueuedBatch[] | null = null;
  /** Index of the oldest batch in `queue` (taking does not shift the array). */
  private head = 0;

  /** `range` must come from `watchRange` (non-empty). */
  constructor(range: WatchRange, spec: WatchSpec) {
    this.start = range.start;
    this.end = range.end;
    const filters = spec.filters ?? [];
    this.noPut = filters.includes(FilterType.NOPUT);
    this.noDelete = filters.includes(FilterType.NODELETE);
    this.prevKv = spec.prevKv === true;
    this.progressNotify = spec.progressNotify === true;
    const start = spec.startRevision ?? 0;
    assert(Number.isSafeInteger(start), 'start revision must be a safe integer');
    this.startRevision = start < 0 ? 0 : start;
  }

  /** Whether `key` (latin1) is in this watcher's range. */
  contains(key: string): boolean {
    const end = this.end;
    if (end === undefined) return key === this.start;
    return key >= this.start && (end === '' || key < end);
  }

  /** Whether the event type passes this watcher's filters. */
  accepts(e: Event): boolean {
    return e.type === EventType.PUT ? !this.noPut : !this.noDelete;
  }

  /** Batches waiting for the consumer. */
  get queueLength(): number {
    return this.queue === null ? 0 : this.queue.length - this.head;
  }

  /** Appends a batch covering revisions `first..batch.revision`. */
  push(first: number, batch: WatchBatch): void {
    assert(first <= batch.revision, 'a batch covers at least its first revision');
    if (this.queue === null) this.queue = [];
    this.queue.push({ first, batch });
    this.queuedEvents += batch.events.length;
    if (batch.events.length > 0) this.active = true;
  }

  /** Takes the oldest queued batch, for the consumer. */
  take(): WatchBatch | undefined {
    const q = this.queue;
    if (q === null) return undefined;
    const { batch } = q[this.head]!;
    q[this.head++] = undefined as unknown as QueuedBatch; // let it be collected
    this.queuedEvents -= batch.events.length;
    if (this.head === q.length) {
      this.queue = null;
      this.head = 0;
    }
    return batch;
  }

  /**
   * Drops every queued batch (the consumer is too slow) and returns the first revision they
   * covered, or undefined when the queue was empty. The caller moves `nextRevision` back to it.
   */
  dropQueue(): number | undefined {
    const q = this.queue;
    const head = this.head;
    this.queue = null;
    this.head = 0;
    this.queuedEvents = 0;
    return q === null ? undefined : q[head]!.first;
  }
}

/**
 * Per-batch cache of the event without its prevKv (for watchers that did not ask for it), so
 * that every such watcher of one event shares one object and one events array.
 */
export class EventViews {
  private readonly bare = new Map<Event, Event>();

  /** `e` as watcher `w` sees it. */
  view(w: Watcher, e: Event): Event {
    if (w.prevKv || e.prevKv === null || e.prevKv === undefined) return e;
    let b = this.bare.get(e);
    if (b === undefined) {
      b = { type: e.type, kv: e.kv };
      this.bare.set(e, b);
    }
    return b;
  }
}
