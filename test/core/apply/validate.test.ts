// Checks the state-independent request validation as tables of requests and the exact error
// each must give (etcd's message, or etcetera's invalid-argument detail): empty keys, put flag
// conflicts, malformed shapes, txn op budgets (nested recursively), empty request ops, and the
// duplicate-key rules of spec 9.6, allowed and forbidden cases alike.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestOp, TxnRequest } from '../../../src/core/api/kv.js';
import {
  validateCompaction,
  validateDeleteRange,
  validatePut,
  validateRange,
  validateTxn,
} from '../../../src/core/apply/validate.js';
import { b, throwsKv } from '../mvcc/util.js';

const KEY_NOT_PROVIDED = 'etcdserver: key is not provided';
const KEY_NOT_FOUND = 'etcdserver: key not found';
const VALUE_PROVIDED = 'etcdserver: value is provided';
const LEASE_PROVIDED = 'etcdserver: lease is provided';
const TOO_MANY_OPS = 'etcdserver: too many operations in txn request';
const DUPLICATE_KEY = 'etcdserver: duplicate key given in txn request';
const invalid = (detail: string): string => `etcetera: invalid argument: ${detail}`;

interface Case<T> {
  name: string;
  req: T;
  /** Expected error message; undefined = valid. */
  wantError?: string;
}

function runTable<T>(cases: Array<Case<T>>, validate: (req: T) => void): void {
  for (const tc of cases) {
    it(tc.name, () => {
      if (tc.wantError === undefined) validate(tc.req);
      else throwsKv(() => validate(tc.req), tc.wantError);
    });
  }
}

// Loose input: what a buggy or hostile client could send.
type Loose = any;

describe('validateRange', () => {
  runTable<Loose>(
    [
      { name: 'valid minimal', req: { key: b('a') } },
      { name: 'valid full', req: { key: b('a'), rangeEnd: b('\x00'), limit: 3, revision: -1, sortOrder: 2, sortTarget: 4, serializable: true, keysOnly: true, countOnly: false, minModRevision: 1, maxModRevision: 2, minCreateRevision: 3, maxCreateRevision: 4 } },
      { name: 'null optionals (decoded oneofs)', req: { key: b('a'), rangeEnd: null, limit: null } },
      { name: 'empty key', req: { key: new Uint8Array(0) }, wantError: KEY_NOT_PROVIDED },
      { name: 'absent key', req: {}, wantError: KEY_NOT_PROVIDED },
      { name: 'key of wrong type', req: { key: 'a' }, wantError: invalid('key must be bytes') },
      { name: 'range_end of wrong type', req: { key: b('a'), rangeEnd: 'b' }, wantError: invalid('range_end must be bytes') },
      { name: 'negative limit', req: { key: b('a'), limit: -1 }, wantError: invalid('limit must be >= 0') },
      { name: 'fractional limit', req: { key: b('a'), limit: 1.5 }, wantError: invalid('limit must be a safe integer') },
      { name: 'unsafe revision', req: { key: b('a'), revision: 2 ** 53 }, wantError: invalid('revision must be a safe integer') },
      { name: 'revision as string', req: { key: b('a'), revision: '5' }, wantError: invalid('revision must be a safe integer') },
      { name: 'unknown sort order', req: { key: b('a'), sortOrder: 3 }, wantError: invalid('sort_order must be an integer in 0..2') },
      { name: 'unknown sort target', req: { key: b('a'), sortTarget: 5 }, wantError: invalid('sort_target must be an integer in 0..4') },
      { name: 'non-boolean flag', req: { key: b('a'), keysOnly: 1 }, wantError: invalid('keys_only must be a boolean') },
      { name: 'negative filter', req: { key: b('a'), maxModRevision: -2 }, wantError: invalid('max_mod_revision must be >= 0') },
      { name: 'empty key wins over other problems (etcd checks it first)', req: { key: new Uint8Array(0), limit: -1 }, wantError: KEY_NOT_PROVIDED },
    ],
    validateRange,
  );
});

describe('validatePut', () => {
  runTable<Loose>(
    [
      { name: 'valid', req: { key: b('a'), value: b('v'), lease: 5, prevKv: true } },
      { name: 'ignore_value with empty value', req: { key: b('a'), value: new Uint8Array(0), ignoreValue: true } },
      { name: 'ignore_lease with lease 0', req: { key: b('a'), lease: 0, ignoreLease: true } },
      { name: 'negative lease id is well-formed (unknown at apply)', req: { key: b('a'), lease: -7 } },
      { name: 'empty key', req: { key: new Uint8Array(0), value: b('v') }, wantError: KEY_NOT_PROVIDED },
      { name: 'ignore_value with a value', req: { key: b('a'), value: b('v'), ignoreValue: true }, wantError: VALUE_PROVIDED },
      { name: 'ignore_lease with a lease', req: { key: b('a'), lease: 3, ignoreLease: true }, wantError: LEASE_PROVIDED },
      { name: 'value checked before lease', req: { key: b('a'), value: b('v'), lease: 3, ignoreValue: true, ignoreLease: true }, wantError: VALUE_PROVIDED },
      { name: 'value of wrong type', req: { key: b('a'), value: 'v' }, wantError: invalid('value must be bytes') },
      { name: 'unsafe lease', req: { key: b('a'), lease: 2 ** 60 }, wantError: invalid('lease must be a safe integer') },
      { name: 'not an object', req: null, wantError: invalid('put request must be an object') },
    ],
    validatePut,
  );
});

