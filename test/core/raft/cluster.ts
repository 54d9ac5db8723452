// A small synchronous test cluster for the raft unit tests: RawNodes over MemoryRaftStorage, a
// FIFO network with per-link cut switches, and a Ready loop that persists, sends, applies and
// advances exactly as the host contract says. No randomness except the seeded election jitter.
import type { ConfState } from '../../../src/core/raft/confchange/conf-change.js';
import { decodeConfChange } from '../../../src/core/raft/confchange/conf-change.js';
import type { RaftConfig } from '../../../src/core/raft/config.js';
import type { Message } from '../../../src/core/raft/messages.js';
import { MessageType } from '../../../src/core/raft/messages.js';
import { RawNode } from '../../../src/core/raft/raw-node.js';
import type { ReadState, Ready } from '../../../src/core/raft/ready.js';
import { Role } from '../../../src/core/raft/ready.js';
import { SeededRandom } from '../../../src/core/raft/seeded-random.js';
import { MemoryRaftStorage } from '../../../src/core/raft/storage.js';
import { EntryType } from '../../../src/core/ports/storage-driver.js';
import type { Entry } from '../../../src/core/ports/storage-driver.js';

/**
 * Storage holding a compaction point at index 1 (term 1) with membership `voters`, then one
 * entry per element of `terms` from index 2 (data "e<index>t<term>"), and a hard state.
 */
export function storageWith(voters: readonly number[], terms: readonly number[], hs: { term: number; vote?: number; commit?: number }): MemoryRaftStorage {
  const st = new MemoryRaftStorage();
  const entries: Entry[] = terms.map((t, i) => ({ term: t, index: i + 2, type: EntryType.Normal, data: b(`e${i + 2}t${t}`) }));
  st.save({
    snapshot: { meta: { index: 1, term: 1, voters: voters.slice(), learners: [] }, data: b('[]') },
    entries,
    hardState: { term: hs.term, vote: hs.vote ?? 0, commit: hs.commit ?? 1 },
  });
  return st;
}

