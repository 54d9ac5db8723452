/**
 * The Lease API service (etcdserverpb.Lease), over the lessor (src/core/lease/lessor.ts).
 *
 * - Grant and Revoke are log entries: proposed through the consensus host and applied by the
 *   applier on every member. The proposer settles everything that would make apply depend on
 *   this member: it picks the ID of a grant that asked for none (random, positive, below
 *   2^53, unused here) and raises the TTL to the minimum (etcd's formula, from the heartbeat
 *   and election timeout), so that the entry alone decides the outcome.
 * - KeepAlive and TimeToLive are answered by the leader's lessor after a read barrier (so that
 *   every grant committed before the call is known); keep-alives renew there only, never
 *   through the log. Elsewhere they fail with NotLeader (NB: etcd forwards them to the leader;
 *   a multi-member host can add that behind the same service).
 * - Leases (the list) reads the projection, which every member has.
 *
 * Leadership is checked on every call and by the expiry loop (lease-loop.ts): when this member
 * becomes leader (a new term with itself as leader) the lessor is promoted, which gives every
 * lease a fresh expiry of one election timeout plus its (checkpointed) remaining TTL; when it
 * stops being leader the lessor is demoted.
 */
import { randomBytes } from 'node:crypto';
import { inject, injectable, optional } from 'inversify';
import { LEASE_OVERHEAD_BYTES } from '../core/apply/quota-cost.js';
import { BackendQuota } from './backend-quota.js';
import type { InternalRequest, ResponseHeader } from '../core/api/kv.js';
import {
  MAX_LEASE_TTL_SEC,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesRequest,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
} from '../core/api/lease.js';
import { assert } from '../core/assert.js';
import type { Client } from '../client/client.js';
import { LeaderForwarder } from './leader-forwarder.js';
import { LeaseLostError } from '../client/lease.js';
import { invalidArgument, KvError, NotLeaderError } from '../core/errors.js';
import { minLeaseTtlSec, type Lessor } from '../core/lease/lessor.js';
import { Clock } from '../core/ports/clock.js';
import { Logger } from '../core/ports/logger.js';
import type { CallContext, LeaseService, StreamOpener, StreamSink } from '../core/ports/services.js';
import { Config } from './config.js';
import { ConsensusHost } from './host.js';
import { LessorToken } from './tokens.js';

/** A random lease ID: 53 random bits, never 0 (the "pick one" value). */
export function randomLeaseId(): number {
  for (;;) {
    const b = randomBytes(7);
    // 5 bits of the first byte + 48 bits = 53 bits.
    const id = (b[0]! & 0x1f) * 2 ** 48 + b.readUIntBE(1, 6);
    if (id !== 0) return id;
  }
}

type WriteResponse = { header: ResponseHeader };

/**
 * The Lease service of the transports (`Services.lease`), and the leadership bookkeeping of
 * the lessor that the expiry loop shares. See the module comment.
 */
@injectable()
export class LeaseServiceImpl implements LeaseService {
  /** The smallest TTL granted, in seconds. */
  readonly minTtlSec: number;
  /** The term in which this member last promoted its lessor; 0 when not primary. */
  private primaryTerm = 0;
  private readonly forwarder: LeaderForwarder;
  /** StreamOpener of LeaseKeepAlive. */
  readonly keepAlive: StreamOpener<LeaseKeepAliveRequest, LeaseKeepAliveResponse>;

  constructor(
    @inject(ConsensusHost) private readonly host: ConsensusHost,
    @inject(LessorToken) private readonly lessor: Lessor,
    @inject(Clock) private readonly clock: Clock,
    @inject(Config) private readonly config: Config,
    @inject(Logger) private readonly log: Logger,
    /** The space quota a grant is checked against (absent in tests of the service alone). */
    @inject(BackendQuota) @optional() private readonly quota?: BackendQuota,
  ) {
    this.forwarder = new LeaderForwarder(host);
    this.minTtlSec = minLeaseTtlSec(config.heartbeatIntervalMs, config.electionTimeoutMs);
    this.keepAlive = (sink) => new KeepAliveStream(this, sink);
  }

