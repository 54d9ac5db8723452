// Checks the applier on a memory backend: revision accounting (spec 9.1), Put (9.4),
// DeleteRange (9.5), Txn (9.6: compares, own-write visibility, nested txns, state checks,
// inner headers), Compaction (9.7) with exact error messages, the events of each revision,
// and batching: one backend commit per batch, consistent index, idempotent replay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  Compare,
  DeleteRangeResponse,
  PutResponse,
  RequestOp,
  TxnRequest,
  TxnResponse,
} from '../../../src/core/api/kv.js';
import { CompareResult, CompareTarget, EventType } from '../../../src/core/api/kv.js';
import { Applier } from '../../../src/core/apply/applier.js';
import { CompactedError, FutureRevisionError } from '../../../src/core/errors.js';
import { KvStore } from '../../../src/core/mvcc/kv-store.js';
import type { BackendOp } from '../../../src/core/ports/storage-driver.js';
import { MemoryBackend } from '../../../src/drivers/memory/memory-backend.js';
import { Harness, b, deepNorm, nkv, norm } from '../mvcc/util.js';

const COMPACTED = 'etcdserver: mvcc: required revision has been compacted';
const FUTURE = 'etcdserver: mvcc: required revision is a future revision';
const LEASE_NOT_FOUND = 'etcdserver: requested lease not found';
const KEY_NOT_FOUND = 'etcdserver: key not found';
const KEY_NOT_PROVIDED = 'etcdserver: key is not provided';
const DUPLICATE_KEY = 'etcdserver: duplicate key given in txn request';

const put = (key: string, value = '', extra: object = {}): RequestOp => ({ requestPut: { key: b(key), value: b(value), ...extra } });
const del = (key: string, end?: string, extra: object = {}): RequestOp => ({
  requestDeleteRange: { key: b(key), rangeEnd: end === undefined ? null : b(end), ...extra },
});
const get = (key: string, extra: object = {}): RequestOp => ({ requestRange: { key: b(key), ...extra } });
const nested = (t: TxnRequest): RequestOp => ({ requestTxn: t });

function cmp(key: string, target: CompareTarget, result: CompareResult, operand: number | string, rangeEnd?: string): Compare {
  const c: Compare = { key: b(key), target, result, rangeEnd: rangeEnd === undefined ? null : b(rangeEnd) };
  switch (target) {
    case CompareTarget.VALUE:
      c.value = b(String(operand));
      break;
    case CompareTarget.VERSION:
      c.version = Number(operand);
      break;
    case CompareTarget.CREATE:
      c.createRevision = Number(operand);
      break;
    case CompareTarget.MOD:
      c.modRevision = Number(operand);
      break;
    case CompareTarget.LEASE:
      c.lease = Number(operand);
      break;
  }
  return c;
}

const { VERSION, CREATE, MOD, VALUE, LEASE } = CompareTarget;
const { EQUAL, GREATER, LESS, NOT_EQUAL } = CompareResult;

describe('revision accounting', () => {
  it('follows spec 9.1 for every kind of request', () => {
    const h = new Harness();
    const rev = (): number => h.store.currentRevision;
    assert.equal(rev(), 1);
    assert.equal(h.put('a', '1'), 2); // a put makes a revision
    assert.equal(h.put('a', '1'), 3); // even with the same value
    const d0 = h.ok<DeleteRangeResponse>({ deleteRange: { key: b('zz') } });
    assert.deepEqual([d0.deleted, d0.header.revision, rev()], [0, 3, 3]); // no-op delete: none
    const d1 = h.ok<DeleteRangeResponse>({ deleteRange: { key: b('a') } });
    assert.deepEqual([d1.deleted, d1.header.revision, rev()], [1, 4, 4]);
    const t0 = h.ok<TxnResponse>({ txn: {} }); // empty txn
    assert.deepEqual([t0.succeeded, t0.responses.length, t0.header.revision, rev()], [true, 0, 4, 4]);
    const t1 = h.ok<TxnResponse>({ txn: { success: [get('a'), del('q')] } }); // changes nothing
    assert.equal(t1.header.revision, 4);
    const t2 = h.ok<TxnResponse>({ txn: { success: [put('x'), put('y'), del('a')] } }); // one revision
    assert.deepEqual([t2.header.revision, rev()], [5, 5]);
    const c = h.ok<{ header: { revision: number } }>({ compaction: { revision: 5 } }); // none
    assert.deepEqual([c.header.revision, rev()], [5, 5]);
    h.fails({ put: { key: b('k'), lease: 9 } }, LEASE_NOT_FOUND); // failures: none
    assert.equal(rev(), 5);
  });
});

