// The real etcdctl 3.4 against a three-member etcetera cluster through the gRPC port, with
// peers named the etcd way (http:// peer URLs, an alias of tcp://): member list, endpoint
// status, health and hashkv of every member (`--cluster`, dialling the published client URLs),
// member add and remove, and move-leader to another member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { which } from './etcd-reference.js';
import { Cluster, freePorts } from './cluster-harness.js';
import { eventually } from '../helpers/eventually.js';

const ETCDCTL = which('etcdctl');

function etcdctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(ETCDCTL!, args, { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

test('etcdctl: member list/add/remove, endpoint status/hashkv --cluster, move-leader on a cluster', { timeout: 120_000 }, async () => {
  assert.ok(ETCDCTL, 'etcdctl is not installed: apt-get install etcd-client (.ci/run does)');
  const c = await Cluster.start({ driver: 'memory', peerTransport: 'http', grpc: true });
  try {
    await c.leader();
    const grpc = c.members.map((m) => m.server!.grpc!.replace('grpc://', ''));
    const one = ['--endpoints', grpc[0]!];
    const rows = await eventually(async () => {
      const r = await etcdctl([...one, 'member', 'list']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 3);
      for (const l of lines) assert.match(l, /^[0-9a-f]+, started, m[123], http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+, false$/);
      return lines;
    });
    // `--cluster` dials the client URLs MemberList publishes; etcd 3.4's clientv3 then sends
    // `:authority: http://127.0.0.1:<port>` (the URL with its scheme), which the port accepts
    // as Go's HTTP/2 server does.
    const status = await etcdctl([...one, 'endpoint', 'status', '--cluster']);
    assert.equal(status.code, 0, status.stderr);
    const st = status.stdout.trim().split('\n');
    assert.equal(st.length, 3);
    assert.deepEqual(st.map((l) => l.split(', ')[0]).sort(), grpc.map((g) => `http://${g}`).sort());
    assert.equal(st.filter((l) => /, true, false, /.test(l)).length, 1, 'one leader');
    const health = await etcdctl([...one, 'endpoint', 'health', '--cluster']);
    assert.equal(health.code, 0, health.stderr);
    const healthy = `${health.stdout}${health.stderr}`.trim().split('\n').filter((l) => / is healthy: /.test(l));
    assert.equal(healthy.length, 3, `${health.stdout}${health.stderr}`);
    const hash = await etcdctl([...one, 'endpoint', 'hashkv', '--cluster']);
    assert.equal(hash.code, 0, hash.stderr);
    const hashes = hash.stdout.trim().split('\n').map((l) => l.split(', ')[1]);
    assert.equal(hashes.length, 3);
    assert.ok(hashes.every((h) => h === hashes[0]), hash.stdout);
    const all = ['--endpoints', grpc.join(',')];

    // Add a member the etcd way, see it unstarted, remove it.
    const [port] = await freePorts(1);
    const add = await etcdctl([...one, 'member', 'add', 'm4', `--peer-urls=http://127.0.0.1:${port}`]);
    assert.equal(add.code, 0, add.stderr);
    // etcdctl prints ids with %16x: space-padded.
    const id = /^Member +([0-9a-f]+) added to cluster/.exec(add.stdout.trim())?.[1];
    assert.ok(id, add.stdout);
    assert.match(add.stdout, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
    const withNew = await etcdctl([...one, 'member', 'list']);
    assert.match(withNew.stdout, new RegExp(`^${id}, unstarted, , http://127\\.0\\.0\\.1:${port}, , false$`, 'm'));
    const rm = await etcdctl([...one, 'member', 'remove', id!]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, new RegExp(`^Member +${id} removed from cluster`));

    // Hand leadership to a member that does not lead.
    const leaderRow = st.find((l) => /, true, false, /.test(l))!;
    const leaderId = leaderRow.split(', ')[1]!;
    const target = rows.map((r) => r.split(', ')[0]!).find((x) => x !== leaderId)!;
    const moved = await etcdctl([...all, 'move-leader', target]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(moved.stdout.trim(), `Leadership transferred from ${leaderId} to ${target}`);
  } finally {
    await c.stop();
  }
});
