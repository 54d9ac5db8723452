// The peer-transport conformance suite: every PeerTransport (tcp, ws) runs it over real sockets
// on 127.0.0.1, port 0. Members form a mesh and exchange every kind of message; per-peer order
// holds over thousands of messages sent in batches across ticks; a peer that is down gets its
// messages dropped and reported unreachable (and a broken established connection reported
// lost), and delivery resumes once it listens again on the
// same port; handshakes from another cluster or for another member are refused; garbage,
// malformed frames and lying messages cut off only their own connection; a member's newer
// connection replaces its older one, and silent connections time out in both directions; a 4 MiB snapshot
// arrives whole while a larger-than-allowed one is dropped; a full per-peer queue drops and
// reports; setPeer/removePeer redirect and forget; and a child process that runs a mesh and
// closes it exits on its own (no handle left behind). Waits are on events (a delivery, a
// report, a close); the only bounded polling is for a peer coming back up.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../src/core/ports/logger.js';
import type { PeerTransport } from '../../src/core/ports/peer-transport.js';
import { EntryType } from '../../src/core/ports/storage-driver.js';
import { message, MessageType, type Message } from '../../src/core/raft/messages.js';
import { PEER_PROTOCOL_VERSION } from '../../src/codec/raft-codec.js';
import { handshakeFrame, LENGTH_BYTES, messageFrame, PeerFrameKind } from '../../src/transports/peer/peer-frame.js';
import type { PeerTransportOptions } from '../../src/transports/peer/peer-options.js';
import { MemoryLogger } from '../helpers/fake-services.js';
import { mulberry32 } from '../helpers/random.js';

/** A hand-driven connection to a listening transport, to send what a member never would. */
export interface RawPeer {
  /** Sends a frame as peer-frame.ts builds it (length prefix first; ws sends the rest as one message). */
  sendFrame(frame: Buffer): void;
  /** Sends something that is not a frame sequence at all (tcp: an absurd length; ws: a text message). */
  sendJunk(): void;
  /** Frames received, without length prefix. */
  readonly frames: Inbox<Buffer>;
  /** Resolves once the connection is closed (by either side). */
  readonly closed: Promise<void>;
  destroy(): void;
}

/** How the suite builds one implementation. */
export interface PeerTransportFactory {
  readonly name: 'tcp' | 'ws';
  create(options: PeerTransportOptions, logger: Logger): PeerTransport;
  /** The URL a peer dials to reach a transport listening on 127.0.0.1:port. */
  url(port: number): string;
  raw(port: number): Promise<RawPeer>;
}

/** Items pushed by event handlers, and promises of conditions on them. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { cond: (items: readonly T[]) => boolean; resolve: () => void }[] = [];

  push(x: T): void {
    this.items.push(x);
    this.waiters = this.waiters.filter((w) => {
      if (!w.cond(this.items)) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `cond` holds (the test's timeout bounds the wait). */
  until(cond: (items: readonly T[]) => boolean): Promise<void> {
    if (cond(this.items)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ cond, resolve }));
  }

  /** Resolves with the next item pushed after index `from`. */
  async at(index: number): Promise<T> {
    await this.until((items) => items.length > index);
    return this.items[index]!;
  }
}

interface Member {
  readonly id: number;
  readonly transport: PeerTransport;
  readonly logger: MemoryLogger;
  readonly inbox: Inbox<Message>;
  readonly unreachable: Inbox<number>;
  /** `onPeerLost` reports: established connections that broke. */
  readonly lost: Inbox<number>;
  readonly port: number;
  readonly url: string;
}

const CLUSTER = 0x5eed_c1a5;
const OPTS = { timeout: 30_000 };

function hb(from: number, to: number, commit: number): Message {
  return message({ type: MessageType.Heartbeat, from, to, term: 1, commit });
}

function from(inbox: Inbox<Message>, id: number): Message[] {
  return inbox.items.filter((m) => m.from === id);
}

function warned(logger: MemoryLogger, msg: string, reason: RegExp): boolean {
  return logger.entries.some((e) => e.level === 'warn' && e.msg === msg && reason.test(String((e.obj as { reason?: unknown }).reason)));
}

