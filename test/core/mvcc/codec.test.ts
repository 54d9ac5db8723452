// Checks the byte encodings of the MVCC core: revision keys (order, tombstone marker, limits),
// the hand-written mvccpb.KeyValue codec (against protobufjs as a reference encoder, round
// trips, zero-value omission, negative int64), latin1 key strings and CRC-32C test vectors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import type { KeyValue } from '../../../src/core/api/kv.js';
import { AssertionError } from '../../../src/core/assert.js';
import { bytesToLatin1, compareBytes, latin1ToBytes } from '../../../src/core/mvcc/bytes.js';
import { crc32c } from '../../../src/core/mvcc/crc32c.js';
import { decodeKeyValue, encodeKeyValue } from '../../../src/core/mvcc/kv-codec.js';
import {
  compareRevision,
  decodeRevision,
  encodeRevision,
  readUint64BE,
  writeUint64BE,
} from '../../../src/core/mvcc/revision.js';
import { b, prng } from './util.js';

const hex = (x: Uint8Array): string => Buffer.from(x).toString('hex');

describe('revision keys', () => {
  it('encodes as 8-byte big-endian main, "_", 8-byte big-endian sub', () => {
    assert.equal(hex(encodeRevision(1, 0)), '0000000000000001' + '5f' + '0000000000000000');
    assert.equal(hex(encodeRevision(0x0102030405, 7)), '0000000102030405' + '5f' + '0000000000000007');
    assert.equal(hex(encodeRevision(5, 2, true)), '0000000000000005' + '5f' + '0000000000000002' + '74');
  });

  it('round-trips, including the largest safe integer', () => {
    for (const [main, sub, tombstone] of [
      [0, 0, false],
      [1, 0, true],
      [2 ** 32 - 1, 2 ** 32, false],
      [Number.MAX_SAFE_INTEGER, 3, true],
    ] as const) {
      assert.deepEqual(decodeRevision(encodeRevision(main, sub, tombstone)), { main, sub, tombstone });
    }
  });

  it('byte order equals revision order (tombstone marker included)', () => {
    const rand = prng(7);
    const revs: Array<[number, number, boolean]> = [];
    for (let i = 0; i < 300; i++) {
      revs.push([Math.floor(rand() * 2 ** (rand() * 53)), Math.floor(rand() * 5), rand() < 0.3]);
    }
    for (let i = 0; i < revs.length - 1; i++) {
      const [m1, s1, t1] = revs[i]!;
      const [m2, s2, t2] = revs[i + 1]!;
      const byRev = Math.sign(compareRevision({ main: m1, sub: s1 }, { main: m2, sub: s2 }));
      const byBytes = Math.sign(compareBytes(encodeRevision(m1, s1, t1), encodeRevision(m2, s2, t2)));
      if (byRev !== 0) assert.equal(byBytes, byRev, `${m1}.${s1} vs ${m2}.${s2}`);
    }
  });

  it('rejects malformed keys and unsafe integers as corruption', () => {
    assert.throws(() => decodeRevision(new Uint8Array(16)), AssertionError);
    const bad = encodeRevision(1, 1);
    bad[8] = 0x2e;
    assert.throws(() => decodeRevision(bad), AssertionError);
    const big = new Uint8Array(8).fill(0xff);
    assert.throws(() => readUint64BE(big, 0), AssertionError);
    assert.throws(() => writeUint64BE(new Uint8Array(8), 0, -1), AssertionError);
  });
});

