// Checks the peer codec (src/codec/raft-codec.ts): every Raft message type survives encode →
// decode as a deep-equal plain object with the exact key order of `message()`; entries with
// binary, empty and ConfChange data, snapshots with and without data, an absent vs an empty
// vs a set context, ids and terms up to 2^53 - 1; unsafe 64-bit values, unknown message or entry
// types, truncations at every byte and seeded random garbage throw only `DecodeError`;
// invalid records are refused when encoding; the handshake round-trips; and the schema's
// Message fields are exactly the fields of the core's Message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import {
  DecodeError,
  decodePeerHandshake,
  decodeRaftMessage,
  encodePeerHandshake,
  encodeRaftMessage,
  PEER_PROTOCOL_VERSION,
  type PeerHandshake,
} from '../../src/codec/raft-codec.js';
import { raftSchemaRoot } from '../../src/codec/raft-schema.js';
import { AssertionError } from '../../src/core/assert.js';
import { EntryType, type Entry } from '../../src/core/ports/storage-driver.js';
import { CAMPAIGN_TRANSFER, message, MessageType, messageTypeName, type Message } from '../../src/core/raft/messages.js';
import { mulberry32 } from '../helpers/random.js';

const MAX = Number.MAX_SAFE_INTEGER;
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const allBytes = new Uint8Array(256).map((_, i) => i);

const entries: Entry[] = [
  { term: 3, index: 10, type: EntryType.Normal, data: allBytes },
  { term: 3, index: 11, type: EntryType.Normal, data: new Uint8Array(0) },
  { term: 4, index: 12, type: EntryType.ConfChange, data: bytes(8, 1, 16, 2) },
  { term: MAX, index: MAX, type: EntryType.Normal, data: bytes(0) },
];

/** One representative message per type, using the fields messages.ts says each type uses. */
const samples: Message[] = [
  message({ type: MessageType.Hup }),
  message({ type: MessageType.Beat, from: 1, to: 1 }),
  message({ type: MessageType.Prop, from: 2, to: 1, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: bytes(1, 2, 3) }] }),
  message({ type: MessageType.App, from: 1, to: 2, term: 4, logTerm: 3, index: 9, entries, commit: 11 }),
  message({ type: MessageType.App, from: 1, to: 2, term: 4, logTerm: 3, index: 12, commit: 12 }),
  message({ type: MessageType.AppResp, from: 2, to: 1, term: 4, index: 12 }),
  message({ type: MessageType.AppResp, from: 2, to: 1, term: 4, index: 9, reject: true, rejectHint: 7, logTerm: 2 }),
  message({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 12, logTerm: 4 }),
  message({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 12, logTerm: 4, context: CAMPAIGN_TRANSFER }),
  message({ type: MessageType.VoteResp, from: 2, to: 3, term: 5, reject: true }),
  message({
    type: MessageType.Snap,
    from: 1,
    to: 3,
    term: 5,
    snapshot: { meta: { index: 100, term: 4, voters: [1, 2, 3], learners: [2 ** 47 + 5] }, data: allBytes },
  }),
  message({ type: MessageType.Snap, from: 1, to: 3, term: 5, snapshot: { meta: { index: 0, term: 0, voters: [], learners: [] }, data: new Uint8Array(0) } }),
  message({ type: MessageType.Heartbeat, from: 1, to: 2, term: 5, commit: 100 }),
  message({ type: MessageType.Heartbeat, from: 1, to: 2, term: 5, commit: 100, context: bytes(0, 0, 0, 0, 0, 0, 0, 7) }),
  message({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: 5 }),
  message({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: 5, context: new Uint8Array(0) }),
  message({ type: MessageType.Unreachable, from: 2, to: 1 }),
  message({ type: MessageType.SnapStatus, from: 3, to: 1, reject: true }),
  message({ type: MessageType.CheckQuorum, from: 1, to: 1 }),
  message({ type: MessageType.TransferLeader, from: 3, to: 1, term: 5 }),
  message({ type: MessageType.TimeoutNow, from: 1, to: 3, term: 5 }),
  message({ type: MessageType.ReadIndex, from: 2, to: 1, context: bytes(9, 9) }),
  message({ type: MessageType.ReadIndexResp, from: 1, to: 2, term: 5, index: 100, context: bytes(9, 9) }),
  message({ type: MessageType.PreVote, from: 3, to: 1, term: 6, index: 12, logTerm: 4 }),
  message({ type: MessageType.PreVoteResp, from: 1, to: 3, term: 6 }),
  message({ type: MessageType.App, from: MAX, to: MAX - 1, term: MAX, logTerm: MAX, index: MAX, commit: MAX, rejectHint: MAX }),
];

