/**
 * The Watch API service (etcdserverpb.Watch/Watch): one bidirectional stream carries many
 * watchers. Each stream is a `WatchStream` holding the stream's watch ids and one
 * DeliveryGate (its flow control); the watchers themselves live in the WatchHub.
 *
 * etcd semantics kept here (spec §9.8):
 * - Ids are per stream, assigned from 0 upwards (skipping ids in use) unless the client picks
 *   a non-zero one; a duplicate or an empty range gets `{watch_id: -1, created, canceled,
 *   cancel_reason}`.
 * - Every create is answered at once, so created replies go out in the order the creates
 *   came in, and always before the watcher's first event.
 * - Every reply carries a full header. Event replies carry the revision up to which the
 *   watcher has been served (≥ their last event), so `header.revision + 1` is a safe resume
 *   point; the compaction cancel carries revision 0 and `compact_revision`, as etcd does.
 * - `cancel_request` of a live id → `{watch_id, canceled}`; of an unknown id → nothing.
 * - `progress_request` → `{watch_id: -1}` at a revision every watcher of the stream has been
 *   served up to (etcd 3.5's rule; 3.4 answers at once even if a watcher lags, which can make
 *   a client skip events when it resumes from that revision).
 * - A client half-close does not end the stream (etcd keeps serving until the stream is
 *   cancelled; the HTTP gateway relies on it): only `cancel()` does.
 *
 * Backpressure: when `sink.send()` reports a full connection queue the stream closes its
 * gate; the hub then queues (bounded) or parks its watchers, and `onDrain` reopens the gate.
 */
import { inject, injectable } from 'inversify';
import type { Observer, Subscription } from 'rxjs';
import { EMPTY, type Event, type ResponseHeader } from '../core/api/kv.js';
import type { WatchCreateRequest, WatchRequest, WatchResponse } from '../core/api/watch.js';
import { assert } from '../core/assert.js';
import { CompactedError, KvError } from '../core/errors.js';
import type { CallContext, StreamHandlers, StreamOpener, StreamSink } from '../core/ports/services.js';
import { fragmentEvents } from '../core/watch/fragment.js';
import { watchRange } from '../core/watch/watcher.js';
import { ConsensusHost } from './host.js';
import { DeliveryGate, WATCH_RANGE_EMPTY, WatchHub, type WatchBatch } from './watch-hub.js';
import { Config } from './config.js';

/** Revisions whose reply header a stream keeps for reuse. */
const HEADERS_CACHED_MAX = 1024;

/** etcd's cancel_reason for a client-chosen id already in use on the stream. */
export const DUPLICATE_WATCH_ID = 'mvcc: duplicate watch ID provided on the WatchStream';

/** Options of the service. */
export interface WatchServiceOptions {
  /**
   * A reply of a `fragment: true` watcher that would encode to this many bytes or more is split
   * (etcd: max-request-bytes + 512 KiB).
   */
  readonly fragmentBytesMax: number;
}

/** Builds response headers (cluster id, member id, term) at a revision. */
export interface HeaderSource {
  status(): { readonly clusterId: number; readonly memberId: number; readonly term: number };
}

/** One watcher of a stream; also the observer of its hub Observable (no closures per watcher). */
class StreamWatcher implements Observer<WatchBatch> {
  subscription: Subscription | null = null;
  /** Header revision of the last reply: the revision this watcher has been served up to. */
  servedRevision = 0;
  /** Revision of the last event sent. Invariant: events go out in strictly increasing revisions. */
  lastEventRevision = 0;

  constructor(
    readonly stream: WatchStream,
    readonly id: number,
    readonly fragment: boolean,
  ) {}

  next(batch: WatchBatch): void {
    this.stream.deliver(this, batch);
  }

  error(err: unknown): void {
    this.stream.ended(this, err);
  }

  complete(): void {
    // The hub's watch Observables never complete.
  }
}

/** The service: opens WatchStreams. Bound in the container as `Services.watch`. */
@injectable()
export class WatchServiceImpl {
  private readonly options: WatchServiceOptions;
  /** StreamOpener of `Services.watch`. */
  readonly open: StreamOpener<WatchRequest, WatchResponse>;

  constructor(
    @inject(WatchHub) private readonly hub: WatchHub,
    @inject(ConsensusHost) private readonly host: HeaderSource,
    @inject(Config) config: Pick<Config, 'maxRequestBytes'>,
  ) {
    this.options = { fragmentBytesMax: config.maxRequestBytes + 512 * 1024 };
    this.open = (sink, ctx) => new WatchStream(this.hub, this.host, sink, ctx, this.options);
  }
}

/**
 * The server side of one Watch stream. Exported for tests; transports reach it through
 * `WatchServiceImpl.open`.
 */
export class WatchStream implements StreamHandlers<WatchRequest> {
  private readonly watchers = new Map<number, StreamWatcher>();
  private readonly gate = new DeliveryGate();
  private nextId = 0;
  private closed = false;
  private drainArmed = false;
  /**
   * Headers by revision, shared by the replies of a revision (and so encoded once). Several
   * revisions interleave when queued batches drain watcher by watcher. Bounded: cleared when
   * full.
   */
  private readonly headers = new Map<number, ResponseHeader>();

  constructor(
    private readonly hub: WatchHub,
    private readonly host: HeaderSource,
    private readonly sink: StreamSink<WatchResponse>,
    _ctx: CallContext,
    private readonly options: WatchServiceOptions,
  ) {}

