/**
 * Leases on the client: a `Lease` object per granted lease, and one LeaseKeepAlive stream per
 * Client shared by every lease it keeps alive.
 *
 * ```ts
 * const lease = await client.grant(10);              // TTL in seconds
 * await lease.put('service/a', 'up');                // attached: goes when the lease goes
 * const sub = lease.keepAlive().subscribe({ error: (e) => console.error('lease lost', e) });
 * …
 * sub.unsubscribe();                                 // stop renewing (the lease then expires)
 * await lease.revoke();                              // or end it now, with its keys
 * ```
 *
 * `keepAlive()` is a cold Observable: while subscribed it renews the lease at once and then a
 * third of the TTL after each answer (as clientv3 and the etcd3 npm client do), emitting every
 * answer. It errors with `LeaseLostError` when the server answers TTL 0 (the lease expired or
 * was revoked), or when no renewal got through before the lease's TTL ran out (connection
 * failures are retried until then, on the next endpoint). Closing the client errors it with
 * `TransportClosed`.
 */
import { Observable } from 'rxjs';
import type { PutResponse } from '../core/api/kv.js';
import type {
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
} from '../core/api/lease.js';
import { KvError } from '../core/errors.js';
import { Methods } from '../transports/codec/methods.js';
import type { ClientConnection, StreamSlot } from './connection.js';
import { toBytes, type KeyLike } from './keys.js';

/** The lease ended under a keep-alive: the server no longer knows it, or it was not renewed in time. */
export class LeaseLostError extends KvError {
  constructor(
    readonly leaseId: number,
    detail?: string,
  ) {
    super('LeaseNotFound', detail);
    this.name = 'LeaseLostError';
  }
}

/** Per-call options (the Client's CallOptions). */
interface LeaseCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** What a Lease and the keep-alive stream need of their Client. */
export interface LeaseHost {
  /** The Client's live connection, connecting if needed. */
  acquire(): Promise<ClientConnection>;
  /** The Client's per-call deadline in ms. */
  readonly callTimeoutMs: number;
  put(req: { key: Uint8Array; value?: Uint8Array; lease?: number; prevKv?: boolean }, o?: LeaseCallOptions): Promise<PutResponse>;
  leaseRevoke(req: { ID: number }, o?: LeaseCallOptions): Promise<LeaseRevokeResponse>;
  leaseTimeToLive(req: { ID: number; keys?: boolean }, o?: LeaseCallOptions): Promise<LeaseTimeToLiveResponse>;
  /** The Client's keep-alive stream. */
  keepAlives(): KeepAliveManager;
}

/** A granted lease. Obtain one from `Client.grant(ttl)` or `Client.lease(id)`. */
export class Lease {
  constructor(
    private readonly host: LeaseHost,
    /** The lease ID. */
    readonly id: number,
    /** The TTL granted in seconds (0 when not known: a Lease made from an ID alone). */
    readonly ttl: number,
  ) {}

  /** Puts `key` = `value` attached to this lease: the key goes when the lease ends. */
  put(key: KeyLike, value: KeyLike, o?: LeaseCallOptions & { prevKv?: boolean }): Promise<PutResponse> {
    const { prevKv, ...call } = o ?? {};
    return this.host.put({ key: toBytes(key), value: toBytes(value), lease: this.id, prevKv: prevKv === true }, call);
  }

  /** Revokes the lease now: its keys are deleted in one revision. */
  revoke(o?: LeaseCallOptions): Promise<LeaseRevokeResponse> {
    return this.host.leaseRevoke({ ID: this.id }, o);
  }

  /** Remaining and granted TTL (TTL -1 when the lease is gone), with the attached keys if asked. */
  timeToLive(o?: LeaseCallOptions & { keys?: boolean }): Promise<LeaseTimeToLiveResponse> {
    const { keys, ...call } = o ?? {};
    return this.host.leaseTimeToLive({ ID: this.id, keys: keys === true }, call);
  }

  /** One renewal over the keep-alive stream. Rejects with `LeaseLostError` when the server answers TTL 0. */
  async keepAliveOnce(o?: { timeoutMs?: number }): Promise<LeaseKeepAliveResponse> {
    const res = await this.host.keepAlives().once(this.id, o?.timeoutMs ?? this.host.callTimeoutMs);
    if (res.TTL <= 0) throw new LeaseLostError(this.id);
    return res;
  }

  /** Renews the lease while subscribed; see the module comment. */
  keepAlive(): Observable<LeaseKeepAliveResponse> {
    return this.host.keepAlives().keepAlive(this.id, this.ttl);
  }
}

/** Delay between retries of a renewal that failed for lack of a connection. */
const RETRY_MS = 250;

interface Waiter {
  resolve(res: LeaseKeepAliveResponse): void;
  reject(err: KvError): void;
  timer: NodeJS.Timeout;
}

/** The LeaseKeepAlive stream on one connection; answers come in request order, per ID. */
class KeepAliveSlot implements StreamSlot {
  id = 0;
  readonly method = Methods.LeaseKeepAlive;
  readonly waiters = new Map<number, Waiter[]>();

