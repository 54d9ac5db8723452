// The single-member consensus host: group commit (proposals of one event-loop turn share one
// log save = one fsync, and one backend commit), nothing is answered before its save resolved,
// restart replays the log after the consistent index, the log prefix is compacted every
// snapshot-count entries, and a storage failure is fatal. Runs on the memory driver with a
// LogStore wrapper that counts and gates saves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Applier } from '../../src/core/apply/applier.js';
import { KvStore } from '../../src/core/mvcc/kv-store.js';
import { silentLogger } from '../../src/core/ports/logger.js';
import type { Backend, LogStore, LogUpdate, SnapshotMeta } from '../../src/core/ports/storage-driver.js';
import { MemoryDriver } from '../../src/drivers/memory/memory-driver.js';
import { SingleMemberHost } from '../../src/server/single-member-host.js';

const enc = (s: string): Uint8Array => Buffer.from(s);

/** Counts saves and backend commits; can hold saves until released. */
class Spy {
  saves: LogUpdate[] = [];
  commits = 0;
  compactions: SnapshotMeta[] = [];
  gate: Promise<void> | undefined;
  failNext = false;
  wrapLog(inner: LogStore): LogStore {
    return new Proxy(inner, {
      get: (t, p, r) => {
        if (p === 'save')
          return async (u: LogUpdate) => {
            this.saves.push(u);
            if (this.failNext) throw new Error('disk on fire');
            if (this.gate) await this.gate;
            return t.save(u);
          };
        if (p === 'compact')
          return async (m: SnapshotMeta) => {
            this.compactions.push(m);
            return t.compact(m);
          };
        const v = Reflect.get(t, p, r);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
  }
  wrapBackend(inner: Backend): Backend {
    return new Proxy(inner, {
      get: (t, p, r) => {
        if (p === 'commit')
          return (ops: Parameters<Backend['commit']>[0]) => {
            this.commits++;
            return t.commit(ops);
          };
        const v = Reflect.get(t, p, r);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
  }
}

async function makeHost(driver: MemoryDriver, spy: Spy, opts: { snapshotCount?: number; fatal?: (e: unknown) => void } = {}) {
  const h = await driver.open('unused');
  const backend = spy.wrapBackend(h.backend);
  const logStore = spy.wrapLog(h.logStore);
  const store = new KvStore(backend);
  const host = new SingleMemberHost(
    store,
    new Applier(store),
    logStore,
    backend,
    {
      memberId: 7,
      clusterId: 9,
      maxRequestBytes: 1 << 20,
      maxPendingProposals: 5000,
      snapshotCount: opts.snapshotCount ?? 1_000_000,
      fatal: opts.fatal ?? ((e) => assert.fail(String(e))),
    },
    silentLogger,
  );
  await host.start();
  return { host, store, logStore, backend };
}

test('proposals of one turn share one save and one backend commit', async () => {
  const spy = new Spy();
  const { host } = await makeHost(new MemoryDriver(), spy);
  const saves0 = spy.saves.length;
  const commits0 = spy.commits;
  const results = await Promise.all(
    Array.from({ length: 256 }, (_, i) => host.propose({ put: { key: enc(`k${i}`), value: enc('v') } })),
  );
  assert.equal(spy.saves.length - saves0, 1, 'one save for 256 concurrent puts');
  assert.equal(spy.commits - commits0, 1, 'one backend commit');
  assert.equal(spy.saves.at(-1)!.entries!.length, 256);
  // One revision each, in proposal order.
  const revs = results.map((r) => (r.response as { header: { revision: number } }).header.revision);
  assert.deepEqual(revs, Array.from({ length: 256 }, (_, i) => 2 + i));
});

test('nothing is answered before its save resolves; later proposals batch behind it', async () => {
  const spy = new Spy();
  const { host } = await makeHost(new MemoryDriver(), spy);
  let release!: () => void;
  spy.gate = new Promise((r) => (release = r));
  let answered = 0;
  const first = host.propose({ put: { key: enc('a'), value: enc('1') } }).then(() => answered++);
  await new Promise((r) => setImmediate(r));
  const more = Array.from({ length: 10 }, (_, i) => host.propose({ put: { key: enc(`b${i}`), value: enc('2') } }).then(() => answered++));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(answered, 0, 'no answer while the save is held');
  const savesWhileHeld = spy.saves.length;
  spy.gate = undefined;
  release();
  await Promise.all([first, ...more]);
  assert.equal(answered, 11);
  assert.equal(spy.saves.length - savesWhileHeld, 1, 'the ten queued behind the first became one save');
  assert.equal(host.status().appliedIndex, host.status().commitIndex);
});

test('restart replays the log after the consistent index; the term grows', async () => {
  const driver = new MemoryDriver();
  const spy = new Spy();
  const a = await makeHost(driver, spy);
  for (let i = 0; i < 20; i++) await a.host.propose({ put: { key: enc('k'), value: enc(String(i)) } });
  const term1 = a.host.status().term;
  const rev = a.store.currentRevision;
  await a.host.stop();
  await a.backend.close();
  await a.logStore.close();
  const b = await makeHost(driver, new Spy());
  assert.equal(b.store.currentRevision, rev);
  assert.equal(Buffer.from(b.store.range({ key: enc('k') }).kvs[0]!.value).toString(), '19');
  assert.equal(b.host.status().term, term1 + 1);
});

test('the log prefix is compacted every snapshot-count applied entries', async () => {
  const spy = new Spy();
  const { host, logStore } = await makeHost(new MemoryDriver(), spy, { snapshotCount: 10 });
  for (let i = 0; i < 25; i++) await host.propose({ put: { key: enc('k'), value: enc(String(i)) } });
  assert.ok(spy.compactions.length >= 2);
  assert.ok(logStore.firstIndex() > 10);
  assert.equal(logStore.lastIndex(), host.status().lastIndex);
});

test('a failed save rejects its proposals and is fatal', async () => {
  const spy = new Spy();
  let fatal: unknown;
  const { host } = await makeHost(new MemoryDriver(), spy, { fatal: (e) => (fatal = e) });
  spy.failNext = true;
  await assert.rejects(host.propose({ put: { key: enc('k'), value: enc('v') } }), { message: 'etcetera: storage error' });
  assert.match(String(fatal), /disk on fire/);
  await assert.rejects(host.propose({ put: { key: enc('k'), value: enc('v') } }), { message: 'etcdserver: server stopped' });
});

test('oversized and overload proposals are refused before the log', async () => {
  const spy = new Spy();
  const { host } = await makeHost(new MemoryDriver(), spy);
  const saves = spy.saves.length;
  await assert.rejects(host.propose({ put: { key: enc('k'), value: new Uint8Array(2 << 20) } }), { message: 'etcdserver: request is too large' });
  assert.equal(spy.saves.length, saves);
});
