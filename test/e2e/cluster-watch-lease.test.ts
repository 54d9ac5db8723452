// Watch and leases on a real three-member cluster: a watch served by a follower sees every
// change in order; a watch whose member is killed resumes on another member from the last seen
// revision + 1 with no gap and no duplicate while writes continue; a lease kept alive through
// the cluster survives kill -9 of the leader (the new leader renews remaining TTLs and serves
// keep-alives, forwarded by followers), and its keys vanish once nobody keeps it alive.
import { eventually } from '../helpers/eventually.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Subscription } from 'rxjs';
import { Client } from '../../src/client/client.js';
import type { Event } from '../../src/core/api/kv.js';
import { Cluster } from './cluster-harness.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();


test('watch through a follower, and resume on another member after kill -9', { timeout: 120_000 }, async () => {
  const c = await Cluster.start({ driver: 'memory' });
  const subs: Subscription[] = [];
  const clients: Client[] = [];
  try {
    const leader = await c.leader();
    const follower = [0, 1, 2].find((i) => i !== leader)!;
    const writer = new Client({ endpoints: [c.members[leader]!.server!.tcp], timeoutMs: 5000 });
    clients.push(writer);
    const start = (await writer.put({ key: enc('w/start'), value: enc('0') })).header.revision;

    // The watcher's first endpoint is the follower; the others are where it may resume.
    const urls = [follower, ...[0, 1, 2].filter((i) => i !== follower)].map((i) => c.members[i]!.server!.ws);
    const watcher = new Client({ endpoints: urls, timeoutMs: 5000 });
    clients.push(watcher);
    const seen: Event[] = [];
    let failed: unknown;
    subs.push(
      watcher.watch('w/', { prefix: true, startRevision: start + 1 }).subscribe({
        next: (r) => seen.push(...r.events),
        error: (e: unknown) => (failed = e),
      }),
    );
    const acked: { key: string; rev: number }[] = [];
    let stop = false;
    // Writes keep going through the members that stay up.
    const others = [0, 1, 2].filter((i) => i !== follower).map((i) => c.members[i]!.server!.tcp);
    const w2 = new Client({ endpoints: others, timeoutMs: 5000 });
    clients.push(w2);
    const writing = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await w2.put({ key: enc(`w/${i}`), value: enc(String(i)) });
          acked.push({ key: `w/${i}`, rev: r.header.revision });
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    await eventually(async () => assert.ok(seen.length >= 50));
    await c.members[follower]!.server!.kill();
    c.members[follower]!.server = undefined;
    const atKill = acked.length;
    await eventually(async () => assert.ok(acked.length >= atKill + 100));
    stop = true;
    await writing;
    const last = acked[acked.length - 1]!.rev;
    await eventually(async () => assert.ok(seen.length > 0 && seen[seen.length - 1]!.kv.modRevision >= last));
    assert.equal(failed, undefined);
    // Every acknowledged write exactly once, in revision order, and nothing else.
    const revs = seen.map((e) => e.kv.modRevision);
    for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, `revisions not increasing at ${i}`);
    const seenKeys = new Map(seen.map((e) => [e.kv.modRevision, dec(e.kv.key)]));
    for (const a of acked) assert.equal(seenKeys.get(a.rev), a.key, `missing ${a.key}@${a.rev}`);
    assert.ok(seen.length <= acked.length + 5, 'no events beyond the writes (a few unacknowledged ones may appear)');
  } finally {
    for (const s of subs) s.unsubscribe();
    for (const cl of clients) await cl.close();
    await c.stop();
  }
});

