// Command-line runner for the full-stack simulation (kv-sim.ts): sweeps seeds or replays one.
//
//   node dist/test/sim/run-kv-sim.js --seeds 300            seeds 1..300 (odd: 3 members, even: 5)
//   node dist/test/sim/run-kv-sim.js --seed 42 --trace      replay one seed with its trace
//   ... --first 1000 (first seed of a sweep) · --nodes 3|5 · --steps N · --clients N · --keys N
//   ... --fault forgetVote|countSelfBeforePersist|commitEarlierTerm|unconfirmedReadIndex
//               |sendBeforePersist|noSnapshotRecovery
//   ... --no-membership · --no-protocol-checks · --no-raft-checks (only the KV-level checks judge)
//   ... --check-quorum true|false · --pre-vote true|false · --parallel-append true|false
//
// SEED=<s> in the environment is the same as --seed <s>. One seed prints its trace hash, a
// sweep one hash over all its seeds' traces; the same seeds and options always print the same
// hash. A failing seed prints its stats, the violation and the one-line command that replays
// it. Exit status 1 when a seed fails.
import type { RaftFaults } from '../../src/core/raft/config.js';
import type { KvSimOptions } from './kv-sim.js';
import { kvReproCommand, kvSimDefaults, runKvSim } from './kv-sim.js';

interface Args {
  readonly seeds: number[];
  readonly trace: boolean;
  readonly make: (seed: number) => KvSimOptions;
}

function parse(argv: readonly string[]): Args {
  let count = 100;
  let first = 1;
  let seed: number | undefined = process.env['SEED'] === undefined ? undefined : Number(process.env['SEED']);
  let nodes: number | undefined;
  let steps: number | undefined;
  let clients: number | undefined;
  let keys: number | undefined;
  let trace = false;
  let membership = true;
  let protocolChecks = true;
  let raftChecks = true;
  let checkQuorum: boolean | undefined;
  let preVote: boolean | undefined;
  let parallelAppend: boolean | undefined;
  const bool = (a: string, v: string | undefined): boolean => {
    if (v !== 'true' && v !== 'false') throw new Error(`${a} needs true or false`);
    return v === 'true';
  };
  const faults: Record<string, boolean> = {};
  let sendBeforePersist = false;
  let noSnapshotRecovery = false;
  const num = (a: string, v: string | undefined): number => {
    const x = Number(v);
    if (v === undefined || !Number.isSafeInteger(x) || x < 0) throw new Error(`${a} needs a non-negative integer`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seeds') count = num(a, argv[++i]);
    else if (a === '--first') first = num(a, argv[++i]);
    else if (a === '--seed') seed = num(a, argv[++i]);
    else if (a === '--nodes') nodes = num(a, argv[++i]);
    else if (a === '--steps') steps = num(a, argv[++i]);
    else if (a === '--clients') clients = num(a, argv[++i]);
    else if (a === '--keys') keys = num(a, argv[++i]);
    else if (a === '--trace') trace = true;
    else if (a === '--no-membership') membership = false;
    else if (a === '--no-protocol-checks') protocolChecks = false;
    else if (a === '--no-raft-checks') raftChecks = false;
    else if (a === '--check-quorum') checkQuorum = bool(a, argv[++i]);
    else if (a === '--pre-vote') preVote = bool(a, argv[++i]);
    else if (a === '--parallel-append') parallelAppend = bool(a, argv[++i]);
    else if (a === '--fault') {
      const f = argv[++i];
      if (f === 'sendBeforePersist') sendBeforePersist = true;
      else if (f === 'noSnapshotRecovery') noSnapshotRecovery = true;
      else if (f === 'forgetVote' || f === 'countSelfBeforePersist' || f === 'commitEarlierTerm' || f === 'unconfirmedReadIndex') faults[f] = true;
      else throw new Error(`unknown fault ${f}`);
    } else throw new Error(`unknown argument ${a}`);
  }
  const seeds = seed !== undefined ? [seed] : Array.from({ length: count }, (_, i) => first + i);
  const make = (s: number): KvSimOptions => {
    const d = kvSimDefaults(s);
    return {
      ...d,
      nodes: nodes ?? d.nodes,
      steps: steps ?? d.steps,
      ...(clients !== undefined ? { clients } : {}),
      ...(keys !== undefined ? { keys } : {}),
      membership,
      protocolChecks,
      raftChecks,
      ...(checkQuorum !== undefined ? { checkQuorum } : {}),
      ...(preVote !== undefined ? { preVote } : {}),
      ...(parallelAppend !== undefined ? { parallelAppend } : {}),
      faults: faults as RaftFaults,
      hostFaults: { sendBeforePersist },
      kvFaults: { noSnapshotRecovery },
      keepTrace: trace,
    };
  };
  return { seeds, trace, make };
}

const { seeds, trace, make } = parse(process.argv.slice(2));
let failures = 0;
const started = Date.now();
// The trace hashes of a sweep folded into one, so two machines can compare whole sweeps.
let sweepHash = 0x811c9dc5;
for (const seed of seeds) {
  const opts = make(seed);
  const r = runKvSim(opts);
  for (const ch of r.traceHash) sweepHash = Math.imul(sweepHash ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  if (seeds.length > 1 && (seed - seeds[0]! + 1) % 500 === 0) console.log(`... ${seed - seeds[0]! + 1} seeds, ${failures} failure(s)`);
  if (trace) for (const line of r.trace) console.log(line);
  if (seeds.length === 1 || r.violation !== undefined) {
    console.log(`seed ${seed} nodes ${opts.nodes}: trace hash ${r.traceHash}, ${r.steps} steps, ${JSON.stringify(r.stats)}`);
  }
  if (r.violation !== undefined) {
    failures++;
    console.log(`FAIL seed ${seed}: ${r.violation}\n  reproduce: ${kvReproCommand(opts)}`);
  }
}
const hashNote = seeds.length > 1 ? `, sweep trace hash ${sweepHash.toString(16).padStart(8, '0')}` : '';
console.log(`${seeds.length} seed(s), ${failures} failure(s)${hashNote}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failures === 0 ? 0 : 1);
