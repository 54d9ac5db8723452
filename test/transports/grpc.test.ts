// The grpc listener in process, over the toy FakeServices, on 127.0.0.1 port 0: gRPC calls
// sent by a bare HTTP/2 client (grpc-raw-client.ts) and HTTP/1.1 requests sent with fetch /
// node:http to the same port. Checks the framing (prefix, trailers, trailers-only errors with
// percent-encoded etcd messages), every error path a client can provoke (unknown service or
// method, undecodable protobuf, bad prefix flag, oversized message, compression, a request that
// ends early) with the connection and server still serving afterwards, cancellation and
// grpc-timeout reaching the service as an aborted signal, streams (open, messages, half-close,
// cancel, backpressure), the HTTP/2 settings, and the JSON gateway's conventions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { codecOf } from '../../src/codec/messages.js';
import type { WatchRequest, WatchResponse } from '../../src/core/api/watch.js';
import { CompactedError, KvError, Status } from '../../src/core/errors.js';
import type { Services, StreamSink } from '../../src/core/ports/services.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_QUEUED_BYTES } from '../../src/transports/codec/options.js';
import { MessageReader, percentEncode, percentDecode, parseTimeoutMs } from '../../src/transports/grpc/grpc-frame.js';
import { ExtraCodec } from '../../src/transports/grpc/grpc-schema.js';
import { etcdClientUrls } from '../../src/transports/grpc/rpcs.js';
import { GrpcTransport } from '../../src/transports/grpc/grpc-transport.js';
import { splitJsonValues } from '../../src/transports/http/gateway.js';
import { FakeServices, MemoryLogger } from '../helpers/fake-services.js';
import { frame, frameOf, RawGrpcClient } from './grpc-raw-client.js';

const b = (s: string): Buffer => Buffer.from(s);
const PutReq = codecOf('etcdserverpb.PutRequest');
const PutRes = codecOf('etcdserverpb.PutResponse');
const RangeReq = codecOf('etcdserverpb.RangeRequest');
const RangeRes = codecOf('etcdserverpb.RangeResponse');
const TxnReq = codecOf('etcdserverpb.TxnRequest');
const TxnRes = codecOf('etcdserverpb.TxnResponse');
const WatchReq = codecOf('etcdserverpb.WatchRequest');
const WatchRes = codecOf('etcdserverpb.WatchResponse');
const StatusReq = codecOf('etcdserverpb.StatusRequest');
const StatusRes = codecOf('etcdserverpb.StatusResponse');
const MemberListReq = codecOf('etcdserverpb.MemberListRequest');
const MemberListRes = codecOf('etcdserverpb.MemberListResponse');
const AlarmReq = codecOf('etcdserverpb.AlarmRequest');
const AlarmRes = codecOf('etcdserverpb.AlarmResponse');
const MoveLeaderReq = codecOf('etcdserverpb.MoveLeaderRequest');
const HealthReq = new ExtraCodec('grpc.health.v1.HealthCheckRequest');
const HealthRes = new ExtraCodec('grpc.health.v1.HealthCheckResponse');
const AuthStatusReq = new ExtraCodec('etcdserverpb.AuthStatusRequest');
const AuthStatusRes = new ExtraCodec('etcdserverpb.AuthStatusResponse');
const AuthenticateReq = new ExtraCodec('etcdserverpb.AuthenticateRequest');

const MAX = 64 * 1024;

/** Polls `cond` on timer turns until it holds (bounded, so a bug fails instead of hanging). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

/** A scripted Watch service: replies `created` to creates, and lets the test drive the sink. */
class FakeWatch {
  sinks: StreamSink<WatchResponse>[] = [];
  ended = 0;
  canceled = 0;
  received: WatchRequest[] = [];
  readonly open = (sink: StreamSink<WatchResponse>): { message(r: WatchRequest): void; end(): void; cancel(): void } => {
    this.sinks.push(sink);
    return {
      message: (r) => {
        this.received.push(r);
        const header = { clusterId: 77, memberId: 1, revision: 9, raftTerm: 2 };
        if (r.createRequest) sink.send({ header, watchId: this.received.length, created: true, events: [] });
        else if (r.cancelRequest) sink.close();
        else if (r.progressRequest) sink.close(new CompactedError(3));
      },
      end: () => void this.ended++,
      cancel: () => void this.canceled++,
    };
  };
}

let fake: FakeServices;
let watch: FakeWatch;
let logger: MemoryLogger;
let transport: GrpcTransport;
let authority: string;
let client: RawGrpcClient;

