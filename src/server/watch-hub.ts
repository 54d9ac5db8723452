/**
 * The watch hub: where RxJS meets the watchable store. It subscribes to the host's applied
 * revisions, feeds them to the (pure) WatchableStore, and gives each watcher to its consumer
 * as one cold Observable: subscribing registers the watcher, unsubscribing deregisters it
 * (the Observable's teardown plays `finalize`'s part, without an extra operator per watcher).
 *
 * ```
 *   host.onApplied ──▶ applied$ ──▶ WatchableStore.notify ──▶ watcher queues (bounded)
 *                                        │                         │ gate open: drained at once
 *   catch-up pass (scheduled, chunked) ──┘                         ▼
 *   progress ticker (interval) ──────────────────────────────▶ Observable<WatchBatch> per watcher
 * ```
 *
 * Backpressure: RxJS has none, so each consumer (a watch stream) holds a `DeliveryGate`. It
 * closes the gate when its transport reports a full outbound queue and opens it on drain.
 * While the gate is closed, batches wait in the watcher's bounded queue; when that overflows,
 * the watcher becomes a victim (queue dropped, position kept) and, once the gate opens, catches
 * up from the store's history. The apply path never awaits a consumer, never buffers without
 * bound, and never drops an event silently: a watcher whose position gets compacted meanwhile
 * ends with a CompactedError.
 */
import {
  Observable,
  Subscription,
  asyncScheduler,
  interval,
  type SchedulerLike,
  type Subscriber,
  type TeardownLogic,
  type Unsubscribable,
} from 'rxjs';
import type { Event } from '../core/api/kv.js';
import type { RevisionChanges } from '../core/apply/applier.js';
import { CompactedError, KvError } from '../core/errors.js';
import { WatchableStore, type HistoryReader, type WatchOutlet } from '../core/watch/watchable-store.js';
import { Watcher, watchRange, type WatchBatch, type WatchRange, type WatchSpec } from '../core/watch/watcher.js';

export type { WatchBatch, WatchSpec } from '../core/watch/watcher.js';

/** What the hub needs of the consensus host. */
export interface AppliedSource {
  readonly store: HistoryReader & { readonly currentRevision: number };
  onApplied(listener: (changes: readonly RevisionChanges[]) => void): () => void;
  /** Called when the store was replaced wholesale (a Raft snapshot), with its new revision. */
  onRestored?(listener: (revision: number) => void): () => void;
}

/** Limits and timing of the hub. */
export interface WatchHubOptions {
  /** Events a watcher may hold queued for a blocked consumer before it falls behind. */
  readonly queueEventsMax: number;
  /** Revisions read from history per catch-up pass. */
  readonly syncRevisionsMax: number;
  /** Watchers served per catch-up pass. */
  readonly syncWatchersMax: number;
  /** Period of progress notifications to idle `progressNotify` watchers, in ms. */
  readonly progressNotifyIntervalMs: number;
  /** Runs catch-up passes and the progress ticker (default asyncScheduler; tests: TestScheduler). */
  readonly scheduler?: SchedulerLike;
}

/** Defaults: etcd's 10-minute progress interval and its history chunk sizes. */
export const DEFAULT_WATCH_HUB_OPTIONS: WatchHubOptions = Object.freeze({
  queueEventsMax: 1024,
  syncRevisionsMax: 1000,
  syncWatchersMax: 512,
  progressNotifyIntervalMs: 10 * 60 * 1000,
});

/** The error a watch on an empty key range ends with (etcd's cancel_reason text). */
export const WATCH_RANGE_EMPTY = 'mvcc: watcher range is empty';

const NO_EVENTS: readonly Event[] = Object.freeze([]);

/**
 * Flow control between the hub and one consumer (a watch stream): closed while the
 * consumer's transport is congested. Watchers behind a closed gate wait in `waiting`; opening
 * the gate drains their queues and lets victims catch up.
 */
export class DeliveryGate {
  private opened = true;
  /**
   * @internal Watchers holding queued batches or parked, waiting for this gate, oldest first
   * (each at most once: `HubWatcher.waiting`). Removed watchers are skipped when it opens.
   */
  private waiting: HubWatcher[] = [];
  /** @internal Every live watcher of this gate (for progress requests). */
  readonly watchers = new Set<HubWatcher>();
  /** @internal Callbacks of progress requests waiting for every watcher to catch up. */
  progressWaiters: ((revision: number) => void)[] = [];

  get isOpen(): boolean {
    return this.opened;
  }

  /** The consumer cannot take more for now. */
  close(): void {
    this.opened = false;
  }

