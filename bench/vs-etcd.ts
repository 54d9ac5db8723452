// `npm run bench:vs-etcd`: etcetera and etcd 3.4 measured side by side on this machine, in
// one run. It installs what it needs when missing (Debian's etcd-server, Go and etcd's Go
// sources, with apt-get), builds the Go load generator (bench/go/src/etcbench) into dist/,
// starts each server as a real process on a fresh temp data dir with the same settings
// (heartbeat 100 ms, election 1000 ms, snapshot count 10,000, fsync on), runs every workload
// against etcd and etcetera (gRPC, tcp, optionally ws) in turn, run after run, and appends
// medians with their spread, ratios and the issue's targets to bench/RESULTS.md.
//
// Options: --quick (1 run, 1 s windows, 1 failover trial, 20k keys for RSS), --runs N,
// --failovers N, --seconds S, --only <id substrings>, --out FILE, --ws (also etcetera ws).
// Progress goes to stderr, the section also to stdout. The workloads and the report are in
// vs-etcd-report.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { commit, machine } from './common.js';
import { ROOT, startServer, tempDir } from '../test/e2e/harness.js';
import { freePorts } from '../test/e2e/cluster-harness.js';
import {
  formatNumber,
  metricValue,
  parseArgs,
  record,
  renderSection,
  selected,
  WORKLOADS,
  type Options,
  type Results,
  type Side,
  type Workload,
} from './vs-etcd-report.js';

const GOPATH_SYSTEM = '/usr/share/gocode';
const ETCD_PB = `${GOPATH_SYSTEM}/src/go.etcd.io/etcd/etcdserver/etcdserverpb`;
const WEBSOCKET = `${GOPATH_SYSTEM}/src/github.com/gorilla/websocket`;
const GENERATOR = join(ROOT, 'dist', 'bench', 'etcbench');
const SETTINGS = { heartbeatMs: 100, electionMs: 1000, snapshotCount: 10_000 };

