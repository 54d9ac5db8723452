// Checks the pure half of `npm run bench:vs-etcd` (bench/vs-etcd-report.ts): option parsing,
// --only selection, medians with their spread, reading figures out of the generator's JSON,
// ratios, target verdicts and the rendered markdown, on hand-made results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeTarget,
  formatRatio,
  formatSummary,
  meets,
  metricValue,
  parseArgs,
  record,
  renderSection,
  renderTable,
  selected,
  summarize,
  WORKLOADS,
  type Results,
  type Workload,
} from '../../bench/vs-etcd-report.js';

test('parseArgs: defaults, --quick, --only lists, overrides', () => {
  const d = parseArgs([], '/r.md');
  assert.deepEqual([d.runs, d.failovers, d.seconds, d.quick, d.out, d.rssKeys], [3, 5, 3, false, '/r.md', 100_000]);
  assert.deepEqual(d.sides, ['etcd', 'grpc', 'tcp']);
  const q = parseArgs(['--quick', '--only', 'put', 'watch,lease', '--out', '/tmp/x.md', '--ws'], '/r.md');
  assert.deepEqual([q.runs, q.failovers, q.seconds, q.rssKeys, q.out], [1, 1, 1, 20_000, '/tmp/x.md']);
  assert.deepEqual(q.only, ['put', 'watch', 'lease']);
  assert.deepEqual(q.sides, ['etcd', 'grpc', 'tcp', 'ws']);
  const r = parseArgs(['--quick', '--runs', '4', '--seconds', '0.5', '--failovers', '7'], '/r.md');
  assert.deepEqual([r.runs, r.seconds, r.failovers], [4, 0.5, 7]);
});

test('parseArgs: refuses unknown flags, bad numbers and an empty --only', () => {
  assert.throws(() => parseArgs(['--fast'], '/r.md'), /unknown option --fast/);
  assert.throws(() => parseArgs(['--runs', 'x'], '/r.md'), /--runs: want a positive number/);
  assert.throws(() => parseArgs(['--runs'], '/r.md'), /--runs: want a positive number, got nothing/);
  assert.throws(() => parseArgs(['--only', '--quick'], '/r.md'), /--only: want at least one/);
});

test('selected: substring match on workload ids; no filter selects all', () => {
  assert.equal(selected('range-serializable', []), true);
  assert.equal(selected('range-serializable', ['serial']), true);
  assert.equal(selected('put-256', ['range', 'fail']), false);
  const ids = WORKLOADS.map((w) => w.id).filter((id) => selected(id, ['put']));
  assert.deepEqual(ids, ['put-1', 'put-256', 'cluster-put-256']);
});

