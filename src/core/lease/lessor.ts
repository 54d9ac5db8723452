/**
 * The lessor: the lease table, in two layers that must not be confused.
 *
 * 1. The projection (deterministic, the same on every member). Which leases exist, their
 *    granted TTL, the remaining TTL of their last checkpoint, and the keys attached to each.
 *    It changes only when the applier applies a log entry: `grant`, `remove` (after the
 *    applier deleted the keys of a revoked lease), `checkpoint`, and `applyEvents` (a put with
 *    a lease attaches the key; a delete, or a put with another lease, detaches it). The
 *    persistent part goes to the backend's `lease` bucket in the applier's batch (each of those
 *    methods returns its BackendOp); attachments are rebuilt from the key space on `recover`.
 *
 * 2. The leader's clock (only on the member that is primary, not persisted, not replicated).
 *    When each lease expires, in a priority queue (lease-queue.ts). Keep-alives renew it here
 *    only, never through the log. A shell loop asks `findExpired(nowMs)` about every 500 ms
 *    and proposes a revoke entry for each lease found: expiry is decided by the leader alone
 *    and applied through the log, never by a timer on each member. `nowMs` is always an
 *    argument: this module reads no clock.
 *
 * Leadership: `promote(nowMs, extendMs)` when this member becomes leader gives every lease a
 * fresh expiry of `extendMs` (an election timeout) plus its TTL, or plus its checkpointed
 * remaining TTL when there is one, so that no lease expires because of the failover; `demote`
 * forgets every expiry. A lease granted while primary is scheduled lazily, by the next leader
 * call that passes `nowMs` (apply has no clock): its expiry starts then, which is never earlier
 * than the grant was applied.
 *
 * ```
 *   log ─▶ applier ─▶ grant / remove / checkpoint / applyEvents   (projection, every member)
 *                          │ BackendOps ─▶ same backend batch as the KV changes
 *   leader only:  keep-alive ─▶ renew(id, now)        loop ─▶ findExpired(now) ─▶ propose revoke
 * ```
 */
import type { Bytes, Event } from '../api/kv.js';
import { EventType } from '../api/kv.js';
import type { LeaseCheckpoint } from '../api/lease.js';
import { assert } from '../assert.js';
import { KvError } from '../errors.js';
import { bytesToLatin1, latin1ToBytes } from '../mvcc/bytes.js';
import type { KvStore } from '../mvcc/kv-store.js';
import type { Backend, BackendOp } from '../ports/storage-driver.js';
import { deleteLeaseOp, putLeaseOp, readLeaseRecords, type LeaseRecord } from './lease-codec.js';
import { LeaseQueue } from './lease-queue.js';

export type { LeaseRecord } from './lease-codec.js';

/** Tuning of the leader-side layer; the projection does not depend on it. */
export interface LessorOptions {
  /**
   * Checkpoint the remaining TTL of each lease longer than this, every this many ms (etcd's
   * `experimental-lease-checkpoint-interval`); 0 = no checkpoints (the default, as in etcd).
   */
  readonly checkpointIntervalMs?: number;
  /**
   * After `findExpired` hands out a lease, it hands it out again only if the lease still
   * exists this many ms later (its revoke was lost, e.g. to a leader change). etcd: 3 s.
   */
  readonly expiredRetryMs?: number;
}

/** What `renew` did. */
export interface RenewResult {
  /** The granted TTL the lease was renewed to, in seconds. */
  readonly ttlSec: number;
  /**
   * The lease carries a checkpointed remaining TTL that no longer holds: the leader should
   * propose a checkpoint of 0 for it, so that the next leader does not cut the renewal short.
   */
  readonly clearCheckpoint: boolean;
}

/** What `timeToLive` answers for a lease that exists. */
export interface LeaseTimeToLive {
  readonly ttlSec: number;
  /** Whole seconds until expiry (floor, never negative). */
  readonly remainingSec: number;
  /** Attached keys in byte order (only when asked for; else empty). */
  readonly keys: Bytes[];
}

/** One lease of the projection, for tests and consistency checks. */
export interface LeaseDump extends LeaseRecord {
  /** Attached keys as latin1 strings, sorted (byte order). */
  readonly keys: string[];
}

interface LeaseEntry {
  readonly id: number;
  readonly ttlSec: number;
  remainingTtlSec: number;
  /** Attached keys, as latin1 strings (byte order = string order). */
  readonly keys: Set<string>;
  /** Leader only: when it expires (ms); Infinity when not primary or not scheduled yet. */
  expiryMs: number;
}

