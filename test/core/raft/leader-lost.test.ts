// Checks `reportLeaderLost`, the quick campaign after the transport sees the leader's
// connection close: with the leader gone, a new one is elected within a fifth of an election
// timeout (not a whole randomized one) in every run, so no split vote; the member whose slot
// comes first but whose log is too old loses and the next slot's member wins; a spurious report while the leader lives deposes nobody and moves no term; a report
// about a member that is not the leader, or on the leader itself, changes nothing. Driven through
// the synchronous TestCluster with pre-vote and check-quorum on, as the server runs Raft.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Role } from '../../../src/core/raft/ready.js';
import { TestCluster } from './cluster.js';

const ELECTION = 100;
const overrides = { checkQuorum: true, preVote: true, electionTicks: ELECTION, heartbeatTicks: 10 };

function startedCluster(ids: readonly number[]): TestCluster {
  const c = new TestCluster(ids, overrides);
  c.campaign(ids[0]!);
  assert.deepEqual(c.leaders(), [ids[0]]);
  return c;
}

describe('raft: leader lost', () => {
  it('elects a new leader within a fifth of an election timeout once the leader is gone', () => {
    const ticksNeeded: number[] = [];
    for (let run = 0; run < 30; run++) {
      const c = startedCluster([1, 2, 3, 4, 5]);
      // Let a few heartbeats pass at a seed-dependent phase, so the followers' counters differ.
      c.tickAll(run % 7);
      const oldTerm = c.raft(2).term;
      c.isolate(1);
      for (const id of [2, 3, 4, 5]) c.get(id).node.reportLeaderLost(1);
      let ticks = 0;
      const newLeader = (): number[] => c.leaders().filter((id) => id !== 1);
      while (newLeader().length === 0 && ticks < 3 * ELECTION) {
        for (const id of [2, 3, 4, 5]) c.get(id).node.tick();
        c.stabilize();
        ticks++;
      }
      assert.equal(newLeader().length, 1, `run ${run}: a new leader`);
      assert.ok(c.raft(newLeader()[0]!).term > oldTerm);
      ticksNeeded.push(ticks);
    }
    // A split vote would cost a whole randomized election timeout: no run may see one.
    assert.ok(Math.max(...ticksNeeded) <= ELECTION / 5, `ticks per run: ${ticksNeeded.join(',')}`);
  });

  it('when the first slot belongs to a member with an old log, the next slot wins', () => {
    const c = startedCluster([1, 2, 3, 4]);
    // Member 2 (first slot once 1 is gone) misses the last entries.
    c.isolate(2);
    assert.ok(c.propose(1, 'x'));
    assert.ok(c.propose(1, 'y'));
    c.heal();
    c.isolate(1);
    // Heal 2's links to 3 and 4 only; it still lags (1 can no longer catch it up).
    for (const id of [2, 3, 4]) c.get(id).node.reportLeaderLost(1);
    let ticks = 0;
    while (c.leaders().filter((id) => id !== 1).length === 0 && ticks < ELECTION) {
      for (const id of [2, 3, 4]) c.get(id).node.tick();
      c.stabilize();
      ticks++;
    }
    const [leader] = c.leaders().filter((id) => id !== 1);
    assert.ok(leader === 3 || leader === 4, `leader ${leader}`);
    assert.ok(ticks <= ELECTION / 5, `${ticks} ticks`);
    assert.deepEqual(
      c.get(leader!).applied.map((a) => a.data),
      ['x', 'y'],
    );
  });

  it('without the report, the followers wait at least a whole election timeout', () => {
    const c = startedCluster([1, 2, 3]);
    c.isolate(1);
    for (let t = 0; t < ELECTION - 1; t++) {
      for (const id of [2, 3]) c.get(id).node.tick();
      c.stabilize();
    }
    assert.deepEqual(
      c.leaders().filter((id) => id !== 1),
      [],
    );
  });

  it('a spurious report while the leader lives moves no term and deposes nobody', () => {
    const c = startedCluster([1, 2, 3]);
    const term = c.raft(1).term;
    c.get(2).node.reportLeaderLost(1);
    assert.equal(c.raft(2).lead, 0, 'member 2 stops honouring the lease');
    // Member 2 pre-campaigns soon; 3 (in lease) and 1 (the leader) refuse; heartbeats go on.
    c.tickAll(ELECTION);
    assert.deepEqual(c.leaders(), [1]);
    for (const id of [1, 2, 3]) assert.equal(c.raft(id).term, term, `member ${id} term`);
    assert.equal(c.raft(2).lead, 1, 'member 2 follows the leader again');
    assert.ok(c.propose(1, 'after'));
    assert.equal(c.get(2).applied.at(-1)?.data, 'after');
  });

  it('ignores a report about a non-leader, and a report on the leader itself', () => {
    const c = startedCluster([1, 2, 3]);
    c.get(2).node.reportLeaderLost(3);
    assert.equal(c.raft(2).lead, 1);
    c.get(1).node.reportLeaderLost(2);
    c.get(1).node.reportLeaderLost(1);
    assert.equal(c.raft(1).role, Role.Leader);
    assert.equal(c.raft(1).lead, 1);
  });
});
