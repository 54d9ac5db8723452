/**
 * A builder for transactions and helpers to write their compares and operations:
 *
 * ```ts
 * await client.txn()
 *   .if(Cmp.version('lock', '=', 0))
 *   .then(Op.put('lock', 'me'), Op.get('config', { prefix: true }))
 *   .else(Op.get('lock'))
 *   .commit();
 * ```
 */
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
  TxnResponse,
} from '../core/api/kv.js';
import { CompareResult as R, CompareTarget as T } from '../core/api/kv.js';
import { keyRange, toBytes, type KeyLike, type RangeSelector } from './keys.js';
import type { CallOptions } from './client.js';

/** A comparison operator of a compare: equal, not equal, greater, less. */
export type CompareOp = '=' | '==' | '!=' | '>' | '<';

const RESULTS: Record<CompareOp, CompareResult> = {
  '=': R.EQUAL,
  '==': R.EQUAL,
  '!=': R.NOT_EQUAL,
  '>': R.GREATER,
  '<': R.LESS,
};

function result(op: CompareOp): CompareResult {
  const r = RESULTS[op];
  if (r === undefined) throw new TypeError(`unknown compare operator ${JSON.stringify(op)}`);
  return r;
}

function compare(
  key: KeyLike,
  op: CompareOp,
  target: CompareTarget,
  member: Partial<Compare>,
  sel: RangeSelector | undefined,
): Compare {
  const r = keyRange(key, sel);
  return { key: r.key, rangeEnd: r.rangeEnd, result: result(op), target, ...member };
}

/**
 * Compares of a txn's `if`. Each one compares one attribute of the key (or of every key in the
 * range given by `sel`) against a constant; a missing key has version, revisions and lease 0.
 */
export const Cmp = {
  value: (key: KeyLike, op: CompareOp, value: KeyLike, sel?: RangeSelector): Compare =>
    compare(key, op, T.VALUE, { value: toBytes(value) }, sel),
  version: (key: KeyLike, op: CompareOp, version: number, sel?: RangeSelector): Compare =>
    compare(key, op, T.VERSION, { version }, sel),
  createRevision: (key: KeyLike, op: CompareOp, revision: number, sel?: RangeSelector): Compare =>
    compare(key, op, T.CREATE, { createRevision: revision }, sel),
  modRevision: (key: KeyLike, op: CompareOp, revision: number, sel?: RangeSelector): Compare =>
    compare(key, op, T.MOD, { modRevision: revision }, sel),
  lease: (key: KeyLike, op: CompareOp, lease: number, sel?: RangeSelector): Compare =>
    compare(key, op, T.LEASE, { lease }, sel),
};

/** Options of `Op.get`: a range selector plus the RangeRequest fields other than the key range. */
export type GetOpOptions = RangeSelector & Omit<RangeRequest, 'key' | 'rangeEnd'>;
/** Options of `Op.put`: the PutRequest fields other than key and value. */
export type PutOpOptions = Omit<PutRequest, 'key' | 'value'>;
/** Options of `Op.delete`: a range selector plus `prevKv`. */
export type DeleteOpOptions = RangeSelector & Omit<DeleteRangeRequest, 'key' | 'rangeEnd'>;

/** Builds a RangeRequest from a key and `get` options. */
export function rangeRequest(key: KeyLike, o: GetOpOptions | undefined): RangeRequest {
  const { prefix, fromKey, rangeEnd, ...rest } = o ?? {};
  const r = keyRange(key, { prefix, fromKey, rangeEnd });
  return { ...rest, key: r.key, rangeEnd: r.rangeEnd };
}

/** Builds a DeleteRangeRequest from a key and `delete` options. */
export function deleteRangeRequest(key: KeyLike, o: DeleteOpOptions | undefined): DeleteRangeRequest {
  const { prefix, fromKey, rangeEnd, ...rest } = o ?? {};
  const r = keyRange(key, { prefix, fromKey, rangeEnd });
  return { ...rest, key: r.key, rangeEnd: r.rangeEnd };
}

/** Operations of a txn's `then` / `else` branches. */
export const Op = {
  get: (key: KeyLike, o?: GetOpOptions): RequestOp => ({ requestRange: rangeRequest(key, o) }),
  put: (key: KeyLike, value: KeyLike, o?: PutOpOptions): RequestOp => ({
    requestPut: { ...o, key: toBytes(key), value: toBytes(value) },
  }),
  delete: (key: KeyLike, o?: DeleteOpOptions): RequestOp => ({ requestDeleteRange: deleteRangeRequest(key, o) }),
  /** A nested transaction (a TxnRequest, or another builder's `request()`). */
  txn: (req: TxnRequest | TxnBuilder): RequestOp => ({
    requestTxn: req instanceof TxnBuilder ? req.request() : req,
  }),
};

function checkOps(what: string, items: readonly unknown[]): void {
  for (const x of items) {
    // NB: a builder with a `then` method is a "thenable": `await builder` would call `then`
    // with two functions. Refuse that loudly instead of sending them as operations.
    if (typeof x === 'function') throw new TypeError(`TxnBuilder.${what}() got a function: call commit(), do not await the builder`);
    if (x === null || typeof x !== 'object') throw new TypeError(`TxnBuilder.${what}() takes compares / operations`);
  }
}

/**
 * Builds one TxnRequest: `if` compares (all must hold), `then` operations run if they do, `else`
 * operations run if not. Each method appends, so calls can be chained or repeated.
 */
export class TxnBuilder {
  private readonly compares: Compare[] = [];
  private readonly success: RequestOp[] = [];
  private readonly failure: RequestOp[] = [];

  /** `run` sends the request; the client passes its `txnRaw`. */
  constructor(private readonly run?: (req: TxnRequest, o?: CallOptions) => Promise<TxnResponse>) {}

  /** Adds compares; the txn takes the `then` branch iff all of them hold. */
  if(...compares: Compare[]): this {
    checkOps('if', compares);
    this.compares.push(...compares);
    return this;
  }

  /** Adds operations to run, in order, when every compare holds. Not a promise: see checkOps. */
  then(...ops: RequestOp[]): this {
    checkOps('then', ops);
    this.success.push(...ops);
    return this;
  }

  /** Adds operations to run, in order, when some compare fails. */
  else(...ops: RequestOp[]): this {
    checkOps('else', ops);
    this.failure.push(...ops);
    return this;
  }

  /** The request built so far (fresh arrays; the builder can go on). */
  request(): TxnRequest {
    return { compare: [...this.compares], success: [...this.success], failure: [...this.failure] };
  }

  /** Sends the transaction. */
  commit(o?: CallOptions): Promise<TxnResponse> {
    if (this.run === undefined) return Promise.reject(new TypeError('this TxnBuilder has no client: use request()'));
    return this.run(this.request(), o);
  }
}
