// etceteractl against a real three-member cluster: member list shows every member started
// with its client URLs, `endpoint status --cluster` finds all members from one endpoint, and
// `move-leader` hands leadership to the member named.
import { eventually } from '../helpers/eventually.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './harness.js';
import { Cluster } from './cluster-harness.js';

const CTL = join(ROOT, 'bin', 'etceteractl');

function ctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const env = { ...process.env };
    delete env['ETCETERACTL_ENDPOINTS'];
    const p = spawn(process.execPath, [CTL, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}


test('member list, endpoint status --cluster and move-leader on a real cluster', { timeout: 90_000 }, async () => {
  const c = await Cluster.start({ driver: 'memory' });
  try {
    const leader = await c.leader();
    const one = ['--endpoints', c.members[0]!.server!.ws];
    const list = await eventually(async () => {
      const r = await ctl([...one, 'member', 'list']);
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.trim().split('\n');
      assert.equal(rows.length, 3);
      for (const row of rows) assert.match(row, /^[0-9a-f]+, started, m[123], tcp:\/\/127\.0\.0\.1:\d+, ws:\/\/127\.0\.0\.1:\d+,tcp:\/\/127\.0\.0\.1:\d+, false$/);
      return rows;
    });
    const status = await ctl([...one, 'endpoint', 'status', '--cluster']);
    assert.equal(status.code, 0, status.stderr);
    const rows = status.stdout.trim().split('\n');
    assert.equal(rows.length, 3);
    assert.equal(rows.filter((r) => / true, false, /.test(r)).length, 1, 'exactly one leader');

    const leaderId = list.find((r) => r.includes(`, ${c.members[leader]!.name}, `))!.split(',')[0]!;
    const target = list.find((r) => !r.startsWith(leaderId))!.split(',')[0]!;
    const all = ['--endpoints', c.urls().join(',')];
    const moved = await ctl([...all, 'move-leader', target]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(moved.stdout, `Leadership transferred from ${leaderId} to ${target}\n`);
    const after = await ctl([...one, 'endpoint', 'status', '--cluster', '-w', 'json']);
    const parsed = JSON.parse(after.stdout) as { Status: { leader: number; header: { member_id: number } } }[];
    assert.ok(parsed.every((s) => s.Status.leader.toString(16) === target));
  } finally {
    await c.stop();
  }
});
