/**
 * The backend space quota, as etcd 3.4's quotaKVServer / quotaLeaseServer: before a request
 * with a cost (a put, a txn with top-level puts, a lease grant; see core/apply/quota-cost.ts)
 * is proposed, the member checks `backend size + cost < quota`. When that fails the request is
 * refused with `etcdserver: mvcc: database space exceeded` and the member proposes a NOSPACE
 * alarm for itself; once the alarm is applied every member's applier refuses such requests
 * (the decision is replicated, not a race between members' sizes) until it is disarmed.
 *
 * `quota-backend-bytes` is etcd's key: 0 means etcd's default, 2 GiB; above 8 GiB etcd warns.
 *
 * The backend's size is read at most every SIZE_REFRESH_MS while there is room (an LMDB
 * size is a stat() call), and afresh before refusing anything: like etcd's Size(), which is
 * refreshed at each backend commit (every 100 ms), it may lag a burst of writes.
 */
import { inject, injectable } from 'inversify';
import { AlarmAction, AlarmType } from '../core/api/alarm.js';
import type { AlarmStore } from '../core/apply/alarm-store.js';
import { KvError } from '../core/errors.js';
import { Logger } from '../core/ports/logger.js';
import { Config } from './config.js';
import { ConsensusHost } from './host.js';
import { AlarmStoreToken, StorageHandlesToken, type StorageHandlesT } from './tokens.js';

/** etcd's DefaultQuotaBytes: the quota when `quota-backend-bytes` is 0. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's MaxQuotaBytes: a larger quota works, but etcd warns that it may degrade performance. */
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;
/** How long a size read serves while the backend is under the quota. */
const SIZE_REFRESH_MS = 100;

/** The quota a config asks for: `quota-backend-bytes`, or etcd's default for 0. */
export function effectiveQuotaBytes(configured: number): number {
  return configured === 0 ? DEFAULT_QUOTA_BYTES : configured;
}

@injectable()
export class BackendQuota {
  /** The quota in bytes. */
  readonly quotaBytes: number;
  private sizeBytes = 0;
  private sizeAtMs = -Infinity;
  /** A NOSPACE proposal of this member is in flight (propose it once, not per request). */
  private raising = false;

  constructor(
    @inject(Config) config: Config,
    @inject(ConsensusHost) private readonly host: ConsensusHost,
    @inject(StorageHandlesToken) private readonly storage: StorageHandlesT,
    @inject(AlarmStoreToken) private readonly alarms: AlarmStore,
    @inject(Logger) private readonly log: Logger,
  ) {
    this.quotaBytes = effectiveQuotaBytes(config.quotaBackendBytes);
    if (this.quotaBytes > MAX_QUOTA_BYTES) {
      log.warn(
        { quotaSizeBytes: this.quotaBytes, quotaMaximumSizeBytes: MAX_QUOTA_BYTES },
        'quota exceeds the maximum value',
      );
    }
  }

  /**
   * Checks a request of `costBytes` against the quota. Returns when it fits (or costs nothing);
   * otherwise raises this member's NOSPACE alarm (once) and throws KvError('NoSpace').
   */
  check(costBytes: number): void {
    if (costBytes <= 0) return;
    const now = performance.now();
    if (now - this.sizeAtMs >= SIZE_REFRESH_MS) this.readSize(now);
    if (this.sizeBytes + costBytes < this.quotaBytes) return;
    this.readSize(now);
    if (this.sizeBytes + costBytes < this.quotaBytes) return;
    this.raiseNoSpace();
    throw new KvError('NoSpace');
  }

  private readSize(now: number): void {
    this.sizeBytes = this.storage.backend.sizeBytes();
    this.sizeAtMs = now;
  }

  private raiseNoSpace(): void {
    const memberID = this.host.status().memberId;
    if (this.raising || this.alarms.isActive(memberID, AlarmType.NOSPACE)) return;
    this.raising = true;
    this.log.warn(
      { quotaSizeBytes: this.quotaBytes, backendSizeBytes: this.sizeBytes },
      'request exceeded the backend quota; raising the NOSPACE alarm',
    );
    this.host
      .propose({ alarm: { action: AlarmAction.ACTIVATE, memberID, alarm: AlarmType.NOSPACE } })
      .then(
        (r) => {
          if (r.error !== undefined) this.log.warn({ err: r.error.message }, 'NOSPACE alarm not raised');
          else this.log.warn({ memberId: memberID }, 'alarm raised: NOSPACE');
        },
        (err: unknown) => this.log.warn({ err: String(err) }, 'NOSPACE alarm not raised; the next refused request retries'),
      )
      .finally(() => {
        this.raising = false;
      });
  }
}