describe('validateDeleteRange and validateCompaction', () => {
  runTable<Loose>(
    [
      { name: 'valid delete', req: { key: b('a'), rangeEnd: b('b'), prevKv: true } },
      { name: 'empty key', req: { key: new Uint8Array(0) }, wantError: KEY_NOT_PROVIDED },
      { name: 'bad prev_kv', req: { key: b('a'), prevKv: 'yes' }, wantError: invalid('prev_kv must be a boolean') },
    ],
    validateDeleteRange,
  );
  runTable<Loose>(
    [
      { name: 'valid compaction', req: { revision: 5, physical: true } },
      { name: 'revision 0 is left to the applier (compacted error)', req: { revision: 0 } },
      { name: 'missing revision', req: {}, wantError: invalid('revision must be a safe integer') },
      { name: 'unsafe revision', req: { revision: 1e300 }, wantError: invalid('revision must be a safe integer') },
    ],
    validateCompaction,
  );
});

// ---- txn --------------------------------------------------------------------------------

const put = (key: string): RequestOp => ({ requestPut: { key: b(key) } });
const del = (key: string, end?: string): RequestOp => ({ requestDeleteRange: { key: b(key), rangeEnd: end === undefined ? null : b(end) } });
const get = (key: string): RequestOp => ({ requestRange: { key: b(key) } });
const txn = (success: RequestOp[], failure: RequestOp[] = [], compare: TxnRequest['compare'] = []): RequestOp => ({
  requestTxn: { compare, success, failure },
});
const ops = <T,>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const cmp = (key: string) => ({ key: b(key), target: 0 as const, result: 0 as const, version: 0 });

describe('validateTxn: shape and budget', () => {
  runTable<Loose>(
    [
      { name: 'empty txn', req: {} },
      { name: 'valid with compares', req: { compare: [cmp('a'), { key: b('b'), rangeEnd: b('c'), target: 3, result: 3, value: b('x') }], success: [put('a')], failure: [get('a')] } },
      { name: '128 ops is the limit', req: { success: ops(128, (i) => put(`k${i}`)) } },
      { name: '129 success ops', req: { success: ops(129, (i) => put(`k${i}`)) }, wantError: TOO_MANY_OPS },
      { name: '129 compares', req: { compare: ops(129, () => cmp('a')) }, wantError: TOO_MANY_OPS },
      { name: '129 failure ops', req: { failure: ops(129, (i) => get(`k${i}`)) }, wantError: TOO_MANY_OPS },
      {
        name: 'nested txn within the remaining budget (100 + 28)',
        req: { compare: ops(100, () => cmp('a')), success: [txn(ops(28, (i) => put(`n${i}`)))] },
      },
      {
        name: 'nested txn over the remaining budget (100 + 29)',
        req: { compare: ops(100, () => cmp('a')), success: [txn(ops(29, (i) => put(`n${i}`)))] },
        wantError: TOO_MANY_OPS,
      },
      {
        name: 'budget shrinks at every level (64, then 1, leaves 63)',
        req: { compare: ops(64, () => cmp('a')), success: [txn([txn(ops(63, (i) => get(`x${i}`)))])] },
      },
      {
        name: 'budget shrinks at every level (64, then 1, 64 is too many)',
        req: { compare: ops(64, () => cmp('a')), success: [txn([txn(ops(64, (i) => get(`x${i}`)))])] },
        wantError: TOO_MANY_OPS,
      },
      { name: 'empty compare key', req: { compare: [{ key: new Uint8Array(0) }] }, wantError: KEY_NOT_PROVIDED },
      { name: 'empty key in a success op', req: { success: [put('')] }, wantError: KEY_NOT_PROVIDED },
      { name: 'empty key in a nested failure op', req: { success: [txn([], [del('')])] }, wantError: KEY_NOT_PROVIDED },
      { name: 'put flags inside a txn', req: { success: [{ requestPut: { key: b('a'), value: b('v'), ignoreValue: true } }] }, wantError: VALUE_PROVIDED },
      { name: 'empty request op', req: { success: [{}] }, wantError: KEY_NOT_FOUND },
      { name: 'null request op members', req: { failure: [{ requestRange: null, requestPut: null }] }, wantError: KEY_NOT_FOUND },
      { name: 'null entry in the op list', req: { success: [null] }, wantError: KEY_NOT_FOUND },
      { name: 'two members in one op', req: { success: [{ ...put('a'), ...get('b') }] }, wantError: invalid('a request op must carry exactly one operation') },
      { name: 'unknown compare target', req: { compare: [{ key: b('a'), target: 5 }] }, wantError: invalid('compare target must be an integer in 0..4') },
      { name: 'unknown compare result', req: { compare: [{ key: b('a'), result: 4 }] }, wantError: invalid('compare result must be an integer in 0..3') },
      { name: 'compare number not safe', req: { compare: [{ key: b('a'), version: 2 ** 64 }] }, wantError: invalid('compare version must be a safe integer') },
      { name: 'success not a list', req: { success: put('a') }, wantError: invalid('success must be a list') },
      { name: 'negative limit in a nested range', req: { success: [{ requestRange: { key: b('a'), limit: -5 } }] }, wantError: invalid('limit must be >= 0') },
    ],
    (req) => validateTxn(req, 128),
  );
});

