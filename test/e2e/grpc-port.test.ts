// The etcd-compatible port of the real server process, for what etcd's operators rely on
// besides the RPCs themselves:
// - limits as etcd applies them, with small configured values (max-request-bytes 4096,
//   max-txn-ops 4, max-calls-per-connection 8): a write larger than max-request-bytes gets
//   `etcdserver: request is too large`, a gRPC message past max-request-bytes + 512 KiB gets
//   grpc-go's ResourceExhausted text before it is read, a txn with too many ops gets
//   `etcdserver: too many operations in txn request`, the HTTP/2 SETTINGS bound concurrent
//   streams per connection, malformed protobuf and malformed JSON get error answers, and the
//   same connection and server keep serving after each;
// - `GET /metrics`: etcd's metric names with values that follow what was done (proposals,
//   keys, fsyncs, gRPC calls by method and code, process memory); on a three-member cluster,
//   every member reports a leader, the leader change it saw and its peers' round-trip times.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { codecOf } from '../../src/codec/messages.js';
import { Status } from '../../src/core/errors.js';
import { memberIdFor } from '../../src/server/ids.js';
import { frame, frameOf, RawGrpcClient } from '../transports/grpc-raw-client.js';
import { freePorts } from './cluster-harness.js';
import { startServer, tempDir, type ServerProcess } from './harness.js';

const PutReq = codecOf('etcdserverpb.PutRequest');
const RangeReq = codecOf('etcdserverpb.RangeRequest');
const RangeRes = codecOf('etcdserverpb.RangeResponse');
const TxnReq = codecOf('etcdserverpb.TxnRequest');

const MAX_REQUEST = 4096;

let server: ServerProcess;
let base: string;
let client: RawGrpcClient;

before(async () => {
  server = await startServer({
    driver: 'lmdb',
    grpcAddress: '127.0.0.1:0',
    extra: [`max-request-bytes: ${MAX_REQUEST}`, 'max-txn-ops: 4', 'max-calls-per-connection: 8'].join('\n'),
  });
  base = server.grpc!.replace('grpc://', 'http://');
  client = await RawGrpcClient.connect(base);
});

after(async () => {
  await client?.close();
  await server?.stop();
});

function httpRequest(method: string, path: string, body?: string): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of the sample `series` (name plus labels, exactly as exposed), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function stillServes(): Promise<void> {
  const { outcome } = await client.unary('/etcdserverpb.KV/Range', RangeReq, { key: Buffer.from('x') }, RangeRes);
  assert.equal(outcome.status, 0, 'the connection still serves');
}

