// Seeded fuzzing of the grpc listener's HTTP/2 server: each round opens a connection, sends the
// preface and a mix of well-formed frames (SETTINGS, requests split over HEADERS/CONTINUATION,
// DATA, PING, WINDOW_UPDATE, RST_STREAM, PRIORITY, GOAWAY, unknown types) that is then mutated
// (bytes flipped, cut, duplicated, random bytes inserted), and half-closes. Whatever arrives,
// the connection must end (with a GOAWAY carrying a known error code, or a plain close), no
// exception may escape (it would fail this process), every call must be released, and the
// server must still answer a fresh gRPC call and the HTTP/2 gateway afterwards. Watch creates
// are answered with bursts of event replies (see burstWatch), under the random windows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { codecOf } from '../../src/codec/messages.js';
import type { WatchRequest, WatchResponse } from '../../src/core/api/watch.js';
import type { Services, StreamHandlers, StreamSink } from '../../src/core/ports/services.js';
import { GrpcTransport } from '../../src/transports/grpc/grpc-transport.js';
import { encodeHeaders } from '../../src/transports/http/hpack.js';
import { huffmanEncode } from '../../src/transports/http/hpack-huffman.js';
import { FakeServices, MemoryLogger } from '../helpers/fake-services.js';
import { frameOf, RawGrpcClient } from './grpc-raw-client.js';
import { frameBytes, grpcRequestBlock, RawH2, settingsPayload, T, u32 } from './h2-raw.js';
import { mulberry32 } from '../helpers/random.js';

const RangeReq = codecOf('etcdserverpb.RangeRequest');
const PutReq = codecOf('etcdserverpb.PutRequest');
const WatchReq = codecOf('etcdserverpb.WatchRequest');
const ROUNDS = 500;

let fake: FakeServices;
let transport: GrpcTransport;
let port: number;

before(async () => {
  fake = new FakeServices(9);
  fake.holding = false;
  const services: Services = { kv: fake.kv, maintenance: fake.maintenance, watch: { open: burstWatch } };
  transport = new GrpcTransport(
    services,
    { address: '127.0.0.1:0', maxFrameBytes: 64 * 1024, maxQueuedBytes: 1 << 20, maxCallsPerConnection: 8 },
    new MemoryLogger(),
  );
  port = (await transport.listen()).port;
});

after(async () => {
  await transport?.close();
});

const rng = mulberry32;
/** Watch creates answered with a burst. */
let bursts = 0;

/**
 * A watch service that answers each create with its created reply and a burst of 30 event
 * replies of 0 to ~20 KB, as a fan-out does: they go straight into the connection's output, or
 * through the stream's queue when the (random) windows do not allow it.
 */
function burstWatch(sink: StreamSink<WatchResponse>): StreamHandlers<WatchRequest> {
  return {
    message: (req) => {
      if (req.createRequest === undefined) return;
      bursts++;
      const header = { clusterId: 1, memberId: 2, revision: 3, raftTerm: 1 };
      sink.send({ header, watchId: 0, created: true, events: [] });
      for (let i = 0; i < 30; i++) {
        const kv = { key: Buffer.from('a'), createRevision: 3, modRevision: 3, version: 1, value: Buffer.alloc((i * 691) % 20_000, i), lease: 0 };
        sink.send({ header, watchId: i % 2, events: [{ type: 0, kv }] });
      }
    },
    end: () => {},
    cancel: () => {},
  };
}

