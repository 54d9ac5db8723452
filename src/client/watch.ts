/**
 * Watches on the client: every watch is a cold RxJS Observable of WatchResponses, and all the
 * watches of one Client share one Watch stream on its current connection.
 *
 * ```ts
 * const sub = client.watch('config/', { prefix: true, prevKv: true }).subscribe((res) => …);
 * sub.unsubscribe(); // cancels the watcher on the server
 * ```
 *
 * Resumption: each watcher remembers the revision it needs next (`nextRevision`): the last
 * event's revision + 1, raised by the header revision of every reply (the server sends, in
 * event and progress replies, a revision up to which it has served this watcher). When the
 * stream or its connection is lost (the member failed, was restarted, the network dropped),
 * the manager reconnects — to the next endpoint first — with a growing delay, and re-creates
 * every watcher from its `nextRevision`, so the subscriber sees no gap and no duplicate. Only
 * the first `created` reply of a watcher is emitted.
 *
 * A watcher ends with an error when the server cancels it: `CompactedError` when the history
 * it needs was compacted (no resume is possible), a KvError with the server's reason otherwise.
 * Closing the client ends every watcher with `TransportClosed`.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { Event } from '../core/api/kv.js';
import { FilterType, type WatchCreateRequest, type WatchRequest, type WatchResponse } from '../core/api/watch.js';
import { CompactedError, KvError, Status } from '../core/errors.js';
import { Methods } from '../transports/codec/methods.js';
import type { ClientConnection, StreamSlot } from './connection.js';
import { keyRange, type KeyLike, type RangeSelector } from './keys.js';

/** Options of `Client.watch`: a range selector and WatchCreateRequest fields. */
export interface WatchOptions extends RangeSelector {
  /** First revision to deliver (inclusive); 0 or absent = from now (the current revision + 1). */
  startRevision?: number;
  /** Attach each event's previous key-value. */
  prevKv?: boolean;
  /** Drop PUT events on the server. */
  noPut?: boolean;
  /** Drop DELETE events on the server. */
  noDelete?: boolean;
  /** Ask for periodic progress replies while idle. */
  progressNotify?: boolean;
  /** Let the server split huge replies (the client joins the parts before emitting). */
  fragment?: boolean;
}

/** What the manager needs of its Client. */
export interface WatchConnector {
  /** The Client's live connection, connecting if needed; rejects when no endpoint answers. */
  acquire(): Promise<ClientConnection>;
}

/** Reconnect delays: from the first to the largest, doubling. */
const RETRY_FIRST_MS = 25;
const RETRY_MAX_MS = 1000;

/** One watcher of the client. */
class ClientWatcher {
  /** Server id on the current stream; null while not created on it. */
  id: number | null = null;
  /** Unsubscribed while its create was in flight: cancel it once created. */
  dropped = false;
  /** The first revision still needed; 0 = "from now" (not created yet). */
  nextRevision: number;
  private createdEmitted = false;
  private fragments: Event[] | null = null;

  constructor(
    private readonly base: WatchCreateRequest,
    readonly subscriber: Subscriber<WatchResponse>,
  ) {
    this.nextRevision = base.startRevision ?? 0;
  }

  createRequest(): WatchRequest {
    return { createRequest: { ...this.base, startRevision: this.nextRevision } };
  }

  created(res: WatchResponse): void {
    this.id = res.watchId;
    if (this.nextRevision === 0) this.nextRevision = res.header.revision + 1;
    this.fragments = null;
    if (!this.createdEmitted) {
      this.createdEmitted = true;
      this.subscriber.next(res);
    }
  }

  response(res: WatchResponse): void {
    if (res.fragment) {
      (this.fragments ??= []).push(...res.events);
      return;
    }
    if (this.fragments !== null) {
      res = { ...res, events: this.fragments.concat(res.events), fragment: false };
      this.fragments = null;
    }
    const events = res.events;
    const last = events.length > 0 ? events[events.length - 1]!.kv.modRevision : 0;
    this.nextRevision = Math.max(this.nextRevision, last + 1, res.header.revision + 1);
    this.subscriber.next(res);
  }
}

/** The server-side stream on one connection. */
class WatchStreamSlot implements StreamSlot {
  id = 0;
  readonly method = Methods.Watch;

  constructor(
    readonly manager: WatchManager,
    readonly conn: ClientConnection,
  ) {}

  message(msg: unknown): void {
    this.manager.onMessage(this, msg as WatchResponse);
  }

  ended(error: KvError | null): void {
    this.manager.onEnded(this, error);
  }
}

/** Statuses after which a watch stream is re-opened (the member or the path is gone). */
const RESUMABLE = new Set<number>([Status.UNAVAILABLE, Status.CANCELLED, Status.DEADLINE_EXCEEDED]);

/** All watches of one Client. See the module comment. */
export class WatchManager {
  private stream: WatchStreamSlot | null = null;
  private opening = false;
  private readonly watchers = new Set<ClientWatcher>();
  private readonly byId = new Map<number, ClientWatcher>();
  /** Watchers whose create was sent on the current stream, oldest first (replies come in order). */
  private creating: ClientWatcher[] = [];
  private retryMs = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closedWith: KvError | null = null;

  constructor(private readonly connector: WatchConnector) {}

  /** Watchers subscribed (tests, metrics). */
  get size(): number {
    return this.watchers.size;
  }

