// Lease benchmarks against the real server binary (one member, LMDB, fsync on), load from
// this process through the TypeScript client over tcp:
//
// 1. 10,000 leases kept alive from one client: every lease renews a third of its TTL after
//    each answer (Lease.keepAlive()), all over the client's one keep-alive stream. Reports the
//    keep-alive latency (answer time minus the moment the renewal was due), the renewals per
//    second, the server's CPU per renewal and as a share of one core, and that no lease was
//    lost.
// 2. Revoking one lease with 100,000 attached keys: the time of the revoke call, the server CPU
//    it took, and what a watcher of the keys received (it must be ONE response with 100,000
//    DELETE events, all at one revision).
//
// Server CPU is read from /proc/<pid>/stat. Results are appended to bench/RESULTS.md.
// Options (env): BENCH_LEASES (default 10000), BENCH_LEASE_TTL (s, default 6), BENCH_SECONDS
// (keep-alive phase, default 10), BENCH_REVOKE_KEYS (default 100000), BENCH_NO_WRITE=1.
import { commit, cpuSeconds, machine, percentile } from './common.js';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type Lease } from '../src/client/client.js';
import type { WatchResponse } from '../src/core/api/watch.js';
import { ROOT, startServer } from '../test/e2e/harness.js';

const LEASES = Number(process.env['BENCH_LEASES'] ?? 10_000);
const TTL = Number(process.env['BENCH_LEASE_TTL'] ?? 6);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const REVOKE_KEYS = Number(process.env['BENCH_REVOKE_KEYS'] ?? 100_000);



