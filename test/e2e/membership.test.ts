// Membership from the outside, with real processes: the member list shows every member's name
// and client URLs; a learner added with `member add` and started with initial-cluster-state
// existing joins and catches up by snapshot; promoting it before it caught up is refused,
// after it is accepted; leadership moves on request; removing the leader works (the cluster
// elects another and keeps serving, the removed member stops).
import { eventually } from '../helpers/eventually.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { KvError } from '../../src/core/errors.js';
import { Cluster } from './cluster-harness.js';

const enc = (s: string): Uint8Array => Buffer.from(s);


test('member list, learner join by snapshot, promote, move-leader, remove the leader', { timeout: 120_000 }, async () => {
  const c = await Cluster.start({ driver: 'lmdb', snapshotCount: 20 });
  let all: Client | undefined;
  try {
    let leader = await c.leader();
    all = new Client({ endpoints: c.urls(), timeoutMs: 5000 });
    const cl = all;
    // Names and client URLs are published once the members are up.
    const list = await eventually(async () => {
      const r = await cl.memberList();
      assert.equal(r.members.length, 3);
      assert.ok(r.members.every((m) => m.name !== '' && m.clientURLs.length > 0), JSON.stringify(r.members));
      return r;
    });
    assert.deepEqual(list.members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
    for (let i = 0; i < 100; i++) await eventually(() => cl.put({ key: enc(`before-join/${i}`), value: enc(String(i)) }));

    // Add a learner; promoting it before it has caught up is refused.
    const join = await c.prepareJoin('m4');
    const leaderClient = c.client(leader);
    const added = await leaderClient.memberAdd({ peerURLs: [join.peerUrl], isLearner: true });
    assert.equal(added.member.isLearner, true);
    assert.equal(added.member.name, '');
    assert.equal(added.members.length, 4);
    await assert.rejects(leaderClient.memberPromote({ ID: added.member.ID }), (e: unknown) => {
      assert.ok(e instanceof KvError);
      assert.equal(e.message, 'etcdserver: can only promote a learner member which is in sync with leader');
      return true;
    });
    await leaderClient.close();

    const m4 = await c.startMember(join.index);
    const m4c = c.client(join.index);
    try {
      await eventually(async () => {
        const r = await m4c.range({ key: enc('before-join/'), rangeEnd: enc('before-join0'), serializable: true });
        assert.equal(r.count, 100);
      });
      assert.ok(m4.logs.some((l) => l['msg'] === 'applied a snapshot from the leader'), 'the learner caught up from a snapshot');
      leader = await c.leader();
      const lc = c.client(leader);
      const follower = c.client([0, 1, 2].find((i) => i !== leader)!);
      try {
        // Sent to a follower, the promotion is forwarded to the leader.
        await eventually(() => follower.memberPromote({ ID: added.member.ID }));
        const after = await lc.memberList();
        const m = after.members.find((x) => x.ID === added.member.ID)!;
        assert.equal(m.isLearner, false);
        await eventually(async () => {
          const r = await lc.memberList();
          assert.equal(r.members.find((x) => x.ID === added.member.ID)!.name, 'm4');
        });

        // Move leadership to the new member.
        await lc.moveLeader({ targetID: added.member.ID });
        const s = await m4c.status();
        assert.equal(s.leader, added.member.ID);
        await assert.rejects(lc.moveLeader({ targetID: added.member.ID }), { message: 'etcdserver: not leader' });
      } finally {
        await lc.close();
        await follower.close();
      }
      // Remove the leader (m4) through itself: the others elect a new leader and keep serving.
      await m4c.memberRemove({ ID: added.member.ID }).catch(() => {});
      const gone = c.members[join.index]!.server!;
      await new Promise<void>((r) => gone.proc.once('exit', () => r()));
      c.members[join.index]!.server = undefined;
    } finally {
      await m4c.close();
    }
    await all.close();
    all = new Client({ endpoints: c.urls(), timeoutMs: 5000 });
    const cl2 = all;
    await eventually(() => cl2.put({ key: enc('after-remove'), value: enc('ok') }));
    const final = await cl2.memberList();
    assert.equal(final.members.length, 3);
    assert.ok(!final.members.some((m) => m.ID === added.member.ID));
  } finally {
    await all?.close();
    await c.stop();
  }
});