  /** See `Client.watch`. */
  watch(key: KeyLike, options: WatchOptions = {}): Observable<WatchResponse> {
    const { prefix, fromKey, rangeEnd, startRevision, prevKv, noPut, noDelete, progressNotify, fragment } = options;
    const r = keyRange(key, { prefix, fromKey, rangeEnd });
    if (startRevision !== undefined && (!Number.isSafeInteger(startRevision) || startRevision < 0)) {
      throw new TypeError(`watch: startRevision must be a non-negative integer, got ${startRevision}`);
    }
    const filters: FilterType[] = [];
    if (noPut) filters.push(FilterType.NOPUT);
    if (noDelete) filters.push(FilterType.NODELETE);
    const base: WatchCreateRequest = {
      key: r.key,
      rangeEnd: r.rangeEnd,
      startRevision: startRevision ?? 0,
      prevKv: prevKv === true,
      progressNotify: progressNotify === true,
      fragment: fragment === true,
      filters,
    };
    return new Observable<WatchResponse>((subscriber) => {
      if (this.closedWith !== null) {
        subscriber.error(this.closedWith);
        return;
      }
      const w = new ClientWatcher(base, subscriber);
      this.watchers.add(w);
      if (this.stream !== null) this.sendCreate(this.stream, w);
      else this.ensureStream();
      return () => this.remove(w);
    });
  }

  /**
   * Asks the server for a progress reply (`watch_id: -1`), which every watcher created on the
   * stream receives: a revision each may resume from. A no-op without a stream.
   */
  requestProgress(): void {
    const s = this.stream;
    if (s !== null) s.conn.streamSend(s, { progressRequest: {} } satisfies WatchRequest);
  }

  /** Ends every watcher with `err` and stops reconnecting. */
  close(err: KvError): void {
    if (this.closedWith !== null) return;
    this.closedWith = err;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const s = this.stream;
    this.stream = null;
    if (s !== null) s.conn.cancelStream(s);
    const all = [...this.watchers];
    this.watchers.clear();
    this.byId.clear();
    this.creating = [];
    for (const w of all) w.subscriber.error(err);
  }

  private sendCreate(s: WatchStreamSlot, w: ClientWatcher): void {
    this.creating.push(w);
    s.conn.streamSend(s, w.createRequest());
  }

  private remove(w: ClientWatcher): void {
    if (!this.watchers.delete(w)) return;
    const s = this.stream;
    if (s === null) return;
    if (this.watchers.size === 0) {
      // Nothing left to watch: give the stream back instead of cancelling one by one.
      this.stream = null;
      this.byId.clear();
      this.creating = [];
      s.conn.cancelStream(s);
      return;
    }
    if (w.id !== null) {
      this.byId.delete(w.id);
      s.conn.streamSend(s, { cancelRequest: { watchId: w.id } } satisfies WatchRequest);
    } else {
      w.dropped = true;
    }
  }

  private ensureStream(): void {
    if (this.stream !== null || this.opening || this.closedWith !== null || this.watchers.size === 0) return;
    if (this.retryTimer !== null) return;
    this.opening = true;
    this.connector.acquire().then(
      (conn) => {
        this.opening = false;
        if (this.closedWith !== null || this.watchers.size === 0 || this.stream !== null) return;
        const s = new WatchStreamSlot(this, conn);
        this.stream = s;
        conn.openStream(s);
        if (this.stream !== s) return; // ended at once: the connection was already gone
        for (const w of this.watchers) this.sendCreate(s, w);
      },
      () => {
        this.opening = false;
        this.retryLater();
      },
    );
  }

  private retryLater(): void {
    if (this.closedWith !== null || this.watchers.size === 0 || this.retryTimer !== null) return;
    this.retryMs = this.retryMs === 0 ? RETRY_FIRST_MS : Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.ensureStream();
    }, this.retryMs);
  }

  /** @internal A reply on stream `s`. */
  onMessage(s: WatchStreamSlot, res: WatchResponse): void {
    if (s !== this.stream) return;
    if (res.created) {
      const w = this.creating.shift();
      if (w === undefined) return;
      this.retryMs = 0;
      if (res.canceled) {
        // The create was refused (empty range, duplicate id, …): not resumable.
        if (this.watchers.delete(w) && !w.dropped) {
          w.subscriber.error(new KvError('InvalidArgument', res.cancelReason || 'watch create refused'));
        }
        return;
      }
      if (w.dropped || !this.watchers.has(w)) {
        s.conn.streamSend(s, { cancelRequest: { watchId: res.watchId } } satisfies WatchRequest);
        return;
      }
      this.byId.set(res.watchId, w);
      w.created(res);
      return;
    }
    if (res.watchId === -1) {
      // A progress reply to requestProgress(): every created watcher may resume from it.
      for (const w of [...this.byId.values()]) w.response(res);
      return;
    }
    const w = this.byId.get(res.watchId);
    if (w === undefined) return; // a reply to our cancel, or for a watcher we dropped
    if (res.canceled) {
      this.byId.delete(res.watchId);
      this.watchers.delete(w);
      const compact = res.compactRevision ?? 0;
      w.subscriber.error(
        compact > 0 ? new CompactedError(compact) : new KvError('WatchCanceled', res.cancelReason || undefined),
      );
      return;
    }
    w.response(res);
  }

  /** @internal Stream `s` ended: resume every watcher on a new stream, or fail them. */
  onEnded(s: WatchStreamSlot, error: KvError | null): void {
    if (s !== this.stream) return;
    this.stream = null;
    this.byId.clear();
    this.creating = [];
    for (const w of this.watchers) w.id = null;
    if (error !== null && !RESUMABLE.has(error.status)) {
      const all = [...this.watchers];
      this.watchers.clear();
      for (const w of all) w.subscriber.error(error);
      return;
    }
    this.retryLater();
  }
}
