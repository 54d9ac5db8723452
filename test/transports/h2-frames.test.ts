// The grpc listener's own HTTP/2 server (src/transports/http/h2-connection.ts) frame by frame,
// over a real socket on 127.0.0.1 port 0, with a client that writes raw frames (h2-raw.ts):
// the server preface and SETTINGS ACK, PING, any :authority (etcd 3.4's `http://host:port`),
// padded and CONTINUATION-split requests, flow control (a client with a 4 KiB stream window
// receiving a multi-MB server stream never gets more than its windows, and the service sees
// backpressure), INITIAL_WINDOW_SIZE changes applied to open streams, the concurrent-stream
// limit (REFUSED_STREAM), RST_STREAM cancelling a watch, a burst of watch replies sharing DATA
// frames (and arriving whole and in order through a tiny stream window, written partly
// straight into the output and partly queued), and connection errors answered with GOAWAY and
// the right code while the server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { codecOf } from '../../src/codec/messages.js';
import type { SnapshotRequest, SnapshotResponse } from '../../src/core/api/kv.js';
import type { WatchRequest, WatchResponse } from '../../src/core/api/watch.js';
import type { Services, StreamSink } from '../../src/core/ports/services.js';
import { GrpcTransport } from '../../src/transports/grpc/grpc-transport.js';
import { MessageReader } from '../../src/transports/grpc/grpc-frame.js';
import { encodeHeaders } from '../../src/transports/http/hpack.js';
import { FakeServices, MemoryLogger } from '../helpers/fake-services.js';
import { frame, frameOf } from './grpc-raw-client.js';
import { frameBytes, grpcRequestBlock, RawH2, T, u32, type Frame } from './h2-raw.js';

const RangeReq = codecOf('etcdserverpb.RangeRequest');
const RangeRes = codecOf('etcdserverpb.RangeResponse');
const WatchReq = codecOf('etcdserverpb.WatchRequest');
const WatchRes = codecOf('etcdserverpb.WatchResponse');
const SnapshotRes = codecOf('etcdserverpb.SnapshotResponse');

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const SNAPSHOT_BYTES = 3 * 1024 * 1024;
const CHUNK = 32 * 1024;
const MAX_STREAMS = 4;

/** Byte i of the fake snapshot. */
const snapByte = (i: number): number => (i * 31 + (i >> 11)) & 0xff;

/** A snapshot opener that streams SNAPSHOT_BYTES in chunks, honouring backpressure. */
class FakeSnapshot {
  fullQueues = 0;
  readonly open = (sink: StreamSink<SnapshotResponse>): { message(r: SnapshotRequest): void; end(): void; cancel(): void } => {
    let off = 0;
    let cancelled = false;
    const pump = (): void => {
      while (!cancelled && off < SNAPSHOT_BYTES) {
        const n = Math.min(CHUNK, SNAPSHOT_BYTES - off);
        const blob = Buffer.alloc(n);
        for (let i = 0; i < n; i++) blob[i] = snapByte(off + i);
        off += n;
        if (!sink.send({ remainingBytes: SNAPSHOT_BYTES - off, blob })) {
          this.fullQueues++;
          sink.onDrain(pump);
          return;
        }
      }
      if (!cancelled) sink.close();
    };
    queueMicrotask(pump);
    return { message: () => {}, end: () => {}, cancel: () => void (cancelled = true) };
  };
}

/** Value bytes of the `i`th reply of a burst (see FakeWatch). */
const burstValue = (i: number, size: number): Buffer => Buffer.alloc(size, (i * 37 + 11) & 0xff);

class FakeWatch {
  canceled = 0;
  readonly open = (sink: StreamSink<WatchResponse>): { message(r: WatchRequest): void; end(): void; cancel(): void } => ({
    message: (r) => {
      if (!r.createRequest) return;
      const header = { clusterId: 1, memberId: 1, revision: 1, raftTerm: 1 };
      sink.send({ header, watchId: 1, created: true, events: [] });
      // `burst/<n>/<size>`: n event replies at once, as a fan-out produces them.
      const m = /^burst\/(\d+)\/(\d+)$/.exec(Buffer.from(r.createRequest.key ?? []).toString());
      if (m === null) return;
      const h2 = { ...header, revision: 2 };
      for (let i = 0; i < Number(m[1]); i++) {
        const kv = { key: Buffer.from('k'), createRevision: 2, modRevision: 2, version: 1, value: burstValue(i, Number(m[2])), lease: 0 };
        sink.send({ header: h2, watchId: 1 + (i % 3), events: [{ type: 0, kv }] });
      }
    },
    end: () => {},
    cancel: () => void this.canceled++,
  });
}