describe('Put', () => {
  it('creates with version 1, increments version, keeps create_revision', () => {
    const h = new Harness();
    h.put('k', 'v1');
    h.put('k', 'v2');
    assert.deepEqual(h.store.range({ key: b('k') }).kvs.map(norm), [nkv('k', 'v2', 2, 3, 2)]);
  });

  it('returns prev_kv only when asked and when the key existed', () => {
    const h = new Harness();
    const first = h.ok<PutResponse>({ put: { key: b('k'), value: b('1'), prevKv: true } });
    assert.equal(first.prevKv, undefined);
    const second = h.ok<PutResponse>({ put: { key: b('k'), value: b('2'), prevKv: true } });
    assert.deepEqual(norm(second.prevKv), nkv('k', '1', 2, 2, 1));
    const third = h.ok<PutResponse>({ put: { key: b('k'), value: b('3') } });
    assert.deepEqual(deepNorm(third), { header: { clusterId: 0, memberId: 0, revision: 4, raftTerm: 0 } });
  });

  it('ignore_value keeps the value, ignore_lease keeps the lease', () => {
    const h = new Harness();
    h.leases.add(7).add(8);
    h.put('k', 'v', { lease: 7 });
    h.ok({ put: { key: b('k'), ignoreValue: true, lease: 8 } });
    assert.deepEqual(norm(h.store.range({ key: b('k') }).kvs[0]), nkv('k', 'v', 2, 3, 2, 8));
    h.ok({ put: { key: b('k'), value: b('w'), ignoreLease: true } });
    assert.deepEqual(norm(h.store.range({ key: b('k') }).kvs[0]), nkv('k', 'w', 2, 4, 3, 8));
    h.ok({ put: { key: b('k'), ignoreValue: true, ignoreLease: true } });
    assert.deepEqual(norm(h.store.range({ key: b('k') }).kvs[0]), nkv('k', 'w', 2, 5, 4, 8));
  });

  it('a put without lease detaches the key from its lease', () => {
    const h = new Harness();
    h.leases.add(7);
    h.put('k', 'v', { lease: 7 });
    h.put('k', 'v');
    assert.equal(h.store.range({ key: b('k') }).kvs[0]!.lease, 0);
  });

  const failing: Array<{ name: string; put: object; setup?: (h: Harness) => void; want: string }> = [
    { name: 'unknown lease', put: { key: b('k'), lease: 5 }, want: LEASE_NOT_FOUND },
    { name: 'ignore_value on a missing key', put: { key: b('k'), ignoreValue: true }, want: KEY_NOT_FOUND },
    { name: 'ignore_lease on a missing key', put: { key: b('k'), ignoreLease: true }, want: KEY_NOT_FOUND },
    {
      name: 'ignore_value on a deleted key',
      put: { key: b('k'), ignoreValue: true },
      setup: (h) => {
        h.put('k');
        h.ok({ deleteRange: { key: b('k') } });
      },
      want: KEY_NOT_FOUND,
    },
    { name: 'lease checked before the key (plain put)', put: { key: b('k'), ignoreValue: true, lease: 5 }, want: LEASE_NOT_FOUND },
    { name: 'empty key reaching the log', put: { key: new Uint8Array(0) }, want: KEY_NOT_PROVIDED },
  ];
  for (const tc of failing) {
    it(`fails without a revision: ${tc.name}`, () => {
      const h = new Harness();
      tc.setup?.(h);
      h.fails({ put: tc.put as never }, tc.want);
    });
  }
});

