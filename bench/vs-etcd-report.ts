// The pure half of `npm run bench:vs-etcd`: command-line options, the workload and metric
// table (with the targets of the performance issue), medians with their spread, ratios to
// etcd, and the markdown section written to bench/RESULTS.md. No I/O here, so it is tested
// on its own (test/bench/vs-etcd-report.test.ts); vs-etcd.ts does the processes and files.

/** Who serves a measurement: etcd over gRPC, or etcetera over one of its listeners. */
export type Side = 'etcd' | 'grpc' | 'tcp' | 'ws';

/** Column headings of the sides. */
export const SIDE_TITLES: Readonly<Record<Side, string>> = {
  etcd: 'etcd 3.4',
  grpc: 'etcetera gRPC',
  tcp: 'etcetera tcp',
  ws: 'etcetera ws',
};

/** A target of the issue: a bound on the median of an etcetera side. */
export type Target =
  | { readonly kind: 'max'; readonly value: number }
  | { readonly kind: 'min'; readonly value: number }
  /** Better than etcd's median: more when `higher`, else less. */
  | { readonly kind: 'beat-etcd'; readonly higher: boolean };

/** One figure a workload reports, read from the generator's JSON line by `key`. */
export interface Metric {
  /** A field of the generator's result, or of its `extra` object (dotted: `extra.lost`). */
  readonly key: string;
  readonly label: string;
  readonly decimals: number;
  readonly target?: Target;
}

/** Where a workload runs: the single-member servers of a run, fresh servers of its own, a three-member cluster, or the failover trials. */
export type Stage = 'single' | 'fresh' | 'cluster' | 'failover';

/** A workload of the comparison: its id (what --only matches), title, stage and figures. */
export interface Workload {
  readonly id: string;
  readonly title: string;
  readonly stage: Stage;
  readonly metrics: readonly Metric[];
}

const cpu = (target?: Target): Metric[] => [
  { key: 'serverCpuUsPerOp', label: 'server CPU µs/op', decimals: 1, ...(target ? { target } : {}) },
  { key: 'genCpuUsPerOp', label: 'generator CPU µs/op', decimals: 1 },
];
const latency: Metric[] = [
  { key: 'p50Ms', label: 'p50 ms', decimals: 3 },
  { key: 'p99Ms', label: 'p99 ms', decimals: 3 },
];

/**
 * Every workload, in the order they run and are reported. Targets are the issue's, for etcd
 * 3.4.23 on this machine: put 1 in flight p50 0.29 ms → ≤ 0.25 ms; put 256 in flight 34–49 µs
 * → ≤ 30 µs and more ops/s; range 91–190 µs → ≤ 50 µs; txn CAS ~200 µs → ≤ 100 µs; watch
 * 646k events/s, p99 167 ms → ≥ 650k/s, ≤ 50 ms, 0 lost; RSS +124 MB → ≤ +60 MB; three
 * members 7.6k ops/s, 128 µs → more ops/s, ≤ 100 µs; failover 1.32 s → ≤ 1.0 s.
 */