let fake: FakeServices;
let snapshot: FakeSnapshot;
let watch: FakeWatch;
let transport: GrpcTransport;
let port: number;

before(async () => {
  fake = new FakeServices(3);
  snapshot = new FakeSnapshot();
  watch = new FakeWatch();
  const services: Services = {
    kv: fake.kv,
    maintenance: { status: fake.maintenance.status, snapshot: snapshot.open },
    watch: { open: watch.open },
  };
  transport = new GrpcTransport(
    services,
    { address: '127.0.0.1:0', maxFrameBytes: 1 << 20, maxQueuedBytes: 256 * 1024, maxCallsPerConnection: MAX_STREAMS },
    new MemoryLogger(),
  );
  port = (await transport.listen()).port;
});

after(async () => {
  await transport?.close();
});

const isHeaders = (id: number) => (f: Frame) => f.type === T.HEADERS && f.id === id;

/** A unary Range on a fresh stream; resolves with the response headers, message and trailers. */
async function range(c: RawH2, id: number, key: string, authority = '127.0.0.1'): Promise<{ status: string | undefined; count: number }> {
  c.send(T.HEADERS, END_HEADERS, id, grpcRequestBlock('/etcdserverpb.KV/Range', [], authority));
  c.send(T.DATA, END_STREAM, id, frameOf(RangeReq, { key: Buffer.from(key) }));
  const head = c.headersOf(await c.next(isHeaders(id)));
  assert.equal(head.get(':status'), '200');
  const data = await c.next((f) => f.type === T.DATA && f.id === id);
  const res = RangeRes.decode(data.payload.subarray(5));
  const trailers = c.headersOf(await c.next(isHeaders(id)));
  return { status: trailers.get('grpc-status'), count: res.count };
}

test('server preface, SETTINGS ACK, PING ACK; any :authority is accepted', { timeout: 20_000 }, async () => {
  const c = await RawH2.connect(port);
  try {
    const settings = await c.next((f) => f.type === T.SETTINGS && (f.flags & ACK) === 0);
    const announced = new Map<number, number>();
    for (let i = 0; i < settings.payload.length; i += 6) announced.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
    assert.equal(announced.get(3), MAX_STREAMS, 'MAX_CONCURRENT_STREAMS');
    assert.ok((announced.get(4) ?? 0) >= 65535, 'INITIAL_WINDOW_SIZE');
    const ack = await c.next((f) => f.type === T.SETTINGS);
    assert.equal(ack.flags & ACK, ACK);
    assert.equal(ack.payload.length, 0);
    c.send(T.PING, 0, 0, Buffer.from('01234567'));
    const pong = await c.next((f) => f.type === T.PING);
    assert.equal(pong.flags, ACK);
    assert.equal(pong.payload.toString(), '01234567');
    // etcd 3.4's clientv3 dials client URLs as `passthrough:///http://…`: this authority.
    assert.deepEqual(await range(c, 1, 'a', 'http://127.0.0.1:2379'), { status: '0', count: 0 });
    assert.deepEqual(await range(c, 3, 'a', ''), { status: '0', count: 0 });
  } finally {
    c.close();
  }
});

test('padded and priority HEADERS split over CONTINUATION, padded DATA', { timeout: 20_000 }, async () => {
  const c = await RawH2.connect(port);
  try {
    const block = grpcRequestBlock('/etcdserverpb.KV/Range', ['x-filler', 'y'.repeat(300)]);
    const head = Buffer.concat([Buffer.from([3]), u32(0), Buffer.from([16]), block.subarray(0, 100), Buffer.alloc(3)]);
    c.send(T.HEADERS, PADDED | PRIORITY, 1, head);
    c.send(T.CONTINUATION, 0, 1, block.subarray(100, 200));
    c.send(T.CONTINUATION, END_HEADERS, 1, block.subarray(200));
    const msg = frameOf(RangeReq, { key: Buffer.from('a') });
    c.send(T.DATA, PADDED | END_STREAM, 1, Buffer.concat([Buffer.from([7]), msg, Buffer.alloc(7)]));
    assert.equal(c.headersOf(await c.next(isHeaders(1))).get(':status'), '200');
    assert.equal(c.headersOf(await c.next(isHeaders(1))).get('grpc-status'), '0');
  } finally {
    c.close();
  }
});

