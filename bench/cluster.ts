// `npm run bench:cluster` (and part of `npm run bench`): a three-member cluster of real server
// processes on loopback (LMDB, fsync on, heartbeat 100 ms, election 1000 ms as etcd's
// defaults): put throughput and p50/p99 with 256 in flight, linearizable and serializable
// range throughput (64 in flight), server CPU per operation summed over all members, and
// failover time (kill -9 of the leader to the first successful put), median of 5.
//
// Env: BENCH_SECONDS (default 3), BENCH_FAILOVERS (default 5), BENCH_NO_WRITE=1.
import { commit as commitHash, cpuSeconds, machine } from './common.js';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Client } from '../src/client/client.js';
import { Cluster } from '../test/e2e/cluster-harness.js';
import { ROOT } from '../test/e2e/harness.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const FAILOVERS = Number(process.env['BENCH_FAILOVERS'] ?? 5);
const VALUE = Buffer.alloc(256, 0x61);


function clusterCpu(c: Cluster): number {
  return c.members.reduce((sum, m) => sum + (m.server ? cpuSeconds(m.server.proc.pid!) : 0), 0);
}

const pct = (s: Float64Array, p: number): number => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

interface Row {
  workload: string;
  ops: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  cpuUs: number;
}

async function load(c: Cluster, name: string, inFlight: number, op: (cl: Client, i: number) => Promise<unknown>, clients: Client[]): Promise<Row> {
  const lat: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  const cpu0 = clusterCpu(c);
  const t0 = performance.now();
  let n = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      const cl = clients[w % clients.length]!;
      while (performance.now() < deadline) {
        const s = performance.now();
        await op(cl, n++);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(lat).sort();
  return { workload: name, ops: lat.length, opsPerSec: lat.length / secs, p50: pct(sorted, 50), p99: pct(sorted, 99), cpuUs: ((clusterCpu(c) - cpu0) / lat.length) * 1e6 };
}

async function main(): Promise<void> {
  // noTTYOutput: progress lines also when stderr is a file or a CI log (every 5 s).
  const bar = new cliProgress.SingleBar({ format: '{bar} {value}/{total} | {task}', noTTYOutput: true, notTTYSchedule: 5000 }, cliProgress.Presets.shades_classic);
  bar.start(3 + FAILOVERS, 0, { task: 'starting three members' });
  const rows: Row[] = [];
  const failovers: number[] = [];
  let c = await Cluster.start({ driver: 'lmdb', heartbeatMs: 100, electionMs: 1000 });
  try {
    const leader = await c.leader();
    // 16 connections to the leader, as clients that found it would use.
    const toLeader = Array.from({ length: 16 }, () => new Client({ endpoints: [c.members[leader]!.server!.tcp], timeoutMs: 30_000 }));
    const toAll = Array.from({ length: 16 }, (_, i) => new Client({ endpoints: [c.members[i % 3]!.server!.tcp], timeoutMs: 30_000 }));
    const keys = Array.from({ length: 1000 }, (_, i) => Buffer.from(`k${String(i).padStart(7, '0')}`));
    bar.update({ task: 'put, 256 in flight' });
    rows.push(await load(c, 'put, 256 in flight, 16 connections to the leader', 256, (cl, i) => cl.put({ key: keys[i % 1000]!, value: VALUE }), toLeader));
    bar.increment();
    bar.update({ task: 'linearizable range' });
    rows.push(await load(c, 'range one key, linearizable, 64 in flight over all members', 64, (cl, i) => cl.range({ key: keys[i % 1000]! }), toAll));
    bar.increment();
    bar.update({ task: 'serializable range' });
    rows.push(await load(c, 'range one key, serializable, 64 in flight over all members', 64, (cl, i) => cl.range({ key: keys[i % 1000]!, serializable: true }), toAll));
    bar.increment();
    for (const cl of [...toLeader, ...toAll]) await cl.close();
  } finally {
    await c.stop();
  }
  for (let f = 0; f < FAILOVERS; f++) {
    bar.update({ task: `failover ${f + 1}/${FAILOVERS}` });
    c = await Cluster.start({ driver: 'lmdb', heartbeatMs: 100, electionMs: 1000 });
    try {
      const leader = await c.leader();
      const others = [0, 1, 2].filter((i) => i !== leader);
      const cl = new Client({ endpoints: others.map((i) => c.members[i]!.server!.tcp), timeoutMs: 1000 });
      await cl.put({ key: Buffer.from('warm'), value: VALUE });
      const t0 = performance.now();
      await c.members[leader]!.server!.kill();
      c.members[leader]!.server = undefined;
      for (;;) {
        try {
          await cl.put({ key: Buffer.from('after'), value: VALUE });
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      failovers.push(performance.now() - t0);
      await cl.close();
    } finally {
      await c.stop();
    }
    bar.increment();
  }
  bar.stop();
  const sortedF = [...failovers].sort((a, b) => a - b);
  const commit = commitHash();
  const text = [
    '',
    `## ${new Date().toISOString().slice(0, 10)} · commit ${commit} · \`npm run bench:cluster\``,
    '',
    `Machine: ${machine()}. Three members (real`,
    'processes, LMDB, fsync on, peers over tcp, heartbeat 100 ms, election 1000 ms) and the load',
    `generator share the 2 cores. ${SECONDS} s per workload. CPU = all three members' utime+stime / ops.`,
    '',
    '| workload | ops/s | p50 ms | p99 ms | cluster CPU µs/op |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.workload} | ${Math.round(r.opsPerSec)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuUs.toFixed(1)} |`),
    '',
    `Failover, kill -9 of the leader to the first successful put (client retrying every 5 ms on the`,
    `two survivors): median ${sortedF[Math.floor(sortedF.length / 2)]?.toFixed(0)} ms over ${failovers.length} runs (${failovers.map((x) => x.toFixed(0)).join(', ')} ms).`,
    '',
  ].join('\n');
  process.stdout.write(text + '\n');
  if (process.env['BENCH_NO_WRITE'] !== '1') appendFileSync(join(ROOT, 'bench', 'RESULTS.md'), text);
  process.exit(0);
}

await main();
