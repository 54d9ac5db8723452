// The KV API end to end: the real server process (LMDB driver) and the TypeScript client,
// over both client transports (ws and tcp) on real sockets. Checks etcd v3 semantics as a
// user sees them (revisions, ranges, txn, compaction, errors with etcd's exact messages) and
// that a restart keeps the data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { KvError } from '../../src/core/errors.js';
import { startServer, type ServerProcess } from './harness.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();

let server: ServerProcess;
before(async () => {
  server = await startServer({ driver: 'lmdb' });
});
after(async () => {
  await server?.stop();
});

async function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KvError, `not a KvError: ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

for (const transport of ['ws', 'tcp'] as const) {
  test(`KV semantics over ${transport}`, async (t) => {
    const client = new Client({ endpoints: [transport === 'ws' ? server.ws : server.tcp] });
    const p = (s: string): Uint8Array => enc(`${transport}/${s}`);
    try {
      await t.test('put and get, revisions and versions', async () => {
        const r1 = await client.put({ key: p('a'), value: enc('1') });
        const r2 = await client.put({ key: p('a'), value: enc('2'), prevKv: true });
        assert.equal(r2.header.revision, r1.header.revision + 1);
        assert.equal(dec(r2.prevKv!.value), '1');
        const g = await client.range({ key: p('a') });
        assert.equal(g.count, 1);
        assert.equal(dec(g.kvs[0]!.value), '2');
        assert.equal(g.kvs[0]!.version, 2);
        assert.equal(g.kvs[0]!.createRevision, r1.header.revision);
        assert.equal(g.kvs[0]!.modRevision, r2.header.revision);
        assert.equal(g.header.revision, r2.header.revision);
        assert.ok(g.header.memberId > 0 && g.header.clusterId > 0 && g.header.raftTerm > 0);
        const old = await client.range({ key: p('a'), revision: r1.header.revision });
        assert.equal(dec(old.kvs[0]!.value), '1');
      });

      await t.test('prefix, limit, more, count, sort, keys_only, count_only', async () => {
        for (const k of ['p/c', 'p/a', 'p/d', 'p/b']) await client.put({ key: p(k), value: enc(k.toUpperCase()) });
        const all = await client.range({ key: p('p/'), rangeEnd: p('p0') });
        assert.deepEqual(all.kvs.map((kv) => dec(kv.key)), ['a', 'b', 'c', 'd'].map((x) => `${transport}/p/${x}`));
        const lim = await client.range({ key: p('p/'), rangeEnd: p('p0'), limit: 2 });
        assert.equal(lim.kvs.length, 2);
        assert.equal(lim.more, true);
        assert.equal(lim.count, 4);
        const desc = await client.range({ key: p('p/'), rangeEnd: p('p0'), sortOrder: 2, sortTarget: 0, limit: 1 });
        assert.equal(dec(desc.kvs[0]!.key), `${transport}/p/d`);
        const ko = await client.range({ key: p('p/'), rangeEnd: p('p0'), keysOnly: true });
        assert.equal(ko.kvs[0]!.value.length, 0);
        const co = await client.range({ key: p('p/'), rangeEnd: p('p0'), countOnly: true });
        assert.equal(co.kvs.length, 0);
        assert.equal(co.count, 4);
      });

      await t.test('delete: prev_kv, and no revision for deleting nothing', async () => {
        const d = await client.deleteRange({ key: p('p/a'), rangeEnd: p('p/c'), prevKv: true });
        assert.equal(d.deleted, 2);
        assert.deepEqual(d.prevKvs.map((kv) => dec(kv.value)), ['P/A', 'P/B']);
        const none = await client.deleteRange({ key: p('nothing') });
        assert.equal(none.deleted, 0);
        assert.equal(none.header.revision, d.header.revision);
      });

      await t.test('txn: compare, branches, own writes visible', async () => {
        const r = await client.txnRaw({
          compare: [{ key: p('t'), target: 1, result: 0, createRevision: 0 }],
          success: [{ requestPut: { key: p('t'), value: enc('x') } }, { requestRange: { key: p('t') } }],
          failure: [{ requestRange: { key: p('t') } }],
        });
        assert.equal(r.succeeded, true);
        assert.equal(dec(r.responses[1]!.responseRange!.kvs[0]!.value), 'x');
        const again = await client.txnRaw({
          compare: [{ key: p('t'), target: 1, result: 0, createRevision: 0 }],
          success: [{ requestPut: { key: p('t'), value: enc('y') } }],
          failure: [{ requestRange: { key: p('t') } }],
        });
        assert.equal(again.succeeded, false);
        assert.equal(again.header.revision, r.header.revision, 'a txn that changes nothing takes no revision');
        await rejectsWith(
          client.txnRaw({ success: [{ requestPut: { key: p('d') } }, { requestPut: { key: p('d') } }] }),
          'etcdserver: duplicate key given in txn request',
        );
        await rejectsWith(
          client.txnRaw({ success: Array.from({ length: 129 }, (_, i) => ({ requestPut: { key: p(`m${i}`) } })) }),
          'etcdserver: too many operations in txn request',
        );
      });

      await t.test('errors carry etcd messages', async () => {
        await rejectsWith(client.put({ key: new Uint8Array(0), value: enc('v') }), 'etcdserver: key is not provided');
        await rejectsWith(client.range({ key: new Uint8Array(0) }), 'etcdserver: key is not provided');
        await rejectsWith(client.put({ key: p('iv'), ignoreValue: true }), 'etcdserver: key not found');
        await rejectsWith(client.put({ key: p('iv'), value: enc('v'), lease: 42 }), 'etcdserver: requested lease not found');
        const cur = (await client.range({ key: p('a') })).header.revision;
        await rejectsWith(client.range({ key: p('a'), revision: cur + 100 }), 'etcdserver: mvcc: required revision is a future revision');
        await rejectsWith(client.put({ key: p('big'), value: Buffer.alloc(1_600_000) }), 'etcdserver: request is too large');
        // The connection still serves after every error.
        assert.equal((await client.range({ key: p('a') })).count, 1);
      });
    } finally {
      await client.close();
    }
  });
}

test('compaction: reads below the compacted revision fail, at it succeed', async () => {
  const client = new Client({ endpoints: [server.tcp] });
  try {
    const r1 = await client.put({ key: enc('c/k'), value: enc('1') });
    const r2 = await client.put({ key: enc('c/k'), value: enc('2') });
    await client.put({ key: enc('c/k'), value: enc('3') });
    await client.compact({ revision: r2.header.revision, physical: true });
    await rejectsWith(client.range({ key: enc('c/k'), revision: r1.header.revision }), 'etcdserver: mvcc: required revision has been compacted');
    assert.equal(dec((await client.range({ key: enc('c/k'), revision: r2.header.revision })).kvs[0]!.value), '2');
    await rejectsWith(client.compact({ revision: r2.header.revision }), 'etcdserver: mvcc: required revision has been compacted');
  } finally {
    await client.close();
  }
});

test('status reports the member', async () => {
  const client = new Client({ endpoints: [server.ws] });
  try {
    const s = await client.status();
    assert.equal(s.leader, s.header.memberId);
    assert.ok(s.raftIndex >= s.raftAppliedIndex && s.raftAppliedIndex > 0);
    assert.ok(s.dbSize > 0);
  } finally {
    await client.close();
  }
});

test('a restart keeps the data and the revision', async () => {
  let client = new Client({ endpoints: [server.ws] });
  const w = await client.put({ key: enc('r/k'), value: enc('kept') });
  await client.close();
  assert.equal(await server.stop(), 0);
  server = await startServer({ driver: 'lmdb', dataDir: server.dataDir });
  client = new Client({ endpoints: [server.tcp] });
  try {
    const g = await client.range({ key: enc('r/k') });
    assert.equal(dec(g.kvs[0]!.value), 'kept');
    assert.equal(g.header.revision, w.header.revision);
  } finally {
    await client.close();
  }
});
