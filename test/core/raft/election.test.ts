// Checks leader election in the raft core: timeouts drawn from the Random port, votes and their
// persistence, the election restriction, pre-vote, check-quorum and the leader lease. Each case
// drives RawNodes through the synchronous TestCluster (persist → send → apply → advance).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageType, message } from '../../../src/core/raft/messages.js';
import { Raft } from '../../../src/core/raft/raft.js';
import { RawNode } from '../../../src/core/raft/raw-node.js';
import { Role } from '../../../src/core/raft/ready.js';
import { SeededRandom } from '../../../src/core/raft/seeded-random.js';
import { MemoryRaftStorage } from '../../../src/core/raft/storage.js';
import type { Random } from '../../../src/core/ports/random.js';
import { TestCluster, baseConfig, clusterFromLogs } from './cluster.js';

describe('raft election', () => {
  it('elects the member that times out first, and everyone follows it', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    assert.deepEqual(c.leaders(), [1]);
    for (const id of [1, 2, 3]) {
      const st = c.get(id).node.status();
      assert.equal(st.term, 2);
      assert.equal(st.lead, 1);
      assert.equal(st.vote, 1);
    }
    // The new leader's empty entry (after the 3 bootstrap entries) is committed everywhere.
    for (const id of [1, 2, 3]) assert.equal(c.get(id).node.status().commit, 4);
  });

  it('campaigns after a randomized timeout in [electionTicks, 2 * electionTicks)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const st = new MemoryRaftStorage();
      const n = new RawNode({ ...baseConfig, id: 1 }, st, new SeededRandom(seed));
      n.bootstrap([{ id: 1 }, { id: 2 }, { id: 3 }]);
      // Apply the bootstrap conf changes (a member does not campaign before that).
      const rd = n.ready();
      st.save({ entries: rd.entries, hardState: rd.hardState });
      n.advance(rd);
      let ticks = 0;
      while (n.raft.role === Role.Follower) {
        n.tick();
        ticks++;
        assert.ok(ticks < 2 * baseConfig.electionTicks, `no campaign after ${ticks} ticks`);
      }
      assert.ok(ticks >= baseConfig.electionTicks);
      seen.add(ticks);
    }
    assert.ok(seen.size > 3, 'timeouts are spread');
  });

  it('draws its jitter only from the injected Random port', () => {
    const calls: number[] = [];
    const fixed: Random = {
      nextInt(bound) {
        calls.push(bound);
        return bound - 1;
      },
    };
    const st = new MemoryRaftStorage();
    const n = new RawNode({ ...baseConfig, id: 1 }, st, fixed);
    n.bootstrap([{ id: 1 }, { id: 2 }, { id: 3 }]);
    assert.ok(calls.length > 0 && calls.every((b) => b === baseConfig.electionTicks));
    assert.equal(n.raft.randomizedElectionTimeout, 2 * baseConfig.electionTicks - 1);
  });

  it('a single member elects itself and commits alone', () => {
    const c = new TestCluster([1]);
    c.tick(1, 2 * baseConfig.electionTicks);
    assert.deepEqual(c.leaders(), [1]);
    assert.ok(c.propose(1, 'x'));
    assert.deepEqual(c.get(1).applied.map((a) => a.data), ['x']);
  });

  it('persists term and vote before the vote request leaves (Ready carries both)', () => {
    const st = new MemoryRaftStorage();
    const n = new RawNode({ ...baseConfig, id: 1 }, st, new SeededRandom(1));
    n.bootstrap([{ id: 1 }, { id: 2 }, { id: 3 }]);
    let rd = n.ready();
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    n.campaign();
    rd = n.ready();
    assert.deepEqual(rd.hardState, { term: 2, vote: 1, commit: 3 });
    assert.equal(rd.mustSync, true);
    assert.deepEqual(
      rd.messages.map((m) => [m.type, m.to, m.term]),
      [
        [MessageType.Vote, 2, 2],
        [MessageType.Vote, 3, 2],
      ],
    );
  });

  it('grants one vote per term and remembers it across a restart', () => {
    const c = new TestCluster([1, 2, 3]);
    const vote = (from: number, to: number) => {
      const st = c.get(to).node.status();
      c.get(to).node.step(message({ type: MessageType.Vote, from, to, term: 5, index: st.lastIndex, logTerm: 1 }));
      c.processReady(c.get(to));
      const resp = c.queue.filter((m) => m.type === MessageType.VoteResp && m.to === from);
      c.queue = [];
      return resp.length === 1 && !resp[0]!.reject;
    };
    assert.equal(vote(1, 3), true);
    assert.equal(vote(2, 3), false, 'second candidate in the same term');
    c.restart(3);
    assert.equal(vote(2, 3), false, 'the vote survived the restart');
    assert.equal(vote(1, 3), true, 'the same candidate may ask again');
  });

  it('refuses a candidate whose log is less up to date (election restriction)', () => {
    // Member 3 lacks the entry at index 3 of term 2.
    const c = clusterFromLogs({ 1: [2, 2], 2: [2, 2], 3: [2] }, 2);
    c.campaign(3);
    assert.deepEqual(c.leaders(), []);
    c.campaign(1);
    assert.deepEqual(c.leaders(), [1]);
  });

  it('a candidate that loses the vote steps back to follower', () => {
    const c = clusterFromLogs({ 1: [2, 2], 2: [2, 2], 3: [2] }, 2);
    const rejections = () => c.delivered.filter((m) => m.type === MessageType.VoteResp && m.to === 3 && m.reject).length;
    c.campaign(3);
    assert.equal(rejections(), 2);
    assert.equal(c.get(3).node.raft.role, Role.Follower);
    assert.equal(c.get(3).node.status().term, 3, 'it keeps the term it campaigned in');
  });

  it('pre-vote: a partitioned member does not raise its term while it cannot win', () => {
    const c = new TestCluster([1, 2, 3], { preVote: true });
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 100; i++) c.tick(3);
    assert.equal(c.get(3).node.status().term, 2, 'term unchanged');
    assert.equal(c.get(3).node.raft.role, Role.PreCandidate);
    c.heal();
    c.tickAll(5);
    assert.deepEqual(c.leaders(), [1], 'the leader was not disturbed');
    assert.equal(c.get(1).node.status().term, 2);
  });

  it('without pre-vote a returning member disrupts the leader with its higher term', () => {
    const c = new TestCluster([1, 2, 3], { preVote: false });
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 100; i++) c.tick(3);
    assert.ok(c.get(3).node.status().term > 2);
    c.heal();
    c.tickAll(50);
    assert.ok(c.get(1).node.status().term > 2, 'the leader had to step down');
  });

  it('pre-vote: a pre-candidate that wins its pre-vote runs a real election', () => {
    const c = new TestCluster([1, 2, 3], { preVote: true });
    c.campaign(2);
    assert.deepEqual(c.leaders(), [2]);
    assert.equal(c.get(2).node.status().term, 2, 'one term, not two');
    const types = c.delivered.map((m) => m.type);
    assert.ok(types.includes(MessageType.PreVote) && types.includes(MessageType.Vote));
  });

  it('check-quorum: a leader cut off from its quorum steps down', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.isolate(1);
    for (let i = 0; i < 2 * baseConfig.electionTicks + 1; i++) c.tick(1);
    assert.equal(c.get(1).node.raft.role, Role.Follower);
    assert.equal(c.get(1).node.status().lead, 0);
  });

  it('check-quorum: a connected leader stays', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.tickAll(5 * baseConfig.electionTicks);
    assert.deepEqual(c.leaders(), [1]);
    assert.equal(c.get(1).node.status().term, 2);
  });

  it('leader lease: followers that hear from a leader ignore vote requests', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    // Member 3 campaigns right away (e.g. its clock is fast): nobody listens.
    c.campaign(3);
    assert.deepEqual(c.leaders(), [1]);
    assert.equal(c.get(2).node.status().term, 2, 'no term bump from a vote request in lease');
    // Once member 2 has not heard from the leader for an election timeout, it may vote.
    c.isolate(1);
    c.tick(2, baseConfig.electionTicks);
    c.campaign(3);
    assert.equal(c.get(3).node.raft.role, Role.Leader);
  });

  it('a higher-term append makes a leader step down and follow', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    c.campaign(2);
    assert.equal(c.get(2).node.raft.role, Role.Leader);
    assert.equal(c.get(1).node.raft.role, Role.Leader, 'stale leader does not know yet');
    c.heal();
    c.tickAll(2);
    assert.deepEqual(c.leaders(), [2]);
    assert.equal(c.get(1).node.status().lead, 2);
  });

  it('learners and members outside the configuration never campaign', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const outsider = c.add(9);
    for (let i = 0; i < 5 * baseConfig.electionTicks; i++) c.tick(9);
    assert.equal(outsider.node.raft.role, Role.Follower);
    assert.equal(outsider.node.status().term, 0);
  });

  it('does not campaign while committed conf changes wait to be applied', () => {
    const st = new MemoryRaftStorage();
    const n = new RawNode({ ...baseConfig, id: 1 }, st, new SeededRandom(3));
    n.bootstrap([{ id: 1 }]);
    // The bootstrap entries are committed but not yet applied (no Ready processed).
    n.campaign();
    assert.equal(n.raft.role, Role.Follower);
    const rd = n.ready();
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    n.campaign();
    assert.equal(n.raft.role, Role.Leader);
  });

  it('Raft can be driven without RawNode for white-box tests', () => {
    const st = new MemoryRaftStorage();
    const r = new Raft({ ...baseConfig, id: 7 }, st, new SeededRandom(1));
    assert.equal(r.role, Role.Follower);
    assert.equal(r.promotable(), false);
  });
});
