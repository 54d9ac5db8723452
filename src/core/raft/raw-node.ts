/**
 * RawNode: the raft core's API for the host, modelled on etcd raft's RawNode. Everything is
 * synchronous and pure; the host drives it from one Ready loop (see ready.ts):
 *
 *   inputs:  tick() · step(msg) · propose(data) · proposeConfChange(cc) · readIndex(ctx)
 *            transferLeader(to) · campaign() · reportUnreachable(id) · reportLeaderLost(id)
 *            reportSnapshot(id, ok)
 *   output:  hasReady() / ready() → persist → send → apply (applyConfChange for ConfChange
 *            entries) → advance(rd)
 *
 * Starting: a brand-new member of a brand-new cluster calls `bootstrap(peers)` once on empty
 * storage (every initial member with the same list, so their logs agree); a member joining an
 * existing cluster starts with empty storage and no bootstrap and learns the membership from
 * the leader's log or snapshot; a restarting member just constructs a RawNode over its storage.
 * After a restart the committed entries after the compaction point are delivered again: the
 * host skips those its projection already holds (consistent index) but must still call
 * `applyConfChange` for ConfChange entries among them, since the core restarts from the
 * compaction point's membership.
 */
import { assert } from '../assert.js';
import type { Random } from '../ports/random.js';
import type { Entry, HardState } from '../ports/storage-driver.js';
import { EntryType } from '../ports/storage-driver.js';
import type { RaftConfig } from './config.js';
import type { ConfChange, ConfState } from './confchange/conf-change.js';
import { ConfChangeType, assertNodeId, encodeConfChange } from './confchange/conf-change.js';
import type { Message } from './messages.js';
import { MessageType, canSendBeforePersist, isLocalMessage, message } from './messages.js';
import { Raft } from './raft.js';
import type { Ready, SoftState } from './ready.js';
import { Role } from './ready.js';
import type { RaftStorage } from './storage.js';
import type { ProgressState } from './tracker/progress.js';

/** A leader's view of one member, in `RaftStatus.progress`. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly inflight: number;
}

/** The core's scalar state, cheap to read on every request (HostStatus, response headers). */
export interface BasicStatus {
  readonly id: number;
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** The known leader, 0 = none. */
  readonly lead: number;
  readonly role: Role;
  readonly leadTransferee: number;
}

/** A snapshot of the core's state for status endpoints, tests and the simulation checker. */
export interface RaftStatus extends BasicStatus {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  /** Per member (including this one); only on a leader, else empty. */
  readonly progress: ReadonlyMap<number, ProgressStatus>;
}

/** An initial member for `bootstrap`. `context` is stored in its ConfChange entry for the host. */
export interface BootstrapPeer {
  readonly id: number;
  readonly context?: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** See the file comment. */
export class RawNode {
  /** The state machine; exposed for tests and the simulation's invariant checks. */
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  // A Ready was handed out and not yet advanced.
  private outstanding = false;

  constructor(config: RaftConfig, storage: RaftStorage, random: Random) {
    this.raft = new Raft(config, storage, random);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = storage.hardState();
  }

