// A deterministic simulation of a raft cluster: N RawNodes in one process over MemoryRaftStorage,
// a simulated network and a simulated host per member, all driven by one seeded PRNG. The same
// seed replays the same run event for event (the trace hash proves it).
//
// Each step picks one event: run a member's Ready pipeline one stage further, deliver a random
// in-flight message (so messages are delayed and reordered), tick the clocks, propose, read,
// crash or restart a member, change the partition (both ways or one way), heal, transfer
// leadership, change membership (add learner / add voter / promote / remove, leader included),
// or compact a member's log. Messages are dropped and duplicated at random when sent.
//
// The simulated host follows the Ready contract: persist → send → apply → advance, with the
// pipeline split into stages so that a crash can land between any two of them and lose exactly
// what was not persisted yet. In "parallel append" runs it sends Ready.earlyMessages before
// persisting (the leader's fast path). A crash hits a member with a Ready in flight half the
// time; partitions often isolate the leader (Jepsen's "partition the primary").
//
// After every step the checker verifies:
//   - election safety: at most one leader per term, ever;
//   - log matching: an (index, term) pair names one entry everywhere, with one predecessor term;
//   - no committed entry lost: once any member's commit index covers (index, term), every
//     member's commit index that covers index agrees on the term;
//   - leader completeness: a new leader of term T holds every entry committed before T;
//   - state machine safety: every member applies the same entry at each index, contiguously,
//     and a snapshot carries the same state as applying the log up to it;
//   - linearizable reads: a ReadIndex answer is >= the highest commit index anywhere when the
//     read was issued;
//   - and, unless protocolChecks is off, the rules themselves: a granted vote is on disk before
//     it is sent and no member grants two candidates one term; a leader's commit index moves
//     only onto an entry of its term and only over entries a majority of voters has on disk.
// Finally the network heals, everyone restarts, and the cluster must converge (liveness).
//
// The state machine here is a digest of the applied entries. `RaftSim` is also the engine of the
// full-stack simulation (kv-sim.ts): a subclass overrides the protected hooks (onStarted,
// onStopped, applyToMachine, snapshotPayload, propose, finalProposal, onTick, checkMachine,
// finish, mayDuplicate) to run a real state machine and clients on the same network, crash and
// checker machinery. The engine's own draws from the seeded PRNG do not depend on the hooks, so
// a subclass that draws more still replays exactly from its seed.
import { decodeConfChange, ConfChangeType } from '../../src/core/raft/confchange/conf-change.js';
import type { ConfState } from '../../src/core/raft/confchange/conf-change.js';
import type { RaftConfig, RaftFaults } from '../../src/core/raft/config.js';
import type { Message } from '../../src/core/raft/messages.js';
import { MessageType } from '../../src/core/raft/messages.js';
import { RawNode } from '../../src/core/raft/raw-node.js';
import type { Ready } from '../../src/core/raft/ready.js';
import { Role } from '../../src/core/raft/ready.js';
import { SeededRandom } from '../../src/core/raft/seeded-random.js';
import { MemoryRaftStorage } from '../../src/core/raft/storage.js';
import { EntryType } from '../../src/core/ports/storage-driver.js';
import type { Entry } from '../../src/core/ports/storage-driver.js';

/** Host-side (not core) deliberately broken variants. TEST ONLY. */
export interface HostFaults {
  /** (b, host side) Send every message of a Ready before persisting it. */
  readonly sendBeforePersist?: boolean;
}

export interface SimOptions {
  readonly seed: number;
  /** Initial voters (3 or 5). */
  readonly nodes: number;
  /** Random events before the final heal-and-converge phase. */
  readonly steps: number;
  readonly faults?: RaftFaults;
  readonly hostFaults?: HostFaults;
  /** Membership changes under load (default true). */
  readonly membership?: boolean;
  /** Force check-quorum on/off (default: drawn from the seed). */
  readonly checkQuorum?: boolean;
  readonly preVote?: boolean;
  /** Force the parallel-append host mode on/off (default: drawn from the seed). */
  readonly parallelAppend?: boolean;
  /**
   * Check the protocol's own rules directly (default true): a vote is on disk before it is
   * sent; a leader's commit index covers only entries a majority has on disk, and only moves
   * onto an entry of the leader's term. Off, only the consequences (two leaders in a term, a
   * lost committed entry, a stale read) reveal such bugs.
   */
  readonly protocolChecks?: boolean;
  /**
   * Raft-level checks (default true): election safety, log matching, committed entries, leader
   * completeness, applied entries, read indexes, and the protocol checks. Off, only the
   * machine's own checks (kv-sim.ts: key-space hashes, acknowledged writes, linearizability)
   * and liveness judge the run.
   */
  readonly raftChecks?: boolean;
  /** Skip the final liveness phase. */
  readonly skipConverge?: boolean;
  /** Collect a readable trace (slower). */
  readonly keepTrace?: boolean;
}

export interface SimResult {
  readonly seed: number;
  /** First violated property, or undefined. */
  readonly violation: string | undefined;
  /** Hash of the event trace (hex), identical for identical runs. */
  readonly traceHash: string;
  readonly steps: number;
  readonly stats: Readonly<Record<string, number>>;
  readonly trace: readonly string[];
}

/** Thrown by the checker; carries the property that failed. */
class Violation extends Error {}

// ---- small utilities ----

const enc = new TextEncoder();
const dec = new TextDecoder();