  /** Live watchers on this stream. */
  get size(): number {
    return this.watchers.size;
  }

  message(req: WatchRequest): void {
    if (this.closed) return;
    if (req.createRequest) this.create(req.createRequest);
    else if (req.cancelRequest) this.cancelWatcher(req.cancelRequest.watchId ?? 0);
    else if (req.progressRequest) this.hub.requestProgress(this.gate, (rev) => this.progressReply(rev));
    // A request with no member set is ignored, as etcd does.
  }

  end(): void {
    // Half-close: keep serving (see the module comment).
  }

  cancel(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sw of this.watchers.values()) sw.subscription?.unsubscribe();
    this.watchers.clear();
    this.gate.progressWaiters = [];
  }

  private create(cr: WatchCreateRequest): void {
    const key = cr.key ?? EMPTY;
    if (watchRange(key, cr.rangeEnd) === null) {
      this.refuseCreate(WATCH_RANGE_EMPTY);
      return;
    }
    let id = cr.watchId ?? 0;
    if (id !== 0) {
      if (this.watchers.has(id)) {
        this.refuseCreate(DUPLICATE_WATCH_ID);
        return;
      }
    } else {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    }
    const sw = new StreamWatcher(this, id, cr.fragment === true);
    this.watchers.set(id, sw);
    this.send({ header: this.header(this.hub.revision), watchId: id, created: true, events: [] });
    const spec = {
      key,
      rangeEnd: cr.rangeEnd,
      startRevision: cr.startRevision ?? 0,
      filters: cr.filters,
      prevKv: cr.prevKv === true,
      progressNotify: cr.progressNotify === true,
    };
    const subscription = this.hub.watch(spec, this.gate).subscribe(sw);
    // The watch may have ended during subscribe (a compacted start revision).
    if (this.watchers.get(id) === sw) sw.subscription = subscription;
  }

  private refuseCreate(reason: string): void {
    this.send({
      header: this.header(this.hub.revision),
      watchId: -1,
      created: true,
      canceled: true,
      cancelReason: reason,
      events: [],
    });
  }

  private cancelWatcher(id: number): void {
    const sw = this.watchers.get(id);
    if (sw === undefined) return;
    this.watchers.delete(id);
    sw.subscription?.unsubscribe();
    this.send({ header: this.header(this.hub.revision), watchId: id, canceled: true, events: [] });
  }

  /** @internal The server ended a watcher: compaction (etcd's reply shape) or another error. */
  ended(sw: StreamWatcher, err: unknown): void {
    if (this.watchers.get(sw.id) !== sw) return;
    this.watchers.delete(sw.id);
    if (err instanceof CompactedError) {
      this.send({
        header: { ...this.header(this.hub.revision), revision: 0 },
        watchId: sw.id,
        canceled: true,
        compactRevision: err.compactRevision,
        events: [],
      });
      return;
    }
    const reason = err instanceof KvError ? err.message : 'etcetera: internal error';
    this.send({ header: this.header(this.hub.revision), watchId: sw.id, canceled: true, cancelReason: reason, events: [] });
  }

  /** @internal A batch for one of this stream's watchers. */
  deliver(sw: StreamWatcher, batch: WatchBatch): void {
    const header = this.header(batch.revision);
    const events = batch.events as Event[];
    // The watch guarantees, checked where they leave the server (a failure is a bug: crash).
    assert(batch.revision >= sw.servedRevision, `watch ${sw.id}: header revision ${batch.revision} after ${sw.servedRevision}`);
    if (events.length > 0) {
      const first = events[0]!.kv.modRevision;
      const last = events[events.length - 1]!.kv.modRevision;
      assert(first > sw.lastEventRevision, `watch ${sw.id}: event revision ${first} after ${sw.lastEventRevision}`);
      assert(last <= batch.revision, `watch ${sw.id}: event revision ${last} above header revision ${batch.revision}`);
      sw.lastEventRevision = last;
    }
    sw.servedRevision = batch.revision;
    if (!sw.fragment || events.length < 2) {
      this.send({ header, watchId: sw.id, events });
      return;
    }
    const parts = fragmentEvents(events, this.options.fragmentBytesMax);
    for (let i = 0; i < parts.length; i++) {
      const res: WatchResponse = { header, watchId: sw.id, events: parts[i] as Event[] };
      if (i < parts.length - 1) res.fragment = true;
      this.send(res);
    }
  }

  private progressReply(revision: number): void {
    if (!this.closed) this.send({ header: this.header(revision), watchId: -1, events: [] });
  }

  private send(res: WatchResponse): void {
    if (this.sink.send(res) || this.closed) return;
    this.gate.close();
    if (this.drainArmed) return;
    this.drainArmed = true;
    this.sink.onDrain(() => {
      this.drainArmed = false;
      if (!this.closed) this.gate.open();
    });
  }

  /** A full header at `revision`, shared by the replies of one revision (encoders only read it). */
  private header(revision: number): ResponseHeader {
    let h = this.headers.get(revision);
    if (h === undefined) {
      if (this.headers.size >= HEADERS_CACHED_MAX) this.headers.clear();
      const s = this.host.status();
      h = { clusterId: s.clusterId, memberId: s.memberId, revision, raftTerm: s.term };
      this.headers.set(revision, h);
    }
    return h;
  }
}
