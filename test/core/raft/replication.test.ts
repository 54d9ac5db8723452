// Checks log replication in the raft core: appends, commit propagation, pipelining within the
// in-flight window and the per-message byte limit, fast backtracking of a conflicting follower
// log, the commit rule of Figure 8 in the Raft paper (and that the broken variant violates it),
// and that the leader counts its own entries only once they are persisted; a batch of
// proposals (RawNode.proposeBatch) travels as one append per follower. Scenarios run on the
// synchronous TestCluster; logs are preloaded with storageWith where a figure needs them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../../src/core/raft/messages.js';
import { ConfChangeType } from '../../../src/core/raft/confchange/conf-change.js';
import { MessageType, canSendBeforePersist, message } from '../../../src/core/raft/messages.js';
import { RawNode } from '../../../src/core/raft/raw-node.js';
import { Role } from '../../../src/core/raft/ready.js';
import { SeededRandom } from '../../../src/core/raft/seeded-random.js';
import { MemoryRaftStorage } from '../../../src/core/raft/storage.js';
import { ProgressState } from '../../../src/core/raft/tracker/progress.js';
import { TestCluster, b, baseConfig, clusterFromLogs } from './cluster.js';

function termsOf(c: TestCluster, id: number): number[] {
  const r = c.get(id).node.raft;
  const out: number[] = [];
  for (let i = r.log.firstIndex(); i <= r.log.lastIndex(); i++) out.push(r.log.term(i)!);
  return out;
}

