/**
 * The applier: the projection of committed Raft log entries onto the MVCC key space.
 *
 * For each committed entry, in log order, it runs the state-dependent checks and the write of
 * one request (Put, DeleteRange, Txn, Compaction), and answers it with a response or a typed
 * error. All changes of a batch of entries, plus the index of its last entry (the consistent
 * index), go to the backend in ONE atomic commit, so recovery = reopen + replay the log after
 * the consistent index, and replay skips what was already applied.
 *
 * Determinism: no clock, no randomness, no I/O besides the one backend commit; the same log
 * gives the same responses, events and backend bytes on every member. Requests are validated
 * again here (validate.ts), so a malformed entry that reached the log gets the same error on
 * every member instead of breaking the store.
 *
 * Revision accounting (spec 9.1): a Put always makes one new revision; a DeleteRange or a Txn
 * makes one only if it changed a key (a txn's changes share it, with sub revisions); a
 * failed request, a Range and a Compaction make none.
 *
 * Leases (with a `lessor`): the applier is also the lease table's only writer. A grant, a
 * checkpoint and a revoke change it and stage their `lease` bucket writes in the same backend
 * batch; a revoke deletes every attached key in ONE revision (keys in byte order, as etcd);
 * every revision's events keep the attachments in step (lessor.applyEvents).
 *
 * Alarms: ACTIVATE and DEACTIVATE entries change the alarm table (alarm-store.ts) and stage
 * their `alarm` bucket writes in the same batch. While an alarm is active the applier refuses,
 * on every member alike, what etcd 3.4's applierV3Capped and applierV3Corrupt refuse:
 *
 *   request              NOSPACE active              CORRUPT active
 *   Put                  etcdserver: mvcc: database  etcdserver: corrupt cluster
 *                        space exceeded
 *   Txn                  refused if a top-level put  refused unless read-only
 *                        (quota-cost.ts)
 *   DeleteRange          applied                     refused
 *   Compaction           applied                     refused
 *   LeaseGrant           refused                     refused
 *   LeaseRevoke          applied                     refused
 *   LeaseCheckpoint      applied                     applied
 *   Alarm                applied                     applied
 *
 * (CORRUPT is checked first; its error wins when both are active, as in etcd.)
 */