/** Every server process started, so that an error or Ctrl-C leaves none behind. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));

function progress(line: string): void {
  process.stderr.write(`vs-etcd: ${line}\n`);
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Installs etcd-server, Go and etcd's Go sources with apt-get when any is missing. */
function ensureTools(): void {
  const missing: string[] = [];
  if (!onPath('etcd')) missing.push('etcd-server');
  if (!onPath('go')) missing.push('golang-go');
  if (!existsSync(ETCD_PB)) missing.push('golang-etcd-server-dev');
  if (!existsSync(WEBSOCKET)) missing.push('golang-github-gorilla-websocket-dev');
  if (missing.length === 0) return;
  const root = process.getuid?.() === 0;
  progress(`installing ${missing.join(', ')} with apt-get`);
  for (const args of [['apt-get', 'update'], ['apt-get', 'install', '-y', ...missing]]) {
    const r = spawnSync(root ? args[0]! : 'sudo', root ? args.slice(1) : args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${r.status}); install ${missing.join(' ')} by hand`);
  }
}

/** Builds the generator (GOPATH mode, offline, against Debian's etcd sources). */
function buildGenerator(): void {
  mkdirSync(dirname(GENERATOR), { recursive: true });
  const r = spawnSync('go', ['build', '-o', GENERATOR, 'etcbench'], {
    cwd: ROOT,
    env: { ...process.env, GOPATH: `${join(ROOT, 'bench', 'go')}:${GOPATH_SYSTEM}`, GO111MODULE: 'off', GOFLAGS: '' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`go build of the generator failed:\n${r.stderr}`);
}

/** One server process of a deployment, with its client endpoints by side. */
interface MemberProc {
  readonly pid: number;
  readonly dataDir: string;
  readonly endpoints: Partial<Record<Side, string>>;
}

/** One or three members of etcd or of etcetera, started for some measurements. */
interface Deployment {
  readonly members: readonly MemberProc[];
  stop(): Promise<void>;
}

/** Sends SIGTERM (SIGKILL after 10 s) and waits for the exit, if still running. */
async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode === null && c.signalCode === null) {
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGCONT');
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  children.delete(c);
}

/** Starts `size` etcd members on loopback, each resolved once it serves clients. */
async function startEtcd(size: number): Promise<Deployment> {
  const base = tempDir('vs-etcd-etcd');
  const ports = await freePorts(2 * size);
  const names = Array.from({ length: size }, (_, i) => `e${i + 1}`);
  const cluster = names.map((n, i) => `${n}=http://127.0.0.1:${ports[2 * i + 1]}`).join(',');
  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map(stopChild));
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const members = await Promise.all(
      names.map(async (name, i) => {
        const client = `http://127.0.0.1:${ports[2 * i]}`;
        const peer = `http://127.0.0.1:${ports[2 * i + 1]}`;
        const dataDir = join(base, name);
        // etcd 3.4 with fsync on (its default), the logger it will default to (zap) on stderr.
        const args = [
          ['--name', name],
          ['--data-dir', dataDir],
          ['--listen-client-urls', client],
          ['--advertise-client-urls', client],
          ['--listen-peer-urls', peer],
          ['--initial-advertise-peer-urls', peer],
          ['--initial-cluster', cluster],
          ['--initial-cluster-state', 'new'],
          ['--initial-cluster-token', `vs-etcd-${ports[0]}`],
          ['--heartbeat-interval', String(SETTINGS.heartbeatMs)],
          ['--election-timeout', String(SETTINGS.electionMs)],
          ['--snapshot-count', String(SETTINGS.snapshotCount)],
          ['--logger', 'zap'],
          ['--log-outputs', 'stderr'],
        ].flat();
        const proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
        children.add(proc);
        procs.push(proc);
        await new Promise<void>((res, rej) => {
          let tail = '';
          const timer = setTimeout(() => rej(new Error(`etcd ${name} not ready within 30 s:\n${tail}`)), 30_000);
          const rl = createInterface({ input: proc.stderr! });
          rl.on('line', (line) => {
            tail = (tail + line + '\n').slice(-4000);
            // etcd 3.4 logs this once ReadyNotify fired (it has published itself through raft).
            if (line.includes('"msg":"serving client traffic') || line.includes('"ready to serve client requests"')) {
              clearTimeout(timer);
              res();
            }
          });
          proc.once('exit', (code, sig) => {
            clearTimeout(timer);
            rej(new Error(`etcd ${name} exited (${code ?? sig}) before it was ready:\n${tail}`));
          });
        });
        return { pid: proc.pid!, dataDir, endpoints: { etcd: `127.0.0.1:${ports[2 * i]}` } };
      }),
    );
    return { members, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

const hostPort = (url: string | undefined): string | undefined => url?.replace(/^[a-z]+:\/\//, '');

/**
 * Starts `size` etcetera members (the real binary, LMDB) with gRPC, tcp and ws listeners; for
 * more than one, a cluster on loopback with peers over tcp. If one member fails to start, the
 * others are stopped again.
 */
async function startEtcetera(size: number): Promise<Deployment> {
  const base = tempDir('vs-etcd-etcetera');
  const ports = await freePorts(4 * size);
  const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const cluster = names.map((n, i) => `${n}=tcp://127.0.0.1:${ports[4 * i]}`).join(',');
  const settings = [
    `heartbeat-interval: ${SETTINGS.heartbeatMs}`,
    `election-timeout: ${SETTINGS.electionMs}`,
    `snapshot-count: ${SETTINGS.snapshotCount}`,
  ];
  const started = await Promise.allSettled(
    names.map((name, i) =>
      startServer({
        driver: 'lmdb',
        name,
        dataDir: join(base, name),
        grpcAddress: `127.0.0.1:${ports[4 * i + 1]}`,
        tcpAddress: `127.0.0.1:${ports[4 * i + 2]}`,
        wsAddress: `127.0.0.1:${ports[4 * i + 3]}`,
        extra: [
          ...settings,
          ...(size === 1
            ? []
            : [`listen-peer-urls: tcp://127.0.0.1:${ports[4 * i]}`, `initial-cluster: ${cluster}`, `initial-cluster-token: vs-etcd-${ports[0]}`]),
        ].join('\n'),
      }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  for (const s of servers) children.add(s.proc);
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => stopChild(s.proc)));
    rmSync(base, { recursive: true, force: true });
  };
  const failed = started.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  return {
    members: servers.map((s) => ({ pid: s.proc.pid!, dataDir: s.dataDir, endpoints: { grpc: hostPort(s.grpc)!, tcp: s.tcp, ws: s.ws } })),
    stop,
  };
}

/**
 * Starts etcd (side 'etcd') or etcetera members, trying up to three times. NB: ports are
 * picked free, released, then bound by the server, so on a machine where other processes
 * open connections meanwhile one may be taken in between (EADDRINUSE); a new try picks
 * new ports.
 */
async function startSide(side: Side, size: number): Promise<Deployment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (side === 'etcd' ? startEtcd(size) : startEtcetera(size));
    } catch (e) {
      if (attempt === 3) throw e;
      progress(`${side === 'etcd' ? 'etcd' : 'etcetera'} did not start (${brief(e)}); trying again`);
    }
  }
}

