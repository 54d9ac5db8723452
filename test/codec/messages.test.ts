// Checks the message codec: every method's request and response survives encode → decode with
// kv.ts field names; 64-bit integers decode as numbers (2^40 exactly) and unsafe ones are
// refused; absent fields read as proto3 defaults (bytes as an empty Uint8Array, absent
// sub-messages and oneof members as null); garbage throws a catchable DecodeError; and the
// list of message names matches the parsed schema both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import {
  codecOf,
  decode,
  decodeInternalRequest,
  DecodeError,
  encode,
  encodeInternalRequest,
  MESSAGE_NAMES,
  type MessageName,
} from '../../src/codec/messages.js';
import { schemaRoot } from '../../src/codec/schema.js';
import type {
  KeyValue,
  RangeResponse,
  ResponseHeader,
  TxnRequest,
  TxnResponse,
} from '../../src/core/api/kv.js';
import { Methods } from '../../src/transports/codec/methods.js';
import { mulberry32 } from '../helpers/random.js';

const b = (s: string): Buffer => Buffer.from(s);
const BIG = 2 ** 40;
const header: ResponseHeader = { clusterId: 0x1234_5678_9abc, memberId: BIG + 7, revision: BIG, raftTerm: 3 };
const kv = (k: string, v: string): KeyValue => ({
  key: b(k),
  value: b(v),
  createRevision: BIG + 1,
  modRevision: BIG + 2,
  version: 5,
  lease: BIG + 3,
});

/** Plain-object view of a decoded message (own and default fields alike), for deepEqual. */
function plain(type: protobuf.Type, m: unknown): unknown {
  return type.toObject(m as protobuf.Message, { defaults: true, bytes: String, longs: Number, oneofs: false });
}

function roundTrip(name: MessageName, msg: object): void {
  const c = codecOf(name);
  const bytes = c.encode(msg as never);
  const back = c.decode(bytes);
  // Compare through protobufjs's own normalisation (defaults filled in, bytes as base64).
  assert.deepEqual(plain(c.type, back), plain(c.type, c.type.fromObject(msg)), name);
}

const nestedTxn: TxnRequest = {
  compare: [{ key: b('c'), result: 3, target: 2, modRevision: BIG }],
  success: [{ requestPut: { key: b('p'), value: b('v'), lease: 9 } }],
  failure: [{ requestRange: { key: b('r'), rangeEnd: b('s'), limit: 3 } }],
};
const txnResponse: TxnResponse = {
  header,
  succeeded: true,
  responses: [
    { responsePut: { header: { clusterId: 0, memberId: 0, revision: 9, raftTerm: 0 }, prevKv: kv('p', 'old') } },
    { responseRange: { header, kvs: [kv('r', '1')], more: true, count: BIG } },
    { responseDeleteRange: { header, deleted: 2, prevKvs: [kv('d', '')] } },
    { responseTxn: { header, succeeded: false, responses: [] } },
  ],
};

