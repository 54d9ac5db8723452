// Checks the frame layer without sockets: the exact bytes of encoded frames (hex), and the tcp
// frame decoder fed the same stream split at every byte boundary, one byte at a time and in
// seeded random chunks (SEED=<n> replays) (it must find the same frames every time), plus its refusal of an
// oversized length (reported with the frame's kind and id, then nothing more is decoded).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecOf } from '../../src/codec/messages.js';
import { encodeFrame, encodeRawFrame, FrameKind, LENGTH_BYTES } from '../../src/transports/codec/frame.js';
import { FrameDecoder, type FrameSink } from '../../src/transports/codec/frame-decoder.js';
import { mulberry32 } from '../helpers/random.js';

const SEED = Number(process.env['SEED'] ?? 7);

class Collector implements FrameSink {
  frames: string[] = [];
  oversized: [number, number, number][] = [];
  onFrame(frame: Buffer): void {
    this.frames.push(frame.toString('hex'));
  }
  onOversized(length: number, kind: number, id: number): void {
    this.oversized.push([length, kind, id]);
  }
}

test('encoded frames have the documented layout', () => {
  const put = encodeFrame(FrameKind.REQUEST, 0x01020304, 2, codecOf('etcdserverpb.PutRequest'), { key: Buffer.from('a') });
  //                           length   kind id       method payload (field 1, len 1, 'a')
  assert.equal(put.toString('hex'), '0000000a' + '01' + '01020304' + '0002' + '0a0161');
  const res = encodeFrame(FrameKind.RESPONSE, 9, 0, codecOf('etcdserverpb.CompactionResponse'), {
    header: { clusterId: 0, memberId: 0, revision: 1, raftTerm: 0 },
  });
  assert.equal(res.toString('hex'), '00000009' + '02' + '00000009' + '0a021801');
  assert.equal(encodeRawFrame(FrameKind.CANCEL, 7, 0, null).toString('hex'), '00000005' + '07' + '00000007');
  assert.equal(
    encodeRawFrame(FrameKind.STREAM_OPEN, 1, 16, Uint8Array.of(0xaa)).toString('hex'),
    '00000008' + '04' + '00000001' + '0010' + 'aa',
  );
  const empty = encodeFrame(FrameKind.REQUEST, 1, 65, codecOf('etcdserverpb.StatusRequest'), {});
  assert.equal(empty.length, LENGTH_BYTES + 7);
});

/** A stream of frames with bodies of the given sizes (random bytes), and the hex of each body. */
function sampleStream(rand: () => number, sizes: number[]): { stream: Buffer; bodies: string[] } {
  const parts: Buffer[] = [];
  const bodies: string[] = [];
  for (const n of sizes) {
    const body = Buffer.alloc(n);
    for (let i = 0; i < n; i++) body[i] = Math.floor(rand() * 256);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(n);
    parts.push(len, body);
    bodies.push(body.toString('hex'));
  }
  return { stream: Buffer.concat(parts), bodies };
}

test('the decoder finds the same frames wherever the stream is split', () => {
  const rand = mulberry32(SEED);
  // Empty, tiny and a few-KiB frames: small enough to try every split point, two ways.
  const { stream, bodies } = sampleStream(rand, [0, 1, 5, 7, 300, 4, 3000, 0, 12, 6]);
  for (let k = 0; k <= stream.length; k++) {
    const c = new Collector();
    const d = new FrameDecoder(c, 100_000);
    d.push(stream.subarray(0, k));
    d.push(stream.subarray(k));
    assert.deepEqual(c.frames, bodies, `split at ${k}`);
  }
  {
    const c = new Collector();
    const d = new FrameDecoder(c, 100_000);
    for (let i = 0; i < stream.length; i++) d.push(stream.subarray(i, i + 1));
    assert.deepEqual(c.frames, bodies, 'one byte at a time');
  }
});

test('the decoder finds the same frames in seeded random chunkings, big frames included', () => {
  const rand = mulberry32(SEED + 1);
  const { stream, bodies } = sampleStream(rand, [0, 9, 70_000, 3, 65_536, 1, 20_000]);
  for (let round = 0; round < 100; round++) {
    const c = new Collector();
    const d = new FrameDecoder(c, 100_000);
    let pos = 0;
    while (pos < stream.length) {
      const n = 1 + Math.floor(rand() * (rand() < 0.3 ? 16 : 40_000));
      d.push(stream.subarray(pos, pos + n));
      pos += n;
    }
    assert.deepEqual(c.frames, bodies, `round ${round} (SEED=${SEED})`);
  }
});

test('a frame of exactly maxFrameBytes passes; one byte more is refused with its kind and id', () => {
  const max = 64;
  const ok = encodeRawFrame(FrameKind.REQUEST, 5, 2, Buffer.alloc(max - 7, 1));
  const big = encodeRawFrame(FrameKind.REQUEST, 0xdeadbeef, 2, Buffer.alloc(max - 6, 2));
  const after = encodeRawFrame(FrameKind.REQUEST, 6, 2, null);
  const stream = Buffer.concat([ok, big, after]);
  for (let k = 0; k <= stream.length; k++) {
    const c = new Collector();
    const d = new FrameDecoder(c, max);
    d.push(stream.subarray(0, k));
    d.push(stream.subarray(k));
    assert.deepEqual(c.frames, [ok.subarray(4).toString('hex')], `split at ${k}`);
    assert.deepEqual(c.oversized, [[max + 1, FrameKind.REQUEST, 0xdeadbeef]], `split at ${k}`);
    assert.equal(d.dead, true);
  }
});

test('frames wholly inside a chunk are views, frames across chunks are gathered', () => {
  const a = encodeRawFrame(FrameKind.CANCEL, 1, 0, null);
  const b = encodeRawFrame(FrameKind.CANCEL, 2, 0, null);
  const chunk = Buffer.concat([a, b]);
  const seen: Buffer[] = [];
  const d = new FrameDecoder({ onFrame: (f) => seen.push(f), onOversized: () => assert.fail('oversized') }, 100);
  d.push(chunk.subarray(0, 15)); // a, b's length, 2 bytes of b's body
  d.push(chunk.subarray(15));
  assert.equal(seen.length, 2);
  assert.equal(seen[1]!.readUInt32BE(1), 2);
  chunk.fill(0xee);
  assert.equal(seen[0]![0], 0xee); // a: a view into the chunk
  assert.equal(seen[1]![0], FrameKind.CANCEL); // b was split: gathered into its own buffer
});