before(async () => {
  fake = new FakeServices(5);
  watch = new FakeWatch();
  logger = new MemoryLogger();
  const services: Services = { kv: fake.kv, maintenance: fake.maintenance, watch: { open: watch.open } };
  transport = new GrpcTransport(
    services,
    {
      address: '127.0.0.1:0',
      maxFrameBytes: MAX,
      maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES,
      maxCallsPerConnection: 50,
      memberName: 'm1',
      peerUrls: ['http://127.0.0.1:2380'],
    },
    logger,
  );
  const { port } = await transport.listen();
  authority = `http://127.0.0.1:${port}`;
  client = await RawGrpcClient.connect(authority);
});

after(async () => {
  await client?.close();
  await transport?.close();
});

test('framing helpers', () => {
  assert.equal(percentEncode('etcdserver: key is not provided'), 'etcdserver: key is not provided');
  assert.equal(percentEncode('100% ü\n'), '100%25 %C3%BC%0A');
  assert.equal(percentDecode(percentEncode('100% ü\n')), '100% ü\n');
  assert.equal(parseTimeoutMs('5S'), 5000);
  assert.equal(parseTimeoutMs('250m'), 250);
  assert.equal(parseTimeoutMs('2H'), 7_200_000);
  assert.equal(parseTimeoutMs('123456789S'), undefined, 'at most 8 digits');
  assert.equal(parseTimeoutMs('5s'), undefined, 'unknown unit');
  assert.equal(parseTimeoutMs(undefined), undefined);

  // Messages split at every byte boundary, and several per chunk, come out whole.
  const msgs = [b('one'), b(''), Buffer.alloc(300, 7), b('last')];
  const wire = Buffer.concat(msgs.map((m) => frame(m)));
  for (let cut = 0; cut <= wire.length; cut++) {
    const got: Buffer[] = [];
    const r = new MessageReader({ onMessage: (m) => got.push(Buffer.from(m)), onBadMessage: () => assert.fail('bad') }, 1000, undefined);
    r.push(wire.subarray(0, cut));
    r.push(wire.subarray(cut));
    assert.deepEqual(got, msgs, `cut at ${cut}`);
  }
  // One byte at a time.
  const got: Buffer[] = [];
  const r = new MessageReader({ onMessage: (m) => got.push(Buffer.from(m)), onBadMessage: () => assert.fail('bad') }, 1000, undefined);
  for (let i = 0; i < wire.length; i++) r.push(wire.subarray(i, i + 1));
  assert.deepEqual(got, msgs);
  // An oversized announcement is refused before its body arrives.
  let refused = '';
  const small = new MessageReader({ onMessage: () => assert.fail('delivered'), onBadMessage: (_s, m) => (refused = m) }, 10, undefined);
  small.push(frame(Buffer.alloc(11)).subarray(0, 5));
  assert.equal(refused, 'grpc: received message larger than max (11 vs. 10)');

  assert.deepEqual(splitJsonValues(' {"a":"}"}\n{"b":[1,{"c":2}]} {"d'), { values: ['{"a":"}"}', '{"b":[1,{"c":2}]}'], rest: '{"d' });
  assert.deepEqual(splitJsonValues('garbage'), { values: [], rest: 'garbage' });
});

test('KV calls: answers framed once, headers and OK trailers', async () => {
  const put = await client.unary<{ header: { revision: number }; prevKv: unknown }>(
    '/etcdserverpb.KV/Put',
    PutReq,
    { key: b('a'), value: b('1') },
    PutRes,
  );
  assert.equal(put.outcome.status, 0);
  assert.equal(put.outcome.headers[':status'], 200);
  assert.equal(put.outcome.headers['content-type'], 'application/grpc');
  assert.equal(put.outcome.messages.length, 1);
  assert.equal(put.res!.header.revision, 2);

  const range = await client.unary<{ kvs: { key: Buffer; value: Buffer }[]; count: number }>(
    '/etcdserverpb.KV/Range',
    RangeReq,
    { key: b('a') },
    RangeRes,
  );
  assert.equal(range.outcome.status, 0);
  assert.equal(range.res!.count, 1);
  assert.equal(range.res!.kvs[0]!.value.toString(), '1');

  const txn = await client.unary<{ succeeded: boolean; responses: unknown[] }>(
    '/etcdserverpb.KV/Txn',
    TxnReq,
    { compare: [{ key: b('a') }], success: [{ requestRange: { key: b('a') } }] },
    TxnRes,
  );
  assert.equal(txn.outcome.status, 0);
  assert.equal(txn.res!.succeeded, true);
  assert.equal(txn.res!.responses.length, 1);

  // An empty request message is a valid (all-default) message.
  const status = await client.unary<{ leader: number; dbSize: number }>('/etcdserverpb.Maintenance/Status', StatusReq, {}, StatusRes);
  assert.equal(status.outcome.status, 0);
  assert.equal(status.res!.dbSize, 2 ** 40, 'int64 beyond 32 bits survives');
});