const DEFAULT_EXPIRED_RETRY_MS = 3000;

/** The lease table. See the module comment. Not thread-safe, not re-entrant (nothing here is). */
export class Lessor {
  private readonly leases = new Map<number, LeaseEntry>();
  private primary = false;
  /** Leader only: each lease at the time to look at it next (its expiry, or a retry). */
  private readonly expiryQueue = new LeaseQueue();
  /** Leader only: each lease at its next checkpoint time. */
  private readonly checkpointQueue = new LeaseQueue();
  /** Leader only: leases granted while primary whose expiry has not started yet. */
  private unscheduled: number[] = [];
  private readonly checkpointIntervalMs: number;
  private readonly expiredRetryMs: number;

  constructor(options: LessorOptions = {}) {
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 0;
    this.expiredRetryMs = options.expiredRetryMs ?? DEFAULT_EXPIRED_RETRY_MS;
    assert(Number.isSafeInteger(this.checkpointIntervalMs) && this.checkpointIntervalMs >= 0, 'checkpointIntervalMs >= 0');
    assert(Number.isSafeInteger(this.expiredRetryMs) && this.expiredRetryMs > 0, 'expiredRetryMs > 0');
  }

  // ---- the projection -------------------------------------------------------------------------

  /**
   * Loads the projection from a backend at open: the `lease` bucket, then the attachments from
   * every live key of `store` that names a lease. Must be called once, on an empty lessor,
   * before anything is applied. A key naming a lease that does not exist is corruption.
   */
  recover(backend: Backend, store: KvStore): void {
    assert(this.leases.size === 0, 'recover on a lessor that holds leases');
    // Read the bucket to the end before the key space: no backend reads while a range is open.
    const records = [...readLeaseRecords(backend.range('lease'))];
    for (const r of records) this.leases.set(r.id, entryOf(r));
    store.forEachLive((kv) => {
      if (kv.lease === 0) return;
      const l = this.leases.get(kv.lease);
      assert(l !== undefined, `key is attached to lease ${kv.lease}, which does not exist`);
      l.keys.add(bytesToLatin1(kv.key));
    });
  }

  /**
   * Drops everything and loads the projection again from `backend` (after a Raft snapshot
   * replaced it). A leader re-schedules expiry for what it loaded, as after a promotion.
   */
  reload(backend: Backend, store: KvStore): void {
    this.leases.clear();
    this.expiryQueue.clear();
    this.checkpointQueue.clear();
    this.unscheduled = [];
    this.recover(backend, store);
    if (this.primary) this.unscheduled = [...this.leases.keys()];
  }

  /** Whether lease `id` exists (the applier's check for a put with a lease). */
  exists(id: number): boolean {
    return this.leases.has(id);
  }

  /** Number of leases. */
  get size(): number {
    return this.leases.size;
  }

  /**
   * Applies a grant: lease `id` with TTL `ttlSec` (the proposer already raised it to the
   * minimum). Throws `LeaseExist` when the ID is taken. Returns the write that persists it.
   */
  grant(id: number, ttlSec: number): BackendOp {
    assert(Number.isSafeInteger(id) && id > 0, `lease ID ${id}`);
    assert(Number.isSafeInteger(ttlSec) && ttlSec > 0, `lease TTL ${ttlSec}`);
    if (this.leases.has(id)) throw new KvError('LeaseExist');
    const r: LeaseRecord = { id, ttlSec, remainingTtlSec: 0 };
    this.leases.set(id, entryOf(r));
    if (this.primary) this.unscheduled.push(id);
    return putLeaseOp(r);
  }

  /**
   * The keys attached to lease `id` in byte order: what a revoke deletes, in one revision.
   * Undefined when the lease does not exist.
   */
  keysOf(id: number): Bytes[] | undefined {
    const l = this.leases.get(id);
    if (l === undefined) return undefined;
    return sortedKeys(l).map(latin1ToBytes);
  }

  /**
   * Forgets lease `id` once its keys are deleted (asserted: none may stay attached). Returns
   * the write that removes it from the bucket.
   */
  remove(id: number): BackendOp {
    const l = this.leases.get(id);
    assert(l !== undefined, `remove of unknown lease ${id}`);
    assert(l.keys.size === 0, `lease ${id} removed with ${l.keys.size} keys still attached`);
    this.leases.delete(id);
    this.expiryQueue.remove(id);
    this.checkpointQueue.remove(id);
    return deleteLeaseOp(id);
  }

