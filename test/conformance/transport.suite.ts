// The client-transport conformance suite: every client transport (ws, tcp) runs it over real
// sockets on 127.0.0.1, port 0, against the toy FakeServices. It checks calls of every method
// through the Client, typed errors, many concurrent calls answered out of order, the error
// replies to malformed / unknown / undecodable / oversized frames (the connection, or at least
// every other connection, keeps working), the per-connection call limit, cancel / timeout /
// disconnect reaching the services as an aborted signal, backpressure against a client that
// stops reading, and client failover between two servers. Waits are on conditions (a held call,
// a frame, a counter), never on fixed sleeps.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { Client } from '../../src/client/client.js';
import { codecOf, type ErrorReply } from '../../src/codec/messages.js';
import { CompactedError, KvError, Status } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/ports/logger.js';
import type { Services } from '../../src/core/ports/services.js';
import { encodeFrame, encodeRawFrame, FrameKind, LENGTH_BYTES } from '../../src/transports/codec/frame.js';
import { FrameDecoder } from '../../src/transports/codec/frame-decoder.js';
import { Methods } from '../../src/transports/codec/methods.js';
import type { ListenerOptions } from '../../src/transports/codec/options.js';
import type { TransportStats } from '../../src/transports/codec/server-session.js';
import { FakeServices, MemoryLogger } from '../helpers/fake-services.js';

/** A started listener. */
export interface RunningTransport {
  /** Where clients connect, e.g. `tcp://127.0.0.1:40123`. */
  readonly url: string;
  stats(): TransportStats;
  close(): Promise<void>;
}

/** How the suite starts one implementation, and what it declares about it. */
export interface TransportFactory {
  readonly name: string;
  /**
   * Whether a connection stays usable after an oversized frame (ws: yes, message boundaries;
   * tcp: no, the connection is closed after the error reply).
   */
  readonly resyncsAfterOversized: boolean;
  start(services: Services, logger: Logger, limits?: Partial<Omit<ListenerOptions, 'address'>>): Promise<RunningTransport>;
}

const b = (s: string): Buffer => Buffer.from(s);
const errorReply = codecOf('etcetera.ErrorReply');

/** Polls `cond` on timer turns until it holds (bounded, so a bug fails instead of hanging). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

interface RawFrame {
  kind: number;
  id: number;
  payload: Buffer;
}

/** A hand-driven protocol connection, to send what a well-behaved client never would. */
class RawConnection {
  private readonly frames: RawFrame[] = [];
  private waiters: (() => void)[] = [];
  private isClosed = false;
  readonly closed: Promise<void>;

  private constructor(
    private readonly socket: net.Socket | null,
    private readonly ws: WebSocket | null,
  ) {
    const onClose = (): void => {
      this.isClosed = true;
      this.wake();
    };
    if (socket !== null) {
      const dec = new FrameDecoder({ onFrame: (f) => this.push(f), onOversized: () => assert.fail('oversized answer') }, 1 << 30);
      socket.on('data', (c: Buffer) => dec.push(c));
      socket.on('error', () => {});
      this.closed = new Promise((r) => socket.once('close', () => r()));
      socket.once('close', onClose);
    } else {
      ws!.on('message', (d: Buffer) => this.push(d));
      ws!.on('error', () => {});
      this.closed = new Promise((r) => ws!.once('close', () => r()));
      ws!.once('close', onClose);
    }
  }

  static async open(url: string): Promise<RawConnection> {
    const u = new URL(url);
    if (u.protocol === 'tcp:') {
      const s = net.connect({ host: u.hostname, port: Number(u.port) });
      await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
      return new RawConnection(s, null);
    }
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new RawConnection(null, ws);
  }

