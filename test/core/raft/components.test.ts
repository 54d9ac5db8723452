// Table tests for the raft core's building blocks: the inflights window, progress state
// transitions and backtracking, majority quorums, the unstable log, RaftLog (append with
// conflicts, findConflictByTerm, slicing across storage and unstable), MemoryRaftStorage, the
// seeded Random, config validation, and the RawNode Ready contract (one Ready outstanding,
// local message types refused from the network).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssertionError } from '../../../src/core/assert.js';
import type { RaftConfig } from '../../../src/core/raft/config.js';
import { validateRaftConfig } from '../../../src/core/raft/config.js';
import { RaftLog } from '../../../src/core/raft/log.js';
import { Unstable } from '../../../src/core/raft/log-unstable.js';
import { MessageType, message } from '../../../src/core/raft/messages.js';
import { VoteResult, committedIndex, quorumSize, voteResult } from '../../../src/core/raft/quorum/majority.js';
import { RawNode } from '../../../src/core/raft/raw-node.js';
import { SeededRandom } from '../../../src/core/raft/seeded-random.js';
import { MemoryRaftStorage } from '../../../src/core/raft/storage.js';
import { Inflights } from '../../../src/core/raft/tracker/inflights.js';
import { Progress, ProgressState } from '../../../src/core/raft/tracker/progress.js';
import type { Entry } from '../../../src/core/ports/storage-driver.js';
import { EntryType } from '../../../src/core/ports/storage-driver.js';
import { b, baseConfig } from './cluster.js';

function ent(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.Normal, data: b(data) };
}

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((t, i) => ent(from + i, t, `x${from + i}`));
}

describe('Inflights', () => {
  it('fills up to capacity, frees in order, wraps around', () => {
    const f = new Inflights(3, 0);
    f.add(1, 10);
    f.add(2, 10);
    assert.equal(f.full(), false);
    f.add(5, 10);
    assert.equal(f.full(), true);
    assert.throws(() => f.add(6, 1), AssertionError);
    f.freeLE(2);
    assert.equal(f.size(), 1);
    f.add(6, 1);
    f.add(7, 1);
    assert.equal(f.full(), true);
    f.freeLE(6);
    assert.equal(f.size(), 1);
    f.freeLE(100);
    assert.equal(f.size(), 0);
  });

  it('is full when the byte budget is used up', () => {
    const f = new Inflights(10, 100);
    f.add(1, 60);
    assert.equal(f.full(), false);
    f.add(2, 40);
    assert.equal(f.full(), true);
    f.freeLE(1);
    assert.equal(f.full(), false);
  });
});

describe('Progress', () => {
  const cases: Array<{ name: string; state: ProgressState; match: number; next: number; rejected: number; hint: number; wantOk: boolean; wantNext: number }> = [
    { name: 'replicate: stale rejection', state: ProgressState.Replicate, match: 5, next: 10, rejected: 5, hint: 5, wantOk: false, wantNext: 10 },
    { name: 'replicate: rejection moves next to match + 1', state: ProgressState.Replicate, match: 5, next: 10, rejected: 9, hint: 9, wantOk: true, wantNext: 6 },
    { name: 'probe: rejection of an older probe', state: ProgressState.Probe, match: 0, next: 10, rejected: 5, hint: 5, wantOk: false, wantNext: 10 },
    { name: 'probe: hint jumps back', state: ProgressState.Probe, match: 0, next: 10, rejected: 9, hint: 3, wantOk: true, wantNext: 4 },
    { name: 'probe: never below match + 1', state: ProgressState.Probe, match: 5, next: 10, rejected: 9, hint: 2, wantOk: true, wantNext: 6 },
  ];
  for (const tc of cases) {
    it(`maybeDecrTo: ${tc.name}`, () => {
      const p = new Progress(tc.next, 4, 0, false);
      p.match = tc.match;
      if (tc.state === ProgressState.Replicate) {
        p.becomeReplicate();
        p.next = tc.next;
      }
      assert.equal(p.maybeDecrTo(tc.rejected, tc.hint), tc.wantOk);
      assert.equal(p.next, tc.wantNext);
    });
  }

  it('probe sends one append, then pauses until an ack', () => {
    const p = new Progress(5, 4, 0, false);
    assert.equal(p.isPaused(), false);
    p.sentEntries(2, 10);
    assert.equal(p.isPaused(), true);
    assert.equal(p.maybeUpdate(6), true);
    assert.equal(p.isPaused(), false);
    assert.equal(p.match, 6);
    assert.equal(p.next, 7);
  });

  it('replicate advances next optimistically and pauses on a full window', () => {
    const p = new Progress(5, 2, 0, false);
    p.match = 4;
    p.becomeReplicate();
    p.sentEntries(3, 30);
    assert.equal(p.next, 8);
    assert.equal(p.isPaused(), false);
    p.sentEntries(1, 10);
    assert.equal(p.isPaused(), true);
    p.maybeUpdate(7);
    p.inflights.freeLE(7);
    assert.equal(p.inflights.size(), 1);
  });

  it('snapshot state pauses and resumes probing above the snapshot', () => {
    const p = new Progress(5, 2, 0, false);
    p.becomeSnapshot(20);
    assert.equal(p.isPaused(), true);
    p.becomeProbe();
    assert.equal(p.next, 21);
    assert.equal(p.state, ProgressState.Probe);
  });
});