test('summarize: median of odd and even counts, spread, non-finite values dropped', () => {
  assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  assert.deepEqual(summarize([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
  assert.deepEqual(summarize([NaN, 5]), { median: 5, min: 5, max: 5, n: 1 });
  assert.equal(summarize([]), undefined);
});

test('metricValue: top-level and extra fields, booleans as 1/0, missing as NaN', () => {
  const r = { opsPerSec: 10, extra: { lost: 0, countOk: true } };
  assert.equal(metricValue(r, 'opsPerSec'), 10);
  assert.equal(metricValue(r, 'extra.lost'), 0);
  assert.equal(metricValue(r, 'extra.countOk'), 1);
  assert.ok(Number.isNaN(metricValue(r, 'extra.nothing')));
  assert.ok(Number.isNaN(metricValue(r, 'p50Ms')));
});

test('formatSummary, formatRatio and targets', () => {
  assert.equal(formatSummary(summarize([1234.5, 1000, 2000]), 0), '1,235 (1,000–2,000)');
  assert.equal(formatSummary(summarize([0.2744]), 3), '0.274');
  assert.equal(formatSummary(undefined, 1), '–');
  assert.equal(formatRatio(summarize([1]), summarize([4])), '×0.25');
  assert.equal(formatRatio(summarize([40]), summarize([2])), '×20.0');
  assert.equal(formatRatio(summarize([1]), summarize([0])), '–');
  const s = summarize([0.2]);
  const etcd = summarize([0.3]);
  assert.equal(meets({ kind: 'max', value: 0.25 }, s, etcd), true);
  assert.equal(meets({ kind: 'max', value: 0.1 }, s, etcd), false);
  assert.equal(meets({ kind: 'min', value: 0.2 }, s, etcd), true);
  assert.equal(meets({ kind: 'beat-etcd', higher: false }, s, etcd), true);
  assert.equal(meets({ kind: 'beat-etcd', higher: true }, s, etcd), false);
  assert.equal(meets({ kind: 'beat-etcd', higher: true }, s, undefined), undefined);
  assert.equal(meets({ kind: 'max', value: 1 }, undefined, etcd), undefined);
  assert.equal(describeTarget({ kind: 'max', value: 0 }, 0), '= 0');
  assert.equal(describeTarget({ kind: 'min', value: 650_000 }, 0), '≥ 650,000');
});

test('renderTable: one row per metric, medians with spread, ratios and verdicts per etcetera side', () => {
  const w: Workload = {
    id: 'put-1',
    title: 'put, 1 in flight',
    stage: 'single',
    metrics: [
      { key: 'p50Ms', label: 'p50 ms', decimals: 2, target: { kind: 'max', value: 0.25 } },
      { key: 'opsPerSec', label: 'ops/s', decimals: 0 },
    ],
  };
  const results: Results = new Map();
  for (const [p50, ops] of [[0.3, 3000], [0.28, 3100], [0.32, 2900]] as const) record(results, 'put-1', 'etcd', { p50Ms: p50, opsPerSec: ops });
  for (const p50 of [0.2, 0.22, 0.24]) record(results, 'put-1', 'tcp', { p50Ms: p50, opsPerSec: 4000 });
  const lines = renderTable(results, ['etcd', 'grpc', 'tcp'], [w]);
  assert.equal(lines[0], '| workload | figure | etcd 3.4 | etcetera gRPC | etcetera tcp | gRPC / etcd | tcp / etcd | target |');
  assert.equal(lines[1], '|---|---|---:|---:|---:|---:|---:|---|');
  assert.equal(lines[2], '| **put-1** put, 1 in flight | p50 ms | 0.30 (0.28–0.32) | – | 0.22 (0.20–0.24) | – | ×0.73 | ≤ 0.25: gRPC n/a, tcp met |');
  assert.equal(lines[3], '|  | ops/s | 3,000 (2,900–3,100) | – | 4,000 (4,000–4,000) | – | ×1.33 |  |');
  assert.equal(lines.length, 4);
  // A workload without results is left out.
  assert.equal(renderTable(new Map(), ['etcd', 'tcp'], [w]).length, 2);
});

test('renderSection: heading with date, commit and command; machine; failures listed', () => {
  const results: Results = new Map();
  record(results, 'failover', 'etcd', { extra: { failoverMs: 1320 } });
  const text = renderSection(
    {
      date: '2026-11-24',
      commit: 'abc1234',
      command: 'npm run bench:vs-etcd',
      machine: '2 × CPU',
      etcdVersion: 'etcd Version: 3.4.23',
      options: parseArgs([], '/r.md'),
      minutes: 12.5,
      failures: ['[run 1/3] watch-fanout / tcp: boom'],
    },
    results,
  );
  assert.match(text, /^\n## 2026-11-24 · commit abc1234 · `npm run bench:vs-etcd`\n/);
  assert.match(text, /Machine: 2 × CPU; etcd Version: 3\.4\.23\./);
  assert.match(text, /Whole run: 12\.5 min\./);
  assert.match(text, /\| \*\*failover\*\* .* \| ms \| 1,320 \| – \| – \| – \| – \| ≤ 1,000: gRPC n\/a, tcp n\/a \|/);
  assert.match(text, /- \[run 1\/3\] watch-fanout \/ tcp: boom/);
  assert.doesNotMatch(text, /NB: this run loaded/);
});
