// Watch benchmarks against the real server binary (one member, LMDB, fsync on), load and
// watchers in this process through the TypeScript client over tcp:
//
// 1. Fan-out: 10,000 watchers on one prefix, spread over a few connections (one Client each),
//    and 2,000 puts on that prefix (16 in flight). Reports the events delivered per second
//    (watchers × puts / time from the first put to the last delivery), the put-to-delivery
//    delay (p50/p99, sampled on every 10th watcher: delivery time minus the moment the put
//    was sent, carried in the value), the server's CPU per delivered event, and that every
//    watcher got every event exactly once.
// 2. Idle watchers: the server's RSS before and after creating 100,000 watchers on distinct
//    keys (over the same few connections), and the growth per watcher.
//
// Server CPU is read from /proc/<pid>/stat, RSS from /proc/<pid>/status. Results are appended
// to bench/RESULTS.md. Options (env): BENCH_WATCHERS (default 10000), BENCH_PUTS (2000),
// BENCH_CONNECTIONS (4), BENCH_IDLE_WATCHERS (100000), BENCH_NO_WRITE=1 (print only).
import { commit, cpuSeconds, machine, percentile, rssBytes } from './common.js';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { Client } from '../src/client/client.js';
import { ROOT, startServer, type ServerProcess } from '../test/e2e/harness.js';

const WATCHERS = Number(process.env['BENCH_WATCHERS'] ?? 10_000);
const PUTS = Number(process.env['BENCH_PUTS'] ?? 2_000);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 4);
const IDLE = Number(process.env['BENCH_IDLE_WATCHERS'] ?? 100_000);
const IN_FLIGHT = 16;
const SAMPLE_EVERY = 10;