test('limits: request size, txn ops, concurrent streams, malformed input', async () => {
  const tooLarge = await client.call('/etcdserverpb.KV/Put', [frameOf(PutReq, { key: Buffer.from('big'), value: Buffer.alloc(MAX_REQUEST + 1) })]);
  assert.equal(tooLarge.status, Status.INVALID_ARGUMENT);
  assert.equal(tooLarge.message, 'etcdserver: request is too large');
  const fits = await client.call('/etcdserverpb.KV/Put', [frameOf(PutReq, { key: Buffer.from('fits'), value: Buffer.alloc(MAX_REQUEST - 100) })]);
  assert.equal(fits.status, 0);
  await stillServes();

  // Past max-request-bytes + 512 KiB, grpc-go's limit: refused from the 5-byte prefix alone.
  const maxFrame = MAX_REQUEST + 512 * 1024;
  const prefix = Buffer.from([0, 0, 0, 0, 0]);
  prefix.writeUInt32BE(maxFrame + 1, 1);
  const huge = await client.call('/etcdserverpb.KV/Put', [prefix]);
  assert.equal(huge.status, Status.RESOURCE_EXHAUSTED);
  assert.equal(huge.message, `grpc: received message larger than max (${maxFrame + 1} vs. ${maxFrame})`);
  await stillServes();

  const op = (i: number) => ({ requestPut: { key: Buffer.from(`t${i}`), value: Buffer.from('v') } });
  const five = await client.call('/etcdserverpb.KV/Txn', [frameOf(TxnReq, { success: [0, 1, 2, 3, 4].map(op) })]);
  assert.equal(five.status, Status.INVALID_ARGUMENT);
  assert.equal(five.message, 'etcdserver: too many operations in txn request');
  const four = await client.call('/etcdserverpb.KV/Txn', [frameOf(TxnReq, { success: [0, 1, 2, 3].map(op) })]);
  assert.equal(four.status, 0);

  const settings = await client.remoteSettings();
  assert.equal(settings.maxConcurrentStreams, 8, 'max-calls-per-connection bounds the streams of one connection');

  const garbage = await client.call('/etcdserverpb.KV/Put', [frame(Buffer.from([0x0a, 0xff, 0x01, 0x41]))]);
  assert.equal(garbage.status, Status.INTERNAL);
  assert.match(garbage.message, /^grpc: error unmarshalling request: /);
  const watchGarbage = await client.call('/etcdserverpb.Watch/Watch', [frame(Buffer.from([0x0a, 0x05, 0x01]))]);
  assert.equal(watchGarbage.status, Status.INTERNAL);
  await stillServes();

  const badJson = await httpRequest('POST', '/v3/kv/put', '{"key": "YQ==", ');
  assert.equal(badJson.status, 400);
  assert.equal((JSON.parse(badJson.text) as { code: number }).code, Status.INVALID_ARGUMENT);
  const badType = await httpRequest('POST', '/v3/kv/range', '{"key": 5}');
  assert.equal(badType.status, 400);
  const ok = await httpRequest('POST', '/v3/kv/range', '{"key": "Zml0cw=="}');
  assert.equal(ok.status, 200);
  assert.equal((JSON.parse(ok.text) as { count: string }).count, '1');
  await stillServes();
});

