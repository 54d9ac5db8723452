/**
 * Request validation that does not depend on the store's state, done where a request enters
 * (before it is proposed), in etcd's order so that the first error reported is etcd's:
 *
 * - empty key → KeyNotProvided; Put ignore_value with a value → ValueProvided; ignore_lease
 *   with a lease → LeaseProvided (spec 9.4);
 * - Txn: `max(len(compare), len(success), len(failure)) > maxTxnOps` → TooManyOps, nested txns
 *   checked against the remaining budget; a RequestOp with no member → KeyNotFound; then the
 *   duplicate-key rules of spec 9.6 → DuplicateKey;
 * - malformed shapes (wrong types, unknown enum values, negative limits, numbers that are not
 *   safe integers) → `invalidArgument(detail)`: etcd cannot receive those at all.
 *
 * Each validator returns nothing and throws the KvError. The applier runs them again, so that
 * a malformed entry that reached the log fails the same way on every member instead of
 * breaking the store.
 */
import type { AlarmRequest } from '../api/alarm.js';
import type {
  Compare,
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '../api/kv.js';
import { KvError, invalidArgument } from '../errors.js';
import { bytesToLatin1 } from '../mvcc/bytes.js';

// ---- shape checks ---------------------------------------------------------------------------

function isAbsent(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

function checkKey(key: unknown, what: string): void {
  if (isAbsent(key)) throw new KvError('KeyNotProvided');
  if (!(key instanceof Uint8Array)) throw invalidArgument(`${what} must be bytes`);
  if (key.length === 0) throw new KvError('KeyNotProvided');
}

function checkBytes(v: unknown, what: string): void {
  if (!isAbsent(v) && !(v instanceof Uint8Array)) throw invalidArgument(`${what} must be bytes`);
}

function checkInt(v: unknown, what: string): void {
  if (!isAbsent(v) && !(typeof v === 'number' && Number.isSafeInteger(v))) {
    throw invalidArgument(`${what} must be a safe integer`);
  }
}

function checkNonNegative(v: unknown, what: string): void {
  checkInt(v, what);
  if (typeof v === 'number' && v < 0) throw invalidArgument(`${what} must be >= 0`);
}

function checkBool(v: unknown, what: string): void {
  if (!isAbsent(v) && typeof v !== 'boolean') throw invalidArgument(`${what} must be a boolean`);
}

function checkEnum(v: unknown, max: number, what: string): void {
  if (isAbsent(v)) return;
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max)) {
    throw invalidArgument(`${what} must be an integer in 0..${max}`);
  }
}

function checkObject(v: unknown, what: string): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) throw invalidArgument(`${what} must be an object`);
}

function checkArray(v: unknown, what: string): readonly unknown[] {
  if (isAbsent(v)) return [];
  if (!Array.isArray(v)) throw invalidArgument(`${what} must be a list`);
  return v;
}

// ---- single requests ------------------------------------------------------------------------

/** Validates a RangeRequest (spec 9.3 step 1, plus shape). Throws KvError. */
export function validateRange(req: RangeRequest): void {
  checkObject(req, 'range request');
  checkKey(req.key, 'key');
  checkBytes(req.rangeEnd, 'range_end');
  checkNonNegative(req.limit, 'limit');
  checkInt(req.revision, 'revision');
  checkEnum(req.sortOrder, 2, 'sort_order');
  checkEnum(req.sortTarget, 4, 'sort_target');
  checkBool(req.serializable, 'serializable');
  checkBool(req.keysOnly, 'keys_only');
  checkBool(req.countOnly, 'count_only');
  checkNonNegative(req.minModRevision, 'min_mod_revision');
  checkNonNegative(req.maxModRevision, 'max_mod_revision');
  checkNonNegative(req.minCreateRevision, 'min_create_revision');
  checkNonNegative(req.maxCreateRevision, 'max_create_revision');
}

