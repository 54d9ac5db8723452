/**
 * The raft state machine: roles, `step`, `tick`. Pure and synchronous: input is messages and
 * ticks, output is the message outbox, read states, and the log's unstable part, which
 * `RawNode` packs into a Ready. Time is ticks; the only randomness (election jitter) comes
 * from the injected `Random` port.
 *
 * A role is a swapped step function, each one flat switch over every message type:
 *
 *           timeout                 quorum of pre-votes          quorum of votes
 *  Follower ──────▶ PreCandidate ─────────────────────▶ Candidate ─────────────▶ Leader
 *     ▲  (preVote only; else straight to Candidate)         │                      │
 *     └────── higher term, leader's append, lost vote ──────┴──── higher term, ────┘
 *                                                               check-quorum fail,
 *                                                               removed from config
 *
 * Safety rules kept here (Raft paper §5, thesis §3–§6):
 * - one vote per term (`vote`, persisted through the Ready's hard state before any message
 *   that depends on it is sent);
 * - election restriction: vote only for a log at least as up to date as ours;
 * - a leader commits only entries of its own term by counting replicas; earlier ones commit
 *   with them (Figure 8); the new leader appends an empty entry to get there promptly;
 * - a leader counts its own copy of an entry only once the host reported it persisted
 *   (`onPersisted`), so the commit index always stands on a durable majority even when the
 *   host sends appends before its own fsync;
 * - one membership change at a time, and only after the leader committed an entry of its term;
 * - no campaign while committed conf changes wait to be applied.
 */
import { assert, unreachable } from '../assert.js';
import type { Random } from '../ports/random.js';
import type { Entry, HardState } from '../ports/storage-driver.js';
import { EntryType } from '../ports/storage-driver.js';
import type { RaftConfig, RaftFaults } from './config.js';
import { assertValidRaftConfig } from './config.js';
import type { ConfChange, ConfState } from './confchange/conf-change.js';
import { changeConfState, decodeConfChange } from './confchange/conf-change.js';
import { RaftLog, entriesBytes } from './log.js';
import type { Message, Snapshot } from './messages.js';
import { CAMPAIGN_TRANSFER, MessageType, bytesEqual, message } from './messages.js';
import { VoteResult, quorumSize } from './quorum/majority.js';
import { ReadOnly } from './read-only.js';
import type { ReadState, SoftState } from './ready.js';
import { Role } from './ready.js';
import type { RaftStorage } from './storage.js';
import { Progress, ProgressState } from './tracker/progress.js';
import { ProgressTracker } from './tracker/progress-tracker.js';

type StepFn = (r: Raft, m: Message) => boolean;

const NO_FAULTS: RaftFaults = Object.freeze({});

/** See the file comment. Driven through `RawNode`; tests may poke it directly. */
export class Raft {
  readonly id: number;
  /** Invariant: never decreases. */
  term = 0;
  /** Whom this member voted for in `term`, 0 = nobody. */
  vote = 0;
  /** The leader of `term` as far as this member knows, 0 = unknown. */
  lead = 0;
  role: Role = Role.Follower;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  /** Outbox, drained by RawNode.ready(). */
  msgs: Message[] = [];
  /** Answers to local ReadIndex requests, drained by RawNode.ready(). */
  readStates: ReadState[] = [];

  /** Ticks since the last election timeout reset (for a leader: since the last quorum check). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** In [electionTicks, 2 * electionTicks), redrawn at every term/role reset. */
  randomizedElectionTimeout = 0;
  /** The member a leadership transfer is under way to, 0 = none. */
  leadTransferee = 0;
  /**
   * Index of the latest ConfChange entry the leader appended (or of its initial empty entry):
   * no new change is accepted until the host applied up to it.
   */
  pendingConfIndex = 0;
  readOnly = new ReadOnly();
  /** ReadIndex requests held until the leader commits an entry of its own term. */
  pendingReadIndexMessages: Message[] = [];

  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly maxMsgBytes: number;
  readonly disableProposalForwarding: boolean;
  readonly faults: RaftFaults;
  private stepFn: StepFn = stepFollower;