async function until(cond: () => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

interface FanOut {
  watchers: number;
  puts: number;
  connections: number;
  seconds: number;
  eventsPerSec: number;
  p50ms: number;
  p99ms: number;
  maxMs: number;
  serverCpuUsPerEvent: number;
  complete: boolean;
}

async function fanOut(server: ServerProcess): Promise<FanOut> {
  const clients = Array.from({ length: CONNECTIONS }, () => new Client({ endpoints: [server.tcp], timeoutMs: 60_000 }));
  const writer = new Client({ endpoints: [server.tcp], timeoutMs: 60_000 });
  const subs: Subscription[] = [];
  try {
    const counts = new Uint32Array(WATCHERS);
    const samples = new Float64Array(Math.ceil(WATCHERS / SAMPLE_EVERY) * PUTS);
    let sampled = 0;
    let created = 0;
    let lastDelivery = 0;
    for (let i = 0; i < WATCHERS; i++) {
      const sampling = i % SAMPLE_EVERY === 0;
      subs.push(
        clients[i % CONNECTIONS]!.watch('fan/', { prefix: true }).subscribe((res) => {
          if (res.created) {
            created++;
            return;
          }
          const now = performance.now();
          lastDelivery = now;
          for (const e of res.events) {
            counts[i]!++;
            if (sampling) samples[sampled++] = now - Number(Buffer.from(e.kv.value).toString());
          }
        }),
      );
    }
    await until(() => created === WATCHERS, 'fan-out watchers created', 120_000);
    log(`fan-out: ${WATCHERS} watchers created; ${PUTS} puts`);
    const cpu0 = cpuSeconds(server.proc.pid!);
    const t0 = performance.now();
    let next = 0;
    const loop = async (): Promise<void> => {
      while (next < PUTS) {
        const i = next++;
        await writer.put({ key: Buffer.from(`fan/${i % 100}`), value: Buffer.from(String(performance.now())) });
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
    let complete = true;
    try {
      await until(() => counts.every((c) => c >= PUTS), 'every event delivered', 300_000);
    } catch {
      complete = false;
    }
    const seconds = (lastDelivery - t0) / 1000;
    const cpu = cpuSeconds(server.proc.pid!) - cpu0;
    const delivered = counts.reduce((s, c) => s + c, 0);
    const exact = counts.every((c) => c === PUTS);
    const sorted = samples.subarray(0, sampled).sort();
    return {
      watchers: WATCHERS,
      puts: PUTS,
      connections: CONNECTIONS,
      seconds,
      eventsPerSec: delivered / seconds,
      p50ms: percentile(sorted, 50),
      p99ms: percentile(sorted, 99),
      maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
      serverCpuUsPerEvent: (cpu / delivered) * 1e6,
      complete: complete && exact,
    };
  } finally {
    for (const s of subs) s.unsubscribe();
    await Promise.all([...clients, writer].map((c) => c.close()));
  }
}

interface IdleRss {
  watchers: number;
  before: number;
  after: number;
}

async function idleRss(server: ServerProcess): Promise<IdleRss> {
  const clients = Array.from({ length: CONNECTIONS }, () => new Client({ endpoints: [server.tcp], timeoutMs: 60_000 }));
  const subs: Subscription[] = [];
  try {
    await clients[0]!.put({ key: Buffer.from('warmup'), value: Buffer.from('x') });
    const before = rssBytes(server.proc.pid!);
    let created = 0;
    for (let i = 0; i < IDLE; i++) {
      subs.push(
        clients[i % CONNECTIONS]!.watch(`idle/${String(i).padStart(8, '0')}`).subscribe((res) => {
          if (res.created) created++;
        }),
      );
      if (i % 10_000 === 9_999) await until(() => created > i - 5_000, 'idle watchers created', 120_000);
    }
    await until(() => created === IDLE, 'idle watchers created', 300_000);
    // Let the server settle (GC) before reading its RSS.
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssBytes(server.proc.pid!);
    return { watchers: IDLE, before, after };
  } finally {
    for (const s of subs) s.unsubscribe();
    await Promise.all(clients.map((c) => c.close()));
  }
}



async function main(): Promise<void> {
  let server = await startServer({ driver: 'lmdb' });
  let f: FanOut;
  try {
    f = await fanOut(server);
  } finally {
    await server.stop();
  }
  server = await startServer({ driver: 'lmdb' });
  let r: IdleRss;
  try {
    log(`idle: creating ${IDLE} watchers`);
    r = await idleRss(server);
  } finally {
    await server.stop();
  }
  const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
  const lines = [
    '',
    `## ${new Date().toISOString().slice(0, 10)} · commit ${commit()} · \`npm run bench:watch\``,
    '',
    `Machine: ${machine()}. Server: the real binary, one member, LMDB, fsync on; watchers and`,
    `writer in one Node process on the same machine (the two share the cores), over tcp.`,
    '',
    `Fan-out: ${f.watchers} watchers on one prefix over ${f.connections} connections, ${f.puts} puts`,
    `(${IN_FLIGHT} in flight). Delay = delivery − put sent, sampled on every ${SAMPLE_EVERY}th watcher.`,
    '',
    '| watchers | puts | events/s | p50 delay ms | p99 delay ms | max ms | server CPU µs/event | all delivered once |',
    '|---:|---:|---:|---:|---:|---:|---:|---|',
    `| ${f.watchers} | ${f.puts} | ${Math.round(f.eventsPerSec)} | ${f.p50ms.toFixed(1)} | ${f.p99ms.toFixed(1)} | ${f.maxMs.toFixed(1)} | ${f.serverCpuUsPerEvent.toFixed(2)} | ${f.complete ? 'yes' : 'NO'} |`,
    '',
    `Idle watchers on distinct keys, over ${CONNECTIONS} connections:`,
    '',
    '| watchers | RSS before MB | RSS after MB | growth MB | bytes per watcher |',
    '|---:|---:|---:|---:|---:|',
    `| ${r.watchers} | ${mb(r.before)} | ${mb(r.after)} | ${mb(r.after - r.before)} | ${Math.round((r.after - r.before) / r.watchers)} |`,
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
