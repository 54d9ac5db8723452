// Leases end to end, with the real server process (LMDB) and short timeouts (heartbeat 10 ms,
// election 100 ms → minimum TTL 1 s): keys of a lease vanish once its TTL has passed, all in
// one watch response; a keep-alive keeps them; a kill -9 and restart of the member (the new
// leader) does not revoke a kept-alive lease, while an abandoned one still expires a TTL after
// the restart; and etceteractl's lease commands print what etcdctl prints. Waiting for a TTL
// to pass is the point of these tests, so they wait in real time; everything else waits on
// watch events or process output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import { Client } from '../../src/client/client.js';
import type { WatchResponse } from '../../src/core/api/watch.js';
import { ROOT, startServer, tempDir } from './harness.js';

const FAST = 'heartbeat-interval: 10\nelection-timeout: 100';
const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The first watch response carrying events. */
function firstEvents(w: Observable<WatchResponse>): Promise<WatchResponse> {
  return firstValueFrom(w.pipe(filter((r) => r.events.length > 0)));
}

async function keys(client: Client, prefix: string): Promise<string[]> {
  return (await client.get(prefix, { prefix: true })).kvs.map((kv) => dec(kv.key));
}

test('keys vanish after the TTL, in one watch response; a keep-alive keeps them', { timeout: 60_000 }, async () => {
  const server = await startServer({ driver: 'lmdb', extra: FAST });
  const client = new Client({ endpoints: [server.tcp] });
  try {
    const granted = performance.now(); // the TTL counts from after this
    const lease = await client.grant(1);
    assert.equal(lease.ttl, 1);
    for (const k of ['exp/b', 'exp/a', 'exp/c']) await lease.put(k, 'v');
    const deleted = await firstEvents(client.watch('exp/', { prefix: true }));
    const after = performance.now() - granted;
    assert.deepEqual(deleted.events.map((e) => [e.type, dec(e.kv.key)]), [
      [1, 'exp/a'],
      [1, 'exp/b'],
      [1, 'exp/c'],
    ]);
    assert.equal(new Set(deleted.events.map((e) => e.kv.modRevision)).size, 1, 'one revision');
    assert.ok(after >= 990, `deleted ${after.toFixed(0)} ms after the grant, before its TTL`);
    assert.equal((await lease.timeToLive()).TTL, -1);

    const kept = await client.grant(1);
    await kept.put('kept/a', 'v');
    const renewals: number[] = [];
    const sub = kept.keepAlive().subscribe({ next: (r) => renewals.push(r.TTL), error: (e) => assert.fail(String(e)) });
    await sleep(2500); // 2.5 TTLs
    assert.deepEqual(await keys(client, 'kept/'), ['kept/a']);
    assert.ok(renewals.length >= 5, `renewed every third of the TTL: ${renewals.length} times in 2.5 s`);
    assert.ok(renewals.every((ttl) => ttl === 1));
    const gone = firstEvents(client.watch('kept/', { prefix: true }));
    sub.unsubscribe();
    assert.equal(dec((await gone).events[0]!.kv.key), 'kept/a');
  } finally {
    await client.close();
    await server.stop();
  }
});

test('kill -9 and restart: a kept-alive lease survives, an abandoned one expires after its TTL', { timeout: 60_000 }, async () => {
  const dataDir = join(tempDir('lease-restart'), 'member');
  let server = await startServer({ driver: 'lmdb', dataDir, extra: FAST });
  const client = new Client({ endpoints: [server.tcp], timeoutMs: 2000 });
  let sub: { unsubscribe(): void } | undefined;
  try {
    // TTL 4 s: a restart well within it, with room for a busy machine.
    const alive = await client.grant(4);
    const abandoned = await client.grant(4);
    await alive.put('r/alive', 'v');
    await abandoned.put('r/abandoned', 'v');
    let lost: unknown;
    sub = alive.keepAlive().subscribe({ error: (e: unknown) => (lost = e) });
    await sleep(1000);
    const killed = performance.now(); // the restart's fresh TTLs count from after this
    await server.kill();
    const tcpAddress = server.tcp.replace('tcp://', '');
    const wsAddress = server.ws.replace('ws://', '');
    server = await startServer({ driver: 'lmdb', dataDir, extra: FAST, tcpAddress, wsAddress });
    // Both leases and their keys came back with the projection.
    assert.deepEqual(await keys(client, 'r/'), ['r/abandoned', 'r/alive']);
    const vanished = await firstEvents(client.watch('r/', { prefix: true }));
    const after = performance.now() - killed;
    assert.deepEqual(vanished.events.map((e) => dec(e.kv.key)), ['r/abandoned']);
    // The new leader gave it a fresh TTL (+ an election timeout) from the restart.
    assert.ok(after >= 4000, `abandoned lease revoked ${after.toFixed(0)} ms after the kill, before a TTL`);
    // By now the restart's fresh TTL of the kept-alive lease has run out too: only renewals kept it.
    await sleep(500);
    assert.deepEqual(await keys(client, 'r/'), ['r/alive']);
    assert.equal(lost, undefined, `keep-alive failed: ${String(lost)}`);
    assert.equal((await alive.timeToLive()).grantedTTL, 4);
  } finally {
    sub?.unsubscribe();
    await client.close();
    await server.stop();
  }
});

