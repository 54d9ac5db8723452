/**
 * The TypeScript client of etcetera, over the ws and tcp transports.
 *
 * ```ts
 * const client = new Client({ endpoints: ['tcp://127.0.0.1:2382', 'ws://127.0.0.1:2381'] });
 * await client.put({ key: Buffer.from('a'), value: Buffer.from('1') });
 * const value = await client.getString('a');
 * const sub = client.watch('a', { prevKv: true }).subscribe((res) => console.log(res.events));
 * sub.unsubscribe();
 * await client.close();
 * ```
 *
 * Watches (watch.ts) share one Watch stream on the current connection and survive its loss:
 * they resume on the next connection from the revision after the last one they saw.
 *
 * Connections and failover: the client connects lazily, to the first endpoint that answers,
 * and sends every call over that one connection (calls are multiplexed and may be answered in
 * any order). When the connection drops, calls in flight fail with `TransportClosed` — a write
 * among them may or may not have been applied, so writes are never retried silently — except
 * reads (range, status), which are retried once on the next connection. The next call
 * reconnects, trying the endpoints in turn, starting after the one that failed.
 *
 * Every call has a deadline (`timeoutMs`, default 5 s, covering connecting too) and may carry an
 * AbortSignal; either ends the call with `DeadlineExceeded` / `Canceled` and tells the server to
 * stop working on it. All failures are `KvError`s (see errors.ts).
 */