  /** The consumer takes batches again: drain what waits, synchronously. */
  open(): void {
    if (this.opened) return;
    this.opened = true;
    const list = this.waiting;
    this.waiting = [];
    let i = 0;
    for (; i < list.length && this.opened; i++) {
      const w = list[i]!;
      w.waiting = false;
      if (w.state !== 'removed') w.hub.wake(w);
    }
    if (i < list.length) {
      // Closed again: those not reached keep their turn, ahead of the ones added meanwhile.
      const rest = list.slice(i);
      for (const w of this.waiting) rest.push(w);
      this.waiting = rest;
    }
  }

  /** @internal `w` waits for this gate to open. */
  park(w: HubWatcher): void {
    if (w.waiting) return;
    w.waiting = true;
    this.waiting.push(w);
  }
}

/**
 * A watcher with its consumer. It is also the teardown of its Observable (`unsubscribe`), so
 * that a watcher costs no closure (and keeps nothing of its request alive).
 */
class HubWatcher extends Watcher implements Unsubscribable {
  /** Whether it is in its gate's waiting list. */
  waiting = false;

  constructor(
    range: WatchRange,
    spec: WatchSpec,
    readonly hub: WatchHub,
    readonly gate: DeliveryGate,
    readonly subscriber: Subscriber<WatchBatch>,
  ) {
    super(range, spec);
  }

  unsubscribe(): void {
    this.hub.release(this);
  }
}

/** See the module comment. One per member; `close()` releases its subscriptions. */
export class WatchHub {
  private readonly store: WatchableStore<HubWatcher>;
  private readonly subscriptions = new Subscription();
  private readonly scheduler: SchedulerLike;
  private readonly options: WatchHubOptions;
  private syncScheduled = false;
  private readonly progressWatchers = new Set<HubWatcher>();
  /** Gates with progress requests waiting for their watchers to catch up. */
  private readonly progressGates = new Set<DeliveryGate>();
  private ticker: Subscription | null = null;
  private closed = false;

  constructor(source: AppliedSource, options: Partial<WatchHubOptions> = {}) {
    this.options = { ...DEFAULT_WATCH_HUB_OPTIONS, ...options };
    if (!(Number.isSafeInteger(this.options.progressNotifyIntervalMs) && this.options.progressNotifyIntervalMs > 0)) {
      throw new RangeError(`progressNotifyIntervalMs must be a positive integer, got ${this.options.progressNotifyIntervalMs}`);
    }
    this.scheduler = this.options.scheduler ?? asyncScheduler;
    const outlet: WatchOutlet<HubWatcher> = {
      ready: (w) => w.gate.isOpen,
      queued: (w) => this.flush(w),
      deliver: (w, batch) => {
        w.subscriber.next(batch);
        if (w.gate.progressWaiters.length > 0) this.checkProgress(w.gate);
      },
      parked: (w) => w.gate.park(w),
      compacted: (w, rev) => w.subscriber.error(new CompactedError(rev)),
    };
    this.store = new WatchableStore(source.store, outlet, source.store.currentRevision, this.options);
    const applied$ = new Observable<readonly RevisionChanges[]>((s) => source.onApplied((changes) => s.next(changes)));
    this.subscriptions.add(applied$.subscribe((changes) => this.notify(changes)));
    const off = source.onRestored?.((revision) => {
      this.store.restored(revision);
      this.requestSync();
    });
    if (off !== undefined) this.subscriptions.add(off);
  }

  /** The newest revision the hub has been notified of: the store revision watchers see. */
  get revision(): number {
    return this.store.revision;
  }

  /** Counts of watchers by state (metrics, tests). */
  stats(): { synced: number; unsynced: number; victims: number } {
    return { synced: this.store.synced.size, unsynced: this.store.unsynced.size, victims: this.store.victims.size };
  }

  /** Events held in watcher queues, over all watchers (O(watchers): for metrics and tests). */
  queuedEvents(): number {
    let n = 0;
    for (const w of this.store.synced) n += w.queuedEvents;
    for (const w of this.store.unsynced) n += w.queuedEvents;
    return n;
  }

  /**
   * A watcher as a cold Observable: each subscription is one watcher, registered at subscribe
   * and removed at unsubscribe. It emits WatchBatches (see watcher.ts) in strictly increasing
   * revision order, without gap or duplicate, from `spec.startRevision` (0: from now); a batch
   * without events is a progress notification. It errors with `CompactedError` when the history
   * it needs has been compacted (at subscribe, or later while it was behind), and with
   * `KvError('InvalidArgument')` carrying `WATCH_RANGE_EMPTY` for an empty range. It never
   * completes on its own. `gate` is its consumer's flow control (default: always open).
   */
  watch(spec: WatchSpec, gate: DeliveryGate = new DeliveryGate()): Observable<WatchBatch> {
    return new Observable<WatchBatch>((subscriber) => this.register(spec, gate, subscriber));
  }

