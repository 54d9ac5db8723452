/**
 * A consensus host for a cluster of one member: the quorum is this member, so an entry is
 * committed as soon as its own fsync completes.
 *
 * Group commit: proposals arriving while a save is in flight (or within one event-loop turn)
 * are queued and become one `LogStore.save()` (one fsync) and one applier batch (one backend
 * commit). The write path is the event-sourced one:
 *
 *   propose ─▶ queue ─▶ entries + hard state ─save+fsync─▶ applier batch ─▶ resolve waiters
 *                                                              └─▶ onApplied listeners
 *
 * On start the term is raised by one and an empty entry is appended at the new term, as a
 * newly elected Raft leader does; restart replays entries after the backend's consistent index.
 *
 * NB: the encoded request is the entry's data, but apply uses the request object the
 * proposer already has (encode once, no decode on the hot path); replay decodes.
 */
import type { InternalRequest } from '../core/api/kv.js';
import { Applier, type ApplyItem, type ApplyResult, type RevisionChanges } from '../core/apply/applier.js';
import { assert } from '../core/assert.js';
import { KvError } from '../core/errors.js';
import type { KvStore } from '../core/mvcc/kv-store.js';
import type { Logger } from '../core/ports/logger.js';
import { noMetrics, type Metrics } from '../core/ports/metrics.js';
import type { CallContext } from '../core/ports/services.js';
import type { Entry, HardState, LogStore, Backend } from '../core/ports/storage-driver.js';
import { EntryType } from '../core/ports/storage-driver.js';
import { decodeInternalRequest, encodeInternalRequest } from '../codec/messages.js';
import type { ConsensusHost, HostStatus } from './host.js';
import type { Member } from './membership.js';

export interface SingleMemberHostOptions {
  readonly memberId: number;
  readonly clusterId: number;
  /** An encoded request larger than this is refused with RequestTooLarge. */
  readonly maxRequestBytes: number;
  /** Proposals queued beyond this are refused with TooManyRequests. */
  readonly maxPendingProposals: number;
  /** Compact the log prefix after this many applied entries. */
  readonly snapshotCount: number;
  /** Called on a storage failure on the log path: the member must stop (Raft's storage contract). */
  readonly fatal: (err: unknown) => void;
  /** Where save durations, proposal counts and leadership are recorded (default: nowhere). */
  readonly metrics?: Metrics;
}

interface Pending {
  readonly request: InternalRequest;
  readonly data: Uint8Array;
  resolve(result: ApplyResult): void;
  reject(err: unknown): void;
}

export class SingleMemberHost implements ConsensusHost {
  private term = 0;
  private lastIndex = 0;
  private commitIndex = 0;
  private appliedIndex = 0;
  private lastCompactIndex = 0;
  private nextRequestId = 1;
  private queue: Pending[] = [];
  /** Proposals in the save-and-apply running now (for the pending-proposals gauge). */
  private inFlight = 0;
  private saving = false;
  private flushScheduled = false;
  private stopped = false;
  private started = false;
  private idle: Promise<void> = Promise.resolve();
  private self: Member = { id: 0, name: '', peerURLs: [], clientURLs: [], isLearner: false };
  private readonly listeners = new Set<(changes: readonly RevisionChanges[]) => void>();
  private readonly metrics: Metrics;

  constructor(
    readonly store: KvStore,
    private readonly applier: Applier,
    private readonly logStore: LogStore,
    private readonly backend: Backend,
    private readonly options: SingleMemberHostOptions,
    private readonly log: Logger,
  ) {
    this.self = { ...this.self, id: options.memberId };
    this.metrics = options.metrics ?? noMetrics;
    const m = this.metrics;
    m.onScrape(() => {
      m.hasLeader.set(this.started && !this.stopped ? 1 : 0);
      m.proposalsCommitted.set(this.commitIndex);
      m.proposalsApplied.set(this.appliedIndex);
      m.proposalsPending.set(this.queue.length + this.inFlight);
      m.dbTotalSizeBytes.set(this.backend.sizeBytes());
      m.keysTotal.set(this.store.indexedKeys);
    });
  }

  async start(): Promise<void> {
    assert(!this.started, 'host started twice');
    this.started = true;
    const hs = this.logStore.hardState();
    this.lastIndex = this.logStore.lastIndex();
    // In a one-member cluster everything in the durable log was committed by its own fsync.
    this.commitIndex = this.lastIndex;
    const from = Math.max(this.store.consistentIndex + 1, this.logStore.firstIndex());
    assert(
      this.store.consistentIndex >= this.logStore.firstIndex() - 1,
      `backend is behind the retained log (consistent index ${this.store.consistentIndex}, first log index ${this.logStore.firstIndex()})`,
    );
    let replayed = 0;
    for (let lo = from; lo <= this.lastIndex; ) {
      const hi = Math.min(this.lastIndex + 1, lo + 1024);
      const entries = this.logStore.entries(lo, hi);
      assert(entries.length > 0, 'log returned no entries');
      const items: ApplyItem[] = entries.map((e) => ({
        index: e.index,
        request: e.type === EntryType.Normal && e.data.byteLength > 0 ? decodeInternalRequest(e.data) : null,
      }));
      const { changes } = this.applier.applyBatch(items);
      this.emit(changes);
      replayed += entries.length;
      lo = entries[entries.length - 1]!.index + 1;
    }
    this.appliedIndex = this.lastIndex;
    this.lastCompactIndex = this.logStore.firstIndex() - 1;
    // Become leader of a new term, and append the new leader's empty entry.
    this.term = hs.term + 1;
    this.metrics.leaderChanges.inc();
    await this.saveAndApply([]);
    this.log.info(
      { term: this.term, replayed, appliedIndex: this.appliedIndex, revision: this.store.currentRevision },
      'log replayed; this member is the leader',
    );
  }

