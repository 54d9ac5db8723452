// The prom-client implementation of the metrics port, in process: every handle lands under
// etcd's metric name and type with etcd's buckets, gRPC counters carry go-grpc-prometheus's
// labels with the status code's name, label-bound handles are cached (one child per label
// set), onScrape callbacks run before each scrape (one that throws does not break it, and
// can be unregistered), each instance has its own registry, and the timed backend observes
// commits while forwarding everything. No server, no timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noMetrics } from '../../src/core/ports/metrics.js';
import { MemoryBackend } from '../../src/drivers/memory/memory-backend.js';
import { PromMetrics } from '../../src/server/metrics/prom-metrics.js';
import { TimedBackend } from '../../src/server/metrics/timed-backend.js';

/** The value of the sample line `name{labels}` in `text`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("etcd's names, types and buckets", async () => {
  const m = new PromMetrics({ defaultMetrics: false });
  m.hasLeader.set(1);
  m.leaderChanges.inc();
  m.proposalsCommitted.set(10);
  m.proposalsApplied.set(9);
  m.proposalsPending.set(2);
  m.proposalsFailed.inc(3);
  m.dbTotalSizeBytes.set(4096);
  m.keysTotal.set(5);
  m.walFsyncSeconds.observe(0.0015);
  m.backendCommitSeconds.observe(0.0001);
  m.peerRoundTripSeconds('abc').observe(0.00025);
  assert.equal(m.peerRoundTripSeconds('abc'), m.peerRoundTripSeconds('abc'), 'one child per peer');
  const text = await m.scrape();
  const types: Record<string, string> = {
    etcd_server_has_leader: 'gauge',
    etcd_server_leader_changes_seen_total: 'counter',
    etcd_server_proposals_committed_total: 'gauge',
    etcd_server_proposals_applied_total: 'gauge',
    etcd_server_proposals_pending: 'gauge',
    etcd_server_proposals_failed_total: 'counter',
    etcd_mvcc_db_total_size_in_bytes: 'gauge',
    etcd_debugging_mvcc_keys_total: 'gauge',
    etcd_disk_wal_fsync_duration_seconds: 'histogram',
    etcd_disk_backend_commit_duration_seconds: 'histogram',
    etcd_network_peer_round_trip_time_seconds: 'histogram',
    grpc_server_started_total: 'counter',
    grpc_server_handled_total: 'counter',
  };
  for (const [name, type] of Object.entries(types)) assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `${name} is a ${type}`);
  assert.equal(sample(text, 'etcd_server_has_leader'), 1);
  assert.equal(sample(text, 'etcd_server_leader_changes_seen_total'), 1);
  assert.equal(sample(text, 'etcd_server_proposals_committed_total'), 10);
  assert.equal(sample(text, 'etcd_server_proposals_applied_total'), 9);
  assert.equal(sample(text, 'etcd_server_proposals_pending'), 2);
  assert.equal(sample(text, 'etcd_server_proposals_failed_total'), 3);
  assert.equal(sample(text, 'etcd_mvcc_db_total_size_in_bytes'), 4096);
  assert.equal(sample(text, 'etcd_debugging_mvcc_keys_total'), 5);
  // etcd's buckets: 1 ms doubling (fsync, commit), 0.1 ms doubling (peer RTT), 14 of each.
  assert.equal(sample(text, 'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"}'), 0);
  assert.equal(sample(text, 'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"}'), 1);
  assert.equal(sample(text, 'etcd_disk_wal_fsync_duration_seconds_bucket{le="8.192"}'), 1);
  assert.equal(sample(text, 'etcd_disk_backend_commit_duration_seconds_bucket{le="0.001"}'), 1);
  assert.equal(sample(text, 'etcd_network_peer_round_trip_time_seconds_bucket{le="0.0002",To="abc"}'), 0);
  assert.equal(sample(text, 'etcd_network_peer_round_trip_time_seconds_bucket{le="0.0004",To="abc"}'), 1);
  assert.equal(sample(text, 'etcd_network_peer_round_trip_time_seconds_count{To="abc"}'), 1);
  assert.match(m.contentType, /^text\/plain; version=0\.0\.4/);
});

test('gRPC counters: labels of go-grpc-prometheus, code names, one child per label set', async () => {
  const m = new PromMetrics({ defaultMetrics: false });
  const range = m.grpcMethod('unary', 'etcdserverpb.KV', 'Range');
  assert.equal(m.grpcMethod('unary', 'etcdserverpb.KV', 'Range'), range, 'cached per method');
  assert.equal(range.handled(14), range.handled(14), 'cached per code');
  range.started.inc();
  range.started.inc();
  range.handled(0).inc();
  range.handled(14).inc();
  const watch = m.grpcMethod('bidi_stream', 'etcdserverpb.Watch', 'Watch');
  watch.started.inc();
  watch.handled(1).inc();
  const text = await m.scrape();
  const labels = (type: string, svc: string, method: string): string => `grpc_type="${type}",grpc_service="${svc}",grpc_method="${method}"`;
  assert.equal(sample(text, `grpc_server_started_total{${labels('unary', 'etcdserverpb.KV', 'Range')}}`), 2);
  assert.equal(sample(text, `grpc_server_handled_total{${labels('unary', 'etcdserverpb.KV', 'Range')},grpc_code="OK"}`), 1);
  assert.equal(sample(text, `grpc_server_handled_total{${labels('unary', 'etcdserverpb.KV', 'Range')},grpc_code="Unavailable"}`), 1);
  assert.equal(sample(text, `grpc_server_handled_total{${labels('bidi_stream', 'etcdserverpb.Watch', 'Watch')},grpc_code="Canceled"}`), 1);
});

test('onScrape callbacks run before each scrape; a failing one is skipped; registries are separate', async () => {
  const a = new PromMetrics({ defaultMetrics: false });
  const b = new PromMetrics();
  let level = 1;
  const off = a.onScrape(() => a.keysTotal.set(level));
  a.onScrape(() => {
    throw new Error('source not ready');
  });
  assert.equal(sample(await a.scrape(), 'etcd_debugging_mvcc_keys_total'), 1);
  level = 7;
  assert.equal(sample(await a.scrape(), 'etcd_debugging_mvcc_keys_total'), 7);
  off();
  level = 9;
  assert.equal(sample(await a.scrape(), 'etcd_debugging_mvcc_keys_total'), 7, 'unregistered: keeps its last value');
  b.keysTotal.set(3);
  assert.equal(sample(await a.scrape(), 'etcd_debugging_mvcc_keys_total'), 7, 'b does not write into a');
  const bt = await b.scrape();
  assert.equal(sample(bt, 'etcd_debugging_mvcc_keys_total'), 3);
  assert.ok((sample(bt, 'process_resident_memory_bytes') ?? 0) > 0, "prom-client's default process metrics");
  assert.equal(await noMetrics.scrape(), '');
});

test('TimedBackend observes each commit and forwards everything', async () => {
  const observed: number[] = [];
  const inner = new MemoryBackend();
  const b = new TimedBackend(inner, { observe: (s) => observed.push(s) });
  const k = Buffer.from('k');
  b.commit([{ type: 'put', bucket: 'key', key: k, value: Buffer.from('v') }]);
  b.commit([]);
  assert.equal(observed.length, 2);
  assert.ok(observed.every((s) => s >= 0 && s < 1));
  assert.deepEqual(Buffer.from(b.get('key', k)!), Buffer.from('v'));
  assert.deepEqual([...b.range('key')].length, 1);
  assert.equal(b.sizeBytes(), inner.sizeBytes());
  await b.sync();
  await b.close();
});
