// Checks KvStore: the Range rules of spec 9.2/9.3 as a table over one fixed history (range_end
// forms, limit/more, count, count_only, keys_only, sort order/target incl. etcd's implicit
// ASCEND and its limit+1 fetch quirk, min/max filters, historical and invalid revisions),
// compaction then reads at/below the compact revision, write-txn visibility, restore from the
// backend, and hashKV.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RangeRequest } from '../../../src/core/api/kv.js';
import { SortOrder, SortTarget } from '../../../src/core/api/kv.js';
import { CompactedError, FutureRevisionError } from '../../../src/core/errors.js';
import { KvStore } from '../../../src/core/mvcc/kv-store.js';
import { MemoryBackend } from '../../../src/drivers/memory/memory-backend.js';
import { Harness, b, nkv, norm, throwsKv } from './util.js';

const COMPACTED = 'etcdserver: mvcc: required revision has been compacted';
const FUTURE = 'etcdserver: mvcc: required revision is a future revision';

/**
 * rev 2 put a=v3 · 3 put b=v1 · 4 put ab=v2 · 5 put c=v5 · 6 put a=v0 · 7 put d=v4 ·
 * 8 put b=v9 · 9 put b=v8 · 10 delete c · 11 put c=v6.
 * Latest: a{c2 m6 v2 "v0"} ab{c4 m4 v1 "v2"} b{c3 m9 v3 "v8"} c{c11 m11 v1 "v6"} d{c7 m7 v1 "v4"}.
 */
function fixture(): Harness {
  const h = new Harness();
  h.put('a', 'v3');
  h.put('b', 'v1');
  h.put('ab', 'v2');
  h.put('c', 'v5');
  h.put('a', 'v0');
  h.put('d', 'v4');
  h.put('b', 'v9');
  h.put('b', 'v8');
  h.ok({ deleteRange: { key: b('c') } });
  h.put('c', 'v6');
  assert.equal(h.store.currentRevision, 11);
  return h;
}

const ALL = { key: b('\x00'), rangeEnd: b('\x00') };

interface RangeCase {
  name: string;
  req: RangeRequest;
  wantKeys: string[];
  wantCount: number;
  wantMore?: boolean;
}

