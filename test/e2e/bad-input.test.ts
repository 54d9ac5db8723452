// Bad input against the real server process: malformed frames, unknown kinds and methods,
// undecodable payloads, oversized frames, empty keys, wrong types and inverted ranges each get
// a clear error and change nothing, and another client is served all along. Then a bounded,
// seeded fuzz run throws random and mutated frames at both transports and checks that the
// server still answers and the data written before is intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { codecOf } from '../../src/codec/messages.js';
import { ERRORS, Status } from '../../src/core/errors.js';
import { encodeFrame, encodeRawFrame, FrameKind, LENGTH_BYTES } from '../../src/transports/codec/frame.js';
import { Methods } from '../../src/transports/codec/methods.js';
import { startServer, type ServerProcess } from './harness.js';
import { rawTcp, rawWs, type RawPeer } from './raw-peer.js';
import { mulberry32 } from '../helpers/random.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();
const PUT = Methods.Put.id;
const RANGE = Methods.Range.id;

let server: ServerProcess;
let bystander: Client;
let intactRevision = 0;
const INTACT = Array.from({ length: 20 }, (_, i) => [`intact/${i}`, `value-${i}`] as const);

before(async () => {
  server = await startServer({ driver: 'lmdb', extra: 'max-request-bytes: 65536' });
  bystander = new Client({ endpoints: [server.ws] });
  for (const [k, v] of INTACT) intactRevision = (await bystander.put({ key: enc(k), value: enc(v) })).header.revision;
});

after(async () => {
  await bystander?.close();
  if (server) assert.equal(await server.stop(), 0, 'the server shuts down cleanly after all that');
});

/** Frames as each transport carries them: ws drops the tcp length prefix. */
function wire(peerKind: 'tcp' | 'ws', frame: Buffer): Buffer {
  return peerKind === 'tcp' ? frame : frame.subarray(LENGTH_BYTES);
}

function putFrame(id: number, key: string, value: string): Buffer {
  return encodeFrame(FrameKind.REQUEST, id, PUT, codecOf('etcdserverpb.PutRequest'), { key: enc(key), value: enc(value) });
}

async function bystanderStillServed(): Promise<void> {
  const r = await bystander.range({ key: enc('intact/'), rangeEnd: enc('intact0') });
  assert.equal(r.count, INTACT.length);
}

async function intact(): Promise<void> {
  const c = new Client({ endpoints: [server.tcp] });
  try {
    const r = await c.range({ key: enc('intact/'), rangeEnd: enc('intact0') });
    assert.equal(r.count, INTACT.length);
    const want = new Map<string, string>(INTACT);
    for (const kv of r.kvs) {
      assert.equal(dec(kv.value), want.get(dec(kv.key)));
      assert.ok(kv.modRevision <= intactRevision);
    }
  } finally {
    await c.close();
  }
}

async function expectError(peer: RawPeer, id: number, code: keyof typeof ERRORS, detail?: RegExp): Promise<void> {
  const r = await peer.next(id);
  assert.equal(r.kind, FrameKind.ERROR, `expected an error reply for id ${id}`);
  assert.equal(r.status, ERRORS[code].status);
  assert.ok(r.message!.startsWith(ERRORS[code].message), `${r.message} should start with ${ERRORS[code].message}`);
  if (detail) assert.match(r.message!, detail);
}

for (const kind of ['tcp', 'ws'] as const) {
  test(`bad frames over ${kind} get error replies and the connection keeps serving`, async () => {
    const peer = kind === 'tcp' ? await rawTcp(server.tcp) : await rawWs(server.ws);
    const before = (await bystander.range({ key: enc('intact/0') })).header.revision;
    try {
      // Unknown method id.
      peer.send(wire(kind, encodeRawFrame(FrameKind.REQUEST, 11, 999, null)));
      await expectError(peer, 11, 'UnknownMethod');
      // Unknown frame kind.
      peer.send(wire(kind, encodeRawFrame(42 as FrameKind, 12, 0, enc('x'))));
      await expectError(peer, 12, 'MalformedRequest');
      // A payload that is not a PutRequest (truncated varint / bad wire type).
      peer.send(wire(kind, encodeRawFrame(FrameKind.REQUEST, 13, PUT, Buffer.from([0x0a, 0xff, 0xff, 0xff]))));
      await expectError(peer, 13, 'MalformedRequest');
      peer.send(wire(kind, encodeRawFrame(FrameKind.REQUEST, 14, PUT, Buffer.from([0x0f, 0x01]))));
      await expectError(peer, 14, 'MalformedRequest');
      // A number JavaScript cannot hold exactly: revision 2^60 in a RangeRequest.
      peer.send(wire(kind, encodeRawFrame(FrameKind.REQUEST, 15, RANGE, Buffer.from([0x0a, 0x01, 0x6b, 0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]))));
      await expectError(peer, 15, 'MalformedRequest', /out of the safe range/);
      // Empty key.
      peer.send(wire(kind, putFrame(16, '', 'v')));
      await expectError(peer, 16, 'KeyNotProvided');
      // Oversized write (above max-request-bytes, below the frame cap).
      peer.send(wire(kind, putFrame(17, 'big', 'x'.repeat(70_000))));
      await expectError(peer, 17, 'RequestTooLarge');
      // A frame shorter than its header (ws only: on tcp the length prefix frames it).
      if (kind === 'ws') {
        peer.send(Buffer.from([FrameKind.REQUEST, 0, 0]));
        await expectError(peer, 0, 'MalformedRequest');
      }
      // The same connection still works.
      peer.send(wire(kind, putFrame(18, `bad/${kind}`, 'ok')));
      const ok = await peer.next(18);
      assert.equal(ok.kind, FrameKind.RESPONSE);
      await bystanderStillServed();
      // Nothing above changed the store except the one good put.
      const after = (await bystander.range({ key: enc('intact/0') })).header.revision;
      assert.equal(after, before + 1);
    } finally {
      peer.close();
    }
  });
}

