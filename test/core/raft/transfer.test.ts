// Checks leadership transfer: the leader sends TimeoutNow once the transferee's log is caught up
// (catching it up first if needed, and asking again on each heartbeat answer until it acts), the transferee campaigns at once and wins even against the
// leader lease, proposals are refused while a transfer runs, and a transfer that cannot finish
// is abandoned after an election timeout. Runs on the synchronous TestCluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageType } from '../../../src/core/raft/messages.js';
import { Role } from '../../../src/core/raft/ready.js';
import { ConfChangeType } from '../../../src/core/raft/confchange/conf-change.js';
import { TestCluster, b, baseConfig } from './cluster.js';

describe('raft leader transfer', () => {
  it('hands leadership to an up-to-date follower', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true, preVote: true });
    c.campaign(1);
    c.propose(1, 'x');
    assert.ok(c.get(1).node.transferLeader(2));
    c.stabilize();
    assert.deepEqual(c.leaders(), [2]);
    assert.equal(c.get(2).node.status().term, 3);
    assert.ok(c.delivered.some((m) => m.type === MessageType.TimeoutNow && m.to === 2));
    // The new leader works.
    assert.ok(c.propose(3, 'y'));
    assert.deepEqual(c.get(1).applied.map((a) => a.data), ['x', 'y']);
  });

  it('catches a lagging transferee up before sending TimeoutNow', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 4; i++) c.propose(1, `v${i}`);
    c.heal();
    // No ticks: the transfer itself must bring member 3 up to date.
    c.get(1).node.transferLeader(3);
    c.stabilize();
    assert.deepEqual(c.leaders(), [3]);
    assert.equal(c.get(3).applied.length, 4);
  });

  it('asks again on each heartbeat answer when the first TimeoutNow had no effect', () => {
    // (A transferee that has not applied its own promotion ignores TimeoutNow; a lost message
    // has the same effect.)
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'x');
    let dropped = 0;
    c.filter = (m) => !(m.type === MessageType.TimeoutNow && dropped++ === 0);
    c.get(1).node.transferLeader(2);
    c.stabilize();
    assert.equal(dropped, 1);
    assert.deepEqual(c.leaders(), [1]);
    c.tick(1, baseConfig.heartbeatTicks);
    assert.deepEqual(c.leaders(), [2]);
  });

  it('a follower forwards the transfer request to the leader', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    assert.ok(c.get(3).node.transferLeader(2));
    c.stabilize();
    assert.deepEqual(c.leaders(), [2]);
  });

  it('refuses proposals while a transfer is in progress, and aborts it after an election timeout', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    c.get(1).node.transferLeader(3);
    c.stabilize();
    assert.equal(c.get(1).node.status().leadTransferee, 3);
    assert.equal(c.get(1).node.propose(b('during')), false);
    c.tick(1, baseConfig.electionTicks);
    assert.equal(c.get(1).node.status().leadTransferee, 0);
    assert.deepEqual(c.leaders(), [1]);
    assert.equal(c.get(1).node.propose(b('after')), true);
  });

  it('ignores a transfer to itself, to a learner, or to an unknown member', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.get(1).node.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4, context: new Uint8Array(0) });
    c.add(4);
    c.stabilize();
    c.tickAll(2);
    c.get(1).node.transferLeader(1);
    c.get(1).node.transferLeader(4);
    c.get(1).node.transferLeader(9);
    c.stabilize();
    assert.deepEqual(c.leaders(), [1]);
    assert.equal(c.get(1).node.status().leadTransferee, 0);
  });

  it('the transferee wins even while the other followers are in their leader lease', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.tickAll(2);
    c.get(1).node.transferLeader(3);
    c.stabilize();
    assert.deepEqual(c.leaders(), [3]);
    assert.equal(c.get(1).node.raft.role, Role.Follower);
  });
});