test('flow control: a 4 KiB stream window receives a multi-MB snapshot, never more than its windows', { timeout: 60_000 }, async () => {
  const STREAM_WINDOW = 4096;
  const c = await RawH2.connect(port, [[4, STREAM_WINDOW]]);
  try {
    const full = snapshot.fullQueues;
    c.send(T.HEADERS, END_HEADERS, 1, grpcRequestBlock('/etcdserverpb.Maintenance/Snapshot'));
    c.send(T.DATA, END_STREAM, 1, frame(Buffer.alloc(0)));
    let streamWindow = STREAM_WINDOW;
    let connWindow = 65535;
    const got: Buffer[] = [];
    const reader = new MessageReader(
      { onMessage: (b) => got.push(Buffer.from(b)), onBadMessage: (_s, m) => assert.fail(m) },
      1 << 20,
      undefined,
    );
    assert.equal(c.headersOf(await c.next(isHeaders(1))).get(':status'), '200');
    let received = 0;
    for (;;) {
      const f = await c.next((x) => x.id === 1 && (x.type === T.DATA || x.type === T.HEADERS));
      if (f.type === T.HEADERS) {
        assert.equal(c.headersOf(f).get('grpc-status'), '0');
        break;
      }
      assert.ok(f.payload.length <= streamWindow, `DATA of ${f.payload.length} with a stream window of ${streamWindow}`);
      assert.ok(f.payload.length <= connWindow, `DATA of ${f.payload.length} with a connection window of ${connWindow}`);
      streamWindow -= f.payload.length;
      connWindow -= f.payload.length;
      received += f.payload.length;
      reader.push(Buffer.from(f.payload));
      // Credit what was read, in small steps, as a slow reader would.
      if (streamWindow < 1024) {
        c.send(T.WINDOW_UPDATE, 0, 1, u32(STREAM_WINDOW - streamWindow));
        streamWindow = STREAM_WINDOW;
      }
      if (connWindow < 32768) {
        c.send(T.WINDOW_UPDATE, 0, 0, u32(65535 - connWindow));
        connWindow = 65535;
      }
    }
    const blobs = got.map((b) => (SnapshotRes.decode(b) as SnapshotResponse).blob);
    const all = Buffer.concat(blobs);
    assert.equal(all.length, SNAPSHOT_BYTES);
    for (let i = 0; i < all.length; i += 997) assert.equal(all[i], snapByte(i), `byte ${i}`);
    assert.ok(received > SNAPSHOT_BYTES);
    assert.ok(snapshot.fullQueues > full, 'the service saw a full queue and waited for onDrain');
  } finally {
    c.close();
  }
});

test('INITIAL_WINDOW_SIZE 0, then raised: the held answer of an open stream goes out', { timeout: 20_000 }, async () => {
  const c = await RawH2.connect(port, [[4, 0]]);
  try {
    c.send(T.HEADERS, END_HEADERS, 1, grpcRequestBlock('/etcdserverpb.KV/Range'));
    c.send(T.DATA, END_STREAM, 1, frameOf(RangeReq, { key: Buffer.from('a') }));
    assert.equal(c.headersOf(await c.next(isHeaders(1))).get(':status'), '200');
    // A PING round trip: anything the server would have sent on the stream precedes the ACK.
    c.send(T.PING, 0, 0, Buffer.alloc(8));
    await c.next((f) => f.type === T.PING);
    assert.equal(c.pending().filter((f) => f.id === 1).length, 0, 'no DATA without window');
    c.send(T.SETTINGS, 0, 0, Buffer.concat([Buffer.from([0, 4]), u32(65535)]));
    await c.next((f) => f.type === T.DATA && f.id === 1);
    assert.equal(c.headersOf(await c.next(isHeaders(1))).get('grpc-status'), '0');
  } finally {
    c.close();
  }
});

test('streams beyond MAX_CONCURRENT_STREAMS are refused with REFUSED_STREAM', { timeout: 20_000 }, async () => {
  const c = await RawH2.connect(port);
  const held = fake.held.length;
  try {
    for (let i = 0; i < MAX_STREAMS; i++) {
      c.send(T.HEADERS, END_HEADERS, 1 + 2 * i, grpcRequestBlock('/etcdserverpb.KV/Range'));
      c.send(T.DATA, END_STREAM, 1 + 2 * i, frameOf(RangeReq, { key: Buffer.from('hold/limit') }));
    }
    await fake.whenHeld(held + MAX_STREAMS);
    const extra = 1 + 2 * MAX_STREAMS;
    c.send(T.HEADERS, END_HEADERS | END_STREAM, extra, grpcRequestBlock('/etcdserverpb.KV/Range'));
    const rst = await c.next((f) => f.type === T.RST_STREAM && f.id === extra);
    assert.equal(rst.payload.readUInt32BE(0), 7, 'REFUSED_STREAM');
    for (let i = 0; i < MAX_STREAMS; i++) fake.held[held + i]!.release();
    for (let i = 0; i < MAX_STREAMS; i++) await c.next(isHeaders(1 + 2 * i));
    // Slots are free again.
    assert.equal((await range(c, extra + 2, 'a')).status, '0');
  } finally {
    c.close();
  }
});