  async grant(req: LeaseGrantRequest, ctx?: CallContext): Promise<LeaseGrantResponse> {
    const requested = req.TTL ?? 0;
    let id = req.ID ?? 0;
    if (!Number.isSafeInteger(requested)) throw invalidArgument('lease TTL must be an integer');
    if (requested > MAX_LEASE_TTL_SEC) throw new KvError('LeaseTTLTooLarge');
    if (!Number.isSafeInteger(id) || id < 0) throw invalidArgument(`lease ID must be positive and below 2^53, got ${id}`);
    while (id === 0) {
      id = randomLeaseId();
      if (this.lessor.exists(id)) id = 0;
    }
    const ttl = Math.max(requested, this.minTtlSec);
    this.quota?.check(LEASE_OVERHEAD_BYTES);
    const resp = await this.write<LeaseGrantResponse>({ leaseGrant: { ID: id, TTL: ttl } }, ctx);
    // Start the new lease's expiry now rather than at the next leader call.
    const now = this.clock.nowMs();
    if (this.syncRole(now)) this.lessor.schedule(now);
    return resp;
  }

  revoke(req: LeaseRevokeRequest, ctx?: CallContext): Promise<LeaseRevokeResponse> {
    return this.write<LeaseRevokeResponse>({ leaseRevoke: { ID: req.ID ?? 0 } }, ctx);
  }

  async timeToLive(req: LeaseTimeToLiveRequest, ctx?: CallContext): Promise<LeaseTimeToLiveResponse> {
    const fwd = this.leaderClient();
    if (fwd !== undefined) return this.rehead(await fwd.leaseTimeToLive({ ID: req.ID ?? 0, keys: req.keys === true }));
    await this.host.readBarrier(ctx);
    const now = this.leaderNow();
    const id = req.ID ?? 0;
    const t = this.lessor.timeToLive(id, now, req.keys === true);
    const header = this.header(this.host.store.currentRevision);
    if (t === undefined) return { header, ID: id, TTL: -1, grantedTTL: 0, keys: [] };
    return { header, ID: id, TTL: t.remainingSec, grantedTTL: t.ttlSec, keys: t.keys };
  }

  async leases(_req: LeaseLeasesRequest, ctx?: CallContext): Promise<LeaseLeasesResponse> {
    const fwd = this.leaderClient();
    if (fwd !== undefined) return this.rehead(await fwd.leaseLeases());
    await this.host.readBarrier(ctx);
    return { header: this.header(this.host.store.currentRevision), leases: this.lessor.ids().map((ID) => ({ ID })) };
  }