function mix(h: number, x: number): number {
  h = Math.imul(h ^ (x & 0xffff), 0x01000193);
  h = Math.imul(h ^ (x >>> 16), 0x01000193);
  return h >>> 0;
}

function mixNum(h: number, x: number): number {
  // Numbers here are small non-negative integers (< 2^53).
  return mix(mix(h, x >>> 0), Math.floor(x / 4294967296));
}

function hashBytes(h: number, b: Uint8Array): number {
  for (let i = 0; i < b.byteLength; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
  return h;
}

/** Identity of an entry's content for equality checks (latin1 keeps every byte distinct). */
function entryKey(e: Entry): string {
  return `${e.type}:${Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('latin1')}`;
}

/** One simulated member: its durable raft storage and its volatile incarnation. */
export interface SimNode {
  readonly id: number;
  readonly storage: MemoryRaftStorage;
  node: RawNode | undefined;
  incarnation: number;
  staged: { rd: Ready; stage: number } | undefined;
  /** Permanently stopped (removed from the cluster). */
  gone: boolean;
  // Volatile state machine (rebuilt from the snapshot on restart).
  appliedIndex: number;
  digest: number;
  confState: ConfState;
  /** Highest commit index of this incarnation already checked against the registry. */
  checkedCommit: number;
  /** Pending local reads: context → highest commit anywhere when issued. */
  reads: Map<string, number>;
}

/** What the engine keeps in a snapshot's data, ahead of the machine's payload. */
interface SnapData {
  readonly index: number;
  readonly digest: number;
}

/** Snapshot data = u32 length of the JSON SnapData · SnapData · the machine's payload. */
function encodeSnapData(d: SnapData, payload: Uint8Array): Uint8Array {
  const head = enc.encode(JSON.stringify(d));
  const out = new Uint8Array(4 + head.byteLength + payload.byteLength);
  new DataView(out.buffer).setUint32(0, head.byteLength);
  out.set(head, 4);
  out.set(payload, 4 + head.byteLength);
  return out;
}

function decodeSnapData(data: Uint8Array): { d: SnapData; payload: Uint8Array } {
  const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
  const d = JSON.parse(dec.decode(data.subarray(4, 4 + n))) as SnapData;
  return { d, payload: data.subarray(4 + n) };
}

/** Event kinds, drawn with per-seed weights. */
const Ev = {
  Host: 0,
  Deliver: 1,
  Tick: 2,
  TickOne: 3,
  Propose: 4,
  Burst: 5,
  Read: 6,
  Crash: 7,
  Restart: 8,
  Partition: 9,
  Heal: 10,
  Transfer: 11,
  Membership: 12,
  Compact: 13,
} as const;

const STAGE_TAKEN = 0;
const STAGE_PERSISTED = 1;
const STAGE_SENT = 2;
const STAGE_APPLIED = 3;

/** See the file comment. */
export class RaftSim {
  protected readonly rnd: SeededRandom;
  protected readonly nodes = new Map<number, SimNode>();
  private inflight: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly removed = new Set<number>();
  private nextNodeId: number;
  /** The bootstrap membership. */
  private readonly initialIds: readonly number[];
  protected seq = 0;
  /** Final phase: no drops or duplicates. */
  private calm = false;
  private hash = 0x811c9dc5;
  protected readonly trace: string[] = [];
  protected readonly stats: Record<string, number> = {};
  private readonly dropRate: number;
  private readonly dupRate: number;
  private readonly stagedRate: number;
  /** Chance that a visit to a staged Ready completes its persist stage (a slow disk). */
  private readonly persistRate: number;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  private readonly parallelAppend: boolean;
  private readonly maxMsgBytes: number;
  private readonly maxInflightMsgs: number;
  /** Weight of each event kind (indexed by Ev), drawn from the seed. */
  private readonly weights: number[];
  private readonly totalWeight: number;

  // ---- checker registries ----
  /** term → leader id. */
  private readonly leaderOf = new Map<number, number>();
  /** "index:term" → entry key and predecessor term (-1 unknown). */
  private readonly entries = new Map<string, { key: string; prevTerm: number }>();
  /** index → term of the committed entry, and the lowest term known to have committed it (upper bound). */
  private readonly committed = new Map<number, { term: number; commitTerm: number }>();
  private maxCommitted = 0;
  /** index → entry key applied there. */
  private readonly appliedAt = new Map<number, string>();
  /** index → state machine digest after applying it. */
  private readonly digestAt = new Map<number, number>();
  /** "voter:term" → candidate it granted. */
  private readonly votes = new Map<string, number>();
  private readonly protocolChecks: boolean;
  /** Raft-level checks (everything but liveness); off when only the machine's checks may judge. */
  protected readonly raftChecks: boolean;

  constructor(protected readonly opts: SimOptions) {
    this.rnd = new SeededRandom(opts.seed);
    this.raftChecks = opts.raftChecks !== false;
    this.protocolChecks = opts.protocolChecks !== false && this.raftChecks;
    this.dropRate = this.pick([0, 0.02, 0.05, 0.1]);
    this.dupRate = this.pick([0, 0.01, 0.05]);
    this.stagedRate = this.pick([0.1, 0.3, 0.6]);
    this.persistRate = this.pick([1, 0.5, 0.2]);
    this.checkQuorum = opts.checkQuorum ?? this.rnd.nextFloat() < 0.5;
    this.preVote = opts.preVote ?? this.rnd.nextFloat() < 0.5;
    this.parallelAppend = opts.parallelAppend ?? this.rnd.nextFloat() < 0.5;
    // Small messages and windows exercise pipelining, flow control and partial acks.
    this.maxMsgBytes = this.pick([1, 8, 64, 1 << 20]);
    this.maxInflightMsgs = this.pick([1, 4, 256]);
    // Weights per 10 000 events. Messages and Ready cycles are much faster than ticks (about
    // 65 events per tick), as on a real network with 100 ms ticks; partitions last tens of
    // ticks, so elections happen inside them; crash-heavy and quiet profiles alternate.
    const crash = this.pick([3, 8, 20]);
    const part = this.pick([1, 2, 5]);
    this.weights = [
      4200, // Host
      3600, // Deliver
      150, // Tick
      10, // TickOne
      400, // Propose
      40, // Burst
      200, // Read
      crash, // Crash
      crash * this.pick([4, 30]), // Restart: slow or quick reboots
      part, // Partition
      part, // Heal
      this.pick([5, 15]), // Transfer
      opts.membership === false ? 0 : this.pick([5, 20]), // Membership
      50, // Compact
    ];
    this.totalWeight = this.weights.reduce((a, b) => a + b, 0);
    const ids: number[] = [];
    for (let i = 1; i <= opts.nodes; i++) ids.push(i);
    this.nextNodeId = opts.nodes + 1;
    this.initialIds = ids;
    // NB: the members are created in run(), once a subclass's fields exist for the hooks.
    this.note(`start seed=${opts.seed} n=${opts.nodes} drop=${this.dropRate} dup=${this.dupRate} staged=${this.stagedRate} persist=${this.persistRate} cq=${this.checkQuorum} pv=${this.preVote} par=${this.parallelAppend} msg=${this.maxMsgBytes} infl=${this.maxInflightMsgs} w=${this.weights.join(',')}`, 1);
  }

  protected pick<T>(xs: readonly T[]): T {
    return xs[this.rnd.nextInt(xs.length)]!;
  }

  protected count(what: string): void {
    this.stats[what] = (this.stats[what] ?? 0) + 1;
  }

  /** Adds an event to the trace hash (and the readable trace when kept). */
  protected note(text: string, ...nums: number[]): void {
    for (const x of nums) this.hash = mixNum(this.hash, x);
    if (this.opts.keepTrace) this.trace.push(text);
  }

  private config(id: number): RaftConfig {
    return {
      id,
      electionTicks: 10,
      heartbeatTicks: 2,
      checkQuorum: this.checkQuorum,
      preVote: this.preVote,
      maxMsgBytes: this.maxMsgBytes,
      maxInflightMsgs: this.maxInflightMsgs,
      faults: this.opts.faults,
    };
  }

  private createNode(id: number): SimNode {
    const n: SimNode = {
      id,
      storage: new MemoryRaftStorage(),
      node: undefined,
      incarnation: 0,
      staged: undefined,
      gone: false,
      appliedIndex: 0,
      digest: 0,
      confState: { voters: [], learners: [] },
      checkedCommit: 0,
      reads: new Map(),
    };
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  /** (Re)starts a member over its storage; the volatile state machine restarts from its snapshot. */
  private start(n: SimNode): void {
    n.incarnation++;
    n.node = new RawNode(this.config(n.id), n.storage, new SeededRandom(this.opts.seed * 1000 + n.id * 37 + n.incarnation));
    n.staged = undefined;
    // An initial member whose first Ready never reached the disk bootstraps again, as a server
    // with an empty data dir and a new cluster does. (Joining members never bootstrap.)
    const hs = n.storage.hardState();
    if (this.initialIds.includes(n.id) && n.storage.lastIndex() === 0 && hs.term === 0) {
      n.node.bootstrap(this.initialIds.map((p) => ({ id: p })));
    }
    const snap = n.storage.snapshot();
    const meta = n.storage.snapshotMeta();
    let payload: Uint8Array | undefined;
    if (snap !== undefined && snap.meta.index > 0) {
      const s = decodeSnapData(snap.data);
      n.appliedIndex = s.d.index;
      n.digest = s.d.digest;
      payload = s.payload;
    } else {
      n.appliedIndex = 0;
      n.digest = 0;
    }
    n.confState = { voters: meta.voters, learners: meta.learners };
    n.checkedCommit = 0;
    n.reads.clear();
    this.onStarted(n, payload);
  }

  // ---- hooks for a state machine on top (kv-sim.ts); the defaults are the digest machine ----

  /**
   * A member (re)started: `n.node` is new, `n.appliedIndex` is its storage's snapshot index and
   * `snapshotPayload` the machine's part of that snapshot (undefined without one). The machine
   * restores its volatile state here; what it keeps across crashes is its own business.
   */
  protected onStarted(_n: SimNode, _snapshotPayload: Uint8Array | undefined): void {}

  /** A member crashed (`removed` false) or stopped for good after its removal: drop its volatile state. */
  protected onStopped(_n: SimNode, _removed: boolean): void {}

  /**
   * The apply stage of one Ready, after the engine applied its snapshot (if newer than what the
   * member holds: `snapshotPayload` is then its machine payload) and the ConfChanges among
   * `entries` (the committed entries not covered by it, in order, contiguous). Answer read
   * states here, after applying (see ready.ts): `readIndexes` maps the context of each read
   * started with `issueRead` that this Ready answered to its read index, already checked
   * against the commit index at the time the read was issued.
   */
  protected applyToMachine(_n: SimNode, _rd: Ready, _snapshotPayload: Uint8Array | undefined, _entries: readonly Entry[], _readIndexes: ReadonlyMap<string, number>): void {}

  /** The machine's state at `n.appliedIndex`, for a snapshot (log compaction). */
  protected snapshotPayload(_n: SimNode): Uint8Array {
    return new Uint8Array(0);
  }

  /** Data of the proposal that ends the run (the convergence probe). */
  protected finalProposal(): Uint8Array {
    return enc.encode(`final${this.seq}`);
  }

  /** Called after every global tick (and every tick of the final phase). */
  protected onTick(): void {}

  /** The machine's invariants, after every step. Throw through `check`. */
  protected checkMachine(): void {}

  /** After the run (`converged`: the final phase ran and converged): end-of-run checks. */
  protected finish(_converged: boolean): void {}

  /** Whether the network may deliver `m` twice (it always may drop it). */
  protected mayDuplicate(_m: Message): boolean {
    return true;
  }

  /**
   * Starts a linearizable read on `n` under `ctx` (unique): the answer comes to
   * `applyToMachine` as `readIndexes.get(ctx)`. False when the core dropped it (no leader).
   */
  protected issueRead(n: SimNode, ctx: string): boolean {
    if (!n.node!.readIndex(enc.encode(ctx))) return false;
    n.reads.set(ctx, this.maxCommitted);
    return true;
  }

  protected live(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.node !== undefined) out.push(n);
    return out;
  }

  protected leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.live()) {
      const r = n.node!.raft;
      if (r.role === Role.Leader && (best === undefined || r.term > best.node!.raft.term)) best = n;
    }
    return best;
  }

  // ---- the host: Ready pipeline ----

  /** Runs one stage of `n`'s Ready pipeline (or takes a new Ready). */
  private hostStep(n: SimNode, atomic: boolean): boolean {
    const node = n.node!;
    if (n.staged === undefined) {
      if (!node.hasReady()) return false;
      const rd = node.ready();
      this.checkReadyEntries(n, rd);
      n.staged = { rd, stage: STAGE_TAKEN };
      this.note(`${n.id} ready e=${rd.entries.length} c=${rd.committedEntries.length} m=${rd.earlyMessages.length}+${rd.messages.length}`, 1, n.id, rd.entries.length, rd.committedEntries.length, rd.earlyMessages.length, rd.messages.length);
      if (this.opts.hostFaults?.sendBeforePersist) {
        this.checkVotes(n, rd);
        for (const m of rd.earlyMessages) this.send(m);
        for (const m of rd.messages) this.send(m);
      } else if (this.parallelAppend) {
        for (const m of rd.earlyMessages) this.send(m);
      }
      if (!atomic && this.rnd.nextFloat() < this.stagedRate) return true;
    }
    // A slow disk: the persist stage often does not complete on this visit, so messages keep
    // arriving between ready() and advance().
    if (!atomic && n.staged.stage === STAGE_TAKEN && this.rnd.nextFloat() >= this.persistRate) return true;
    // Continue the staged Ready: one stage, or all when atomic.
    do {
      this.runStage(n);
    } while (atomic && n.staged !== undefined && n.node !== undefined);
    return true;
  }

  private runStage(n: SimNode): void {
    const st = n.staged!;
    const rd = st.rd;
    const node = n.node!;
    switch (st.stage) {
      case STAGE_TAKEN:
        n.storage.save({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
        st.stage = STAGE_PERSISTED;
        this.note(`${n.id} persisted`, 2, n.id);
        return;
      case STAGE_PERSISTED:
        if (!this.opts.hostFaults?.sendBeforePersist) this.checkVotes(n, rd);
        if (!this.opts.hostFaults?.sendBeforePersist) {
          if (!this.parallelAppend) for (const m of rd.earlyMessages) this.send(m);
          for (const m of rd.messages) this.send(m);
        }
        st.stage = STAGE_SENT;
        return;
      case STAGE_SENT:
        this.apply(n, rd);
        st.stage = STAGE_APPLIED;
        return;
      case STAGE_APPLIED:
        n.staged = undefined;
        node.advance(rd);
        this.note(`${n.id} advanced`, 3, n.id);
        // A member that applied its own removal stops for good.
        if (this.removed.has(n.id)) this.stop(n);
        return;
    }
  }

  private apply(n: SimNode, rd: Ready): void {
    const node = n.node!;
    let snapshotPayload: Uint8Array | undefined;
    if (rd.snapshot !== undefined) {
      const { d, payload } = decodeSnapData(rd.snapshot.data);
      this.check(d.index === rd.snapshot.meta.index, `snapshot data index ${d.index} != meta ${rd.snapshot.meta.index}`);
      const want = this.digestAt.get(d.index);
      if (this.raftChecks) this.check(want === undefined || want === d.digest, `node ${n.id}: snapshot at ${d.index} has digest ${d.digest}, applying the log gave ${want}`);
      if (d.index > n.appliedIndex) {
        n.appliedIndex = d.index;
        n.digest = d.digest;
        n.confState = { voters: rd.snapshot.meta.voters, learners: rd.snapshot.meta.learners };
        snapshotPayload = payload;
      }
      this.count('snapshotsApplied');
    }
    const fresh: Entry[] = [];
    for (const e of rd.committedEntries) {
      if (e.index <= n.appliedIndex) continue; // covered by a snapshot applied above
      this.check(e.index === n.appliedIndex + 1, `node ${n.id}: applied ${e.index} after ${n.appliedIndex} (gap)`);
      fresh.push(e);
      const key = `${e.term}|${entryKey(e)}`;
      const prev = this.appliedAt.get(e.index);
      if (prev === undefined) this.appliedAt.set(e.index, key);
      else if (this.raftChecks) this.check(prev === key, `state machine safety: node ${n.id} applied ${key} at ${e.index}, another member applied ${prev}`);
      n.digest = hashBytes(mixNum(mixNum(n.digest, e.index), e.term), e.data);
      const d = this.digestAt.get(e.index);
      if (d === undefined) this.digestAt.set(e.index, n.digest);
      else if (this.raftChecks) this.check(d === n.digest, `node ${n.id}: state digest at ${e.index} differs`);
      n.appliedIndex = e.index;
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        n.confState = node.applyConfChange(cc);
        if (cc.type === ConfChangeType.RemoveNode && n.confState.voters.length > 0 && !n.confState.voters.includes(cc.nodeId) && !n.confState.learners.includes(cc.nodeId)) {
          this.removed.add(cc.nodeId);
        }
        this.count('confChangesApplied');
      }
    }
    const readIndexes = new Map<string, number>();
    for (const rs of rd.readStates) {
      const ctx = dec.decode(rs.context);
      const c0 = n.reads.get(ctx);
      if (c0 === undefined) continue;
      n.reads.delete(ctx);
      if (this.raftChecks) this.check(rs.index >= c0, `linearizability: node ${n.id} read ${ctx} got index ${rs.index}, but ${c0} was committed when it was issued`);
      readIndexes.set(ctx, rs.index);
      this.count('readsServed');
    }
    this.applyToMachine(n, rd, snapshotPayload, fresh, readIndexes);
  }

  // ---- the network ----

  private send(m: Message): void {
    this.count('sent');
    if (this.calm) {
      this.inflight.push(m);
      return;
    }
    if (this.rnd.nextFloat() < this.dropRate) {
      this.count('dropped');
      this.dropped(m);
      return;
    }
    this.inflight.push(m);
    if (this.rnd.nextFloat() < this.dupRate && this.mayDuplicate(m)) {
      this.inflight.push(m);
      this.count('duplicated');
    }
  }

  /** Tells the sender's host about a lost snapshot, as a real transport would. */
  private dropped(m: Message): void {
    if (m.type !== MessageType.Snap) return;
    const s = this.nodes.get(m.from);
    if (s?.node !== undefined) s.node.reportSnapshot(m.to, false);
  }

  private deliverRandom(): boolean {
    if (this.inflight.length === 0) return false;
    const i = this.rnd.nextInt(this.inflight.length);
    const m = this.inflight[i]!;
    this.inflight[i] = this.inflight[this.inflight.length - 1]!;
    this.inflight.pop();
    this.deliver(m);
    return true;
  }

  private deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    if (to?.node === undefined || this.cut.has(`${m.from}>${m.to}`) || this.removed.has(m.from) || this.removed.has(m.to)) {
      this.count('undeliverable');
      this.dropped(m);
      return;
    }
    this.note(`deliver ${m.from}->${m.to} t=${m.type} term=${m.term} i=${m.index} n=${m.entries.length}`, 4, m.from, m.to, m.type, m.term, m.index, m.entries.length);
    this.count('delivered');
    to.node.step(m);
    if (m.type === MessageType.Snap) {
      const s = this.nodes.get(m.from);
      if (s?.node !== undefined) s.node.reportSnapshot(m.to, true);
    }
  }

  // ---- events ----

  private crash(n: SimNode): void {
    this.note(`crash ${n.id}`, 5, n.id);
    this.count('crashes');
    n.node = undefined;
    n.staged = undefined;
    this.onStopped(n, false);
    // A real transport sees the crashed member's connections close at once: the others are
    // told, as the server's peer transport tells its raft (onPeerLost → reportLeaderLost).
    for (const m of this.live()) {
      m.node!.reportLeaderLost(n.id);
      this.count('leaderLostReports');
    }
  }

  private stop(n: SimNode): void {
    this.note(`stop ${n.id}`, 6, n.id);
    n.node = undefined;
    n.staged = undefined;
    n.gone = true;
    this.onStopped(n, true);
  }

  private restart(n: SimNode): void {
    this.note(`restart ${n.id}`, 7, n.id);
    this.count('restarts');
    this.start(n);
  }

  private partition(): void {
    this.cut.clear();
    const ids = [...this.nodes.keys()];
    const oneWay = this.rnd.nextFloat() < 0.3;
    if (oneWay) {
      const a = this.pick(ids);
      const b = this.pick(ids);
      if (a !== b) this.cut.add(`${a}>${b}`);
      this.note(`cut ${a}>${b}`, 8, a, b);
      this.count('oneWayCuts');
      return;
    }
    const size = 1 + this.rnd.nextInt(Math.max(1, Math.floor(ids.length / 2)));
    const side = new Set<number>();
    // Like Jepsen's "isolate the primary" nemesis: often the minority holds the leader, so a
    // new leader is elected while the old one still believes it leads.
    const ld = this.leader();
    if (ld !== undefined && this.rnd.nextFloat() < 0.5) side.add(ld.id);
    while (side.size < size) side.add(this.pick(ids));
    for (const a of ids) {
      for (const b of ids) {
        if (side.has(a) !== side.has(b)) this.cut.add(`${a}>${b}`);
      }
    }
    this.note(`partition ${[...side].join(',')}`, 9, ...side);
    this.count('partitions');
    // Half the time the partition also resets the connections across it (a middlebox drop):
    // members report the lost connection although the leader on the other side lives on. A
    // spurious report must neither break safety nor stall the side that keeps the leader.
    if (this.rnd.nextFloat() < 0.5) {
      for (const m of this.live()) {
        for (const other of ids) {
          if (other !== m.id && side.has(other) !== side.has(m.id)) {
            m.node!.reportLeaderLost(other);
            this.count('leaderLostReports');
          }
        }
      }
    }
  }

  /** One proposal event (a subclass issues client requests instead). */
  protected propose(): void {
    const live = this.live();
    if (live.length === 0) return;
    const ld = this.leader();
    const n = ld !== undefined && this.rnd.nextFloat() < 0.6 ? ld : this.pick(live);
    const data = `v${++this.seq}`;
    const ok = n.node!.propose(enc.encode(data));
    this.note(`propose ${n.id} ${data} ${ok}`, 10, n.id, this.seq, ok ? 1 : 0);
    this.count(ok ? 'proposed' : 'proposalsDropped');
  }

  /** One read event: a raft-level ReadIndex (a subclass issues client reads instead). */
  protected read(): void {
    const live = this.live();
    if (live.length === 0) return;
    const n = this.pick(live);
    const ctx = `r${++this.seq}`;
    if (n.node!.readIndex(enc.encode(ctx))) n.reads.set(ctx, this.maxCommitted);
    this.note(`read ${n.id} ${ctx}`, 11, n.id, this.seq);
    this.count('reads');
  }

  private transfer(): void {
    const ld = this.leader();
    if (ld === undefined) return;
    const voters = ld.node!.raft.trk.voters.filter((v) => v !== ld.id);
    if (voters.length === 0) return;
    const to = this.pick(voters);
    ld.node!.transferLeader(to);
    this.note(`transfer ${ld.id}->${to}`, 12, ld.id, to);
    this.count('transfers');
  }

  private changeMembership(): void {
    const ld = this.leader();
    if (ld === undefined) return;
    const r = ld.node!.raft;
    const voters = r.trk.voters;
    const learners = r.trk.learners;
    const min = Math.max(3, this.opts.nodes - 1);
    const max = this.opts.nodes + 1;
    const choice = this.rnd.nextInt(4);
    let type: ConfChangeType;
    let id: number;
    if (choice === 0 && learners.length > 0 && voters.length < max) {
      type = ConfChangeType.AddNode; // promote a learner
      id = this.pick(learners);
    } else if (choice === 1 && voters.length + learners.length < max + 1) {
      type = this.rnd.nextFloat() < 0.5 ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
      if (type === ConfChangeType.AddNode && voters.length >= max) return;
      id = this.nextNodeId++;
      this.createNode(id); // empty storage, no bootstrap: it learns the cluster from the leader
    } else if (choice === 2 && voters.length > min) {
      type = ConfChangeType.RemoveNode;
      id = this.pick(voters); // possibly the leader itself
    } else if (choice === 3 && learners.length > 0) {
      type = ConfChangeType.RemoveNode;
      id = this.pick(learners);
    } else {
      return;
    }
    const ok = ld.node!.proposeConfChange({ type, nodeId: id, context: new Uint8Array(0) });
    this.note(`confchange ${ld.id} ${type} ${id} ${ok}`, 13, ld.id, type, id, ok ? 1 : 0);
    this.count(ok ? 'confChangesProposed' : 'confChangesRefused');
  }

  private compact(n: SimNode): void {
    const meta = n.storage.snapshotMeta();
    const persistedLast = n.storage.lastIndex();
    const at = Math.min(n.appliedIndex, persistedLast);
    if (at <= meta.index + 2) return;
    // Compact only at the applied index: the state machine (digest, membership) is known there.
    if (at !== n.appliedIndex) return;
    const data: SnapData = { index: at, digest: n.digest };
    n.storage.compact(at, encodeSnapData(data, this.snapshotPayload(n)), n.confState.voters, n.confState.learners);
    this.note(`compact ${n.id} ${at}`, 14, n.id, at);
    this.count('compactions');
  }

  // ---- checker ----

  protected check(cond: boolean, what: string): asserts cond {
    if (!cond) throw new Violation(what);
  }

  /** Log matching on every entry a member is about to persist. */
  private checkReadyEntries(n: SimNode, rd: Ready): void {
    if (!this.raftChecks) return;
    const log = n.node!.raft.log;
    for (const e of rd.entries) {
      const k = `${e.index}:${e.term}`;
      const prevTerm = e.index === 1 ? 0 : (log.term(e.index - 1) ?? -1);
      const key = entryKey(e);
      const seen = this.entries.get(k);
      if (seen === undefined) {
        this.entries.set(k, { key, prevTerm });
      } else {
        this.check(seen.key === key, `log matching: two different entries at index ${e.index} term ${e.term}`);
        if (seen.prevTerm >= 0 && prevTerm >= 0) {
          this.check(seen.prevTerm === prevTerm, `log matching: entry ${k} follows term ${prevTerm} on node ${n.id} but ${seen.prevTerm} elsewhere`);
        } else if (seen.prevTerm < 0) {
          seen.prevTerm = prevTerm;
        }
      }
    }
  }

  /** Every check after a step: the raft level (unless off), then the machine's. */
  private checkAll(): void {
    if (this.raftChecks) {
      this.checkRaft();
    } else {
      for (const n of this.live()) this.maxCommitted = Math.max(this.maxCommitted, n.node!.raft.log.committed);
    }
    this.checkMachine();
  }

  /** Properties over the live members' in-memory state, after every step. */
  private checkRaft(): void {
    for (const n of this.nodes.values()) {
      if (n.node === undefined) continue;
      const r = n.node.raft;
      // Election safety.
      if (r.role === Role.Leader) {
        const l = this.leaderOf.get(r.term);
        if (l === undefined) {
          this.leaderOf.set(r.term, n.id);
          this.checkLeaderCompleteness(n);
          this.note(`leader ${n.id} term ${r.term}`, 15, n.id, r.term);
          this.count('elections');
        } else {
          this.check(l === n.id, `election safety: nodes ${l} and ${n.id} both led term ${r.term}`);
        }
      }
      // No committed entry lost / changed.
      const commit = r.log.committed;
      if (commit > n.checkedCommit) {
        if (this.protocolChecks && r.role === Role.Leader) {
          const t = r.log.term(commit);
          this.check(t === r.term, `commit rule: leader ${n.id} of term ${r.term} moved its commit index to ${commit}, an entry of term ${t}`);
        }
        const first = r.log.firstIndex();
        for (let i = Math.max(n.checkedCommit + 1, first); i <= commit; i++) {
          const t = r.log.term(i);
          if (t === undefined) continue;
          const c = this.committed.get(i);
          if (c === undefined) {
            this.committed.set(i, { term: t, commitTerm: r.term });
            if (this.protocolChecks && r.role === Role.Leader) this.checkDurableQuorum(n, i, t);
          } else {
            this.check(c.term === t, `committed entry lost: index ${i} was committed with term ${c.term}, node ${n.id} now commits term ${t}`);
            if (r.term < c.commitTerm) c.commitTerm = r.term;
          }
        }
        n.checkedCommit = commit;
        if (commit > this.maxCommitted) this.maxCommitted = commit;
      }
    }
  }

  /**
   * Commitment means durability: when a leader's commit index first covers (index, term), a
   * majority of its voters has that entry on disk (or compacted into a snapshot).
   */
  private checkDurableQuorum(ld: SimNode, index: number, term: number): void {
    const voters = ld.node!.raft.trk.voters;
    let durable = 0;
    for (const id of voters) {
      const st = this.nodes.get(id)?.storage;
      if (st === undefined) continue;
      if (st.snapshotMeta().index >= index || st.term(index) === term) durable++;
    }
    this.check(durable >= Math.floor(voters.length / 2) + 1, `durability: leader ${ld.id} committed ${index} (term ${term}) but only ${durable} of ${voters.length} voters have it on disk`);
  }

  /**
   * One vote per term, durably: a granted vote leaves only after the voter's persisted hard
   * state records it, and no member grants two candidates the same term (across restarts).
   */
  private checkVotes(n: SimNode, rd: Ready): void {
    if (!this.raftChecks) return;
    for (const m of rd.messages) {
      if (m.type !== MessageType.VoteResp || m.reject) continue;
      const key = `${n.id}:${m.term}`;
      const prev = this.votes.get(key);
      this.check(prev === undefined || prev === m.to, `election safety: node ${n.id} voted for ${prev} and ${m.to} in term ${m.term}`);
      this.votes.set(key, m.to);
      if (this.protocolChecks) {
        const hs = n.storage.hardState();
        this.check(hs.term > m.term || (hs.term === m.term && hs.vote === m.to), `durability: node ${n.id} sends its vote for ${m.to} in term ${m.term} but its disk says term ${hs.term} vote ${hs.vote}`);
      }
    }
  }

  /** A new leader of term T must hold every entry committed in a term before T. */
  private checkLeaderCompleteness(n: SimNode): void {
    const r = n.node!.raft;
    const first = r.log.firstIndex();
    for (const [i, c] of this.committed) {
      if (c.commitTerm >= r.term || i < first) continue;
      const t = r.log.term(i);
      this.check(t === c.term, `leader completeness: node ${n.id} leads term ${r.term} without committed entry ${i} (term ${c.term}); it has term ${t}`);
    }
  }

  // ---- the run ----

  private randomEvent(): void {
    const live = this.live();
    let x = this.rnd.nextInt(this.totalWeight);
    let ev = 0;
    while (x >= this.weights[ev]!) x -= this.weights[ev++]!;
    switch (ev) {
      case Ev.Host:
        if (live.length > 0) this.hostStep(this.pick(live), false);
        return;
      case Ev.Deliver:
        this.deliverRandom();
        return;
      case Ev.Tick:
        for (const n of live) n.node!.tick();
        this.note('tick', 16);
        this.onTick();
        this.count(this.leader() === undefined ? 'ticksLeaderless' : 'ticksLed');
        if (live.filter((n) => n.node!.raft.role === Role.Leader).length > 1) this.count('ticksTwoLeaders');
        return;
      case Ev.TickOne:
        if (live.length > 0) this.pick(live).node!.tick(); // clock skew
        return;
      case Ev.Propose:
        this.propose();
        return;
      case Ev.Burst:
        // A burst of proposals, so that batches and windows fill.
        for (let i = 0; i < 5; i++) this.propose();
        return;
      case Ev.Read:
        this.read();
        return;
      case Ev.Crash: {
        // Half the crashes hit a member whose Ready is taken but not fully processed (an fsync
        // or a send in flight): the window where losing unsynced state matters.
        const busy = live.filter((n) => n.staged !== undefined);
        if (busy.length > 0 && this.rnd.nextFloat() < 0.5) this.crash(this.pick(busy));
        else if (live.length > 0) this.crash(this.pick(live));
        return;
      }
      case Ev.Restart: {
        const down = [...this.nodes.values()].filter((n) => n.node === undefined && !n.gone);
        if (down.length > 0) this.restart(this.pick(down));
        return;
      }
      case Ev.Partition:
        this.partition();
        return;
      case Ev.Heal:
        this.cut.clear();
        this.note('heal', 17);
        return;
      case Ev.Transfer:
        this.transfer();
        return;
      case Ev.Membership:
        if (this.opts.membership !== false) this.changeMembership();
        return;
      case Ev.Compact:
        if (live.length > 0) this.compact(this.pick(live));
        return;
    }
  }

  /** Heal everything and check that the cluster converges within a bound (liveness). */
  private converge(): void {
    this.calm = true;
    this.cut.clear();
    for (const n of this.nodes.values()) if (n.node === undefined && !n.gone) this.restart(n);
    const drain = (): void => {
      for (let guard = 0; guard < 10000; guard++) {
        let moved = false;
        for (const n of this.live()) while (n.node !== undefined && this.hostStep(n, true)) moved = true;
        if (this.inflight.length > 0) {
          const q = this.inflight;
          this.inflight = [];
          for (const m of q) this.deliver(m);
          moved = true;
        }
        this.checkAll();
        if (!moved) return;
      }
      throw new Violation('liveness: messages never stop');
    };
    let proposed = false;
    for (let round = 0; round < 400; round++) {
      drain();
      const ld = this.leader();
      if (ld !== undefined && !proposed) {
        proposed = ld.node!.propose(this.finalProposal());
      }
      if (ld !== undefined && proposed && this.converged(ld)) return;
      for (const n of this.live()) n.node!.tick();
      this.onTick();
    }
    const st = this.live().map((n) => {
      const s = n.node!.status();
      return `${n.id}:role=${s.role},term=${s.term},lead=${s.lead},commit=${s.commit},applied=${n.appliedIndex},last=${s.lastIndex},voters=${s.voters.join('/')}`;
    });
    throw new Violation(`liveness: no convergence after healing: ${st.join(' ')}`);
  }

  /** Every live member in the leader's configuration has applied the leader's commit index, which includes the final proposal. */
  private converged(ld: SimNode): boolean {
    const r = ld.node!.raft;
    if (!r.committedEntryInCurrentTerm()) return false;
    const commit = r.log.committed;
    const last = r.log.lastIndex();
    if (commit < last) return false;
    for (const id of [...r.trk.voters, ...r.trk.learners]) {
      const n = this.nodes.get(id);
      if (n === undefined || n.node === undefined) return false;
      if (n.appliedIndex < commit) return false;
    }
    return true;
  }

  run(): SimResult {
    let violation: string | undefined;
    let step = 0;
    try {
      for (const id of this.initialIds) this.createNode(id);
      for (; step < this.opts.steps; step++) {
        this.randomEvent();
        this.checkAll();
      }
      if (!this.opts.skipConverge) this.converge();
      this.finish(!this.opts.skipConverge);
    } catch (err) {
      if (err instanceof Violation) violation = err.message;
      else {
        violation = `exception at step ${step}: ${String(err)}`;
        if (this.opts.keepTrace) this.trace.push((err as Error).stack ?? String(err));
      }
    }
    return {
      seed: this.opts.seed,
      violation,
      traceHash: this.hash.toString(16).padStart(8, '0'),
      steps: step,
      stats: this.stats,
      trace: this.trace,
    };
  }
}

/** Runs one seed. */
export function runRaftSim(opts: SimOptions): SimResult {
  return new RaftSim(opts).run();
}

/** The command that replays one seed of the simulation. */
export function reproCommand(opts: SimOptions): string {
  const parts = ['node dist/test/sim/run-raft-sim.js', `--seed ${opts.seed}`, `--nodes ${opts.nodes}`, `--steps ${opts.steps}`];
  const f = opts.faults ?? {};
  for (const k of Object.keys(f) as (keyof RaftFaults)[]) if (f[k]) parts.push(`--fault ${k}`);
  if (opts.hostFaults?.sendBeforePersist) parts.push('--fault sendBeforePersist');
  if (opts.membership === false) parts.push('--no-membership');
  if (opts.protocolChecks === false) parts.push('--no-protocol-checks');
  if (opts.checkQuorum !== undefined) parts.push(`--check-quorum ${opts.checkQuorum}`);
  if (opts.parallelAppend !== undefined) parts.push(`--parallel-append ${opts.parallelAppend}`);
  return parts.join(' ');
}
