/**
 * The watchable store: which watcher gets which events, and when, as etcd's watchableStore.
 * Pure and synchronous; the shell (server/watch-hub.ts) feeds it applied revisions, schedules
 * its catch-up passes, and drains watcher queues into consumers.
 *
 * Every watcher is in exactly one state:
 *
 * ```
 *                add (start ≤ store revision)         catch-up reached the store revision
 *   new ─────────────────────────────────▶ unsynced ──────────────────────────────▶ synced
 *    │ add (start 0 or in the future)          ▲  │ consumer not ready                │
 *    └──────────────────────────────────────────┼──┼──────────────────────────────▶ synced
 *                                  resume()     │  ▼                                   │
 *                                            victim ◀──────────────────────────────────┘
 *                                                    queue overflow: queue dropped,
 *                                                    position kept
 * ```
 *
 * - synced: caught up; `notify` hands it each live revision that matches (one batch per
 *   revision: the events of a revision are never split). Found through a range index.
 * - unsynced: behind; `syncPass` reads history from the store for it in bounded chunks.
 * - victim: its consumer stopped taking batches and its queue overflowed (or it was behind
 *   when its consumer was not ready): it holds nothing but its position, and waits for
 *   `resume` (the consumer is ready again) to become unsynced and catch up.
 *
 * Guarantees (checked by test/core/watch): per watcher, revisions strictly increase, no event
 * twice, no gap, a revision's events in one batch; nothing newer than the notified revision.
 * The apply path (`notify`) never waits: a full queue makes a victim, not a stall.
 * A watcher whose position falls below the compacted revision is removed and reported
 * (`WatchOutlet.compacted`), never silently skipped ahead.
 */
import type { Event } from '../api/kv.js';
import { assert } from '../assert.js';
import { CompactedError } from '../errors.js';
import { bytesToLatin1 } from '../mvcc/bytes.js';
import type { RevisionChanges } from '../mvcc/kv-store.js';
import { EventViews, type WatchBatch, type Watcher } from './watcher.js';
import { WatcherGroup } from './watcher-group.js';

/** What the store reads history through (KvStore implements it). */
export interface HistoryReader {
  /** Reads below this fail. */
  readonly compactRevision: number;
  /**
   * The changes of revisions `from..to` inclusive, at most `maxRevisions` revisions, each with
   * its events in order carrying `prevKv`. Throws CompactedError when `from < compactRevision`.
   */
  changes(from: number, to: number, maxRevisions: number): RevisionChanges[];
}

/** How the store talks to the consumers of its watchers (the shell implements it). */
export interface WatchOutlet<W extends Watcher> {
  /** Whether `w`'s consumer takes batches now (decides unsynced → victim before a read). */
  ready(w: W): boolean;
  /** `w`'s queue got a batch: drain it if the consumer is ready. May remove watchers. */
  queued(w: W): void;
  /**
   * Hands `batch` to `w`'s consumer now: called instead of queueing when the queue is empty and
   * `ready(w)` holds (the common case: no allocation per delivery). May remove watchers.
   */
  deliver(w: W, batch: WatchBatch): void;
  /** `w` became a victim: call `resume(w)` once its consumer is ready again. */
  parked(w: W): void;
  /** `w` needed a compacted revision: it has been removed; end it with `compactRevision`. */
  compacted(w: W, compactRevision: number): void;
}

/** Limits of the store; every one > 0. */
export interface WatchableStoreOptions {
  /** Events one watcher may have queued before it becomes a victim (etcd's chanBufLen role). */
  readonly queueEventsMax: number;
  /** Revisions read from history per catch-up pass. */
  readonly syncRevisionsMax: number;
  /** Unsynced watchers served per catch-up pass. */
  readonly syncWatchersMax: number;
}

/** Defaults, as etcd: 1000 revisions per history read, 512 watchers per sync pass. */
export const DEFAULT_WATCHABLE_STORE_OPTIONS: WatchableStoreOptions = Object.freeze({
  queueEventsMax: 1024,
  syncRevisionsMax: 1000,
  syncWatchersMax: 512,
});

/** See the module comment. */
export class WatchableStore<W extends Watcher = Watcher> {
  readonly synced = new WatcherGroup<W>();
  readonly unsynced = new Set<W>();
  readonly victims = new Set<W>();
  private rev: number;
  private readonly opts: WatchableStoreOptions;

  /** `revision`: the store revision already applied (events after it come through `notify`). */
  constructor(
    private readonly reader: HistoryReader,
    private readonly outlet: WatchOutlet<W>,
    revision: number,
    options: Partial<WatchableStoreOptions> = {},
  ) {
    assert(Number.isSafeInteger(revision) && revision >= 0, 'bad initial revision');
    this.rev = revision;
    this.opts = { ...DEFAULT_WATCHABLE_STORE_OPTIONS, ...options };
    for (const [k, v] of Object.entries(this.opts)) assert(Number.isSafeInteger(v) && v > 0, `${k} must be > 0`);
  }

