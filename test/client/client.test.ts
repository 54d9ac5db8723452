// Checks the client's own logic: prefixEnd and key-range rules (spec §9.2), the requests the
// conveniences and the txn builder produce, option and endpoint validation, and — over a real
// tcp listener on 127.0.0.1 with the toy FakeServices — get / getString / delete / txn().commit().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Cmp, Op, prefixEnd, TxnBuilder, keyRange } from '../../src/client/client.js';
import { CompareResult, CompareTarget } from '../../src/core/api/kv.js';
import { silentLogger } from '../../src/core/ports/logger.js';
import { TcpTransport } from '../../src/transports/tcp/tcp-transport.js';
import { FakeServices } from '../helpers/fake-services.js';

const hex = (b: Uint8Array | null | undefined): string | null => (b == null ? null : Buffer.from(b).toString('hex'));
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('prefixEnd follows the prefix rule of spec §9.2', () => {
  const cases: [string, string][] = [
    ['aa', 'ab'],
    ['a\xff', 'b'],
    ['a\xff\xff', 'b'],
    ['\x00', '\x01'],
    ['z', '{'],
    ['\xff', '\x00'],
    ['\xff\xff', '\x00'],
    ['', '\x00'],
  ];
  for (const [key, want] of cases) assert.equal(hex(prefixEnd(b(key))), hex(b(want)), JSON.stringify(key));
  // The caller's key is never modified.
  const k = b('ab');
  prefixEnd(k);
  assert.equal(k.toString('latin1'), 'ab');
});

test('keyRange: exact key, prefix, fromKey, rangeEnd, and the all-keys forms', () => {
  assert.deepEqual(keyRange('k', undefined), { key: b('k'), rangeEnd: null });
  assert.equal(hex(keyRange('p/', { prefix: true }).rangeEnd), hex(b('p0')));
  assert.equal(hex(keyRange('a', { fromKey: true }).rangeEnd), '00');
  assert.equal(hex(keyRange('a', { rangeEnd: 'c' }).rangeEnd), hex(b('c')));
  // etcdctl get --prefix "" sends key "\0" with range_end "\0": all keys.
  for (const sel of [{ prefix: true }, { fromKey: true }]) {
    const r = keyRange('', sel);
    assert.equal(hex(r.key), '00');
    assert.equal(hex(r.rangeEnd), '00');
  }
  assert.throws(() => keyRange('a', { prefix: true, fromKey: true }), TypeError);
  assert.equal(hex(keyRange(Uint8Array.of(1, 2), undefined).key), '0102');
});

test('Cmp and Op build the etcd messages', () => {
  assert.deepEqual(Cmp.value('k', '=', 'v'), {
    key: b('k'),
    rangeEnd: null,
    result: CompareResult.EQUAL,
    target: CompareTarget.VALUE,
    value: b('v'),
  });
  const c = Cmp.modRevision('p/', '<', 9, { prefix: true });
  assert.equal(c.result, CompareResult.LESS);
  assert.equal(c.target, CompareTarget.MOD);
  assert.equal(c.modRevision, 9);
  assert.equal(hex(c.rangeEnd), hex(b('p0')));
  assert.equal(Cmp.version('k', '!=', 0).result, CompareResult.NOT_EQUAL);
  assert.equal(Cmp.createRevision('k', '>', 0).target, CompareTarget.CREATE);
  assert.equal(Cmp.lease('k', '==', 5).lease, 5);
  assert.throws(() => Cmp.version('k', '<=' as never, 1), TypeError);

  assert.deepEqual(Op.put('k', 'v', { lease: 3 }), { requestPut: { lease: 3, key: b('k'), value: b('v') } });
  const g = Op.get('p/', { prefix: true, limit: 2, keysOnly: true }).requestRange!;
  assert.equal(g.limit, 2);
  assert.equal(g.keysOnly, true);
  assert.equal(hex(g.rangeEnd), hex(b('p0')));
  assert.equal('prefix' in g, false);
  const d = Op.delete('a', { fromKey: true, prevKv: true }).requestDeleteRange!;
  assert.equal(hex(d.rangeEnd), '00');
  assert.equal(d.prevKv, true);
  const inner = new TxnBuilder().if(Cmp.version('x', '=', 0)).then(Op.put('x', '1'));
  assert.equal(Op.txn(inner).requestTxn!.compare!.length, 1);
});

test('TxnBuilder appends, and refuses to be awaited', async () => {
  const t = new TxnBuilder()
    .if(Cmp.version('a', '=', 0))
    .if(Cmp.value('b', '!=', 'x'))
    .then(Op.put('a', '1'))
    .else(Op.get('a'), Op.delete('b'));
  const req = t.request();
  assert.equal(req.compare!.length, 2);
  assert.equal(req.success!.length, 1);
  assert.equal(req.failure!.length, 2);
  // `await builder` calls then(resolve, reject): a TypeError, not a silent bogus txn.
  await assert.rejects(async () => {
    await (t as unknown as PromiseLike<unknown>);
  }, TypeError);
  await assert.rejects(new TxnBuilder().commit(), TypeError);
});

test('options and endpoints are validated', () => {
  assert.throws(() => new Client({ endpoints: [] }), TypeError);
  assert.throws(() => new Client({ endpoints: ['http://127.0.0.1:1'] }), TypeError);
  assert.throws(() => new Client({ endpoints: ['127.0.0.1:2379'] }), TypeError);
  assert.throws(() => new Client({ endpoints: ['tcp://127.0.0.1'] }), TypeError);
  assert.throws(() => new Client({ endpoints: ['tcp://127.0.0.1:1'], timeoutMs: 0 }), TypeError);
  // Constructing does not connect.
  const c = new Client({ endpoints: ['tcp://127.0.0.1:1', 'ws://[::1]:2/x'] });
  void c.close();
});

test('conveniences over a real connection: get, getString, delete, txn', async (t) => {
  const services = new FakeServices();
  const server = new TcpTransport(services, { address: '127.0.0.1:0', maxFrameBytes: 1 << 20, maxQueuedBytes: 1 << 20 }, silentLogger);
  const { port } = await server.listen();
  const client = new Client({ endpoints: [`tcp://127.0.0.1:${port}`] });
  t.after(async () => {
    await client.close();
    await server.close();
  });
  for (const k of ['p/a', 'p/b', 'p/c', 'q']) await client.put({ key: b(k), value: Buffer.from(`value of ${k} ✓`) });
  assert.equal(await client.getString('p/b'), 'value of p/b ✓');
  assert.equal(await client.getString('missing'), undefined);
  const all = await client.get('p/', { prefix: true });
  assert.deepEqual(all.kvs.map((kv) => Buffer.from(kv.key).toString()), ['p/a', 'p/b', 'p/c']);
  const lim = await client.get('p/', { prefix: true, limit: 1, timeoutMs: 1000 });
  assert.equal(lim.kvs.length, 1);
  assert.equal(lim.more, true);
  assert.equal((await client.get('p/b', { fromKey: true })).count, 3); // p/b, p/c, q
  const del = await client.delete('p/', { prefix: true, prevKv: true });
  assert.equal(del.deleted, 3);
  assert.equal(del.prevKvs.length, 3);
  const tx = await client.txn().if(Cmp.version('q', '>', 0)).then(Op.put('r', '1'), Op.get('q')).else(Op.put('s', '1')).commit();
  assert.equal(tx.succeeded, true);
  assert.equal(tx.responses.length, 2);
  assert.equal(Buffer.from(tx.responses[1]!.responseRange!.kvs[0]!.value).toString(), 'value of q ✓');
  assert.equal(await client.getString('r'), '1');
});