test('/metrics: etcd names, values that follow the work done, gRPC calls by code', async () => {
  const before = await httpRequest('GET', '/metrics');
  assert.equal(before.status, 200);
  assert.match(before.type, /^text\/plain; version=0\.0\.4/);
  const applied0 = sample(before.text, 'etcd_server_proposals_applied_total')!;
  const fsyncs0 = sample(before.text, 'etcd_disk_wal_fsync_duration_seconds_count')!;
  const rangeOk = 'grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range",grpc_code="OK"}';
  const rangeOk0 = sample(before.text, rangeOk) ?? 0;

  for (let i = 0; i < 5; i++) {
    const r = await client.call('/etcdserverpb.KV/Put', [frameOf(PutReq, { key: Buffer.from(`m/${i}`), value: Buffer.from('v') })]);
    assert.equal(r.status, 0);
  }
  for (let i = 0; i < 3; i++) await stillServes();
  const future = await client.call('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: Buffer.from('m'), revision: 1_000_000 })]);
  assert.equal(future.status, Status.OUT_OF_RANGE);

  const m = (await httpRequest('GET', '/metrics')).text;
  assert.equal(sample(m, 'etcd_server_has_leader'), 1);
  assert.equal(sample(m, 'etcd_server_leader_changes_seen_total'), 1, 'a single member leads once, from its start');
  assert.equal(sample(m, 'etcd_server_proposals_applied_total'), applied0 + 5);
  assert.equal(sample(m, 'etcd_server_proposals_committed_total'), applied0 + 5);
  assert.equal(sample(m, 'etcd_server_proposals_pending'), 0);
  assert.equal(sample(m, 'etcd_server_proposals_failed_total'), 0);
  // fits, t0..t3 and m/0..m/4 (the big put and the txns that were refused never reached the log).
  assert.equal(sample(m, 'etcd_debugging_mvcc_keys_total'), 10);
  assert.ok(sample(m, 'etcd_mvcc_db_total_size_in_bytes')! > 0);
  assert.ok(sample(m, 'etcd_disk_wal_fsync_duration_seconds_count')! >= fsyncs0 + 1);
  assert.ok(sample(m, 'etcd_disk_backend_commit_duration_seconds_count')! >= 1);
  assert.equal(sample(m, rangeOk), rangeOk0 + 3);
  const kv = (method: string, code: string): number | undefined =>
    sample(m, `grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="${method}",grpc_code="${code}"}`);
  assert.equal(kv('Range', 'OutOfRange'), 1);
  assert.equal(kv('Put', 'InvalidArgument'), 1, 'the request that was too large');
  assert.equal(kv('Put', 'ResourceExhausted'), 1, 'the message past the gRPC limit');
  assert.equal(kv('Put', 'Internal'), 1, 'the malformed one');
  assert.equal(kv('Txn', 'InvalidArgument'), 1);
  assert.ok(
    (sample(m, 'grpc_server_started_total{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch"}') ?? 0) >= 1,
  );
  assert.ok(sample(m, 'process_resident_memory_bytes')! > 1024 * 1024, 'prom-client default metrics (etcdctl check datascale reads this one)');
});

test('/metrics on a three-member cluster: leadership and peer round-trip times', { timeout: 60_000 }, async () => {
  const dir = tempDir('metrics-cluster');
  const ports = await freePorts(12);
  const names = ['a', 'b', 'c'];
  const initial = names.map((n, i) => `${n}=tcp://127.0.0.1:${ports[i * 4]}`).join(',');
  const members = await Promise.all(
    names.map((name, i) =>
      startServer({
        driver: 'lmdb',
        name,
        dataDir: join(dir, name),
        wsAddress: `127.0.0.1:${ports[i * 4 + 1]}`,
        tcpAddress: `127.0.0.1:${ports[i * 4 + 2]}`,
        grpcAddress: `127.0.0.1:${ports[i * 4 + 3]}`,
        extra: [
          `listen-peer-urls: tcp://127.0.0.1:${ports[i * 4]}`,
          `initial-cluster: ${initial}`,
          'initial-cluster-token: metrics',
          'heartbeat-interval: 50',
          'election-timeout: 500',
        ].join('\n'),
      }),
    ),
  );
  try {
    const scrape = (m: ServerProcess): Promise<string> =>
      new Promise((resolve, reject) => {
        http.get(`${m.grpc!.replace('grpc://', 'http://')}/metrics`, (res) => {
          let t = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (t += d));
          res.on('end', () => resolve(t));
        }).on('error', reject);
      });
    const statusOf = async (m: ServerProcess) => {
      const c = new Client({ endpoints: [m.ws], timeoutMs: 2000 });
      try {
        return await c.status();
      } catch {
        return undefined;
      } finally {
        await c.close();
      }
    };
    const ids = names.map((_, i) => memberIdFor(`tcp://127.0.0.1:${ports[i * 4]}`, 'metrics').toString(16));
    // Leadership and the RTT samples (taken every second) appear within a few seconds: poll.
    // NB: a member measures the peers it has a connection to: the leader all of them, a
    // follower the leader (followers do not talk to each other).
    for (const [i, m] of members.entries()) {
      let text = '';
      for (let attempt = 0; ; attempt++) {
        text = await scrape(m);
        const status = await statusOf(m);
        const leader = status?.leader.toString(16);
        const want = leader === ids[i] ? ids.filter((_, j) => j !== i) : leader === undefined ? [] : [leader];
        const ready =
          sample(text, 'etcd_server_has_leader') === 1 &&
          want.length > 0 &&
          want.every((p) => (sample(text, `etcd_network_peer_round_trip_time_seconds_count{To="${p}"}`) ?? 0) > 0);
        if (ready) break;
        assert.ok(attempt < 150, `member ${names[i]}: no leader or no RTT samples:\n${text.split('\n').filter((l) => l.startsWith('etcd_')).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(sample(text, 'etcd_server_leader_changes_seen_total')! >= 1);
      assert.ok(sample(text, 'etcd_server_proposals_committed_total')! >= 1);
      assert.equal(sample(text, `etcd_network_peer_round_trip_time_seconds_count{To="${ids[i]}"}`), undefined, 'no RTT to itself');
    }
  } finally {
    await Promise.all(members.map((m) => m.stop()));
  }
});