  /** The last revision notified: the newest revision any watcher may be given. */
  get revision(): number {
    return this.rev;
  }

  /** Watchers in the store, in any state. */
  get size(): number {
    return this.synced.size + this.unsynced.size + this.victims.size;
  }

  /** Whether `w` is synced with nothing queued: it has been handed everything up to `revision`. */
  isCaughtUp(w: W): boolean {
    return w.state === 'synced' && w.queueLength === 0 && w.nextRevision <= this.rev + 1;
  }

  /**
   * Registers a new watcher at its start revision. Throws CompactedError (and registers
   * nothing) when the start revision is below the compacted revision.
   */
  add(w: W): void {
    assert(w.state === 'new', 'a watcher is added once');
    const start = w.startRevision === 0 ? this.rev + 1 : w.startRevision;
    const compact = this.reader.compactRevision;
    if (start < compact) throw new CompactedError(compact);
    w.nextRevision = start;
    w.compactRevisionAtAdd = compact;
    if (start > this.rev) {
      w.state = 'synced';
      this.synced.add(w);
    } else {
      w.state = 'unsynced';
      this.unsynced.add(w);
    }
  }

  /** Forgets `w` and its queue. Idempotent. */
  remove(w: W): void {
    switch (w.state) {
      case 'synced':
        this.synced.delete(w);
        break;
      case 'unsynced':
        this.unsynced.delete(w);
        break;
      case 'victim':
        this.victims.delete(w);
        break;
      case 'new':
      case 'removed':
        break;
    }
    w.state = 'removed';
    w.dropQueue();
  }

  /** The consumer of victim `w` is ready again: it will catch up. No-op in other states. */
  resume(w: W): void {
    if (w.state !== 'victim') return;
    this.victims.delete(w);
    w.state = 'unsynced';
    this.unsynced.add(w);
  }

  /**
   * The store jumped to `revision` without notifications (a Raft snapshot from the leader
   * replaced it): every synced watcher goes back to catching up from history, which the
   * snapshot carries (or is cancelled as compacted if it does not reach back far enough).
   */
  restored(revision: number): void {
    for (const w of [...this.synced]) {
      this.synced.delete(w);
      w.state = 'unsynced';
      this.unsynced.add(w);
    }
    if (revision > this.rev) this.rev = revision;
  }

  /** Whether a catch-up pass has work: an unsynced watcher with nothing queued. */
  hasSyncWork(): boolean {
    for (const w of this.unsynced) if (w.queueLength === 0) return true;
    return false;
  }

  /**
   * The applied revisions, in order, after the previous ones. Each matching synced watcher gets
   * one batch per revision; a watcher whose queue would overflow becomes a victim instead.
   */
  notify(changes: readonly RevisionChanges[]): void {
    for (const rc of changes) {
      const rev = rc.revision;
      assert(rev > this.rev, `revision ${rev} notified after ${this.rev}`);
      this.rev = rev;
      if (this.synced.size === 0 || rc.events.length === 0) continue;
      if (rc.events.length === 1) this.notifyOne(rev, rc.events[0]!);
      else this.notifyMany(rev, rc.events);
    }
  }

  /** One event: every watcher of one view shares one events array (encode-once friendly). */
  private notifyOne(rev: number, e: Event): void {
    const targets: W[] = [];
    this.synced.match(bytesToLatin1(e.kv.key), (w) => {
      if (w.nextRevision <= rev && w.accepts(e)) targets.push(w);
    });
    if (targets.length === 0) return;
    let withPrev: WatchBatch | undefined;
    let bare: WatchBatch | undefined;
    for (const w of targets) {
      let batch: WatchBatch;
      if (w.prevKv || e.prevKv === null || e.prevKv === undefined) batch = withPrev ??= { revision: rev, events: [e] };
      else batch = bare ??= { revision: rev, events: [{ type: e.type, kv: e.kv }] };
      this.offer(w, rev, batch);
    }
  }

  private notifyMany(rev: number, events: readonly Event[]): void {
    const per = new Map<W, Event[]>();
    const views = new EventViews();
    for (const e of events) {
      this.synced.match(bytesToLatin1(e.kv.key), (w) => {
        if (w.nextRevision > rev || !w.accepts(e)) return;
        let list = per.get(w);
        if (list === undefined) {
          list = [];
          per.set(w, list);
        }
        list.push(views.view(w, e));
      });
    }
    for (const [w, list] of per) this.offer(w, rev, { revision: rev, events: list });
  }