/** A cluster whose members start from the given logs (see storageWith), without bootstrap. */
export function clusterFromLogs(logs: Readonly<Record<number, readonly number[]>>, term: number, overrides: ConfigOverrides = {}): TestCluster {
  const ids = Object.keys(logs).map(Number);
  const c = new TestCluster([], overrides, false);
  for (const id of ids) c.add(id, undefined, {}, storageWith(ids, logs[id]!, { term }));
  return c;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bytes of a string (test payloads). */
export function b(s: string): Uint8Array {
  return enc.encode(s);
}

/** String of bytes. */
export function s(u: Uint8Array): string {
  return dec.decode(u);
}

/** One applied entry of the toy state machine. */
export interface Applied {
  readonly index: number;
  readonly term: number;
  readonly data: string;
}

export interface TestNode {
  readonly id: number;
  storage: MemoryRaftStorage;
  node: RawNode;
  /** The state machine: normal entries with data, in apply order. */
  applied: Applied[];
  appliedIndex: number;
  confState: ConfState | undefined;
  readStates: ReadState[];
}

export const baseConfig = {
  electionTicks: 10,
  heartbeatTicks: 1,
  checkQuorum: false,
  preVote: false,
  maxMsgBytes: 1 << 20,
  maxInflightMsgs: 256,
} satisfies Omit<RaftConfig, 'id'>;

export type ConfigOverrides = Partial<Omit<RaftConfig, 'id'>>;

/** See the file comment. */
export class TestCluster {
  readonly nodes = new Map<number, TestNode>();
  /** Messages sent and not yet delivered, in order. */
  queue: Message[] = [];
  /** Cut links "from->to". */
  private readonly cut = new Set<string>();
  /** Every message delivered, for assertions. */
  readonly delivered: Message[] = [];
  /** Optional hook called with every Ready before it is processed. */
  onReady: ((t: TestNode, rd: Ready) => void) | undefined;
  /** Optional filter: return false to drop a message. */
  filter: ((m: Message) => boolean) | undefined;
  private seed = 1;

  constructor(
    ids: readonly number[],
    private readonly overrides: ConfigOverrides = {},
    bootstrap = true,
  ) {
    for (const id of ids) this.add(id, bootstrap ? ids : undefined);
  }

  config(id: number): RaftConfig {
    return { ...baseConfig, ...this.overrides, id };
  }

  /** Adds a member (empty storage unless given); bootstraps it with `peers` if given. */
  add(id: number, peers?: readonly number[], overrides: ConfigOverrides = {}, storage = new MemoryRaftStorage()): TestNode {
    const node = new RawNode({ ...this.config(id), ...overrides }, storage, new SeededRandom(this.seed++));
    if (peers !== undefined) node.bootstrap(peers.map((p) => ({ id: p })));
    const t: TestNode = { id, storage, node, applied: [], appliedIndex: 0, confState: undefined, readStates: [] };
    this.nodes.set(id, t);
    this.processReady(t);
    return t;
  }

  /** Replaces a member's RawNode by a fresh one over its storage (a crash: unpersisted state is gone). */
  restart(id: number, overrides: ConfigOverrides = {}): TestNode {
    const t = this.get(id);
    t.node = new RawNode({ ...this.config(id), ...overrides }, t.storage, new SeededRandom(this.seed++));
    // The toy state machine restarts from the snapshot and is re-applied from the log.
    const snap = t.storage.snapshot();
    t.applied = snap !== undefined && snap.data.byteLength > 0 ? (JSON.parse(s(snap.data)) as Applied[]) : [];
    t.appliedIndex = t.storage.snapshotMeta().index;
    t.readStates = [];
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    return t;
  }

  get(id: number): TestNode {
    const t = this.nodes.get(id);
    if (t === undefined) throw new Error(`no node ${id}`);
    return t;
  }

  raft(id: number) {
    return this.get(id).node.raft;
  }

  cutLink(from: number, to: number): void {
    this.cut.add(`${from}->${to}`);
  }

  /** Cuts every link to and from `id`. */
  isolate(id: number): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Runs one Ready cycle for `t` if it has one: persist → send → apply → advance. */
  processReady(t: TestNode): boolean {
    if (!t.node.hasReady()) return false;
    const rd = t.node.ready();
    this.onReady?.(t, rd);
    t.storage.save({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
    for (const m of rd.earlyMessages) this.queue.push(m);
    for (const m of rd.messages) this.queue.push(m);
    if (rd.snapshot !== undefined) {
      t.applied = rd.snapshot.data.byteLength > 0 ? (JSON.parse(s(rd.snapshot.data)) as Applied[]) : [];
      t.appliedIndex = rd.snapshot.meta.index;
      t.confState = { voters: rd.snapshot.meta.voters, learners: rd.snapshot.meta.learners };
    }
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) t.confState = t.node.applyConfChange(decodeConfChange(e.data));
      else if (e.data.byteLength > 0) t.applied.push({ index: e.index, term: e.term, data: s(e.data) });
      t.appliedIndex = e.index;
    }
    for (const rs of rd.readStates) t.readStates.push(rs);
    t.node.advance(rd);
    return true;
  }

  /** Compacts `id`'s log up to its applied index, with its state machine as snapshot data. */
  compact(id: number, index?: number): void {
    const t = this.get(id);
    const at = index ?? t.appliedIndex;
    const st = t.node.status();
    t.storage.compact(at, b(JSON.stringify(t.applied.filter((a) => a.index <= at))), st.voters, st.learners);
  }

  private deliverable(m: Message): boolean {
    if (!this.nodes.has(m.to)) return false;
    if (this.cut.has(`${m.from}->${m.to}`)) return false;
    return this.filter === undefined || this.filter(m);
  }

  /** Processes Readies and delivers messages until nothing moves. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const t of this.nodes.values()) while (this.processReady(t)) moved = true;
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        moved = true;
        if (!this.deliverable(m)) {
          if (m.type === MessageType.Snap) this.nodes.get(m.from)?.node.reportSnapshot(m.to, false);
          continue;
        }
        this.delivered.push(m);
        this.get(m.to).node.step(m);
        if (m.type === MessageType.Snap) this.nodes.get(m.from)?.node.reportSnapshot(m.to, true);
      }
      if (!moved) return;
    }
    throw new Error('cluster did not stabilize');
  }

  /** Ticks `id` `n` times, stabilizing after each tick. */
  tick(id: number, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.get(id).node.tick();
      this.stabilize();
    }
  }

  /** Ticks every member `n` times, stabilizing after each round. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const t of this.nodes.values()) t.node.tick();
      this.stabilize();
    }
  }

  campaign(id: number): void {
    this.get(id).node.campaign();
    this.stabilize();
  }

  propose(id: number, data: string): boolean {
    const ok = this.get(id).node.propose(b(data));
    this.stabilize();
    return ok;
  }

  leaders(): number[] {
    return [...this.nodes.values()].filter((t) => t.node.raft.role === Role.Leader).map((t) => t.id);
  }
}