  propose(request: Omit<InternalRequest, 'id'>, signal?: AbortSignal): Promise<ApplyResult> {
    if (this.stopped || !this.started) {
      this.metrics.proposalsFailed.inc();
      return Promise.reject(new KvError('Stopped'));
    }
    if (this.queue.length >= this.options.maxPendingProposals) return Promise.reject(new KvError('TooManyRequests'));
    if (signal?.aborted) return Promise.reject(new KvError('Canceled'));
    const full: InternalRequest = { ...request, id: this.nextRequestId++ };
    const data = encodeInternalRequest(full);
    if (data.byteLength > this.options.maxRequestBytes) return Promise.reject(new KvError('RequestTooLarge'));
    // NB: once queued, a proposal is not withdrawn on abort: it may be committed already, so the
    // caller's abort only stops its wait (the transport drops the late answer).
    return new Promise<ApplyResult>((resolve, reject) => {
      this.queue.push({ request: full, data, resolve, reject });
      this.scheduleFlush();
    });
  }

  async readBarrier(_ctx?: CallContext): Promise<void> {
    // Every committed entry is applied in the same turn as its save completes, so the applied
    // state already includes everything committed before this call: nothing to wait for.
    if (this.stopped) throw new KvError('Stopped');
  }

  status(): HostStatus {
    return {
      memberId: this.options.memberId,
      clusterId: this.options.clusterId,
      leader: this.stopped ? 0 : this.options.memberId,
      term: this.term,
      lastIndex: this.lastIndex,
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
    };
  }

  members(): readonly Member[] {
    return [this.self];
  }

  publish(name: string, clientURLs: readonly string[]): void {
    this.self = { ...this.self, name, clientURLs: [...clientURLs] };
  }

  onApplied(listener: (changes: readonly RevisionChanges[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Let the queued proposals finish: they may already be on their way to disk.
    while (this.saving || this.queue.length > 0) {
      if (!this.saving) this.flush();
      await this.idle;
    }
    await this.backend.sync();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.saving) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.saving) this.flush();
    });
  }

  private flush(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.idle = this.saveAndApply(batch).catch((err: unknown) => {
      this.metrics.proposalsFailed.inc(batch.length);
      for (const p of batch) p.reject(new KvError('Storage', undefined, { cause: err }));
      this.stopped = true;
      this.options.fatal(err);
    });
  }

  /** Appends one entry per pending proposal (none: one empty entry), fsyncs, applies, answers. */
  private async saveAndApply(batch: Pending[]): Promise<void> {
    this.saving = true;
    this.inFlight = batch.length;
    try {
      const first = this.lastIndex + 1;
      const entries: Entry[] =
        batch.length === 0
          ? [{ term: this.term, index: first, type: EntryType.Normal, data: new Uint8Array(0) }]
          : batch.map((p, i) => ({ term: this.term, index: first + i, type: EntryType.Normal, data: p.data }));
      const last = first + entries.length - 1;
      const hardState: HardState = { term: this.term, vote: this.options.memberId, commit: last };
      const t0 = performance.now();
      await this.logStore.save({ entries, hardState });
      this.metrics.walFsyncSeconds.observe((performance.now() - t0) / 1000);
      // Durable: with one member that is a quorum, so the entries are committed.
      this.lastIndex = last;
      this.commitIndex = last;
      const items: ApplyItem[] =
        batch.length === 0
          ? [{ index: first, request: null }]
          : batch.map((p, i) => ({ index: first + i, request: p.request }));
      const { results, changes } = this.applier.applyBatch(items);
      this.appliedIndex = last;
      if (batch.length > 0) {
        assert(results.length === batch.length, 'one apply result per proposal');
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
      }
      this.emit(changes);
      await this.maybeCompactLog();
    } finally {
      this.saving = false;
      this.inFlight = 0;
    }
    if (this.queue.length > 0) this.flush();
  }

  private emit(changes: readonly RevisionChanges[]): void {
    if (changes.length === 0) return;
    for (const l of this.listeners) l(changes);
  }

  /**
   * Every `snapshotCount` applied entries, discard the log prefix the backend already holds.
   * The backend's commits are not fsync'd, so sync it first: after this the log can no longer
   * rebuild what a lost backend commit held.
   */
  private async maybeCompactLog(): Promise<void> {
    if (this.appliedIndex - this.lastCompactIndex < this.options.snapshotCount) return;
    const index = this.appliedIndex;
    const term = this.logStore.term(index);
    assert(term !== undefined, `no term for applied index ${index}`);
    await this.backend.sync();
    await this.logStore.compact({ index, term, voters: [this.options.memberId], learners: [] });
    this.lastCompactIndex = index;
    this.log.debug({ index }, 'log compacted');
  }
}
