// Checks ReadIndex (linearizable reads without a log write): the leader answers only after a
// heartbeat round confirms a quorum still follows it, only once it committed an entry of its
// term, shares one round among many pending reads, and answers followers through
// ReadIndexResp. Also shows the broken variant (d) answering a deposed leader's stale index.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageType } from '../../../src/core/raft/messages.js';
import { Role } from '../../../src/core/raft/ready.js';
import { TestCluster, b, s } from './cluster.js';

function reads(c: TestCluster, id: number): Array<[string, number]> {
  return c.get(id).readStates.map((rs) => [s(rs.context), rs.index]);
}

describe('raft ReadIndex', () => {
  it('the leader answers after a heartbeat round with its commit index', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'x');
    const commit = c.get(1).node.status().commit;
    const before = c.delivered.length;
    assert.ok(c.get(1).node.readIndex(b('r1')));
    assert.deepEqual(reads(c, 1), [], 'not answered before the round');
    c.stabilize();
    assert.deepEqual(reads(c, 1), [['r1', commit]]);
    const round = c.delivered.slice(before);
    assert.ok(round.some((m) => m.type === MessageType.Heartbeat && s(m.context!) === 'r1'));
    assert.ok(round.every((m) => m.type !== MessageType.App), 'no log write');
  });

  it('a follower forwards the request and gets the leader index back', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'x');
    assert.ok(c.get(3).node.readIndex(b('f1')));
    c.stabilize();
    assert.deepEqual(reads(c, 3), [['f1', c.get(1).node.status().commit]]);
    assert.ok(c.delivered.some((m) => m.type === MessageType.ReadIndexResp && m.to === 3));
  });

  it('reads that arrive during a round share the next one', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const n = c.get(1).node;
    const heartbeats = () => c.delivered.filter((m) => m.type === MessageType.Heartbeat && m.context !== undefined).length;
    const before = heartbeats();
    n.readIndex(b('a'));
    c.processReady(c.get(1)); // round for "a" is on the wire
    n.readIndex(b('b'));
    n.readIndex(b('c'));
    n.readIndex(b('d'));
    c.stabilize();
    assert.deepEqual(
      reads(c, 1).map(([ctx]) => ctx),
      ['a', 'b', 'c', 'd'],
    );
    // One round for "a", one shared by b, c and d (two followers each).
    assert.equal(heartbeats() - before, 4);
  });

  it('holds reads until the new leader commits an entry of its term', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'x');
    // Member 2 wins, but its appends (so its empty entry) do not get through yet.
    c.isolate(1);
    c.filter = (m) => !(m.from === 2 && m.type === MessageType.App);
    c.campaign(2);
    assert.equal(c.get(2).node.raft.role, Role.Leader);
    assert.ok(c.get(2).node.readIndex(b('early')));
    c.tickAll(3);
    assert.deepEqual(reads(c, 2), [], 'held');
    assert.equal(c.get(2).node.raft.pendingReadIndexMessages.length, 1);
    c.filter = undefined;
    c.heal();
    c.tickAll(2);
    const st = c.get(2).node.status();
    assert.deepEqual(reads(c, 2), [['early', st.commit]]);
    assert.equal(c.get(2).node.raft.log.term(st.commit), st.term);
  });

  it('a deposed leader cannot confirm a read', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    c.campaign(2);
    c.propose(2, 'newer');
    // Member 1 still believes it leads; its read round never reaches a quorum.
    assert.equal(c.get(1).node.raft.role, Role.Leader);
    c.get(1).node.readIndex(b('stale'));
    c.tickAll(3);
    assert.deepEqual(reads(c, 1), []);
  });

  it('fault (d): an unconfirmed read on a deposed leader returns a stale index', () => {
    const c = new TestCluster([1, 2, 3], { faults: { unconfirmedReadIndex: true } });
    c.campaign(1);
    c.isolate(1);
    c.campaign(2);
    c.propose(2, 'newer');
    const newest = c.get(2).node.status().commit;
    c.get(1).node.readIndex(b('stale'));
    c.stabilize();
    const [[, index]] = reads(c, 1) as [[string, number]];
    assert.ok(index < newest, `read index ${index} misses the committed ${newest}`);
  });

  it('with one voter the leader answers at once', () => {
    const c = new TestCluster([1]);
    c.campaign(1);
    c.propose(1, 'x');
    c.get(1).node.readIndex(b('solo'));
    c.stabilize();
    assert.deepEqual(reads(c, 1), [['solo', c.get(1).node.status().commit]]);
  });

  it('drops a read when no leader is known', () => {
    const c = new TestCluster([1, 2, 3]);
    assert.equal(c.get(2).node.readIndex(b('x')), false);
  });
});