describe('DeleteRange', () => {
  function fixture(): Harness {
    const h = new Harness();
    for (const k of ['a', 'ab', 'b', 'c']) h.put(k, k.toUpperCase());
    return h;
  }

  it('deletes a range in one revision and returns prev_kvs when asked', () => {
    const h = fixture();
    const { result, changes } = h.apply({ deleteRange: { key: b('a'), rangeEnd: b('c'), prevKv: true } });
    const resp = result.response as DeleteRangeResponse;
    assert.equal(resp.deleted, 3);
    assert.equal(resp.header.revision, 6);
    assert.deepEqual(resp.prevKvs.map(norm), [nkv('a', 'A', 2, 2, 1), nkv('ab', 'AB', 3, 3, 1), nkv('b', 'B', 4, 4, 1)]);
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.revision, 6);
    assert.deepEqual(
      changes[0]!.events.map((e) => ({ type: e.type, kv: norm(e.kv), prev: norm(e.prevKv)?.value })),
      [
        { type: EventType.DELETE, kv: nkv('a', '', 0, 6, 0), prev: 'A' },
        { type: EventType.DELETE, kv: nkv('ab', '', 0, 6, 0), prev: 'AB' },
        { type: EventType.DELETE, kv: nkv('b', '', 0, 6, 0), prev: 'B' },
      ],
    );
    assert.deepEqual(h.store.range({ key: b('\x00'), rangeEnd: b('\x00') }).kvs.map((kv) => norm(kv).key), ['c']);
  });

  it('omits prev_kvs unless asked', () => {
    const h = fixture();
    const resp = h.ok<DeleteRangeResponse>({ deleteRange: { key: b('a') } });
    assert.deepEqual([resp.deleted, resp.prevKvs], [1, []]);
  });

  it('"\\0" range ends delete every key from key on', () => {
    const h = fixture();
    assert.equal(h.ok<DeleteRangeResponse>({ deleteRange: { key: b('ab'), rangeEnd: b('\x00') } }).deleted, 3);
    assert.equal(h.ok<DeleteRangeResponse>({ deleteRange: { key: b('\x00'), rangeEnd: b('\x00') } }).deleted, 1);
  });

  it('a re-created key gets a new create_revision and version 1', () => {
    const h = fixture();
    h.ok({ deleteRange: { key: b('a') } });
    h.put('a', 'again');
    assert.deepEqual(norm(h.store.range({ key: b('a') }).kvs[0]), nkv('a', 'again', 7, 7, 1));
    assert.deepEqual(norm(h.store.range({ key: b('a'), revision: 5 }).kvs[0]), nkv('a', 'A', 2, 2, 1));
    assert.equal(h.store.range({ key: b('a'), revision: 6 }).count, 0);
  });
});

