// A naive model of etcd's KV semantics for oracle tests: the full history of every key in a
// Map of arrays, read by linear scans, with no index, no encoding and no backend. It shares
// only the request validators with the real code (those have their own table tests).
import type {
  Compare,
  DeleteRangeRequest,
  Event,
  InternalRequest,
  KeyValue,
  PutRequest,
  RangeRequest,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '../../../src/core/api/kv.js';
import { CompareResult, CompareTarget, EMPTY, EventType, SortOrder, SortTarget } from '../../../src/core/api/kv.js';
import { validateCompaction, validateDeleteRange, validatePut, validateTxn } from '../../../src/core/apply/validate.js';
import { CompactedError, FutureRevisionError, KvError } from '../../../src/core/errors.js';
import { s } from '../mvcc/util.js';

interface Change {
  main: number;
  kv: KeyValue | null; // null: deleted
}

const header = (revision: number): ResponseHeader => ({ clusterId: 0, memberId: 0, revision, raftTerm: 0 });

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  const x = s(a);
  const y = s(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface ModelResult {
  response?: unknown;
  error?: KvError;
  events: Event[];
}

export class KvModel {
  rev = 1;
  compactRev = 0;
  readonly hist = new Map<string, Change[]>();

  constructor(private readonly leases: Set<number>) {}

  private at(key: string, atRev: number): KeyValue | undefined {
    let found: Change | undefined;
    for (const c of this.hist.get(key) ?? []) if (c.main <= atRev) found = c;
    return found?.kv ?? undefined;
  }

  private inRange(key: Uint8Array, rangeEnd: Uint8Array | null | undefined, k: string): boolean {
    const start = s(key);
    if (rangeEnd === null || rangeEnd === undefined || rangeEnd.length === 0) return k === start;
    if (rangeEnd.length === 1 && rangeEnd[0] === 0) return k >= start;
    return k >= start && k < s(rangeEnd);
  }

  private kvsIn(key: Uint8Array, rangeEnd: Uint8Array | null | undefined, atRev: number): KeyValue[] {
    return [...this.hist.keys()]
      .sort()
      .filter((k) => this.inRange(key, rangeEnd, k))
      .map((k) => this.at(k, atRev))
      .filter((kv): kv is KeyValue => kv !== undefined);
  }

  /** Range at view revision `viewRev`, spec 9.3 read literally. */
  range(req: RangeRequest, viewRev: number = this.rev): { kvs: KeyValue[]; more: boolean; count: number } {
    let rev = req.revision ?? 0;
    if (rev > viewRev) throw new FutureRevisionError(viewRev);
    if (rev <= 0) rev = viewRev;
    if (rev < this.compactRev) throw new CompactedError(this.compactRev);
    let kvs = this.kvsIn(req.key, req.rangeEnd, rev);
    const count = kvs.length;
    if (req.countOnly) return { kvs: [], more: false, count };
    const limit = req.limit ?? 0;
    const order = req.sortOrder ?? SortOrder.NONE;
    const target = req.sortTarget ?? SortTarget.KEY;
    const [minMod, maxMod, minCreate, maxCreate] = [req.minModRevision ?? 0, req.maxModRevision ?? 0, req.minCreateRevision ?? 0, req.maxCreateRevision ?? 0];
    const filtered = minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0;
    // etcd fetches only limit+1 keys when it neither sorts explicitly nor filters.
    if (order === SortOrder.NONE && !filtered && limit > 0) kvs = kvs.slice(0, limit + 1);
    kvs = kvs.filter(
      (kv) =>
        (maxMod === 0 || kv.modRevision <= maxMod) &&
        (minMod === 0 || kv.modRevision >= minMod) &&
        (maxCreate === 0 || kv.createRevision <= maxCreate) &&
        (minCreate === 0 || kv.createRevision >= minCreate),
    );
    const effective = target !== SortTarget.KEY && order === SortOrder.NONE ? SortOrder.ASCEND : order;
    if (effective !== SortOrder.NONE) {
      const by = (kv: KeyValue): number | string =>
        target === SortTarget.VERSION ? kv.version : target === SortTarget.CREATE ? kv.createRevision : target === SortTarget.MOD ? kv.modRevision : target === SortTarget.VALUE ? s(kv.value) : s(kv.key);
      const sign = effective === SortOrder.DESCEND ? -1 : 1;
      kvs = [...kvs].sort((a, b) => {
        const x = by(a);
        const y = by(b);
        return x < y ? -sign : x > y ? sign : 0;
      });
    }
    let more = false;
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit);
      more = true;
    }
    if (req.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
    return { kvs, more, count };
  }

  apply(req: InternalRequest): ModelResult {
    const events: Event[] = [];
    try {
      let response: unknown;
      if (req.put) response = this.put(req.put, events);
      else if (req.deleteRange) response = this.deleteRange(req.deleteRange, events);
      else if (req.txn) response = this.txn(req.txn, events);
      else if (req.compaction) {
        validateCompaction(req.compaction);
        if (req.compaction.revision <= this.compactRev) throw new CompactedError(this.compactRev);
        if (req.compaction.revision > this.rev) throw new FutureRevisionError(this.rev);
        this.compactRev = req.compaction.revision;
        response = { header: header(this.rev) };
      }
      if (events.length > 0) this.rev++;
      return { response, events };
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      return { error: e, events: [] };
    }
  }

  // ---- writes, at revision rev + 1; `events.length > 0` means "changed" ----

  private doPut(p: PutRequest, events: Event[]): { prev?: KeyValue; rev: number } {
    const k = s(p.key);
    const main = this.rev + 1;
    const prev = this.at(k, main);
    const kv: KeyValue = {
      key: p.key,
      createRevision: prev ? prev.createRevision : main,
      modRevision: main,
      version: prev ? prev.version + 1 : 1,
      value: p.ignoreValue ? prev!.value : (p.value ?? EMPTY),
      lease: p.ignoreLease ? prev!.lease : (p.lease ?? 0),
    };
    const h = this.hist.get(k) ?? [];
    h.push({ main, kv });
    this.hist.set(k, h);
    events.push({ type: EventType.PUT, kv, prevKv: prev ?? null });
    return { prev, rev: main };
  }

  private doDelete(d: DeleteRangeRequest, events: Event[]): KeyValue[] {
    const main = this.rev + 1;
    const prevs = this.kvsIn(d.key, d.rangeEnd, main);
    for (const prev of prevs) {
      this.hist.get(s(prev.key))!.push({ main, kv: null });
      events.push({
        type: EventType.DELETE,
        kv: { key: prev.key, createRevision: 0, modRevision: main, version: 0, value: EMPTY, lease: 0 },
        prevKv: prev,
      });
    }
    return prevs;
  }

  private view(events: Event[]): number {
    return events.length > 0 ? this.rev + 1 : this.rev;
  }

  private put(p: PutRequest, events: Event[]): unknown {
    validatePut(p);
    if ((p.lease ?? 0) !== 0 && !this.leases.has(p.lease!)) throw new KvError('LeaseNotFound');
    if ((p.ignoreValue || p.ignoreLease) && this.at(s(p.key), this.rev) === undefined) throw new KvError('KeyNotFound');
    return this.putResponse(p, this.doPut(p, events).prev, events);
  }

  private putResponse(p: PutRequest, prev: KeyValue | undefined, events: Event[]): unknown {
    return p.prevKv && prev ? { header: header(this.view(events)), prevKv: prev } : { header: header(this.view(events)) };
  }

  private deleteRange(d: DeleteRangeRequest, events: Event[]): unknown {
    validateDeleteRange(d);
    const prevs = this.doDelete(d, events);
    return { header: header(this.view(events)), deleted: prevs.length, prevKvs: d.prevKv ? prevs : [] };
  }

  private compare(c: Compare): boolean {
    const kvs = this.kvsIn(c.key, c.rangeEnd, this.rev);
    const target = c.target ?? CompareTarget.VERSION;
    if (kvs.length === 0 && target === CompareTarget.VALUE) return false;
    const check = (kv: KeyValue | undefined): boolean => {
      let r: number;
      if (target === CompareTarget.VALUE) r = cmpBytes(kv!.value, c.value ?? EMPTY);
      else {
        const field = { [CompareTarget.VERSION]: 'version', [CompareTarget.CREATE]: 'createRevision', [CompareTarget.MOD]: 'modRevision', [CompareTarget.LEASE]: 'lease' } as const;
        const name = field[target];
        const mine = kv === undefined ? 0 : kv[name];
        const theirs = c[name] ?? 0;
        r = mine < theirs ? -1 : mine > theirs ? 1 : 0;
      }
      const result = c.result ?? CompareResult.EQUAL;
      return result === CompareResult.EQUAL ? r === 0 : result === CompareResult.NOT_EQUAL ? r !== 0 : result === CompareResult.GREATER ? r > 0 : r < 0;
    };
    return kvs.length === 0 ? check(undefined) : kvs.every(check);
  }

  /** The branch each txn of the tree takes, keyed by the TxnRequest object. */
  private decide(t: TxnRequest, path: Map<TxnRequest, boolean>): void {
    const ok = (t.compare ?? []).every((c) => this.compare(c));
    path.set(t, ok);
    for (const op of (ok ? t.success : t.failure) ?? []) if (op.requestTxn) this.decide(op.requestTxn, path);
  }

  private branchOps(t: TxnRequest, path: Map<TxnRequest, boolean>): RequestOp[] {
    const ops = (path.get(t) ? t.success : t.failure) ?? [];
    return ops.flatMap((op) => (op.requestTxn ? this.branchOps(op.requestTxn, path) : [op]));
  }

  private txn(t: TxnRequest, events: Event[]): unknown {
    validateTxn(t, Infinity);
    const path = new Map<TxnRequest, boolean>();
    this.decide(t, path);
    const flat = this.branchOps(t, path);
    for (const op of flat) {
      const p = op.requestPut;
      if (!p) continue;
      if ((p.ignoreValue || p.ignoreLease) && this.at(s(p.key), this.rev) === undefined) throw new KvError('KeyNotFound');
      if ((p.lease ?? 0) !== 0 && !this.leases.has(p.lease!)) throw new KvError('LeaseNotFound');
    }
    for (const op of flat) {
      const r = op.requestRange;
      if (!r || (r.revision ?? 0) === 0) continue;
      if (r.revision! > this.rev) throw new FutureRevisionError(this.rev);
      if (r.revision! < this.compactRev) throw new CompactedError(this.compactRev);
    }
    const resp = this.exec(t, path, events) as TxnResponse;
    resp.header = header(this.view(events));
    return resp;
  }

  private exec(t: TxnRequest, path: Map<TxnRequest, boolean>, events: Event[]): TxnResponse {
    const succeeded = path.get(t)!;
    const responses: ResponseOp[] = ((succeeded ? t.success : t.failure) ?? []).map((op): ResponseOp => {
      if (op.requestRange) {
        const rr = this.range(op.requestRange, this.view(events));
        return { responseRange: { header: header(this.view(events)), ...rr } };
      }
      if (op.requestPut) {
        const { prev } = this.doPut(op.requestPut, events);
        return { responsePut: this.putResponse(op.requestPut, prev, events) as never };
      }
      if (op.requestDeleteRange) {
        const prevs = this.doDelete(op.requestDeleteRange, events);
        return { responseDeleteRange: { header: header(this.view(events)), deleted: prevs.length, prevKvs: op.requestDeleteRange.prevKv ? prevs : [] } };
      }
      return { responseTxn: this.exec(op.requestTxn!, path, events) };
    });
    return { header: header(0), succeeded, responses };
  }
}