  /** Subscribes one watcher; its teardown is the watcher itself. */
  private register(spec: WatchSpec, gate: DeliveryGate, subscriber: Subscriber<WatchBatch>): TeardownLogic {
    if (this.closed) {
      subscriber.error(new KvError('Stopped'));
      return;
    }
    const range = watchRange(spec.key, spec.rangeEnd);
    if (range === null) {
      subscriber.error(new KvError('InvalidArgument', WATCH_RANGE_EMPTY));
      return;
    }
    const w = new HubWatcher(range, spec, this, gate, subscriber);
    try {
      this.store.add(w);
    } catch (err) {
      subscriber.error(err);
      return;
    }
    gate.watchers.add(w);
    if (w.progressNotify) {
      this.progressWatchers.add(w);
      this.startTicker();
    }
    if (w.state === 'unsynced') this.requestSync();
    return w;
  }

  /**
   * Calls `cb(revision)` once every watcher of `gate` has been handed everything up to
   * `revision` (at once if they have): a revision its consumer may resume all of them from.
   */
  requestProgress(gate: DeliveryGate, cb: (revision: number) => void): void {
    gate.progressWaiters.push(cb);
    this.checkProgress(gate);
  }

  /** Stops listening to the host and ends every timer. Watchers get no more batches. */
  close(): void {
    this.closed = true;
    this.subscriptions.unsubscribe();
    this.ticker?.unsubscribe();
    this.ticker = null;
  }

  private notify(changes: readonly RevisionChanges[]): void {
    this.store.notify(changes);
  }

  /** Hands `w`'s queued batches to its consumer while its gate is open. */
  private flush(w: HubWatcher): void {
    const gate = w.gate;
    while (gate.isOpen) {
      const batch = w.take();
      if (batch === undefined) break;
      w.subscriber.next(batch);
      if (w.state === 'removed') return;
    }
    if (w.queueLength > 0) gate.park(w);
    else if (w.state === 'unsynced') this.requestSync();
    else if (gate.progressWaiters.length > 0) this.checkProgress(gate);
  }

  /** @internal `w`'s gate opened. */
  wake(w: HubWatcher): void {
    if (w.state === 'victim') {
      this.store.resume(w);
      this.requestSync();
    } else if (w.state !== 'removed') {
      this.flush(w);
    }
  }

  /** @internal Answers the gate's progress requests if all its watchers are caught up. */
  checkProgress(gate: DeliveryGate): void {
    if (gate.progressWaiters.length === 0) {
      this.progressGates.delete(gate);
      return;
    }
    this.progressGates.add(gate);
    // NB: the gate may be closed: the reply queues behind everything already handed over.
    for (const w of gate.watchers) if (!this.store.isCaughtUp(w)) return;
    this.progressGates.delete(gate);
    const waiters = gate.progressWaiters;
    gate.progressWaiters = [];
    const rev = this.store.revision;
    for (const cb of waiters) cb(rev);
  }

  private requestSync(): void {
    if (this.syncScheduled || this.closed) return;
    this.syncScheduled = true;
    // A macrotask, not a microtask: the catch-up yields to I/O and to the apply path between
    // chunks.
    const action = this.scheduler.schedule(() => {
      this.subscriptions.remove(action);
      this.syncScheduled = false;
      if (this.closed) return;
      const more = this.store.syncPass();
      if (more) this.requestSync();
      this.checkAllProgress();
    });
    this.subscriptions.add(action);
  }

  /** After a catch-up pass: watchers may have become synced without a batch to flush. */
  private checkAllProgress(): void {
    for (const gate of this.progressGates) this.checkProgress(gate);
  }

  private startTicker(): void {
    if (this.ticker !== null || this.closed) return;
    this.ticker = interval(this.options.progressNotifyIntervalMs, this.scheduler).subscribe(() => this.progressTick());
  }

  /**
   * etcd's progress notify: a caught-up watcher that had no events during the last interval
   * gets an empty batch at the current revision, which it may resume from.
   */
  private progressTick(): void {
    const rev = this.store.revision;
    for (const w of this.progressWatchers) {
      if (w.active) {
        w.active = false;
        continue;
      }
      if (w.gate.isOpen && this.store.isCaughtUp(w)) w.subscriber.next({ revision: rev, events: NO_EVENTS });
    }
  }

  /** @internal Deregisters `w` (its Observable's teardown). Idempotent. */
  release(w: HubWatcher): void {
    this.store.remove(w);
    w.gate.watchers.delete(w);
    if (w.progressNotify && this.progressWatchers.delete(w) && this.progressWatchers.size === 0) {
      this.ticker?.unsubscribe();
      this.ticker = null;
    }
    if (w.gate.progressWaiters.length > 0) this.checkProgress(w.gate);
  }
}