import type {
  MemberAddRequest,
  MemberAddResponse,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MembersResponse,
  MemberUpdateRequest,
  MoveLeaderRequest,
  MoveLeaderResponse,
} from '../core/api/cluster.js';
import type {
  HashKVRequest,
  HashKVResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  SnapshotResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../core/api/kv.js';
import type { Event } from '../core/api/kv.js';
import { AlarmAction, AlarmType, type AlarmMember, type AlarmResponse, type HashResponse } from '../core/api/alarm.js';
import type { WatchResponse } from '../core/api/watch.js';
import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../core/api/lease.js';
import { KvError } from '../core/errors.js';
import { mergeMap, type Observable } from 'rxjs';
import { encodeFrame, frameBytes, FrameKind } from '../transports/codec/frame.js';
import { Methods, type UnaryMethod } from '../transports/codec/methods.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../transports/codec/options.js';
import {
  ClientConnection,
  parseEndpoint,
  type CallSlot,
  type ConnectionOwner,
  type Endpoint,
  type StreamSlot,
} from './connection.js';
import { type KeyLike } from './keys.js';
import {
  deleteRangeRequest,
  rangeRequest,
  TxnBuilder,
  type DeleteOpOptions,
  type GetOpOptions,
} from './txn.js';
import { WatchManager, type WatchOptions } from './watch.js';
import { KeepAliveManager, Lease, type LeaseHost } from './lease.js';

export { prefixEnd, toBytes, keyRange, type KeyLike, type RangeSelector } from './keys.js';
export { Cmp, Op, TxnBuilder, type CompareOp, type GetOpOptions, type PutOpOptions, type DeleteOpOptions } from './txn.js';
export { KvError, errorFromWire } from './errors.js';
export type { WatchOptions } from './watch.js';
export { Lease, LeaseLostError } from './lease.js';

/** How a Client connects and how long it waits. */
export interface ClientOptions {
  /** `tcp://host:port` or `ws://host:port` URLs, tried in order. At least one. */
  endpoints: string[];
  /** Deadline of each call in ms, connecting included (default 5000). */
  timeoutMs?: number;
  /** How long to wait for one endpoint to accept a connection, in ms (default 2000). */
  dialTimeoutMs?: number;
  /**
   * Largest request frame the client sends; a larger request fails with `RequestTooLarge`
   * without being sent. Default: the server's default limit. Keep it ≤ the server's, or the
   * server refuses the frame (and, on tcp, closes the connection).
   */
  maxFrameBytes?: number;
  /** Largest answer accepted, in bytes (default 256 MiB); a larger one fails with `FrameTooLarge`. */
  maxResponseBytes?: number;
}

/** Per-call options of every Client method. */
export interface CallOptions {
  /** Aborting it fails the call with `Canceled` and cancels it on the server. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

/** Options of `get`: a range selector, RangeRequest fields and call options. */
export type GetOptions = GetOpOptions & CallOptions;
/** Options of `delete`: a range selector, `prevKv` and call options. */
export type DeleteOptions = DeleteOpOptions & CallOptions;

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_DIAL_TIMEOUT_MS = 2000;
const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** One call from start to settlement. Also the listener of its AbortSignal (no closure). */
class PendingCall implements CallSlot {
  id = 0;
  conn: ClientConnection | null = null;
  timer: NodeJS.Timeout | null = null;
  done = false;

  constructor(
    readonly client: Client,
    readonly method: UnaryMethod<any, any>,
    readonly frame: Buffer,
    readonly resolve: (value: any) => void,
    readonly reject: (err: unknown) => void,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number,
    /** Times this call may still be re-sent after its connection dropped (reads: 1). */
    public retries: number,
  ) {}

  /** The AbortSignal fired. */
  handleEvent(): void {
    this.client.giveUp(this, new KvError('Canceled'));
  }
}

function onTimeout(p: PendingCall): void {
  p.client.giveUp(p, new KvError('DeadlineExceeded', `${p.method.name} took longer than ${p.timeoutMs} ms`));
}

/** A client of one etcetera cluster. See the module comment. */
export class Client implements ConnectionOwner, LeaseHost {
  private readonly endpoints: Endpoint[];
  private readonly timeoutMs: number;
  private readonly dialTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly maxResponseBytes: number;
  private conn: ClientConnection | null = null;
  private connecting = false;
  /** Calls waiting for a connection. */
  private waiting: PendingCall[] = [];
  /** Where the next connection attempt starts. */
  private nextEndpoint = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Waiting for a connection outside of a call (the watch stream). */
  private connWaiters: { resolve(conn: ClientConnection): void; reject(err: KvError): void }[] = [];
  private watches: WatchManager | null = null;
  private keepAliveManager: KeepAliveManager | null = null;

  constructor(options: ClientOptions) {
    if (options.endpoints.length === 0) throw new TypeError('Client: endpoints must not be empty');
    this.endpoints = options.endpoints.map(parseEndpoint);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.dialTimeoutMs = positive('dialTimeoutMs', options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS);
    this.maxFrameBytes = positive('maxFrameBytes', options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.maxResponseBytes = positive('maxResponseBytes', options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
  }

  // Raw calls --------------------------------------------------------------------------------

  /** KV.Range. Retried once on another connection if the connection drops. */
  range(req: RangeRequest, o?: CallOptions): Promise<RangeResponse> {
    return this.call(Methods.Range, req, o, 1);
  }

  /** KV.Put. Not retried: a dropped connection fails it with `TransportClosed`. */
  put(req: PutRequest, o?: CallOptions): Promise<PutResponse> {
    return this.call(Methods.Put, req, o, 0);
  }

  /** KV.DeleteRange. Not retried. */
  deleteRange(req: DeleteRangeRequest, o?: CallOptions): Promise<DeleteRangeResponse> {
    return this.call(Methods.DeleteRange, req, o, 0);
  }

  /** KV.Txn. Not retried (even a read-only txn: the client does not look inside). */
  txnRaw(req: TxnRequest, o?: CallOptions): Promise<TxnResponse> {
    return this.call(Methods.Txn, req, o, 0);
  }

  /** KV.Compact. Not retried. */
  compact(req: CompactionRequest, o?: CallOptions): Promise<CompactionResponse> {
    return this.call(Methods.Compact, req, o, 0);
  }

  /** Maintenance.Status of the member this client is connected to. Retried once. */
  status(o?: CallOptions): Promise<StatusResponse> {
    return this.call(Methods.Status, {}, o, 1);
  }

  /** Cluster.MemberList. Retried once. */
  memberList(o?: CallOptions): Promise<MembersResponse> {
    return this.call(Methods.MemberList, {}, o, 1);
  }

  /** Cluster.MemberAdd: a voter (or a learner) reachable at `peerURLs`. Not retried. */
  memberAdd(req: MemberAddRequest, o?: CallOptions): Promise<MemberAddResponse> {
    return this.call(Methods.MemberAdd, req, o, 0);
  }

  /** Cluster.MemberRemove. Not retried. */
  memberRemove(req: MemberRemoveRequest, o?: CallOptions): Promise<MembersResponse> {
    return this.call(Methods.MemberRemove, req, o, 0);
  }

  /** Cluster.MemberUpdate (new peer URLs). Not retried. */
  memberUpdate(req: MemberUpdateRequest, o?: CallOptions): Promise<MembersResponse> {
    return this.call(Methods.MemberUpdate, req, o, 0);
  }

  /** Cluster.MemberPromote: a learner that caught up becomes a voter. Not retried. */
  memberPromote(req: MemberPromoteRequest, o?: CallOptions): Promise<MembersResponse> {
    return this.call(Methods.MemberPromote, req, o, 0);
  }

  /** Maintenance.MoveLeader, sent to the leader. Not retried. */
  moveLeader(req: MoveLeaderRequest, o?: CallOptions): Promise<MoveLeaderResponse> {
    return this.call(Methods.MoveLeader, req, o, 0);
  }

  /** Maintenance.HashKV: the member's hash of the key space up to `revision` (0 = current). */
  hashKV(req: HashKVRequest = {}, o?: CallOptions): Promise<HashKVResponse> {
    return this.call(Methods.HashKV, req, o, 1);
  }

  /** Maintenance.Alarm GET: the cluster's active alarms (of `type`; default all). Retried once. */
  alarmList(type: number = AlarmType.NONE, o?: CallOptions): Promise<AlarmResponse> {
    return this.call(Methods.Alarm, { action: AlarmAction.GET, memberID: 0, alarm: type }, o, 1);
  }

  /**
   * Maintenance.Alarm DEACTIVATE of one alarm (`{ memberID, alarm }`), answering the alarm
   * cleared, or none when it was not active. Given neither (the default), every active alarm:
   * a list, then one disarm each, the answers gathered — as clientv3's AlarmDisarm does, which
   * etcdctl's `alarm disarm` uses. Not retried.
   */
  async alarmDisarm(m: Partial<AlarmMember> = {}, o?: CallOptions): Promise<AlarmResponse> {
    const memberID = m.memberID ?? 0;
    const alarm = m.alarm ?? AlarmType.NONE;
    if (memberID !== 0 || alarm !== AlarmType.NONE) {
      return this.call(Methods.Alarm, { action: AlarmAction.DEACTIVATE, memberID, alarm }, o, 0);
    }
    const all: AlarmMember[] = [];
    for (const a of (await this.alarmList(AlarmType.NONE, o)).alarms ?? []) {
      const r = await this.call(Methods.Alarm, { action: AlarmAction.DEACTIVATE, memberID: a.memberID, alarm: a.alarm }, o, 0);
      all.push(...(r.alarms ?? []));
    }
    return { alarms: all };
  }

  /**
   * Maintenance.Defragment of the member this client is connected to (connect with that one
   * endpoint to pick the member): resolves once its backend is rewritten compactly. Not retried.
   */
  async defragment(o?: CallOptions): Promise<void> {
    await this.call(Methods.Defragment, {}, o, 0);
  }

  /** Maintenance.Hash: a hash of the member's whole backend. Retried once. */
  hash(o?: CallOptions): Promise<HashResponse> {
    return this.call(Methods.Hash, {}, o, 1);
  }

  /**
   * Maintenance.Snapshot of the member this client is connected to: the messages of its
   * snapshot stream in order (payload chunks with `remainingBytes`, then one whose blob is the
   * SHA-256 of the payload; see src/server/snapshot-file.ts). Concatenated, the blobs are the
   * snapshot file. Not retried: a dropped connection fails the iteration with
   * `TransportClosed`. `o.signal` cancels it; `o.timeoutMs` (if given) bounds the whole
   * transfer. Breaking out of the loop cancels the stream on the server.
   */
  async *snapshot(o?: CallOptions): AsyncGenerator<SnapshotResponse, void, undefined> {
    const conn = await this.acquire();
    const queue: SnapshotResponse[] = [];
    let head = 0;
    let end: KvError | null | undefined;
    let wake: (() => void) | null = null;
    const slot: StreamSlot = {
      id: 0,
      method: Methods.Snapshot,
      message(msg) {
        queue.push(msg as SnapshotResponse);
        wake?.();
      },
      ended(err) {
        if (end === undefined) end = err;
        wake?.();
      },
    };
    const stop = (err: KvError): void => {
      if (end !== undefined) return;
      end = err;
      conn.cancelStream(slot);
      wake?.();
    };
    const onAbort = (): void => stop(new KvError('Canceled'));
    o?.signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      o?.timeoutMs === undefined
        ? undefined
        : setTimeout(() => stop(new KvError('DeadlineExceeded', `Snapshot took longer than ${o.timeoutMs} ms`)), o.timeoutMs);
    try {
      if (o?.signal?.aborted) throw new KvError('Canceled');
      conn.openStream(slot);
      conn.streamSend(slot, {});
      for (;;) {
        if (head < queue.length) {
          const msg = queue[head]!;
          queue[head++] = undefined as unknown as SnapshotResponse; // let the chunk go
          yield msg;
          continue;
        }
        if (end !== undefined) {
          if (end !== null) throw end;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      o?.signal?.removeEventListener('abort', onAbort);
      if (end === undefined) {
        end = null;
        conn.cancelStream(slot);
      }
    }
  }

  /** Lease.LeaseGrant (TTL in seconds; ID 0 = the server picks). Not retried. */
  leaseGrant(req: LeaseGrantRequest, o?: CallOptions): Promise<LeaseGrantResponse> {
    return this.call(Methods.LeaseGrant, req, o, 0);
  }

  /** Lease.LeaseRevoke. Not retried (a retry after a lost answer would say "not found"). */
  leaseRevoke(req: LeaseRevokeRequest, o?: CallOptions): Promise<LeaseRevokeResponse> {
    return this.call(Methods.LeaseRevoke, req, o, 0);
  }

  /** Lease.LeaseTimeToLive. Retried once. */
  leaseTimeToLive(req: LeaseTimeToLiveRequest, o?: CallOptions): Promise<LeaseTimeToLiveResponse> {
    return this.call(Methods.LeaseTimeToLive, req, o, 1);
  }

  /** Lease.LeaseLeases: every lease ID. Retried once. */
  leaseLeases(o?: CallOptions): Promise<LeaseLeasesResponse> {
    return this.call(Methods.LeaseLeases, {}, o, 1);
  }

  // Conveniences ------------------------------------------------------------------------------

  /**
   * Grants a lease of `ttlSec` seconds (raised to the server's minimum) and returns it as a
   * `Lease`: put keys with it, keep it alive (`lease.keepAlive()`), revoke it. `o.id` asks for
   * a given ID instead of one the server picks.
   */
  async grant(ttlSec: number, o?: CallOptions & { id?: number }): Promise<Lease> {
    const { id, ...call } = o ?? {};
    const r = await this.leaseGrant({ TTL: ttlSec, ID: id ?? 0 }, call);
    return new Lease(this, r.ID, r.TTL);
  }

  /** A `Lease` object for an existing lease ID (its TTL, if not given, is learnt on renewal). */
  lease(id: number, ttlSec = 0): Lease {
    return new Lease(this, id, ttlSec);
  }

  /** @internal LeaseHost: the per-call deadline. */
  get callTimeoutMs(): number {
    return this.timeoutMs;
  }

  /** @internal LeaseHost: the keep-alive stream of this client. */
  keepAlives(): KeepAliveManager {
    if (this.keepAliveManager === null) {
      this.keepAliveManager = new KeepAliveManager(this);
      if (this.closed) this.keepAliveManager.close(new KvError('TransportClosed', 'client closed'));
    }
    return this.keepAliveManager;
  }

  /** Range over `key` (or the keys `o` selects: prefix, fromKey, rangeEnd). */
  get(key: KeyLike, o?: GetOptions): Promise<RangeResponse> {
    const { signal, timeoutMs, ...rest } = o ?? {};
    return this.range(rangeRequest(key, rest), { signal, timeoutMs });
  }

  /** The value of exactly `key` as UTF-8 text, or undefined if the key does not exist. */
  async getString(
    key: KeyLike,
    o?: CallOptions & { revision?: number; serializable?: boolean },
  ): Promise<string | undefined> {
    const { signal, timeoutMs, ...rest } = o ?? {};
    const r = await this.range(rangeRequest(key, rest), { signal, timeoutMs });
    const kv = r.kvs[0];
    return kv === undefined ? undefined : Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength).toString('utf8');
  }

  /** Deletes `key` (or the keys `o` selects). */
  delete(key: KeyLike, o?: DeleteOptions): Promise<DeleteRangeResponse> {
    const { signal, timeoutMs, ...rest } = o ?? {};
    return this.deleteRange(deleteRangeRequest(key, rest), { signal, timeoutMs });
  }

  /** Starts a transaction: `.if(...).then(...).else(...).commit()`. */
  txn(): TxnBuilder {
    return new TxnBuilder((req, o) => this.txnRaw(req, o));
  }

  // Watches -----------------------------------------------------------------------------------

  /**
   * Watches `key` (or the keys `options` selects) as a cold Observable of WatchResponses: each
   * subscription creates one watcher on the server (all share one stream) and unsubscribing
   * cancels it. The first reply is the `created` one; then event replies (events in strictly
   * increasing revision order, all events of a revision in one reply) and progress replies
   * (no events). After a connection loss or a member failure the watcher resumes, on the next
   * reachable endpoint, from the revision after the last one it saw: no gap, no duplicate.
   * Errors: `CompactedError` when the history it needs is compacted, a KvError when the server
   * refuses or cancels it, `TransportClosed` when the client is closed. See watch.ts.
   */
  watch(key: KeyLike, options?: WatchOptions): Observable<WatchResponse> {
    this.watches ??= new WatchManager(this);
    return this.watches.watch(key, options);
  }

  /** `watch()` flattened to its events, one emission per event. */
  watchEvents(key: KeyLike, options?: WatchOptions): Observable<Event> {
    return this.watch(key, options).pipe(mergeMap((res) => res.events));
  }

  /**
   * Asks the server for a progress reply on the watch stream: every active watcher then emits
   * a reply without events (`watchId` -1) whose header revision it has been served up to.
   */
  requestWatchProgress(): void {
    this.watches?.requestProgress();
  }

  /** @internal The live connection, connecting if needed (used by the watch stream). */
  acquire(): Promise<ClientConnection> {
    if (this.closed) return Promise.reject(new KvError('TransportClosed', 'client closed'));
    const conn = this.conn;
    if (conn !== null && conn.open) return Promise.resolve(conn);
    return new Promise((resolve, reject) => {
      this.connWaiters.push({ resolve, reject });
      if (!this.connecting) void this.connect();
    });
  }

  /**
   * Closes the connection. Calls in flight or waiting fail with `TransportClosed`; later calls
   * fail at once. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    const err = new KvError('TransportClosed', 'client closed');
    this.watches?.close(err);
    this.keepAliveManager?.close(err);
    const waiting = this.waiting;
    this.waiting = [];
    for (const p of waiting) this.settle(p, null, err);
    const connWaiters = this.connWaiters;
    this.connWaiters = [];
    for (const w of connWaiters) w.reject(err);
    const conn = this.conn;
    this.conn = null;
    if (conn === null) {
      this.closing = Promise.resolve();
    } else {
      for (const slot of [...conn.pending.values()]) this.settle(slot as PendingCall, null, err);
      conn.pending.clear();
      this.closing = conn.close();
    }
    return this.closing;
  }

  // The call machinery -----------------------------------------------------------------------

  private call<Req, Res>(method: UnaryMethod<Req, Res>, req: Req, o: CallOptions | undefined, retries: number): Promise<Res> {
    if (this.closed) return Promise.reject(new KvError('TransportClosed', 'client closed'));
    const signal = o?.signal;
    if (signal?.aborted) return Promise.reject(new KvError('Canceled'));
    let frame: Buffer;
    try {
      frame = encodeFrame(FrameKind.REQUEST, 0, method.id, method.request, req);
    } catch (err) {
      return Promise.reject(new KvError('InvalidArgument', `cannot encode ${method.name}: ${(err as Error).message}`));
    }
    if (frameBytes(frame) > this.maxFrameBytes) return Promise.reject(new KvError('RequestTooLarge'));
    const timeoutMs = o?.timeoutMs ?? this.timeoutMs;
    return new Promise<Res>((resolve, reject) => {
      const p = new PendingCall(this, method, frame, resolve, reject, signal, timeoutMs, retries);
      p.timer = setTimeout(onTimeout, timeoutMs, p);
      signal?.addEventListener('abort', p, { once: true });
      this.dispatch(p);
    });
  }

  private dispatch(p: PendingCall): void {
    const conn = this.conn;
    if (conn !== null && conn.open) {
      conn.start(p);
      return;
    }
    this.waiting.push(p);
    if (!this.connecting) void this.connect();
  }

  /**
   * Connects to the first endpoint that answers, starting at `nextEndpoint`, then sends the
   * waiting calls (or fails them if none answered). Never rejects.
   */
  private async connect(): Promise<void> {
    this.connecting = true;
    const failures: string[] = [];
    let conn: ClientConnection | null = null;
    for (let i = 0; i < this.endpoints.length && !this.closed; i++) {
      const index = (this.nextEndpoint + i) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      try {
        conn = await ClientConnection.dial(endpoint, this, this.dialTimeoutMs, this.maxResponseBytes);
        this.nextEndpoint = index;
        break;
      } catch (err) {
        failures.push(`${endpoint.url}: ${(err as Error).message}`);
      }
    }
    this.connecting = false;
    if (this.closed) {
      // close() already failed the waiting calls.
      if (conn !== null) void conn.close();
      return;
    }
    const waiting = this.waiting;
    this.waiting = [];
    const connWaiters = this.connWaiters;
    this.connWaiters = [];
    if (conn === null) {
      const err = new KvError('TransportClosed', `no endpoint reachable (${failures.join('; ')})`);
      for (const p of waiting) this.settle(p, null, err);
      for (const w of connWaiters) w.reject(err);
      return;
    }
    this.conn = conn;
    for (const w of connWaiters) w.resolve(conn);
    // dispatch, not conn.start: should the connection already be gone, the calls wait for the
    // next one instead of being sent into a dead socket.
    for (const p of waiting) if (!p.done) this.dispatch(p);
  }

  /** @internal Ends `p` early (timeout, abort), telling the server if it was sent. */
  giveUp(p: PendingCall, err: KvError): void {
    if (p.done) return;
    p.conn?.cancel(p);
    this.settle(p, null, err);
  }

  /** @internal ConnectionOwner: an answer arrived. */
  answered(slot: CallSlot, result: unknown, error: KvError | null): void {
    this.settle(slot as PendingCall, result, error);
  }

  /** @internal ConnectionOwner: a connection died with calls in flight. */
  lost(conn: ClientConnection, inFlight: CallSlot[], reason: KvError): void {
    if (this.conn === conn) {
      this.conn = null;
      this.nextEndpoint = (this.endpoints.indexOf(conn.endpoint) + 1) % this.endpoints.length;
    }
    for (const slot of inFlight) {
      const p = slot as PendingCall;
      if (p.done) continue;
      p.conn = null;
      if (p.retries > 0 && !this.closed) {
        p.retries--;
        this.dispatch(p);
      } else {
        this.settle(p, null, reason);
      }
    }
  }

  private settle(p: PendingCall, result: unknown, error: KvError | null): void {
    if (p.done) return;
    p.done = true;
    if (p.timer !== null) clearTimeout(p.timer);
    p.signal?.removeEventListener('abort', p);
    if (error === null) p.resolve(result);
    else p.reject(error);
  }
}

function positive(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`Client: ${name} must be a positive integer, got ${v}`);
  return v;
}
