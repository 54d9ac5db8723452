// Runs the full-stack deterministic simulation (kv-sim.ts): 3- and 5-member clusters running
// the real raft core, applier and MVCC store on the memory backend, under drops, duplicates,
// delays, reordering, partitions (both ways and one way), crash-restarts that lose unsaved raft
// state, leader transfers and membership changes, with clients doing get / put / delete / CAS.
// Every raft-level and key-space invariant is checked after every step; at the end the
// clients' history must be linearizable and every acknowledged write present everywhere.
// Then it shows that deliberately broken variants are caught within a bounded number of seeds.
//
// SIM_SEEDS=<n> sweeps more seeds (default 300: odd seeds run 3 members, even seeds 5);
// SEED=<s> runs one seed. A failing seed prints the one-line command that replays it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KvSimOptions } from './kv-sim.js';
import { KvSim, kvReproCommand, kvSimDefaults, runKvSim } from './kv-sim.js';

const SEEDS = Number(process.env['SIM_SEEDS'] ?? 300);
const ONLY = process.env['SEED'] === undefined ? undefined : Number(process.env['SEED']);

function seeds(): number[] {
  if (ONLY !== undefined) return [ONLY];
  return Array.from({ length: SEEDS }, (_, i) => i + 1);
}

/** The first line of a violation (linearizability failures carry an explanation below it). */
function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

describe('full-stack simulation', () => {
  it(`every invariant holds and every history is linearizable on ${ONLY === undefined ? `${SEEDS} seeds` : `seed ${ONLY}`}`, (t) => {
    const failures: string[] = [];
    const total: Record<string, number> = {};
    let three = 0;
    for (const seed of seeds()) {
      const opts = kvSimDefaults(seed);
      if (opts.nodes === 3) three++;
      const r = runKvSim(opts);
      for (const [k, v] of Object.entries(r.stats)) total[k] = (total[k] ?? 0) + v;
      if (r.violation !== undefined) failures.push(`seed ${seed}: ${r.violation}\n  reproduce: ${kvReproCommand(opts)}`);
    }
    t.diagnostic(`${three} runs of 3 members, ${seeds().length - three} of 5`);
    t.diagnostic(`client operations checked: ${total['historyOps'] ?? 0} (${total['writesAcked'] ?? 0} acknowledged writes, ${total['writesUnknown'] ?? 0} of unknown outcome, ${total['readsAnswered'] ?? 0} reads)`);
    t.diagnostic(`key-space hashes compared: ${total['hashesCompared'] ?? 0}; crashes: ${total['crashes'] ?? 0}; snapshots applied: ${total['snapshotsApplied'] ?? 0}; restores of a stored snapshot on restart: ${total['restartsFromSnapshot'] ?? 0}`);
    assert.deepEqual(failures, []);
    if (ONLY === undefined) {
      // The sweep exercises what it claims to.
      for (const k of ['elections', 'crashes', 'partitions', 'oneWayCuts', 'dropped', 'duplicated', 'transfers', 'confChangesApplied', 'compactions', 'snapshotsApplied', 'historyCompactions', 'writesAcked', 'writesUnknown', 'readsAnswered', 'hashesCompared', 'ops.cas', 'ops.delete', 'restartsFromSnapshot']) {
        assert.ok((total[k] ?? 0) > 0, `no ${k} in the sweep`);
      }
    }
  });

  it('the same seed gives the same trace and history; another seed another', (t) => {
    const run = (seed: number) => {
      const sim = new KvSim(kvSimDefaults(seed));
      const r = sim.run();
      return { r, history: JSON.stringify(sim.clientHistory(), (_k, x: unknown) => (x === Infinity ? 'inf' : x)) };
    };
    const a = run(7);
    const b = run(7);
    const c = run(8);
    t.diagnostic(`seed 7 trace hash ${a.r.traceHash}, seed 8 trace hash ${c.r.traceHash}`);
    assert.equal(a.r.violation, undefined);
    assert.equal(a.r.traceHash, b.r.traceHash);
    assert.deepEqual(a.r.stats, b.r.stats);
    assert.equal(a.history, b.history);
    assert.notEqual(a.r.traceHash, c.r.traceHash);
  });
});

describe('full-stack simulation catches broken variants', () => {
  // Each case: the variant, the checks that judge, and a bound on the seeds to try (about three
  // times the first seed that catches it, so that unrelated changes to the simulation keep it
  // green). With the default checks the raft rules catch (a), (b) and (c) at once. The other
  // cases switch the rule checks off, so that only consequences can reveal the bug: two votes
  // in a term; the core's own refusal of a log that lost acknowledged entries ("commit beyond
  // the last index", a panic in etcd too); and, for (d), the clients' history alone: a deposed
  // leader (check-quorum off keeps it believing) serves reads that the linearizability
  // checker rejects. NB: (c) has no consequence-only case: its consequence needs the Figure 8
  // schedule, which random runs produce too rarely to bound (replication.test.ts builds it).
  const cases: Array<{ name: string; base: Omit<KvSimOptions, 'seed' | 'nodes' | 'steps'>; bound: number; want?: RegExp }> = [
    { name: '(a) vote not persisted', base: { faults: { forgetVote: true } }, bound: 5 },
    { name: '(a) vote not persisted, consequences only', base: { faults: { forgetVote: true }, protocolChecks: false }, bound: 60, want: /election safety/ },
    { name: '(b) leader counts its unpersisted entries', base: { faults: { countSelfBeforePersist: true } }, bound: 10 },
    { name: '(b, host) acknowledging before fsync: messages sent before the Ready is persisted', base: { hostFaults: { sendBeforePersist: true } }, bound: 5 },
    { name: '(b, host) acknowledging before fsync, raft checks off', base: { hostFaults: { sendBeforePersist: true }, raftChecks: false }, bound: 10, want: /beyond the last index/ },
    { name: '(c) earlier-term entry committed by counting replicas', base: { faults: { commitEarlierTerm: true } }, bound: 10 },
    { name: '(d) leader answers reads without confirming its quorum', base: { faults: { unconfirmedReadIndex: true } }, bound: 100 },
    {
      name: '(d) stale reads, found by the linearizability checker alone',
      base: { faults: { unconfirmedReadIndex: true }, raftChecks: false, checkQuorum: false, membership: false },
      bound: 60,
      want: /^linearizability: the history of key/,
    },
    {
      // Not one of the issue's four: a host that restarts over a backend behind its log's
      // snapshot, as raft-host.ts would after a crash between saving a snapshot from the leader
      // and restoring it (see kv-sim.ts). The window is rare; the key-space hash catches it.
      name: '(host) restart without restoring the saved snapshot',
      base: { kvFaults: { noSnapshotRecovery: true }, raftChecks: false },
      bound: 250,
      want: /^key-space hash differs/,
    },
  ];
  for (const tc of cases) {
    it(`${tc.name}: caught within ${tc.bound} seeds`, (t) => {
      let found: { opts: KvSimOptions; violation: string } | undefined;
      for (let seed = 1; seed <= tc.bound && found === undefined; seed++) {
        const opts: KvSimOptions = { ...kvSimDefaults(seed), ...tc.base };
        const r = runKvSim(opts);
        if (r.violation !== undefined) found = { opts, violation: r.violation };
      }
      assert.ok(found !== undefined, `${tc.name} was not caught in ${tc.bound} seeds`);
      t.diagnostic(`seed ${found.opts.seed}: ${firstLine(found.violation)}`);
      t.diagnostic(`reproduce: ${kvReproCommand(found.opts)}`);
      if (tc.want !== undefined) assert.match(found.violation, tc.want);
    });
  }
});