export const WORKLOADS: readonly Workload[] = [
  {
    id: 'put-1',
    title: 'put, 1 in flight, 1 connection',
    stage: 'single',
    metrics: [
      { key: 'opsPerSec', label: 'ops/s', decimals: 0 },
      { key: 'p50Ms', label: 'p50 ms', decimals: 3, target: { kind: 'max', value: 0.25 } },
      { key: 'p99Ms', label: 'p99 ms', decimals: 3 },
      ...cpu(),
    ],
  },
  {
    id: 'put-256',
    title: 'put, 256 in flight, 16 connections',
    stage: 'single',
    metrics: [{ key: 'opsPerSec', label: 'ops/s', decimals: 0, target: { kind: 'beat-etcd', higher: true } }, ...latency, ...cpu({ kind: 'max', value: 30 })],
  },
  {
    id: 'range-linearizable',
    title: 'range one key, linearizable, 64 in flight, 16 connections',
    stage: 'single',
    metrics: [{ key: 'opsPerSec', label: 'ops/s', decimals: 0 }, ...latency, ...cpu({ kind: 'max', value: 50 })],
  },
  {
    id: 'range-serializable',
    title: 'range one key, serializable, 64 in flight, 16 connections',
    stage: 'single',
    metrics: [{ key: 'opsPerSec', label: 'ops/s', decimals: 0 }, ...latency, ...cpu({ kind: 'max', value: 50 })],
  },
  {
    id: 'txn-cas',
    title: 'txn compare-and-swap on one counter, 16 in flight, 16 connections',
    stage: 'single',
    metrics: [
      { key: 'opsPerSec', label: 'txns/s', decimals: 0 },
      { key: 'extra.successesPerSec', label: 'successful swaps/s', decimals: 0 },
      ...latency,
      ...cpu({ kind: 'max', value: 100 }),
      { key: 'extra.countOk', label: 'final count = successes (1 = yes)', decimals: 0, target: { kind: 'min', value: 1 } },
    ],
  },
  {
    id: 'watch-fanout',
    title: 'watch fan-out: 1,000 watchers of one key on 10 connections, 2,000 puts one after another',
    stage: 'single',
    metrics: [
      { key: 'opsPerSec', label: 'events/s', decimals: 0, target: { kind: 'min', value: 650_000 } },
      { key: 'p50Ms', label: 'put-to-delivery p50 ms', decimals: 2 },
      { key: 'p99Ms', label: 'put-to-delivery p99 ms', decimals: 2, target: { kind: 'max', value: 50 } },
      { key: 'extra.lost', label: 'events lost', decimals: 0, target: { kind: 'max', value: 0 } },
      { key: 'serverCpuUsPerOp', label: 'server CPU µs/event', decimals: 2 },
      { key: 'genCpuUsPerOp', label: 'generator CPU µs/event', decimals: 2 },
    ],
  },
  {
    id: 'leases',
    title: '1,000 leases kept alive on one keep-alive stream, each renewed every TTL/3 (TTL 6 s; --quick 3 s)',
    stage: 'single',
    metrics: [
      { key: 'opsPerSec', label: 'renewals/s', decimals: 0 },
      ...latency,
      { key: 'serverCpuUsPerOp', label: 'server CPU µs/renewal', decimals: 1 },
      { key: 'serverCpuPct', label: 'server CPU % of a core', decimals: 1 },
      { key: 'extra.lost', label: 'leases lost', decimals: 0, target: { kind: 'max', value: 0 } },
    ],
  },
  {
    id: 'rss-100k',
    title: 'RSS and disk after 100,000 keys × 256 B (fresh server, 256 in flight, 16 connections)',
    stage: 'fresh',
    metrics: [
      { key: 'rssBeforeMB', label: 'RSS before MB', decimals: 1 },
      { key: 'rssAfterMB', label: 'RSS after MB', decimals: 1 },
      { key: 'rssGrowthMB', label: 'RSS growth MB', decimals: 1, target: { kind: 'max', value: 60 } },
      { key: 'diskMB', label: 'data dir on disk MB', decimals: 1 },
      { key: 'opsPerSec', label: 'puts/s while loading', decimals: 0 },
    ],
  },
  {
    id: 'cluster-put-256',
    title: 'three members: put, 256 in flight, 16 connections to the leader',
    stage: 'cluster',
    metrics: [
      { key: 'opsPerSec', label: 'ops/s', decimals: 0, target: { kind: 'beat-etcd', higher: true } },
      ...latency,
      { key: 'serverCpuUsPerOp', label: 'CPU µs/op, all members', decimals: 1, target: { kind: 'max', value: 100 } },
      { key: 'genCpuUsPerOp', label: 'generator CPU µs/op', decimals: 1 },
    ],
  },
  {
    id: 'failover',
    title: 'three members: leader kill -9 to first successful put',
    stage: 'failover',
    metrics: [{ key: 'extra.failoverMs', label: 'ms', decimals: 0, target: { kind: 'max', value: 1000 } }],
  },
];

/** Options of the command line. */
export interface Options {
  /** Runs per workload and side (failover: trials, at least `failovers`). */
  readonly runs: number;
  readonly failovers: number;
  /** Measured seconds per throughput workload. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly quick: boolean;
  /** Substrings; a workload runs when its id contains one of them (all when empty). */
  readonly only: readonly string[];
  readonly out: string;
  readonly sides: readonly Side[];
  /** Keys loaded for the RSS workload. */
  readonly rssKeys: number;
}

/**
 * Parses the arguments after the script name. --quick: 1 run, 1 s windows, 1 failover trial
 * and 20,000 keys for RSS; --runs, --failovers, --seconds override. Throws on an unknown flag.
 */