const CTL = join(ROOT, 'bin', 'etceteractl');

function ctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [CTL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

test('etceteractl lease commands print what etcdctl prints', { timeout: 60_000 }, async () => {
  const server = await startServer({ driver: 'lmdb' });
  const ep = ['--endpoints', server.ws];
  try {
    const g = await ctl([...ep, 'lease', 'grant', '30']);
    assert.equal(g.code, 0, g.stderr);
    const m = /^lease ([0-9a-f]{16}) granted with TTL\(30s\)\n$/.exec(g.stdout);
    assert.ok(m, g.stdout);
    const id = m[1]!;
    assert.match((await ctl([...ep, 'lease', 'grant', '1'])).stdout, /^lease [0-9a-f]{16} granted with TTL\(2s\)\n$/);
    assert.equal((await ctl([...ep, 'put', `--lease=${id}`, 'lk2', 'v'])).stdout, 'OK\n');
    assert.equal((await ctl([...ep, 'put', `--lease=${id}`, 'lk1', 'v'])).stdout, 'OK\n');
    assert.match(
      (await ctl([...ep, 'lease', 'timetolive', '--keys', id])).stdout,
      new RegExp(`^lease ${id} granted with TTL\\(30s\\), remaining\\(2[0-9]s\\), attached keys\\(\\[lk1 lk2\\]\\)\\n$`),
    );
    assert.deepEqual(await ctl([...ep, 'lease', 'timetolive', '1234']), {
      code: 0,
      stdout: 'lease 0000000000001234 already expired\n',
      stderr: '',
    });
    const list = await ctl([...ep, 'lease', 'list']);
    // (the 2 s lease may have expired already when the machine is busy)
    assert.match(list.stdout, /^found [12] leases\n/);
    assert.ok(list.stdout.includes(`${id}\n`));
    assert.deepEqual(await ctl([...ep, 'lease', 'keep-alive', '--once', id]), {
      code: 0,
      stdout: `lease ${id} keepalived with TTL(30)\n`,
      stderr: '',
    });
    assert.deepEqual(await ctl([...ep, 'lease', 'keep-alive', '--once', '1234']), {
      code: 2,
      stdout: '',
      stderr: 'Error: etcdserver: requested lease not found\n',
    });
    const ttl = JSON.parse((await ctl([...ep, '-w', 'json', 'lease', 'timetolive', '--keys', id])).stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(ttl), ['cluster_id', 'member_id', 'revision', 'raft_term', 'id', 'ttl', 'granted-ttl', 'keys']);
    assert.deepEqual((ttl['keys'] as string[]).map((k) => Buffer.from(k, 'base64').toString()), ['lk1', 'lk2']);

    // Streaming keep-alive: prints each renewal (every TTL/3) until the lease is revoked.
    const short = /^lease ([0-9a-f]{16}) /.exec((await ctl([...ep, 'lease', 'grant', '3'])).stdout)![1]!;
    const ka = spawn(process.execPath, [CTL, ...ep, 'lease', 'keep-alive', short], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = createInterface({ input: ka.stdout! });
    const seen: string[] = [];
    const exited = new Promise<number | null>((r) => ka.on('exit', (code) => r(code)));
    await new Promise<void>((resolve) =>
      lines.on('line', (l) => {
        seen.push(l);
        if (seen.length === 1) resolve();
      }),
    );
    assert.deepEqual(await ctl([...ep, 'lease', 'revoke', short]), { code: 0, stdout: `lease ${short} revoked\n`, stderr: '' });
    assert.equal(await exited, 0);
    assert.equal(seen[0], `lease ${short} keepalived with TTL(3)`);
    assert.equal(seen.at(-1), `lease ${short} expired or revoked.`);

    assert.deepEqual(await ctl([...ep, 'lease', 'revoke', id]), { code: 0, stdout: `lease ${id} revoked\n`, stderr: '' });
    assert.deepEqual((await ctl([...ep, 'get', 'lk', '--prefix'])).stdout, '');
    assert.deepEqual(await ctl([...ep, 'lease', 'revoke', id]), {
      code: 1,
      stdout: '',
      stderr: 'Error: failed to revoke lease (etcdserver: requested lease not found)\n',
    });
    assert.deepEqual(await ctl([...ep, 'put', `--lease=${id}`, 'x', 'y']), {
      code: 1,
      stdout: '',
      stderr: 'Error: etcdserver: requested lease not found\n',
    });
  } finally {
    await server.stop();
  }
});