describe('validateTxn: duplicate keys (spec 9.6)', () => {
  runTable<TxnRequest>(
    [
      // Forbidden.
      { name: 'two puts of one key', req: { success: [put('a'), put('a')] }, wantError: DUPLICATE_KEY },
      { name: 'two puts of one key in failure', req: { failure: [put('a'), put('b'), put('a')] }, wantError: DUPLICATE_KEY },
      { name: 'put covered by a single-key delete at the same level', req: { success: [del('a'), put('a')] }, wantError: DUPLICATE_KEY },
      { name: 'put before a delete covering it', req: { success: [put('b'), del('a', 'c')] }, wantError: DUPLICATE_KEY },
      { name: 'put in a nested txn and at the top level', req: { success: [txn([put('a')]), put('a')] }, wantError: DUPLICATE_KEY },
      { name: 'put at the top level and in a later nested txn', req: { success: [put('a'), txn([put('a')])] }, wantError: DUPLICATE_KEY },
      { name: 'put in a nested txn covered by a delete at the enclosing level', req: { success: [del('a', 'z'), txn([put('k')])] }, wantError: DUPLICATE_KEY },
      { name: 'put in a nested else-branch covered by an enclosing delete', req: { success: [del('k'), txn([], [put('k')])] }, wantError: DUPLICATE_KEY },
      { name: 'put covered by a delete inside a nested txn of the same level', req: { success: [txn([del('a', 'c')]), put('b')] }, wantError: DUPLICATE_KEY },
      { name: 'puts in two nested txns', req: { success: [txn([put('a')]), txn([], [put('a')])] }, wantError: DUPLICATE_KEY },
      { name: 'put in a nested txn covered by an earlier nested delete', req: { success: [txn([del('a')]), txn([put('a')])] }, wantError: DUPLICATE_KEY },
      { name: 'two puts deep in one nested branch', req: { success: [txn([txn([put('a')]), put('a')])] }, wantError: DUPLICATE_KEY },
      { name: 'deeply nested put under an outer delete', req: { failure: [del('a', 'b'), txn([txn([], [put('aa')])])] }, wantError: DUPLICATE_KEY },
      // Allowed.
      { name: 'allowed: two overlapping deletes', req: { success: [del('a', 'm'), del('c', 'z'), del('d')] } },
      { name: 'allowed: a range and a put of one key', req: { success: [get('a'), put('a'), get('a')] } },
      { name: 'allowed: one key in success and in failure', req: { success: [put('a')], failure: [put('a')] } },
      { name: 'allowed: one key in then and else of one nested txn', req: { success: [txn([put('a')], [put('a')])] } },
      { name: 'allowed: a delete not covering the put (end exclusive)', req: { success: [del('a', 'b'), put('b')] } },
      { name: 'allowed: a delete in the failure list', req: { success: [put('a')], failure: [del('a')] } },
      { name: 'allowed: delete range_end <= key covers nothing', req: { success: [del('c', 'a'), put('b')] } },
      {
        // NB: etcd quirk: range_end "\0" is taken literally by the duplicate check.
        name: 'allowed (etcd quirk): delete to "\\0" and a put',
        req: { success: [del('\x00', '\x00'), put('a')] },
      },
      {
        // NB: etcd quirk: a later nested txn's deletes are not checked against earlier nested puts.
        name: 'allowed (etcd quirk): nested put, then a nested delete covering it',
        req: { success: [txn([put('a')]), txn([del('a')])] },
      },
      { name: 'allowed: a nested delete and an enclosing delete overlap', req: { success: [del('a', 'z'), txn([del('b')])] } },
    ],
    (req) => validateTxn(req, 128),
  );

  it('checks budgets and keys before duplicates', () => {
    throwsKv(() => validateTxn({ success: [put('a'), put('a'), put('')] }, 128), KEY_NOT_PROVIDED);
    throwsKv(() => validateTxn({ success: [put('a'), put('a'), put('b')] }, 2), TOO_MANY_OPS);
  });
});

describe('validators are pure', () => {
  it('do not modify the request', () => {
    const req: TxnRequest = { compare: [cmp('a')], success: [put('a'), txn([del('b')])], failure: [get('c')] };
    const copy = structuredClone(req);
    validateTxn(req, 128);
    assert.deepEqual(req, copy);
  });
});