test('raft-codec: every message type round-trips to the same plain object', () => {
  const seen = new Set<number>();
  for (const m of samples) {
    seen.add(m.type);
    const back = decodeRaftMessage(encodeRaftMessage(m));
    assert.deepStrictEqual(back, m, messageTypeName(m.type));
    assert.deepStrictEqual(Object.keys(back), Object.keys(m), `${messageTypeName(m.type)}: key order`);
    for (const e of back.entries) assert.deepStrictEqual(Object.keys(e), ['term', 'index', 'type', 'data']);
  }
  for (const t of Object.values(MessageType)) assert.ok(seen.has(t), `no sample of ${messageTypeName(t)}`);
});

test('raft-codec: absent, empty and set contexts stay distinct', () => {
  const none = decodeRaftMessage(encodeRaftMessage(message({ type: MessageType.HeartbeatResp, from: 2, to: 1 })));
  const empty = decodeRaftMessage(encodeRaftMessage(message({ type: MessageType.HeartbeatResp, from: 2, to: 1, context: new Uint8Array(0) })));
  const set = decodeRaftMessage(encodeRaftMessage(message({ type: MessageType.HeartbeatResp, from: 2, to: 1, context: bytes(1) })));
  assert.equal(none.context, undefined);
  assert.ok(empty.context instanceof Uint8Array && empty.context.length === 0);
  assert.deepStrictEqual(set.context, bytes(1));
  assert.equal(none.snapshot, undefined);
});

test('raft-codec: bytes fields are views into the input, not copies', () => {
  const m = samples[3]!;
  const wire = encodeRaftMessage(m);
  const back = decodeRaftMessage(wire);
  const data = back.entries[0]!.data;
  assert.equal(data.buffer, wire.buffer);
  assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype);
  // A Uint8Array (not a Buffer) input works as well.
  const copy = new Uint8Array(wire);
  assert.deepStrictEqual(decodeRaftMessage(copy), m);
});

test('raft-codec: unknown fields are skipped (forward compatibility)', () => {
  const m = samples[5]!;
  const w = protobuf.Writer.create();
  w.uint32((99 << 3) | 0).uint32(12345);
  w.uint32((98 << 3) | 2).bytes(bytes(1, 2, 3));
  const extra = w.finish();
  const wire = Buffer.concat([encodeRaftMessage(m), extra]);
  assert.deepStrictEqual(decodeRaftMessage(wire), m);
});

function expectDecodeError(wire: Uint8Array, what: string): void {
  assert.throws(() => decodeRaftMessage(wire), (err: unknown) => err instanceof DecodeError, what);
}

