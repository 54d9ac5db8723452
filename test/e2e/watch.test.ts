// Watches end to end: the real server process (LMDB driver) and the TypeScript client over ws
// and tcp. Checks etcd's watch semantics as a user sees them (events with prev_kv and filters,
// start revision 0 = from now, history replay, compaction cancel, progress notifications at
// the configured interval), then resumption: a member is killed (SIGKILL) while writes go on
// and restarted on the same data dir and ports; the client, given both of its endpoints,
// resumes its watches from the last revision it saw + 1, and the events it delivered are
// compared with the history read back afterwards: no gap, no duplicate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import type { Event } from '../../src/core/api/kv.js';
import type { WatchResponse } from '../../src/core/api/watch.js';
import { CompactedError } from '../../src/core/errors.js';
import { startServer, tempDir, type ServerProcess } from './harness.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let server: ServerProcess;
before(async () => {
  server = await startServer({ driver: 'lmdb', extra: 'experimental-watch-progress-notify-interval: 100' });
});
after(async () => {
  await server?.stop();
});

for (const transport of ['ws', 'tcp'] as const) {
  test(`watch semantics over ${transport}`, async (t) => {
    const client = new Client({ endpoints: [transport === 'ws' ? server.ws : server.tcp] });
    const p = (s: string): string => `${transport}/${s}`;
    try {
      await t.test('events from now, with prev_kv and filters', async () => {
        await client.put({ key: enc(p('k')), value: enc('before') });
        const all: WatchResponse[] = [];
        const puts: Event[] = [];
        const dels: Event[] = [];
        let created = 0;
        const collect = (list: Event[]) => (r: WatchResponse) => (r.created ? created++ : list.push(...r.events));
        const s1 = client.watch(p('k'), { prevKv: true }).subscribe((r) => all.push(r));
        const s2 = client.watch(p('k'), { noDelete: true }).subscribe(collect(puts));
        const s3 = client.watch(p('k'), { noPut: true }).subscribe(collect(dels));
        await until(() => all.length === 1 && created === 2, 'created');
        assert.equal(all[0]!.created, true);
        const r1 = await client.put({ key: enc(p('k')), value: enc('one') });
        await client.delete(p('k'));
        await until(() => all.length === 3 && puts.length === 1 && dels.length === 1, 'events');
        const [put, del] = [all[1]!.events[0]!, all[2]!.events[0]!];
        assert.equal(dec(put.kv.value), 'one');
        assert.equal(dec(put.prevKv!.value), 'before', 'prev_kv attached');
        assert.equal(put.kv.modRevision, r1.header.revision);
        assert.equal(all[1]!.header.revision, r1.header.revision);
        assert.equal(del.type, 1);
        assert.equal(dec(del.prevKv!.value), 'one');
        assert.equal(dec(puts[0]!.kv.value), 'one');
        assert.equal(dels[0]!.type, 1);
        assert.equal(dels[0]!.prevKv ?? null, null, 'no prev_kv when not asked');
        for (const s of [s1, s2, s3]) s.unsubscribe();
      });

      await t.test('history replay, then a compaction cancel', async () => {
        const first = (await client.put({ key: enc(p('h')), value: enc('1') })).header.revision;
        await client.put({ key: enc(p('h')), value: enc('2') });
        const seen: string[] = [];
        const sub = client.watchEvents(p('h'), { startRevision: first }).subscribe((e) => seen.push(dec(e.kv.value)));
        await until(() => seen.length === 2, 'replayed');
        assert.deepEqual(seen, ['1', '2']);
        sub.unsubscribe();
        const now = (await client.put({ key: enc(p('h')), value: enc('3') })).header.revision;
        await client.compact({ revision: now });
        let err: unknown;
        client.watch(p('h'), { startRevision: first }).subscribe({ error: (e) => (err = e) });
        await until(() => err !== undefined, 'cancel');
        assert.ok(err instanceof CompactedError, String(err));
        assert.equal(err.compactRevision, now);
        assert.equal(err.message, 'etcdserver: mvcc: required revision has been compacted');
      });

      await t.test('progress notifications at the configured interval carry a resumable revision', async () => {
        const replies: WatchResponse[] = [];
        const sub = client.watch(p('idle'), { progressNotify: true }).subscribe((r) => replies.push(r));
        await until(() => replies.filter((r) => !r.created && r.events.length === 0).length >= 2, 'two progress replies');
        const progress = replies.filter((r) => !r.created && r.events.length === 0);
        const rev = (await client.status()).header.revision;
        assert.ok(progress.every((r) => r.header.revision > 0 && r.header.revision <= rev));
        sub.unsubscribe();
      });
    } finally {
      await client.close();
    }
  });
}

/** A port free right now on 127.0.0.1. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('a watch resumes across a member kill and restart with no gap and no duplicate', { timeout: 60_000 }, async () => {
  const dataDir = join(tempDir('watch-resume'), 'member');
  const [wsPort, tcpPort] = [await freePort(), await freePort()];
  const addresses = { wsAddress: `127.0.0.1:${wsPort}`, tcpAddress: `127.0.0.1:${tcpPort}` };
  let member = await startServer({ driver: 'lmdb', dataDir, ...addresses });
  const endpoints = [member.tcp, member.ws];
  const watcher = new Client({ endpoints, timeoutMs: 2000, dialTimeoutMs: 500 });
  const writer = new Client({ endpoints, timeoutMs: 2000, dialTimeoutMs: 500 });
  try {
    const start = (await writer.put({ key: enc('r/0'), value: enc('start') })).header.revision;
    const events: Event[] = [];
    const errors: unknown[] = [];
    const sub = watcher.watchEvents('r/', { prefix: true, prevKv: true, startRevision: start }).subscribe({
      next: (e) => events.push(e),
      error: (e) => errors.push(e),
    });
    let writing = true;
    let written = 0;
    const writes = (async () => {
      for (let i = 0; writing; i++) {
        try {
          await writer.put({ key: enc(`r/${i % 7}`), value: enc(`v${i}`) });
          written++;
        } catch {
          await new Promise((r) => setTimeout(r, 20)); // the member is down: retry later
        }
      }
    })();
    await until(() => events.length >= 100, 'events before the kill');
    await member.kill();
    const downAt = written;
    member = await startServer({ driver: 'lmdb', dataDir, ...addresses });
    await until(() => written >= downAt + 100, 'writes after the restart');
    writing = false;
    await writes;
    const last = (await writer.put({ key: enc('r/end'), value: enc('end') })).header.revision;
    await until(() => events.length > 0 && events[events.length - 1]!.kv.modRevision === last, 'the last write seen');
    assert.deepEqual(errors, []);
    sub.unsubscribe();

    // The history, read back by a fresh watch from the same start revision.
    const history: Event[] = [];
    const check = writer.watchEvents('r/', { prefix: true, prevKv: true, startRevision: start }).subscribe((e) => history.push(e));
    await until(() => history.length > 0 && history[history.length - 1]!.kv.modRevision === last, 'history read');
    check.unsubscribe();
    const form = (e: Event): string =>
      `${e.type} ${dec(e.kv.key)}=${dec(e.kv.value)} m${e.kv.modRevision} v${e.kv.version} prev=${e.prevKv ? dec(e.prevKv.value) : '-'}`;
    assert.deepEqual(events.map(form), history.map(form));
    // Every revision from start to last, each once (every write is on the prefix).
    assert.deepEqual(
      events.map((e) => e.kv.modRevision),
      Array.from({ length: last - start + 1 }, (_, i) => start + i),
    );
  } finally {
    await watcher.close();
    await writer.close();
    await member.stop();
  }
});