const rangeCases: RangeCase[] = [
  { name: 'single key', req: { key: b('a') }, wantKeys: ['a'], wantCount: 1 },
  { name: 'single missing key', req: { key: b('zz') }, wantKeys: [], wantCount: 0 },
  { name: 'empty range_end is a single key', req: { key: b('a'), rangeEnd: new Uint8Array(0) }, wantKeys: ['a'], wantCount: 1 },
  { name: 'half-open [a, c)', req: { key: b('a'), rangeEnd: b('c') }, wantKeys: ['a', 'ab', 'b'], wantCount: 3 },
  { name: 'range_end "\\0" means every key >= key', req: { key: b('b'), rangeEnd: b('\x00') }, wantKeys: ['b', 'c', 'd'], wantCount: 3 },
  { name: 'key "\\0" range_end "\\0" means all keys', req: ALL, wantKeys: ['a', 'ab', 'b', 'c', 'd'], wantCount: 5 },
  { name: 'prefix a (range_end b)', req: { key: b('a'), rangeEnd: b('b') }, wantKeys: ['a', 'ab'], wantCount: 2 },
  { name: 'range_end < key matches nothing', req: { key: b('c'), rangeEnd: b('a') }, wantKeys: [], wantCount: 0 },
  { name: 'range_end == key matches nothing', req: { key: b('c'), rangeEnd: b('c') }, wantKeys: [], wantCount: 0 },
  { name: 'limit truncates, more, count ignores limit', req: { ...ALL, limit: 2 }, wantKeys: ['a', 'ab'], wantCount: 5, wantMore: true },
  { name: 'limit == count: no more', req: { ...ALL, limit: 5 }, wantKeys: ['a', 'ab', 'b', 'c', 'd'], wantCount: 5 },
  { name: 'limit > count: no more', req: { ...ALL, limit: 6 }, wantKeys: ['a', 'ab', 'b', 'c', 'd'], wantCount: 5 },
  { name: 'count_only', req: { ...ALL, countOnly: true }, wantKeys: [], wantCount: 5 },
  { name: 'count_only ignores limit', req: { ...ALL, countOnly: true, limit: 1 }, wantKeys: [], wantCount: 5 },
  {
    name: 'target VERSION with order NONE sorts ASCEND (ties in key order)',
    req: { ...ALL, sortTarget: SortTarget.VERSION },
    wantKeys: ['ab', 'c', 'd', 'a', 'b'],
    wantCount: 5,
  },
  { name: 'VERSION DESCEND', req: { ...ALL, sortTarget: SortTarget.VERSION, sortOrder: SortOrder.DESCEND }, wantKeys: ['b', 'a', 'ab', 'c', 'd'], wantCount: 5 },
  { name: 'MOD ASCEND', req: { ...ALL, sortTarget: SortTarget.MOD, sortOrder: SortOrder.ASCEND }, wantKeys: ['ab', 'a', 'd', 'b', 'c'], wantCount: 5 },
  { name: 'CREATE DESCEND', req: { ...ALL, sortTarget: SortTarget.CREATE, sortOrder: SortOrder.DESCEND }, wantKeys: ['c', 'd', 'ab', 'b', 'a'], wantCount: 5 },
  { name: 'VALUE ASCEND', req: { ...ALL, sortTarget: SortTarget.VALUE, sortOrder: SortOrder.ASCEND }, wantKeys: ['a', 'ab', 'd', 'c', 'b'], wantCount: 5 },
  { name: 'VALUE with order NONE sorts ASCEND', req: { ...ALL, sortTarget: SortTarget.VALUE }, wantKeys: ['a', 'ab', 'd', 'c', 'b'], wantCount: 5 },
  { name: 'KEY DESCEND', req: { ...ALL, sortOrder: SortOrder.DESCEND }, wantKeys: ['d', 'c', 'b', 'ab', 'a'], wantCount: 5 },
  { name: 'KEY ASCEND', req: { ...ALL, sortOrder: SortOrder.ASCEND }, wantKeys: ['a', 'ab', 'b', 'c', 'd'], wantCount: 5 },
  {
    name: 'sort then limit',
    req: { ...ALL, sortTarget: SortTarget.MOD, sortOrder: SortOrder.DESCEND, limit: 2 },
    wantKeys: ['c', 'b'],
    wantCount: 5,
    wantMore: true,
  },
  {
    // etcd fetches limit+1 keys in key order when sort_order is NONE, then sorts those.
    name: 'target VERSION, order NONE, limit 2: sorts only the first limit+1 keys (etcd)',
    req: { ...ALL, sortTarget: SortTarget.VERSION, limit: 2 },
    wantKeys: ['ab', 'a'],
    wantCount: 5,
    wantMore: true,
  },
  { name: 'min_mod_revision (count unchanged)', req: { ...ALL, minModRevision: 6 }, wantKeys: ['a', 'b', 'c', 'd'], wantCount: 5 },
  { name: 'max_mod_revision', req: { ...ALL, maxModRevision: 7 }, wantKeys: ['a', 'ab', 'd'], wantCount: 5 },
  { name: 'min and max create_revision', req: { ...ALL, minCreateRevision: 4, maxCreateRevision: 7 }, wantKeys: ['ab', 'd'], wantCount: 5 },
  { name: 'filter then limit', req: { ...ALL, minModRevision: 6, limit: 2 }, wantKeys: ['a', 'b'], wantCount: 5, wantMore: true },
  { name: 'filter leaving exactly limit: no more', req: { ...ALL, maxModRevision: 7, limit: 3 }, wantKeys: ['a', 'ab', 'd'], wantCount: 5 },
  { name: 'historical revision 5', req: { ...ALL, revision: 5 }, wantKeys: ['a', 'ab', 'b', 'c'], wantCount: 4 },
  { name: 'historical revision 10 (c deleted)', req: { ...ALL, revision: 10 }, wantKeys: ['a', 'ab', 'b', 'd'], wantCount: 4 },
  { name: 'revision 1: empty store', req: { ...ALL, revision: 1 }, wantKeys: [], wantCount: 0 },
  { name: 'revision == current', req: { ...ALL, revision: 11 }, wantKeys: ['a', 'ab', 'b', 'c', 'd'], wantCount: 5 },
  { name: 'negative revision reads the latest', req: { ...ALL, revision: -3 }, wantKeys: ['a', 'ab', 'b', 'c', 'd'], wantCount: 5 },
];