  /** Queues a live batch for synced `w`, or makes `w` a victim if its queue is full. */
  private offer(w: W, rev: number, batch: WatchBatch): void {
    // The consumer of an earlier target may have removed this one meanwhile.
    if (w.state !== 'synced') return;
    // NB: one batch is always accepted into an empty queue, however large: a revision is never
    // split, and a consumer that keeps up must not be punished for a big transaction.
    if (w.queueLength > 0 && w.queuedEvents + batch.events.length > this.opts.queueEventsMax) {
      const first = w.dropQueue();
      w.nextRevision = first ?? rev;
      this.synced.delete(w);
      w.state = 'victim';
      this.victims.add(w);
      this.outlet.parked(w);
      return;
    }
    w.nextRevision = rev + 1;
    if (w.queueLength === 0 && this.outlet.ready(w)) {
      w.active = true;
      this.outlet.deliver(w, batch);
      return;
    }
    w.push(rev, batch);
    this.outlet.queued(w);
  }

  /**
   * One catch-up pass: for up to `syncWatchersMax` unsynced watchers with nothing queued, reads
   * one chunk of at most `syncRevisionsMax` revisions of history from the smallest position
   * among them, and queues to each the events at or after its own position (one batch, whole
   * revisions). A watcher that reached the notified revision becomes synced; one below the
   * compacted revision is removed and reported. Returns whether another pass has work.
   */
  syncPass(): boolean {
    const eligible: W[] = [];
    const notReady: W[] = [];
    let more = false;
    for (const w of this.unsynced) {
      if (w.queueLength > 0) continue;
      if (eligible.length >= this.opts.syncWatchersMax) {
        more = true;
        break;
      }
      if (this.outlet.ready(w)) eligible.push(w);
      else notReady.push(w);
    }
    for (const w of notReady) {
      this.unsynced.delete(w);
      w.state = 'victim';
      this.victims.add(w);
      this.outlet.parked(w);
    }
    if (eligible.length === 0) return more;

    const compact = this.reader.compactRevision;
    const to = this.rev;
    const behind: W[] = [];
    const lost: W[] = [];
    let from = Infinity;
    for (const w of eligible) {
      // NB: a deletion at exactly the compact revision is gone from history (kv-store.ts), so a
      // watcher whose position was compacted to exactly that revision after it was added could
      // miss it: it is ended too. One created at the compact revision is let through, as etcd
      // does (it asked for exactly that history).
      if (w.nextRevision < compact || (w.nextRevision === compact && compact > w.compactRevisionAtAdd)) lost.push(w);
      else if (w.nextRevision > to) this.toSynced(w); // nothing to read: e.g. a resumed victim
      else {
        behind.push(w);
        if (w.nextRevision < from) from = w.nextRevision;
      }
    }
    for (const w of lost) {
      this.remove(w);
      this.outlet.compacted(w, compact);
    }
    if (behind.length === 0) return more;

    const chunk = this.reader.changes(from, to, this.opts.syncRevisionsMax);
    const covered = chunk.length === this.opts.syncRevisionsMax ? chunk[chunk.length - 1]!.revision : to;

    // Match the chunk's events against the watchers being served, through a range index.
    const group = new WatcherGroup<W>();
    for (const w of behind) {
      if (w.state !== 'unsynced') continue; // removed by a consumer meanwhile
      if (w.nextRevision <= covered) group.add(w);
      else more = true;
    }
    const per = new Map<W, Event[]>();
    if (group.size > 0) {
      const views = new EventViews();
      for (const rc of chunk) {
        const rev = rc.revision;
        for (const e of rc.events) {
          group.match(bytesToLatin1(e.kv.key), (w) => {
            if (w.nextRevision > rev || !w.accepts(e)) return;
            let list = per.get(w);
            if (list === undefined) {
              list = [];
              per.set(w, list);
            }
            list.push(views.view(w, e));
          });
        }
      }
    }
    const ready: W[] = [];
    for (const w of group) {
      const first = w.nextRevision;
      w.nextRevision = covered + 1;
      const events = per.get(w);
      if (events !== undefined) {
        w.push(first, { revision: covered, events });
        ready.push(w);
      }
      if (w.nextRevision > this.rev) this.toSynced(w);
    }
    for (const w of ready) if (w.state !== 'removed') this.outlet.queued(w);
    // Still behind with nothing queued (its consumer took the batch, or there was none): the
    // next pass has work. Those with a queued batch wait for their consumer instead.
    for (const w of group) if (w.state === 'unsynced' && w.queueLength === 0) more = true;
    return more;
  }

  private toSynced(w: W): void {
    this.unsynced.delete(w);
    w.state = 'synced';
    this.synced.add(w);
  }
}