test('an oversized frame on tcp gets an error and the connection is closed; others keep going', async () => {
  const peer = await rawTcp(server.tcp);
  const big = Buffer.alloc(LENGTH_BYTES + 7);
  big.writeUInt32BE(200 * 1024 * 1024, 0); // announces 200 MiB
  big[LENGTH_BYTES] = FrameKind.REQUEST;
  big.writeUInt32BE(21, LENGTH_BYTES + 1);
  big.writeUInt16BE(PUT, LENGTH_BYTES + 5);
  peer.send(big);
  const r = await peer.next(21);
  assert.equal(r.kind, FrameKind.ERROR);
  assert.equal(r.status, Status.INVALID_ARGUMENT);
  assert.equal(r.message, 'etcdserver: request is too large');
  await peer.closed;
  await bystanderStillServed();
});

test('an oversized ws message is refused and others keep going', async () => {
  const peer = await rawWs(server.ws);
  peer.send(Buffer.alloc(3 * 1024 * 1024, 1));
  await peer.closed; // ws closes with 1009 (message too big): it cannot answer a frame it did not read
  await bystanderStillServed();
});

test('semantic bad input: inverted range matches nothing, empty keys and bad numbers are refused', async () => {
  const c = new Client({ endpoints: [server.tcp] });
  try {
    const rev = (await c.range({ key: enc('intact/0') })).header.revision;
    // As in etcd, a range_end below the key selects nothing (no error), and changes nothing.
    const d = await c.deleteRange({ key: enc('intact/9'), rangeEnd: enc('intact/1') });
    assert.equal(d.deleted, 0);
    assert.equal(d.header.revision, rev);
    assert.equal((await c.range({ key: enc('intact/9'), rangeEnd: enc('intact/1') })).count, 0);
    await assert.rejects(c.deleteRange({ key: new Uint8Array(0) }), { message: 'etcdserver: key is not provided' });
    await assert.rejects(c.range({ key: enc('a'), limit: -1 }), /etcetera: invalid argument/);
    await assert.rejects(c.txnRaw({ success: [{}] }), { message: 'etcdserver: key not found' });
    assert.equal((await c.range({ key: enc('intact/0') })).header.revision, rev);
  } finally {
    await c.close();
  }
  await intact();
});

test('fuzz: random and mutated frames for a bounded time; the server still answers, data intact', { timeout: 60_000 }, async () => {
  const seed = Number(process.env['SEED'] ?? 7);
  const rand = mulberry32(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const templates = (id: number): Buffer[] => [
    putFrame(id, `zz/${int(50)}`, `v${int(1000)}`),
    encodeFrame(FrameKind.REQUEST, id, RANGE, codecOf('etcdserverpb.RangeRequest'), { key: enc('zz/'), rangeEnd: enc('zz0'), limit: 5 }),
  ];
  const FRAMES = Number(process.env['FUZZ_FRAMES'] ?? 3000);
  let sent = 0;
  let peers: RawPeer[] = [];
  const fresh = async (): Promise<RawPeer[]> => [await rawTcp(server.tcp), await rawWs(server.ws)];
  peers = await fresh();
  while (sent < FRAMES) {
    for (let i = 0; i < 100; i++, sent++) {
      const which = int(2);
      const peer = peers[which]!;
      let frame: Buffer;
      const mode = int(4);
      if (mode === 0) {
        // Pure noise, with a plausible length prefix on tcp half of the time.
        frame = Buffer.from(Array.from({ length: 1 + int(40) }, () => int(256)));
        if (which === 0 && frame.length >= 4 && int(2) === 0) frame.writeUInt32BE(frame.length - 4, 0);
      } else {
        const t = templates(1 + int(1000))[int(2)]!;
        frame = Buffer.from(which === 0 ? t : t.subarray(LENGTH_BYTES));
        const flips = 1 + int(3);
        for (let f = 0; f < flips; f++) {
          const at = int(frame.length);
          if (mode === 1) frame[at] = int(256);
          else if (mode === 2) frame[at]! ^= 1 << int(8);
          else frame = frame.subarray(0, Math.max(1, at));
        }
      }
      peer.send(frame);
    }
    // Let the server catch up, and replace connections it closed (tcp may lose sync).
    await new Promise((r) => setImmediate(r));
    if (peers.some((p) => p.isClosed())) {
      for (const p of peers) p.close();
      peers = await fresh();
    }
  }
  for (const p of peers) p.close();
  assert.equal(server.proc.exitCode, null, 'the server is still running');
  await bystanderStillServed();
  await intact();
  const c = new Client({ endpoints: [server.tcp] });
  try {
    await c.put({ key: enc('after-fuzz'), value: enc('yes') });
    assert.equal(dec((await c.range({ key: enc('after-fuzz') })).kvs[0]!.value), 'yes');
  } finally {
    await c.close();
  }
});