test('service errors: status code and exact etcd message, trailers-only', async () => {
  const compacted = await client.call('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: b('throw/kv') })]);
  assert.equal(compacted.status, Status.OUT_OF_RANGE);
  assert.equal(compacted.message, 'etcdserver: mvcc: required revision has been compacted');
  assert.equal(compacted.messages.length, 0);
  assert.equal(compacted.headers['grpc-status'], String(Status.OUT_OF_RANGE), 'trailers-only: the status is in the headers');

  const arg = await client.call('/etcdserverpb.KV/Put', [frameOf(PutReq, { key: b('throw/arg') })]);
  assert.equal(arg.status, Status.INVALID_ARGUMENT);
  assert.equal(arg.message, 'etcetera: invalid argument: limit must be >= 0');

  const bug = await client.call('/etcdserverpb.KV/Put', [frameOf(PutReq, { key: b('throw/internal') })]);
  assert.equal(bug.status, Status.INTERNAL);
  assert.equal(bug.message, 'etcetera: internal error');
  assert.ok(logger.entries.some((e) => e.level === 'error'), 'an unexpected error is logged');
});

test('unknown services and methods: Unimplemented, and the connection keeps serving', async () => {
  const svc = await client.call('/v3lockpb.Lock/Lock', [frame(b(''))]);
  assert.equal(svc.status, Status.UNIMPLEMENTED);
  assert.equal(svc.message, 'unknown service v3lockpb.Lock');
  const m = await client.call('/etcdserverpb.KV/Nope', [frame(b(''))]);
  assert.equal(m.status, Status.UNIMPLEMENTED);
  assert.equal(m.message, 'unknown method Nope for service etcdserverpb.KV');
  const snap = await client.call('/etcdserverpb.Maintenance/Snapshot', [frame(b(''))]);
  assert.equal(snap.status, Status.UNIMPLEMENTED);
  const lease = await client.call('/etcdserverpb.Lease/LeaseGrant', [frame(b(''))]);
  assert.equal(lease.status, Status.UNIMPLEMENTED, 'no lease service in these services');
  const ok = await client.call('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: b('a') })]);
  assert.equal(ok.status, 0);
});

test('malformed input gets an error status; the server keeps serving', async () => {
  const before = fake.calls.put;
  // Not protobuf: field 1 announced as length-delimited with a length past the end.
  const garbage = await client.call('/etcdserverpb.KV/Put', [frame(Buffer.from([0x0a, 0xff, 0x01, 0x41]))]);
  assert.equal(garbage.status, Status.INTERNAL);
  assert.match(garbage.message, /^grpc: error unmarshalling request: /);
  // A 64-bit integer beyond 2^53 is refused, not rounded.
  const huge = await client.call('/etcdserverpb.KV/Range', [frame(Buffer.from([0x0a, 0x01, 0x61, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))]);
  assert.equal(huge.status, Status.INTERNAL);
  // Prefix flag other than 0/1.
  const flag = await client.call('/etcdserverpb.KV/Put', [Buffer.from([2, 0, 0, 0, 0])]);
  assert.equal(flag.status, Status.INTERNAL);
  assert.equal(flag.message, 'grpc: received unexpected payload format 2');
  // Compressed flag without an encoding.
  const noEnc = await client.call('/etcdserverpb.KV/Put', [frame(b('x'), true)]);
  assert.equal(noEnc.status, Status.INTERNAL);
  assert.equal(noEnc.message, 'grpc: compressed flag set with identity or empty encoding');
  const badEnc = await client.call('/etcdserverpb.KV/Put', [frame(b('x'), true)], { 'grpc-encoding': 'snappy' });
  assert.equal(badEnc.status, Status.UNIMPLEMENTED);
  // The request ends inside a message, or without one.
  const partial = await client.call('/etcdserverpb.KV/Put', [frame(PutReq.encode({ key: b('p') })).subarray(0, 6)]);
  assert.equal(partial.status, Status.UNKNOWN, "grpc-go's answer");
  assert.equal(partial.message, 'unexpected EOF');
  const empty = await client.call('/etcdserverpb.KV/Put', []);
  assert.equal(empty.status, Status.UNKNOWN);
  assert.equal(empty.message, 'EOF');
  assert.equal(fake.calls.put, before, 'none of these reached the service');
  // gzip-compressed requests are read.
  const gz = await client.call('/etcdserverpb.KV/Put', [frame(gzipSync(PutReq.encode({ key: b('gz'), value: b('z') })), true)], {
    'grpc-encoding': 'gzip',
  });
  assert.equal(gz.status, 0);
  assert.equal(fake.calls.put, before + 1);
});

test('oversized message: grpc-go text, ResourceExhausted, refused before it is buffered', async () => {
  const big = frameOf(PutReq, { key: b('big'), value: Buffer.alloc(MAX + 1) });
  const size = big.length - 5;
  const out = await client.call('/etcdserverpb.KV/Put', [big]);
  assert.equal(out.status, Status.RESOURCE_EXHAUSTED);
  assert.equal(out.message, `grpc: received message larger than max (${size} vs. ${MAX})`);
  // Only the 5-byte prefix is needed to refuse it.
  const s = client.open('/etcdserverpb.KV/Put', [big.subarray(0, 5)], {}, true);
  const early = await new Promise<number>((resolve) => s.req.once('response', (h) => resolve(Number(h['grpc-status']))));
  assert.equal(early, Status.RESOURCE_EXHAUSTED);
  s.req.close();
  // Exactly the limit is fine.
  const fits = frame(Buffer.concat([PutReq.encode({ key: b('fits') }), Buffer.alloc(MAX - PutReq.encode({ key: b('fits') }).length)]));
  assert.equal(fits.length - 5, MAX);
  const ok = await client.call('/etcdserverpb.KV/Put', [fits]);
  assert.notEqual(ok.status, Status.RESOURCE_EXHAUSTED);
});

test('HTTP/2 settings bound concurrent streams per connection', async () => {
  const settings = await client.remoteSettings();
  assert.equal(settings.maxConcurrentStreams, 50);
});

test('client cancel and grpc-timeout abort the call; the answer is dropped', async () => {
  const held = fake.held.length;
  const s = client.open('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: b('hold/cancel') })], {}, false);
  await fake.whenHeld(held + 1);
  const call = fake.held[held]!;
  const signal = call.ctx!.signal!;
  assert.equal(signal.aborted, false);
  assert.equal(transport.stats().callsInFlight, 1);
  s.req.close(http2Cancel);
  await until(() => signal.aborted, 'the signal to abort');
  call.release();
  await s.done;
  await until(() => transport.stats().callsInFlight === 0, 'the call to be released');

  const timed = client.open('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: b('hold/timeout') })], { 'grpc-timeout': '50m' });
  await fake.whenHeld(held + 2);
  const out = await timed.done;
  assert.equal(out.status, Status.DEADLINE_EXCEEDED);
  assert.equal(out.message, 'context deadline exceeded');
  assert.equal(fake.held[held + 1]!.ctx!.signal!.aborted, true);
  fake.held[held + 1]!.release();
});
const http2Cancel = 8; // NGHTTP2_CANCEL

test('member list, alarm, defragment, move-leader, health, auth answer as a single etcd member', async () => {
  const ml = await client.unary<{ header: { memberId: number; revision: number }; members: Record<string, unknown>[] }>(
    '/etcdserverpb.Cluster/MemberList',
    MemberListReq,
    {},
    MemberListRes,
  );
  assert.equal(ml.outcome.status, 0);
  assert.equal(ml.res!.header.memberId, 5);
  assert.equal(ml.res!.header.revision, 0, 'no revision in Cluster headers');
  assert.equal(ml.res!.members.length, 1);
  const m = ml.res!.members[0]!;
  assert.equal(m['ID'], 5);
  assert.equal(m['name'], 'm1');
  assert.deepEqual(m['peerURLs'], ['http://127.0.0.1:2380']);
  assert.deepEqual(m['clientURLs'], [authority]);

  const alarm = await client.unary<{ alarms: unknown[] }>('/etcdserverpb.Maintenance/Alarm', AlarmReq, {}, AlarmRes);
  assert.equal(alarm.outcome.status, 0);
  assert.equal(alarm.outcome.messages[0]!.length, 0, 'no alarms, no header: an empty message');
  const defrag = await client.call('/etcdserverpb.Maintenance/Defragment', [frame(b(''))]);
  assert.equal(defrag.status, 0);
  const move = await client.call('/etcdserverpb.Maintenance/MoveLeader', [frameOf(MoveLeaderReq, { targetID: 6 })]);
  assert.equal(move.status, Status.FAILED_PRECONDITION);
  assert.equal(move.message, 'etcdserver: bad leader transferee');
  const self = await client.call('/etcdserverpb.Maintenance/MoveLeader', [frameOf(MoveLeaderReq, { targetID: 5 })]);
  assert.equal(self.status, 0, 'moving leadership to the leader itself succeeds, as in etcd');

  const health = await client.unary<{ status: number }>('/grpc.health.v1.Health/Check', HealthReq, { service: '' }, HealthRes);
  assert.equal(health.res!.status, 1, 'SERVING');
  const unknown = await client.unary('/grpc.health.v1.Health/Check', HealthReq, { service: 'nope' }, HealthRes);
  assert.equal(unknown.outcome.status, Status.NOT_FOUND);

  const auth = await client.call('/etcdserverpb.Auth/Authenticate', [frameOf(AuthenticateReq, { name: 'root', password: 'x' })]);
  assert.equal(auth.status, Status.FAILED_PRECONDITION);
  assert.equal(auth.message, 'etcdserver: authentication is not enabled');
  const st = await client.unary<{ enabled: boolean; header: { memberId: number } }>('/etcdserverpb.Auth/AuthStatus', AuthStatusReq, {}, AuthStatusRes);
  assert.equal(st.res!.enabled, false);
  assert.equal(st.res!.header.memberId, 5);
  const enable = await client.call('/etcdserverpb.Auth/AuthEnable', [frame(b(''))]);
  assert.equal(enable.message, 'etcdserver: root user does not exist');
});

test('a cluster service answers Cluster RPCs; client URLs are shown as etcd clients dial them', async () => {
  assert.deepEqual(etcdClientUrls(['ws://a:1', 'tcp://a:2', 'grpc://a:3', 'http://b:4', 'https://c:5']), [
    'http://a:3',
    'http://b:4',
    'https://c:5',
  ]);
  const header = { clusterId: 1, memberId: 7, revision: 0, raftTerm: 3 };
  const member = { ID: 7, name: 'n7', peerURLs: ['http://p:1'], clientURLs: ['ws://h:1', 'grpc://h:2'], isLearner: false };
  let moved = 0;
  const cluster = {
    memberList: async () => ({ header, members: [member] }),
    memberAdd: async () => ({ header, member, members: [member] }),
    memberRemove: async () => ({ header, members: [member] }),
    memberUpdate: async () => ({ header, members: [member] }),
    memberPromote: async () => ({ header, members: [member] }),
    moveLeader: async (r: { targetID: number }) => {
      moved = r.targetID;
      return { header };
    },
  };
  const t = new GrpcTransport({ kv: fake.kv, maintenance: fake.maintenance, cluster }, { address: '127.0.0.1:0', maxFrameBytes: MAX, maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES }, logger);
  const { port } = await t.listen();
  const c = await RawGrpcClient.connect(`http://127.0.0.1:${port}`);
  try {
    const ml = await c.unary<{ members: { name: string; clientURLs: string[] }[] }>('/etcdserverpb.Cluster/MemberList', MemberListReq, {}, MemberListRes);
    assert.equal(ml.res!.members[0]!.name, 'n7');
    assert.deepEqual(ml.res!.members[0]!.clientURLs, ['http://h:2']);
    const add = await c.call('/etcdserverpb.Cluster/MemberAdd', [frame(b(''))]);
    assert.equal(add.status, 0);
    const mv = await c.call('/etcdserverpb.Maintenance/MoveLeader', [frameOf(MoveLeaderReq, { targetID: 9 })]);
    assert.equal(mv.status, 0);
    assert.equal(moved, 9);
  } finally {
    await c.close();
    await t.close();
  }
});

test('watch stream: created replies, half-close, server close with and without error', async () => {
  const s = client.open('/etcdserverpb.Watch/Watch', [frameOf(WatchReq, { createRequest: { key: b('a') } })], {}, true);
  const created = WatchRes.decode(await s.next());
  assert.equal(created.created, true);
  assert.equal(created.header.revision, 9);
  s.req.write(frameOf(WatchReq, { createRequest: { key: b('b') } }));
  assert.equal(WatchRes.decode(await s.next()).watchId, 2);
  s.req.end();
  await until(() => watch.ended === 1, 'the half-close to reach the service');
  // The service may keep sending after the client's half-close.
  watch.sinks[0]!.send({ header: { clusterId: 0, memberId: 0, revision: 10, raftTerm: 0 }, watchId: 1, events: [] });
  assert.equal(WatchRes.decode(await s.next()).header.revision, 10);
  watch.sinks[0]!.close();
  const done = await s.done;
  assert.equal(done.status, 0);
  assert.equal(watch.canceled, 0);

  const e = client.open('/etcdserverpb.Watch/Watch', [frameOf(WatchReq, { progressRequest: {} })], {}, true);
  const out = await e.done;
  assert.equal(out.status, Status.OUT_OF_RANGE);
  assert.equal(out.message, 'etcdserver: mvcc: required revision has been compacted');
});

test('watch stream: client cancel and bad messages release the service side', async () => {
  const before = watch.canceled;
  const s = client.open('/etcdserverpb.Watch/Watch', [frameOf(WatchReq, { createRequest: { key: b('a') } })], {}, true);
  await s.next();
  s.req.close(http2Cancel);
  await until(() => watch.canceled === before + 1, 'cancel to reach the service');
  await until(() => transport.stats().callsInFlight === 0, 'the stream to be released');

  const bad = client.open('/etcdserverpb.Watch/Watch', [frame(Buffer.from([0x0a, 0x09]))], {}, true);
  const out = await bad.done;
  assert.equal(out.status, Status.INTERNAL);
  assert.match(out.message, /^grpc: error unmarshalling request/);
  await until(() => watch.canceled === before + 2, 'cancel after a bad message');
});

test('watch stream backpressure: send reports a full queue, onDrain fires once the client reads', async () => {
  const small = new GrpcTransport(
    { kv: fake.kv, maintenance: fake.maintenance, watch: { open: watch.open } },
    { address: '127.0.0.1:0', maxFrameBytes: MAX, maxQueuedBytes: 64 * 1024 },
    logger,
  );
  const { port } = await small.listen();
  // A client with a small window that does not read: the server's writes pile up.
  const c = await RawGrpcClient.connect(`http://127.0.0.1:${port}`, { initialWindowSize: 1024 });
  try {
    const n = watch.sinks.length;
    const s = c.open('/etcdserverpb.Watch/Watch', [frameOf(WatchReq, { createRequest: { key: b('a') } })], {}, true);
    await until(() => watch.sinks.length === n + 1, 'the stream to open');
    s.req.pause();
    const sink = watch.sinks[n]!;
    const ev = { type: 0 as const, kv: { key: b('k'), value: Buffer.alloc(4096), createRevision: 1, modRevision: 1, version: 1, lease: 0 } };
    let sends = 0;
    let ok = true;
    while (ok && sends < 1000) {
      ok = sink.send({ header: { clusterId: 0, memberId: 0, revision: 1, raftTerm: 0 }, watchId: 1, events: [ev] });
      sends++;
    }
    assert.equal(ok, false, 'the queue fills');
    assert.ok(sends < 1000);
    let drained = false;
    sink.onDrain(() => (drained = true));
    assert.equal(drained, false);
    s.req.resume();
    await until(() => drained, 'onDrain after the client reads');
    sink.close();
    await s.done;
  } finally {
    await c.close();
    await small.close();
  }
});

test('a watch is Unimplemented where the service is not wired', async () => {
  const t = new GrpcTransport(fake, { address: '127.0.0.1:0', maxFrameBytes: MAX, maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES }, logger);
  const { port } = await t.listen();
  const c = await RawGrpcClient.connect(`http://127.0.0.1:${port}`);
  try {
    const out = await c.call('/etcdserverpb.Watch/Watch', [frameOf(WatchReq, { createRequest: { key: b('a') } })]);
    assert.equal(out.status, Status.UNIMPLEMENTED);
  } finally {
    await c.close();
    await t.close();
  }
});

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 on the same port.

async function post(path: string, body: string): Promise<{ status: number; text: string; json: () => unknown }> {
  const r = await fetch(`${authority}${path}`, { method: 'POST', body });
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) };
}

test('HTTP/1.1: /health, /version, 404 and 405 as etcd answers them', async () => {
  const h = await fetch(`${authority}/health`);
  assert.equal(h.status, 200);
  assert.equal(await h.text(), '{"health":"true"}');
  assert.equal(h.headers.get('access-control-allow-origin'), '*');
  const v = await fetch(`${authority}/version`);
  assert.deepEqual(await v.json(), { etcdserver: '3.4.0-etcetera', etcdcluster: '3.4.0' });
  const nf = await fetch(`${authority}/nope`);
  assert.equal(nf.status, 404);
  assert.equal(await nf.text(), '404 page not found\n');
  const nf3 = await fetch(`${authority}/v3/nope`);
  assert.equal(nf3.status, 404);
  assert.equal(await nf3.text(), 'Not Found\n');
  const get = await fetch(`${authority}/v3/kv/range`);
  assert.equal(get.status, 405);
  assert.equal(await get.text(), 'Method Not Allowed\n');
  const postHealth = await fetch(`${authority}/health`, { method: 'POST' });
  assert.equal(postHealth.status, 405);
});

test('HTTP/1.1 gateway: etcd JSON conventions', async () => {
  const put = await post('/v3/kv/put', JSON.stringify({ key: b('gw').toString('base64'), value: b('v1').toString('base64') }));
  assert.equal(put.status, 200);
  const rev = (put.json() as { header: { revision: string } }).header.revision;
  assert.equal(typeof rev, 'string', 'int64 as a string');
  const prev = await post('/v3/kv/put', JSON.stringify({ key: 'Z3c=', value: 'djI=', prev_kv: true }));
  const pj = prev.json() as { prev_kv: Record<string, unknown> };
  assert.deepEqual(Object.keys(pj.prev_kv), ['key', 'create_revision', 'mod_revision', 'version', 'value'], 'proto names, zero lease omitted');
  assert.equal(pj.prev_kv['value'], 'djE=');

  const range = await post('/v3/kv/range', '{"key":"Z3c="}');
  const rj = range.json() as { kvs: Record<string, unknown>[]; count: string; more?: boolean };
  assert.equal(rj.count, '1');
  assert.equal(rj.more, undefined, 'false omitted');
  assert.equal(rj.kvs[0]!['value'], 'djI=');
  const co = (await post('/v3/kv/range', '{"key":"Z3c=","countOnly":true}')).json() as Record<string, unknown>;
  assert.equal(co['kvs'], undefined, 'camelCase input accepted (countOnly)');
  assert.equal(co['count'], '1');
  const missing = await post('/v3/kv/range', '{"key":"bm9wZQ=="}');
  assert.deepEqual(Object.keys(missing.json() as object), ['header'], 'no kvs, no count');
  const status = await post('/v3/maintenance/status', '{}');
  const sj = status.json() as Record<string, unknown>;
  assert.equal(sj['dbSize'], String(2 ** 40));
  assert.equal(sj['isLearner'], undefined);
  assert.deepEqual((await post('/v3/maintenance/alarm', '')).json(), {}, 'empty body = empty request; empty answer = {}');
  assert.deepEqual((await post('/v3beta/maintenance/defragment', '{}')).json(), {}, '/v3beta is an alias');
  const ml = (await post('/v3/cluster/member/list', '{}')).json() as { header: Record<string, string>; members: Record<string, unknown>[] };
  assert.equal(ml.header['revision'], undefined);
  assert.equal(ml.members[0]!['ID'], '5');
  assert.equal(ml.members[0]!['name'], 'm1');

  const txn = await post(
    '/v3/kv/txn',
    JSON.stringify({ compare: [{ key: 'Z3c=', target: 'VERSION', result: 'GREATER', version: '0' }], success: [{ request_range: { key: 'Z3c=' } }] }),
  );
  const tj = txn.json() as { succeeded: boolean; responses: { response_range: { count: string } }[] };
  assert.equal(tj.succeeded, true);
  assert.equal(tj.responses[0]!.response_range.count, '1');
});

test('HTTP/1.1 gateway errors: {"error","message","code"} and the HTTP status of the code', async () => {
  const e = await post('/v3/kv/range', '{"key":"dGhyb3cva3Y="}'); // throw/kv
  assert.equal(e.status, 400);
  const msg = 'etcdserver: mvcc: required revision has been compacted';
  assert.deepEqual(e.json(), { error: msg, message: msg, code: Status.OUT_OF_RANGE });
  const bad = await post('/v3/kv/range', 'garbage');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json(), {
    error: "invalid character 'g' looking for beginning of value",
    message: "invalid character 'g' looking for beginning of value",
    code: 3,
  });
  const typ = await post('/v3/kv/range', '{"key":"Zm9v","limit":"x"}');
  assert.equal(typ.status, 400);
  assert.equal((typ.json() as { code: number }).code, 3);
  const auth = await post('/v3/auth/authenticate', '{"name":"a","password":"b"}');
  assert.equal(auth.status, 400);
  assert.equal((auth.json() as { code: number }).code, Status.FAILED_PRECONDITION);
  const un = await post('/v3/lease/grant', '{"TTL":5}');
  assert.equal(un.status, 501);
});

test('HTTP/1.1 gateway watch stream: {"result":…} lines', async () => {
  const lines = await new Promise<string[]>((resolve, reject) => {
    const req = http.request(`${authority}/v3/watch`, { method: 'POST' }, (res) => {
      let buf = '';
      const got: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          got.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (got.length === 2) {
            resolve(got);
            req.destroy();
          }
        }
      });
    });
    req.on('error', reject);
    req.write('{"create_request":{"key":"YQ=="}}{"create_request"');
    req.end(':{"key":"Yg=="}}');
  });
  const first = JSON.parse(lines[0]!) as { result: { created: boolean; header: { revision: string } } };
  assert.equal(first.result.created, true);
  assert.equal(first.result.header.revision, '9');
  assert.equal((JSON.parse(lines[1]!) as { result: { watch_id: string } }).result.watch_id, String(watch.received.length));
});