  constructor(
    config: RaftConfig,
    storage: RaftStorage,
    private readonly random: Random,
  ) {
    assertValidRaftConfig(config);
    this.id = config.id;
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.checkQuorum = config.checkQuorum;
    this.preVote = config.preVote;
    this.maxMsgBytes = config.maxMsgBytes;
    this.disableProposalForwarding = config.disableProposalForwarding === true;
    this.faults = config.faults ?? NO_FAULTS;
    this.log = new RaftLog(storage, config.maxCommittedBytesPerReady ?? Infinity);
    this.trk = new ProgressTracker(config.maxInflightMsgs, config.maxInflightBytes ?? 0);
    const meta = storage.snapshotMeta();
    this.trk.setConfState({ voters: meta.voters, learners: meta.learners }, this.log.lastIndex() + 1);
    const hs = storage.hardState();
    if (hs.term !== 0 || hs.vote !== 0 || hs.commit !== 0) {
      assert(hs.commit <= this.log.lastIndex(), `hard state commit ${hs.commit} beyond the last index ${this.log.lastIndex()}: log lost or truncated`);
      // A commit-only hard state need not be fsync'd (Ready.mustSync), so it may lag the
      // compaction point, which is committed by construction.
      this.log.committed = Math.max(hs.commit, this.log.committed);
      this.term = hs.term;
      this.vote = hs.vote;
    }
    this.becomeFollower(this.term, 0);
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** Whether this member may campaign: it is a voter of its current configuration. */
  promotable(): boolean {
    return this.trk.isVoter(this.id);
  }

  // ---- output ----

  /**
   * Queues a message from this member. Vote requests and answers carry an explicit term (a
   * pre-vote is for term + 1); forwarded Prop / ReadIndex carry none; everything else carries
   * the current term.
   */
  send(m: Partial<Message> & Pick<Message, 'type' | 'to'>): void {
    let term = m.term ?? 0;
    switch (m.type) {
      case MessageType.Vote:
      case MessageType.VoteResp:
      case MessageType.PreVote:
      case MessageType.PreVoteResp:
        assert(term !== 0, `term not set on ${m.type}`);
        break;
      case MessageType.Prop:
      case MessageType.ReadIndex:
      case MessageType.TransferLeader:
        term = 0;
        break;
      default:
        assert(term === 0, `term set on message type ${m.type}`);
        term = this.term;
    }
    this.msgs.push(message(m, m.from ?? this.id, term));
  }

  // ---- time ----

  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(message({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned, so that the
      // leader accepts proposals again.
      if (this.role === Role.Leader && this.leadTransferee !== 0) this.abortLeaderTransfer();
    }
    if (this.role !== Role.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.Beat, from: this.id }));
    }
  }

  /**
   * The transport saw the connection to `id` close, as it does at once when a process dies. A
   * follower whose leader that is stops honouring the leader's lease (so it grants pre-votes)
   * and campaigns after a short delay (a twentieth of an election timeout per rank, below),
   * instead of waiting out a whole randomized timeout with no heartbeat coming.
   *
   * Safe when spurious: the campaign starts with a pre-vote, which a live leader ignores and
   * which followers still hearing from it reject (their lease holds), so nobody's term moves;
   * the next heartbeat makes this member a follower of the leader again.
   *
   * The surviving members all see the loss at the same moment, so a purely random delay would
   * often have two of them campaign in the same tick and split the vote (which costs a whole
   * election timeout). Instead each takes a slot by its rank among the other voters' ids, with
   * a random offset inside the slot: the lowest id campaigns first, and if its log is too old
   * to win (or it is slow), the next one's slot follows. A pre-vote that fails moves no term,
   * so the next candidate is not hindered.
   */
  leaderLost(id: number): void {
    if (this.role !== Role.Follower || this.lead === 0 || this.lead !== id) return;
    this.lead = 0;
    if (!this.promotable()) return;
    const rivals = this.trk.voters.filter((v) => v !== id && v !== this.id && v < this.id).length;
    const slot = Math.max(1, Math.floor(this.electionTicks / 20));
    const delay = 1 + rivals * slot + this.random.nextInt(slot);
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTimeout - delay);
  }

  // ---- role changes ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + this.random.nextInt(this.electionTicks);
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const fresh = new Progress(last + 1, pr.inflights.capacity, pr.inflights.maxBytes, pr.isLearner);
      if (id === this.id) fresh.match = this.faults.countSelfBeforePersist ? last : this.persistedIndex();
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  becomePreCandidate(): void {
    assert(this.role !== Role.Leader, 'leader cannot become pre-candidate');
    // Neither term nor vote changes: a pre-vote round leaves no durable trace.
    this.stepFn = stepCandidate;
    this.trk.resetVotes();
    this.lead = 0;
    this.role = Role.PreCandidate;
  }

  becomeCandidate(): void {
    assert(this.role !== Role.Leader, 'leader cannot become candidate');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  becomeLeader(): void {
    assert(this.role === Role.Candidate, 'only a candidate becomes leader');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // The empty entry of the new term lets the leader commit (and so learn the commit index of)
    // everything before it. No conf change until it is applied: that also guarantees an
    // entry of this term is committed before any membership change (thesis §4.1 fix).
    this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    this.pendingConfIndex = this.log.lastIndex();
  }

  // ---- elections ----

  /** Starts an election if allowed. `transfer`: asked by the leader (skip pre-vote, break leases). */
  hup(transfer: boolean): void {
    if (this.role === Role.Leader) return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    if (transfer) this.campaign(false, true);
    else this.campaign(this.preVote, false);
  }

  private hasUnappliedConfChanges(): boolean {
    const lo = this.log.applied + 1;
    if (this.log.committed < lo) return false;
    const ents = this.log.slice(Math.max(lo, this.log.firstIndex()), this.log.committed + 1, Infinity);
    for (const e of ents) if (e.type === EntryType.ConfChange) return true;
    return false;
  }

  /** Runs a (pre-)election now; `hup` decides whether one is allowed. */
  campaign(pre: boolean, transfer: boolean): void {
    let voteType: MessageType;
    let term: number;
    if (pre) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    // Our own vote first: a single-voter cluster wins here.
    const { result } = this.poll(this.id, true);
    if (result === VoteResult.Won) {
      if (pre) this.campaign(false, false);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.trk.voters) {
      if (id === this.id) continue;
      this.send({ type: voteType, to: id, term, index: lastIndex, logTerm: lastTerm, context: transfer ? CAMPAIGN_TRANSFER : undefined });
    }
  }

  poll(id: number, granted: boolean): ReturnType<ProgressTracker['tallyVotes']> {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes();
  }

  // ---- the common step ----

  /**
   * Handles one message: term bookkeeping common to all roles, votes, then the role's step
   * function. Returns false when a proposal, read or transfer request was dropped (no leader,
   * transfer in progress, conf change pending...), true otherwise.
   */
  step(m: Message): boolean {
    if (m.term === 0) {
      // Local message, or a term-less forward (Prop, ReadIndex, TransferLeader).
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        // Leader lease (thesis §4.2.3): while we hear from a leader, a vote request does not
        // depose it, unless the leader itself asked for the election (transfer).
        const inLease = this.checkQuorum && this.lead !== 0 && this.electionElapsed < this.electionTicks;
        if (!force && inLease) return true;
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote request for a higher term does not move our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; we move there when we win.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, 0);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. back from a partition) must learn our term and step down; with
        // pre-vote or check-quorum we would otherwise never raise its term.
        this.send({ type: MessageType.AppResp, to: m.from });
      } else if (m.type === MessageType.PreVote) {
        // Tell the pre-candidate our term, so it learns it is behind.
        this.send({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true });
      }
      return true;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(false);
        return true;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === 0 && this.lead === 0) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          // A granted pre-vote answers with the requested term, so the pre-candidate counts it.
          this.send({ type: respType, to: m.from, term: m.term });
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send({ type: respType, to: m.from, term: this.term, reject: true });
        }
        return true;
      }
      default:
        return this.stepFn(this, m);
    }
  }

  // ---- leader: replication ----

  /** Appends entries of the current term to the leader's log (counting its own copy). */
  appendEntry(ents: readonly Entry[]): void {
    const li = this.log.lastIndex();
    const stamped: Entry[] = new Array(ents.length);
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      stamped[i] = { term: this.term, index: li + 1 + i, type: e.type, data: e.data };
    }
    this.log.append(stamped);
    // The leader counts its own copy only once the host persisted it (see onPersisted), so the
    // commit index never runs ahead of a durable quorum, even while the host sends these
    // entries to followers before its own fsync completes. TEST ONLY fault (b) counts it now.
    if (this.faults.countSelfBeforePersist) {
      this.trk.progress.get(this.id)!.maybeUpdate(this.log.lastIndex());
      this.maybeCommit();
    }
  }

  /**
   * The index up to which this member's log is durable: everything before the unstable part,
   * unless a received snapshot is still unpersisted (then nothing is counted).
   */
  persistedIndex(): number {
    const u = this.log.unstable;
    return u.snapshot !== undefined ? 0 : u.offset - 1;
  }

  /** Called after the host persisted a Ready: a leader now counts its own durable entries. */
  onPersisted(): void {
    if (this.role !== Role.Leader) return;
    const self = this.trk.progress.get(this.id);
    if (self === undefined || !self.maybeUpdate(this.persistedIndex())) return;
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  /** Advances the commit index to what a quorum replicated, if that entry is of this term. */
  maybeCommit(): boolean {
    if (this.trk.voters.length === 0) return false;
    const mci = this.trk.committed();
    if (mci <= this.log.committed) return false;
    if (!this.faults.commitEarlierTerm && this.log.term(mci) !== this.term) return false;
    this.log.commitTo(mci);
    return true;
  }

  bcastAppend(): void {
    for (const id of this.trk.progress.keys()) {
      if (id !== this.id) this.maybeSendAppend(id, true);
    }
  }

  /**
   * Sends the next append to `to` if its flow control allows: entries from `next` (at most
   * maxMsgBytes), or an empty append when `sendIfEmpty` (to carry the commit index or probe),
   * or a snapshot when `next` is compacted away. Returns whether something was sent.
   */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    assert(prevIndex <= this.log.lastIndex(), `next ${pr.next} of ${to} beyond last index ${this.log.lastIndex()}`);
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.maybeSendSnapshot(to, pr);
    let ents: Entry[] = [];
    // A full window in replicate state still lets an empty append through when asked (a
    // heartbeat response): if every message in the window was lost, its answer (ack or
    // reject) clears the window; otherwise replication would stall.
    if (pr.state !== ProgressState.Replicate || !pr.inflights.full()) {
      ents = this.log.entries(pr.next, this.maxMsgBytes);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    pr.sentEntries(ents.length, entriesBytes(ents));
    return true;
  }

  private maybeSendSnapshot(to: number, pr: Progress): boolean {
    // An inactive follower would not take it now; the snapshot may be large.
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot();
    if (snap === undefined) return false;
    assert(snap.meta.index >= this.log.firstIndex() - 1, `snapshot ${snap.meta.index} is older than the compaction point ${this.log.firstIndex() - 1}`);
    pr.becomeSnapshot(snap.meta.index);
    this.send({ type: MessageType.Snap, to, snapshot: snap });
    return true;
  }

  sendHeartbeat(to: number, ctx: Uint8Array | undefined): void {
    const pr = this.trk.progress.get(to)!;
    // Never tell a follower to commit beyond what it is known to hold.
    const commit = Math.min(pr.match, this.log.committed);
    this.send({ type: MessageType.Heartbeat, to, commit, context: ctx });
  }

  bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingContext();
    if (ctx !== undefined) this.readOnly.roundInFlight = true;
    for (const id of this.trk.progress.keys()) {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    }
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = 0;
  }

  // ---- leader: reads ----

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** Answers a ReadIndex request (local → readStates, remote → ReadIndexResp). */
  respondToReadIndex(req: Message, index: number): void {
    if (req.from === this.id || req.from === 0) {
      this.readStates.push({ index, context: req.context ?? new Uint8Array(0) });
    } else {
      this.send({ type: MessageType.ReadIndexResp, to: req.from, index, context: req.context });
    }
  }

  /** Starts (or joins) a confirmation round for a read, or answers at once in a fault mode. */
  handleReadIndex(m: Message): void {
    const ctx = m.context ?? new Uint8Array(0);
    if (this.faults.unconfirmedReadIndex) {
      this.respondToReadIndex(m, this.log.committed);
      return;
    }
    if (!this.readOnly.addRequest(this.log.committed, m, ctx)) return;
    this.readOnly.recvAck(this.id, ctx);
    if (!this.readOnly.roundInFlight) {
      this.readOnly.roundInFlight = true;
      for (const id of this.trk.progress.keys()) {
        if (id !== this.id) this.sendHeartbeat(id, ctx);
      }
    }
  }

  releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const held = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of held) this.handleReadIndex(m);
  }

  /** Counts a heartbeat echo of `ctx`; releases confirmed reads when a quorum echoed it. */
  onReadIndexAck(from: number, ctx: Uint8Array): void {
    const acks = this.readOnly.recvAck(from, ctx);
    if (acks === undefined) return;
    let voters = 0;
    for (const id of this.trk.voters) if (acks.has(id)) voters++;
    if (voters < quorumSize(this.trk.voters.length)) return;
    for (const rs of this.readOnly.advance(ctx)) this.respondToReadIndex(rs.req, rs.index);
    this.readOnly.roundInFlight = false;
    // Requests that arrived during this round need a round of their own.
    if (this.readOnly.pendingCount() > 0) this.bcastHeartbeat();
  }

  // ---- follower handlers ----

  handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      // Everything up to our commit index matches the leader's log already.
      this.send({ type: MessageType.AppResp, to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ type: MessageType.AppResp, to: m.from, index: lastNew });
      return;
    }
    // Reject with a hint: our last index at or before m.index whose term is <= m.logTerm. The
    // leader continues from there, skipping a whole conflicting term per round trip.
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm });
  }

  handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send({ type: MessageType.HeartbeatResp, to: m.from, context: m.context });
  }

  handleSnapshot(m: Message): void {
    const s = m.snapshot;
    assert(s !== undefined, 'Snap message without a snapshot');
    if (this.restore(s)) this.send({ type: MessageType.AppResp, to: m.from, index: this.log.lastIndex() });
    else this.send({ type: MessageType.AppResp, to: m.from, index: this.log.committed });
  }

  /** Resets the log to a snapshot from the leader; false when it is not newer than what we have. */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    assert(this.role === Role.Follower, 'restoring a snapshot while not a follower');
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We hold that entry already: the snapshot only tells us it is committed.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.trk.setConfState({ voters: s.meta.voters, learners: s.meta.learners }, this.log.lastIndex() + 1);
    return true;
  }

  // ---- membership ----

  /**
   * Applies a committed membership change (called by the host when it applies the entry).
   * A refused change (it would leave no voter) changes nothing, identically on every member.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const next = changeConfState(this.trk.confState(), cc);
    if (typeof next === 'string') return this.trk.confState();
    this.trk.setConfState(next, this.log.lastIndex() + 1);
    if (this.role !== Role.Leader) return this.trk.confState();
    if (!this.trk.isVoter(this.id)) {
      // A leader removed (or demoted) by the change steps down; the rest elect a new one.
      this.becomeFollower(this.term, 0);
      return this.trk.confState();
    }
    if (this.leadTransferee !== 0 && !this.trk.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    // The quorum changed: a removal may commit entries now; new members need appends.
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else {
      for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
    return this.trk.confState();
  }

  /** Whether a proposed conf change is valid for the current configuration. */
  validConfChange(data: Uint8Array): boolean {
    return typeof changeConfState(this.trk.confState(), decodeConfChange(data)) !== 'string';
  }
}