describe('raft replication', () => {
  it('replicates, commits and applies proposals on every member', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    for (const v of ['a', 'b', 'c']) assert.ok(c.propose(1, v));
    for (const id of [1, 2, 3]) assert.deepEqual(c.get(id).applied.map((a) => a.data), ['a', 'b', 'c']);
  });

  it('a follower forwards proposals to the leader', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    assert.ok(c.propose(3, 'via-3'));
    for (const id of [1, 2, 3]) assert.deepEqual(c.get(id).applied.map((a) => a.data), ['via-3']);
  });

  it('a batch of proposals travels as one append per follower, and a follower forwards it as one message', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const before = c.delivered.length;
    const batch = Array.from({ length: 20 }, (_, i) => b(`p${i}`));
    assert.ok(c.get(1).node.proposeBatch(batch));
    c.stabilize();
    const want = batch.map((_, i) => `p${i}`);
    for (const id of [1, 2, 3]) assert.deepEqual(c.get(id).applied.map((a) => a.data), want);
    const carrying = c.delivered.slice(before).filter((m) => m.type === MessageType.App && m.entries.length > 0);
    assert.deepEqual(carrying.map((m) => [m.to, m.entries.length]).sort(), [[2, 20], [3, 20]]);

    const mark = c.delivered.length;
    assert.ok(c.get(3).node.proposeBatch([b('q0'), b('q1'), b('q2')]));
    c.stabilize();
    const forwarded = c.delivered.slice(mark).filter((m) => m.type === MessageType.Prop);
    assert.deepEqual(forwarded.map((m) => [m.from, m.to, m.entries.length]), [[3, 1, 3]]);
    for (const id of [1, 2, 3]) assert.deepEqual(c.get(id).applied.map((a) => a.data), [...want, 'q0', 'q1', 'q2']);
    assert.equal(c.get(2).node.proposeBatch([]), true, 'an empty batch is a no-op');
  });

  it('drops a whole batch without a leader', () => {
    const c = new TestCluster([1, 2, 3], { disableProposalForwarding: true });
    assert.equal(c.get(2).node.proposeBatch([b('x'), b('y')]), false);
    c.campaign(1);
    assert.equal(c.get(2).node.proposeBatch([b('x'), b('y')]), false, 'forwarding disabled');
    for (const id of [1, 2, 3]) assert.deepEqual(c.get(id).applied, []);
  });

  it('drops proposals without a leader, or when forwarding is disabled', () => {
    const c = new TestCluster([1, 2, 3], { disableProposalForwarding: true });
    assert.equal(c.propose(2, 'x'), false, 'no leader yet');
    c.campaign(1);
    assert.equal(c.propose(2, 'x'), false, 'forwarding disabled');
    assert.equal(c.propose(1, 'x'), true);
  });

  it('commits with a majority while one member is down, and catches it up later', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) assert.ok(c.propose(1, `v${i}`));
    assert.equal(c.get(1).applied.length, 5);
    assert.equal(c.get(3).applied.length, 0);
    c.heal();
    c.tickAll(3);
    assert.deepEqual(c.get(3).applied, c.get(1).applied);
  });

  it('does not commit without a majority', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(2);
    c.isolate(3);
    assert.ok(c.propose(1, 'x'));
    assert.equal(c.get(1).applied.length, 0);
    assert.equal(c.get(1).node.status().lastIndex, c.get(1).node.status().commit + 1);
  });

  it('pipelines appends in replicate state, bounded by maxInflightMsgs and maxMsgBytes', () => {
    const c = new TestCluster([1, 2], { maxInflightMsgs: 3, maxMsgBytes: 4 });
    c.campaign(1);
    // Hold every message to 2: the leader may only have 3 appends in flight.
    c.filter = (m) => m.to !== 2;
    const n1 = c.get(1).node;
    for (let i = 0; i < 10; i++) n1.propose(b(`pay${i}`)); // 4 bytes each: one entry per message
    const rd = n1.ready();
    const apps = rd.earlyMessages.filter((m) => m.type === MessageType.App && m.to === 2);
    assert.ok(rd.messages.every((m) => m.type !== MessageType.App), "a leader's appends may leave before its fsync");
    assert.equal(apps.length, 3);
    for (const m of apps) assert.equal(m.entries.length, 1);
    assert.equal(n1.status().progress.get(2)!.inflight, 3);
    assert.equal(n1.status().progress.get(2)!.state, ProgressState.Replicate);
    // The appends were sent optimistically: next ran ahead of match.
    const pr = n1.status().progress.get(2)!;
    assert.equal(pr.next, pr.match + 4);
    c.get(1).storage.save({ entries: rd.entries, hardState: rd.hardState });
    n1.advance(rd);
    // Those appends are lost; heartbeat responses get replication going again.
    c.filter = undefined;
    c.tickAll(3);
    assert.equal(c.get(2).applied.length, 10);
  });

  it('a heartbeat response lets one empty append through a full window whose messages were lost', () => {
    const c = new TestCluster([1, 2], { maxInflightMsgs: 2, maxMsgBytes: 1 });
    c.campaign(1);
    c.filter = (m) => !(m.type === MessageType.App && m.to === 2);
    for (let i = 0; i < 6; i++) c.propose(1, `p${i}`);
    assert.equal(c.get(1).node.status().progress.get(2)!.inflight, 2);
    c.filter = undefined;
    c.tickAll(3);
    assert.equal(c.get(2).applied.length, 6, 'replication recovered');
  });

  it('fast backtracking skips a whole conflicting term per round trip', () => {
    // Figure 7 style: the leader (term 8) and a follower with a long divergent tail of term 3.
    const leaderLog = [2, 2, 2, 4, 4, 5, 5, 6, 6, 6];
    const followerLog = [2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3];
    const c = clusterFromLogs({ 1: leaderLog, 2: leaderLog, 3: followerLog }, 7);
    c.campaign(1);
    c.stabilize();
    assert.deepEqual(c.leaders(), [1]);
    const rejects = c.delivered.filter((m) => m.type === MessageType.AppResp && m.from === 3 && m.reject);
    assert.ok(rejects.length <= 2, `rejections: ${rejects.length}`);
    assert.deepEqual(termsOf(c, 3), termsOf(c, 1));
  });

  it('a reject hint carries the follower term at or below the probed term', () => {
    const c = clusterFromLogs({ 1: [2, 2, 5, 5], 2: [2, 2, 3, 3, 3, 3] }, 6);
    const f = c.get(2).node;
    f.step(message({ type: MessageType.App, from: 1, to: 2, term: 6, index: 5, logTerm: 5, commit: 1 }));
    const rd = f.ready();
    const resp = rd.messages.find((m) => m.type === MessageType.AppResp)!;
    assert.equal(resp.reject, true);
    assert.equal(resp.index, 5);
    // Our last index <= 5 with term <= 5 is 5 itself (term 3).
    assert.equal(resp.rejectHint, 5);
    assert.equal(resp.logTerm, 3);
  });

  it('ignores a stale append that would truncate entries a newer one added', () => {
    const c = new TestCluster([1, 2]);
    c.campaign(1);
    let held: Message | undefined;
    c.filter = (m) => {
      if (m.type === MessageType.App && m.to === 2 && m.entries.length === 1 && held === undefined) {
        held = m;
        return false;
      }
      return true;
    };
    c.propose(1, 'a');
    c.filter = undefined;
    c.propose(1, 'b');
    c.tickAll(2);
    const before = termsOf(c, 2);
    c.get(2).node.step(held!); // a duplicate of an old append arrives late
    c.stabilize();
    assert.deepEqual(termsOf(c, 2), before);
    assert.deepEqual(c.get(2).applied.map((a) => a.data), ['a', 'b']);
  });

  it('Figure 8: a leader does not commit an earlier-term entry by counting replicas', () => {
    const { c, indexTwo } = figure8({});
    // Member 1 (term 4) has (2, t2) on members 1, 2 and 3: a majority, but of an old term.
    assert.equal(c.get(1).node.status().commit, 1, 'index 2 is not committed');
    assert.equal(indexTwo(), 2);
    // Member 5 (log ends with (2, t3)) may now win and overwrite index 2 safely.
    c.heal();
    c.filter = undefined;
    c.isolate(1);
    c.campaign(5);
    assert.equal(c.get(5).node.raft.role, Role.Leader);
    c.tickAll(2);
    assert.equal(c.get(3).node.raft.log.term(2), 3, 'the uncommitted (2, t2) was replaced');
  });

  it('Figure 8 with fault (c): the broken leader commits (2, t2), which is then lost', () => {
    const { c } = figure8({ faults: { commitEarlierTerm: true } });
    assert.equal(c.get(1).node.status().commit, 2, 'the broken rule committed index 2 of term 2');
    assert.deepEqual(c.get(2).applied.map((a) => a.data), ['e2t2'], 'member 2 applied it');
    c.heal();
    c.filter = undefined;
    c.isolate(1);
    c.isolate(2);
    c.campaign(5);
    assert.equal(c.get(5).node.raft.role, Role.Leader);
    c.tickAll(2);
    // State machine safety is broken: index 2 was applied as (2, t2) on member 2 and as
    // (2, t3) on member 3.
    assert.deepEqual(c.get(3).applied.map((a) => a.data), ['e2t3']);
  });

  it('the leader counts its own entries only once they are persisted', () => {
    const st = new MemoryRaftStorage();
    const n = new RawNode({ ...baseConfig, id: 1 }, st, new SeededRandom(1));
    n.bootstrap([{ id: 1 }]);
    let rd = n.ready();
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    n.campaign();
    rd = n.ready();
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    rd = n.ready();
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    const before = n.status().commit;
    n.propose(b('x'));
    assert.equal(n.status().commit, before, 'not committed while unpersisted');
    rd = n.ready();
    assert.equal(rd.committedEntries.length, 0);
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    assert.equal(n.status().commit, before + 1, 'committed once persisted');
    rd = n.ready();
    assert.equal(rd.committedEntries.length, 1);
    assert.equal(rd.mustSync, false, 'a commit-only hard state needs no fsync');
  });

  it('with fault (b) the leader commits its entry before persisting it', () => {
    const st = new MemoryRaftStorage();
    const n = new RawNode({ ...baseConfig, id: 1, faults: { countSelfBeforePersist: true } }, st, new SeededRandom(1));
    n.bootstrap([{ id: 1 }]);
    let rd = n.ready();
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    n.campaign();
    rd = n.ready();
    assert.ok(rd.committedEntries.some((e) => e.index === rd.entries[0]!.index), 'committed in the same Ready that still has to persist it');
  });

  it('marks which messages may leave before the Ready is persisted', () => {
    const yes = [MessageType.App, MessageType.Snap, MessageType.Heartbeat, MessageType.TimeoutNow, MessageType.ReadIndexResp];
    const no = [MessageType.AppResp, MessageType.Vote, MessageType.VoteResp, MessageType.PreVote, MessageType.PreVoteResp, MessageType.HeartbeatResp];
    for (const t of yes) assert.equal(canSendBeforePersist(message({ type: t, term: 3 })), true, `type ${t}`);
    for (const t of no) assert.equal(canSendBeforePersist(message({ type: t, term: 3 })), false, `type ${t}`);
    assert.equal(canSendBeforePersist(message({ type: MessageType.Prop })), true);
    assert.equal(canSendBeforePersist(message({ type: MessageType.ReadIndex })), true);
  });

  it('holds back even a leader message whose term is not yet durable', () => {
    // One voter and a learner: the voter elects itself within one Ready, so its appends to the
    // learner carry a term that this very Ready still has to persist.
    const st = new MemoryRaftStorage();
    const n = new RawNode({ ...baseConfig, id: 1 }, st, new SeededRandom(1));
    n.bootstrap([{ id: 1 }]);
    let rd = n.ready();
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    n.applyConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 2, context: new Uint8Array(0) });
    n.campaign();
    n.propose(b('x'));
    rd = n.ready();
    assert.equal(rd.hardState?.term, 2);
    assert.deepEqual(rd.earlyMessages, []);
    assert.ok(rd.messages.some((m) => m.type === MessageType.App && m.to === 2 && m.term === 2));
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    n.tick(); // a heartbeat to the learner
    rd = n.ready();
    assert.ok(rd.earlyMessages.some((m) => m.type === MessageType.Heartbeat && m.to === 2), 'once the term is durable they go early');
  });
});