describe('majority quorum', () => {
  it('quorum sizes', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumSize), [1, 2, 2, 3, 3, 4, 4]);
  });

  it('committed index is the quorum-th largest match', () => {
    const m = new Map([
      [1, 10],
      [2, 7],
      [3, 3],
      [4, 12],
      [5, 0],
    ]);
    assert.equal(committedIndex([1, 2, 3, 4, 5], (id) => m.get(id)!), 7);
    assert.equal(committedIndex([1, 2, 3], (id) => m.get(id)!), 7);
    assert.equal(committedIndex([1], (id) => m.get(id)!), 10);
    assert.equal(committedIndex([], () => 0), Infinity);
  });

  it('vote results', () => {
    const v = (entries: Array<[number, boolean]>) => voteResult([1, 2, 3], new Map(entries));
    assert.equal(v([[1, true]]), VoteResult.Pending);
    assert.equal(v([[1, true], [2, true]]), VoteResult.Won);
    assert.equal(v([[1, true], [2, false]]), VoteResult.Pending);
    assert.equal(v([[1, true], [2, false], [3, false]]), VoteResult.Lost);
  });
});

describe('Unstable', () => {
  it('appends, truncates a suffix, and replaces from before its offset', () => {
    const u = new Unstable(5);
    u.truncateAndAppend(ents(5, [1, 1, 1]));
    assert.equal(u.maybeLastIndex(), 7);
    u.truncateAndAppend(ents(7, [2, 2]));
    assert.deepEqual(u.entries.map((e) => [e.index, e.term]), [[5, 1], [6, 1], [7, 2], [8, 2]]);
    u.truncateAndAppend(ents(3, [3]));
    assert.equal(u.offset, 3);
    assert.deepEqual(u.entries.map((e) => [e.index, e.term]), [[3, 3]]);
  });

  it('never mutates an array handed out for a Ready', () => {
    const u = new Unstable(1);
    u.truncateAndAppend(ents(1, [1, 1]));
    const handed = u.shareEntries();
    u.truncateAndAppend(ents(3, [1]));
    assert.equal(handed.length, 2);
    assert.equal(u.entries.length, 3);
  });

  it('stableTo ignores a mismatching term (entries replaced meanwhile)', () => {
    const u = new Unstable(1);
    u.truncateAndAppend(ents(1, [1, 1, 1]));
    u.stableTo(2, 9);
    assert.equal(u.offset, 1);
    u.stableTo(2, 1);
    assert.equal(u.offset, 3);
    assert.equal(u.entries.length, 1);
  });
});