/** Validates a PutRequest (spec 9.4 steps 1-3, plus shape). Throws KvError. */
export function validatePut(req: PutRequest): void {
  checkObject(req, 'put request');
  checkKey(req.key, 'key');
  checkBytes(req.value, 'value');
  checkInt(req.lease, 'lease');
  checkBool(req.prevKv, 'prev_kv');
  checkBool(req.ignoreValue, 'ignore_value');
  checkBool(req.ignoreLease, 'ignore_lease');
  if (req.ignoreValue && !isAbsent(req.value) && req.value.length !== 0) throw new KvError('ValueProvided');
  if (req.ignoreLease && (req.lease ?? 0) !== 0) throw new KvError('LeaseProvided');
}

/** Validates a DeleteRangeRequest (spec 9.5, plus shape). Throws KvError. */
export function validateDeleteRange(req: DeleteRangeRequest): void {
  checkObject(req, 'delete range request');
  checkKey(req.key, 'key');
  checkBytes(req.rangeEnd, 'range_end');
  checkBool(req.prevKv, 'prev_kv');
}

/**
 * Validates a CompactionRequest's shape. Revisions <= 0 pass: the applier answers them with
 * etcd's "required revision has been compacted", as etcd does.
 */
export function validateCompaction(req: CompactionRequest): void {
  checkObject(req, 'compaction request');
  if (!(typeof req.revision === 'number' && Number.isSafeInteger(req.revision))) {
    throw invalidArgument('revision must be a safe integer');
  }
  checkBool(req.physical, 'physical');
}

function validateCompare(c: Compare): void {
  checkObject(c, 'compare');
  checkEnum(c.result, 3, 'compare result');
  checkEnum(c.target, 4, 'compare target');
  checkInt(c.version, 'compare version');
  checkInt(c.createRevision, 'compare create_revision');
  checkInt(c.modRevision, 'compare mod_revision');
  checkBytes(c.value, 'compare value');
  checkInt(c.lease, 'compare lease');
  checkBytes(c.rangeEnd, 'compare range_end');
}

// ---- txn ------------------------------------------------------------------------------------

/** The one operation a RequestOp carries; throws KeyNotFound when it carries none. */
function opMember(op: RequestOp): 'range' | 'put' | 'delete' | 'txn' {
  if (isAbsent(op)) throw new KvError('KeyNotFound');
  checkObject(op, 'request op');
  const present = [
    isAbsent(op.requestRange) ? undefined : ('range' as const),
    isAbsent(op.requestPut) ? undefined : ('put' as const),
    isAbsent(op.requestDeleteRange) ? undefined : ('delete' as const),
    isAbsent(op.requestTxn) ? undefined : ('txn' as const),
  ].filter((m) => m !== undefined);
  // etcd answers an empty RequestOp with "key not found" [obs].
  if (present.length === 0) throw new KvError('KeyNotFound');
  if (present.length > 1) throw invalidArgument('a request op must carry exactly one operation');
  return present[0]!;
}

/** etcd's checkTxnRequest: op counts against the budget, compare keys, then every op. */
function checkTxnRequest(req: TxnRequest, maxTxnOps: number): void {
  checkObject(req, 'txn request');
  const compare = checkArray(req.compare, 'compare') as Compare[];
  const success = checkArray(req.success, 'success') as RequestOp[];
  const failure = checkArray(req.failure, 'failure') as RequestOp[];
  const opc = Math.max(compare.length, success.length, failure.length);
  if (opc > maxTxnOps) throw new KvError('TooManyOps');
  for (const c of compare) {
    checkObject(c, 'compare');
    checkKey(c.key, 'compare key');
  }
  for (const c of compare) validateCompare(c);
  for (const op of success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of failure) checkRequestOp(op, maxTxnOps - opc);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  switch (opMember(op)) {
    case 'range':
      return validateRange(op.requestRange!);
    case 'put':
      return validatePut(op.requestPut!);
    case 'delete':
      return validateDeleteRange(op.requestDeleteRange!);
    case 'txn':
      return checkTxnRequest(op.requestTxn!, maxTxnOps);
  }
}