/**
 * Builds Figure 8 (d) of the Raft paper with five members, indexes shifted by one (index 1 is
 * the compaction point):
 *   member 1: [t2]      leader of term 4 after (2, t2) reached members 2 and 3
 *   member 2: [t2]
 *   member 3: []        gets (2, t2) from member 1, but not member 1's term-4 entry
 *   member 4: []
 *   member 5: [t3]      led term 3 alone
 */
function figure8(overrides: Parameters<typeof clusterFromLogs>[2]) {
  const c = clusterFromLogs({ 1: [2], 2: [2], 3: [], 4: [], 5: [3] }, 3, { maxMsgBytes: 1, ...overrides });
  // Once member 3 holds (2, t2) it gets no term-4 entry; members 4 and 5 hear no appends.
  c.filter = (m) => {
    if (m.from !== 1) return true;
    if (m.to === 4 || m.to === 5) return m.type !== MessageType.App && m.type !== MessageType.Heartbeat;
    if (m.to === 3 && m.type === MessageType.App && c.get(3).node.raft.log.lastIndex() >= 2) return m.entries.length === 0;
    return true;
  };
  c.campaign(1);
  assert.equal(c.get(1).node.raft.role, Role.Leader);
  assert.equal(c.get(1).node.status().term, 4);
  c.stabilize();
  assert.equal(c.get(3).node.raft.log.term(2), 2);
  assert.equal(c.get(3).node.raft.log.lastIndex(), 2);
  const indexTwo = () => c.get(1).node.raft.log.term(2);
  return { c, indexTwo };
}