describe('KvStore.range', () => {
  const h = fixture();

  for (const tc of rangeCases) {
    it(tc.name, () => {
      const r = h.store.range(tc.req);
      assert.deepEqual(
        r.kvs.map((kv) => norm(kv).key),
        tc.wantKeys,
      );
      assert.equal(r.count, tc.wantCount);
      assert.equal(r.more, tc.wantMore ?? false);
    });
  }

  it('returns full KeyValues at the latest and at older revisions', () => {
    assert.deepEqual(h.store.range(ALL).kvs.map(norm), [
      nkv('a', 'v0', 2, 6, 2),
      nkv('ab', 'v2', 4, 4, 1),
      nkv('b', 'v8', 3, 9, 3),
      nkv('c', 'v6', 11, 11, 1),
      nkv('d', 'v4', 7, 7, 1),
    ]);
    assert.deepEqual(h.store.range({ ...ALL, revision: 8 }).kvs.map(norm), [
      nkv('a', 'v0', 2, 6, 2),
      nkv('ab', 'v2', 4, 4, 1),
      nkv('b', 'v9', 3, 8, 2),
      nkv('c', 'v5', 5, 5, 1),
      nkv('d', 'v4', 7, 7, 1),
    ]);
  });

  it('keys_only clears values and keeps the other fields', () => {
    assert.deepEqual(h.store.range({ key: b('b'), keysOnly: true }).kvs.map(norm), [nkv('b', '', 3, 9, 3)]);
    // The stored value is untouched.
    assert.equal(norm(h.store.range({ key: b('b') }).kvs[0]!).value, 'v8');
  });

  it('a future revision fails with the exact etcd error', () => {
    throwsKv(() => h.store.range({ key: b('a'), revision: 12 }), FUTURE);
    assert.throws(() => h.store.range({ key: b('a'), revision: 12 }), FutureRevisionError);
  });
});

describe('compaction', () => {
  it('reads at the compact revision succeed, below it fail', () => {
    const h = fixture();
    h.store.compact(6);
    h.store.commit(h.index);
    assert.equal(h.store.compactRevision, 6);
    throwsKv(() => h.store.range({ ...ALL, revision: 5 }), COMPACTED);
    assert.throws(() => h.store.range({ ...ALL, revision: 1 }), (e: unknown) => e instanceof CompactedError && e.compactRevision === 6);
    assert.deepEqual(
      h.store.range({ ...ALL, revision: 6 }).kvs.map(norm),
      [nkv('a', 'v0', 2, 6, 2), nkv('ab', 'v2', 4, 4, 1), nkv('b', 'v1', 3, 3, 1), nkv('c', 'v5', 5, 5, 1)],
    );
    assert.deepEqual(
      h.store.range({ ...ALL, revision: 10 }).kvs.map((kv) => norm(kv).key),
      ['a', 'ab', 'b', 'd'],
    );
    // Compacting at or below the compact revision fails, above the current one too.
    throwsKv(() => h.store.compact(6), COMPACTED);
    throwsKv(() => h.store.compact(3), COMPACTED);
    throwsKv(() => h.store.compact(12), FUTURE);
  });

  it('drops history below the compact revision from the backend, tombstones included', () => {
    const h = fixture();
    h.store.compact(10);
    h.store.commit(h.index);
    assert.deepEqual(h.store.keyHistory(b('a')), [[6, 0, false]]);
    assert.deepEqual(h.store.keyHistory(b('b')), [[9, 0, false]]);
    // c was deleted at 10 and re-created at 11: the old generation (5, 10t) is gone.
    assert.deepEqual(h.store.keyHistory(b('c')), [[11, 0, false]]);
    const stored = [...h.backend.range('key')].map(([k]) => Buffer.from(k).toString('hex'));
    assert.equal(stored.length, 5);
  });

  it('removes a deleted key entirely and keeps the current revision across a reopen', async () => {
    const h = new Harness();
    h.put('x', '1'); // 2
    h.ok({ deleteRange: { key: b('x') } }); // 3
    h.store.compact(3);
    h.store.commit(h.index);
    assert.equal(h.store.indexedKeys, 0);
    assert.equal([...h.backend.range('key')].length, 0);
    await h.reopen();
    assert.equal(h.store.currentRevision, 3);
    assert.equal(h.store.compactRevision, 3);
    assert.equal(h.put('x', '2'), 4);
    assert.deepEqual(h.store.range({ key: b('x') }).kvs.map(norm), [nkv('x', '2', 4, 4, 1)]);
  });
});

