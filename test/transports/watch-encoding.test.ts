// Checks the encode-once frame builder of watch replies (watch-encoding.ts) against the
// generic protobuf encoder: seeded random replies (events with and without prev_kv, DELETEs,
// empty values, large revisions, negative and zero watch ids, fragment flags, progress
// replies, created/canceled replies) decode to the same message either way; the frame header
// is right; replies sharing one events array share its encoding (one cache entry); and the
// gRPC port's two-step writer (prepare, writeTo), fed replies that alternate between shared
// headers and events arrays, writes back to back the same messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codecOf } from '../../src/codec/messages.js';
import type { Event, KeyValue, ResponseHeader } from '../../src/core/api/kv.js';
import type { WatchResponse } from '../../src/core/api/watch.js';
import { encodeFrame, FrameKind, HEADER_BYTES, LENGTH_BYTES } from '../../src/transports/codec/frame.js';
import { encodeWatchResponseFrame, WatchReplyWriter } from '../../src/transports/codec/watch-encoding.js';
import { MessageReader, PrefixedWriter } from '../../src/transports/grpc/grpc-frame.js';
import { mulberry32 } from '../helpers/random.js';

const codec = codecOf('etcdserverpb.WatchResponse');

function decodeFrame(frame: Buffer): { kind: number; id: number; msg: unknown } {
  assert.equal(frame.readUInt32BE(0), frame.length - LENGTH_BYTES, 'length prefix');
  const body = frame.subarray(LENGTH_BYTES);
  return { kind: body[0]!, id: body.readUInt32BE(1), msg: JSON.parse(JSON.stringify(codec.decode(body.subarray(HEADER_BYTES)))) };
}

test('fast watch frames decode like the generic encoding', () => {
  const rnd = mulberry32(42);
  const int = (n: number): number => Math.floor(rnd() * n);
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256));
  const kv = (): KeyValue => ({
    key: bytes(1 + int(20)),
    createRevision: int(2) ? int(1000) : 2 ** 40 + int(1000),
    modRevision: int(100_000),
    version: int(10),
    value: bytes(int(3) === 0 ? 0 : int(300)),
    lease: int(3) === 0 ? 7 : 0,
  });
  for (let i = 0; i < 500; i++) {
    const events: Event[] = Array.from({ length: int(4) }, () => {
      const e: Event = { type: int(2) as 0 | 1, kv: kv() };
      if (int(2)) e.prevKv = kv();
      return e;
    });
    const header: ResponseHeader = { clusterId: int(2) ? 0 : 2 ** 50 + int(9), memberId: int(1e9), revision: int(1e6), raftTerm: int(5) };
    const res: WatchResponse = { header, watchId: [0, 1, 300, -1, 2 ** 33][int(5)]!, events };
    const extra = int(8);
    if (extra === 0) res.fragment = true;
    if (extra === 1) res.created = true;
    if (extra === 2) Object.assign(res, { canceled: true, compactRevision: 5 });
    if (extra === 3) Object.assign(res, { canceled: true, cancelReason: 'why' });
    const id = 1 + int(1000);
    const fast = decodeFrame(encodeWatchResponseFrame(FrameKind.STREAM_MESSAGE, id, res));
    const slow = decodeFrame(encodeFrame(FrameKind.STREAM_MESSAGE, id, 0, codec, res));
    assert.equal(fast.kind, FrameKind.STREAM_MESSAGE);
    assert.equal(fast.id, id);
    assert.deepEqual(fast.msg, slow.msg, `case ${i}`);
  }
});

test('replies sharing an events array and a header reuse their bytes', () => {
  const header: ResponseHeader = { clusterId: 1, memberId: 2, revision: 3, raftTerm: 4 };
  const events: Event[] = [{ type: 0, kv: { key: Buffer.from('k'), createRevision: 3, modRevision: 3, version: 1, value: Buffer.from('v'), lease: 0 } }];
  const a = encodeWatchResponseFrame(FrameKind.STREAM_MESSAGE, 1, { header, watchId: 0, events });
  const b = encodeWatchResponseFrame(FrameKind.STREAM_MESSAGE, 2, { header, watchId: 1, events });
  // Same payload but for the watch_id field: the event field sits at the end of both.
  const event = codecOf('mvccpb.Event').encode(events[0]!);
  const field = 2 + event.length;
  assert.deepEqual(a.subarray(a.length - field), b.subarray(b.length - field));
  assert.equal(a[a.length - field], (11 << 3) | 2);
  assert.equal(b.length, a.length + 2, 'watch_id 1 adds its field (0 is left out)');
});

test('the gRPC writer writes replies back to back, shared parts alternating, as the generic encoder does', () => {
  const rnd = mulberry32(7);
  const int = (n: number): number => Math.floor(rnd() * n);
  const kv = (i: number): KeyValue => ({ key: Buffer.from(`k${i}`), createRevision: i, modRevision: 100 + i, version: 1 + int(3), value: Buffer.alloc(int(200), i), lease: 0 });
  const headers: ResponseHeader[] = [0, 1, 2].map((i) => ({ clusterId: 2 ** 50 + i, memberId: 9 + i, revision: 100 + i, raftTerm: 2 }));
  // Equal headers in other objects (each stream has its own), and one differing in the term only.
  headers.push({ ...headers[0]! }, { ...headers[0]!, raftTerm: 3 }, { ...headers[0]!, clusterId: 2 ** 50 + 1 });
  const eventSets: Event[][] = [0, 1, 2].map((i) => Array.from({ length: 1 + i }, (_, j) => ({ type: 0 as const, kv: kv(10 * i + j) })));
  const writer = new PrefixedWriter<WatchResponse>(new WatchReplyWriter());
  const out = Buffer.alloc(64 * 1024);
  let pos = 0;
  const sent: WatchResponse[] = [];
  for (let i = 0; i < 200; i++) {
    const res: WatchResponse = { header: headers[int(headers.length)]!, watchId: [0, 1, 300, -1][int(4)]!, events: int(5) === 0 ? [] : eventSets[int(3)]! };
    if (int(6) === 0) res.fragment = true;
    const n = writer.prepare(res);
    assert.ok(n > 5, `case ${i}: measured`);
    assert.equal(writer.writeTo(out, pos), pos + n, `case ${i}: wrote what it measured`);
    pos += n;
    sent.push(res);
  }
  assert.equal(writer.prepare({ header: headers[0]!, watchId: 1, created: true, events: [] }), -1, 'created replies go to the generic encoder');
  const got: unknown[] = [];
  const reader = new MessageReader({ onMessage: (b) => got.push(JSON.parse(JSON.stringify(codec.decode(b)))), onBadMessage: (_s, m) => assert.fail(m) }, 1 << 20, undefined);
  reader.push(out.subarray(0, pos));
  assert.equal(got.length, sent.length);
  for (let i = 0; i < sent.length; i++) assert.deepEqual(got[i], JSON.parse(JSON.stringify(codec.decode(codec.encode(sent[i]!)))), `case ${i}`);
});