  private push(f: Buffer): void {
    this.frames.push({ kind: f[0]!, id: f.length >= 5 ? f.readUInt32BE(1) : -1, payload: Buffer.from(f.subarray(5)) });
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Sends a frame as built by encodeFrame (the length slot is dropped on ws). */
  send(frame: Buffer): void {
    if (this.socket !== null) this.socket.write(frame);
    else this.ws!.send(frame.subarray(LENGTH_BYTES));
  }

  /** Sends a frame body as is: on tcp behind a correct length prefix, on ws as one message. */
  sendBody(body: Buffer): void {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    this.send(Buffer.concat([len, body]));
  }

  /** The next frame from the server; rejects if the connection closes first. */
  async next(): Promise<RawFrame> {
    for (;;) {
      const f = this.frames.shift();
      if (f !== undefined) return f;
      if (this.isClosed) throw new Error('connection closed');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** How many frames arrived and were not taken yet. */
  get buffered(): number {
    return this.frames.length;
  }

  /** The next frame, which must be an ERROR; returns it decoded. */
  async nextError(): Promise<{ id: number } & ErrorReply> {
    const f = await this.next();
    assert.equal(f.kind, FrameKind.ERROR, `want an ERROR frame, got kind ${f.kind}`);
    return { id: f.id, ...errorReply.decode(f.payload) };
  }

  pauseReading(): void {
    if (this.socket !== null) this.socket.pause();
    else this.ws!.pause();
  }

  resumeReading(): void {
    if (this.socket !== null) this.socket.resume();
    else this.ws!.resume();
  }

  close(): void {
    if (this.socket !== null) this.socket.destroy();
    else this.ws!.terminate();
  }
}

function putFrame(id: number, key: string, value: Buffer = Buffer.alloc(0)): Buffer {
  return encodeFrame(FrameKind.REQUEST, id, Methods.Put.id, Methods.Put.request, { key: b(key), value });
}

/** Runs the suite against `factory`. */
export function transportSuite(factory: TransportFactory): void {
  const name = factory.name;

  async function setup(
    t: TestContext,
    limits?: Partial<Omit<ListenerOptions, 'address'>>,
  ): Promise<{ services: FakeServices; log: MemoryLogger; server: RunningTransport; client: Client }> {
    const services = new FakeServices();
    const log = new MemoryLogger();
    const server = await factory.start(services, log, limits);
    const client = new Client({ endpoints: [server.url], timeoutMs: 10_000 });
    t.after(async () => {
      await client.close();
      await server.close();
    });
    return { services, log, server, client };
  }

  test(`${name}: every unary method round-trips through the client`, async (t) => {
    const { client } = await setup(t);
    const p1 = await client.put({ key: b('a'), value: b('1') });
    assert.equal(p1.header.revision, 2);
    assert.equal(p1.header.memberId, 1);
    const p2 = await client.put({ key: b('a'), value: b('2'), prevKv: true });
    assert.equal(Buffer.from(p2.prevKv!.value).toString(), '1');
    await client.put({ key: b('b'), value: b('3') });
    const r = await client.range({ key: b('a'), rangeEnd: b('c') });
    assert.deepEqual(r.kvs.map((kv) => Buffer.from(kv.key).toString()), ['a', 'b']);
    assert.equal(r.count, 2);
    assert.equal(r.kvs[0]!.version, 2);
    const tx = await client.txnRaw({ compare: [{ key: b('a') }], success: [{ requestPut: { key: b('c'), value: b('4') } }] });
    assert.equal(tx.succeeded, true);
    assert.equal(tx.responses.length, 1);
    assert.equal(tx.responses[0]!.responsePut!.header.revision, 5);
    const d = await client.deleteRange({ key: b('a'), rangeEnd: b('b'), prevKv: true });
    assert.equal(d.deleted, 1);
    assert.equal(Buffer.from(d.prevKvs[0]!.value).toString(), '2');
    const c = await client.compact({ revision: 2 });
    assert.equal(c.header.revision, 6);
    const s = await client.status();
    assert.equal(s.dbSize, 2 ** 40);
    assert.equal(s.version, '3.4.0-toy');
  });

  test(`${name}: errors reach the client typed, with the exact wire message`, async (t) => {
    const { client, log } = await setup(t);
    await assert.rejects(client.range({ key: b('throw/kv') }), (e: unknown) => {
      assert.ok(e instanceof CompactedError);
      assert.equal(e.code, 'Compacted');
      assert.equal(e.status, Status.OUT_OF_RANGE);
      assert.equal(e.message, 'etcdserver: mvcc: required revision has been compacted');
      return true;
    });
    await assert.rejects(client.put({ key: b('throw/arg') }), (e: unknown) => {
      assert.ok(e instanceof KvError);
      assert.equal(e.code, 'InvalidArgument');
      assert.equal(e.message, 'etcetera: invalid argument: limit must be >= 0');
      return true;
    });
    // Anything else is Internal on the wire (no detail leaks) and logged on the server.
    await assert.rejects(client.put({ key: b('throw/internal') }), (e: unknown) => {
      assert.ok(e instanceof KvError);
      assert.equal(e.code, 'Internal');
      assert.equal(e.message, 'etcetera: internal error');
      return true;
    });
    assert.ok(log.entries.some((x) => x.level === 'error' && String((x.obj as { err?: Error }).err?.message).includes('boom')));
    // The connection is still fine.
    assert.equal((await client.put({ key: b('ok') })).header.revision, 2);
  });

  test(`${name}: many concurrent calls on one connection, answered out of order, are correlated`, async (t) => {
    const { client, services, server } = await setup(t);
    const n = 200;
    const calls = Array.from({ length: n }, (_, i) =>
      i % 2 === 0 ? client.put({ key: b(`hold/${i}`), value: b(String(i)) }) : client.range({ key: b(`hold/${i - 1}`) }),
    );
    await services.whenHeld(n);
    assert.equal(server.stats().connections, 1);
    assert.equal(server.stats().callsInFlight, n);
    // Release in a scrambled but fixed order: answers leave in that order, not the request order.
    const order = [...services.held].sort((x, y) => ((x.key.length * 7919 + x.key.charCodeAt(5)) % 13) - ((y.key.length * 7919 + y.key.charCodeAt(5)) % 13));
    for (const h of order.reverse()) h.release();
    const results = await Promise.all(calls);
    for (let i = 0; i < n; i += 2) {
      const put = results[i] as Awaited<ReturnType<Client['put']>>;
      const range = results[i + 1] as Awaited<ReturnType<Client['range']>>;
      assert.ok(put.header.revision >= 2);
      // Each range answered its own key (released after or before its put: both correlate).
      for (const kv of range.kvs) assert.equal(Buffer.from(kv.key).toString(), `hold/${i}`);
    }
    assert.equal(server.stats().callsInFlight, 0);
  });

  test(`${name}: bad frames get the right error replies and the connection keeps working`, async (t) => {
    const { server, client } = await setup(t);
    const raw = await RawConnection.open(server.url);
    t.after(() => raw.close());
    const malformed = (m: string): boolean => m.startsWith('etcetera: malformed request');

    // Unknown frame kind.
    raw.sendBody(Buffer.from([99, 0, 0, 0, 5]));
    let e = await raw.nextError();
    assert.equal(e.id, 5);
    assert.equal(e.status, Status.INVALID_ARGUMENT);
    assert.ok(malformed(e.message), e.message);
    assert.ok(e.message.includes('unknown frame kind 99'));

    // Unknown method id.
    raw.send(encodeRawFrame(FrameKind.REQUEST, 6, 999, null));
    e = await raw.nextError();
    assert.deepEqual(e, { id: 6, status: Status.UNIMPLEMENTED, message: 'etcetera: unknown method: method id 999' });

    // Undecodable payload.
    raw.send(encodeRawFrame(FrameKind.REQUEST, 7, Methods.Put.id, Buffer.from([0xff, 0xff, 0xff])));
    e = await raw.nextError();
    assert.equal(e.id, 7);
    assert.equal(e.status, Status.INVALID_ARGUMENT);
    assert.ok(malformed(e.message) && e.message.includes('etcdserverpb.PutRequest'), e.message);

    // Too short for a header: the id is unreadable, so the answer goes to id 0.
    raw.sendBody(Buffer.from([1, 0, 0]));
    e = await raw.nextError();
    assert.equal(e.id, 0);
    assert.ok(malformed(e.message));

    // A request without its method id.
    raw.sendBody(Buffer.from([FrameKind.REQUEST, 0, 0, 0, 8]));
    e = await raw.nextError();
    assert.equal(e.id, 8);
    assert.ok(malformed(e.message));

    // Kinds only servers send.
    raw.send(encodeRawFrame(FrameKind.RESPONSE, 9, 0, null));
    e = await raw.nextError();
    assert.equal(e.id, 9);
    assert.ok(malformed(e.message));

    // Call id 0 is reserved.
    raw.send(putFrame(0, 'x'));
    e = await raw.nextError();
    assert.equal(e.id, 0);
    assert.ok(malformed(e.message));

    // A unary method opened as a stream, a stream method sent as a request.
    raw.send(encodeRawFrame(FrameKind.STREAM_OPEN, 10, Methods.Put.id, null));
    e = await raw.nextError();
    assert.equal(e.id, 10);
    assert.ok(malformed(e.message));
    raw.send(encodeRawFrame(FrameKind.REQUEST, 11, Methods.Watch.id, null));
    e = await raw.nextError();
    assert.equal(e.id, 11);
    assert.ok(malformed(e.message));

    // Streams reserved for later issues are Unimplemented today.
    for (const m of [Methods.Watch, Methods.LeaseKeepAlive]) {
      raw.send(encodeRawFrame(FrameKind.STREAM_OPEN, 12, m.id, null));
      e = await raw.nextError();
      assert.equal(e.id, 12);
      assert.equal(e.status, Status.UNIMPLEMENTED);
      assert.equal(e.message, `etcetera: unknown method: ${m.name} is not implemented yet`);
    }
    // Messages and closes for streams that do not exist, and cancels of unknown calls, are
    // dropped silently (they can trail a refused open or a finished call).
    raw.send(encodeRawFrame(FrameKind.STREAM_MESSAGE, 12, 0, Buffer.from([1, 2])));
    raw.send(encodeRawFrame(FrameKind.STREAM_CLOSE, 12, 0, null));
    raw.send(encodeRawFrame(FrameKind.CANCEL, 4242, 0, null));

    // After all that, a good request on the same connection is served.
    raw.send(putFrame(13, 'fine', b('v')));
    const f = await raw.next();
    assert.equal(f.kind, FrameKind.RESPONSE);
    assert.equal(f.id, 13);
    assert.equal(Methods.Put.response.decode(f.payload).header.revision, 2);
    // And so is every other connection.
    assert.equal((await client.range({ key: b('fine') })).count, 1);
  });

  test(`${name}: an oversized frame is refused with RequestTooLarge, other connections keep working`, async (t) => {
    const maxFrameBytes = 4096;
    const { server, client } = await setup(t, { maxFrameBytes });
    const raw = await RawConnection.open(server.url);
    t.after(() => raw.close());
    // Just fits: served.
    const fits = putFrame(20, 'k', Buffer.alloc(maxFrameBytes - 7 - 3 - 3, 1));
    assert.equal(fits.length - LENGTH_BYTES, maxFrameBytes);
    raw.send(fits);
    assert.equal((await raw.next()).kind, FrameKind.RESPONSE);
    // One byte more: refused.
    raw.send(putFrame(21, 'k', Buffer.alloc(maxFrameBytes - 7 - 3 - 3 + 1, 1)));
    const e = await raw.nextError();
    assert.deepEqual(e, { id: 21, status: Status.INVALID_ARGUMENT, message: 'etcdserver: request is too large' });
    if (factory.resyncsAfterOversized) {
      raw.send(putFrame(22, 'after'));
      const f = await raw.next();
      assert.equal(f.kind, FrameKind.RESPONSE);
      assert.equal(f.id, 22);
    } else {
      await raw.closed; // the server hangs up after the error reply
    }
    assert.equal((await client.put({ key: b('other') })).header.memberId, 1);
    // The client refuses to send what it knows is too large.
    const small = new Client({ endpoints: [server.url], maxFrameBytes: 100 });
    t.after(() => small.close());
    await assert.rejects(small.put({ key: b('k'), value: Buffer.alloc(200) }), (err: unknown) => {
      assert.ok(err instanceof KvError && err.code === 'RequestTooLarge');
      return true;
    });
  });

  test(`${name}: calls beyond maxCallsPerConnection are refused with TooManyRequests`, async (t) => {
    const { services, client } = await setup(t, { maxCallsPerConnection: 4 });
    const held = [0, 1, 2, 3].map((i) => client.put({ key: b(`hold/${i}`) }));
    await services.whenHeld(4);
    await assert.rejects(client.put({ key: b('one-too-many') }), (e: unknown) => {
      assert.ok(e instanceof KvError);
      assert.equal(e.code, 'TooManyRequests');
      assert.equal(e.message, 'etcdserver: too many requests');
      return true;
    });
    for (const h of services.held) h.release();
    await Promise.all(held);
    assert.equal((await client.put({ key: b('now-fine') })).header.memberId, 1);
  });

  test(`${name}: abort and timeout fail the call and abort its signal on the server`, async (t) => {
    const { services, client, server } = await setup(t);
    const ac = new AbortController();
    const aborted = client.put({ key: b('hold/abort') }, { signal: ac.signal });
    await services.whenHeld(1);
    const serverSignal = services.held[0]!.ctx!.signal!;
    assert.equal(serverSignal.aborted, false);
    const sawAbort = new Promise<void>((r) => serverSignal.addEventListener('abort', () => r(), { once: true }));
    ac.abort();
    await assert.rejects(aborted, (e: unknown) => e instanceof KvError && e.code === 'Canceled');
    await sawAbort;
    assert.equal(server.stats().callsInFlight, 0);

    const timedOut = client.range({ key: b('hold/timeout') }, { timeoutMs: 30 });
    await services.whenHeld(2);
    const s2 = services.held[1]!.ctx!.signal!;
    await assert.rejects(timedOut, (e: unknown) => e instanceof KvError && e.code === 'DeadlineExceeded');
    if (!s2.aborted) await new Promise<void>((r) => s2.addEventListener('abort', () => r(), { once: true }));
    // A late answer to a canceled call is dropped by both sides; the connection is fine.
    services.held[1]!.release();
    assert.equal((await client.put({ key: b('after') })).header.memberId, 1);
    // A signal aborted before the call: nothing is sent.
    const before = services.calls.put;
    await assert.rejects(client.put({ key: b('x') }, { signal: AbortSignal.abort() }), (e: unknown) => e instanceof KvError && e.code === 'Canceled');
    assert.equal(services.calls.put, before);
  });

  test(`${name}: a client that disconnects has its calls aborted on the server`, async (t) => {
    const { services, client, server } = await setup(t);
    const call = client.put({ key: b('hold/bye') });
    await services.whenHeld(1);
    const signal = services.held[0]!.ctx!.signal!;
    const sawAbort = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    const failed = assert.rejects(call, (e: unknown) => e instanceof KvError && e.code === 'TransportClosed');
    await client.close();
    await failed;
    await sawAbort;
    assert.ok(signal.reason instanceof KvError);
    await until(() => server.stats().connections === 0, 'the server to drop the connection');
    await assert.rejects(client.status(), (e: unknown) => e instanceof KvError && e.code === 'TransportClosed');
  });

  test(`${name}: a client that stops reading makes the server pause, and its queue stays bounded`, async (t) => {
    const maxQueuedBytes = 256 * 1024;
    const { services, server } = await setup(t, { maxQueuedBytes, maxCallsPerConnection: 10_000 });
    services.bigValueBytes = 64 * 1024;
    const raw = await RawConnection.open(server.url);
    t.after(() => raw.close());
    raw.pauseReading();
    // 600 requests of 8 KiB, each answered with ~64 KiB: 38 MiB of answers if nothing pushed back.
    const n = 600;
    const value = Buffer.alloc(8 * 1024, 3);
    for (let i = 1; i <= n; i++) raw.send(putFrame(i, `big/${i}`, value));
    await until(() => server.stats().pausedConnections === 1, 'the server to pause reading');
    const stats = server.stats();
    // Once paused, no new call starts: what is queued is the cap plus the answers to calls that
    // had already been read (at most a few socket reads' worth), far below 38 MiB.
    assert.ok(services.calls.put < n, `calls started while paused: ${services.calls.put}`);
    assert.ok(stats.queuedBytes < maxQueuedBytes + 2 * 1024 * 1024, `queued ${stats.queuedBytes}`);
    const startedWhenPaused = services.calls.put;
    // Let the event loop run a while (many macrotask turns): still paused, nothing new started.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(server.stats().pausedConnections, 1);
    assert.equal(services.calls.put, startedWhenPaused);
    // Reading again drains the queue; every call is answered, once, correlated by id.
    raw.resumeReading();
    const seen = new Set<number>();
    while (seen.size < n) {
      const f = await raw.next();
      assert.equal(f.kind, FrameKind.RESPONSE, `frame for id ${f.id}`);
      assert.ok(!seen.has(f.id));
      seen.add(f.id);
    }
    assert.equal(services.calls.put, n);
    await until(() => server.stats().pausedConnections === 0, 'the server to resume');
  });

  test(`${name}: the client fails over to the next endpoint when its server closes`, async (t) => {
    const a = new FakeServices(101);
    const bsv = new FakeServices(202);
    const log = new MemoryLogger();
    const sa = await factory.start(a, log);
    const sb = await factory.start(bsv, log);
    const client = new Client({ endpoints: [sa.url, sb.url], timeoutMs: 10_000 });
    t.after(async () => {
      await client.close();
      await sa.close();
      await sb.close();
    });
    assert.equal((await client.status()).header.memberId, 101);
    // A write and a read in flight on A when it goes away.
    bsv.holding = false;
    const write = client.put({ key: b('hold/w') });
    const read = client.range({ key: b('hold/r') });
    await a.whenHeld(2);
    await sa.close();
    // The write may or may not have happened: it fails, typed, and is not retried.
    await assert.rejects(write, (e: unknown) => e instanceof KvError && e.code === 'TransportClosed' && e.status === Status.UNAVAILABLE);
    // The read is retried once, on B.
    assert.equal((await read).header.memberId, 202);
    assert.equal(bsv.calls.put, 0);
    assert.equal((await client.status()).header.memberId, 202);
    assert.equal((await client.put({ key: b('k') })).header.memberId, 202);
  });

  test(`${name}: with no endpoint reachable, calls fail with TransportClosed`, async (t) => {
    const s = await factory.start(new FakeServices(), new MemoryLogger());
    const url = s.url;
    await s.close(); // the port is now closed
    const client = new Client({ endpoints: [url, url], dialTimeoutMs: 500 });
    t.after(() => client.close());
    await assert.rejects(client.put({ key: b('k') }), (e: unknown) => {
      assert.ok(e instanceof KvError);
      assert.equal(e.code, 'TransportClosed');
      assert.ok(e.message.startsWith('etcetera: connection closed: no endpoint reachable'), e.message);
      return true;
    });
  });

  test(`${name}: close() ends connections and stops accepting`, async (t) => {
    const { server, client, services } = await setup(t);
    assert.equal((await client.put({ key: b('k') })).header.memberId, 1);
    const held = client.put({ key: b('hold/x') });
    await services.whenHeld(1);
    const signal = services.held[0]!.ctx!.signal!;
    await server.close();
    await assert.rejects(held, (e: unknown) => e instanceof KvError && e.code === 'TransportClosed');
    assert.equal(signal.aborted, true);
    assert.equal(server.stats().connections, 0);
    await assert.rejects(client.put({ key: b('k') }), (e: unknown) => e instanceof KvError && e.code === 'TransportClosed');
  });
}