export function parseArgs(argv: readonly string[], defaultOut: string): Options {
  let runs: number | undefined;
  let failovers: number | undefined;
  let seconds: number | undefined;
  let quick = false;
  let ws = false;
  let out = defaultOut;
  const only: string[] = [];
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${flag}: want a positive number, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--ws') ws = true;
    else if (a === '--runs') runs = Math.round(num(a, argv[++i]));
    else if (a === '--failovers') failovers = Math.round(num(a, argv[++i]));
    else if (a === '--seconds') seconds = num(a, argv[++i]);
    else if (a === '--out') {
      const v = argv[++i];
      if (v === undefined) throw new Error('--out: want a file name');
      out = v;
    } else if (a === '--only') {
      // Everything up to the next flag is a filter (commas also separate filters).
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) only.push(...argv[++i]!.split(',').filter((s) => s !== ''));
      if (only.length === 0) throw new Error('--only: want at least one substring');
    } else throw new Error(`unknown option ${a} (want --quick, --runs N, --failovers N, --seconds S, --only <substrings>, --out FILE, --ws)`);
  }
  return {
    runs: runs ?? (quick ? 1 : 3),
    failovers: failovers ?? (quick ? 1 : 5),
    seconds: seconds ?? (quick ? 1 : 3),
    warmupSeconds: quick ? 0.3 : 1,
    quick,
    only,
    out,
    sides: ws ? ['etcd', 'grpc', 'tcp', 'ws'] : ['etcd', 'grpc', 'tcp'],
    rssKeys: quick ? 20_000 : 100_000,
  };
}

/** Whether workload `id` is selected by the --only filters. */
export function selected(id: string, only: readonly string[]): boolean {
  return only.length === 0 || only.some((s) => id.includes(s));
}