  /**
   * One keep-alive: renews the lease on the leader's lessor. TTL 0 when the lease does not
   * exist or already expired (its revoke is on the way), as etcd answers. When the lease had
   * a checkpointed remaining TTL, a checkpoint of 0 is proposed so that a later leader does
   * not cut the renewal short.
   */
  async renew(req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse> {
    const fwd = this.leaderClient();
    if (fwd !== undefined) {
      const id = req.ID ?? 0;
      try {
        return this.rehead(await fwd.lease(id).keepAliveOnce());
      } catch (e) {
        if (e instanceof LeaseLostError) return { header: this.header(this.host.store.currentRevision), ID: id, TTL: 0 };
        throw e;
      }
    }
    await this.host.readBarrier();
    const now = this.leaderNow();
    const id = req.ID ?? 0;
    const r = this.lessor.renew(id, now);
    if (r?.clearCheckpoint === true) this.proposeQuietly({ leaseCheckpoint: { checkpoints: [{ ID: id, remainingTTL: 0 }] } });
    return { header: this.header(this.host.store.currentRevision), ID: id, TTL: r?.ttlSec ?? 0 };
  }

  /**
   * Brings the lessor in line with this member's role: promote when it leads a term it has not
   * promoted in yet, demote when it no longer leads. Returns whether it is the leader.
   */
  syncRole(nowMs: number): boolean {
    const s = this.host.status();
    const leading = s.leader !== 0 && s.leader === s.memberId;
    if (leading && (!this.lessor.isPrimary || this.primaryTerm !== s.term)) {
      this.lessor.promote(nowMs, this.config.electionTimeoutMs);
      this.primaryTerm = s.term;
      this.log.info({ term: s.term, leases: this.lessor.size }, 'lessor promoted: this member keeps lease expiry');
    } else if (!leading && this.lessor.isPrimary) {
      this.lessor.demote();
      this.primaryTerm = 0;
      this.log.info({ term: s.term, leader: s.leader }, 'lessor demoted');
    }
    return leading;
  }

  /** Proposes an entry nobody waits for (revokes of expired leases, checkpoints). Never rejects. */
  proposeQuietly(request: Omit<InternalRequest, 'id'>): Promise<void> {
    return this.host.propose(request).then(
      (r) => {
        if (r.error !== undefined && r.error.code !== 'LeaseNotFound') {
          this.log.warn({ err: r.error.message }, 'lease entry failed at apply');
        }
      },
      (err: unknown) => this.log.warn({ err: String(err) }, 'lease entry not proposed'),
    );
  }

  /**
   * On a follower with a known leader: a client to the leader's first client URL, through which
   * keep-alives and TTL queries are forwarded (only the leader's lessor knows expiry), as etcd
   * forwards them. Undefined on the leader, or when the leader or its URL is not known yet.
   */
  private leaderClient(): Client | undefined {
    return this.forwarder.client();
  }

  /** Closes the connection used for forwarding (at shutdown). */
  async close(): Promise<void> {
    await this.forwarder.close();
  }

  /** A forwarded answer, with this member's header (its revision may lag the leader's). */
  private rehead<R extends { header: ResponseHeader }>(r: R): R {
    r.header = this.header(Math.max(r.header.revision, this.host.store.currentRevision));
    return r;
  }

  /** Now, after checking that this member leads (NotLeader otherwise). */
  private leaderNow(): number {
    const now = this.clock.nowMs();
    if (!this.syncRole(now)) throw new NotLeaderError(this.host.status().leader);
    return now;
  }

  private async write<R extends WriteResponse>(request: Omit<InternalRequest, 'id'>, ctx?: CallContext): Promise<R> {
    void ctx; // a proposal is not withdrawn once queued (see KvServiceImpl.write)
    const result = await this.host.propose(request);
    if (result.error !== undefined) throw result.error;
    assert(result.response !== undefined, 'an applied lease entry has a response or an error');
    const response = result.response as unknown as R;
    response.header = this.header(response.header.revision);
    return response;
  }

  private header(revision: number): ResponseHeader {
    const s = this.host.status();
    return { clusterId: s.clusterId, memberId: s.memberId, revision, raftTerm: s.term };
  }
}

/**
 * One LeaseKeepAlive stream: any number of leases, one answer per request, in request order
 * (renewals are chained). A client half-close ends the stream once the answers before it are
 * sent, as etcd's server returns when its receive loop sees EOF. NB: the answers are tiny
 * and one per request, so a client that does not read them is held back by the transport
 * pausing its reads; nothing is buffered here beyond the requests already received.
 */
class KeepAliveStream {
  private closed = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly service: LeaseServiceImpl,
    private readonly sink: StreamSink<LeaseKeepAliveResponse>,
  ) {}

  message(req: LeaseKeepAliveRequest): void {
    if (this.closed) return;
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        const resp = await this.service.renew(req);
        if (!this.closed) this.sink.send(resp);
      } catch (err) {
        this.fail(err);
      }
    });
  }

  end(): void {
    this.chain = this.chain.then(() => {
      if (this.closed) return;
      this.closed = true;
      this.sink.close();
    });
  }

  cancel(): void {
    this.closed = true;
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.close(err instanceof KvError ? err : new KvError('Internal', String(err)));
  }
}