test('raft-codec: unsafe integers and unknown types are refused with DecodeError', () => {
  const field = (no: number, v: number): Uint8Array => protobuf.Writer.create().uint32((no << 3) | 0).uint64(v).finish();
  // 2^53 is exact as a double but beyond the safe range.
  expectDecodeError(field(2, 2 ** 53), 'to = 2^53');
  expectDecodeError(field(4, 2 ** 60), 'term = 2^60');
  assert.equal(decodeRaftMessage(field(4, MAX)).term, MAX);
  expectDecodeError(field(1, 19), 'message type 19');
  expectDecodeError(field(1, 255), 'message type 255');
  const badEntry = protobuf.Writer.create();
  badEntry.uint32((7 << 3) | 2).fork().uint32((1 << 3) | 0).uint32(2).ldelim();
  expectDecodeError(badEntry.finish(), 'entry type 2');
  const unsafeVoter = protobuf.Writer.create();
  unsafeVoter.uint32((9 << 3) | 2).fork().uint32((1 << 3) | 2).fork().uint32((3 << 3) | 0).uint64(2 ** 54).ldelim().ldelim();
  expectDecodeError(unsafeVoter.finish(), 'snapshot voter 2^54');
});

test('raft-codec: truncations at every byte and random garbage throw only DecodeError', () => {
  for (const m of [samples[3]!, samples[10]!, samples[13]!]) {
    const wire = encodeRaftMessage(m);
    for (let cut = 0; cut < wire.length; cut++) {
      try {
        decodeRaftMessage(wire.subarray(0, cut));
      } catch (err) {
        assert.ok(err instanceof DecodeError, `cut at ${cut}: ${String(err)}`);
      }
    }
  }
  const rand = mulberry32(Number(process.env['SEED'] ?? 42));
  let failures = 0;
  for (let i = 0; i < 2000; i++) {
    const junk = new Uint8Array(1 + Math.floor(rand() * 64)).map(() => Math.floor(rand() * 256));
    try {
      decodeRaftMessage(junk);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `garbage #${i}: ${String(err)}`);
      assert.match((err as Error).message, /^cannot decode etcetera\.raft\.Message/);
      failures++;
    }
  }
  assert.ok(failures > 1000, `most garbage must fail to decode (${failures})`);
});

test('raft-codec: invalid records are refused when encoding (programmer errors)', () => {
  const bad: Partial<Message>[] = [
    { term: -1 },
    { index: 1.5 },
    { to: 2 ** 53 },
    { commit: Number.NaN },
    { type: 19 as MessageType },
    { entries: [{ term: 1, index: 1, type: 7 as EntryType, data: bytes() }] },
    { entries: [{ term: -1, index: 1, type: EntryType.Normal, data: bytes() }] },
    { snapshot: { meta: { index: 1, term: 1, voters: [-3], learners: [] }, data: bytes() } },
  ];
  for (const b of bad) {
    const m = { ...message({ type: MessageType.App, from: 1, to: 2 }), ...b } as Message;
    assert.throws(() => encodeRaftMessage(m), AssertionError, JSON.stringify(b));
  }
});

test('raft-codec: the handshake round-trips, absent fields read 0 and ""', () => {
  const h: PeerHandshake = { clusterId: 2 ** 47 + 3, fromMemberId: 0xabcdef, toMemberId: MAX, protocolVersion: PEER_PROTOCOL_VERSION, error: '' };
  assert.deepStrictEqual(decodePeerHandshake(encodePeerHandshake(h)), h);
  const refused = { ...h, error: 'cluster id 1, want 2' };
  assert.deepStrictEqual(decodePeerHandshake(encodePeerHandshake(refused)), refused);
  assert.deepStrictEqual(decodePeerHandshake(new Uint8Array(0)), { clusterId: 0, fromMemberId: 0, toMemberId: 0, protocolVersion: 0, error: '' });
  assert.throws(() => decodePeerHandshake(bytes(0x0a, 0x05, 0x01)), DecodeError);
});

test('raft-codec: the schema Message has exactly the fields of the core Message', () => {
  const type = raftSchemaRoot.lookupType('etcetera.raft.Message');
  const schemaFields = type.fieldsArray.map((f) => f.name).sort();
  assert.deepStrictEqual(schemaFields, Object.keys(message({ type: MessageType.Hup })).sort());
  const entry = raftSchemaRoot.lookupType('etcetera.raft.Entry');
  assert.deepStrictEqual(entry.fieldsArray.map((f) => f.name).sort(), ['data', 'index', 'term', 'type']);
});