/** Runs the suite against `f`. */
export function peerTransportSuite(f: PeerTransportFactory): void {
  const name = f.name;

  async function member(
    t: TestContext,
    id: number,
    opts: Partial<PeerTransportOptions> = {},
  ): Promise<Member> {
    const logger = new MemoryLogger();
    const transport = f.create({ memberId: id, clusterId: CLUSTER, listenAddress: '127.0.0.1:0', pingIntervalMs: 1, ...opts }, logger);
    const inbox = new Inbox<Message>();
    const unreachable = new Inbox<number>();
    transport.onMessage((m) => inbox.push(m));
    const lost = new Inbox<number>();
    transport.onUnreachable((p) => unreachable.push(p));
    transport.onPeerLost((p) => lost.push(p));
    const { port } = await transport.start();
    t.after(() => transport.close());
    return { id, transport, logger, inbox, unreachable, lost, port, url: f.url(port) };
  }

  function mesh(ms: readonly Member[]): void {
    for (const a of ms) for (const b of ms) if (a !== b) a.transport.setPeer(b.id, b.url);
  }

  async function raw(t: TestContext, port: number): Promise<RawPeer> {
    const r = await f.raw(port);
    t.after(async () => {
      r.destroy();
      await r.closed;
    });
    return r;
  }

  test(`${name} peers: three members form a mesh and exchange every kind of message`, OPTS, async (t) => {
    const ms = [await member(t, 1), await member(t, 2), await member(t, 3)];
    mesh(ms);
    const sent = new Map<number, Message[]>();
    for (const a of ms) {
      for (const b of ms) {
        if (a === b) continue;
        const batch = [
          message({ type: MessageType.App, from: a.id, to: b.id, term: 2, logTerm: 1, index: 4, commit: 3, entries: [
            { term: 2, index: 5, type: EntryType.Normal, data: new Uint8Array([a.id, b.id, 0, 255]) },
            { term: 2, index: 6, type: EntryType.ConfChange, data: new Uint8Array(0) },
          ] }),
          message({ type: MessageType.VoteResp, from: a.id, to: b.id, term: 2, reject: true }),
          message({ type: MessageType.HeartbeatResp, from: a.id, to: b.id, term: 2, context: new Uint8Array(0) }),
          message({ type: MessageType.ReadIndexResp, from: a.id, to: b.id, term: 2, index: 9, context: new Uint8Array([7]) }),
        ];
        a.transport.send(batch);
        sent.set(a.id * 10 + b.id, batch);
      }
    }
    for (const b of ms) {
      await b.inbox.until((items) => items.length === 8);
      for (const a of ms) if (a !== b) assert.deepStrictEqual(from(b.inbox, a.id), sent.get(a.id * 10 + b.id));
    }
    for (const a of ms) {
      const stats = a.transport.stats();
      assert.deepStrictEqual([...stats.keys()].sort(), ms.filter((b) => b !== a).map((b) => b.id));
      for (const s of stats.values()) {
        assert.equal(s.sentMessages, 4);
        assert.equal(s.droppedMessages, 0);
        assert.equal(s.url, ms.find((b) => b.id === s.id)!.url);
      }
      assert.equal(a.unreachable.items.length, 0);
    }
    // Round trips until the round-trip time has been measured (a ping rides along with messages
    // once the handshake is answered): bounded, each turn waits for a delivery, not a clock.
    const [a, b] = [ms[0]!, ms[1]!];
    for (let i = 0; a.transport.stats().get(b.id)!.rttMs === undefined; i++) {
      assert.ok(i < 1000, 'no round-trip time measured');
      const n = b.inbox.items.length;
      a.transport.send([hb(a.id, b.id, i)]);
      await b.inbox.at(n);
    }
    const s = a.transport.stats().get(b.id)!;
    assert.equal(s.connected, true);
    assert.ok(s.rttMs! >= 0 && s.rttMs! < 5000, `rtt ${s.rttMs}`);
  });

  test(`${name} peers: per-peer order holds over thousands of messages in batches across ticks`, OPTS, async (t) => {
    const [a, b, c] = [await member(t, 1), await member(t, 2), await member(t, 3)];
    mesh([a, b, c]);
    const N = 3000;
    const rand = mulberry32(7);
    const next = { [a.id]: 1, [c.id]: 1 };
    const payload = (i: number): Uint8Array => new Uint8Array(i % 50).fill(i & 0xff);
    while (next[a.id]! <= N || next[c.id]! <= N) {
      for (const s of [a, c]) {
        const batch: Message[] = [];
        const size = 1 + Math.floor(rand() * 40);
        for (let k = 0; k < size && next[s.id]! <= N; k++) {
          const i = next[s.id]!++;
          batch.push(message({ type: MessageType.App, from: s.id, to: b.id, term: 1, index: i, entries: [{ term: 1, index: i + 1, type: EntryType.Normal, data: payload(i) }] }));
        }
        s.transport.send(batch);
      }
      if (rand() < 0.5) await new Promise((r) => setImmediate(r));
    }
    await b.inbox.until((items) => items.length === 2 * N);
    for (const s of [a, c]) {
      const got = from(b.inbox, s.id);
      assert.equal(got.length, N);
      got.forEach((m, k) => {
        assert.equal(m.index, k + 1, `message ${k} from ${s.id}`);
        assert.deepStrictEqual(m.entries[0]!.data, payload(k + 1));
      });
      assert.equal(s.transport.stats().get(b.id)!.droppedMessages, 0);
      assert.equal(s.unreachable.items.length, 0);
    }
  });

  test(`${name} peers: a peer that is down is reported unreachable; delivery resumes when it is back`, OPTS, async (t) => {
    // A fixed 500 ms backoff: long enough that the second send below surely falls inside it,
    // short enough for the recovery loop.
    const a = await member(t, 1, { reconnectDelayMinMs: 500, reconnectDelayMaxMs: 500 });
    const gone = await member(t, 2);
    const port = gone.port;
    await gone.transport.close();
    a.transport.setPeer(2, f.url(port));
    a.transport.send([hb(1, 2, 1)]);
    await a.unreachable.until((ids) => ids.includes(2));
    // Within the backoff after the failed dial, messages are dropped at once (and reported).
    const reports = a.unreachable.items.length;
    a.transport.send([hb(1, 2, 2), hb(1, 2, 3)]);
    assert.equal(a.transport.stats().get(2)!.droppedMessages, 2);
    await a.unreachable.until((ids) => ids.length > reports);
    assert.equal(a.transport.stats().get(2)!.connected, false);

    const back = await member(t, 2, { listenAddress: `127.0.0.1:${port}` });
    assert.equal(back.port, port);
    // Bounded polling, as allowed for "peer came back up": the next dial happens on a send
    // after the backoff (≤ 1 s), so keep sending until one arrives.
    for (let i = 100; back.inbox.items.length === 0; i++) {
      assert.ok(i < 600, 'delivery did not resume');
      a.transport.send([hb(1, 2, i)]);
      await Promise.race([back.inbox.until((items) => items.length > 0), new Promise((r) => setTimeout(r, 20))]);
    }
    const first = back.inbox.items[0]!;
    a.transport.send([hb(1, 2, 10_000)]);
    await back.inbox.until((items) => items.some((m) => m.commit === 10_000));
    assert.ok(back.inbox.items.every((m, k) => k === 0 || m.commit > back.inbox.items[k - 1]!.commit), 'in order');
    assert.ok(first.commit >= 100);

    // Failed dials are unreachable reports, not lost connections.
    assert.deepEqual(a.lost.items, []);
    // The peer crashes while connected: the broken connection is reported too, and as lost.
    const before = a.unreachable.items.length;
    await back.transport.close();
    await a.unreachable.until((ids) => ids.length > before && ids[ids.length - 1] === 2);
    await a.lost.until((ids) => ids.includes(2));
    assert.deepEqual(a.lost.items, [2]);
    assert.ok(a.logger.entries.some((e) => e.msg === 'lost connection to peer'));
  });

  test(`${name} peers: a handshake from another cluster or for another member is refused`, OPTS, async (t) => {
    const a = await member(t, 1);
    const b = await member(t, 2);
    const stranger = await member(t, 4, { clusterId: CLUSTER + 1 });
    stranger.transport.setPeer(1, a.url);
    stranger.transport.send([hb(4, 1, 1)]);
    await stranger.unreachable.until((ids) => ids.includes(1));
    assert.ok(warned(a.logger, 'refusing peer connection', /cluster id/), 'acceptor warns');
    assert.ok(warned(stranger.logger, 'closing peer connection', /refused the connection: cluster id/), 'dialler warns');

    // Same cluster, but the address belongs to member 1, not the 7 it meant to call.
    const lost = await member(t, 5);
    lost.transport.setPeer(7, a.url);
    lost.transport.send([hb(5, 7, 1)]);
    await lost.unreachable.until((ids) => ids.includes(7));
    assert.ok(warned(a.logger, 'refusing peer connection', /addressed to member 7/));
    assert.equal(lost.transport.stats().get(7)!.connected, false);

    // A legitimate member still gets through, and nothing of the refused ones was delivered.
    b.transport.setPeer(1, a.url);
    b.transport.send([hb(2, 1, 42)]);
    await a.inbox.until((items) => items.length > 0);
    assert.deepStrictEqual(a.inbox.items, [hb(2, 1, 42)]);
  });

  test(`${name} peers: garbage and malformed frames cut off only their own connection`, OPTS, async (t) => {
    const a = await member(t, 1, { maxMessageBytes: 64 * 1024 });
    const b = await member(t, 2);
    b.transport.setPeer(1, a.url);
    b.transport.send([hb(2, 1, 1)]);
    await a.inbox.until((items) => items.length === 1);
    const hello = (fromId: number): Buffer =>
      handshakeFrame({ clusterId: CLUSTER, fromMemberId: fromId, toMemberId: 1, protocolVersion: PEER_PROTOCOL_VERSION, error: '' });
    const frame = (kind: number, payload: Buffer): Buffer => {
      const buf = Buffer.alloc(LENGTH_BYTES + 1 + payload.length);
      buf.writeUInt32BE(1 + payload.length, 0);
      buf[LENGTH_BYTES] = kind;
      payload.copy(buf, LENGTH_BYTES + 1);
      return buf;
    };
    const rand = mulberry32(99);
    const junk = (n: number): Buffer => Buffer.from(new Uint8Array(n).map(() => Math.floor(rand() * 256)));
    const cases: { what: string; handshake: boolean; send: (r: RawPeer) => void; log: RegExp }[] = [
      { what: 'not a frame sequence', handshake: false, send: (r) => r.sendJunk(), log: /malformed frame/ },
      { what: 'a handshake that does not decode', handshake: false, send: (r) => r.sendFrame(frame(PeerFrameKind.HANDSHAKE, Buffer.from([0x0a, 0x09, 1]))), log: /cannot decode/ },
      { what: 'a message before the handshake', handshake: false, send: (r) => r.sendFrame(messageFrame(hb(3, 1, 1))), log: /expected a handshake/ },
      { what: 'an empty frame', handshake: false, send: (r) => r.sendFrame(Buffer.from([0, 0, 0, 0])), log: /empty frame/ },
      { what: 'a message that does not decode', handshake: true, send: (r) => r.sendFrame(frame(PeerFrameKind.MESSAGE, Buffer.concat([Buffer.from([0x08, 0x63]), junk(50)]))), log: /cannot decode/ },
      { what: 'a message from another member', handshake: true, send: (r) => r.sendFrame(messageFrame(hb(2, 1, 1))), log: /does not belong/ },
      { what: 'a local message type', handshake: true, send: (r) => r.sendFrame(messageFrame(message({ type: MessageType.Hup, from: 3, to: 1 }))), log: /does not belong/ },
      { what: 'an unknown frame kind', handshake: true, send: (r) => r.sendFrame(frame(9, junk(3))), log: /unexpected frame kind 9/ },
      { what: 'a frame beyond maxMessageBytes', handshake: true, send: (r) => r.sendFrame(frame(PeerFrameKind.MESSAGE, Buffer.alloc(100 * 1024))), log: /exceeds|Max payload/ },
    ];
    for (const c of cases) {
      const warnsBefore = a.logger.entries.filter((e) => e.level === 'warn').length;
      const r = await raw(t, a.port);
      if (c.handshake) {
        r.sendFrame(hello(3));
        const answer = await r.frames.at(0);
        assert.equal(answer[0], PeerFrameKind.HANDSHAKE, c.what);
        // A valid message on the raw connection is delivered before the bad one.
        r.sendFrame(messageFrame(hb(3, 1, 7)));
      }
      c.send(r);
      await r.closed;
      const warns = a.logger.entries.filter((e) => e.level === 'warn').slice(warnsBefore);
      assert.ok(warns.some((e) => c.log.test(String((e.obj as { reason?: unknown }).reason))), `${c.what}: ${JSON.stringify(warns)}`);
    }
    assert.equal(from(a.inbox, 3).length, cases.filter((c) => c.handshake).length);
    assert.ok(from(a.inbox, 3).every((m) => m.commit === 7));
    // The well-behaved member's connection was never disturbed.
    b.transport.send([hb(2, 1, 2)]);
    await a.inbox.until((items) => items.some((m) => m.from === 2 && m.commit === 2));
    assert.equal(b.unreachable.items.length, 0);
  });

  test(`${name} peers: a newer connection from a member replaces the older; silent connections time out`, OPTS, async (t) => {
    const a = await member(t, 1, { handshakeTimeoutMs: 100 });
    const hello = handshakeFrame({ clusterId: CLUSTER, fromMemberId: 3, toMemberId: 1, protocolVersion: PEER_PROTOCOL_VERSION, error: '' });
    const first = await raw(t, a.port);
    first.sendFrame(hello);
    const answer = await first.frames.at(0);
    assert.equal(answer[0], PeerFrameKind.HANDSHAKE);
    const second = await raw(t, a.port);
    second.sendFrame(hello);
    await second.frames.at(0);
    await first.closed;
    assert.ok(a.logger.entries.some((e) => /replaced by a newer connection/.test(String((e.obj as { reason?: unknown }).reason))));
    second.sendFrame(messageFrame(hb(3, 1, 1)));
    await a.inbox.until((items) => items.length === 1);

    // An inbound connection that never says who it is is closed after handshakeTimeoutMs...
    const mute = await raw(t, a.port);
    await mute.closed;
    assert.ok(a.logger.entries.some((e) => (e.obj as { reason?: unknown }).reason === 'no handshake in time'));

    // ...and so is a dial to something that accepts and never answers (reported unreachable).
    const silent = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    a.transport.setPeer(9, f.url((silent.address() as net.AddressInfo).port));
    a.transport.send([hb(1, 9, 1)]);
    await a.unreachable.until((ids) => ids.includes(9));
    assert.ok(a.logger.entries.some((e) => (e.obj as { reason?: unknown }).reason === 'no handshake answer in time'));
    assert.equal(a.transport.stats().get(9)!.connected, false);
  });

  test(`${name} peers: a 4 MiB snapshot arrives whole; one beyond maxMessageBytes is dropped`, OPTS, async (t) => {
    const a = await member(t, 1, { maxMessageBytes: 5 * 1024 * 1024 });
    const b = await member(t, 2, { maxMessageBytes: 5 * 1024 * 1024 });
    mesh([a, b]);
    const rand = mulberry32(4);
    const data = new Uint8Array(4 * 1024 * 1024).map(() => Math.floor(rand() * 256));
    const snap = message({ type: MessageType.Snap, from: 1, to: 2, term: 3, snapshot: { meta: { index: 1000, term: 3, voters: [1, 2], learners: [] }, data } });
    a.transport.send([snap, hb(1, 2, 1)]);
    await b.inbox.until((items) => items.length === 2);
    assert.deepStrictEqual(b.inbox.items[0], snap);
    assert.deepStrictEqual(b.inbox.items[1], hb(1, 2, 1));

    const tooBig = message({ ...snap, snapshot: { meta: snap.snapshot!.meta, data: new Uint8Array(6 * 1024 * 1024) } });
    a.transport.send([tooBig, hb(1, 2, 2)]);
    await a.unreachable.until((ids) => ids.includes(2));
    await b.inbox.until((items) => items.length === 3);
    assert.deepStrictEqual(b.inbox.items[2], hb(1, 2, 2));
    assert.equal(a.transport.stats().get(2)!.droppedMessages, 1);
    assert.ok(a.logger.entries.some((e) => e.level === 'warn' && e.msg === 'dropping a message larger than maxMessageBytes'));
  });

  test(`${name} peers: beyond maxQueuedBytesPerPeer messages are dropped and the peer reported`, OPTS, async (t) => {
    const a = await member(t, 1, { maxQueuedBytesPerPeer: 64 * 1024 });
    const b = await member(t, 2);
    mesh([a, b]);
    const data = new Uint8Array(1024);
    const batch = Array.from({ length: 500 }, (_, i) =>
      message({ type: MessageType.App, from: 1, to: 2, term: 1, index: i + 1, entries: [{ term: 1, index: i + 2, type: EntryType.Normal, data }] }),
    );
    // One tick: nothing drains while the batch is written, so the queue fills.
    a.transport.send(batch);
    const st = a.transport.stats().get(2)!;
    assert.ok(st.sentMessages > 0 && st.sentMessages < 100, `sent ${st.sentMessages}`);
    assert.equal(st.sentMessages + st.droppedMessages, 500);
    await a.unreachable.until((ids) => ids.includes(2));
    assert.deepStrictEqual(a.unreachable.items, [2], 'one report per turn');
    // What was queued arrives: exactly the first messages, in order.
    await b.inbox.until((items) => items.length === st.sentMessages);
    assert.deepStrictEqual(b.inbox.items.map((m) => m.index), batch.slice(0, st.sentMessages).map((m) => m.index));
    // Once drained, the peer takes messages again.
    a.transport.send([hb(1, 2, 5)]);
    await b.inbox.until((items) => items.some((m) => m.commit === 5));
  });

  test(`${name} peers: setPeer redirects, removePeer forgets, bad URLs and a second start are refused`, OPTS, async (t) => {
    const a = await member(t, 1);
    const b = await member(t, 2);
    const b2 = await member(t, 2); // member 2 moved to a new address
    a.transport.setPeer(2, b.url);
    a.transport.send([hb(1, 2, 1)]);
    await b.inbox.until((items) => items.length === 1);
    a.transport.setPeer(2, b.url); // unchanged: the connection stays
    a.transport.setPeer(2, b2.url);
    a.transport.send([hb(1, 2, 2)]);
    await b2.inbox.until((items) => items.length === 1);
    assert.deepStrictEqual(b2.inbox.items, [hb(1, 2, 2)]);
    assert.equal(b.inbox.items.length, 1);
    assert.equal(a.unreachable.items.length, 0, 'a redirect is not a failure');

    a.transport.removePeer(2);
    assert.equal(a.transport.stats().has(2), false);
    a.transport.send([hb(1, 2, 3), hb(1, 9, 1)]);
    await a.unreachable.until((ids) => ids.includes(2) && ids.includes(9));

    const other = name === 'tcp' ? 'ws' : 'tcp';
    assert.throws(() => a.transport.setPeer(3, `${other}://127.0.0.1:1`), RangeError);
    assert.throws(() => a.transport.setPeer(3, 'wss://127.0.0.1:1'), RangeError); // no TLS (yet)
    if (name === 'tcp') assert.throws(() => a.transport.setPeer(3, 'tcp://127.0.0.1'), RangeError); // ws defaults to 80
    assert.throws(() => a.transport.setPeer(3, 'not a url'), RangeError);
    assert.throws(() => a.transport.setPeer(0, f.url(1)), RangeError);
    await assert.rejects(a.transport.start());
  });

  test(`${name} peers: close() releases everything (a child process running a mesh exits by itself)`, OPTS, async () => {
    const child = fileURLToPath(new URL('../transports/peer-exit-child.js', import.meta.url));
    const proc = spawn(process.execPath, [child, name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const guard = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    clearTimeout(guard);
    assert.equal(code, 0, `child exited with ${code} (killed if null: a handle kept it alive)\n${out}`);
    assert.match(out, /closed cleanly/);
  });
}