// ---- role step functions: one flat switch each, closed by an exhaustive `never` check ----

function stepLeader(r: Raft, m: Message): boolean {
  switch (m.type) {
    case MessageType.Beat:
      r.bcastHeartbeat();
      return true;
    case MessageType.CheckQuorum:
      if (!r.trk.quorumActive(r.id)) {
        r.becomeFollower(r.term, 0);
        return true;
      }
      for (const [id, pr] of r.trk.progress) if (id !== r.id) pr.recentActive = false;
      return true;
    case MessageType.Prop: {
      assert(m.entries.length > 0, 'empty proposal');
      // A leader removed from the configuration, or handing over leadership, takes no more.
      if (!r.trk.progress.has(r.id) || r.leadTransferee !== 0) return false;
      let pendingConf = r.pendingConfIndex;
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i]!;
        if (e.type !== EntryType.ConfChange) continue;
        if (pendingConf > r.log.applied || !r.validConfChange(e.data)) return false;
        pendingConf = r.log.lastIndex() + i + 1;
      }
      r.pendingConfIndex = pendingConf;
      r.appendEntry(m.entries);
      r.bcastAppend();
      return true;
    }
    case MessageType.ReadIndex:
      // With one voter, this leader cannot be deposed without knowing it.
      if (r.trk.voters.length === 1 && r.trk.isVoter(r.id)) {
        r.respondToReadIndex(m, r.log.committed);
        return true;
      }
      // Before the leader commits an entry of its term, its commit index may lag the
      // cluster's: hold the read until then (thesis §6.4 step 1).
      if (!r.committedEntryInCurrentTerm()) {
        r.pendingReadIndexMessages.push(m);
        return true;
      }
      r.handleReadIndex(m);
      return true;
    case MessageType.AppResp: {
      const pr = r.trk.progress.get(m.from);
      if (pr === undefined) return false;
      pr.recentActive = true;
      if (m.reject) {
        let nextProbe = m.rejectHint;
        if (m.logTerm > 0) nextProbe = r.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
        if (pr.maybeDecrTo(m.index, nextProbe)) {
          if (pr.state === ProgressState.Replicate) pr.becomeProbe();
          r.maybeSendAppend(m.from, true);
        }
        return true;
      }
      const wasPaused = pr.isPaused();
      // An ack equal to match can still move a probing follower back to replicate.
      if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
        switch (pr.state) {
          case ProgressState.Probe:
            pr.becomeReplicate();
            break;
          case ProgressState.Snapshot:
            // Whatever the snapshot index, the log can take it from here.
            if (pr.match + 1 >= r.log.firstIndex()) {
              pr.becomeProbe();
              pr.becomeReplicate();
            }
            break;
          case ProgressState.Replicate:
            pr.inflights.freeLE(m.index);
            break;
        }
        if (r.maybeCommit()) {
          r.releasePendingReadIndexMessages();
          r.bcastAppend();
        } else if (wasPaused) {
          r.maybeSendAppend(m.from, true);
        }
        // The window may have room for several size-limited appends now.
        while (r.maybeSendAppend(m.from, false)) {
          /* keep filling the window */
        }
        if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
          r.send({ type: MessageType.TimeoutNow, to: m.from });
        }
      }
      return true;
    }
    case MessageType.HeartbeatResp: {
      const pr = r.trk.progress.get(m.from);
      if (pr === undefined) return false;
      pr.recentActive = true;
      pr.msgAppFlowPaused = false;
      if (pr.match < r.log.lastIndex() || pr.state === ProgressState.Probe) r.maybeSendAppend(m.from, true);
      else if (m.from === r.leadTransferee) {
        // A transferee that ignored TimeoutNow (it had not yet applied its own promotion, or
        // had other conf changes pending) is asked again each heartbeat until the transfer
        // is aborted; without this, a transfer right after a promotion often just times out.
        r.send({ type: MessageType.TimeoutNow, to: m.from });
      }
      if (m.context !== undefined) r.onReadIndexAck(m.from, m.context);
      return true;
    }
    case MessageType.SnapStatus: {
      const pr = r.trk.progress.get(m.from);
      if (pr === undefined || pr.state !== ProgressState.Snapshot) return true;
      // On failure forget the snapshot index first, or probing would start above it.
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for the follower's answer (success) or the next heartbeat (failure).
      pr.msgAppFlowPaused = true;
      return true;
    }
    case MessageType.Unreachable: {
      const pr = r.trk.progress.get(m.from);
      if (pr !== undefined && pr.state === ProgressState.Replicate) pr.becomeProbe();
      return true;
    }
    case MessageType.TransferLeader: {
      const pr = r.trk.progress.get(m.from);
      if (pr === undefined || pr.isLearner) return false;
      const transferee = m.from;
      if (r.leadTransferee !== 0) {
        if (r.leadTransferee === transferee) return true;
        r.abortLeaderTransfer();
      }
      if (transferee === r.id) return true;
      // The transfer must finish within one election timeout (see tickHeartbeat).
      r.electionElapsed = 0;
      r.leadTransferee = transferee;
      if (pr.match === r.log.lastIndex()) r.send({ type: MessageType.TimeoutNow, to: transferee });
      else r.maybeSendAppend(transferee, true);
      return true;
    }
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      // Another leader in our term would break election safety; the simulation's checker, not
      // this member, reports it. Nothing sensible to do here.
      return true;
    case MessageType.Hup:
    case MessageType.Vote:
    case MessageType.PreVote:
      // Handled by the common step.
      return true;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
    case MessageType.TimeoutNow:
    case MessageType.ReadIndexResp:
      // Late or misdirected: irrelevant to a leader.
      return true;
    default:
      return unreachable(m.type);
  }
}