import type {
  Compare,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  InternalRequest,
  KeyValue,
  PutRequest,
  PutResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '../api/kv.js';
import { CompareResult, CompareTarget, EMPTY } from '../api/kv.js';
import type {
  LeaseCheckpointRequest,
  LeaseCheckpointResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
} from '../api/lease.js';
import { MAX_LEASE_TTL_SEC } from '../api/lease.js';
import type { AlarmRequest, AlarmResponse } from '../api/alarm.js';
import { AlarmAction, AlarmType } from '../api/alarm.js';
import { assert } from '../assert.js';
import type { Lessor } from '../lease/lessor.js';
import { CompactedError, FutureRevisionError, KvError, invalidArgument } from '../errors.js';
import { compareBytes } from '../mvcc/bytes.js';
import type { KvStore, KvWriteTxn, PutResult, RevisionChanges } from '../mvcc/kv-store.js';
import { AlarmStore } from './alarm-store.js';
import { txnCost, txnIsReadOnly } from './quota-cost.js';
import { validateAlarm, validateCompaction, validateDeleteRange, validatePut, validateTxn } from './validate.js';

export type { RevisionChanges } from '../mvcc/kv-store.js';

/** One committed log entry to apply. `request: null` is an entry nobody waits on. */
export interface ApplyItem {
  readonly index: number;
  readonly request: InternalRequest | null;
}

/** The answer to one applied request, for the waiter registered under `requestId`. */
export interface ApplyResult {
  readonly index: number;
  readonly requestId: number;
  readonly response?:
    | PutResponse
    | DeleteRangeResponse
    | TxnResponse
    | CompactionResponse
    | LeaseGrantResponse
    | LeaseRevokeResponse
    | LeaseCheckpointResponse
    | AlarmResponse;
  readonly error?: KvError;
}

/** Lease existence, as the applier needs it without a lessor (tests of the KV alone). */
export interface LeaseLookup {
  exists(id: number): boolean;
}

const NO_LEASES: LeaseLookup = { exists: () => false };

const ZERO_KV: KeyValue = { key: EMPTY, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0 };

/** Headers carry only the revision here; the server fills cluster id, member id and term. */
function header(revision: number): ResponseHeader {
  return { clusterId: 0, memberId: 0, revision, raftTerm: 0 };
}

function putResponse(req: PutRequest, r: PutResult, revision: number): PutResponse {
  const resp: PutResponse = { header: header(revision) };
  if (req.prevKv && r.prevKv !== undefined) resp.prevKv = r.prevKv;
  return resp;
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One compare against one KeyValue (etcd's compareKV); the target's union member or 0/empty. */
function compareKv(c: Compare, kv: KeyValue): boolean {
  let r: number;
  switch (c.target ?? CompareTarget.VERSION) {
    case CompareTarget.VALUE:
      r = compareBytes(kv.value, c.value ?? EMPTY);
      break;
    case CompareTarget.CREATE:
      r = compareNumbers(kv.createRevision, c.createRevision ?? 0);
      break;
    case CompareTarget.MOD:
      r = compareNumbers(kv.modRevision, c.modRevision ?? 0);
      break;
    case CompareTarget.VERSION:
      r = compareNumbers(kv.version, c.version ?? 0);
      break;
    case CompareTarget.LEASE:
      r = compareNumbers(kv.lease, c.lease ?? 0);
      break;
    default:
      r = 0;
  }
  switch (c.result ?? CompareResult.EQUAL) {
    case CompareResult.EQUAL:
      return r === 0;
    case CompareResult.NOT_EQUAL:
      return r !== 0;
    case CompareResult.GREATER:
      return r > 0;
    case CompareResult.LESS:
      return r < 0;
    default:
      return true;
  }
}

/** A position in a txn's path (the compare outcome of each txn, outer first, in pre-order). */
interface PathCursor {
  i: number;
}

/**
 * Applies committed entries to a KvStore (see the file comment). One instance per store; it is
 * the store's only writer. Not re-entrant: `applyBatch` runs to completion synchronously.
 */
export class Applier {
  private readonly leases: LeaseLookup;
  private readonly lessor: Lessor | undefined;
  /** The alarm table this applier maintains; read by the services (Status, Alarm GET, quota). */
  readonly alarms: AlarmStore;

  /**
   * `options.lessor`: the lease table this applier maintains (recovered from the same backend
   * beforehand); lease entries fail without it. `options.leases`: which lease IDs exist when
   * there is no lessor; by default none does (a put with a lease fails). `options.alarms`: the
   * alarm table, loaded from the same backend beforehand (default: a new, empty one).
   */
  constructor(
    private readonly store: KvStore,
    options: { leases?: LeaseLookup; lessor?: Lessor; alarms?: AlarmStore } = {},
  ) {
    this.lessor = options.lessor;
    this.leases = options.lessor ?? options.leases ?? NO_LEASES;
    this.alarms = options.alarms ?? new AlarmStore();
  }

  /**
   * Applies committed entries in log order and commits ONE backend batch holding all their
   * changes plus the consistent index (= the last item's index). Items at or below the store's
   * consistent index were applied before (replay after a restart) and are skipped without a
   * result. Returns one result per applied request, and the changes of every new revision in
   * order (for watchers). Deterministic: no clock, no randomness.
   */
  applyBatch(items: readonly ApplyItem[]): { results: ApplyResult[]; changes: RevisionChanges[] } {
    const results: ApplyResult[] = [];
    const changes: RevisionChanges[] = [];
    const applied = this.store.consistentIndex;
    let last = applied;
    for (const item of items) {
      if (item.index <= applied) continue;
      assert(Number.isSafeInteger(item.index) && item.index > last, `apply index ${item.index} after ${last}`);
      last = item.index;
      if (item.request !== null) results.push(this.applyRequest(item.index, item.request, changes));
    }
    if (last > applied) this.store.commit(last);
    return { results, changes };
  }

  private applyRequest(index: number, req: InternalRequest, changes: RevisionChanges[]): ApplyResult {
    const requestId = req.id;
    try {
      const members = [
        req.put,
        req.deleteRange,
        req.txn,
        req.compaction,
        req.leaseGrant,
        req.leaseRevoke,
        req.leaseCheckpoint,
        req.alarm,
      ].filter((m) => m !== null && m !== undefined);
      if (members.length !== 1) throw invalidArgument('an entry must carry exactly one request');
      this.checkAlarms(req);
      let response: ApplyResult['response'];
      if (req.put !== null && req.put !== undefined) response = this.applyPut(req.put, changes);
      else if (req.deleteRange !== null && req.deleteRange !== undefined) response = this.applyDeleteRange(req.deleteRange, changes);
      else if (req.txn !== null && req.txn !== undefined) response = this.applyTxn(req.txn, changes);
      else if (req.compaction !== null && req.compaction !== undefined) response = this.applyCompaction(req.compaction);
      else if (req.leaseGrant !== null && req.leaseGrant !== undefined) response = this.applyLeaseGrant(req.leaseGrant);
      else if (req.leaseRevoke !== null && req.leaseRevoke !== undefined) response = this.applyLeaseRevoke(req.leaseRevoke, changes);
      else if (req.leaseCheckpoint !== null && req.leaseCheckpoint !== undefined) response = this.applyLeaseCheckpoint(req.leaseCheckpoint);
      else response = this.applyAlarm(req.alarm!);
      return { index, requestId, response };
    } catch (e) {
      if (e instanceof KvError) return { index, requestId, error: e };
      throw e;
    }
  }

  /** Refuses what an active alarm forbids (the table in the file comment). Throws KvError. */
  private checkAlarms(req: InternalRequest): void {
    const alarms = this.alarms;
    if (alarms.has(AlarmType.CORRUPT)) {
      const txn = req.txn;
      if (
        (req.put ?? req.deleteRange ?? req.compaction ?? req.leaseGrant ?? req.leaseRevoke ?? null) !== null ||
        (txn !== null && txn !== undefined && !txnIsReadOnly(txn))
      ) {
        throw new KvError('Corrupt');
      }
    }
    if (alarms.has(AlarmType.NOSPACE)) {
      const txn = req.txn;
      if ((req.put ?? req.leaseGrant ?? null) !== null || (txn !== null && txn !== undefined && txnCost(txn) > 0)) {
        throw new KvError('NoSpace');
      }
    }
  }

  /**
   * An alarm entry (etcd's applierV3backend.Alarm): ACTIVATE answers with the alarm (new or
   * already active), DEACTIVATE with the alarm it cleared or none, GET with the active alarms
   * of the type (NONE: all). No header, as etcd 3.4.
   */
  private applyAlarm(req: AlarmRequest): AlarmResponse {
    validateAlarm(req);
    const memberID = req.memberID ?? 0;
    const type = req.alarm ?? AlarmType.NONE;
    switch (req.action ?? AlarmAction.GET) {
      case AlarmAction.ACTIVATE: {
        const r = this.alarms.activate(memberID, type);
        if (r.op !== undefined) this.store.stageOp(r.op);
        return { alarms: [r.alarm] };
      }
      case AlarmAction.DEACTIVATE: {
        const r = this.alarms.deactivate(memberID, type);
        if (r === undefined) return { alarms: [] };
        this.store.stageOp(r.op);
        return { alarms: [r.alarm] };
      }
      default:
        return { alarms: this.alarms.list(type) };
    }
  }

  /**
   * Runs `fn` in one write transaction. A KvError may only come before the first change (all
   * checks precede the writes); after one it would leave half a request applied, so that is
   * an assertion.
   */
  private runWrite<T>(changes: RevisionChanges[], fn: (txn: KvWriteTxn) => T): T {
    const txn = this.store.write();
    let result: T;
    try {
      result = fn(txn);
    } catch (e) {
      assert(!txn.changed, `request failed after changing the store: ${String(e)}`);
      txn.end();
      throw e;
    }
    const ch = txn.end();
    if (ch !== undefined) {
      changes.push(ch);
      this.lessor?.applyEvents(ch.events);
    }
    return result;
  }

  private needLessor(): Lessor {
    if (this.lessor === undefined) throw invalidArgument('this member keeps no leases');
    return this.lessor;
  }

  /**
   * A grant. The proposer chose the ID and raised the TTL to the minimum, so that the entry
   * alone decides the outcome; out-of-range values are re-checked as for any entry.
   */
  private applyLeaseGrant(req: LeaseGrantRequest): LeaseGrantResponse {
    const lessor = this.needLessor();
    const id = req.ID ?? 0;
    const ttl = req.TTL ?? 0;
    if (!Number.isSafeInteger(id) || id <= 0) throw invalidArgument(`lease ID must be a positive safe integer, got ${id}`);
    if (ttl > MAX_LEASE_TTL_SEC) throw new KvError('LeaseTTLTooLarge');
    if (!Number.isSafeInteger(ttl) || ttl < 1) throw invalidArgument(`lease TTL must be at least 1 second, got ${ttl}`);
    this.store.stageOp(lessor.grant(id, ttl));
    return { header: header(this.store.currentRevision), ID: id, TTL: ttl };
  }

  /** A revoke: the attached keys go in one revision (none if there are none), then the lease. */
  private applyLeaseRevoke(req: LeaseRevokeRequest, changes: RevisionChanges[]): LeaseRevokeResponse {
    const lessor = this.needLessor();
    const id = req.ID ?? 0;
    const keys = lessor.keysOf(id);
    if (keys === undefined) throw new KvError('LeaseNotFound');
    if (keys.length > 0) {
      this.runWrite(changes, (txn) => {
        for (const key of keys) {
          const deleted = txn.deleteRange(key);
          assert(deleted.length === 1 && deleted[0]!.lease === id, `attached key of lease ${id} not live on it`);
        }
      });
    }
    this.store.stageOp(lessor.remove(id));
    return { header: header(this.store.currentRevision) };
  }

  /** Checkpoints: remaining TTLs to remember; leases revoked since are skipped. */
  private applyLeaseCheckpoint(req: LeaseCheckpointRequest): LeaseCheckpointResponse {
    const lessor = this.needLessor();
    const cps = req.checkpoints ?? [];
    // Check every item before changing anything: a bad one fails the whole entry.
    for (const cp of cps) {
      const id = cp.ID ?? 0;
      const remaining = cp.remainingTTL ?? 0;
      if (!Number.isSafeInteger(id) || id <= 0) throw invalidArgument(`checkpoint lease ID must be positive, got ${id}`);
      if (!Number.isSafeInteger(remaining) || remaining < 0 || remaining > MAX_LEASE_TTL_SEC) {
        throw invalidArgument(`checkpoint remaining TTL out of range: ${remaining}`);
      }
    }
    for (const cp of cps) {
      const op = lessor.checkpoint(cp.ID!, cp.remainingTTL ?? 0);
      if (op !== undefined) this.store.stageOp(op);
    }
    return { header: header(this.store.currentRevision) };
  }

  private applyPut(req: PutRequest, changes: RevisionChanges[]): PutResponse {
    validatePut(req);
    const lease = req.lease ?? 0;
    // etcd's order for a plain Put: lease first, then the key for ignore_* (spec 9.4).
    if (lease !== 0 && !this.leases.exists(lease)) throw new KvError('LeaseNotFound');
    return this.runWrite(changes, (txn) => {
      const ignoreValue = req.ignoreValue === true;
      const ignoreLease = req.ignoreLease === true;
      if ((ignoreValue || ignoreLease) && !txn.exists(req.key)) throw new KvError('KeyNotFound');
      const r = txn.put(req.key, req.value ?? EMPTY, lease, ignoreValue, ignoreLease);
      return putResponse(req, r, txn.readRevision);
    });
  }

  private applyDeleteRange(req: DeleteRangeRequest, changes: RevisionChanges[]): DeleteRangeResponse {
    validateDeleteRange(req);
    return this.runWrite(changes, (txn) => {
      const prevs = txn.deleteRange(req.key, req.rangeEnd);
      return { header: header(txn.readRevision), deleted: prevs.length, prevKvs: req.prevKv ? prevs : [] };
    });
  }

  private applyCompaction(req: CompactionRequest): CompactionResponse {
    validateCompaction(req);
    // NB: `physical` needs no wait: the deletion is in this apply batch (see KvStore.compact).
    this.store.compact(req.revision);
    return { header: header(this.store.currentRevision) };
  }

  private applyTxn(req: TxnRequest, changes: RevisionChanges[]): TxnResponse {
    // Budget checks belong to the proposer (its --max-txn-ops); the rest is re-checked.
    validateTxn(req, Infinity);
    return this.runWrite(changes, (txn) => {
      // Every compare, nested ones included, sees the state before the txn (spec 9.6).
      const path: boolean[] = [];
      this.compareToPath(txn, req, path);
      // State-dependent checks of the branch that will run, before any write: puts first,
      // then ranges, as etcd orders them.
      this.checkRequests(req, path, { i: 0 }, (op) => this.checkPut(txn, op));
      this.checkRequests(req, path, { i: 0 }, (op) => this.checkRange(txn, op));
      const cursor = { i: 0 };
      const resp = this.execTxn(txn, req, path, cursor);
      assert(cursor.i === path.length, 'txn path not fully consumed');
      resp.header.revision = txn.readRevision;
      return resp;
    });
  }

  private compareToPath(txn: KvWriteTxn, req: TxnRequest, path: boolean[]): void {
    let ok = true;
    for (const c of req.compare ?? []) {
      if (!this.applyCompare(txn, c)) {
        ok = false;
        break;
      }
    }
    path.push(ok);
    for (const op of (ok ? req.success : req.failure) ?? []) {
      if (op.requestTxn !== null && op.requestTxn !== undefined) this.compareToPath(txn, op.requestTxn, path);
    }
  }

  /** Every key in the compare's range must satisfy it; on no key, VALUE is false, others see 0. */
  private applyCompare(txn: KvWriteTxn, c: Compare): boolean {
    const kvs = txn.kvs(c.key, c.rangeEnd);
    if (kvs.length === 0) return (c.target ?? CompareTarget.VERSION) !== CompareTarget.VALUE && compareKv(c, ZERO_KV);
    for (const kv of kvs) if (!compareKv(c, kv)) return false;
    return true;
  }

  private checkRequests(req: TxnRequest, path: boolean[], cursor: PathCursor, check: (op: RequestOp) => void): void {
    const ok = path[cursor.i++];
    assert(ok !== undefined, 'txn path too short');
    for (const op of (ok ? req.success : req.failure) ?? []) {
      if (op.requestTxn !== null && op.requestTxn !== undefined) this.checkRequests(op.requestTxn, path, cursor, check);
      else check(op);
    }
  }

  /** etcd's checkRequestPut inside a txn: the key for ignore_* first, then the lease. */
  private checkPut(txn: KvWriteTxn, op: RequestOp): void {
    const p = op.requestPut;
    if (p === null || p === undefined) return;
    if ((p.ignoreValue || p.ignoreLease) && !txn.exists(p.key)) throw new KvError('KeyNotFound');
    const lease = p.lease ?? 0;
    if (lease !== 0 && !this.leases.exists(lease)) throw new KvError('LeaseNotFound');
  }

  /**
   * etcd's checkRequestRange: 0 reads the latest; otherwise it must be within
   * [compactRevision, current]. NB: as in etcd, a negative revision inside a txn is below the
   * compact revision and fails as compacted (a top-level Range reads the latest instead).
   */
  private checkRange(txn: KvWriteTxn, op: RequestOp): void {
    const r = op.requestRange;
    if (r === null || r === undefined) return;
    const rev = r.revision ?? 0;
    if (rev === 0) return;
    if (rev > txn.beginRevision) throw new FutureRevisionError(txn.beginRevision);
    if (rev < this.store.compactRevision) throw new CompactedError(this.store.compactRevision);
  }

  /**
   * Runs the branch chosen by the path. Each inner response's header holds the revision the
   * txn had reached after that op; a nested TxnResponse's header revision stays 0, as in etcd.
   */
  private execTxn(txn: KvWriteTxn, req: TxnRequest, path: boolean[], cursor: PathCursor): TxnResponse {
    const succeeded = path[cursor.i++]!;
    const ops = (succeeded ? req.success : req.failure) ?? [];
    const responses: ResponseOp[] = new Array<ResponseOp>(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.requestRange !== null && op.requestRange !== undefined) {
        const rr = txn.range(op.requestRange);
        responses[i] = { responseRange: { header: header(txn.readRevision), kvs: rr.kvs, more: rr.more, count: rr.count } };
      } else if (op.requestPut !== null && op.requestPut !== undefined) {
        const p = op.requestPut;
        const r = txn.put(p.key, p.value ?? EMPTY, p.lease ?? 0, p.ignoreValue === true, p.ignoreLease === true);
        responses[i] = { responsePut: putResponse(p, r, txn.readRevision) };
      } else if (op.requestDeleteRange !== null && op.requestDeleteRange !== undefined) {
        const d = op.requestDeleteRange;
        const prevs = txn.deleteRange(d.key, d.rangeEnd);
        responses[i] = {
          responseDeleteRange: { header: header(txn.readRevision), deleted: prevs.length, prevKvs: d.prevKv ? prevs : [] },
        };
      } else if (op.requestTxn !== null && op.requestTxn !== undefined) {
        responses[i] = { responseTxn: this.execTxn(txn, op.requestTxn, path, cursor) };
      } else {
        assert(false, 'empty request op passed validation');
      }
    }
    return { header: header(0), succeeded, responses };
  }
}