/** One sample request and response per method of the protocol. */
const samples: Record<string, [object, object]> = {
  Range: [
    {
      key: b('a'),
      rangeEnd: b('b'),
      limit: 10,
      revision: BIG,
      sortOrder: 2,
      sortTarget: 4,
      serializable: true,
      keysOnly: true,
      countOnly: false,
      minModRevision: 1,
      maxModRevision: BIG,
      minCreateRevision: 2,
      maxCreateRevision: BIG + 1,
    },
    { header, kvs: [kv('a', '1'), kv('ab', '')], more: true, count: 2 } satisfies RangeResponse,
  ],
  Put: [
    { key: b('k'), value: b('v'), lease: BIG, prevKv: true, ignoreValue: false, ignoreLease: true },
    { header, prevKv: kv('k', 'old') },
  ],
  DeleteRange: [{ key: b('k'), rangeEnd: Uint8Array.of(0), prevKv: true }, { header, deleted: BIG, prevKvs: [kv('k', 'x')] }],
  Txn: [
    {
      compare: [
        { key: b('a'), result: 0, target: 0, version: 0 },
        { key: b('b'), result: 1, target: 1, createRevision: BIG },
        { key: b('c'), result: 2, target: 3, value: b('x'), rangeEnd: b('d') },
        { key: b('e'), result: 3, target: 4, lease: 7 },
      ],
      success: [
        { requestRange: { key: b('a') } },
        { requestPut: { key: b('b'), value: b('2') } },
        { requestDeleteRange: { key: b('c') } },
        { requestTxn: nestedTxn },
      ],
      failure: [],
    } satisfies TxnRequest,
    txnResponse,
  ],
  Compact: [{ revision: BIG, physical: true }, { header }],
  LeaseGrant: [{ TTL: 9_000_000_000, ID: BIG }, { header, ID: BIG, TTL: 5, error: 'x' }],
  LeaseRevoke: [{ ID: BIG }, { header }],
  LeaseTimeToLive: [{ ID: BIG, keys: true }, { header, ID: BIG, TTL: -1, grantedTTL: 30, keys: [b('k1'), b('')] }],
  LeaseLeases: [{}, { header, leases: [{ ID: 1 }, { ID: BIG }] }],
  MemberAdd: [
    { peerURLs: ['tcp://127.0.0.1:2380'], isLearner: true },
    { header, member: { ID: BIG, name: '', peerURLs: ['tcp://127.0.0.1:2380'], clientURLs: [], isLearner: true }, members: [] },
  ],
  MemberRemove: [{ ID: BIG }, { header, members: [{ ID: 7, name: 'a', peerURLs: ['tcp://x:1'], clientURLs: ['ws://x:2'], isLearner: false }] }],
  MemberUpdate: [{ ID: BIG, peerURLs: ['ws://h:3'] }, { header, members: [] }],
  MemberList: [{}, { header, members: [{ ID: 9, name: 'b', peerURLs: [], clientURLs: [], isLearner: false }] }],
  MemberPromote: [{ ID: 3 }, { header, members: [] }],
  MoveLeader: [{ targetID: BIG }, { header }],
  HashKV: [{ revision: 12 }, { header, hash: 4294967295, compactRevision: 3 }],
  Alarm: [{ action: 2, memberID: BIG, alarm: 1 }, { header, alarms: [{ memberID: BIG, alarm: 1 }, { memberID: 7, alarm: 2 }] }],
  Defragment: [{}, {}],
  Hash: [{}, { header, hash: 4294967295 }],
  Status: [
    {},
    {
      header,
      version: '3.4.23',
      dbSize: BIG,
      leader: BIG + 5,
      raftIndex: BIG,
      raftTerm: 4,
      raftAppliedIndex: BIG,
      errors: ['etcdserver: no leader'],
      dbSizeInUse: 1024,
      isLearner: true,
    },
  ],
};

test('every unary method: request and response round-trip', () => {
  for (const m of Object.values(Methods)) {
    if (m.kind !== 'unary') continue;
    const sample = samples[m.name.split('/')[1]!];
    assert.ok(sample, `a sample for ${m.name}`);
    roundTrip(m.request.name, sample[0]);
    roundTrip(m.response.name, sample[1]);
  }
});

test('int64 fields decode as numbers, exactly, up to 2^53 - 1; negative ones too', () => {
  const r = decode('etcdserverpb.RangeResponse', encode('etcdserverpb.RangeResponse', samples.Range![1] as RangeResponse));
  assert.equal(typeof r.count, 'number');
  assert.equal(r.header.revision, BIG);
  assert.equal(r.kvs[0]!.modRevision, BIG + 2);
  for (const n of [0, 1, 127, 128, 2 ** 31, 2 ** 32 + 1, BIG, 2 ** 49, Number.MAX_SAFE_INTEGER, -1, -BIG]) {
    const back = decode('etcdserverpb.RangeRequest', encode('etcdserverpb.RangeRequest', { key: b('k'), revision: n }));
    assert.equal(back.revision, n, String(n));
    assert.equal(typeof back.revision, 'number');
  }
  const id = decode('etcdserverpb.ResponseHeader', encode('etcdserverpb.ResponseHeader', header));
  assert.equal(id.memberId, BIG + 7);
});

test('an int64 beyond 2^53 is refused, not rounded', () => {
  // field 4 (revision), varint 2^53
  const bytes = Buffer.from([0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.throws(() => decode('etcdserverpb.RangeRequest', bytes), DecodeError);
  assert.equal(decode('etcdserverpb.RangeRequest', Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])).revision, 2 ** 53 - 1);
});

test('absent fields read as proto3 defaults with the kv.ts types', () => {
  const r = decode('etcdserverpb.RangeRequest', new Uint8Array(0));
  assert.ok(r.key instanceof Uint8Array);
  assert.equal(r.key.byteLength, 0);
  assert.ok(r.rangeEnd instanceof Uint8Array);
  assert.equal(r.limit, 0);
  assert.equal(r.serializable, false);
  const p = decode('etcdserverpb.PutResponse', encode('etcdserverpb.PutResponse', { header }));
  assert.equal(p.prevKv, null);
  const op = decode('etcdserverpb.RequestOp', encode('etcdserverpb.RequestOp', { requestPut: { key: b('k') } }));
  assert.equal((op as { requestRange?: unknown }).requestRange, null);
  assert.ok((op as { requestPut?: { value: Uint8Array } }).requestPut!.value instanceof Uint8Array);
  const c = decode('etcdserverpb.Compare', encode('etcdserverpb.Compare', { key: b('k'), target: 3, value: b('') }));
  assert.ok((c as { value: Uint8Array }).value instanceof Uint8Array);
  const s = decode('etcdserverpb.StatusResponse', new Uint8Array(0));
  assert.deepEqual([...s.errors], []);
  assert.equal(s.header, null);
});