/** Runs the generator once; resolves with its JSON result line. */
function generate(args: string[], timeoutMs = 180_000): Promise<Record<string, unknown>> {
  return new Promise((res, rej) => {
    const p = spawn(GENERATOR, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code, sig) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return rej(new Error(`etcbench ${args.join(' ')} failed (${code ?? sig}): ${err.trim() || last}`));
      try {
        res(JSON.parse(last) as Record<string, unknown>);
      } catch {
        rej(new Error(`etcbench printed no result: ${out}${err}`));
      }
    });
  });
}

const protocolOf = (side: Side): string => (side === 'etcd' ? 'grpc' : side);

/** Arguments naming where to connect (all members' endpoints, or `only` one) and whose CPU to count. */
function targetArgs(dep: Deployment, side: Side, only?: number): string[] {
  const ms = only === undefined ? dep.members : [dep.members[only]!];
  return [
    '-protocol',
    protocolOf(side),
    '-endpoints',
    ms.map((m) => m.endpoints[side]!).join(','),
    '-pids',
    dep.members.map((m) => m.pid).join(','),
  ];
}

/** The index of the member all members agree leads, asking each over `side`'s protocol. */
async function leaderOf(dep: Deployment, side: Side): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = spawnSync(GENERATOR, ['-workload', 'status', '-protocol', protocolOf(side), '-timeout', '2s', '-endpoints', dep.members.map((m) => m.endpoints[side]!).join(',')], {
      encoding: 'utf8',
    });
    const rows = r.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { member?: string; leader?: string });
    const leaders = new Set(rows.map((x) => x.leader));
    if (rows.length === dep.members.length && leaders.size === 1 && rows[0]!.leader !== undefined && rows[0]!.leader !== '0') {
      const i = rows.findIndex((x) => x.member === rows[0]!.leader);
      if (i >= 0) return i;
    }
    if (Date.now() > deadline) throw new Error(`no agreed leader: ${r.stdout}${r.stderr}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * Warms a fresh server up (JIT for etcetera, caches and allocator for both) with an unrecorded
 * second of puts, so that the first workload of a run does not measure a cold process.
 */
async function prime(dep: Deployment, side: Side, o: Options): Promise<void> {
  await generate(['-workload', 'put', '-conns', '16', '-inflight', '256', '-duration', String(o.quick ? 0.5 : 1), '-warmup', '0', ...targetArgs(dep, side)]);
}

/** Generator arguments of each workload (besides the target and the timing). */
function workloadArgs(w: Workload, o: Options): string[] {
  switch (w.id) {
    case 'put-1':
      return ['-workload', 'put', '-conns', '1', '-inflight', '1'];
    case 'put-256':
    case 'cluster-put-256':
      return ['-workload', 'put', '-conns', '16', '-inflight', '256'];
    case 'range-linearizable':
      return ['-workload', 'range', '-conns', '16', '-inflight', '64'];
    case 'range-serializable':
      return ['-workload', 'range', '-serializable', '-conns', '16', '-inflight', '64'];
    case 'txn-cas':
      return ['-workload', 'txn', '-conns', '16', '-inflight', '16'];
    case 'watch-fanout':
      return ['-workload', 'watch', '-conns', '10', '-watchers', '1000', '-puts', '2000', '-put-inflight', '1', '-timeout', '5s'];
    case 'leases':
      // TTL 6 s renewed every 2 s; --quick: TTL 3 s. Measured over two renewal periods or more.
      return ['-workload', 'lease', '-conns', '1', '-leases', '1000', '-ttl', o.quick ? '3' : '6', '-duration', String(Math.max(2 * o.seconds, o.quick ? 2 : 4))];
    case 'rss-100k':
      return ['-workload', 'put', '-conns', '16', '-inflight', '256', '-total', String(o.rssKeys), '-warmup', '0'];
    case 'failover':
      return ['-workload', 'failover', '-timeout', '5s'];
    default:
      throw new Error(`no generator arguments for ${w.id}`);
  }
}

/** Bytes the directory tree takes on disk (allocated blocks, so preallocated files count as they are). */
function diskBytes(path: string): number {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.blocks * 512;
  return readdirSync(path).reduce((sum, name) => sum + diskBytes(join(path, name)), st.blocks * 512);
}

/**
 * One line about a failure: its first line, plus the message of the server's last log line
 * that has one at level warn or above (a server that exited says why there).
 */
function brief(e: unknown): string {
  const lines = (e as Error).message.split('\n');
  const why = lines
    .slice(1)
    .map((l) => {
      try {
        const rec = JSON.parse(l) as { level?: number | string; msg?: string; err?: { message?: string } };
        const bad = typeof rec.level === 'number' ? rec.level >= 40 : rec.level === 'warn' || rec.level === 'error' || rec.level === 'fatal';
        return bad ? `${rec.msg ?? ''}${rec.err?.message ? `: ${rec.err.message}` : ''}` : undefined;
      } catch {
        return l.trim() === '' ? undefined : l.trim();
      }
    })
    .filter((x) => x !== undefined)
    .pop();
  return why === undefined ? lines[0]! : `${lines[0]!.replace(/:$/, '')}: ${why}`;
}

/** The first figures of a result, for the progress line. */
function describe(r: Record<string, unknown>, w: Workload): string {
  return w.metrics
    .slice(0, 4)
    .map((m) => `${m.label} ${formatNumber(metricValue(r, m.key), m.decimals)}`)
    .join(', ');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseArgs(argv, join(ROOT, 'bench', 'RESULTS.md'));
  const out = resolve(process.cwd(), o.out);
  const t0 = Date.now();
  ensureTools();
  progress('building the Go load generator');
  buildGenerator();
  const etcdVersion = spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() ?? 'etcd ?';
  const results: Results = new Map();
  const failures: string[] = [];
  const timing = ['-duration', String(o.seconds), '-warmup', String(o.warmupSeconds)];
  const want = (stage: Workload['stage']): Workload[] => WORKLOADS.filter((w) => w.stage === stage && selected(w.id, o.only));

  const measure = async (w: Workload, side: Side, label: string, run: () => Promise<Record<string, unknown>>): Promise<void> => {
    try {
      const r = await run();
      record(results, w.id, side, r);
      const errors = Number(r['errors'] ?? 0);
      progress(`${label} ${w.id} · ${side}: ${describe(r, w)}${errors > 0 ? ` · ${errors} errors (first: ${String(r['firstError'])})` : ''}`);
    } catch (e) {
      failures.push(`${label} ${w.id} / ${side}: ${brief(e)}`);
      progress(`${label} ${w.id} · ${side}: FAILED ${(e as Error).message}`);
    }
  };

  for (let run = 1; run <= o.runs; run++) {
    const label = `[run ${run}/${o.runs}]`;
    const single = want('single');
    if (single.length > 0) {
      progress(`${label} starting one etcd member and one etcetera member`);
      const etcd = await startSide('etcd', 1);
      const etc = await startSide('grpc', 1).catch(async (e: unknown) => {
        await etcd.stop();
        throw e;
      });
      try {
        await prime(etcd, 'etcd', o);
        await prime(etc, 'grpc', o);
        for (const w of single) {
          for (const side of o.sides) {
            const dep = side === 'etcd' ? etcd : etc;
            await measure(w, side, label, () => generate([...workloadArgs(w, o), ...timing, ...targetArgs(dep, side)]));
          }
        }
      } finally {
        await Promise.all([etcd.stop(), etc.stop()]);
      }
    }
    for (const w of want('fresh')) {
      for (const side of o.sides) {
        await measure(w, side, label, async () => {
          const dep = await startSide(side, 1);
          try {
            const r = await generate([...workloadArgs(w, o), ...timing, ...targetArgs(dep, side)]);
            r['rssGrowthMB'] = Number(r['rssAfterMB']) - Number(r['rssBeforeMB']);
            r['diskMB'] = dep.members.reduce((s, m) => s + diskBytes(m.dataDir), 0) / 2 ** 20;
            return r;
          } finally {
            await dep.stop();
          }
        });
      }
    }
    const cluster = want('cluster');
    if (cluster.length > 0) {
      for (const kind of ['etcd', 'etcetera'] as const) {
        // Which of etcetera's listeners goes first alternates from run to run: a cluster just
        // started runs slower for its first seconds (measured: ~12k puts/s in the first second,
        // ~22k from the third), and the first side measured would always take that.
        const kindSides = o.sides.filter((s) => (s === 'etcd') === (kind === 'etcd'));
        const turn = (run - 1) % Math.max(1, kindSides.length);
        const sides = [...kindSides.slice(turn), ...kindSides.slice(0, turn)];
        if (sides.length === 0) continue;
        progress(`${label} starting three ${kind} members`);
        let dep: Deployment;
        try {
          dep = await startSide(sides[0]!, 3);
        } catch (e) {
          progress(`${label} three ${kind} members did not start: ${(e as Error).message}`);
          for (const w of cluster) for (const side of sides) failures.push(`${label} ${w.id} / ${side}: ${brief(e)}`);
          continue;
        }
        try {
          await prime(dep, sides[0]!, o);
          for (const w of cluster) {
            for (const side of sides) {
              await measure(w, side, label, async () => {
                const leader = await leaderOf(dep, side);
                return generate([...workloadArgs(w, o), ...timing, ...targetArgs(dep, side, leader)]);
              });
            }
          }
        } finally {
          await dep.stop();
        }
      }
    }
  }
  for (const w of want('failover')) {
    for (let trial = 1; trial <= o.failovers; trial++) {
      for (const side of o.sides) {
        await measure(w, side, `[failover ${trial}/${o.failovers}]`, async () => {
          const dep = await startSide(side, 3);
          try {
            return await generate([...workloadArgs(w, o), ...targetArgs(dep, side)]);
          } finally {
            await dep.stop();
          }
        });
      }
    }
  }

  const npm = process.env['npm_lifecycle_event'] === 'bench:vs-etcd';
  const command = `${npm ? 'npm run bench:vs-etcd' : 'node dist/bench/vs-etcd.js'}${argv.length > 0 ? `${npm ? ' --' : ''} ${argv.join(' ')}` : ''}`;
  const section = renderSection(
    {
      date: new Date().toISOString().slice(0, 10),
      commit: commit(),
      command,
      machine: machine(),
      etcdVersion,
      options: o,
      minutes: (Date.now() - t0) / 60_000,
      failures,
    },
    results,
  );
  process.stdout.write(section + '\n');
  if (!existsSync(out)) appendFileSync(out, '# Benchmark results\n');
  appendFileSync(out, section);
  progress(`appended to ${out} (${((Date.now() - t0) / 60_000).toFixed(1)} min)`);
  process.exit(0);
}

await main();
