// The grpc listener in process (127.0.0.1 port 0) with the real MaintenanceServiceImpl over a
// memory-driver member that took writes, and a PromMetrics: Maintenance.Snapshot as a gRPC
// server stream (32 KiB chunks, remaining_bytes counting down, the digest last, a clean OK
// status; a client that resets the stream mid-way releases the call), and what the listener
// records: grpc_server_started_total / grpc_server_handled_total per method with the type
// (unary, server_stream, bidi_stream) and the status code's name (OK, OutOfRange, Canceled,
// Unimplemented), served at GET /metrics over HTTP/1.1 and over HTTP/2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { Applier } from '../../src/core/apply/applier.js';
import { codecOf } from '../../src/codec/messages.js';
import { Status } from '../../src/core/errors.js';
import { KvStore } from '../../src/core/mvcc/kv-store.js';
import { silentLogger } from '../../src/core/ports/logger.js';
import type { Services } from '../../src/core/ports/services.js';
import { MemoryDriver } from '../../src/drivers/memory/memory-driver.js';
import { encodeBackendSnapshot } from '../../src/server/backend-snapshot.js';
import { KvServiceImpl, MaintenanceServiceImpl } from '../../src/server/kv-service.js';
import type { Config } from '../../src/server/config.js';
import { PromMetrics } from '../../src/server/metrics/prom-metrics.js';
import { SingleMemberHost } from '../../src/server/single-member-host.js';
import { encodeSnapshotFile, SNAPSHOT_CHUNK_BYTES } from '../../src/server/snapshot-file.js';
import { GrpcTransport } from '../../src/transports/grpc/grpc-transport.js';
import { frame, frameOf, RawGrpcClient } from './grpc-raw-client.js';

const SnapshotRes = codecOf('etcdserverpb.SnapshotResponse');
const RangeReq = codecOf('etcdserverpb.RangeRequest');

let host: SingleMemberHost;
let transport: GrpcTransport;
let metrics: PromMetrics;
let authority: string;
let client: RawGrpcClient;
let want: Buffer;

before(async () => {
  const handles = await new MemoryDriver().open('unused');
  const store = new KvStore(handles.backend);
  metrics = new PromMetrics({ defaultMetrics: false });
  host = new SingleMemberHost(
    store,
    new Applier(store),
    handles.logStore,
    handles.backend,
    { memberId: 5, clusterId: 6, maxRequestBytes: 1 << 20, maxPendingProposals: 100, snapshotCount: 1_000_000, fatal: (e) => assert.fail(String(e)), metrics },
    silentLogger,
  );
  await host.start();
  for (let i = 0; i < 4; i++) await host.propose({ put: { key: Buffer.from(`k${i}`), value: Buffer.alloc(40_000, i) } });
  want = encodeSnapshotFile(encodeBackendSnapshot(handles.backend));
  const config = { maxTxnOps: 128 } as Config;
  const services: Services = {
    kv: new KvServiceImpl(host, config),
    maintenance: new MaintenanceServiceImpl(host, handles),
  };
  transport = new GrpcTransport(services, { address: '127.0.0.1:0', maxFrameBytes: 1 << 20, maxQueuedBytes: 1 << 20, metrics }, silentLogger);
  const { port } = await transport.listen();
  authority = `http://127.0.0.1:${port}`;
  client = await RawGrpcClient.connect(authority);
});

after(async () => {
  await client?.close();
  await transport?.close();
  await host?.stop();
});

test('Maintenance.Snapshot over gRPC: chunks, remaining bytes, digest, OK', async () => {
  const out = await client.call('/etcdserverpb.Maintenance/Snapshot', [frame(Buffer.alloc(0))]);
  assert.equal(out.status, 0);
  const msgs = out.messages.map((b) => SnapshotRes.decode(b) as { remainingBytes: number; blob: Uint8Array });
  assert.ok(msgs.length >= 6, `${msgs.length} messages`);
  const payload = want.length - 32;
  let sent = 0;
  for (const m of msgs.slice(0, -1)) {
    assert.ok(m.blob.length <= SNAPSHOT_CHUNK_BYTES);
    sent += m.blob.length;
    assert.equal(m.remainingBytes, payload - sent);
  }
  assert.equal(msgs.at(-1)!.remainingBytes, 0);
  assert.deepEqual(Buffer.concat(msgs.map((m) => m.blob)), want);
});

test('a client that resets a snapshot stream releases it', async () => {
  const s = client.open('/etcdserverpb.Maintenance/Snapshot', [frame(Buffer.alloc(0))], {}, true);
  await s.next();
  s.req.close(http2.constants.NGHTTP2_CANCEL);
  await s.done;
  for (let i = 0; i < 200 && transport.stats().callsInFlight > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(transport.stats().callsInFlight, 0);
});

test('gRPC calls are counted by method, type and code; /metrics serves them over HTTP/1.1 and HTTP/2', async () => {
  assert.equal((await client.call('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: Buffer.from('k1') })])).status, 0);
  const future = await client.call('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: Buffer.from('k1'), revision: 999 })]);
  assert.equal(future.status, Status.OUT_OF_RANGE);
  const watch = await client.call('/etcdserverpb.Watch/Watch', []);
  assert.equal(watch.status, Status.UNIMPLEMENTED, 'no watch service in these services');

  const res = await fetch(`${authority}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const has = (line: string): void => assert.ok(text.split('\n').includes(line), `missing: ${line}\n${text}`);
  const range = 'grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range"';
  const snap = 'grpc_type="server_stream",grpc_service="etcdserverpb.Maintenance",grpc_method="Snapshot"';
  const watchLabels = 'grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch"';
  has(`grpc_server_started_total{${range}} 2`);
  has(`grpc_server_handled_total{${range},grpc_code="OK"} 1`);
  has(`grpc_server_handled_total{${range},grpc_code="OutOfRange"} 1`);
  has(`grpc_server_started_total{${snap}} 2`);
  has(`grpc_server_handled_total{${snap},grpc_code="OK"} 1`);
  has(`grpc_server_handled_total{${snap},grpc_code="Canceled"} 1`);
  has(`grpc_server_handled_total{${watchLabels},grpc_code="Unimplemented"} 1`);
  // The host's gauges, set at scrape time.
  has('etcd_server_has_leader 1');
  has('etcd_server_proposals_applied_total 5');
  has('etcd_debugging_mvcc_keys_total 4');
  has('etcd_disk_wal_fsync_duration_seconds_count 5');

  // Over HTTP/2 (a request that is not gRPC goes to the same endpoints).
  const h2 = http2.connect(authority);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = h2.request({ ':path': '/metrics' });
      let t = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (t += d));
      req.on('end', () => resolve(t));
      req.on('error', reject);
    });
    assert.ok(body.includes('etcd_server_has_leader 1'));
  } finally {
    h2.close();
  }
});
