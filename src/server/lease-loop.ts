/**
 * The leader-side lease loop: every `intervalMs` (500 ms, as etcd) it brings the lessor in line
 * with this member's role, asks it for expired leases — at most `maxRevokesPerRound` per round
 * (etcd revokes at most 1000 per second, i.e. 500 per 500 ms round) — and proposes one revoke
 * entry for each. With checkpointing on, it also proposes one checkpoint entry for the leases
 * whose checkpoint is due. Expiry is thus decided by the leader alone and applied through the
 * log: no member deletes anything on a timer of its own.
 *
 * A round does not start while the previous one still waits for its proposals, so a slow
 * disk slows the loop down instead of piling up proposals. A revoke lost to a leader change is
 * handed out again by the lessor after its retry interval if the lease still exists.
 */
import type { Lessor } from '../core/lease/lessor.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import type { LeaseServiceImpl } from './lease-service.js';

/** Tuning of the loop. */
export interface LeaseLoopOptions {
  /** Period of the rounds, ms (etcd: 500). */
  readonly intervalMs: number;
  /** Revokes proposed per round at most (etcd: 1000/s → 500 per round). */
  readonly maxRevokesPerRound: number;
  /** Leases checkpointed per round at most, in one entry (etcd: 1000 per batch). */
  readonly maxCheckpointsPerRound: number;
}

/** etcd's pacing. */
export const DEFAULT_LEASE_LOOP_OPTIONS: LeaseLoopOptions = Object.freeze({
  intervalMs: 500,
  maxRevokesPerRound: 500,
  maxCheckpointsPerRound: 1000,
});

/** See the module comment. Started after the host, stopped before it. */
export class LeaseLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly service: LeaseServiceImpl,
    private readonly lessor: Lessor,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: LeaseLoopOptions = DEFAULT_LEASE_LOOP_OPTIONS,
  ) {}

  /** Runs a round now (so that a new leader promotes its lessor at once), then periodically. */
  start(): void {
    if (this.timer !== null || this.stopped) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the rounds and waits for the one in progress (its proposals) to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.service.close();
  }

  /**
   * One round (also for tests): sync the role, then propose revokes for the expired leases and
   * a checkpoint entry for the due ones. Resolves when those proposals are applied.
   */
  async runOnce(): Promise<void> {
    const now = this.clock.nowMs();
    if (!this.service.syncRole(now)) return;
    const expired = this.lessor.findExpired(now, this.options.maxRevokesPerRound);
    const proposals: Promise<void>[] = expired.map((id) => this.service.proposeQuietly({ leaseRevoke: { ID: id } }));
    const checkpoints = this.lessor.dueCheckpoints(now, this.options.maxCheckpointsPerRound);
    if (checkpoints.length > 0) proposals.push(this.service.proposeQuietly({ leaseCheckpoint: { checkpoints } }));
    if (expired.length > 0) this.log.debug({ leases: expired.length }, 'revoking expired leases');
    await Promise.all(proposals);
  }

  private tick(): void {
    if (this.running !== null || this.stopped) return;
    this.running = this.runOnce()
      .catch((err: unknown) => this.log.error({ err: String(err) }, 'lease loop round failed'))
      .finally(() => {
        this.running = null;
      });
  }
}