test('bytes fields are views into the input, not copies', () => {
  const bytes = Buffer.from(encode('etcdserverpb.PutRequest', { key: b('key'), value: b('value') }));
  const p = decode('etcdserverpb.PutRequest', bytes);
  assert.equal((p.value as Buffer).buffer, bytes.buffer);
  assert.equal(Buffer.from(p.value!).toString(), 'value');
});

test('unknown fields are skipped', () => {
  // field 99 (varint 5) followed by key
  const extra = Buffer.concat([Buffer.from([0x98, 0x06, 0x05]), Buffer.from(encode('etcdserverpb.PutRequest', { key: b('k') }))]);
  const p = decode('etcdserverpb.PutRequest', extra);
  assert.equal(Buffer.from(p.key).toString(), 'k');
  assert.equal(Object.keys(p).includes('$unknowns'), false);
});

test('InternalRequest round-trips each operation', () => {
  for (const req of [
    { id: 1, put: { key: b('k'), value: b('v'), lease: BIG } },
    { id: BIG, deleteRange: { key: b('a'), rangeEnd: b('z'), prevKv: true } },
    { id: 2 ** 53 - 1, txn: nestedTxn },
    { id: 0, compaction: { revision: BIG, physical: true } },
  ]) {
    const back = decodeInternalRequest(encodeInternalRequest(req));
    assert.equal(back.id, req.id);
    const c = codecOf('etcetera.InternalRequest');
    assert.deepEqual(plain(c.type, back), plain(c.type, c.type.fromObject(req)));
  }
  const put = decodeInternalRequest(encodeInternalRequest({ id: 3, put: { key: b('k') } }));
  assert.equal(put.txn, null);
  assert.equal(put.deleteRange, null);
});

test('garbage never crashes: every decode either succeeds or throws DecodeError', () => {
  const rand = mulberry32(Number(process.env['SEED'] ?? 42));
  const names: MessageName[] = ['etcdserverpb.TxnRequest', 'etcdserverpb.RangeRequest', 'etcetera.InternalRequest', 'etcetera.ErrorReply'];
  let failures = 0;
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(rand() * 40);
    const bytes = new Uint8Array(n);
    for (let j = 0; j < n; j++) bytes[j] = Math.floor(rand() * 256);
    try {
      decode(names[i % names.length]!, bytes);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `not a DecodeError: ${String(err)}`);
      failures++;
    }
  }
  assert.ok(failures > 0);
  // Deep nesting is refused, not a stack overflow.
  let nested: Uint8Array = encode('etcdserverpb.TxnRequest', {});
  for (let i = 0; i < 200; i++) {
    const w = protobuf.Writer.create();
    w.uint32((4 << 3) | 2).bytes(nested); // RequestOp.request_txn
    const opBytes = w.finish();
    const w2 = protobuf.Writer.create();
    w2.uint32((2 << 3) | 2).bytes(opBytes); // TxnRequest.success
    nested = w2.finish();
  }
  assert.throws(() => decode('etcdserverpb.TxnRequest', nested), DecodeError);
});

test('MESSAGE_NAMES lists exactly the messages of the schema', () => {
  const found: string[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Type) found.push(o.fullName.slice(1));
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
    }
  };
  walk(schemaRoot);
  assert.deepEqual([...found].sort(), [...MESSAGE_NAMES].sort());
  for (const s of ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance']) assert.ok(schemaRoot.lookupService(`etcdserverpb.${s}`));
});

test('field numbers match etcd (spot checks of the surprising ones)', () => {
  const t = (n: string) => schemaRoot.lookupType(n);
  assert.equal(t('etcdserverpb.Compare').fields['rangeEnd']!.id, 64);
  assert.equal(t('etcdserverpb.WatchResponse').fields['events']!.id, 11);
  assert.equal(t('etcdserverpb.LeaseCheckpoint').fields['remainingTTL']!.id, 2);
  assert.equal(t('etcdserverpb.LeaseTimeToLiveResponse').fields['grantedTTL']!.id, 4);
  assert.equal(t('etcdserverpb.StatusResponse').fields['isLearner']!.id, 10);
  assert.equal(t('etcdserverpb.Member').fields['clientURLs']!.id, 4);
});