  constructor(
    readonly manager: KeepAliveManager,
    readonly conn: ClientConnection,
  ) {}

  message(msg: unknown): void {
    const res = msg as LeaseKeepAliveResponse;
    const q = this.waiters.get(res.ID);
    const w = q?.shift();
    if (q !== undefined && q.length === 0) this.waiters.delete(res.ID);
    if (w === undefined) return;
    clearTimeout(w.timer);
    w.resolve(res);
  }

  ended(error: KvError | null): void {
    this.manager.onEnded(this, error ?? new KvError('TransportClosed', 'keep-alive stream ended by the server'));
  }

  failAll(err: KvError): void {
    const all = [...this.waiters.values()].flat();
    this.waiters.clear();
    for (const w of all) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

/** The keep-alive stream of one Client (opened on first use, re-opened after a loss). */
export class KeepAliveManager {
  private stream: KeepAliveSlot | null = null;
  private opening: Promise<KeepAliveSlot> | null = null;
  private closedWith: KvError | null = null;

  constructor(
    private readonly host: Pick<LeaseHost, 'acquire' | 'callTimeoutMs'>,
    /** Monotonic time in ms (tests pass a fake one). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Sends one keep-alive for lease `id` and resolves with its answer (TTL 0 included: the
   * caller decides what a lost lease means). Rejects with a KvError when the stream or its
   * connection fails, or after `timeoutMs` (`DeadlineExceeded`).
   */
  async once(id: number, timeoutMs: number): Promise<LeaseKeepAliveResponse> {
    if (this.closedWith !== null) throw this.closedWith;
    const s = await this.open();
    return new Promise<LeaseKeepAliveResponse>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const q = s.waiters.get(id);
          const i = q?.indexOf(waiter) ?? -1;
          if (i >= 0) q!.splice(i, 1);
          reject(new KvError('DeadlineExceeded', `keep-alive of lease ${id} took longer than ${timeoutMs} ms`));
        }, timeoutMs),
      };
      let q = s.waiters.get(id);
      if (q === undefined) s.waiters.set(id, (q = []));
      q.push(waiter);
      s.conn.streamSend(s, { ID: id } satisfies LeaseKeepAliveRequest);
    });
  }

  /** See `Lease.keepAlive`. `ttlSec` 0 = unknown until the first answer. */
  keepAlive(id: number, ttlSec: number): Observable<LeaseKeepAliveResponse> {
    return new Observable<LeaseKeepAliveResponse>((subscriber) => {
      let stopped = false;
      let timer: NodeJS.Timeout | null = null;
      // The lease is known to live until `deadline` (ms, monotonic); past it without a renewal it is lost.
      let deadline = this.now() + (ttlSec > 0 ? ttlSec * 1000 : this.host.callTimeoutMs);
      const renew = (): void => {
        timer = null;
        const left = deadline - this.now();
        this.once(id, Math.max(1, Math.min(this.host.callTimeoutMs, left))).then(
          (res) => {
            if (stopped) return;
            if (res.TTL <= 0) {
              stopped = true;
              subscriber.error(new LeaseLostError(id));
              return;
            }
            deadline = this.now() + res.TTL * 1000;
            subscriber.next(res);
            if (!stopped) timer = setTimeout(renew, (res.TTL * 1000) / 3);
          },
          (err: unknown) => {
            if (stopped) return;
            if (this.closedWith !== null) {
              stopped = true;
              subscriber.error(this.closedWith);
              return;
            }
            const rest = deadline - this.now();
            if (rest <= 0) {
              stopped = true;
              subscriber.error(new LeaseLostError(id, `not renewed before its TTL ran out (${(err as Error).message})`));
              return;
            }
            timer = setTimeout(renew, Math.min(RETRY_MS, rest));
          },
        );
      };
      renew();
      return () => {
        stopped = true;
        if (timer !== null) clearTimeout(timer);
      };
    });
  }

  /** Fails every renewal in flight with `err` and refuses new ones (the Client closed). */
  close(err: KvError): void {
    if (this.closedWith !== null) return;
    this.closedWith = err;
    const s = this.stream;
    this.stream = null;
    if (s !== null) {
      s.conn.cancelStream(s);
      s.failAll(err);
    }
  }

  /** @internal Stream `s` ended: fail what waited on it; the next renewal opens a new one. */
  onEnded(s: KeepAliveSlot, err: KvError): void {
    if (this.stream === s) this.stream = null;
    s.failAll(err);
  }

  private open(): Promise<KeepAliveSlot> {
    if (this.stream !== null) return Promise.resolve(this.stream);
    this.opening ??= this.host.acquire().then(
      (conn) => {
        this.opening = null;
        if (this.closedWith !== null) throw this.closedWith;
        if (this.stream !== null) return this.stream;
        const s = new KeepAliveSlot(this, conn);
        this.stream = s;
        conn.openStream(s);
        if (this.stream !== s) throw new KvError('TransportClosed', 'connection lost while opening the keep-alive stream');
        return s;
      },
      (err: unknown) => {
        this.opening = null;
        throw err instanceof KvError ? err : new KvError('TransportClosed', String(err));
      },
    );
    return this.opening;
  }
}