/** The median and the range of some runs' values. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Median (mean of the middle two for an even count), min and max; undefined for no values. */
export function summarize(values: readonly number[]): Summary | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** Reads `key` (possibly `extra.<name>`) from a generator result; booleans become 1/0. */
export function metricValue(result: Record<string, unknown>, key: string): number {
  let v: unknown = result;
  for (const part of key.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return typeof v === 'number' ? v : NaN;
}

/** "1,234" / "0.274": a number with `decimals` places and thousands separators. */
export function formatNumber(x: number, decimals: number): string {
  return x.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** "median (min–max)", or just the median for one run; "–" when there is none. */
export function formatSummary(s: Summary | undefined, decimals: number): string {
  if (s === undefined) return '–';
  const m = formatNumber(s.median, decimals);
  return s.n > 1 ? `${m} (${formatNumber(s.min, decimals)}–${formatNumber(s.max, decimals)})` : m;
}

/** "×0.85": an etcetera median over etcd's; "–" when either is missing or etcd's is 0. */
export function formatRatio(side: Summary | undefined, etcd: Summary | undefined): string {
  if (side === undefined || etcd === undefined || etcd.median === 0) return '–';
  const r = side.median / etcd.median;
  return `×${r >= 10 ? r.toFixed(1) : r.toFixed(2)}`;
}

/** Whether `s` meets `t` (undefined when there is nothing to judge). */
export function meets(t: Target, s: Summary | undefined, etcd: Summary | undefined): boolean | undefined {
  if (s === undefined) return undefined;
  switch (t.kind) {
    case 'max':
      return s.median <= t.value;
    case 'min':
      return s.median >= t.value;
    case 'beat-etcd':
      if (etcd === undefined) return undefined;
      return t.higher ? s.median > etcd.median : s.median < etcd.median;
  }
}

/** "≤ 0.25", "≥ 650,000", "> etcd". */
export function describeTarget(t: Target, decimals: number): string {
  switch (t.kind) {
    case 'max':
      return t.value === 0 ? '= 0' : `≤ ${formatNumber(t.value, decimals)}`;
    case 'min':
      return `≥ ${formatNumber(t.value, decimals)}`;
    case 'beat-etcd':
      return t.higher ? '> etcd' : '< etcd';
  }
}

/** Results of the generator, by workload id, then side: one object per run. */
export type Results = Map<string, Map<Side, Record<string, unknown>[]>>;

/** Adds one run's result. */
export function record(results: Results, workload: string, side: Side, result: Record<string, unknown>): void {
  let bySide = results.get(workload);
  if (bySide === undefined) results.set(workload, (bySide = new Map()));
  let runs = bySide.get(side);
  if (runs === undefined) bySide.set(side, (runs = []));
  runs.push(result);
}

/**
 * The markdown table: one row per workload and metric, a column per side with the median
 * and spread, a ratio column per etcetera side (its median / etcd's), and the target with
 * met/missed per etcetera side.
 */
export function renderTable(results: Results, sides: readonly Side[], workloads: readonly Workload[] = WORKLOADS): string[] {
  const others = sides.filter((s) => s !== 'etcd');
  const head = ['workload', 'figure', ...sides.map((s) => SIDE_TITLES[s]), ...others.map((s) => `${SIDE_TITLES[s].replace('etcetera ', '')} / etcd`), 'target'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 || i === head.length - 1 ? '---' : '---:')).join('|')}|`];
  for (const w of workloads) {
    const bySide = results.get(w.id);
    if (bySide === undefined) continue;
    w.metrics.forEach((m, i) => {
      const sum = new Map(sides.map((s) => [s, summarize((bySide.get(s) ?? []).map((r) => metricValue(r, m.key)))] as const));
      const etcd = sum.get('etcd');
      let target = '';
      if (m.target !== undefined) {
        const t = m.target;
        const verdicts = others.map((s) => {
          const ok = meets(t, sum.get(s), etcd);
          return `${SIDE_TITLES[s].replace('etcetera ', '')} ${ok === undefined ? 'n/a' : ok ? 'met' : 'missed'}`;
        });
        target = `${describeTarget(t, m.decimals)}: ${verdicts.join(', ')}`;
      }
      lines.push(
        `| ${i === 0 ? `**${w.id}** ${w.title}` : ''} | ${m.label} | ${sides.map((s) => formatSummary(sum.get(s), m.decimals)).join(' | ')} | ${others
          .map((s) => formatRatio(sum.get(s), etcd))
          .join(' | ')} | ${target} |`,
      );
    });
  }
  return lines;
}

/** Facts about the run that head its section in RESULTS.md. */
export interface RunInfo {
  readonly date: string;
  readonly commit: string;
  readonly command: string;
  readonly machine: string;
  readonly etcdVersion: string;
  readonly options: Options;
  readonly minutes: number;
  /** Generator runs that failed, as "workload/side: message". */
  readonly failures: readonly string[];
}

/** The whole section appended to the results file. */
export function renderSection(info: RunInfo, results: Results): string {
  const o = info.options;
  return [
    '',
    `## ${info.date} · commit ${info.commit} · \`${info.command}\``,
    '',
    `Machine: ${info.machine}; ${info.etcdVersion}.`,
    '',
    'etcetera (the real binary, LMDB, fsync on) and etcd (Debian `etcd-server`, fsync on) with the',
    'same settings: heartbeat 100 ms, election timeout 1000 ms, snapshot count 10,000; one member,',
    'or three on loopback (peers over tcp for etcetera, http for etcd). The load comes from one Go',
    'generator (bench/go/src/etcbench, raw etcdserverpb stubs over grpc-go for gRPC; etcetera\'s',
    'framed protocol over tcp/ws) on the same 2 cores; each workload runs against every side in',
    'turn (etcd, then etcetera over each listener; on three members the listener that goes first',
    'alternates from run to run), run after run. 8-byte keys, 256-byte values.',
    `${o.seconds} s measured per throughput workload after ${o.warmupSeconds} s of warm-up; ${o.runs} run(s)` +
      ` per figure, ${o.failovers} failover trial(s); cells are median (min–max). Server CPU per op: utime+stime`,
    'from /proc of every member process over the measured window, divided by the operations; generator',
    'CPU: getrusage of the generator. Ratios: etcetera median / etcd median.',
    ...(o.rssKeys === 100_000 ? [] : [`NB: this run loaded ${formatNumber(o.rssKeys, 0)} keys (not 100,000) for rss-100k.`]),
    `Whole run: ${info.minutes.toFixed(1)} min.`,
    '',
    ...renderTable(results, o.sides),
    '',
    ...(info.failures.length === 0 ? [] : ['Failed runs (left out of the medians):', '', ...info.failures.map((f) => `- ${f}`), '']),
  ].join('\n');
}