describe('Txn', () => {
  /** a{v "1" ver 1 create 2} b{"2" ver 2 create 3 mod 4, lease 7}. Revision 4. */
  function fixture(): Harness {
    const h = new Harness();
    h.leases.add(7);
    h.put('a', '1');
    h.put('b', '1');
    h.put('b', '2', { lease: 7 });
    return h;
  }

  const compares: Array<{ name: string; c: Compare; want: boolean }> = [
    { name: 'version equal', c: cmp('a', VERSION, EQUAL, 1), want: true },
    { name: 'version greater', c: cmp('b', VERSION, GREATER, 1), want: true },
    { name: 'version less (false)', c: cmp('b', VERSION, LESS, 2), want: false },
    { name: 'create equal', c: cmp('b', CREATE, EQUAL, 3), want: true },
    { name: 'mod not equal', c: cmp('b', MOD, NOT_EQUAL, 4), want: false },
    { name: 'mod less', c: cmp('a', MOD, LESS, 3), want: true },
    { name: 'value equal', c: cmp('a', VALUE, EQUAL, '1'), want: true },
    { name: 'value greater (byte-wise)', c: cmp('b', VALUE, GREATER, '10'), want: true },
    { name: 'value less', c: cmp('a', VALUE, LESS, '1'), want: false },
    { name: 'lease equal', c: cmp('b', LEASE, EQUAL, 7), want: true },
    { name: 'lease of a key without lease is 0', c: cmp('a', LEASE, EQUAL, 0), want: true },
    { name: 'missing key: version == 0', c: cmp('zz', VERSION, EQUAL, 0), want: true },
    { name: 'missing key: create_revision == 0', c: cmp('zz', CREATE, EQUAL, 0), want: true },
    { name: 'missing key: mod > 0 is false', c: cmp('zz', MOD, GREATER, 0), want: false },
    { name: 'missing key: VALUE compare is always false', c: cmp('zz', VALUE, EQUAL, ''), want: false },
    { name: 'missing key: VALUE not-equal is false too', c: cmp('zz', VALUE, NOT_EQUAL, 'x'), want: false },
    { name: 'range: every key must satisfy (true)', c: cmp('a', VERSION, GREATER, 0, 'c'), want: true },
    { name: 'range: every key must satisfy (false)', c: cmp('a', VERSION, EQUAL, 1, 'c'), want: false },
    { name: 'range with no keys: VERSION vs 0', c: cmp('x', VERSION, EQUAL, 0, 'z'), want: true },
    { name: 'range with no keys: VALUE is false', c: cmp('x', VALUE, EQUAL, '', 'z'), want: false },
    { name: 'range "\\0" end', c: cmp('a', MOD, GREATER, 1, '\x00'), want: true },
    {
      name: 'the operand is the member named by target (others ignored)',
      c: { key: b('a'), target: VERSION, result: EQUAL, createRevision: 2 },
      want: false,
    },
    { name: 'absent operand compares as 0', c: { key: b('a'), target: MOD, result: GREATER }, want: true },
    { name: 'defaults: target VERSION, result EQUAL', c: { key: b('zz') }, want: true },
  ];
  for (const tc of compares) {
    it(`compare: ${tc.name}`, () => {
      const h = fixture();
      const resp = h.ok<TxnResponse>({ txn: { compare: [tc.c], success: [get('a')], failure: [get('b')] } });
      assert.equal(resp.succeeded, tc.want);
      assert.equal(norm(resp.responses[0]!.responseRange!.kvs[0])!.key, tc.want ? 'a' : 'b');
    });
  }

  it('compares are ANDed', () => {
    const h = fixture();
    const t = (c: Compare[]) => h.ok<TxnResponse>({ txn: { compare: c } }).succeeded;
    assert.equal(t([cmp('a', VERSION, EQUAL, 1), cmp('b', VERSION, EQUAL, 2)]), true);
    assert.equal(t([cmp('a', VERSION, EQUAL, 1), cmp('b', VERSION, EQUAL, 3)]), false);
  });

  it('matches the observed etcd example (put then range in one txn)', () => {
    const h = new Harness();
    for (let i = 0; i < 4; i++) h.put(`x${i}`);
    assert.equal(h.store.currentRevision, 5);
    const resp = h.ok<TxnResponse>({
      txn: { compare: [cmp('foo', CREATE, EQUAL, 0)], success: [put('foo', 'one'), get('foo')] },
    });
    assert.deepEqual(deepNorm(resp), {
      header: { clusterId: 0, memberId: 0, revision: 6, raftTerm: 0 },
      succeeded: true,
      responses: [
        { responsePut: { header: { clusterId: 0, memberId: 0, revision: 6, raftTerm: 0 } } },
        {
          responseRange: {
            header: { clusterId: 0, memberId: 0, revision: 6, raftTerm: 0 },
            kvs: [{ key: 'foo', createRevision: 6, modRevision: 6, version: 1, value: 'one', lease: 0 }],
            more: false,
            count: 1,
          },
        },
      ],
    });
  });

  it('reads inside see earlier writes; all writes share one revision with ordered sub revisions', () => {
    const h = fixture();
    const { result, changes } = h.apply({
      txn: {
        success: [
          get('a'),
          put('a', 'x', { prevKv: true }),
          get('a'),
          del('b', undefined, { prevKv: true }),
          get('b'),
          put('c', 'new'),
          { requestRange: { key: b('a'), rangeEnd: b('\x00'), countOnly: true } },
        ],
      },
    });
    const resp = result.response as TxnResponse;
    const r = resp.responses;
    assert.equal(resp.header.revision, 5);
    assert.deepEqual(
      r.map((x) => (x.responseRange ?? x.responsePut ?? x.responseDeleteRange)!.header.revision),
      [4, 5, 5, 5, 5, 5, 5],
    );
    assert.deepEqual(norm(r[0]!.responseRange!.kvs[0]), nkv('a', '1', 2, 2, 1));
    assert.deepEqual(norm(r[1]!.responsePut!.prevKv), nkv('a', '1', 2, 2, 1));
    assert.deepEqual(norm(r[2]!.responseRange!.kvs[0]), nkv('a', 'x', 2, 5, 2));
    assert.deepEqual(r[3]!.responseDeleteRange!.prevKvs.map(norm), [nkv('b', '2', 3, 4, 2, 7)]);
    assert.equal(r[4]!.responseRange!.count, 0);
    assert.equal(r[6]!.responseRange!.count, 2);
    assert.deepEqual(changes.map((c) => c.revision), [5]);
    assert.deepEqual(
      changes[0]!.events.map((e) => [e.type, norm(e.kv).key, e.kv.modRevision]),
      [
        [EventType.PUT, 'a', 5],
        [EventType.DELETE, 'b', 5],
        [EventType.PUT, 'c', 5],
      ],
    );
    assert.deepEqual(h.store.keyHistory(b('c')), [[5, 2, false]]);
  });

  it('runs the failure branch when a compare fails', () => {
    const h = fixture();
    const resp = h.ok<TxnResponse>({ txn: { compare: [cmp('a', VALUE, EQUAL, 'nope')], success: [put('s')], failure: [put('f')] } });
    assert.equal(resp.succeeded, false);
    assert.equal(resp.responses.length, 1);
    assert.equal(h.store.range({ key: b('f') }).count, 1);
    assert.equal(h.store.range({ key: b('s') }).count, 0);
  });

  it('nested txns compare against the state at the start of the outer txn', () => {
    const h = fixture();
    const resp = h.ok<TxnResponse>({
      txn: {
        success: [
          put('a', 'changed'),
          nested({
            // Sees a == "1" although the outer txn already changed it.
            compare: [cmp('a', VALUE, EQUAL, '1')],
            success: [get('a'), put('n', 'then')],
            failure: [put('n', 'else')],
          }),
          nested({ compare: [cmp('a', VALUE, EQUAL, 'changed')], success: [put('m', 'then')], failure: [put('m', 'else')] }),
        ],
      },
    });
    const inner1 = resp.responses[1]!.responseTxn!;
    const inner2 = resp.responses[2]!.responseTxn!;
    assert.equal(inner1.succeeded, true);
    assert.equal(inner2.succeeded, false);
    // Reads inside a nested txn still see the outer txn's earlier writes.
    assert.equal(norm(inner1.responses[0]!.responseRange!.kvs[0])!.value, 'changed');
    // etcd leaves nested TxnResponse headers empty.
    assert.equal(inner1.header.revision, 0);
    assert.equal(resp.header.revision, 5);
    assert.equal(norm(h.store.range({ key: b('n') }).kvs[0])!.value, 'then');
    assert.equal(norm(h.store.range({ key: b('m') }).kvs[0])!.value, 'else');
  });

  it('deeply nested branches follow their own compare results', () => {
    const h = fixture();
    const resp = h.ok<TxnResponse>({
      txn: {
        compare: [cmp('a', VERSION, EQUAL, 9)],
        failure: [
          nested({
            compare: [cmp('b', VERSION, EQUAL, 2)],
            success: [nested({ compare: [cmp('zz', VERSION, GREATER, 0)], success: [put('p1')], failure: [put('p2')] }), put('p3')],
          }),
          nested({ success: [put('p4')] }),
        ],
      },
    });
    assert.equal(resp.succeeded, false);
    const l1 = resp.responses[0]!.responseTxn!;
    assert.equal(l1.succeeded, true);
    assert.equal(l1.responses[0]!.responseTxn!.succeeded, false);
    assert.deepEqual(
      h.store.range({ key: b('p'), rangeEnd: b('q') }).kvs.map((kv) => norm(kv).key),
      ['p2', 'p3', 'p4'],
    );
  });

  const stateChecks: Array<{ name: string; txn: TxnRequest; want: string; leases?: number[] }> = [
    { name: 'put with an unknown lease in the executed branch', txn: { success: [put('x', '', { lease: 99 })] }, want: LEASE_NOT_FOUND },
    { name: 'ignore_value on a missing key', txn: { success: [put('zz', '', { ignoreValue: true })] }, want: KEY_NOT_FOUND },
    { name: 'ignore_lease on a missing key, nested', txn: { success: [nested({ success: [put('zz', '', { ignoreLease: true })] })] }, want: KEY_NOT_FOUND },
    { name: 'key checked before lease inside a txn', txn: { success: [put('zz', '', { ignoreValue: true, lease: 99 })] }, want: KEY_NOT_FOUND },
    { name: 'puts checked before ranges', txn: { success: [get('a', { revision: 99 }), put('x', '', { lease: 99 })] }, want: LEASE_NOT_FOUND },
    { name: 'nested range at a future revision', txn: { success: [put('x'), get('a', { revision: 5 })] }, want: FUTURE },
    { name: 'nested range below the compact revision', txn: { success: [get('a', { revision: 2 })] }, want: COMPACTED },
    { name: 'nested range at a negative revision (etcd: compacted)', txn: { success: [get('a', { revision: -1 })] }, want: COMPACTED },
    { name: 'range in a nested txn', txn: { failure: [nested({ success: [get('a', { revision: 100 })] })], compare: [cmp('a', VERSION, EQUAL, 5)] }, want: FUTURE },
    { name: 'duplicate keys reaching the log', txn: { success: [put('a'), put('a')] }, want: DUPLICATE_KEY },
  ];
  for (const tc of stateChecks) {
    it(`state check fails the whole txn: ${tc.name}`, () => {
      const h = fixture();
      h.ok({ compaction: { revision: 3 } });
      const e = h.fails({ txn: tc.txn }, tc.want);
      if (tc.want === FUTURE) assert.ok(e instanceof FutureRevisionError && e.currentRevision === 4);
      if (tc.want === COMPACTED) assert.ok(e instanceof CompactedError && e.compactRevision === 3);
    });
  }

  it('state checks only look at the branch that runs', () => {
    const h = fixture();
    const resp = h.ok<TxnResponse>({
      txn: { compare: [cmp('a', VERSION, EQUAL, 1)], success: [put('x')], failure: [put('y', '', { lease: 99 }), put('zz', '', { ignoreValue: true })] },
    });
    assert.equal(resp.succeeded, true);
  });

  it('a range inside a txn at the current revision or at the compact revision is fine', () => {
    const h = fixture();
    h.ok({ compaction: { revision: 3 } });
    const resp = h.ok<TxnResponse>({ txn: { success: [get('b', { revision: 3 }), get('b', { revision: 4 }), put('b', 'z', { ignoreLease: true })] } });
    assert.equal(norm(resp.responses[0]!.responseRange!.kvs[0])!.value, '1');
    assert.equal(norm(resp.responses[1]!.responseRange!.kvs[0])!.value, '2');
    assert.deepEqual(norm(h.store.range({ key: b('b') }).kvs[0]), nkv('b', 'z', 3, 5, 3, 7));
  });
});