  /**
   * Seeds a brand-new cluster: appends one AddNode ConfChange entry per peer at term 1 and
   * marks them committed, exactly as every other initial member does, and applies them. The
   * first Ready carries them for persisting and applying (applying them again is a no-op).
   * Storage must be empty.
   */
  bootstrap(peers: readonly BootstrapPeer[]): void {
    const r = this.raft;
    assert(peers.length > 0, 'bootstrap needs at least one peer');
    assert(r.log.lastIndex() === 0 && r.term === 0 && r.log.committed === 0, 'bootstrap on non-empty storage');
    r.becomeFollower(1, 0);
    const ents: Entry[] = peers.map((p, i) => {
      assertNodeId(p.id);
      return { term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: p.id, context: p.context ?? EMPTY }) };
    });
    r.log.append(ents);
    r.log.committed = ents.length;
    for (const p of peers) r.applyConfChange({ type: ConfChangeType.AddNode, nodeId: p.id, context: p.context ?? EMPTY });
  }

  /** Advances logical time by one tick (the host's ticker calls it every heartbeat interval / heartbeatTicks). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (if this member may campaign), without waiting for a timeout. */
  campaign(): void {
    this.raft.step(message({ type: MessageType.Hup, from: this.raft.id }));
  }

  /**
   * Proposes `data` as a normal entry. Returns false when it was dropped: no known leader, a
   * leadership transfer in progress, or forwarding disabled. True means appended (leader) or
   * forwarded (follower); a forwarded proposal can still be lost, so the host waits for the
   * entry to come back applied, with a timeout.
   */
  propose(data: Uint8Array): boolean {
    return this.raft.step(message({ type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] }));
  }

  /**
   * Proposes several normal entries as one proposal: appended together, they leave in one
   * append message per follower instead of one each (a follower forwards them to the leader as
   * one message too). All or none: false drops them all, for the reasons of `propose`.
   */
  proposeBatch(data: readonly Uint8Array[]): boolean {
    if (data.length === 0) return true;
    const entries = data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d }));
    return this.raft.step(message({ type: MessageType.Prop, from: this.raft.id, entries }));
  }

  /**
   * Proposes a membership change. Dropped (false) for the reasons of `propose`, and on a leader
   * when another change is not yet applied or the change is invalid (removing the last voter).
   */
  /**
   * Whether a conf change (or a new leader's first entry, which counts as one) is appended but
   * not yet applied: `proposeConfChange` is refused until it is, so a caller may wait and retry.
   */
  confChangePending(): boolean {
    return this.raft.pendingConfIndex > this.raft.log.applied;
  }

  proposeConfChange(cc: ConfChange): boolean {
    const data = encodeConfChange(cc);
    return this.raft.step(message({ type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }] }));
  }

  /**
   * Feeds a message received from a peer. Local-only types are refused (false). Unknown or
   * stale messages are ignored, as raft requires.
   */
  step(m: Message): boolean {
    if (isLocalMessage(m.type)) return false;
    // Only forwarded requests travel without a term.
    if (m.term === 0 && m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex && m.type !== MessageType.TransferLeader) return false;
    return this.raft.step(m);
  }

  /**
   * Asks for a linearizable read point. `context` identifies the request (unique among pending
   * ones). The answer arrives as a `ReadState` with the same context in a later Ready (or is
   * lost if leadership changes: the host retries after a timeout). False when dropped (no leader).
   */
  readIndex(context: Uint8Array): boolean {
    return this.raft.step(message({ type: MessageType.ReadIndex, from: this.raft.id, context }));
  }

  /** Asks the leader (this member or, forwarded, the known one) to hand leadership to `to`. */
  transferLeader(to: number): boolean {
    assertNodeId(to);
    return this.raft.step(message({ type: MessageType.TransferLeader, from: to }));
  }

  /** The transport could not deliver to `id`: a leader stops streaming to it and probes instead. */
  reportUnreachable(id: number): void {
    this.raft.step(message({ type: MessageType.Unreachable, from: id }));
  }

  /**
   * The connection to `id` was lost (its process likely died). If `id` is our leader, stop
   * waiting for its heartbeats and campaign soon; see `Raft.leaderLost`.
   */
  reportLeaderLost(id: number): void {
    this.raft.leaderLost(id);
  }

  /**
   * The transport finished sending a snapshot to `id` (`ok`) or gave up. Required after every
   * Snap message sent: until then the leader sends that member nothing else.
   */
  reportSnapshot(id: number, ok: boolean): void {
    this.raft.step(message({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  /**
   * Applies a committed ConfChange entry (call it while applying that entry, in log order) and
   * returns the membership that results. An invalid change (would leave no voter) is ignored
   * the same way on every member.
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Whether ready() has something; false while a Ready is outstanding (taken, not advanced). */
  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role) return true;
    if (!sameHardState(this.currentHardState(), this.prevHardState)) return true;
    const u = r.log.unstable;
    if (u.snapshot !== undefined || u.entries.length > 0) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    return r.log.hasNextCommittedEntries();
  }

  /** Takes the pending work as a Ready. Must be followed by advance(rd) before the next ready(). */
  ready(): Ready {
    assert(!this.outstanding, 'ready() called again before advance()');
    const r = this.raft;
    const ss = r.softState();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role;
    const hs = this.currentHardState();
    const hardChanged = !sameHardState(hs, this.prevHardState);
    const entries = r.log.unstable.shareEntries();
    const snapshot = r.log.unstable.snapshot;
    // A message may go early only if its type allows it and its term was durable before this
    // Ready (prevHardState is what the host persisted last).
    const durableTerm = this.prevHardState.term;
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of r.msgs) {
      if (canSendBeforePersist(m) && m.term <= durableTerm) early.push(m);
      else late.push(m);
    }
    const rd: Ready = {
      softState: softChanged ? ss : undefined,
      hardState: hardChanged ? hs : undefined,
      entries,
      snapshot,
      committedEntries: r.log.nextCommittedEntries(),
      earlyMessages: early,
      messages: late,
      readStates: r.readStates,
      mustSync: entries.length > 0 || snapshot !== undefined || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (softChanged) this.prevSoftState = ss;
    if (hardChanged) this.prevHardState = hs;
    this.outstanding = true;
    return rd;
  }

  /** The host finished the Ready (persisted, sent, applied): mark it done. */
  advance(rd: Ready): void {
    assert(this.outstanding, 'advance() without ready()');
    this.outstanding = false;
    const log = this.raft.log;
    if (rd.snapshot !== undefined) {
      log.unstable.stableSnapTo(rd.snapshot.meta.index);
      if (rd.snapshot.meta.index > log.applied) log.appliedTo(rd.snapshot.meta.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      log.unstable.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!.index;
      if (last > log.applied) log.appliedTo(last);
    }
    this.raft.onPersisted();
  }

  /** The cheap part of status(): no per-member progress, no membership arrays. */
  basicStatus(): BasicStatus {
    const r = this.raft;
    return { id: r.id, term: r.term, vote: r.vote, commit: r.log.committed, applied: r.log.applied, lastIndex: r.log.lastIndex(), lead: r.lead, role: r.role, leadTransferee: r.leadTransferee };
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress = new Map<number, ProgressStatus>();
    if (r.role === Role.Leader) {
      for (const [id, pr] of r.trk.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive, isLearner: pr.isLearner, inflight: pr.inflights.size() });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      lead: r.lead,
      role: r.role,
      leadTransferee: r.leadTransferee,
      voters: r.trk.voters.slice(),
      learners: r.trk.learners.slice(),
      progress,
    };
  }

  private currentHardState(): HardState {
    const hs = this.raft.hardState();
    // TEST ONLY fault (a): the vote never reaches storage.
    if (this.raft.faults.forgetVote) return { term: hs.term, vote: 0, commit: hs.commit };
    return hs;
  }
}