describe('RaftLog', () => {
  function logWith(stored: number[], unstable: number[] = []): RaftLog {
    const st = new MemoryRaftStorage();
    st.save({ entries: ents(1, stored) });
    const log = new RaftLog(st, Infinity);
    if (unstable.length > 0) log.append(ents(stored.length + 1, unstable));
    return log;
  }

  it('terms, first and last index span storage and unstable', () => {
    const log = logWith([1, 1, 2], [3, 3]);
    assert.equal(log.firstIndex(), 1);
    assert.equal(log.lastIndex(), 5);
    assert.deepEqual([0, 1, 3, 4, 5, 6].map((i) => log.term(i)), [0, 1, 2, 3, 3, undefined]);
    assert.deepEqual(log.slice(2, 6, Infinity).map((e) => e.index), [2, 3, 4, 5]);
    assert.deepEqual(log.slice(2, 6, 1).map((e) => e.index), [2], 'byte limit keeps at least one');
  });

  const appendCases: Array<{ name: string; index: number; logTerm: number; entries: Entry[]; want: number | undefined; wantTerms: number[] }> = [
    { name: 'mismatch', index: 3, logTerm: 9, entries: [], want: undefined, wantTerms: [1, 1, 2] },
    { name: 'append at the end', index: 3, logTerm: 2, entries: ents(4, [3]), want: 4, wantTerms: [1, 1, 2, 3] },
    { name: 'duplicate changes nothing', index: 1, logTerm: 1, entries: ents(2, [1, 2]), want: 3, wantTerms: [1, 1, 2] },
    { name: 'stale shorter append keeps the tail', index: 1, logTerm: 1, entries: ents(2, [1]), want: 2, wantTerms: [1, 1, 2] },
    { name: 'conflict truncates', index: 1, logTerm: 1, entries: ents(2, [4, 4]), want: 3, wantTerms: [1, 4, 4] },
  ];
  for (const tc of appendCases) {
    it(`maybeAppend: ${tc.name}`, () => {
      const log = logWith([1, 1, 2]);
      assert.equal(log.maybeAppend(tc.index, tc.logTerm, 0, tc.entries), tc.want);
      const terms: number[] = [];
      for (let i = 1; i <= log.lastIndex(); i++) terms.push(log.term(i)!);
      assert.deepEqual(terms, tc.wantTerms);
    });
  }

  it('refuses to truncate committed entries', () => {
    const log = logWith([1, 1, 2]);
    log.commitTo(3);
    assert.throws(() => log.maybeAppend(1, 1, 3, ents(2, [5])), AssertionError);
  });

  it('findConflictByTerm returns the last index at or below a term', () => {
    const log = logWith([1, 1, 2, 2, 4, 4, 4]);
    assert.deepEqual(log.findConflictByTerm(7, 3), [4, 2]);
    assert.deepEqual(log.findConflictByTerm(7, 4), [7, 4]);
    assert.deepEqual(log.findConflictByTerm(7, 0), [0, 0]);
    assert.deepEqual(log.findConflictByTerm(3, 1), [2, 1]);
  });

  it('the up-to-date check compares last term, then last index', () => {
    const log = logWith([1, 2, 2]);
    assert.equal(log.isUpToDate(3, 2), true);
    assert.equal(log.isUpToDate(2, 2), false);
    assert.equal(log.isUpToDate(1, 3), true);
    assert.equal(log.isUpToDate(9, 1), false);
  });
});

describe('MemoryRaftStorage', () => {
  it('saves, truncates conflicting suffixes, compacts and restores snapshots', () => {
    const st = new MemoryRaftStorage();
    st.save({ entries: ents(1, [1, 1, 1, 1]), hardState: { term: 1, vote: 2, commit: 2 } });
    st.save({ entries: ents(3, [2]) });
    assert.equal(st.lastIndex(), 3);
    assert.equal(st.term(3), 2);
    st.compact(2, b('snap'), [1, 2, 3], []);
    assert.equal(st.firstIndex(), 3);
    assert.equal(st.term(2), 1);
    assert.equal(st.term(1), undefined);
    assert.deepEqual(st.snapshot()!.meta, { index: 2, term: 1, voters: [1, 2, 3], learners: [] });
    st.save({ snapshot: { meta: { index: 10, term: 5, voters: [1], learners: [] }, data: b('s2') } });
    assert.equal(st.firstIndex(), 11);
    assert.equal(st.lastIndex(), 10);
    assert.equal(st.term(10), 5);
    assert.deepEqual(st.hardState(), { term: 1, vote: 2, commit: 2 });
  });

  it('limits entries by bytes but returns at least one', () => {
    const st = new MemoryRaftStorage();
    st.save({ entries: [ent(1, 1, 'aaaa'), ent(2, 1, 'bbbb'), ent(3, 1, 'cccc')] });
    assert.equal(st.entries(1, 4, 8).length, 2);
    assert.equal(st.entries(1, 4, 1).length, 1);
    assert.equal(st.entries(1, 4).length, 3);
  });
});