test('HTTP/2 requests that are not gRPC go to the gateway', async () => {
  const s = client.session.request({ ':method': 'GET', ':path': '/version' });
  const body = await new Promise<string>((resolve) => {
    let t = '';
    s.on('data', (d: Buffer) => (t += d.toString()));
    s.on('end', () => resolve(t));
    s.end();
  });
  assert.equal(body, '{"etcdserver":"3.4.0-etcetera","etcdcluster":"3.4.0"}');
});

test('HTTP/2 gateway: unary JSON call, and a watch stream whose cancel reaches the service', async () => {
  const put = client.session.request({ ':method': 'POST', ':path': '/v3/kv/put', 'content-type': 'application/json' });
  const putAnswer = await new Promise<{ status: number; body: string }>((resolve) => {
    let status = 0;
    let t = '';
    put.on('response', (h) => (status = Number(h[':status'])));
    put.on('data', (d: Buffer) => (t += d.toString()));
    put.on('end', () => resolve({ status, body: t }));
    put.end('{"key":"aDI=","value":"dg=="}');
  });
  assert.equal(putAnswer.status, 200);
  assert.match(putAnswer.body, /"header":\{/);

  const canceled = watch.canceled;
  const s = client.session.request({ ':method': 'POST', ':path': '/v3/watch', 'content-type': 'application/json' });
  const first = await new Promise<string>((resolve) => {
    let t = '';
    s.on('data', (d: Buffer) => {
      t += d.toString();
      const i = t.indexOf('\n');
      if (i >= 0) resolve(t.slice(0, i));
    });
    s.write('{"create_request":{"key":"YQ=="}}');
  });
  assert.equal((JSON.parse(first) as { result: { created: boolean } }).result.created, true);
  s.close(http2Cancel);
  await until(() => watch.canceled === canceled + 1, 'the cancel to reach the watch service');
});

test('a connection that is neither HTTP/1 nor HTTP/2 is closed; others are unaffected', async () => {
  const sock = net.connect(Number(new URL(authority).port), '127.0.0.1');
  const closed = new Promise<string>((resolve) => {
    let t = '';
    sock.on('data', (d) => (t += d.toString()));
    sock.on('close', () => resolve(t));
    sock.on('error', () => {});
  });
  sock.write(Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10, 13, 10]));
  const answer = await closed;
  assert.match(answer, /^HTTP\/1\.1 400/);
  // An HTTP/2 preface followed by junk breaks only that connection.
  const junk = net.connect(Number(new URL(authority).port), '127.0.0.1');
  junk.on('error', () => {});
  junk.resume();
  await new Promise<void>((resolve) => {
    junk.on('close', () => resolve());
    junk.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(64, 0xee)]));
  });
  const ok = await client.call('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: b('a') })]);
  assert.equal(ok.status, 0);
});

