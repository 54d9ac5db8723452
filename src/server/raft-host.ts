/**
 * The consensus host of a multi-member cluster: drives the pure Raft core (RawNode) with real
 * time, the durable LogStore, the peer transport and the applier. One loop, never re-entered,
 * runs the Ready cycle in order:
 *
 *   rd = node.ready()
 *   send     messages that do not depend on this Ready being durable (a leader's appends and
 *            heartbeats: the parallel leader append of DESIGN.md)
 *   persist  snapshot, entries, hard state: one LogStore.save() = one fsync (skipped when only
 *            the commit index moved)
 *   send     everything else (votes, append responses: they acknowledge durable state)
 *   apply    snapshot, then committed entries (one applier batch per run of normal entries;
 *            ConfChange entries change membership), answer this member's waiters
 *   reads    answer ReadIndex requests whose index is applied
 *   advance
 *
 * Ticks, peer messages, proposals and read requests only step the node and wake the loop, so
 * a burst of them becomes one Ready (group commit).
 *
 * Proposals carry (origin, id): the entry comes back through the log on every member, and only
 * its proposer answers the client. Linearizable reads share ReadIndex rounds: all reads that
 * arrive while a round is pending wait for the next one.
 */
import type { InternalRequest } from '../core/api/kv.js';
import type { Applier, ApplyItem, ApplyResult, RevisionChanges } from '../core/apply/applier.js';
import { assert } from '../core/assert.js';
import { KvError } from '../core/errors.js';
import type { KvStore } from '../core/mvcc/kv-store.js';
import type { Logger } from '../core/ports/logger.js';
import { noMetrics, type Metrics } from '../core/ports/metrics.js';
import type { PeerTransport } from '../core/ports/peer-transport.js';
import type { Random } from '../core/ports/random.js';
import type { CallContext } from '../core/ports/services.js';
import type { Backend, Entry, LogStore, SnapshotMeta } from '../core/ports/storage-driver.js';
import { EntryType } from '../core/ports/storage-driver.js';
import { ConfChangeType, decodeConfChange, type ConfChange } from '../core/raft/confchange/conf-change.js';
import type { Message, Snapshot } from '../core/raft/messages.js';
import { MessageType } from '../core/raft/messages.js';
import { RawNode } from '../core/raft/raw-node.js';
import { Role, type Ready } from '../core/raft/ready.js';
import type { RaftStorage } from '../core/raft/storage.js';
import { decodeInternalRequest, encodeInternalRequest } from '../codec/messages.js';
import { encodeBackendSnapshot, restoreBackendSnapshot } from './backend-snapshot.js';
import type { ConsensusHost, HostStatus } from './host.js';
import { decodeMember, deleteMember, encodeMember, loadMembers, saveMember, type Member } from './membership.js';

export interface RaftHostOptions {
  readonly memberId: number;
  readonly clusterId: number;
  /** Every initial member (this one included): used to bootstrap a new cluster. */
  readonly initialMembers: readonly Member[];
  /** Bootstrap when the log is empty (initial-cluster-state: new); else wait to be added. */
  readonly bootstrap: boolean;
  readonly tickMs: number;
  /** A ReadIndex round not answered within this many ms is asked again (etcd: 500 ms). */
  readonly readRetryMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxRequestBytes: number;
  readonly maxPendingProposals: number;
  readonly snapshotCount: number;
  /** A proposal or read not answered within this is failed with a timeout error. */
  readonly requestTimeoutMs: number;
  /** Called after a snapshot replaced the backend and the key index was rebuilt (leases reload). */
  readonly reloaded?: () => void;
  /** How a member id follows from its (first) peer URL: the same on every member. */
  readonly memberIdFor: (peerUrl: string) => number;
  /** Called when this member has been removed from the cluster (it should stop). */
  readonly removed?: () => void;
  readonly fatal: (err: unknown) => void;
  /** Where save durations, proposal counts, leadership and peer RTTs are recorded (default: nowhere). */
  readonly metrics?: Metrics;
}

