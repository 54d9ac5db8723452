// Command-line runner for the raft simulation: sweeps seeds or replays one with its trace.
//
//   node dist/test/sim/run-raft-sim.js --seeds 2000 [--nodes 5] [--steps 3000]
//   node dist/test/sim/run-raft-sim.js --seed 42 --nodes 3 --steps 10000 --trace
//   ... --fault forgetVote|countSelfBeforePersist|commitEarlierTerm|unconfirmedReadIndex|sendBeforePersist
//   ... --no-membership --no-protocol-checks --check-quorum true|false --parallel-append true|false
//   ... --first 1000 (first seed of a sweep)
import type { RaftFaults } from '../../src/core/raft/config.js';
import { reproCommand, runRaftSim } from './raft-sim.js';
import type { SimOptions } from './raft-sim.js';

function parse(argv: readonly string[]): { base: Omit<SimOptions, 'seed'>; seeds: number[]; trace: boolean; both: boolean } {
  let seeds = 100;
  let first = 1;
  let seed: number | undefined;
  let nodes: number | undefined;
  let steps = 10000;
  let trace = false;
  let membership = true;
  let protocolChecks = true;
  let checkQuorum: boolean | undefined;
  let parallelAppend: boolean | undefined;
  const faults: Record<string, boolean> = {};
  let sendBeforePersist = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') seeds = Number(next());
    else if (a === '--first') first = Number(next());
    else if (a === '--seed') seed = Number(next());
    else if (a === '--nodes') nodes = Number(next());
    else if (a === '--steps') steps = Number(next());
    else if (a === '--trace') trace = true;
    else if (a === '--no-membership') membership = false;
    else if (a === '--no-protocol-checks') protocolChecks = false;
    else if (a === '--check-quorum') checkQuorum = next() === 'true';
    else if (a === '--parallel-append') parallelAppend = next() === 'true';
    else if (a === '--fault') {
      const f = next();
      if (f === 'sendBeforePersist') sendBeforePersist = true;
      else faults[f] = true;
    } else throw new Error(`unknown argument ${a}`);
  }
  const list = seed !== undefined ? [seed] : Array.from({ length: seeds }, (_, i) => first + i);
  const base: Omit<SimOptions, 'seed'> = {
    nodes: nodes ?? 3,
    steps,
    membership,
    protocolChecks,
    checkQuorum,
    parallelAppend,
    faults: faults as RaftFaults,
    hostFaults: { sendBeforePersist },
    keepTrace: trace,
  };
  return { base, seeds: list, trace, both: nodes === undefined && seed === undefined };
}

const { base, seeds, trace, both } = parse(process.argv.slice(2));
let failures = 0;
const started = Date.now();
for (const seed of seeds) {
  for (const nodes of both ? [3, 5] : [base.nodes]) {
    const opts = { ...base, nodes, seed };
    const r = runRaftSim(opts);
    if (trace) for (const line of r.trace) console.log(line);
    if (seeds.length === 1) console.log(`seed ${seed} nodes ${nodes}: trace ${r.traceHash} steps ${r.steps} ${JSON.stringify(r.stats)}`);
    if (r.violation !== undefined) {
      failures++;
      console.log(`FAIL seed ${seed} nodes ${nodes}: ${r.violation}\n  reproduce: ${reproCommand(opts)} --trace`);
    }
  }
}
console.log(`${seeds.length} seed(s), ${failures} failure(s), ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failures === 0 ? 0 : 1);