/** Runs `f(i)` for i in [0, n) with `inFlight` at a time. */
async function pool(n: number, inFlight: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await f(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

interface KeepAliveResult {
  grantsPerSec: number;
  renewals: number;
  renewalsPerSec: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  cpuUsPerRenewal: number;
  cpuShare: number;
  lost: number;
  leasesAfter: number;
}

async function keepAliveBench(): Promise<KeepAliveResult> {
  const server = await startServer({ driver: 'lmdb' });
  const client = new Client({ endpoints: [server.tcp], timeoutMs: 30_000 });
  try {
    const leases: Lease[] = new Array(LEASES);
    const g0 = performance.now();
    await pool(LEASES, 256, async (i) => {
      leases[i] = await client.grant(TTL);
    });
    const grantsPerSec = LEASES / ((performance.now() - g0) / 1000);
    process.stdout.write(`granted ${LEASES} leases (${Math.round(grantsPerSec)}/s)\n`);

    const periodMs = (TTL * 1000) / 3;
    const latencies: number[] = [];
    let lost = 0;
    let measuring = false;
    // Subscriptions are spread over one period, as leases granted at different times would be;
    // then every lease renews once per period, evenly spread.
    const subs: { unsubscribe(): void }[] = [];
    leases.forEach((lease, i) =>
      setTimeout(() => {
        let due = performance.now(); // the first renewal is sent at subscription
        subs.push(
          lease.keepAlive().subscribe({
            next: () => {
              const now = performance.now();
              if (measuring) latencies.push(now - due);
              due = now + periodMs;
            },
            error: () => lost++,
          }),
        );
      }, (i * periodMs) / LEASES),
    );
    // Warm up: one period to subscribe them all, one more to settle; then measure.
    await new Promise((r) => setTimeout(r, 2 * periodMs));
    const cpu0 = cpuSeconds(server.proc.pid!);
    const t0 = performance.now();
    measuring = true;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(server.proc.pid!) - cpu0;
    for (const s of subs) s.unsubscribe();
    const leasesAfter = (await client.leaseLeases()).leases.length;
    const sorted = Float64Array.from(latencies).sort();
    return {
      grantsPerSec,
      renewals: latencies.length,
      renewalsPerSec: latencies.length / elapsed,
      p50ms: percentile(sorted, 50),
      p99ms: percentile(sorted, 99),
      maxms: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
      cpuUsPerRenewal: (cpu / Math.max(1, latencies.length)) * 1e6,
      cpuShare: cpu / elapsed,
      lost,
      leasesAfter,
    };
  } finally {
    await client.close();
    await server.stop();
  }
}

interface RevokeResult {
  putsPerSec: number;
  revokeMs: number;
  cpuMs: number;
  watchResponses: number;
  deleteEvents: number;
  revisions: number;
  watchMs: number;
}

async function revokeBench(): Promise<RevokeResult> {
  const server = await startServer({ driver: 'lmdb' });
  const client = new Client({ endpoints: [server.tcp], timeoutMs: 120_000, maxResponseBytes: 1 << 30 });
  try {
    const lease = await client.grant(3600);
    const p0 = performance.now();
    await pool(REVOKE_KEYS, 256, async (i) => {
      await lease.put(`revoke/${String(i).padStart(7, '0')}`, 'v');
    });
    const putsPerSec = REVOKE_KEYS / ((performance.now() - p0) / 1000);
    process.stdout.write(`attached ${REVOKE_KEYS} keys (${Math.round(putsPerSec)} puts/s)\n`);
    // A watcher of the keys: all the deletes of the revoke must reach it as one response.
    const responses: WatchResponse[] = [];
    let deletes = 0;
    let allSeen!: () => void;
    const seen = new Promise<void>((r) => (allSeen = r));
    let created!: () => void;
    const isCreated = new Promise<void>((r) => (created = r));
    const sub = client.watch('revoke/', { prefix: true }).subscribe((r) => {
      if (r.created) created();
      if (r.events.length === 0) return;
      responses.push(r);
      deletes += r.events.length;
      if (deletes >= REVOKE_KEYS) allSeen();
    });
    await isCreated;
    const cpu0 = cpuSeconds(server.proc.pid!);
    const t0 = performance.now();
    await lease.revoke();
    const revokeMs = performance.now() - t0;
    await seen;
    const watchMs = performance.now() - t0;
    const cpuMs = (cpuSeconds(server.proc.pid!) - cpu0) * 1000;
    await new Promise((r) => setTimeout(r, 500)); // anything more would show up here
    sub.unsubscribe();
    const events = responses.flatMap((r) => r.events);
    return {
      putsPerSec,
      revokeMs,
      cpuMs,
      watchResponses: responses.length,
      deleteEvents: events.filter((e) => e.type === 1).length,
      revisions: new Set(events.map((e) => e.kv.modRevision)).size,
      watchMs,
    };
  } finally {
    await client.close();
    await server.stop();
  }
}



async function main(): Promise<void> {
  const ka = await keepAliveBench();
  const rv = await revokeBench();
  const lines = [
    '',
    `## ${new Date().toISOString().slice(0, 10)} · commit ${commit()} · leases (\`node dist/bench/lease.js\`)`,
    '',
    `Machine: ${machine()}. Server: the real binary, one member, LMDB, fsync on; load from one`,
    'Node process on the same machine through the TypeScript client over one tcp connection.',
    '',
    `Keep-alive: ${LEASES} leases of TTL ${TTL} s, each renewed a third of its TTL after each answer`,
    `(Lease.keepAlive()), all on the client's one keep-alive stream, subscriptions spread over one`,
    `period; ${SECONDS} s measured after two periods of warm-up. Latency = answer time − the moment`,
    'the renewal was due (client timer lag included). Server CPU = utime + stime of the server',
    'process over the measured window.',
    '',
    '| leases | grants/s | renewals/s | p50 ms | p99 ms | max ms | server CPU µs/renewal | server CPU % of a core | lost | leases after |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${LEASES} | ${Math.round(ka.grantsPerSec)} | ${Math.round(ka.renewalsPerSec)} | ${ka.p50ms.toFixed(3)} | ${ka.p99ms.toFixed(3)} | ${ka.maxms.toFixed(1)} | ${ka.cpuUsPerRenewal.toFixed(1)} | ${(ka.cpuShare * 100).toFixed(1)} | ${ka.lost} | ${ka.leasesAfter} |`,
    '',
    `Revoke: one lease with ${REVOKE_KEYS} attached keys (attached at ${Math.round(rv.putsPerSec)} puts/s, 256 in flight);`,
    'one watcher on their prefix. Revoke time = the LeaseRevoke call as the client sees it.',
    '',
    '| keys | revoke ms | server CPU ms | watch responses | DELETE events | revisions | until the watcher had them, ms |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    `| ${REVOKE_KEYS} | ${rv.revokeMs.toFixed(0)} | ${rv.cpuMs.toFixed(0)} | ${rv.watchResponses} | ${rv.deleteEvents} | ${rv.revisions} | ${rv.watchMs.toFixed(0)} |`,
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