describe('write transactions', () => {
  it('see their own writes, share one revision, and order sub revisions', () => {
    const h = fixture();
    const txn = h.store.write();
    assert.equal(txn.beginRevision, 11);
    assert.equal(txn.readRevision, 11);
    const p = txn.put(b('a'), b('new'), 0);
    assert.deepEqual(norm(p.prevKv), nkv('a', 'v0', 2, 6, 2));
    assert.deepEqual(norm(p.kv), nkv('a', 'new', 2, 12, 3));
    assert.equal(txn.readRevision, 12);
    assert.deepEqual(norm(txn.get(b('a'))), nkv('a', 'new', 2, 12, 3));
    const deleted = txn.deleteRange(b('a'), b('b'));
    assert.deepEqual(deleted.map(norm), [nkv('a', 'new', 2, 12, 3), nkv('ab', 'v2', 4, 4, 1)]);
    assert.equal(txn.exists(b('a')), false);
    txn.put(b('a'), b('again'), 0);
    assert.deepEqual(norm(txn.get(b('a'))), nkv('a', 'again', 12, 12, 1));
    // An explicit revision reads the state before the txn.
    assert.deepEqual(txn.range({ key: b('a'), revision: 11 }).kvs.map(norm), [nkv('a', 'v0', 2, 6, 2)]);
    const ch = txn.end();
    assert.ok(ch !== undefined);
    assert.equal(ch.revision, 12);
    assert.deepEqual(
      ch.events.map((e) => [e.type, norm(e.kv).key, e.kv.modRevision, norm(e.prevKv)?.modRevision]),
      [
        [0, 'a', 12, 6],
        [1, 'a', 12, 12],
        [1, 'ab', 12, 4],
        [0, 'a', 12, undefined],
      ],
    );
    assert.deepEqual(h.store.keyHistory(b('a')), [
      [2, 0, false],
      [6, 0, false],
      [12, 0, false],
      [12, 1, true],
      [12, 3, false],
    ]);
    h.store.commit(h.index + 1);
    assert.equal(h.store.currentRevision, 12);
    assert.deepEqual(h.store.range({ key: b('a'), revision: 12 }).kvs.map(norm), [nkv('a', 'again', 12, 12, 1)]);
  });

  it('a transaction that changes nothing makes no revision', () => {
    const h = fixture();
    const txn = h.store.write();
    assert.deepEqual(txn.deleteRange(b('zz')), []);
    assert.equal(txn.end(), undefined);
    assert.equal(h.store.currentRevision, 11);
  });
});

