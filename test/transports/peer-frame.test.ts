// Checks the peer frames and their tcp decoder (src/transports/peer/peer-frame.ts) without
// sockets: frames built by the encoders come out whole and unchanged when the byte stream is
// split at every single boundary and at seeded random multi-way splits; a zero or too large
// length kills the decoder with an error and nothing after it is emitted; the limit can be
// raised between frames (after a handshake); stop() from inside onFrame drops the rest of the
// chunk; and a message frame's payload decodes back to the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePeerHandshake, decodeRaftMessage, PEER_PROTOCOL_VERSION } from '../../src/codec/raft-codec.js';
import { EntryType } from '../../src/core/ports/storage-driver.js';
import { message, MessageType } from '../../src/core/raft/messages.js';
import {
  handshakeFrame,
  KIND_BYTES,
  LENGTH_BYTES,
  messageFrame,
  PeerFrameDecoder,
  PeerFrameKind,
  pingFrame,
} from '../../src/transports/peer/peer-frame.js';
import { mulberry32 } from '../helpers/random.js';

const app = message({
  type: MessageType.App,
  from: 1,
  to: 2,
  term: 3,
  index: 7,
  logTerm: 2,
  commit: 6,
  entries: [{ term: 3, index: 8, type: EntryType.Normal, data: new Uint8Array(300).map((_, i) => i & 0xff) }],
});
const frames = [
  handshakeFrame({ clusterId: 5, fromMemberId: 1, toMemberId: 2, protocolVersion: PEER_PROTOCOL_VERSION, error: '' }),
  messageFrame(app),
  pingFrame(PeerFrameKind.PING, 0xfffffffe),
  messageFrame(message({ type: MessageType.Heartbeat, from: 1, to: 2, term: 3 })),
];
const stream = Buffer.concat(frames);
const bodies = frames.map((f) => f.subarray(LENGTH_BYTES));

interface Collected {
  frames: Buffer[];
  errors: string[];
}

function collector(max = 1 << 20): { decoder: PeerFrameDecoder; out: Collected } {
  const out: Collected = { frames: [], errors: [] };
  const decoder = new PeerFrameDecoder({ onFrame: (f) => out.frames.push(Buffer.from(f)), onFrameError: (r) => out.errors.push(r) }, max);
  return { decoder, out };
}

test('peer frames: the encoders fill in the length prefix and kind byte', () => {
  for (const f of frames) assert.equal(f.readUInt32BE(0), f.length - LENGTH_BYTES);
  assert.equal(frames[1]![LENGTH_BYTES], PeerFrameKind.MESSAGE);
  assert.deepStrictEqual(decodeRaftMessage(frames[1]!.subarray(LENGTH_BYTES + KIND_BYTES)), app);
  assert.equal(decodePeerHandshake(frames[0]!.subarray(LENGTH_BYTES + KIND_BYTES)).toMemberId, 2);
  assert.equal(frames[2]!.readUInt32BE(LENGTH_BYTES + KIND_BYTES), 0xfffffffe);
});

test('peer frames: the decoder yields the same frames for a split at every byte', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const { decoder, out } = collector();
    decoder.push(stream.subarray(0, cut));
    decoder.push(stream.subarray(cut));
    assert.deepStrictEqual(out.frames, bodies, `cut at ${cut}`);
    assert.deepStrictEqual(out.errors, []);
  }
});

test('peer frames: the decoder yields the same frames for seeded random multi-way splits', () => {
  const rand = mulberry32(Number(process.env['SEED'] ?? 1234));
  for (let round = 0; round < 200; round++) {
    const { decoder, out } = collector();
    let pos = 0;
    while (pos < stream.length) {
      const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 8 : 200));
      decoder.push(stream.subarray(pos, pos + n));
      pos += n;
    }
    assert.deepStrictEqual(out.frames, bodies, `round ${round}`);
  }
});

test('peer frames: a zero or too large length is an error, and nothing after it is emitted', () => {
  {
    const { decoder, out } = collector();
    decoder.push(Buffer.concat([frames[2]!, Buffer.from([0, 0, 0, 0]), frames[3]!]));
    assert.deepStrictEqual(out.frames, [bodies[2]]);
    assert.deepStrictEqual(out.errors, ['empty frame']);
    assert.ok(decoder.dead);
    decoder.push(frames[3]!);
    assert.equal(out.frames.length, 1);
  }
  {
    const { decoder, out } = collector(100);
    // The length arrives one byte at a time; the error comes with its last byte.
    const big = frames[1]!;
    for (let i = 0; i < LENGTH_BYTES; i++) decoder.push(big.subarray(i, i + 1));
    assert.equal(out.errors.length, 1);
    assert.match(out.errors[0]!, /exceeds the limit of 100/);
    assert.deepStrictEqual(out.frames, []);
  }
});

test('peer frames: the limit can be raised between frames; stop() inside onFrame drops the rest', () => {
  const out: Buffer[] = [];
  const decoder: PeerFrameDecoder = new PeerFrameDecoder(
    {
      onFrame: (f) => {
        out.push(Buffer.from(f));
        if (f[0] === PeerFrameKind.HANDSHAKE) decoder.maxFrameBytes = 1 << 20;
      },
      onFrameError: (r) => assert.fail(r),
    },
    frames[0]!.length, // just the handshake fits at first
  );
  decoder.push(stream);
  assert.deepStrictEqual(out, bodies);

  const seen: Buffer[] = [];
  const stopping: PeerFrameDecoder = new PeerFrameDecoder(
    {
      onFrame: (f) => {
        seen.push(f);
        stopping.stop();
      },
      onFrameError: (r) => assert.fail(r),
    },
    1 << 20,
  );
  stopping.push(stream);
  assert.equal(seen.length, 1);
  assert.ok(stopping.dead);
});