test('RST_STREAM from the client cancels a watch', { timeout: 20_000 }, async () => {
  const c = await RawH2.connect(port);
  try {
    const before = watch.canceled;
    c.send(T.HEADERS, END_HEADERS, 1, grpcRequestBlock('/etcdserverpb.Watch/Watch'));
    c.send(T.DATA, 0, 1, frameOf(WatchReq, { createRequest: { key: Buffer.from('a') } }));
    await c.next(isHeaders(1));
    await c.next((f) => f.type === T.DATA && f.id === 1);
    c.send(T.RST_STREAM, 0, 1, u32(8));
    c.send(T.PING, 0, 0, Buffer.alloc(8));
    await c.next((f) => f.type === T.PING);
    assert.equal(watch.canceled, before + 1);
    assert.equal((await range(c, 3, 'a')).status, '0');
  } finally {
    c.close();
  }
});

/**
 * Opens a watch of `burst/<n>/<size>` and reads its created reply and n event replies, crediting
 * windows of `streamWindow` and 65535 as a slow reader would; checks that no DATA frame exceeds
 * a window or 16 KiB. Resolves with the DATA frames and the decoded replies.
 */
async function readBurst(c: RawH2, n: number, size: number, streamWindow: number): Promise<{ frames: number; replies: WatchResponse[] }> {
  c.send(T.HEADERS, END_HEADERS, 1, grpcRequestBlock('/etcdserverpb.Watch/Watch'));
  c.send(T.DATA, 0, 1, frameOf(WatchReq, { createRequest: { key: Buffer.from(`burst/${n}/${size}`) } }));
  assert.equal(c.headersOf(await c.next(isHeaders(1))).get(':status'), '200');
  const replies: WatchResponse[] = [];
  const reader = new MessageReader({ onMessage: (b) => replies.push(WatchRes.decode(b)), onBadMessage: (_s, m) => assert.fail(m) }, 1 << 20, undefined);
  let sw = streamWindow;
  let cw = 65535;
  let frames = 0;
  while (replies.length < n + 1) {
    const f = await c.next((x) => x.id === 1 && x.type === T.DATA);
    frames++;
    assert.ok(f.payload.length <= 16384, `DATA of ${f.payload.length}`);
    assert.ok(f.payload.length <= sw && f.payload.length <= cw, `DATA of ${f.payload.length} with windows ${sw} and ${cw}`);
    sw -= f.payload.length;
    cw -= f.payload.length;
    reader.push(Buffer.from(f.payload));
    if (sw < streamWindow / 2) {
      c.send(T.WINDOW_UPDATE, 0, 1, u32(streamWindow - sw));
      sw = streamWindow;
    }
    if (cw < 32768) {
      c.send(T.WINDOW_UPDATE, 0, 0, u32(65535 - cw));
      cw = 65535;
    }
  }
  assert.equal(replies[0]!.created, true);
  for (let i = 0; i < n; i++) {
    const r = replies[1 + i]!;
    assert.equal(r.watchId, 1 + (i % 3), `reply ${i}: watch id`);
    assert.equal(r.header?.revision, 2);
    assert.deepEqual(Buffer.from(r.events[0]!.kv.value), burstValue(i, size), `reply ${i}: value`);
  }
  return { frames, replies };
}

test('a burst of watch replies shares DATA frames (up to 16 KiB each), in order', { timeout: 20_000 }, async () => {
  const c = await RawH2.connect(port);
  try {
    const n = 100;
    const { frames } = await readBurst(c, n, 250, 65535);
    // ~28 KiB of replies: 2 full frames and a partial one, plus maybe the created reply's.
    assert.ok(frames <= 4, `${frames} DATA frames for ${n} replies`);
  } finally {
    c.close();
  }
});