  /**
   * Applies a checkpoint: the remaining TTL a leader saw (0 clears it). Unknown leases are
   * ignored (revoked since). Returns the write that persists it, or undefined if nothing changed.
   */
  checkpoint(id: number, remainingTtlSec: number): BackendOp | undefined {
    assert(Number.isSafeInteger(remainingTtlSec) && remainingTtlSec >= 0, `remaining TTL ${remainingTtlSec}`);
    const l = this.leases.get(id);
    if (l === undefined || l.remainingTtlSec === remainingTtlSec) return undefined;
    l.remainingTtlSec = remainingTtlSec;
    return putLeaseOp(recordOf(l));
  }

  /**
   * Keeps attachments in step with one revision's events: a PUT with a lease attaches its key;
   * a DELETE, or a PUT with another lease, detaches it from the previous one (each event carries
   * `prevKv` when the key existed, so the previous lease is known without a lookup).
   */
  applyEvents(events: readonly Event[]): void {
    for (const ev of events) {
      const prev = ev.prevKv;
      const lease = ev.type === EventType.PUT ? ev.kv.lease : 0;
      if (prev !== null && prev !== undefined && prev.lease !== 0 && prev.lease !== lease) {
        const l = this.leases.get(prev.lease);
        assert(l !== undefined, `key was attached to lease ${prev.lease}, which does not exist`);
        l.keys.delete(bytesToLatin1(ev.kv.key));
      }
      if (lease !== 0) {
        const l = this.leases.get(lease);
        assert(l !== undefined, `put attached a key to lease ${lease}, which does not exist`);
        l.keys.add(bytesToLatin1(ev.kv.key));
      }
    }
  }

  /** Every lease ID, ascending. */
  ids(): number[] {
    return [...this.leases.keys()].sort((a, b) => a - b);
  }

  /** The whole projection by ascending ID (tests: a rebuilt lessor must equal the live one). */
  dump(): LeaseDump[] {
    return this.ids().map((id) => {
      const l = this.leases.get(id)!;
      return { ...recordOf(l), keys: sortedKeys(l) };
    });
  }

  // ---- the leader's clock ------------------------------------------------------------------

  /** Whether this lessor keeps expiry (this member is the leader and was promoted). */
  get isPrimary(): boolean {
    return this.primary;
  }

  /**
   * This member became leader: every lease expires `extendMs` plus its TTL (its checkpointed
   * remaining TTL if any) after `nowMs`. NB: etcd also spreads expiries that would exceed its
   * revoke rate; here the shell's per-round bound paces the revokes instead.
   */
  promote(nowMs: number, extendMs: number): void {
    this.primary = true;
    this.expiryQueue.clear();
    this.checkpointQueue.clear();
    this.unscheduled = [];
    for (const l of this.leases.values()) {
      const ttlSec = l.remainingTtlSec > 0 ? l.remainingTtlSec : l.ttlSec;
      l.expiryMs = nowMs + extendMs + ttlSec * 1000;
      this.expiryQueue.set(l.id, l.expiryMs);
      this.scheduleCheckpoint(l, nowMs);
    }
  }

  /** This member is no longer leader: forget every expiry (the next leader decides). */
  demote(): void {
    this.primary = false;
    this.expiryQueue.clear();
    this.checkpointQueue.clear();
    this.unscheduled = [];
    for (const l of this.leases.values()) l.expiryMs = Infinity;
  }

  /**
   * A keep-alive: lease `id` now expires its TTL after `nowMs`. Undefined when the lease does
   * not exist or has already expired (its revoke is on its way through the log): the client is
   * told TTL 0. Only on the primary (asserted).
   */
  renew(id: number, nowMs: number): RenewResult | undefined {
    assert(this.primary, 'renew on a lessor that is not primary');
    this.schedule(nowMs);
    const l = this.leases.get(id);
    if (l === undefined || l.expiryMs <= nowMs) return undefined;
    l.expiryMs = nowMs + l.ttlSec * 1000;
    this.expiryQueue.set(id, l.expiryMs);
    return { ttlSec: l.ttlSec, clearCheckpoint: this.checkpointIntervalMs > 0 && l.remainingTtlSec > 0 };
  }

