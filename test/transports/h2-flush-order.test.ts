// The write scheduling of the grpc listener's HTTP/2 connections (h2-connection.ts), on
// connections over in-memory sockets that record every write: a connection with a bulk of
// output (a watch fan-out) writes after the small answers other connections produced in the same
// turn (the put that caused it), small outputs keep their order, and the bulk is written whole
// (one DATA frame per 16 KiB, flow control exact) within the same turn; the write buffer is
// reused from its start once the socket took every byte, and never while it holds some.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { H2Connection, H2_PREFACE, type H2Options, type H2Stream } from '../../src/transports/http/h2-connection.js';
import { MemoryLogger } from '../helpers/fake-services.js';
import { frameBytes, grpcRequestBlock, settingsPayload, T } from './h2-raw.js';

const OPTIONS: H2Options = {
  maxConcurrentStreams: 10,
  streamWindow: 65535,
  connectionWindow: 1 << 20,
  maxHeaderListSize: 65536,
  maxQueuedBytes: 1 << 20,
};

/** Every write of every fake socket, in order: [socket name, bytes]. */
const writes: [string, Buffer][] = [];

/** The part of net.Socket an H2Connection uses, writing into `writes`. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  /** Buffers as written (not copied), for the chunk reuse test. */
  readonly held: Buffer[] = [];
  /** Whether written bytes stay queued (a client that does not read) instead of leaving at once. */
  backedUp = false;
  constructor(readonly name: string) {
    super();
  }
  write(b: Buffer): boolean {
    writes.push([this.name, Buffer.from(b)]);
    this.held.push(b);
    if (this.backedUp) this.writableLength += b.length;
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): void {}
  resume(): void {}
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A connection past its preface with stream 1 open; resolves with the stream. */
async function open(name: string, socket = new FakeSocket(name)): Promise<H2Stream> {
  let stream: H2Stream | null = null;
  const conn = new H2Connection(socket as unknown as net.Socket, OPTIONS, (s) => void (stream = s), new MemoryLogger());
  conn.onData(Buffer.concat([H2_PREFACE, frameBytes(T.SETTINGS, 0, 0, settingsPayload([])), frameBytes(T.HEADERS, 0x4, 1, grpcRequestBlock('/x.Y/Z'))]));
  await turn();
  assert.ok(stream !== null);
  return stream;
}

/** DATA frames in `bytes` (a sequence of whole frames): their payload lengths. */
function dataFrames(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let p = 0; p < bytes.length; ) {
    const len = bytes.readUIntBE(p, 3);
    if (bytes[p + 3] === T.DATA) out.push(len);
    p += 9 + len;
  }
  assert.equal(bytes.length > 0, true);
  return out;
}

test('a bulk of output is written after the small answers of the same turn', async () => {
  const bulk = await open('bulk');
  const small = await open('small');
  const other = await open('other');
  writes.length = 0;
  // One turn: 100 replies of 200 bytes on one connection (a fan-out), then an answer on another.
  for (let i = 0; i < 100; i++) bulk.write(Buffer.alloc(200, i));
  small.write(Buffer.alloc(30, 1));
  await turn();
  assert.deepEqual(
    writes.map(([n]) => n),
    ['small', 'bulk'],
  );
  const sizes = dataFrames(Buffer.concat(writes.filter(([n]) => n === 'bulk').map(([, b]) => b)));
  assert.deepEqual(sizes, [81 * 200, 19 * 200], 'the replies share DATA frames (whole payloads, up to 16 KiB)');
  // Small outputs keep the order they were produced in.
  writes.length = 0;
  other.write(Buffer.alloc(30, 2));
  small.write(Buffer.alloc(30, 3));
  bulk.write(Buffer.alloc(30, 4));
  await turn();
  assert.deepEqual(
    writes.map(([n]) => n),
    ['other', 'small', 'bulk'],
  );
  // The stream window (65535) is exact: 20,000 + 30 sent, the rest of 50,000 waits.
  writes.length = 0;
  for (let i = 0; i < 250; i++) bulk.write(Buffer.alloc(200, i));
  await turn();
  const sent = dataFrames(Buffer.concat(writes.map(([, b]) => b))).reduce((a, b) => a + b, 0);
  assert.equal(sent, 65535 - 20000 - 30);
  assert.equal(bulk.queuedBytes, 50000 - sent);
});

test('the write buffer is reused only once the socket took every byte', async () => {
  const socket = new FakeSocket('reuse');
  const stream = await open('reuse', socket);
  const turnOf = async (fill: number): Promise<Buffer> => {
    socket.held.length = 0;
    for (let i = 0; i < 10; i++) stream.write(Buffer.alloc(100, fill));
    await turn();
    assert.equal(socket.held.length, 1);
    return socket.held[0]!;
  };
  const a = await turnOf(1);
  const b = await turnOf(2);
  assert.equal(b.buffer, a.buffer, 'same chunk');
  assert.equal(b.byteOffset, 0, 'from its start');
  // Bytes the socket still holds are never overwritten.
  socket.backedUp = true;
  const c = await turnOf(3);
  const copy = Buffer.from(c);
  const d = await turnOf(4);
  assert.deepEqual(c, copy, 'held bytes intact');
  assert.ok(d.byteOffset >= c.byteOffset + c.length || d.buffer !== c.buffer, 'written after them');
  assert.deepEqual(dataFrames(d), [1000]);
});