/** A half-open interval of latin1 key strings, as etcd's adt string-affine interval. */
interface Interval {
  readonly begin: string;
  /** Exclusive; '' would mean +infinity in etcd's affine order, but never occurs here. */
  readonly end: string;
}

function containsPoint(dels: readonly Interval[], key: string): boolean {
  for (const iv of dels) if (iv.begin <= key && key < iv.end) return true;
  return false;
}

/**
 * etcd's checkIntervals for one list of ops: returns the keys put and the ranges deleted in
 * this op tree, or throws DuplicateKey when a put meets another put or a delete (spec 9.6).
 *
 * NB: as in etcd, a delete's range_end is taken literally here, so a delete whose range_end is
 * "\0" (every key >= key) is the empty interval [key, "\0") and conflicts with no put.
 * Also as in etcd, a nested txn's puts are checked against the deletes of this level and of
 * the nested txns before it, not after it.
 */
function checkIntervals(ops: readonly RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const op of ops) {
    const d = op.requestDeleteRange;
    if (isAbsent(d)) continue;
    const begin = bytesToLatin1(d.key);
    const end = isAbsent(d.rangeEnd) || d.rangeEnd.length === 0 ? begin + '\0' : bytesToLatin1(d.rangeEnd);
    dels.push({ begin, end });
  }
  const puts = new Set<string>();
  for (const op of ops) {
    const t = op.requestTxn;
    if (isAbsent(t)) continue;
    const then = checkIntervals(t.success ?? []);
    const otherwise = checkIntervals(t.failure ?? []);
    for (const k of then.puts) {
      if (puts.has(k) || containsPoint(dels, k)) throw new KvError('DuplicateKey');
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      // A key put in both branches of one nested txn is fine: only one branch runs.
      if (puts.has(k) && !then.puts.has(k)) throw new KvError('DuplicateKey');
      if (containsPoint(dels, k)) throw new KvError('DuplicateKey');
      puts.add(k);
    }
    for (const iv of then.dels) dels.push(iv);
    for (const iv of otherwise.dels) dels.push(iv);
  }
  for (const op of ops) {
    const p = op.requestPut;
    if (isAbsent(p)) continue;
    const k = bytesToLatin1(p.key);
    if (puts.has(k) || containsPoint(dels, k)) throw new KvError('DuplicateKey');
    puts.add(k);
  }
  return { puts, dels };
}

/**
 * Validates a TxnRequest (spec 9.6): sizes against `maxTxnOps` (etcd's --max-txn-ops, default
 * 128), every compare and op, then duplicate keys separately in `success` and in `failure`.
 * Throws KvError.
 */
export function validateTxn(req: TxnRequest, maxTxnOps: number): void {
  checkTxnRequest(req, maxTxnOps);
  // After the size checks, which bound the work done here.
  checkIntervals(req.success ?? []);
  checkIntervals(req.failure ?? []);
}


// ---- alarms ---------------------------------------------------------------------------------

/**
 * Validates an AlarmRequest's shape: an action of GET, ACTIVATE or DEACTIVATE, a member id
 * that is a non-negative safe integer, an alarm type that is an int32 (etcd keeps unknown
 * types as they are). Throws KvError.
 */
export function validateAlarm(req: AlarmRequest): void {
  checkObject(req, 'alarm request');
  checkEnum(req.action, 2, 'alarm action');
  checkNonNegative(req.memberID, 'alarm memberID');
  checkInt(req.alarm, 'alarm type');
  if (typeof req.alarm === 'number' && (req.alarm < -(2 ** 31) || req.alarm >= 2 ** 31)) {
    throw invalidArgument('alarm type must be an int32');
  }
}