describe('Compaction', () => {
  it('uses exact errors and keeps the newest version at or below the compact revision', () => {
    const h = new Harness();
    h.put('k', '1'); // 2
    h.put('k', '2'); // 3
    h.put('gone'); // 4
    h.ok({ deleteRange: { key: b('gone') } }); // 5
    h.put('k', '3'); // 6
    h.fails({ compaction: { revision: 7 } }, FUTURE);
    h.fails({ compaction: { revision: 0 } }, COMPACTED);
    h.fails({ compaction: { revision: -1 } }, COMPACTED);
    const resp = h.ok<{ header: { revision: number } }>({ compaction: { revision: 5, physical: true } });
    assert.equal(resp.header.revision, 6);
    assert.equal(h.store.compactRevision, 5);
    h.fails({ compaction: { revision: 5 } }, COMPACTED); // twice fails the second time
    h.fails({ compaction: { revision: 4 } }, COMPACTED);
    assert.deepEqual(h.store.range({ key: b('k'), revision: 5 }).kvs.map(norm), [nkv('k', '2', 2, 3, 2)]);
    assert.equal(h.store.range({ key: b('gone'), revision: 5 }).count, 0);
    assert.deepEqual(h.store.keyHistory(b('k')), [
      [3, 0, false],
      [6, 0, false],
    ]);
    assert.equal(h.store.keyHistory(b('gone')), undefined);
    h.ok({ compaction: { revision: 6 } }); // compacting at the current revision is fine
  });
});