  /**
   * Granted and remaining TTL of lease `id`, with its keys if `withKeys`; undefined when it
   * does not exist. Off the primary (no expiry known) the remaining TTL is the checkpointed
   * one, else the full TTL.
   */
  timeToLive(id: number, nowMs: number, withKeys = false): LeaseTimeToLive | undefined {
    this.schedule(nowMs);
    const l = this.leases.get(id);
    if (l === undefined) return undefined;
    const remainingSec =
      l.expiryMs === Infinity
        ? l.remainingTtlSec > 0
          ? l.remainingTtlSec
          : l.ttlSec
        : Math.max(0, Math.floor((l.expiryMs - nowMs) / 1000));
    return { ttlSec: l.ttlSec, remainingSec, keys: withKeys ? sortedKeys(l).map(latin1ToBytes) : [] };
  }

  /**
   * Up to `limit` leases that expired at `nowMs`, earliest first, for the leader to revoke
   * through the log. Each one found is handed out again only after `expiredRetryMs` if it
   * still exists then (its revoke was lost). Empty when not primary.
   */
  findExpired(nowMs: number, limit: number): number[] {
    if (!this.primary) return [];
    this.schedule(nowMs);
    const out: number[] = [];
    while (out.length < limit) {
      const top = this.expiryQueue.peek();
      if (top === undefined || top.timeMs > nowMs) break;
      out.push(top.id);
      this.expiryQueue.set(top.id, nowMs + this.expiredRetryMs);
    }
    return out;
  }

  /**
   * Up to `limit` checkpoints due at `nowMs`: each lease longer than the checkpoint interval,
   * once per interval, with its remaining TTL rounded up (etcd's rule), skipped when that is
   * not below its TTL. Empty when not primary or checkpoints are off.
   */
  dueCheckpoints(nowMs: number, limit: number): LeaseCheckpoint[] {
    if (!this.primary || this.checkpointIntervalMs === 0) return [];
    this.schedule(nowMs);
    const out: LeaseCheckpoint[] = [];
    while (out.length < limit) {
      const top = this.checkpointQueue.peek();
      if (top === undefined || top.timeMs > nowMs) break;
      const l = this.leases.get(top.id)!;
      this.checkpointQueue.set(top.id, nowMs + this.checkpointIntervalMs);
      const remaining = Math.ceil((l.expiryMs - nowMs) / 1000);
      if (remaining <= 0 || remaining >= l.ttlSec) continue;
      out.push({ ID: l.id, remainingTTL: remaining });
    }
    return out;
  }

  /**
   * Starts, at `nowMs`, the expiry of leases granted since the last leader call (apply has no
   * clock). Every leader call does this first; the shell calls it right after a grant it
   * proposed was applied, so that the lease's TTL counts from then.
   */
  schedule(nowMs: number): void {
    if (this.unscheduled.length === 0) return;
    const ids = this.unscheduled;
    this.unscheduled = [];
    for (const id of ids) {
      const l = this.leases.get(id);
      if (l === undefined || l.expiryMs !== Infinity) continue; // revoked, or already scheduled
      l.expiryMs = nowMs + l.ttlSec * 1000;
      this.expiryQueue.set(id, l.expiryMs);
      this.scheduleCheckpoint(l, nowMs);
    }
  }

  private scheduleCheckpoint(l: LeaseEntry, nowMs: number): void {
    const every = this.checkpointIntervalMs;
    if (every > 0 && l.ttlSec * 1000 > every) this.checkpointQueue.set(l.id, nowMs + every);
  }
}

function entryOf(r: LeaseRecord): LeaseEntry {
  return { id: r.id, ttlSec: r.ttlSec, remainingTtlSec: r.remainingTtlSec, keys: new Set(), expiryMs: Infinity };
}

function recordOf(l: LeaseEntry): LeaseRecord {
  return { id: l.id, ttlSec: l.ttlSec, remainingTtlSec: l.remainingTtlSec };
}

/** Latin1 strings sort by code unit, which is byte order. */
function sortedKeys(l: LeaseEntry): string[] {
  return [...l.keys].sort();
}

/**
 * The smallest TTL a lease gets, in seconds, as etcd computes it: 1.5 election timeouts counted
 * in whole heartbeat ticks, rounded up to a second, so that a lease outlives the election a
 * failover may need. Defaults (100 ms, 1000 ms) give 2 s.
 */
export function minLeaseTtlSec(heartbeatIntervalMs: number, electionTimeoutMs: number): number {
  const electionTicks = Math.floor(electionTimeoutMs / heartbeatIntervalMs);
  const minTtlMs = Math.floor((3 * electionTicks) / 2) * heartbeatIntervalMs;
  return Math.max(1, Math.ceil(minTtlMs / 1000));
}