test('a burst of watch replies through a 1000-byte stream window arrives whole and in order', { timeout: 20_000 }, async () => {
  const c = await RawH2.connect(port, [[4, 1000]]);
  try {
    const { frames } = await readBurst(c, 60, 200, 1000);
    assert.ok(frames >= 15, `${frames} DATA frames: the window split the burst`);
    // The stream still works after its queue drained: a cancel goes through, the watch ends.
    const before = watch.canceled;
    c.send(T.RST_STREAM, 0, 1, u32(8));
    c.send(T.PING, 0, 0, Buffer.alloc(8));
    await c.next((f) => f.type === T.PING);
    assert.equal(watch.canceled, before + 1);
  } finally {
    c.close();
  }
});

/** Sends `bytes` after a good preface and expects GOAWAY with `code`, then the close. */
async function expectGoaway(bytes: Buffer, code: number, preface = true): Promise<void> {
  const c = await RawH2.connect(port, [], preface);
  c.write(bytes);
  const g = await c.next((f) => f.type === T.GOAWAY);
  assert.equal(g.payload.readUInt32BE(4), code, `GOAWAY code for ${bytes.subarray(0, 24).toString('hex')}`);
  await c.closed;
}

test('connection errors: GOAWAY with the code, that connection closes, others keep serving', { timeout: 20_000 }, async () => {
  const other = await RawH2.connect(port);
  try {
    const PROTOCOL = 1;
    const FLOW = 3;
    const FRAME_SIZE = 6;
    const COMPRESSION = 9;
    await expectGoaway(frameBytes(T.DATA, 0, 0, Buffer.alloc(1)), PROTOCOL);
    await expectGoaway(frameBytes(T.HEADERS, END_HEADERS, 2, encodeHeaders([':method', 'GET', ':path', '/'])), PROTOCOL);
    await expectGoaway(frameBytes(T.DATA, 0, 5, Buffer.alloc(1)), PROTOCOL, true);
    await expectGoaway(Buffer.concat([frameBytes(T.HEADERS, 0, 1, encodeHeaders([':method', 'GET'])), frameBytes(T.PING, 0, 0, Buffer.alloc(8))]), PROTOCOL);
    await expectGoaway(frameBytes(T.CONTINUATION, END_HEADERS, 1, Buffer.alloc(1)), PROTOCOL);
    await expectGoaway(frameBytes(T.PUSH_PROMISE, END_HEADERS, 1, Buffer.alloc(4)), PROTOCOL);
    await expectGoaway(frameBytes(T.PING, 0, 0, Buffer.alloc(7)), FRAME_SIZE);
    await expectGoaway(frameBytes(T.SETTINGS, 0, 0, Buffer.alloc(5)), FRAME_SIZE);
    await expectGoaway(frameBytes(T.SETTINGS, 0, 0, Buffer.from([0, 5, 0, 0, 0, 1])), PROTOCOL);
    await expectGoaway(frameBytes(T.SETTINGS, 0, 0, Buffer.concat([Buffer.from([0, 4]), u32(0x80000000)])), FLOW);
    await expectGoaway(frameBytes(T.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)), FLOW);
    await expectGoaway(frameBytes(T.WINDOW_UPDATE, 0, 0, u32(0)), PROTOCOL);
    await expectGoaway(frameBytes(T.HEADERS, END_HEADERS, 1, Buffer.from([0x80])), COMPRESSION);
    const big = Buffer.alloc(9);
    big.writeUIntBE(16385, 0, 3);
    await expectGoaway(big, FRAME_SIZE);
    // Garbage after the preface, and a first frame that is not SETTINGS. (A bad preface is
    // not HTTP/2 to the listener: HTTP/1.1 answers it, see grpc.test.ts.)
    await expectGoaway(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + 'x'.repeat(9)), FRAME_SIZE, false);
    await expectGoaway(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frameBytes(T.PING, 0, 0, Buffer.alloc(8))]), PROTOCOL, false);
    assert.equal((await range(other, 1, 'a')).status, '0');
  } finally {
    other.close();
  }
});

test('stream errors reset only the stream; unknown frame types are ignored', { timeout: 20_000 }, async () => {
  const c = await RawH2.connect(port);
  try {
    c.send(0x42, 0xff, 0, Buffer.from('whatever'));
    c.send(T.PRIORITY, 0, 9, Buffer.alloc(5));
    // A request without :path.
    c.send(T.HEADERS, END_HEADERS | END_STREAM, 1, encodeHeaders([':method', 'POST', 'content-type', 'application/grpc']));
    const rst = await c.next((f) => f.type === T.RST_STREAM && f.id === 1);
    assert.equal(rst.payload.readUInt32BE(0), 1);
    assert.equal((await range(c, 11, 'a')).status, '0');
  } finally {
    c.close();
  }
});