test('many concurrent calls on one connection', async () => {
  const n = 200;
  const outs = await Promise.all(
    Array.from({ length: n }, (_, i) => client.unary('/etcdserverpb.KV/Put', PutReq, { key: b(`c/${i}`), value: b(String(i)) }, PutRes)),
  );
  assert.ok(outs.every((o) => o.outcome.status === 0));
  const range = await client.unary<{ count: number }>('/etcdserverpb.KV/Range', RangeReq, { key: b('c/'), rangeEnd: b('c0') }, RangeRes);
  assert.equal(range.res!.count, n);
});

test('stats and close', async () => {
  const st = transport.stats();
  assert.ok(st.connections >= 1);
  assert.equal(st.callsInFlight, 0);
  const t = new GrpcTransport(fake, { address: '127.0.0.1:0', maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES }, logger);
  const { port } = await t.listen();
  const c = await RawGrpcClient.connect(`http://127.0.0.1:${port}`);
  const held = fake.held.length;
  const pending = c.open('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: b('hold/close') })]);
  await fake.whenHeld(held + 1);
  await t.close();
  assert.equal(fake.held[held]!.ctx!.signal!.aborted, true, 'close aborts calls in flight');
  fake.held[held]!.release();
  const out = await pending.done;
  assert.notEqual(out.status, 0);
  assert.equal(t.stats().connections, 0);
  await c.close().catch(() => {});
  void KvError;
});
