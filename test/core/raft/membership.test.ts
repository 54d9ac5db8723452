// Checks single-step membership changes: bootstrap, adding a voter, adding a learner (it gets
// the log but neither votes nor counts in the quorum), promoting a learner, removing a voter,
// a removed leader stepping down, one change at a time, and no change before the leader has
// committed an entry of its term. The new configuration takes effect when the host applies the
// ConfChange entry (TestCluster calls applyConfChange while applying).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfChange } from '../../../src/core/raft/confchange/conf-change.js';
import { ConfChangeType, changeConfState, decodeConfChange, encodeConfChange } from '../../../src/core/raft/confchange/conf-change.js';
import { MessageType } from '../../../src/core/raft/messages.js';
import { Role } from '../../../src/core/raft/ready.js';
import { EntryType } from '../../../src/core/ports/storage-driver.js';
import { TestCluster, b } from './cluster.js';

const none = new Uint8Array(0);
const add = (id: number): ConfChange => ({ type: ConfChangeType.AddNode, nodeId: id, context: none });
const addLearner = (id: number): ConfChange => ({ type: ConfChangeType.AddLearnerNode, nodeId: id, context: none });
const remove = (id: number): ConfChange => ({ type: ConfChangeType.RemoveNode, nodeId: id, context: none });

describe('raft membership', () => {
  it('bootstrap writes identical ConfChange entries on every initial member', () => {
    const c = new TestCluster([1, 2, 3]);
    for (const id of [1, 2, 3]) {
      const t = c.get(id);
      const ents = t.storage.entries(1, 4);
      assert.deepEqual(
        ents.map((e) => [e.index, e.term, e.type, decodeConfChange(e.data).nodeId]),
        [
          [1, 1, EntryType.ConfChange, 1],
          [2, 1, EntryType.ConfChange, 2],
          [3, 1, EntryType.ConfChange, 3],
        ],
      );
      assert.deepEqual(t.confState, { voters: [1, 2, 3], learners: [] });
    }
  });

  it('adds a voter that catches up from the log and then counts in the quorum', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'before');
    assert.ok(c.get(1).node.proposeConfChange(add(4)));
    c.add(4); // empty storage, no bootstrap
    c.stabilize();
    c.tickAll(2);
    assert.deepEqual(c.get(4).confState, { voters: [1, 2, 3, 4], learners: [] });
    assert.deepEqual(c.get(4).applied.map((a) => a.data), ['before']);
    // Four voters: a quorum is three, so two members down stop commits.
    c.isolate(3);
    c.isolate(4);
    c.propose(1, 'stuck');
    assert.equal(c.get(1).applied.length, 1);
  });

  it('a learner receives the log but does not vote or count', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.get(1).node.proposeConfChange(addLearner(4));
    c.add(4);
    c.stabilize();
    c.tickAll(2);
    c.propose(1, 'x');
    assert.deepEqual(c.get(4).applied.map((a) => a.data), ['x']);
    assert.deepEqual(c.get(1).node.status().learners, [4]);
    // Quorum stays 2 of {1, 2, 3}: the learner's acks do not help.
    c.isolate(2);
    c.isolate(3);
    c.cutLink(4, 2);
    c.propose(1, 'needs-a-voter');
    assert.equal(c.get(1).applied.length, 1);
    // The learner never campaigns.
    for (let i = 0; i < 50; i++) c.tick(4);
    assert.equal(c.get(4).node.raft.role, Role.Follower);
    assert.equal(c.get(4).node.raft.promotable(), false);
  });

  it('promotes a learner to voter', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.get(1).node.proposeConfChange(addLearner(4));
    c.add(4);
    c.stabilize();
    c.tickAll(2);
    assert.ok(c.get(1).node.proposeConfChange(add(4)));
    c.stabilize();
    assert.deepEqual(c.get(4).confState, { voters: [1, 2, 3, 4], learners: [] });
    assert.equal(c.get(4).node.raft.promotable(), true);
    // The promoted member can now win an election.
    c.get(1).node.transferLeader(4);
    c.stabilize();
    assert.deepEqual(c.leaders(), [4]);
  });

  it('removes a follower; the rest commit without it', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    assert.ok(c.get(1).node.proposeConfChange(remove(3)));
    c.stabilize();
    assert.deepEqual(c.get(1).confState, { voters: [1, 2], learners: [] });
    c.isolate(3);
    assert.ok(c.propose(1, 'x'));
    assert.deepEqual(c.get(2).applied.map((a) => a.data), ['x']);
  });

  it('a removed leader steps down and the others elect a new one', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    assert.ok(c.get(1).node.proposeConfChange(remove(1)));
    c.stabilize();
    assert.equal(c.get(1).node.raft.role, Role.Follower);
    c.isolate(1);
    c.tickAll(30);
    const leaders = c.leaders();
    assert.equal(leaders.length, 1);
    assert.notEqual(leaders[0], 1);
    assert.ok(c.propose(leaders[0]!, 'x'));
    assert.deepEqual(c.get(2).applied.map((a) => a.data), ['x']);
  });

  it('refuses a second change while one is not yet applied', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const n = c.get(1).node;
    assert.ok(n.proposeConfChange(addLearner(4)));
    assert.equal(n.proposeConfChange(addLearner(5)), false);
    c.stabilize();
    assert.ok(n.proposeConfChange(addLearner(5)), 'accepted once the first one is applied');
  });

  it('refuses a change before the new leader commits an entry of its term', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    // Member 2 takes over, but its appends (so its term's empty entry) do not get through.
    c.filter = (m) => !(m.from === 2 && m.type === MessageType.App);
    c.campaign(2);
    assert.equal(c.get(2).node.raft.role, Role.Leader);
    assert.equal(c.get(2).node.proposeConfChange(addLearner(4)), false);
    c.filter = undefined;
    c.tickAll(2);
    assert.ok(c.get(2).node.proposeConfChange(addLearner(4)));
  });

  it('refuses removing the last voter', () => {
    const c = new TestCluster([1]);
    c.campaign(1);
    assert.equal(c.get(1).node.proposeConfChange(remove(1)), false);
    assert.equal(typeof changeConfState({ voters: [1], learners: [] }, remove(1)), 'string');
    assert.equal(typeof changeConfState({ voters: [1], learners: [] }, addLearner(1)), 'string');
  });

  it('changeConfState moves at most one voter per change', () => {
    const cs = { voters: [1, 2, 3], learners: [4] };
    assert.deepEqual(changeConfState(cs, add(5)), { voters: [1, 2, 3, 5], learners: [4] });
    assert.deepEqual(changeConfState(cs, add(4)), { voters: [1, 2, 3, 4], learners: [] });
    assert.deepEqual(changeConfState(cs, addLearner(2)), { voters: [1, 3], learners: [2, 4] });
    assert.deepEqual(changeConfState(cs, remove(4)), { voters: [1, 2, 3], learners: [] });
    assert.deepEqual(changeConfState(cs, remove(9)), cs);
    assert.equal(changeConfState(cs, add(2)), cs);
  });

  it('encodes and decodes ConfChange entries, context included', () => {
    const cc: ConfChange = { type: ConfChangeType.AddLearnerNode, nodeId: 2 ** 40 + 7, context: b('peer=ws://x') };
    const back = decodeConfChange(encodeConfChange(cc));
    assert.equal(back.type, cc.type);
    assert.equal(back.nodeId, cc.nodeId);
    assert.deepEqual([...back.context], [...cc.context]);
    assert.throws(() => decodeConfChange(new Uint8Array(3)));
  });
});