test('a kept-alive lease survives kill -9 of the leader; unkept, its keys vanish', { timeout: 120_000 }, async () => {
  const c = await Cluster.start({ driver: 'lmdb' });
  const subs: Subscription[] = [];
  let client: Client | undefined;
  try {
    const leader = await c.leader();
    // The client prefers followers, so keep-alives are forwarded to the leader.
    const order = [...[0, 1, 2].filter((i) => i !== leader), leader];
    client = new Client({ endpoints: order.map((i) => c.members[i]!.server!.ws), timeoutMs: 5000 });
    const cl = client;
    const kept = await cl.grant(3);
    const unkept = await cl.grant(3);
    await cl.put({ key: enc('lease/kept'), value: enc('1'), lease: kept.id });
    await cl.put({ key: enc('lease/unkept'), value: enc('1'), lease: unkept.id });
    let lost: unknown;
    subs.push(kept.keepAlive().subscribe({ error: (e: unknown) => (lost = e) }));

    await c.members[leader]!.server!.kill();
    c.members[leader]!.server = undefined;
    await c.leader();
    // Well past the TTL: the kept lease and its key are there, the other's key is gone.
    await new Promise((r) => setTimeout(r, 5000));
    await eventually(async () => {
      const r = await cl.range({ key: enc('lease/unkept') });
      assert.equal(r.count, 0, 'the unkept lease expired through the new leader');
    });
    const r = await cl.range({ key: enc('lease/kept') });
    assert.equal(r.count, 1, 'the kept-alive lease survived the leader kill');
    assert.equal(lost, undefined);
    const ttl = await cl.leaseTimeToLive({ ID: kept.id });
    assert.ok(ttl.TTL > 0);
    // The killed member comes back and agrees.
    await c.startMember(leader);
    const back = c.client(leader);
    try {
      await eventually(async () => {
        const s = await back.range({ key: enc('lease/'), rangeEnd: enc('lease0'), serializable: true });
        assert.deepEqual(s.kvs.map((kv) => dec(kv.key)), ['lease/kept']);
      });
    } finally {
      await back.close();
    }
  } finally {
    for (const s of subs) s.unsubscribe();
    await client?.close();
    await c.stop();
  }
});

test('a watch on a follower that restarts and catches up by snapshot still sees every change', { timeout: 120_000 }, async () => {
  const c = await Cluster.start({ driver: 'lmdb', snapshotCount: 20 });
  const clients: Client[] = [];
  let sub: Subscription | undefined;
  try {
    const leader = await c.leader();
    const follower = [0, 1, 2].find((i) => i !== leader)!;
    const writer = new Client({ endpoints: [c.members[leader]!.server!.tcp], timeoutMs: 5000 });
    const watcher = new Client({ endpoints: [c.members[follower]!.server!.ws], timeoutMs: 5000 });
    clients.push(writer, watcher);
    const start = (await writer.put({ key: enc('s/0'), value: enc('0') })).header.revision;
    const seen: Event[] = [];
    sub = watcher.watch('s/', { prefix: true, startRevision: start }).subscribe({ next: (r) => seen.push(...r.events) });
    await eventually(async () => assert.equal(seen.length, 1));
    // The follower dies while the leader moves on and compacts its log past it; it comes back
    // on the same ports and data dir and catches up by snapshot. The watch
    // resumes there from its last revision + 1, possibly before the snapshot arrives.
    await c.members[follower]!.server!.kill();
    const revs: number[] = [start];
    for (let i = 1; i <= 100; i++) revs.push((await writer.put({ key: enc(`s/${i}`), value: enc(String(i)) })).header.revision);
    await c.startMember(follower);
    for (let i = 101; i <= 110; i++) revs.push((await writer.put({ key: enc(`s/${i}`), value: enc(String(i)) })).header.revision);
    await eventually(async () => assert.ok(seen.length >= revs.length, `saw ${seen.length} of ${revs.length}`));
    assert.ok(
      c.members[follower]!.server!.logs.some((l) => l['msg'] === 'applied a snapshot from the leader'),
      'the follower caught up by snapshot',
    );
    assert.deepEqual(seen.map((e) => e.kv.modRevision), revs, 'every change once, in order');
  } finally {
    sub?.unsubscribe();
    for (const cl of clients) await cl.close();
    await c.stop();
  }
});