describe('applyBatch', () => {
  it('commits one backend batch per call, with the consistent index', () => {
    const backend = new MemoryBackend();
    const commits: BackendOp[][] = [];
    const commit = backend.commit.bind(backend);
    backend.commit = (ops) => {
      commits.push([...ops]);
      commit(ops);
    };
    const store = new KvStore(backend);
    const applier = new Applier(store);
    const { results, changes } = applier.applyBatch([
      { index: 1, request: { id: 11, put: { key: b('k'), value: b('1') } } },
      { index: 2, request: null },
      { index: 3, request: { id: 13, put: { key: b('k'), value: b('2'), prevKv: true } } },
      { index: 4, request: { id: 14, put: { key: b('k'), value: b('x'), lease: 5 } } },
      { index: 5, request: { id: 15, txn: { success: [{ requestDeleteRange: { key: b('k') } }] } } },
    ]);
    assert.equal(commits.length, 1);
    assert.equal(store.consistentIndex, 5);
    assert.deepEqual(
      results.map((r) => [r.index, r.requestId, r.error?.message]),
      [
        [1, 11, undefined],
        [3, 13, undefined],
        [4, 14, LEASE_NOT_FOUND],
        [5, 15, undefined],
      ],
    );
    // The second put saw the first one, in the same batch.
    assert.deepEqual(norm((results[1]!.response as PutResponse).prevKv), nkv('k', '1', 2, 2, 1));
    assert.deepEqual(
      changes.map((c) => [c.revision, c.events.map((e) => [e.type, norm(e.kv).value, e.kv.version, norm(e.prevKv)?.value])]),
      [
        [2, [[EventType.PUT, '1', 1, undefined]]],
        [3, [[EventType.PUT, '2', 2, '1']]],
        [4, [[EventType.DELETE, '', 0, '2']]],
      ],
    );
    // Only null entries: the consistent index still advances (its own commit).
    applier.applyBatch([{ index: 6, request: null }]);
    assert.equal(store.consistentIndex, 6);
    assert.equal(commits.length, 2);
    // Nothing new: no commit.
    applier.applyBatch([]);
    assert.equal(commits.length, 2);
  });

  it('skips entries at or below the consistent index (replay after restart)', async () => {
    const h = new Harness();
    const batch = [
      { index: 1, request: { id: 1, put: { key: b('a'), value: b('1') } } },
      { index: 2, request: { id: 2, put: { key: b('a'), value: b('2') } } },
    ];
    h.applier.applyBatch(batch);
    const hash = h.store.hashKV();
    await h.reopen();
    const replay = h.applier.applyBatch([...batch, { index: 3, request: { id: 3, put: { key: b('b'), value: b('3') } } }]);
    assert.deepEqual(
      replay.results.map((r) => r.index),
      [3],
    );
    assert.deepEqual(
      replay.changes.map((c) => c.revision),
      [4],
    );
    assert.equal(h.store.consistentIndex, 3);
    assert.deepEqual(h.store.hashKV(2 + 1), hash);
    // A whole batch below the consistent index changes nothing.
    const again = h.applier.applyBatch(batch);
    assert.deepEqual([again.results, again.changes], [[], []]);
  });

  it('compaction in the middle of a batch applies in order', () => {
    const h = new Harness();
    const { results } = h.applier.applyBatch([
      { index: 1, request: { id: 1, put: { key: b('k'), value: b('1') } } },
      { index: 2, request: { id: 2, put: { key: b('k'), value: b('2') } } },
      { index: 3, request: { id: 3, compaction: { revision: 3 } } },
      { index: 4, request: { id: 4, put: { key: b('k'), value: b('3'), prevKv: true } } },
      { index: 5, request: { id: 5, compaction: { revision: 3 } } },
    ]);
    assert.deepEqual(
      results.map((r) => r.error?.message),
      [undefined, undefined, undefined, undefined, COMPACTED],
    );
    assert.deepEqual(norm((results[3]!.response as PutResponse).prevKv), nkv('k', '2', 2, 3, 2));
    assert.deepEqual(h.store.keyHistory(b('k')), [
      [3, 0, false],
      [4, 0, false],
    ]);
    assert.equal([...h.backend.range('key')].length, 2);
  });

  it('answers malformed entries with an error on every member, changing nothing', () => {
    const h = new Harness();
    h.fails({}, 'etcetera: invalid argument: an entry must carry exactly one request');
    h.fails(
      { put: { key: b('a') }, deleteRange: { key: b('a') } },
      'etcetera: invalid argument: an entry must carry exactly one request',
    );
    h.fails({ deleteRange: { key: new Uint8Array(0) } }, KEY_NOT_PROVIDED);
    h.fails({ txn: { success: [{}] } }, KEY_NOT_FOUND);
    h.fails({ compaction: { revision: 1.5 } }, 'etcetera: invalid argument: revision must be a safe integer');
    assert.equal(h.store.consistentIndex, h.index);
  });

  it('refuses indexes that go back within a batch', () => {
    const h = new Harness();
    assert.throws(() =>
      h.applier.applyBatch([
        { index: 2, request: null },
        { index: 2, request: null },
      ]),
    );
  });

  it('is deterministic: the same log gives the same hash, responses and events', () => {
    const log = (): Array<{ index: number; request: import('../../../src/core/api/kv.js').InternalRequest }> => [
      { index: 1, request: { id: 1, put: { key: b('a'), value: b('1') } } },
      { index: 2, request: { id: 2, txn: { compare: [cmp('a', VALUE, EQUAL, '1')], success: [put('b', '2'), del('a')] } } },
      { index: 3, request: { id: 3, compaction: { revision: 2 } } },
      { index: 4, request: { id: 4, deleteRange: { key: b('\x00'), rangeEnd: b('\x00'), prevKv: true } } },
    ];
    const x = new Harness();
    const y = new Harness();
    const rx = x.applier.applyBatch(log());
    const entries = log();
    const ry = entries.map((e) => y.applier.applyBatch([e]));
    assert.deepEqual(deepNorm(rx.results), deepNorm(ry.flatMap((r) => r.results)));
    assert.deepEqual(deepNorm(rx.changes), deepNorm(ry.flatMap((r) => r.changes)));
    assert.deepEqual(x.store.hashKV(), y.store.hashKV());
  });
});
