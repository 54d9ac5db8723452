// The full-stack deterministic simulation: the raft simulation's cluster, network, crashes,
// partitions, leader transfers and membership changes (raft-sim.ts, the engine) with the real
// state machine on every member, and simulated clients whose history is checked linearizable.
//
// Each member runs what the server runs: RawNode → a sim host with raft-host.ts's Ready order
// (early messages, persist, messages, apply snapshot, apply committed entries with ConfChanges,
// answer read states once applied, advance) → Applier.applyBatch → KvStore over a
// MemoryBackend. Entries carry encodeInternalRequest({ id, origin, put | deleteRange | txn });
// only the proposer answers its waiter, matched by (origin, id) as raft-host.ts does. A log
// compaction snapshots the backend (encodeBackendSnapshot); a lagging member restores it
// (restoreBackendSnapshot + store.reload()). The host is synchronous and deterministic: no
// timers; client timeouts count simulated ticks.
//
// Crashes: the raft storage keeps only what the host saved (the engine's MemoryRaftStorage);
// the backend keeps every commit, as a process crash leaves the page cache intact (an LMDB or
// SQLite commit without fsync survives it). On restart the member rebuilds its KvStore from the
// backend and the RawNode re-delivers the committed entries after the snapshot index; the
// applier skips those at or below the consistent index. If the persisted log starts after the
// backend's consistent index (a crash between persisting a snapshot from the leader and
// restoring it into the backend), the member restores the stored snapshot first. NB: the
// real raft-host.ts closes this window the other way round (its LogStore keeps only the
// snapshot's metadata): it restores the snapshot into the backend and syncs it BEFORE the log
// records the snapshot, so its backend is never behind its log. Both keep the same invariant;
// this sim does not replay raft-host's exact order. `noSnapshotRecovery` shows what breaking
// the invariant costs (the sweep reaches the window: stat restartsFromSnapshot).
//
// Clients (2 to 5, each with at most one request in flight) do get / put / delete / CAS on a
// few keys through the member they believe leads, or a random one (followers forward proposals
// through raft). A CAS is a txn: compare value (or version 0 for "absent") → put. Reads use
// ReadIndex and are served from the local store once it applied the read index. An answer
// ends the operation at that logical time; no answer within CLIENT_TIMEOUT_TICKS, or a crash
// of the member it talks to (the connection breaks), makes a write's outcome unknown and a
// read simply unanswered. An admin client now and then compacts the MVCC history through the
// leader.
//
// Checks, besides the engine's raft-level ones (one leader per term, log matching, leader
// completeness, no committed entry lost, the same entry at each applied index...):
//   - after every apply, and after a restart rebuilt the store from the backend, the key-space
//     hash (KvStore.hashKV) is the same on every member at the same consistent index,
//     snapshots included;
//   - an acknowledged write's entry is the one every member applies at its index;
//   - at the end: every member of the converged cluster holds the same key space, every
//     acknowledged write is in every member's history at its revision, and the clients'
//     history is linearizable (linearizability.ts, one register per key).
//
// NB: the network never duplicates a forwarded proposal (MsgProp): raft would append it twice
// and the second copy would re-apply a write after later ones. Real peer streams (TCP) do not
// duplicate; every other message type is duplicated as in the raft simulation.
import { Applier } from '../../src/core/apply/applier.js';
import type { ApplyItem, ApplyResult } from '../../src/core/apply/applier.js';
import type { InternalRequest, TxnResponse, DeleteRangeResponse, PutResponse } from '../../src/core/api/kv.js';
import { CompareResult, CompareTarget } from '../../src/core/api/kv.js';
import { KvStore } from '../../src/core/mvcc/kv-store.js';
import { EntryType } from '../../src/core/ports/storage-driver.js';
import type { Entry } from '../../src/core/ports/storage-driver.js';
import type { Message } from '../../src/core/raft/messages.js';
import { MessageType } from '../../src/core/raft/messages.js';
import type { Ready } from '../../src/core/raft/ready.js';
import { Role } from '../../src/core/raft/ready.js';
import { decodeInternalRequest, encodeInternalRequest } from '../../src/codec/messages.js';
import { MemoryBackend } from '../../src/drivers/memory/memory-backend.js';
import { encodeBackendSnapshot, restoreBackendSnapshot } from '../../src/server/backend-snapshot.js';
import type { HistoryOp, RegisterOp } from './linearizability.js';
import { checkHistory } from './linearizability.js';
import { RaftSim } from './raft-sim.js';
import type { SimNode, SimOptions, SimResult } from './raft-sim.js';