/** How often the peers' round-trip times are sampled into the RTT histogram. */
const RTT_SAMPLE_MS = 1000;

interface Waiter {
  resolve(r: ApplyResult): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

interface ReadWaiter {
  resolve(): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
  /** Set once the read's ReadIndex round answered. */
  index?: number;
}

/** Adapts the durable LogStore (plus snapshots of the backend) to what the core reads. */
class LogStoreRaftStorage implements RaftStorage {
  constructor(
    private readonly log: LogStore,
    private readonly makeSnapshot: () => Snapshot | undefined,
  ) {}
  hardState() {
    return this.log.hardState();
  }
  snapshotMeta() {
    return this.log.snapshotMeta();
  }
  firstIndex() {
    return this.log.firstIndex();
  }
  lastIndex() {
    return this.log.lastIndex();
  }
  term(index: number) {
    return this.log.term(index);
  }
  entries(lo: number, hi: number, maxBytes?: number) {
    return this.log.entries(lo, hi, maxBytes);
  }
  snapshot() {
    return this.makeSnapshot();
  }
}

export class RaftHost implements ConsensusHost {
  private node!: RawNode;
  private memberMap = new Map<number, Member>();
  private readonly waiters = new Map<number, Waiter>();
  /**
   * Proposals not yet handed to Raft, in arrival order: the Ready loop proposes them as one
   * batch when it goes round (see `proposeQueued`).
   */
  private queuedIds: number[] = [];
  private queuedData: Uint8Array[] = [];
  private readonly reads = new Map<string, ReadWaiter[]>();
  /** When each round in `reads` was asked (same keys, same insertion order). */
  private readonly readAskedAt = new Map<string, number>();
  /** Reads waiting for the next ReadIndex round. */
  private nextReads: ReadWaiter[] = [];
  /** Reads whose round answered, waiting for `applied` to reach their index. */
  private readyReads: ReadWaiter[] = [];
  private readSeq = 0;
  private nextRequestId: number;
  private running = false;
  private wake = false;
  private stopped = false;
  private started = false;
  private ticker: NodeJS.Timeout | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private applied = 0;
  private lastCompactIndex = 0;
  private leader = 0;
  private role: Role = Role.Follower;
  private cachedSnapshot: Snapshot | undefined;
  private publishing: { name: string; clientURLs: string[] } | undefined;
  private publishInFlight = false;
  private readonly confWaiters = new Set<{ cc: ConfChange; resolve(): void; reject(e: unknown): void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Set<(changes: readonly RevisionChanges[]) => void>();
  private readonly leaderListeners = new Set<(isLeader: boolean) => void>();
  private readonly metrics: Metrics;
  private rttSampler: NodeJS.Timeout | undefined;
  private readonly restoredListeners = new Set<(revision: number) => void>();

  constructor(
    readonly store: KvStore,
    private readonly applier: Applier,
    private readonly logStore: LogStore,
    private readonly backend: Backend,
    private readonly transport: PeerTransport,
    private readonly random: Random,
    private readonly options: RaftHostOptions,
    private readonly log: Logger,
  ) {
    // Request ids start from the wall clock so that ids of a previous run of this member that
    // are still in the log do not collide with new ones (entries also carry `origin`).
    this.nextRequestId = Date.now() * 1000;
    this.metrics = options.metrics ?? noMetrics;
    const m = this.metrics;
    m.onScrape(() => {
      if (!this.started) return;
      m.hasLeader.set(this.leader !== 0 && !this.stopped ? 1 : 0);
      m.proposalsCommitted.set(this.node.status().commit);
      m.proposalsApplied.set(this.applied);
      m.proposalsPending.set(this.waiters.size);
      m.dbTotalSizeBytes.set(this.backend.sizeBytes());
      m.keysTotal.set(this.store.indexedKeys);
    });
  }

  /** Records each connected peer's smoothed round-trip time (etcd samples its probes likewise). */
  private sampleRtt(): void {
    for (const [id, st] of this.transport.stats()) {
      if (st.rttMs !== undefined) this.metrics.peerRoundTripSeconds(id.toString(16)).observe(st.rttMs / 1000);
    }
  }

  async start(): Promise<void> {
    assert(!this.started, 'host started twice');
    this.started = true;
    const o = this.options;
    this.memberMap = loadMembers(this.backend);
    this.node = new RawNode(
      {
        id: o.memberId,
        electionTicks: o.electionTicks,
        heartbeatTicks: o.heartbeatTicks,
        checkQuorum: true,
        preVote: true,
        maxMsgBytes: 1024 * 1024,
        maxInflightMsgs: 256,
      },
      new LogStoreRaftStorage(this.logStore, () => this.snapshotForPeer()),
      this.random,
    );
    const empty = this.logStore.lastIndex() === 0 && this.logStore.hardState().term === 0;
    if (empty && o.bootstrap) {
      this.node.bootstrap(o.initialMembers.map((m) => ({ id: m.id, context: encodeMember(m) })));
    }
    // Peers known from the projection, or from the config before the first ConfChange applies.
    for (const m of o.initialMembers) if (!this.memberMap.has(m.id)) this.addPeer(m);
    for (const m of this.memberMap.values()) this.addPeer(m);
    this.applied = this.logStore.snapshotMeta().index;
    this.lastCompactIndex = this.applied;

    this.transport.onMessage((m) => this.onPeerMessage(m));
    this.transport.onUnreachable((id) => {
      this.node.reportUnreachable(id);
      this.kick();
    });
    this.transport.onPeerLost((id) => {
      if (id === this.leader && id !== o.memberId) this.log.info({ leader: id.toString(16) }, 'lost the connection to the leader: campaigning soon');
      this.node.reportLeaderLost(id);
      this.kick();
    });
    await this.transport.start();
    this.ticker = setInterval(() => {
      this.node.tick();
      this.retryStaleReadRounds();
      this.kick();
    }, o.tickMs);
    this.rttSampler = setInterval(() => this.sampleRtt(), RTT_SAMPLE_MS);
    this.rttSampler.unref();
    this.kick();
    await this.loopDone;
    this.log.info({ memberId: o.memberId.toString(16), members: this.memberMap.size, applied: this.applied }, 'raft started');
  }

  propose(request: Omit<InternalRequest, 'id' | 'origin'>): Promise<ApplyResult> {
    if (this.stopped || !this.started) {
      this.metrics.proposalsFailed.inc();
      return Promise.reject(new KvError('Stopped'));
    }
    if (this.waiters.size >= this.options.maxPendingProposals) return Promise.reject(new KvError('TooManyRequests'));
    const id = this.nextRequestId++;
    const full: InternalRequest = { ...request, id, origin: this.options.memberId };
    const data = encodeInternalRequest(full);
    if (data.byteLength > this.options.maxRequestBytes) return Promise.reject(new KvError('RequestTooLarge'));
    if (this.leader === 0) {
      this.metrics.proposalsFailed.inc();
      return Promise.reject(new KvError('NoLeader'));
    }
    return new Promise<ApplyResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiters.delete(id)) {
          this.metrics.proposalsFailed.inc();
          reject(new KvError('Timeout'));
        }
      }, this.options.requestTimeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
      this.queuedIds.push(id);
      this.queuedData.push(data);
      this.kick();
    });
  }

  readBarrier(_ctx?: CallContext): Promise<void> {
    if (this.stopped) return Promise.reject(new KvError('Stopped'));
    if (this.leader === 0) return Promise.reject(new KvError('NoLeader'));
    return new Promise<void>((resolve, reject) => {
      const w: ReadWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          w.index = -1;
          reject(new KvError('Timeout'));
        }, this.options.requestTimeoutMs),
      };
      this.nextReads.push(w);
      this.kick();
    });
  }

  status(): HostStatus {
    const s = this.node.status();
    return {
      memberId: this.options.memberId,
      clusterId: this.options.clusterId,
      leader: s.lead,
      term: s.term,
      lastIndex: s.lastIndex,
      commitIndex: s.commit,
      appliedIndex: this.applied,
    };
  }

  members(): readonly Member[] {
    return [...this.memberMap.values()].sort((a, b) => a.id - b.id);
  }

  publish(name: string, clientURLs: readonly string[]): void {
    this.publishing = { name, clientURLs: [...clientURLs] };
    this.maybePublish();
  }

  /** Proposes this member's attributes once a leader is known, until the projection has them. */
  private maybePublish(): void {
    const p = this.publishing;
    if (p === undefined || this.leader === 0 || this.stopped) return;
    const mine = this.memberMap.get(this.options.memberId);
    if (mine !== undefined && mine.name === p.name && mine.clientURLs.join(',') === p.clientURLs.join(',')) {
      this.publishing = undefined;
      return;
    }
    if (this.publishInFlight) return;
    this.publishInFlight = true;
    this.propose({ memberAttributes: { id: this.options.memberId, name: p.name, clientUrls: [...p.clientURLs] } })
      .catch(() => {})
      .finally(() => {
        this.publishInFlight = false;
        setTimeout(() => this.maybePublish(), Math.max(100, this.options.tickMs)).unref();
      });
  }

  readonly reconfigure = {
    addMember: async (peerURLs: readonly string[], isLearner: boolean): Promise<Member> => {
      if (peerURLs.length === 0 || peerURLs.some((u) => !/^(tcp|ws|http):\/\/[^\s/]+:\d+$/.test(u))) throw new KvError('MemberBadURLs');
      const id = this.options.memberIdFor(peerURLs[0]!);
      if (this.memberMap.has(id)) throw new KvError('MemberExist');
      for (const m of this.memberMap.values()) if (m.peerURLs.some((u) => peerURLs.includes(u))) throw new KvError('PeerURLExist');
      const member: Member = { id, name: '', peerURLs: [...peerURLs], clientURLs: [], isLearner };
      await this.changeMembership({ type: isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode, nodeId: id, context: encodeMember(member) });
      return this.memberMap.get(id) ?? member;
    },
    removeMember: async (id: number): Promise<void> => {
      if (!this.memberMap.has(id)) throw new KvError('MemberNotFound');
      await this.changeMembership({ type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) });
    },
    updateMember: async (id: number, peerURLs: readonly string[]): Promise<void> => {
      const m = this.memberMap.get(id);
      if (m === undefined) throw new KvError('MemberNotFound');
      if (peerURLs.length === 0 || peerURLs.some((u) => !/^(tcp|ws|http):\/\/[^\s/]+:\d+$/.test(u))) throw new KvError('MemberBadURLs');
      const next: Member = { ...m, peerURLs: [...peerURLs] };
      const type = m.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
      await this.changeMembership({ type, nodeId: id, context: encodeMember(next) });
    },
    promoteMember: async (id: number): Promise<void> => {
      const m = this.memberMap.get(id);
      if (m === undefined) throw new KvError('MemberNotFound');
      if (!m.isLearner) throw new KvError('MemberNotLearner');
      // Only the leader knows how far the learner got. NB: etcd forwards this to the leader;
      // here a follower answers NotLeader and the client retries on the leader.
      if (this.leader !== this.options.memberId) throw new KvError('NotLeader');
      const st = this.node.status();
      const pr = st.progress.get(id);
      const leaderMatch = st.progress.get(this.options.memberId)?.match ?? st.commit;
      // etcd's rule: the learner's match index is at least 90% of the leader's.
      if (pr === undefined || pr.match < leaderMatch * 0.9) throw new KvError('LearnerNotReady');
      await this.changeMembership({ type: ConfChangeType.AddNode, nodeId: id, context: encodeMember({ ...m, isLearner: false }) });
    },
    moveLeader: async (to: number): Promise<void> => {
      if (this.leader !== this.options.memberId) throw new KvError('NotLeader');
      if (to === this.options.memberId) return; // already there (etcd 3.4 answers success)
      const target = this.memberMap.get(to);
      if (target === undefined || target.isLearner) throw new KvError('BadLeaderTransferee');
      this.node.transferLeader(to);
      this.kick();
      const deadline = Date.now() + this.options.requestTimeoutMs;
      while (this.leader !== to) {
        if (Date.now() > deadline) throw new KvError('Timeout');
        await new Promise((r) => setTimeout(r, this.options.tickMs));
      }
    },
  };

  /** Proposes a ConfChange and resolves once this member applied it. */
  private changeMembership(cc: ConfChange): Promise<void> {
    if (this.stopped) return Promise.reject(new KvError('Stopped'));
    if (this.leader === 0) return Promise.reject(new KvError('NoLeader'));
    return new Promise<void>((resolve, reject) => {
      const w = {
        cc,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.confWaiters.delete(w);
          reject(new KvError('Timeout'));
        }, this.options.requestTimeoutMs),
      };
      this.confWaiters.add(w);
      const attempt = (): void => {
        if (!this.confWaiters.has(w)) return;
        if (this.node.proposeConfChange(cc)) {
          this.kick();
          return;
        }
        if (this.node.confChangePending() && !this.stopped) {
          // Another change, or a new leader's first entry, is still being applied (a change
          // sent right after an election or a move-leader lands here): try again shortly.
          setTimeout(attempt, this.options.tickMs);
          return;
        }
        this.confWaiters.delete(w);
        clearTimeout(w.timer);
        // Not the leader any more, or the change is invalid (e.g. removing the last voter).
        reject(new KvError('ReconfigFailed'));
      };
      attempt();
    });
  }

  onApplied(listener: (changes: readonly RevisionChanges[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onRestored(listener: (revision: number) => void): () => void {
    this.restoredListeners.add(listener);
    return () => this.restoredListeners.delete(listener);
  }

  /** Called when this member becomes or stops being the leader (the lessor follows it). */
  onLeaderChange(listener: (isLeader: boolean) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.rttSampler) clearInterval(this.rttSampler);
    await this.loopDone;
    this.queuedIds = [];
    this.queuedData = [];
    this.metrics.proposalsFailed.inc(this.waiters.size);
    for (const [id, w] of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new KvError('Stopped'));
      this.waiters.delete(id);
    }
    for (const w of [...this.nextReads, ...this.readyReads, ...[...this.reads.values()].flat()]) {
      clearTimeout(w.timer);
      w.reject(new KvError('Stopped'));
    }
    for (const w of this.confWaiters) {
      clearTimeout(w.timer);
      w.reject(new KvError('Stopped'));
    }
    this.confWaiters.clear();
    await this.transport.close();
    await this.backend.sync();
  }

  private onPeerMessage(m: Message): void {
    if (this.stopped) return;
    const ok = this.node.step(m);
    if (!ok) this.log.debug({ type: m.type, from: m.from.toString(16), term: m.term }, 'peer message refused');
    this.kick();
  }

  private addPeer(m: Member): void {
    if (m.id === this.options.memberId) return;
    const url = m.peerURLs[0];
    if (url !== undefined) this.transport.setPeer(m.id, url);
  }

  /** Wakes the Ready loop (at most one runs; a wake during a run makes it go round again). */
  private kick(): void {
    this.wake = true;
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop().catch((err: unknown) => {
      this.log.error({ err: String((err as Error)?.stack ?? err) }, 'raft loop failed');
      this.stopped = true;
      this.options.fatal(err);
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.wake) {
        this.wake = false;
        this.proposeQueued();
        if (this.nextReads.length > 0 && this.leader !== 0) this.startReadRound();
        while (this.node.hasReady()) await this.handleReady(this.node.ready());
        if (this.stopped) break;
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Hands the queued proposals to Raft as one batch. Proposing each at once made the leader
   * send one append message per proposal to every follower (and each follower answer each):
   * at 256 puts in flight on 3 members that was ~3 peer frames per put, and the writev of
   * ~100 small frames per turn cost the leader ~10% of its CPU. Proposals whose caller was
   * already answered (a leader change failed them) are left out.
   */
  private proposeQueued(): void {
    if (this.queuedIds.length === 0) return;
    const ids = this.queuedIds;
    const queued = this.queuedData;
    this.queuedIds = [];
    this.queuedData = [];
    const live: number[] = [];
    const data: Uint8Array[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (!this.waiters.has(ids[i]!)) continue;
      live.push(ids[i]!);
      data.push(queued[i]!);
    }
    if (live.length === 0 || this.node.proposeBatch(data)) return;
    const err = this.leader === 0 ? 'NoLeader' : 'LeaderChanged';
    for (const id of live) {
      const w = this.waiters.get(id)!;
      clearTimeout(w.timer);
      this.waiters.delete(id);
      this.metrics.proposalsFailed.inc();
      w.reject(new KvError(err));
    }
  }

  private startReadRound(): void {
    const batch = this.nextReads;
    this.nextReads = [];
    // The leader tracks pending reads by context, across all members: make it unique per member.
    const ctx = Buffer.alloc(12);
    ctx.writeUIntBE(this.options.memberId, 0, 6);
    ctx.writeUIntBE(++this.readSeq, 6, 6);
    const key = ctx.toString('hex');
    if (!this.node.readIndex(ctx)) {
      for (const w of batch) {
        clearTimeout(w.timer);
        w.reject(new KvError('NoLeader'));
      }
      return;
    }
    this.reads.set(key, batch);
    this.readAskedAt.set(key, performance.now());
  }

  /**
   * The request of a ReadIndex round or its answer may be lost (the transport is best effort:
   * a connection that broke while a member was paused, a leader that changed in between). As
   * etcd does, a round not answered within `readRetryMs` is asked again under a new context;
   * a late answer to the old one finds no batch and is ignored. Rounds are kept in the order
   * they were asked, so only the oldest are looked at.
   */
  private retryStaleReadRounds(): void {
    const limit = performance.now() - this.options.readRetryMs;
    for (const [key, at] of this.readAskedAt) {
      if (at > limit) break;
      this.readAskedAt.delete(key);
      const pending = this.reads.get(key);
      if (pending === undefined) continue;
      this.reads.delete(key);
      this.nextReads.push(...pending);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== undefined) this.onSoftState(rd.softState.lead, rd.softState.role);
    // A leader's appends and heartbeats go out while its own fsync runs (parallel append).
    this.send(rd.earlyMessages);

    // A snapshot from the leader goes into the backend, durably, BEFORE the log records it:
    // the log keeps only the snapshot's metadata, so a crash between the two must leave the
    // backend ahead of the log (replay then skips what it already holds), never behind it.
    // (Applying it early is safe: a snapshot holds only committed state.)
    if (rd.snapshot !== undefined) {
      this.applySnapshot(rd.snapshot);
      await this.backend.sync();
    }

    if (rd.snapshot !== undefined || rd.entries.length > 0 || rd.hardState !== undefined) {
      const t0 = performance.now();
      await this.logStore.save({
        ...(rd.entries.length > 0 ? { entries: rd.entries } : {}),
        ...(rd.hardState !== undefined ? { hardState: rd.hardState } : {}),
        ...(rd.snapshot !== undefined ? { snapshot: rd.snapshot.meta } : {}),
      });
      this.metrics.walFsyncSeconds.observe((performance.now() - t0) / 1000);
    }
    this.send(rd.messages);

    if (rd.committedEntries.length > 0) this.applyEntries(rd.committedEntries);
    for (const rs of rd.readStates) {
      const key = Buffer.from(rs.context).toString('hex');
      const batch = this.reads.get(key);
      if (batch === undefined) continue;
      this.reads.delete(key);
      this.readAskedAt.delete(key);
      for (const w of batch) if (w.index === undefined) w.index = rs.index;
      this.readyReads.push(...batch);
    }
    this.answerReads();
    this.node.advance(rd);
    await this.maybeCompactLog();
  }

  private onSoftState(lead: number, role: Role): void {
    const wasLeader = this.role === Role.Leader;
    if (lead !== this.leader) {
      this.log.info({ leader: lead.toString(16), role }, lead === 0 ? 'no leader' : 'leader elected');
      if (lead !== 0) this.metrics.leaderChanges.inc();
      // Proposals handed to the previous leader may be lost with it: fail them now rather than
      // at their timeout, so clients retry against the new leader. NB: like a timeout, this
      // does not say the write did not happen (the new leader may still commit it).
      if (this.leader !== 0) {
        this.metrics.proposalsFailed.inc(this.waiters.size);
        for (const [id, w] of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new KvError('LeaderChanged'));
          this.waiters.delete(id);
        }
      }
    }
    this.leader = lead;
    this.role = role;
    if (lead !== 0) setImmediate(() => this.maybePublish());
    const isLeader = role === Role.Leader;
    if (isLeader !== wasLeader) for (const l of this.leaderListeners) l(isLeader);
    if (lead === 0 || !isLeader) {
      // Pending ReadIndex rounds may never be answered by a deposed leader: retry them.
      for (const batch of this.reads.values()) this.nextReads.push(...batch.filter((w) => w.index === undefined));
      this.reads.clear();
      this.readAskedAt.clear();
    }
  }

  private send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    this.transport.send(messages);
    for (const m of messages) {
      // The transport delivers a snapshot as one message; report it done so the leader goes on.
      if (m.type === MessageType.Snap) setImmediate(() => {
        this.node.reportSnapshot(m.to, true);
        this.kick();
      });
    }
  }

  private applySnapshot(snap: Snapshot): void {
    restoreBackendSnapshot(this.backend, snap.data);
    this.store.reload();
    this.options.reloaded?.();
    this.memberMap = loadMembers(this.backend);
    for (const m of this.memberMap.values()) this.addPeer(m);
    this.applied = snap.meta.index;
    this.lastCompactIndex = Math.max(this.lastCompactIndex, snap.meta.index);
    for (const l of this.restoredListeners) l(this.store.currentRevision);
    this.log.info({ index: snap.meta.index }, 'applied a snapshot from the leader');
  }

  private applyEntries(entries: readonly Entry[]): void {
    let run: ApplyItem[] = [];
    // Indexes of entries this member proposed: only those answer a waiter here (another
    // member's request ids may coincide with ours).
    const mine = new Set<number>();
    const flush = (): void => {
      if (run.length === 0) return;
      const { results, changes } = this.applier.applyBatch(run);
      for (const r of results) if (mine.has(r.index)) this.answer(r);
      if (changes.length > 0) for (const l of this.listeners) l(changes);
      run = [];
    };
    for (const e of entries) {
      if (e.type === EntryType.ConfChange) {
        flush();
        this.applyConfChange(decodeConfChange(e.data));
        run.push({ index: e.index, request: null });
      } else {
        const request = e.data.byteLength > 0 ? decodeInternalRequest(e.data) : null;
        if (request?.memberAttributes) {
          // Membership bookkeeping, not the key space: the applier only records the index.
          this.applyMemberAttributes(request.memberAttributes);
          run.push({ index: e.index, request: null });
          if (request.origin === this.options.memberId) {
            const w = this.waiters.get(request.id);
            if (w) {
              this.waiters.delete(request.id);
              clearTimeout(w.timer);
              w.resolve({ index: e.index, requestId: request.id });
            }
          }
          continue;
        }
        if (request !== null && request.origin === this.options.memberId) mine.add(e.index);
        run.push({ index: e.index, request });
      }
    }
    flush();
    this.applied = entries[entries.length - 1]!.index;
  }

  private answer(r: ApplyResult): void {
    // Results carry the request id; only entries this member proposed have a waiter here.
    const w = this.waiters.get(r.requestId);
    if (w === undefined) return;
    this.waiters.delete(r.requestId);
    clearTimeout(w.timer);
    w.resolve(r);
  }

  private applyConfChange(cc: ConfChange): void {
    this.node.applyConfChange(cc);
    for (const w of this.confWaiters) {
      if (w.cc.type === cc.type && w.cc.nodeId === cc.nodeId) {
        this.confWaiters.delete(w);
        clearTimeout(w.timer);
        w.resolve();
      }
    }
    if (cc.type === ConfChangeType.RemoveNode) {
      this.memberMap.delete(cc.nodeId);
      deleteMember(this.backend, cc.nodeId);
      if (cc.nodeId !== this.options.memberId) this.transport.removePeer(cc.nodeId);
      else if (this.started && !this.stopped) {
        this.log.warn({}, 'this member was removed from the cluster');
        setImmediate(() => this.options.removed?.());
      }
      return;
    }
    const m = decodeMember(cc.nodeId, cc.context);
    const prev = this.memberMap.get(cc.nodeId);
    const member: Member = {
      ...(prev ?? m),
      ...(cc.context.byteLength > 0 ? m : {}),
      isLearner: cc.type === ConfChangeType.AddLearnerNode,
    };
    this.memberMap.set(member.id, member);
    saveMember(this.backend, member);
    this.addPeer(member);
  }

  private applyMemberAttributes(a: { id: number; name: string; clientUrls: string[] }): void {
    const m = this.memberMap.get(a.id);
    if (m === undefined) return; // removed meanwhile
    const next: Member = { ...m, name: a.name, clientURLs: [...a.clientUrls] };
    this.memberMap.set(a.id, next);
    saveMember(this.backend, next);
  }

  private answerReads(): void {
    if (this.readyReads.length === 0) return;
    const still: ReadWaiter[] = [];
    for (const w of this.readyReads) {
      if (w.index === -1) continue; // timed out
      if (w.index !== undefined && w.index <= this.applied) {
        clearTimeout(w.timer);
        w.resolve();
      } else still.push(w);
    }
    this.readyReads = still;
  }

  /** The projection at the applied index, for a member behind the retained log. */
  private snapshotForPeer(): Snapshot | undefined {
    const index = this.applied;
    if (this.cachedSnapshot !== undefined && this.cachedSnapshot.meta.index === index) return this.cachedSnapshot;
    const term = this.logStore.term(index) ?? this.node.raft.log.term(index);
    if (term === undefined) return undefined;
    const st = this.node.status();
    const meta: SnapshotMeta = { index, term, voters: st.voters, learners: st.learners };
    this.cachedSnapshot = { meta, data: encodeBackendSnapshot(this.backend) };
    return this.cachedSnapshot;
  }

  private async maybeCompactLog(): Promise<void> {
    if (this.applied - this.lastCompactIndex < this.options.snapshotCount) return;
    const index = this.applied;
    const term = this.logStore.term(index);
    if (term === undefined || index > this.logStore.lastIndex()) return;
    await this.backend.sync();
    const st = this.node.status();
    await this.logStore.compact({ index, term, voters: st.voters, learners: st.learners });
    this.lastCompactIndex = index;
    this.cachedSnapshot = undefined;
    this.log.debug({ index }, 'log compacted');
  }
}