describe('KeyValue codec', () => {
  const KeyValueType = protobuf
    .parse(
      `syntax = "proto3"; package mvccpb;
       message KeyValue { bytes key = 1; int64 create_revision = 2; int64 mod_revision = 3;
                          int64 version = 4; bytes value = 5; int64 lease = 6; }`,
    )
    .root.lookupType('mvccpb.KeyValue');

  const kv = (key: string, createRevision: number, modRevision: number, version: number, value: string, lease: number): KeyValue => ({
    key: b(key),
    createRevision,
    modRevision,
    version,
    value: b(value),
    lease,
  });

  const cases: Array<{ name: string; kv: KeyValue }> = [
    { name: 'typical', kv: kv('foo', 2, 5, 3, 'bar', 0) },
    { name: 'tombstone (key only)', kv: kv('foo', 0, 0, 0, '', 0) },
    { name: 'all zero', kv: kv('', 0, 0, 0, '', 0) },
    { name: 'lease and binary bytes', kv: kv('\x00\xff\x80k', 127, 128, 16384, '\x00\x01\xfe', 0x7fff_ffff_ffff) },
    { name: 'large revisions', kv: kv('k', 2 ** 31, 2 ** 32 + 5, 2 ** 35, 'v', 1) },
    { name: 'max safe integer', kv: kv('k', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 1, 'v', Number.MAX_SAFE_INTEGER) },
    { name: 'negative lease (10-byte varint)', kv: kv('k', 1, 1, 1, 'v', -1) },
    { name: 'negative large', kv: kv('k', 1, 1, 1, '', -(2 ** 40) - 3) },
    { name: 'long value (multi-byte length)', kv: kv('k', 1, 2, 3, 'x'.repeat(70000), 0) },
  ];

  for (const tc of cases) {
    it(`matches protobufjs and round-trips: ${tc.name}`, () => {
      const ours = encodeKeyValue(tc.kv);
      const ref = KeyValueType.encode(KeyValueType.fromObject(tc.kv)).finish();
      assert.equal(hex(ours), hex(ref));
      assert.deepEqual(decodeKeyValue(ours), tc.kv);
    });
  }

  it('decodes fields in any order and skips unknown fields', () => {
    // value (5) first, then an unknown fixed64 field 9, unknown bytes field 10, then key (1).
    const bytes = new Uint8Array([0x2a, 1, 0x76, 0x49, 1, 2, 3, 4, 5, 6, 7, 8, 0x52, 2, 9, 9, 0x0a, 1, 0x6b, 0x20, 3]);
    const got = decodeKeyValue(bytes);
    assert.equal(bytesToLatin1(got.key), 'k');
    assert.equal(bytesToLatin1(got.value), 'v');
    assert.equal(got.version, 3);
  });

  it('returns views into the input (no copy)', () => {
    const bytes = encodeKeyValue(kv('key', 1, 1, 1, 'value', 0));
    const got = decodeKeyValue(bytes);
    assert.equal(got.value.buffer, bytes.buffer);
  });

  it('treats truncated input as corruption', () => {
    const bytes = encodeKeyValue(kv('key', 1, 1, 1, 'value', 0));
    assert.throws(() => decodeKeyValue(bytes.subarray(0, bytes.length - 2)), AssertionError);
    assert.throws(() => decodeKeyValue(new Uint8Array([0x10, 0x80])), AssertionError);
  });
});

describe('latin1 keys', () => {
  it('round-trip every byte and preserve byte order', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    assert.deepEqual(latin1ToBytes(bytesToLatin1(all)), all);
    const long = new Uint8Array(20000).map((_, i) => (i * 31) & 0xff);
    assert.deepEqual(latin1ToBytes(bytesToLatin1(long)), long);
    const rand = prng(3);
    for (let i = 0; i < 500; i++) {
      const x = new Uint8Array(Math.floor(rand() * 4)).map(() => Math.floor(rand() * 256));
      const y = new Uint8Array(Math.floor(rand() * 4)).map(() => Math.floor(rand() * 256));
      const sx = bytesToLatin1(x);
      const sy = bytesToLatin1(y);
      assert.equal(Math.sign(compareBytes(x, y)), sx < sy ? -1 : sx > sy ? 1 : 0);
    }
  });
});

describe('crc32c', () => {
  it('matches the standard test vectors', () => {
    assert.equal(crc32c(0, new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(0, new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(0, new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  });
  it('is incremental', () => {
    const data = new TextEncoder().encode('hello, etcetera');
    assert.equal(crc32c(crc32c(0, data.subarray(0, 5)), data.subarray(5)), crc32c(0, data));
  });
});
