// Snapshots end to end, with real processes: a server (LMDB, ws + tcp + grpc listeners) takes
// writes; `etceteractl snapshot save` over ws and over tcp, the real `etcdctl snapshot save`
// 3.4 over gRPC, and the JSON gateway's /v3/maintenance/snapshot stream must all produce the
// same bytes (the server is idle meanwhile), a file of 512·k + 32 bytes ending with the SHA-256
// of the rest. Then `etceteractl snapshot restore` builds a SQLite data dir for a new single
// member, which starts, serves the data (read with etcdctl) and continues the revisions; and
// three restores from the same file with --initial-cluster start a three-member cluster that
// elects a leader, serves the data on every member and takes writes.
// A missing etcdctl fails the test with an install hint (CI installs it); it is never skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { freePorts } from './cluster-harness.js';
import { which } from './etcd-reference.js';
import { ROOT, startServer, tempDir, type ServerProcess } from './harness.js';

const CTL = join(ROOT, 'bin', 'etceteractl');
const ETCDCTL = which('etcdctl');
const MISSING =
  "etcdctl is not installed: this test drives the real etcd client. Install Debian's etcd-client " +
  '(apt-get install -y etcd-client etcd-server); CI does.';

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function spawnRun(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

const ctl = (args: string[]): Promise<Run> => spawnRun(process.execPath, [CTL, ...args]);
const etcdctl = (endpoint: string, args: string[]): Promise<Run> =>
  spawnRun(ETCDCTL!, [`--endpoints=${endpoint}`, '--dial-timeout=3s', '--command-timeout=10s', ...args], { ...process.env, ETCDCTL_API: '3' });

/** POSTs `body` to the gateway and returns the `{"result":…}` lines, parsed. */
function gatewayStream(base: string, path: string, body: string): Promise<{ result?: { remaining_bytes?: string; blob?: string } }[]> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let server: ServerProcess;
const dir = tempDir('snapshot-e2e');
let revision = 0;

before(async () => {
  server = await startServer({ driver: 'lmdb', grpcAddress: '127.0.0.1:0' });
  const c = new Client({ endpoints: [server.ws] });
  try {
    for (let i = 0; i < 40; i++) await c.put({ key: Buffer.from(`snap/${i % 25}`), value: Buffer.from(`value ${i}`) });
    await c.delete('snap/7');
    // A value that spans several 32 KiB chunks.
    const big = await c.put({ key: Buffer.from('snap/big'), value: Buffer.alloc(100_000, 0x61) });
    revision = big.header.revision;
  } finally {
    await c.close();
  }
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('snapshot save: etceteractl (ws, tcp), etcdctl (gRPC) and the gateway give the same file', { timeout: 60_000 }, async () => {
  assert.ok(ETCDCTL !== null, MISSING);
  const viaWs = join(dir, 'ws.snap');
  const viaTcp = join(dir, 'tcp.snap');
  const viaEtcdctl = join(dir, 'etcdctl.snap');
  assert.deepEqual(await ctl(['--endpoints', server.ws, 'snapshot', 'save', viaWs]), { code: 0, out: `Snapshot saved at ${viaWs}\n`, err: '' });
  assert.equal((await ctl(['--endpoints', server.tcp, 'snapshot', 'save', viaTcp])).code, 0);
  const grpc = server.grpc!.replace('grpc://', '');
  const r = await etcdctl(grpc, ['snapshot', 'save', viaEtcdctl]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `Snapshot saved at ${viaEtcdctl}\n`);

  const file = readFileSync(viaWs);
  assert.equal(file.length % 512, 32);
  assert.ok(file.length > 100_000);
  assert.deepEqual(createHash('sha256').update(file.subarray(0, file.length - 32)).digest(), file.subarray(file.length - 32));
  assert.deepEqual(readFileSync(viaTcp), file, 'tcp');
  assert.deepEqual(readFileSync(viaEtcdctl), file, 'etcdctl over gRPC');

  const lines = await gatewayStream(server.grpc!.replace('grpc://', 'http://'), '/v3/maintenance/snapshot', '');
  const blobs = lines.map((l) => Buffer.from(l.result!.blob ?? '', 'base64'));
  assert.deepEqual(Buffer.concat(blobs), file, 'JSON gateway');
  assert.equal(lines.at(-1)!.result!.remaining_bytes, undefined, 'the digest message has remaining_bytes 0 (omitted)');

  // etcdctl's rule, kept: one endpoint only.
  const two = await ctl(['--endpoints', `${server.ws},${server.tcp}`, 'snapshot', 'save', join(dir, 'x.snap')]);
  assert.equal(two.code, 5);
  assert.equal(two.err, `Error: snapshot must be requested to one selected node, not multiple [${server.ws} ${server.tcp}]\n`);
  const none = await ctl(['--endpoints', server.ws, 'snapshot', 'save']);
  assert.equal(none.code, 128);
});

test('snapshot restore: a new member starts from the restored dir and serves the data', { timeout: 60_000 }, async () => {
  assert.ok(ETCDCTL !== null, MISSING);
  const file = join(dir, 'ws.snap');
  const dataDir = join(dir, 'restored');
  const r = await ctl(['snapshot', 'restore', file, '--data-dir', dataDir, '--name', 'phoenix', '--storage-driver', 'sqlite']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`revision ${revision}, 26 keys, consistent index \\d+, single member`));
  const again = await ctl(['snapshot', 'restore', file, '--data-dir', dataDir]);
  assert.equal(again.code, 1);
  assert.equal(again.err, `Error: data-dir "${dataDir}" exists\n`);

  const member = await startServer({ driver: 'sqlite', name: 'phoenix', dataDir, grpcAddress: '127.0.0.1:0' });
  try {
    const grpc = member.grpc!.replace('grpc://', '');
    const got = await etcdctl(grpc, ['get', 'snap/1', '--print-value-only']);
    assert.equal(got.out, 'value 26\n');
    const count = await etcdctl(grpc, ['get', 'snap/', '--prefix', '--limit', '1', '-w', 'json']);
    assert.equal((JSON.parse(count.out) as { count: number }).count, 25);
    assert.equal((await etcdctl(grpc, ['get', 'snap/7'])).out, '', 'the deletion is restored too');
    const put = await etcdctl(grpc, ['put', 'after', 'restore', '-w', 'json']);
    assert.equal((JSON.parse(put.out) as { header: { revision: number } }).header.revision, revision + 1);
  } finally {
    await member.stop();
  }
});

test('cluster restore: three members from one file elect a leader and serve the data', { timeout: 90_000 }, async () => {
  const file = join(dir, 'ws.snap');
  const ports = await freePorts(9);
  const names = ['r1', 'r2', 'r3'];
  const initial = names.map((n, i) => `${n}=tcp://127.0.0.1:${ports[i * 3]}`).join(',');
  for (const [i, name] of names.entries()) {
    const res = await ctl([
      'snapshot',
      'restore',
      file,
      '--data-dir',
      join(dir, name),
      '--name',
      name,
      '--initial-cluster',
      initial,
      '--initial-cluster-token',
      'restored',
      '--initial-advertise-peer-urls',
      `tcp://127.0.0.1:${ports[i * 3]}`,
    ]);
    assert.equal(res.code, 0, res.err);
    assert.match(res.err, /3 members/);
  }
  const members = await Promise.all(
    names.map((name, i) =>
      startServer({
        driver: 'lmdb',
        name,
        dataDir: join(dir, name),
        wsAddress: `127.0.0.1:${ports[i * 3 + 1]}`,
        tcpAddress: `127.0.0.1:${ports[i * 3 + 2]}`,
        extra: [
          `listen-peer-urls: tcp://127.0.0.1:${ports[i * 3]}`,
          `initial-cluster: ${initial}`,
          'initial-cluster-token: restored',
          'heartbeat-interval: 50',
          'election-timeout: 500',
        ].join('\n'),
      }),
    ),
  );
  const client = new Client({ endpoints: members.map((m) => m.ws), timeoutMs: 10_000 });
  try {
    // A linearizable read needs a leader: retried until one is elected.
    let value: string | undefined;
    for (let i = 0; ; i++) {
      try {
        value = await client.getString('snap/1');
        break;
      } catch (e) {
        if (i > 200) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.equal(value, 'value 26');
    const list = await client.memberList();
    assert.deepEqual(list.members.map((m) => m.name).sort(), names);
    const put = await client.put({ key: Buffer.from('cluster/after'), value: Buffer.from('restore') });
    assert.equal(put.header.revision, revision + 1);
    // Every member serves the restored and the new data from its own store.
    for (const m of members) {
      const one = new Client({ endpoints: [m.ws], timeoutMs: 10_000 });
      try {
        for (let i = 0; ; i++) {
          const r = await one.get('cluster/after', { serializable: true });
          if (r.kvs.length === 1 || i > 200) break;
          await new Promise((res) => setTimeout(res, 20));
        }
        const r = await one.get('snap/', { prefix: true, serializable: true, countOnly: true });
        assert.equal(r.count, 25);
        assert.equal(await one.getString('cluster/after', { serializable: true }), 'restore');
      } finally {
        await one.close();
      }
    }
  } finally {
    await client.close();
    await Promise.all(members.map((m) => m.stop()));
  }
});