describe('changes (history for watchers)', () => {
  const summary = (chs: ReturnType<KvStore['changes']>) =>
    chs.map((c) => [c.revision, c.events.map((e) => `${e.type === 0 ? 'put' : 'del'} ${norm(e.kv).key}=${norm(e.kv).value} prev=${norm(e.prevKv)?.value ?? '-'}`)]);

  it('returns committed revisions in order with prevKv, bounded by maxRevisions', () => {
    const h = fixture();
    assert.deepEqual(summary(h.store.changes(8, 100)), [
      [8, ['put b=v9 prev=v1']],
      [9, ['put b=v8 prev=v9']],
      [10, ['del c= prev=v5']],
      [11, ['put c=v6 prev=-']],
    ]);
    assert.deepEqual(summary(h.store.changes(0, 3, 2)), [
      [2, ['put a=v3 prev=-']],
      [3, ['put b=v1 prev=-']],
    ]);
    assert.deepEqual(h.store.changes(12, 20), []);
    assert.deepEqual(h.store.changes(5, 4), []);
    const del = h.store.changes(10, 10)[0]!.events[0]!;
    assert.deepEqual(norm(del.kv), nkv('c', '', 0, 10, 0));
  });

  it('finds the previous value within one revision', () => {
    const h = fixture();
    const txn = h.store.write();
    txn.put(b('a'), b('x'), 0);
    txn.deleteRange(b('a'));
    txn.put(b('a'), b('y'), 0);
    const reported = txn.end()!;
    h.store.commit(h.index + 1);
    assert.deepEqual(summary(h.store.changes(12, 12)), [[12, ['put a=x prev=v0', 'del a= prev=x', 'put a=y prev=-']]]);
    assert.deepEqual(summary(h.store.changes(12, 12)), summary([reported]));
  });

  it('after compaction: compacted below, no prevKv at the compact revision itself', () => {
    const h = fixture();
    h.store.compact(9);
    h.store.commit(h.index);
    throwsKv(() => h.store.changes(8, 11), COMPACTED);
    assert.deepEqual(summary(h.store.changes(9, 11)), [
      [9, ['put b=v8 prev=-']],
      [10, ['del c= prev=v5']],
      [11, ['put c=v6 prev=-']],
    ]);
  });
});

describe('restore', () => {
  it('a fresh store is at revision 1, compact revision 0, consistent index 0', () => {
    const store = new KvStore(new MemoryBackend());
    assert.equal(store.currentRevision, 1);
    assert.equal(store.compactRevision, 0);
    assert.equal(store.consistentIndex, 0);
    assert.deepEqual(store.range(ALL), { kvs: [], more: false, count: 0 });
    assert.equal(store.hashKV().revision, 1);
  });

  it('rebuilds the same index, revisions and consistent index from the backend', async () => {
    const h = fixture();
    h.store.compact(7);
    h.store.commit(h.index);
    const before = [7, 8, 9, 10, 11].map((rev) => h.store.range({ ...ALL, revision: rev }).kvs.map(norm));
    const hash = h.store.hashKV();
    const histories = ['a', 'ab', 'b', 'c', 'd'].map((k) => h.store.keyHistory(b(k)));
    await h.reopen();
    assert.equal(h.store.currentRevision, 11);
    assert.equal(h.store.compactRevision, 7);
    assert.equal(h.store.consistentIndex, h.index);
    assert.deepEqual(
      [7, 8, 9, 10, 11].map((rev) => h.store.range({ ...ALL, revision: rev }).kvs.map(norm)),
      before,
    );
    assert.deepEqual(
      ['a', 'ab', 'b', 'c', 'd'].map((k) => h.store.keyHistory(b(k))),
      histories,
    );
    assert.deepEqual(h.store.hashKV(), hash);
  });
});

describe('hashKV', () => {
  it('is equal for equal histories and differs otherwise', () => {
    const x = fixture();
    const y = fixture();
    assert.deepEqual(x.store.hashKV(), y.store.hashKV());
    y.put('a', 'other');
    x.put('a', 'another');
    assert.notEqual(x.store.hashKV().hash, y.store.hashKV().hash);
    // Hashes at an older revision only cover history up to it.
    assert.deepEqual(x.store.hashKV(11), y.store.hashKV(11));
  });

  it('hash at a revision is unchanged by later writes', () => {
    const h = fixture();
    const at11 = h.store.hashKV();
    h.put('e', 'x');
    h.ok({ deleteRange: { key: b('a') } });
    assert.deepEqual(h.store.hashKV(11), at11);
    assert.equal(h.store.hashKV().revision, 13);
  });

  it('rejects compacted and future revisions', () => {
    const h = fixture();
    h.store.compact(5);
    h.store.commit(h.index);
    throwsKv(() => h.store.hashKV(4), COMPACTED);
    throwsKv(() => h.store.hashKV(12), FUTURE);
    assert.deepEqual(
      [h.store.hashKV(5).revision, h.store.hashKV(5).compactRevision],
      [5, 5],
    );
  });
});
