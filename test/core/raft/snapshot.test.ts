// Checks snapshots: after the leader compacts its log, a follower that needs compacted entries
// gets MsgSnap, its Ready carries the snapshot to persist and apply, progress moves
// probe → snapshot → replicate, a failed snapshot send falls back to probing, and members
// restart from their compacted storage. Runs on the synchronous TestCluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfChangeType } from '../../../src/core/raft/confchange/conf-change.js';
import { MessageType } from '../../../src/core/raft/messages.js';
import { ProgressState } from '../../../src/core/raft/tracker/progress.js';
import { TestCluster } from './cluster.js';

describe('raft snapshots', () => {
  it('sends a snapshot to a follower behind the compaction point, then replicates', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 6; i++) c.propose(1, `v${i}`);
    c.compact(1);
    c.compact(2);
    assert.ok(c.get(1).storage.firstIndex() > 5);
    c.heal();
    c.tickAll(3);
    assert.ok(c.delivered.some((m) => m.type === MessageType.Snap && m.to === 3));
    assert.deepEqual(c.get(3).applied, c.get(1).applied);
    assert.equal(c.get(3).storage.snapshotMeta().index, c.get(1).storage.snapshotMeta().index);
    assert.deepEqual(c.get(3).confState, { voters: [1, 2, 3], learners: [] });
    assert.equal(c.get(1).node.status().progress.get(3)!.state, ProgressState.Replicate);
    // And the follower keeps up afterwards.
    c.propose(1, 'after');
    assert.deepEqual(c.get(3).applied.map((a) => a.data).at(-1), 'after');
  });

  it('stays in snapshot state until the follower answers, and probes after a failed send', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 4; i++) c.propose(1, `v${i}`);
    c.compact(1);
    c.heal();
    // The snapshot is lost in transit (the cluster reports the failure as a transport would).
    c.filter = (m) => m.type !== MessageType.Snap;
    c.tickAll(1);
    const pr = () => c.get(1).node.status().progress.get(3)!;
    assert.equal(pr().state, ProgressState.Probe, 'failure reported: back to probing');
    c.filter = undefined;
    c.tickAll(3);
    assert.equal(pr().state, ProgressState.Replicate);
    assert.deepEqual(c.get(3).applied, c.get(1).applied);
  });

  it('a restarted member resumes from its compacted storage', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.compact(2);
    const before = c.get(2).applied.slice();
    c.restart(2);
    c.tickAll(3);
    assert.deepEqual(c.get(2).applied, before);
    c.propose(1, 'more');
    assert.equal(c.get(2).applied.at(-1)!.data, 'more');
  });

  it('a new member added after compaction starts from a snapshot', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.get(1).node.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4, context: new Uint8Array(0) });
    c.stabilize();
    c.compact(1);
    c.add(4);
    c.tickAll(3);
    assert.deepEqual(c.get(4).applied, c.get(1).applied);
    assert.deepEqual(c.get(4).confState, { voters: [1, 2, 3], learners: [4] });
  });

  it('the Ready with a snapshot carries no committed entries', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(2);
    for (let i = 0; i < 3; i++) c.propose(1, `v${i}`);
    c.compact(1);
    c.compact(3);
    c.heal();
    let sawSnapshot = false;
    c.onReady = (t, rd) => {
      if (rd.snapshot === undefined) return;
      sawSnapshot = true;
      assert.equal(t.id, 2);
      assert.equal(rd.committedEntries.length, 0);
    };
    c.tickAll(3);
    assert.ok(sawSnapshot);
  });
});