function stepCandidate(r: Raft, m: Message): boolean {
  const myVoteResp = r.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
  switch (m.type) {
    case MessageType.Prop:
      return false;
    case MessageType.App:
      r.becomeFollower(m.term, m.from);
      r.handleAppendEntries(m);
      return true;
    case MessageType.Heartbeat:
      r.becomeFollower(m.term, m.from);
      r.handleHeartbeat(m);
      return true;
    case MessageType.Snap:
      r.becomeFollower(m.term, m.from);
      r.handleSnapshot(m);
      return true;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp: {
      if (m.type !== myVoteResp) return true;
      const { result } = r.poll(m.from, !m.reject);
      if (result === VoteResult.Won) {
        if (r.role === Role.PreCandidate) {
          r.campaign(false, false);
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (result === VoteResult.Lost) {
        // A pre-vote rejection carrying a higher term already made us a follower of that term.
        r.becomeFollower(r.term, 0);
      }
      return true;
    }
    case MessageType.ReadIndex:
    case MessageType.TransferLeader:
      // No leader to forward to.
      return false;
    case MessageType.TimeoutNow:
      // Only a follower acts on it.
      return true;
    case MessageType.Hup:
    case MessageType.Vote:
    case MessageType.PreVote:
      return true;
    case MessageType.Beat:
    case MessageType.CheckQuorum:
    case MessageType.AppResp:
    case MessageType.HeartbeatResp:
    case MessageType.SnapStatus:
    case MessageType.Unreachable:
    case MessageType.ReadIndexResp:
      return true;
    default:
      return unreachable(m.type);
  }
}

function stepFollower(r: Raft, m: Message): boolean {
  switch (m.type) {
    case MessageType.Prop:
      if (r.lead === 0 || r.disableProposalForwarding) return false;
      r.msgs.push({ ...m, to: r.lead });
      return true;
    case MessageType.App:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppendEntries(m);
      return true;
    case MessageType.Heartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return true;
    case MessageType.Snap:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshot(m);
      return true;
    case MessageType.TransferLeader:
    case MessageType.ReadIndex:
      if (r.lead === 0) return false;
      r.msgs.push({ ...m, to: r.lead, term: 0 });
      return true;
    case MessageType.TimeoutNow:
      // The leader chose us: campaign now, without pre-vote (we know the cluster is healthy).
      r.hup(true);
      return true;
    case MessageType.ReadIndexResp:
      r.readStates.push({ index: m.index, context: m.context ?? new Uint8Array(0) });
      return true;
    case MessageType.Hup:
    case MessageType.Vote:
    case MessageType.PreVote:
      return true;
    case MessageType.Beat:
    case MessageType.CheckQuorum:
    case MessageType.AppResp:
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
    case MessageType.HeartbeatResp:
    case MessageType.SnapStatus:
    case MessageType.Unreachable:
      return true;
    default:
      return unreachable(m.type);
  }
}