describe('SeededRandom', () => {
  it('is deterministic per seed and stays in range', () => {
    const a = new SeededRandom(42);
    const c = new SeededRandom(42);
    const d = new SeededRandom(43);
    const xs = Array.from({ length: 50 }, () => a.nextInt(10));
    assert.deepEqual(xs, Array.from({ length: 50 }, () => c.nextInt(10)));
    assert.notDeepEqual(xs, Array.from({ length: 50 }, () => d.nextInt(10)));
    assert.ok(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 10));
    assert.throws(() => a.nextInt(0), AssertionError);
  });
});

describe('RaftConfig validation', () => {
  const ok: RaftConfig = { ...baseConfig, id: 1 };
  const bad: Array<[string, Partial<RaftConfig>]> = [
    ['id 0', { id: 0 }],
    ['heartbeat 0', { heartbeatTicks: 0 }],
    ['election <= heartbeat', { electionTicks: 1, heartbeatTicks: 1 }],
    ['maxMsgBytes 0', { maxMsgBytes: 0 }],
    ['maxInflightMsgs 0', { maxInflightMsgs: 0 }],
    ['maxInflightBytes below maxMsgBytes', { maxInflightBytes: 10, maxMsgBytes: 100 }],
  ];
  it('accepts a valid config', () => assert.equal(validateRaftConfig(ok), undefined));
  for (const [name, patch] of bad) {
    it(`rejects ${name}`, () => {
      assert.equal(typeof validateRaftConfig({ ...ok, ...patch }), 'string');
      assert.throws(() => new RawNode({ ...ok, ...patch }, new MemoryRaftStorage(), new SeededRandom(1)), AssertionError);
    });
  }
});

describe('RawNode Ready contract', () => {
  it('one Ready at a time; hasReady is false while it is outstanding', () => {
    const st = new MemoryRaftStorage();
    const n = new RawNode({ ...baseConfig, id: 1 }, st, new SeededRandom(1));
    n.bootstrap([{ id: 1 }, { id: 2 }]);
    assert.equal(n.hasReady(), true);
    const rd = n.ready();
    assert.equal(n.hasReady(), false);
    assert.throws(() => n.ready(), AssertionError);
    // Stepping between ready() and advance() is allowed; its output waits for the next Ready.
    n.step(message({ type: MessageType.Heartbeat, from: 2, to: 1, term: 1, commit: 0 }));
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    assert.equal(n.hasReady(), true);
    const rd2 = n.ready();
    assert.equal(rd2.entries.length, 0);
    assert.deepEqual(rd2.messages.map((m) => m.type), [MessageType.HeartbeatResp]);
    assert.equal(rd2.softState?.lead, 2);
    n.advance(rd2);
    assert.equal(n.hasReady(), false);
  });

  it('refuses local message types from the network', () => {
    const n = new RawNode({ ...baseConfig, id: 1 }, new MemoryRaftStorage(), new SeededRandom(1));
    n.bootstrap([{ id: 1 }]);
    for (const t of [MessageType.Hup, MessageType.Beat, MessageType.CheckQuorum, MessageType.Unreachable, MessageType.SnapStatus]) {
      assert.equal(n.step(message({ type: t, from: 2, to: 1 })), false);
    }
    // Only forwarded requests may come without a term.
    assert.equal(n.step(message({ type: MessageType.App, from: 2, to: 1 })), false);
  });

  it('fault (a) omits the vote from the hard state it asks to persist', () => {
    const st = new MemoryRaftStorage();
    const n = new RawNode({ ...baseConfig, id: 1, faults: { forgetVote: true } }, st, new SeededRandom(1));
    n.bootstrap([{ id: 1 }, { id: 2 }, { id: 3 }]);
    const rd = n.ready();
    st.save({ entries: rd.entries, hardState: rd.hardState });
    n.advance(rd);
    n.campaign();
    assert.deepEqual(n.ready().hardState, { term: 2, vote: 0, commit: 3 });
  });
});
