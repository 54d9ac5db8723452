// `npm run bench`: put and range throughput with p50/p99 latency over ws and tcp, with 1 and
// 256 requests in flight, for each driver; and the server's RSS after 100,000 keys of 256-byte
// values. The server runs as its own process (the real binary); the load comes from this one
// over the TypeScript client. Server CPU per operation is read from /proc/<pid>/stat.
// Results are appended to bench/RESULTS.md with the machine, the date and the command.
//
// Options (env): BENCH_SECONDS (per workload, default 3), BENCH_DRIVERS (comma list),
// BENCH_TRANSPORTS, BENCH_KEYS (RSS test, default 100000), BENCH_NO_WRITE=1 (print only).
import { commit, cpuSeconds, machine, percentile, rssBytes } from './common.js';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Client } from '../src/client/client.js';
import { startServer, ROOT, type ServerProcess } from '../test/e2e/harness.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const DRIVERS = (process.env['BENCH_DRIVERS'] ?? 'lmdb,sqlite,memory').split(',') as ('lmdb' | 'sqlite' | 'memory')[];
const TRANSPORTS = (process.env['BENCH_TRANSPORTS'] ?? 'ws,tcp').split(',') as ('ws' | 'tcp')[];
const RSS_KEYS = Number(process.env['BENCH_KEYS'] ?? 100_000);
const VALUE = Buffer.alloc(256, 0x61);




interface Row {
  driver: string;
  transport: string;
  op: string;
  inFlight: number;
  ops: number;
  opsPerSec: number;
  p50ms: number;
  p99ms: number;
  serverCpuUsPerOp: number;
}

const bar = new cliProgress.SingleBar(
  // noTTYOutput: progress lines also when stderr is a file or a CI log (every 5 s).
  { format: '{bar} {percentage}% | {value}/{total} workloads | {task}', hideCursor: true, noTTYOutput: true, notTTYSchedule: 5000 },
  cliProgress.Presets.shades_classic,
);

async function workload(
  server: ServerProcess,
  client: Client,
  meta: { driver: string; transport: string },
  op: 'put' | 'range',
  inFlight: number,
): Promise<Row> {
  const keys = Array.from({ length: 1000 }, (_, i) => Buffer.from(`key${String(i).padStart(5, '0')}`));
  if (op === 'range') await Promise.all(keys.map((key) => client.put({ key, value: VALUE })));
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  const cpu0 = cpuSeconds(server.proc.pid!);
  const t0 = performance.now();
  let i = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const key = keys[i++ % keys.length]!;
      const s = performance.now();
      if (op === 'put') await client.put({ key, value: VALUE });
      else await client.range({ key });
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server.proc.pid!) - cpu0;
  const sorted = Float64Array.from(latencies).sort();
  return {
    ...meta,
    op,
    inFlight,
    ops: latencies.length,
    opsPerSec: latencies.length / elapsed,
    p50ms: percentile(sorted, 50),
    p99ms: percentile(sorted, 99),
    serverCpuUsPerOp: (cpu / latencies.length) * 1e6,
  };
}

async function rssAfterKeys(driver: 'lmdb' | 'sqlite' | 'memory'): Promise<{ driver: string; before: number; after: number; dbBytes: number }> {
  const server = await startServer({ driver });
  const client = new Client({ endpoints: [server.tcp] });
  try {
    await client.put({ key: Buffer.from('warmup'), value: VALUE });
    const before = rssBytes(server.proc.pid!);
    let next = 0;
    const loop = async (): Promise<void> => {
      while (next < RSS_KEYS) {
        const i = next++;
        await client.put({ key: Buffer.from(`rss/${String(i).padStart(8, '0')}`), value: VALUE });
        if (i % 5000 === 0) bar.update({ task: `${driver}: RSS, ${i} keys written` });
      }
    };
    await Promise.all(Array.from({ length: 256 }, loop));
    const status = await client.status();
    return { driver, before, after: rssBytes(server.proc.pid!), dbBytes: status.dbSize };
  } finally {
    await client.close();
    await server.stop();
  }
}



async function main(): Promise<void> {
  const rows: Row[] = [];
  const total = DRIVERS.length * TRANSPORTS.length * 4 + DRIVERS.length;
  bar.start(total, 0, { task: 'starting' });
  for (const driver of DRIVERS) {
    const server = await startServer({ driver });
    try {
      for (const transport of TRANSPORTS) {
        const client = new Client({ endpoints: [transport === 'ws' ? server.ws : server.tcp], timeoutMs: 30_000 });
        try {
          for (const op of ['put', 'range'] as const) {
            for (const inFlight of [1, 256]) {
              bar.update({ task: `${driver} ${transport} ${op} ×${inFlight}` });
              rows.push(await workload(server, client, { driver, transport }, op, inFlight));
              bar.increment();
            }
          }
        } finally {
          await client.close();
        }
      }
    } finally {
      await server.stop();
    }
  }
  const rss: Awaited<ReturnType<typeof rssAfterKeys>>[] = [];
  for (const driver of DRIVERS) {
    bar.update({ task: `${driver}: RSS after ${RSS_KEYS} keys` });
    rss.push(await rssAfterKeys(driver));
    bar.increment();
  }
  bar.stop();

  const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
  const lines = [
    '',
    `## ${new Date().toISOString().slice(0, 10)} · commit ${commit()} · \`npm run bench\``,
    '',
    `Machine: ${machine()}. Server: the real binary, one member, fsync on; load from one Node`,
    `process on the same machine (the two share the 2 cores) through the TypeScript client,`,
    `one connection per transport. ${SECONDS} s per workload; 8-byte-ish keys, 256-byte values.`,
    'Server CPU per op = (utime + stime of the server process) / ops.',
    '',
    '| driver | transport | op | in flight | ops/s | p50 ms | p99 ms | server CPU µs/op |',
    '|---|---|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.driver} | ${r.transport} | ${r.op} | ${r.inFlight} | ${Math.round(r.opsPerSec)} | ${r.p50ms.toFixed(3)} | ${r.p99ms.toFixed(3)} | ${r.serverCpuUsPerOp.toFixed(1)} |`,
    ),
    '',
    `RSS after ${RSS_KEYS} keys × 256 B (256 in flight over tcp):`,
    '',
    '| driver | RSS before MB | RSS after MB | growth MB | db size MB |',
    '|---|---:|---:|---:|---:|',
    ...rss.map((r) => `| ${r.driver} | ${mb(r.before)} | ${mb(r.after)} | ${mb(r.after - r.before)} | ${mb(r.dbBytes)} |`),
    '',
  ];
  const text = lines.join('\n');
  process.stdout.write(text + '\n');
  if (process.env['BENCH_NO_WRITE'] !== '1') {
    const file = join(ROOT, 'bench', 'RESULTS.md');
    if (!existsSync(file)) writeFileSync(file, '# Benchmark results\n\nNewest last. Each section says how it was produced.\n');
    appendFileSync(file, text);
    process.stdout.write(`appended to ${file}\n`);
  }
  process.exit(0);
}

await main();