function script(r: () => number): Buffer {
  const int = (n: number): number => Math.floor(r() * n);
  const parts: Buffer[] = [frameBytes(T.SETTINGS, 0, 0, settingsPayload([[4, int(70000)], [5, 16384 + int(3) * 1000]]))];
  let id = 1;
  const n = 1 + int(8);
  for (let i = 0; i < n; i++) {
    switch (int(10)) {
      case 0:
      case 1: {
        const path = ['/etcdserverpb.KV/Range', '/etcdserverpb.KV/Put', '/etcdserverpb.Watch/Watch', '/v3/kv/range', '/health', '/nope'][int(6)]!;
        const block = r() < 0.5 ? grpcRequestBlock(path) : encodeHeaders([':method', 'POST', ':path', path, ':authority', huffmanEncode('x').toString('latin1')]);
        const body = path.includes('Put') ? frameOf(PutReq, { key: Buffer.from(`f/${i}`) }) : path.includes('Watch') ? frameOf(WatchReq, { createRequest: { key: Buffer.from('a') } }) : frameOf(RangeReq, { key: Buffer.from('a') });
        if (r() < 0.3) {
          const cut = int(block.length);
          parts.push(frameBytes(T.HEADERS, 0, id, block.subarray(0, cut)), frameBytes(T.CONTINUATION, 0x4, id, block.subarray(cut)));
        } else {
          parts.push(frameBytes(T.HEADERS, 0x4, id, block));
        }
        parts.push(frameBytes(T.DATA, r() < 0.7 ? 1 : 0, id, body));
        id += 2;
        break;
      }
      case 2:
        parts.push(frameBytes(T.PING, int(2), 0, Buffer.alloc(8, int(256))));
        break;
      case 3:
        parts.push(frameBytes(T.WINDOW_UPDATE, 0, int(2) === 0 ? 0 : Math.max(1, id - 2), u32(1 + int(100000))));
        break;
      case 4:
        parts.push(frameBytes(T.RST_STREAM, 0, Math.max(1, id - 2), u32(int(14))));
        break;
      case 5:
        parts.push(frameBytes(T.PRIORITY, 0, id, Buffer.concat([u32(int(5)), Buffer.from([int(256)])])));
        break;
      case 6:
        parts.push(frameBytes(0x20 + int(200), int(256), int(10), Buffer.alloc(int(40), int(256))));
        break;
      case 7:
        parts.push(frameBytes(T.SETTINGS, int(2), 0, settingsPayload([[1 + int(7), int(1 << 20)]])));
        break;
      case 8:
        parts.push(frameBytes(T.DATA, int(16), int(6), Buffer.alloc(int(300), int(256))));
        break;
      default:
        parts.push(frameBytes(T.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(0)])));
    }
  }
  return Buffer.concat(parts);
}

function mutate(r: () => number, b: Buffer): Buffer {
  const int = (n: number): number => Math.floor(r() * n);
  let out = Buffer.from(b);
  const edits = int(4);
  for (let e = 0; e < edits; e++) {
    switch (int(4)) {
      case 0:
        if (out.length > 0) out[int(out.length)] = int(256);
        break;
      case 1:
        out = out.subarray(0, int(out.length + 1));
        break;
      case 2: {
        const at = int(out.length + 1);
        out = Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(12) }, () => int(256))), out.subarray(at)]);
        break;
      }
      default: {
        const at = int(out.length + 1);
        const len = int(64);
        out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + len), out.subarray(at)]);
      }
    }
  }
  return out;
}

const KNOWN_CODES = new Set([0, 1, 2, 3, 5, 6, 9, 11]);

test(`fuzz: ${ROUNDS} mutated frame sequences; every connection ends, the server keeps serving`, { timeout: 120_000 }, async () => {
  const r = rng(0x5eed);
  const codes = new Map<number, number>();
  for (let round = 0; round < ROUNDS; round++) {
    const c = await RawH2.connect(port);
    const bytes = mutate(r, script(r));
    // Written in a few pieces, so frames also arrive split across reads.
    let at = 0;
    while (at < bytes.length) {
      const n = 1 + Math.floor(r() * 200);
      c.write(bytes.subarray(at, at + n));
      at += n;
    }
    c.socket.end();
    await c.closed;
    const goaway = c.pending().find((f) => f.type === T.GOAWAY);
    if (goaway !== undefined) {
      const code = goaway.payload.readUInt32BE(4);
      assert.ok(KNOWN_CODES.has(code), `round ${round}: GOAWAY code ${code}`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  }
  // The mutations did reach the error paths.
  assert.ok((codes.get(1) ?? 0) > 0, `PROTOCOL_ERROR seen: ${JSON.stringify([...codes])}`);
  assert.ok(codes.size >= 3, `codes seen: ${JSON.stringify([...codes])}`);
  assert.ok(bursts >= 5, `${bursts} watch bursts`);
  const client = await RawGrpcClient.connect(`http://127.0.0.1:${port}`);
  try {
    const out = await client.call('/etcdserverpb.KV/Range', [frameOf(RangeReq, { key: Buffer.from('a') })]);
    assert.equal(out.status, 0);
    const s = client.session.request({ ':method': 'GET', ':path': '/version' });
    const body = await new Promise<string>((resolve) => {
      let t = '';
      s.on('data', (d: Buffer) => (t += d.toString()));
      s.on('end', () => resolve(t));
      s.end();
    });
    assert.match(body, /etcdserver/);
    assert.equal(transport.stats().callsInFlight, 0);
    assert.equal(transport.stats().connections, 1);
  } finally {
    await client.close();
  }
});
