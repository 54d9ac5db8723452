// The `etcd3` npm client (1.1.2, @grpc/grpc-js) against the real etcetera server process's
// grpc port, used as its users use it: put and get, prefix reads with count, sort and limit,
// deletes, transactions (if / then / else, create-if-absent), a watch that survives a restart
// of the server (stopped, then started again on the same port and data dir: the watcher
// reconnects and resumes from the revision after the last one it saw, so it sees the later
// events and none twice), and a lease kept alive by the client (its key stays past the TTL
// while keep-alives succeed, and vanishes when the lease is revoked). Spec §15 lists what the
// client relies on (progress_notify on every create, header.revision on every watch reply).
// Waits are on the client's own events, each bounded so that a bug fails instead of hanging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { Etcd3, type IKeyValue } from 'etcd3';
import { freePort } from './etcd-reference.js';
import { startServer, tempDir, type ServerProcess } from './harness.js';

let server: ServerProcess;
let grpcAddress: string;
let dataDir: string;
let etcd: Etcd3;

/** Starts (or restarts) the server on the fixed grpc port and data dir. */
async function start(): Promise<void> {
  server = await startServer({ driver: 'lmdb', dataDir, grpcAddress });
}

/** Resolves when `cond()` holds, re-checking whenever `emitter` emits `event`; fails after `ms`. */
function until(what: string, ms: number, cond: () => boolean, subscribe: (check: () => void) => () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (cond()) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const off = subscribe(() => {
      if (!cond()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

before(async () => {
  dataDir = join(tempDir('etcd3'), 'member');
  grpcAddress = `127.0.0.1:${await freePort()}`;
  await start();
  etcd = new Etcd3({
    hosts: `http://${grpcAddress}`,
    // Reconnect promptly after the restart (defaults back off for up to 30 s).
    grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500 },
    faultHandling: { watchBackoff: { duration: 100, next: function next() { return this; } } },
  });
});

after(async () => {
  etcd?.close();
  await server?.stop();
});

test('put, get, prefix reads, delete', async () => {
  await etcd.put('e3/a').value('1');
  await etcd.put('e3/b').value('2');
  await etcd.put('e3/c').value(3);
  await etcd.put('other').value('x');
  assert.equal(await etcd.get('e3/a').string(), '1');
  assert.equal(await etcd.get('e3/c').number(), 3);
  assert.equal(await etcd.get('e3/none').string(), null);
  assert.equal(await etcd.get('e3/a').exists(), true);
  assert.equal(await etcd.get('e3/none').exists(), false);
  assert.deepEqual(await etcd.getAll().prefix('e3/').strings(), { 'e3/a': '1', 'e3/b': '2', 'e3/c': '3' });
  assert.equal(await etcd.getAll().prefix('e3/').count(), 3);
  assert.deepEqual(await etcd.getAll().prefix('e3/').sort('Key', 'Descend').limit(2).keys(), ['e3/c', 'e3/b']);
  const res = await etcd.getAll().prefix('e3/').limit(1).exec();
  assert.equal(res.count, '3', 'count ignores limit; int64 as a decimal string');
  assert.equal(res.more, true);
  const deleted = await etcd.delete().key('e3/c').exec();
  assert.equal(deleted.deleted, '1');
  const prev = await etcd.delete().prefix('e3/').getPrevious();
  assert.deepEqual(prev.map((kv) => kv.key.toString()).sort(), ['e3/a', 'e3/b']);
  assert.equal(await etcd.getAll().prefix('e3/').count(), 0);
});

test('transactions: if / then / else, create-if-absent', async () => {
  await etcd.put('tx/k').value('one');
  const hit = await etcd.if('tx/k', 'Value', '==', 'one').then(etcd.put('tx/k').value('two')).else(etcd.get('tx/k')).commit();
  assert.equal(hit.succeeded, true);
  assert.equal(await etcd.get('tx/k').string(), 'two');
  const miss = await etcd.if('tx/k', 'Value', '==', 'one').then(etcd.put('tx/k').value('three')).else(etcd.get('tx/k')).commit();
  assert.equal(miss.succeeded, false);
  assert.equal(miss.responses[0]!.response_range!.kvs[0]!.value.toString(), 'two');
  assert.equal(await etcd.get('tx/k').string(), 'two');
  // Create-if-absent, as the client's lock and election recipes do it.
  const create = () => etcd.if('tx/new', 'Create', '==', 0).then(etcd.put('tx/new').value('mine')).commit();
  assert.equal((await create()).succeeded, true);
  assert.equal((await create()).succeeded, false);
  const both = await etcd.if('tx/k', 'Version', '>', 0).and('tx/new', 'Mod', '>', 0).then(etcd.delete().key('tx/new'), etcd.get('tx/k')).commit();
  assert.equal(both.succeeded, true);
  assert.equal(both.responses[0]!.response_delete_range!.deleted, '1');
  assert.equal(both.responses[1]!.response_range!.kvs[0]!.value.toString(), 'two');
});

test('a watch resumes after the server restarts and sees every later event once', { timeout: 60_000 }, async () => {
  const watcher = await etcd.watch().prefix('w/').create();
  const seen: string[] = [];
  const revisions: number[] = [];
  const onKv = (type: string) => (kv: IKeyValue) => {
    seen.push(`${type} ${kv.key.toString()}=${kv.value.toString()}`);
    revisions.push(Number(kv.mod_revision));
  };
  watcher.on('put', onKv('put'));
  watcher.on('delete', onKv('delete'));
  const events = (n: number, what: string): Promise<void> =>
    until(what, 10_000, () => seen.length >= n, (check) => {
      watcher.on('data', check);
      return () => watcher.off('data', check);
    });
  await etcd.put('w/1').value('a');
  await events(1, 'the first event');

  const disconnected = once(watcher, 'disconnected');
  assert.equal(await server.stop(), 0);
  await disconnected;
  await start();
  // Written as soon as the server is back: the watcher may still be reconnecting, and then
  // finds it in the history from the revision it asks for.
  await etcd.put('w/2').value('b');
  await etcd.delete().key('w/1').exec();
  await events(3, 'the events after the restart');
  await etcd.put('w/3').value('c');
  await events(4, 'a live event after the reconnect');
  assert.deepEqual(seen, ['put w/1=a', 'put w/2=b', 'delete w/1=', 'put w/3=c']);
  for (let i = 1; i < revisions.length; i++) assert.equal(revisions[i], revisions[i - 1]! + 1, 'no gap, no duplicate');
  await watcher.cancel();
});

test('a lease kept alive keeps its key past the TTL; revoking it removes the key', { timeout: 30_000 }, async () => {
  const ttl = 2;
  const lease = etcd.lease(ttl);
  const id = await lease.grant();
  assert.match(id, /^\d+$/, 'lease IDs arrive as decimal strings');
  await lease.put('lease/k').value('held');
  const ttlRes = await etcd.getAll().prefix('lease/').exec();
  assert.equal(ttlRes.kvs[0]!.lease, id);
  // Wait (on the client's keep-alive events) until well past the TTL.
  const started = performance.now();
  let renewals = 0;
  lease.on('keepaliveSucceeded', (res) => {
    renewals++;
    assert.equal(res.TTL, String(ttl));
  });
  let lost: unknown;
  lease.on('lost', (err) => (lost = err));
  await until(`keep-alives for ${ttl * 1.5} s`, 15_000, () => performance.now() - started > ttl * 1500 && renewals >= 2, (check) => {
    lease.on('keepaliveSucceeded', check);
    return () => lease.off('keepaliveSucceeded', check);
  });
  assert.equal(lost, undefined);
  assert.equal(await etcd.get('lease/k').string(), 'held', 'kept alive past its TTL');
  await lease.revoke();
  assert.equal(await etcd.get('lease/k').string(), null, 'gone with the lease');
  assert.deepEqual((await etcd.getAll().prefix('lease/').exec()).kvs, []);
});