/** KV-host deliberately broken variants. TEST ONLY. */
export interface KvHostFaults {
  /**
   * Restart like raft-host.ts does today: no restore of the stored snapshot when the backend's
   * consistent index is below the persisted log's snapshot index (see the file comment).
   */
  readonly noSnapshotRecovery?: boolean;
}

/** The raft simulation's options, plus the clients' workload and the KV host's faults. */
export interface KvSimOptions extends SimOptions {
  /** Clients issuing requests (default: 2, 3 or 5, drawn from the seed). */
  readonly clients?: number;
  /** Keys the clients touch (default: 1, 2 or 3, drawn from the seed). */
  readonly keys?: number;
  readonly kvFaults?: KvHostFaults;
  /** Configurations the linearizability search may explore (default 2 000 000). */
  readonly checkerBudget?: number;
}

/** Ticks a client waits for an answer before it gives up (the write's outcome is then unknown). */
export const CLIENT_TIMEOUT_TICKS = 40;

/** Random events per seed by default (before the final heal-and-converge phase). */
export const KV_SIM_STEPS = 60000;

/** The default cluster size of a seed: odd seeds run 3 members, even seeds 5. */
export function nodesForSeed(seed: number): number {
  return seed % 2 === 0 ? 5 : 3;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

type OpSpec =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

/** A client request in flight. */
interface ClientOp {
  readonly id: number;
  readonly client: SimClient;
  readonly spec: OpSpec;
  readonly member: number;
  readonly call: number;
  readonly deadlineTick: number;
  done: boolean;
}

interface SimClient {
  readonly id: number;
  op: ClientOp | undefined;
  /** The member it talked to last (its leader hint comes from there). */
  lastMember: number;
  /** What it last saw of each key (for CAS expectations). */
  readonly seen: Map<string, string | null>;
  writes: number;
}

/** One member's state machine: the backend survives crashes, the rest is volatile. */
interface KvMember {
  readonly backend: MemoryBackend;
  store: KvStore | undefined;
  applier: Applier | undefined;
  /** Proposals of this incarnation waiting for their entry: request id → op. */
  readonly waiters: Map<number, ClientOp>;
  /** Reads waiting for their ReadIndex answer: context → op. */
  readonly reads: Map<string, ClientOp>;
  /** Reads whose read index is known, waiting for the member to apply it. */
  pendingReads: Array<{ op: ClientOp; index: number }>;
}

/** An acknowledged write, checked against every member's history at the end. */
interface AckedWrite {
  readonly index: number;
  readonly revision: number;
  readonly key: string;
  /** The value at `revision` (null: deleted there). */
  readonly value: string | null;
}

/** See the file comment. */
export class KvSim extends RaftSim {
  private readonly kvOpts: KvSimOptions;
  private readonly members = new Map<number, KvMember>();
  private readonly clients: SimClient[] = [];
  private readonly keyNames: string[] = [];
  private readonly history: HistoryOp[] = [];
  /** Logical time of history events: every call and every return gets the next value. */
  private time = 0;
  private ticks = 0;
  private requestSeq = 0;
  /** consistent index → the key-space hash first seen there (with its revision and member). */
  private readonly hashAt = new Map<number, { hash: number; revision: number; member: number }>();
  /** log index → the entry data first applied there (latin1), for acknowledged-write checks. */
  private readonly firstApplied = new Map<number, string>();
  /** log index → data of the entry a client was told succeeded. */
  private readonly ackedAt = new Map<number, string>();
  private readonly acked: AckedWrite[] = [];
  /** Recent values written per key (CAS expectations of clients that know nothing). */
  private readonly recent = new Map<string, string[]>();

  constructor(opts: KvSimOptions) {
    super(opts);
    this.kvOpts = opts;
    const clients = opts.clients ?? this.pick([2, 3, 5]);
    const keys = opts.keys ?? this.pick([1, 2, 3]);
    for (let i = 0; i < keys; i++) this.keyNames.push(`k${i}`);
    for (let i = 1; i <= clients; i++) this.clients.push({ id: i, op: undefined, lastMember: 0, seen: new Map(), writes: 0 });
    this.note(`kv clients=${clients} keys=${keys}`, 100, clients, keys);
  }

  private now(): number {
    return ++this.time;
  }

  // ---- the sim host: the engine's hooks ----

  protected override onStarted(n: SimNode, snapshotPayload: Uint8Array | undefined): void {
    let m = this.members.get(n.id);
    if (m === undefined) {
      m = { backend: new MemoryBackend(), store: undefined, applier: undefined, waiters: new Map(), reads: new Map(), pendingReads: [] };
      this.members.set(n.id, m);
    }
    m.store = new KvStore(m.backend);
    const snapIndex = n.storage.snapshotMeta().index;
    if (this.opts.keepTrace) this.trace.push(`${n.id} store opened at index ${m.store.consistentIndex} revision ${m.store.currentRevision}, log snapshot ${snapIndex}`);
    if (m.store.consistentIndex < snapIndex && !this.kvOpts.kvFaults?.noSnapshotRecovery) {
      // The log restarts after entries this backend never applied: restore the snapshot first.
      this.check(snapshotPayload !== undefined && snapshotPayload.byteLength > 0, `node ${n.id}: log starts after ${snapIndex} but no snapshot data to restore`);
      restoreBackendSnapshot(m.backend, snapshotPayload);
      m.store.reload();
      this.count('restartsFromSnapshot');
      this.note(`${n.id} restore stored snapshot ${snapIndex}`, 101, n.id, snapIndex);
    }
    // The rebuilt projection must equal the one this member (or any other) had at that index.
    this.recordHash(n.id, m.store);
    m.applier = new Applier(m.store);
    m.waiters.clear();
    m.reads.clear();
    m.pendingReads = [];
  }

  protected override onStopped(n: SimNode, _removed: boolean): void {
    const m = this.members.get(n.id)!;
    // The clients' connections to it break: they give up on their requests at once.
    for (const c of this.clients) if (c.op !== undefined && c.op.member === n.id) this.giveUp(c.op, 'connection lost');
    // Everything but the backend is process memory.
    m.store = undefined;
    m.applier = undefined;
    m.waiters.clear();
    m.reads.clear();
    m.pendingReads = [];
  }

  protected override snapshotPayload(n: SimNode): Uint8Array {
    return encodeBackendSnapshot(this.members.get(n.id)!.backend);
  }

  protected override finalProposal(): Uint8Array {
    return new Uint8Array(0); // an empty entry: applied as a no-op (request null)
  }

  protected override mayDuplicate(m: Message): boolean {
    return m.type !== MessageType.Prop;
  }

  protected override applyToMachine(n: SimNode, _rd: Ready, snapshotPayload: Uint8Array | undefined, entries: readonly Entry[], readIndexes: ReadonlyMap<string, number>): void {
    const m = this.members.get(n.id)!;
    const store = m.store!;
    if (snapshotPayload !== undefined) {
      restoreBackendSnapshot(m.backend, snapshotPayload);
      store.reload();
      this.recordHash(n.id, store);
    }
    if (entries.length > 0) {
      const items: ApplyItem[] = [];
      const mine = new Set<number>();
      const data = new Map<number, string>();
      for (const e of entries) {
        const d = latin1(e.data);
        data.set(e.index, d);
        const first = this.firstApplied.get(e.index);
        if (first === undefined) this.firstApplied.set(e.index, d);
        const ack = this.ackedAt.get(e.index);
        if (ack !== undefined) this.check(ack === d, `acknowledged write lost: node ${n.id} applies another entry at index ${e.index} than the one whose success a client was told`);
        if (e.type === EntryType.ConfChange || e.data.byteLength === 0) {
          items.push({ index: e.index, request: null });
        } else {
          const request = decodeInternalRequest(e.data);
          if (request.origin === n.id) mine.add(e.index);
          items.push({ index: e.index, request });
        }
      }
      const { results } = m.applier!.applyBatch(items);
      for (const r of results) if (mine.has(r.index)) this.answerWrite(n.id, m, r, data.get(r.index)!);
      this.recordHash(n.id, store);
    }
    for (const [ctx, index] of readIndexes) {
      const op = m.reads.get(ctx);
      if (op === undefined) continue;
      m.reads.delete(ctx);
      m.pendingReads.push({ op, index });
    }
    if (m.pendingReads.length > 0) {
      const still: Array<{ op: ClientOp; index: number }> = [];
      for (const pr of m.pendingReads) {
        if (pr.op.done) continue;
        if (pr.index <= n.appliedIndex) this.answerRead(n.id, store, pr.op);
        else still.push(pr);
      }
      m.pendingReads = still;
    }
  }

  /** Equal key-space hashes at equal consistent index, on every member, across snapshots. */
  private recordHash(id: number, store: KvStore): void {
    const ci = store.consistentIndex;
    const h = store.hashKV();
    const prev = this.hashAt.get(ci);
    if (prev === undefined) {
      this.hashAt.set(ci, { hash: h.hash, revision: h.revision, member: id });
      return;
    }
    this.count('hashesCompared');
    this.check(
      prev.hash === h.hash && prev.revision === h.revision,
      `key-space hash differs at applied index ${ci}: node ${prev.member} had ${prev.hash.toString(16)} at revision ${prev.revision}, node ${id} has ${h.hash.toString(16)} at revision ${h.revision}`,
    );
  }

  private answerWrite(memberId: number, m: KvMember, r: ApplyResult, data: string): void {
    const op = m.waiters.get(r.requestId);
    if (op === undefined) return;
    m.waiters.delete(r.requestId);
    if (op.done) return;
    this.check(r.error === undefined, `client ${op.client.id}: unexpected error ${r.error?.code} for ${op.spec.kind} at index ${r.index}`);
    const first = this.firstApplied.get(r.index);
    this.check(first === data, `acknowledged write lost: index ${r.index} was first applied with another entry than the one acknowledged by node ${memberId}`);
    this.ackedAt.set(r.index, data);
    const spec = op.spec;
    let out: RegisterOp;
    switch (spec.kind) {
      case 'put': {
        const resp = r.response as PutResponse;
        out = { kind: 'put', value: spec.value };
        this.acked.push({ index: r.index, revision: resp.header.revision, key: spec.key, value: spec.value });
        op.client.seen.set(spec.key, spec.value);
        break;
      }
      case 'delete': {
        const resp = r.response as DeleteRangeResponse;
        out = { kind: 'delete', output: resp.deleted > 0 };
        if (resp.deleted > 0) this.acked.push({ index: r.index, revision: resp.header.revision, key: spec.key, value: null });
        op.client.seen.set(spec.key, null);
        break;
      }
      case 'cas': {
        const resp = r.response as TxnResponse;
        out = { kind: 'cas', expected: spec.expected, value: spec.value, output: resp.succeeded };
        if (resp.succeeded) {
          this.acked.push({ index: r.index, revision: resp.header.revision, key: spec.key, value: spec.value });
          op.client.seen.set(spec.key, spec.value);
        } else {
          op.client.seen.delete(spec.key);
        }
        break;
      }
      case 'get':
        throw new Error('a read answered as a write');
    }
    this.finishOp(op, out, this.now());
    this.count('writesAcked');
  }

  private answerRead(memberId: number, store: KvStore, op: ClientOp): void {
    const spec = op.spec;
    const r = store.range({ key: enc.encode(spec.key) });
    const value = r.kvs.length === 0 ? null : dec.decode(r.kvs[0]!.value);
    op.client.seen.set(spec.key, value);
    this.finishOp(op, { kind: 'get', output: value }, this.now());
    this.note(`${memberId} read ${spec.key} → ${value}`, 102, memberId);
    this.count('readsAnswered');
  }

  private finishOp(op: ClientOp, out: RegisterOp, ret: number): void {
    op.done = true;
    op.client.op = undefined;
    this.history.push({ id: op.id, client: op.client.id, key: op.spec.key, call: op.call, ret, op: out });
    this.note(`client ${op.client.id} #${op.id} ${op.spec.kind} ${op.spec.key} done ${ret === Infinity ? 'unknown' : JSON.stringify(out)}`, 103, op.client.id, op.id, ret === Infinity ? 0 : ret);
  }

  // ---- clients ----

  protected override propose(): void {
    // Several clients at once, so that their requests overlap (and batch).
    const k = 1 + this.rnd.nextInt(2);
    for (let i = 0; i < k; i++) this.clientRequest(false);
  }

  protected override read(): void {
    this.clientRequest(true);
  }

  protected override onTick(): void {
    this.ticks++;
    for (const c of this.clients) {
      if (c.op !== undefined && c.op.deadlineTick <= this.ticks) this.giveUp(c.op, 'timeout');
    }
  }

  /**
   * The client stops waiting: its member forgets the request (raft-host's timeout), a write's
   * outcome is unknown, and an unanswered read tells nothing.
   */
  private giveUp(op: ClientOp, why: string): void {
    const c = op.client;
    const m = this.members.get(op.member);
    for (const [id, w] of m?.waiters ?? []) if (w === op) m!.waiters.delete(id);
    this.note(`client ${c.id} #${op.id} ${why}`, 104, c.id, op.id);
    if (op.spec.kind === 'get') {
      op.done = true;
      c.op = undefined;
      this.count('readsUnanswered');
    } else {
      c.seen.delete(op.spec.key);
      this.finishOp(op, this.unknownOutcome(op.spec), Infinity);
      this.count('writesUnknown');
    }
  }

  private unknownOutcome(spec: OpSpec): RegisterOp {
    switch (spec.kind) {
      case 'put':
        return { kind: 'put', value: spec.value };
      case 'delete':
        return { kind: 'delete' };
      case 'cas':
        return { kind: 'cas', expected: spec.expected, value: spec.value };
      case 'get':
        throw new Error('reads have no unknown outcome');
    }
  }

  /** One client (that is idle) sends one request; or, rarely, the admin compacts the history. */
  private clientRequest(readBias: boolean): void {
    if (this.rnd.nextFloat() < 0.02) {
      this.compactHistory();
      return;
    }
    const idle = this.clients.filter((c) => c.op === undefined);
    const live = this.live();
    if (idle.length === 0 || live.length === 0) return;
    const c = this.pick(idle);
    // Through the member it believes leads (its last member's leader hint), else any member;
    // raft-host.ts refuses at once when it knows no leader (the request never happened), and
    // the client tries another member, up to three in all.
    let n: SimNode | undefined;
    for (let attempt = 0; attempt < 3 && n === undefined; attempt++) {
      const hinted = this.nodes.get(this.nodes.get(c.lastMember)?.node?.raft.lead ?? 0);
      const cand = hinted?.node !== undefined && this.rnd.nextFloat() < 0.8 ? hinted : this.pick(live);
      c.lastMember = cand.id;
      if (cand.node!.raft.lead !== 0) n = cand;
      else this.count('refusedNoLeader');
    }
    if (n === undefined) return;
    const key = this.pick(this.keyNames);
    const spec = this.drawOp(c, key, readBias);
    const m = this.members.get(n.id)!;
    const op: ClientOp = { id: ++this.seq, client: c, spec, member: n.id, call: this.now(), deadlineTick: this.ticks + CLIENT_TIMEOUT_TICKS, done: false };
    if (spec.kind === 'get') {
      const ctx = `c${op.id}`;
      if (!this.issueRead(n, ctx)) {
        this.count('refusedRead');
        return;
      }
      m.reads.set(ctx, op);
    } else {
      const requestId = ++this.requestSeq;
      const req: InternalRequest = { id: requestId, origin: n.id, ...this.requestOf(spec) };
      if (!n.node!.propose(encodeInternalRequest(req))) {
        this.count('refusedProposal');
        return;
      }
      m.waiters.set(requestId, op);
      if (spec.kind !== 'delete') {
        let r = this.recent.get(key);
        if (r === undefined) this.recent.set(key, (r = []));
        r.push(spec.value);
        if (r.length > 4) r.shift();
      }
    }
    c.op = op;
    this.note(`client ${c.id} #${op.id} ${JSON.stringify(spec)} via ${n.id}`, 105, c.id, op.id, n.id);
    this.count(`ops.${spec.kind}`);
  }

  private drawOp(c: SimClient, key: string, readBias: boolean): OpSpec {
    const x = this.rnd.nextFloat();
    if (readBias ? x < 0.8 : x < 0.15) return { kind: 'get', key };
    const y = this.rnd.nextFloat();
    const value = `${c.id}.${++c.writes}`;
    if (y < 0.45) return { kind: 'put', key, value };
    if (y < 0.6) return { kind: 'delete', key };
    // CAS: from what this client saw last, else a recent value, else absent.
    let expected: string | null;
    const seen = c.seen.get(key);
    const recent = this.recent.get(key) ?? [];
    if (seen !== undefined && this.rnd.nextFloat() < 0.8) expected = seen;
    else if (recent.length > 0 && this.rnd.nextFloat() < 0.7) expected = this.pick(recent);
    else expected = null;
    return { kind: 'cas', key, expected, value };
  }

  private requestOf(spec: OpSpec): Omit<InternalRequest, 'id' | 'origin'> {
    const key = enc.encode(spec.key);
    switch (spec.kind) {
      case 'put':
        return { put: { key, value: enc.encode(spec.value) } };
      case 'delete':
        return { deleteRange: { key } };
      case 'cas': {
        const compare =
          spec.expected === null
            ? { key, target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: 0 }
            : { key, target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: enc.encode(spec.expected) };
        return { txn: { compare: [compare], success: [{ requestPut: { key, value: enc.encode(spec.value) } }], failure: [] } };
      }
      case 'get':
        throw new Error('a read is not proposed');
    }
  }

  /** The admin compacts the MVCC history a few revisions back, through the leader (no waiter). */
  private compactHistory(): void {
    const ld = this.leader();
    if (ld === undefined) return;
    const store = this.members.get(ld.id)!.store!;
    const revision = store.currentRevision - this.pick([0, 2, 10]);
    if (revision <= store.compactRevision) return;
    const ok = ld.node!.propose(encodeInternalRequest({ id: 0, origin: ld.id, compaction: { revision } }));
    this.note(`compact history ${revision} via ${ld.id} ${ok}`, 106, ld.id, revision, ok ? 1 : 0);
    this.count('historyCompactions');
  }

  // ---- end of run ----

  protected override finish(converged: boolean): void {
    // Requests still in flight: a write's outcome is unknown; a read tells nothing.
    for (const c of this.clients) {
      const op = c.op;
      if (op === undefined) continue;
      if (op.spec.kind === 'get') {
        op.done = true;
        c.op = undefined;
      } else {
        this.finishOp(op, this.unknownOutcome(op.spec), Infinity);
      }
    }
    if (converged) this.checkFinalState();
    const r = checkHistory(this.history, this.kvOpts.checkerBudget);
    this.stats['historyOps'] = this.history.length;
    this.stats['checkerExplored'] = r.explored;
    this.check(r.decided, `linearizability: undecided on key ${r.key} within the search budget (${r.explored} configurations)`);
    this.check(r.ok, `linearizability: the history of key ${r.key} is not linearizable\n${r.explanation ?? ''}`);
  }

  /** Every member of the converged cluster: the same key space, and every acknowledged write in it. */
  private checkFinalState(): void {
    const ld = this.leader();
    if (ld === undefined) return;
    const r = ld.node!.raft;
    let first: { id: number; ci: number; hash: number } | undefined;
    for (const id of [...r.trk.voters, ...r.trk.learners]) {
      const n = this.nodes.get(id);
      const store = this.members.get(id)?.store;
      if (n?.node === undefined || store === undefined) continue;
      const h = store.hashKV();
      if (first === undefined) first = { id, ci: store.consistentIndex, hash: h.hash };
      else {
        this.check(first.ci === store.consistentIndex && first.hash === h.hash, `final state: node ${first.id} at index ${first.ci} hash ${first.hash.toString(16)}, node ${id} at index ${store.consistentIndex} hash ${h.hash.toString(16)}`);
      }
      for (const w of this.acked) {
        if (w.revision < store.compactRevision) continue;
        this.check(w.revision <= store.currentRevision, `acknowledged write lost: node ${id} is at revision ${store.currentRevision}, below acknowledged revision ${w.revision} (index ${w.index})`);
        const kvs = store.range({ key: enc.encode(w.key), revision: w.revision }).kvs;
        const got = kvs.length === 0 ? null : dec.decode(kvs[0]!.value);
        this.check(got === w.value, `acknowledged write lost: node ${id} has ${w.key}=${got} at revision ${w.revision}, a client was told ${w.value ?? '(deleted)'} (index ${w.index})`);
      }
    }
    this.count(r.role === Role.Leader ? 'convergedWithLeader' : 'convergedOther');
  }

  /** The clients' history (after run()). */
  clientHistory(): readonly HistoryOp[] {
    return this.history;
  }
}

/** Runs one seed of the full-stack simulation. */
export function runKvSim(opts: KvSimOptions): SimResult {
  return new KvSim(opts).run();
}

/** The defaults of a seed: its cluster size and the step count. */
export function kvSimDefaults(seed: number): KvSimOptions {
  return { seed, nodes: nodesForSeed(seed), steps: KV_SIM_STEPS };
}

/** The one-line command that replays `opts` (with `--trace` appended by the caller if wanted). */
export function kvReproCommand(opts: KvSimOptions): string {
  const parts = [`SEED=${opts.seed} node dist/test/sim/run-kv-sim.js --seed ${opts.seed}`];
  if (opts.nodes !== nodesForSeed(opts.seed)) parts.push(`--nodes ${opts.nodes}`);
  if (opts.steps !== KV_SIM_STEPS) parts.push(`--steps ${opts.steps}`);
  const f = opts.faults ?? {};
  for (const k of Object.keys(f) as (keyof typeof f)[]) if (f[k]) parts.push(`--fault ${k}`);
  if (opts.hostFaults?.sendBeforePersist) parts.push('--fault sendBeforePersist');
  if (opts.kvFaults?.noSnapshotRecovery) parts.push('--fault noSnapshotRecovery');
  if (opts.membership === false) parts.push('--no-membership');
  if (opts.protocolChecks === false) parts.push('--no-protocol-checks');
  if (opts.raftChecks === false) parts.push('--no-raft-checks');
  if (opts.checkQuorum !== undefined) parts.push(`--check-quorum ${opts.checkQuorum}`);
  if (opts.preVote !== undefined) parts.push(`--pre-vote ${opts.preVote}`);
  if (opts.parallelAppend !== undefined) parts.push(`--parallel-append ${opts.parallelAppend}`);
  if (opts.clients !== undefined) parts.push(`--clients ${opts.clients}`);
  if (opts.keys !== undefined) parts.push(`--keys ${opts.keys}`);
  return parts.join(' ');
}
