// Alarms are replicated state: on a three-member cluster of real server processes, an alarm
// activated through one member's JSON gateway is listed by all three (and in each one's
// Status.errors), a put on another member is refused with etcd's NOSPACE error (the applier
// decides, the same on every member), a disarm through a third member clears it everywhere,
// and then Maintenance.Hash (over the whole backend) is equal on every member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './cluster-harness.js';
import { eventually } from '../helpers/eventually.js';

async function post(base: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

test('an alarm raised on one member is listed and enforced by all three', { timeout: 120_000 }, async () => {
  const c = await Cluster.start({ driver: 'memory', grpc: true });
  try {
    await c.leader();
    const bases = c.members.map((m) => m.server!.grpc!.replace('grpc://', 'http://'));
    const self = await post(bases[0]!, '/v3/maintenance/status', {});
    const memberID = String((self.json['header'] as { member_id: string }).member_id);
    const act = await post(bases[0]!, '/v3/maintenance/alarm', { action: 'ACTIVATE', memberID, alarm: 'NOSPACE' });
    assert.equal(act.status, 200, JSON.stringify(act.json));
    assert.deepEqual(act.json, { alarms: [{ memberID, alarm: 'NOSPACE' }] });
    for (const base of bases) {
      await eventually(async () => {
        const list = await post(base, '/v3/maintenance/alarm', {});
        assert.deepEqual(list.json, { alarms: [{ memberID, alarm: 'NOSPACE' }] }, base);
        const st = await post(base, '/v3/maintenance/status', {});
        assert.deepEqual(st.json['errors'], [`memberID:${memberID} alarm:NOSPACE `], base);
      });
    }
    const refused = await post(bases[2]!, '/v3/kv/put', { key: 'YQ==', value: 'Yg==' });
    assert.equal(refused.json['message'] ?? refused.json['error'], 'etcdserver: mvcc: database space exceeded');
    assert.equal(refused.json['code'], 8);
    // Reads and deletes still work.
    assert.equal((await post(bases[2]!, '/v3/kv/range', { key: 'YQ==' })).status, 200);
    assert.equal((await post(bases[1]!, '/v3/kv/deleterange', { key: 'YQ==' })).status, 200);

    const off = await post(bases[1]!, '/v3/maintenance/alarm', { action: 'DEACTIVATE', memberID, alarm: 'NOSPACE' });
    assert.deepEqual(off.json, { alarms: [{ memberID, alarm: 'NOSPACE' }] });
    for (const base of bases) {
      await eventually(async () => assert.deepEqual((await post(base, '/v3/maintenance/alarm', {})).json, {}, base));
    }
    assert.equal((await post(bases[2]!, '/v3/kv/put', { key: 'YQ==', value: 'Yg==' })).status, 200);
    // Every member applied the same log: the same backend hash.
    await eventually(async () => {
      const hashes = await Promise.all(bases.map(async (b) => (await post(b, '/v3/maintenance/hash', {})).json['hash']));
      assert.equal(typeof hashes[0], 'number');
      assert.deepEqual(hashes, [hashes[0], hashes[0], hashes[0]]);
    });
  } finally {
    await c.stop();
  }
});
