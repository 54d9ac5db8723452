// HPACK (src/transports/http/hpack.ts, hpack-huffman.ts) against the examples of RFC 7541
// Appendix C: literal forms (C.2), request sequences with and without Huffman (C.3, C.4) and
// response sequences with a 256-byte table that evicts entries (C.5, C.6), checking each
// decoded list, the dynamic table's entries and its size after every block. Then the decoding
// errors a client can provoke, the canonical Huffman codes, a seeded Huffman round trip, and
// the encoder read back by the decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeaders, HpackDecoder, HpackError } from '../../src/transports/http/hpack.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS, huffmanDecode, huffmanEncode } from '../../src/transports/http/hpack-huffman.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const flat = (pairs: [string, string][]): string[] => pairs.flat();

interface Step {
  block: string;
  headers: [string, string][];
  /** Dynamic table after the block, newest first. */
  table: [string, string][];
  size: number;
}

function series(tableSize: number, steps: Step[]): void {
  const d = new HpackDecoder(tableSize);
  steps.forEach((s, i) => {
    assert.deepEqual(d.decode(hex(s.block)), flat(s.headers), `block ${i + 1}`);
    assert.deepEqual(d.entries(), s.table, `table after block ${i + 1}`);
    assert.equal(d.tableSize, s.size, `size after block ${i + 1}`);
  });
}

test('C.2: literal with indexing, without indexing, never indexed; indexed field', () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')), ['custom-key', 'custom-header']);
  assert.deepEqual(d.entries(), [['custom-key', 'custom-header']]);
  assert.equal(d.tableSize, 55);
  const e = new HpackDecoder();
  assert.deepEqual(e.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [':path', '/sample/path']);
  assert.deepEqual(e.entries(), []);
  assert.deepEqual(e.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), ['password', 'secret']);
  assert.deepEqual(e.entries(), []);
  assert.deepEqual(e.decode(hex('82')), [':method', 'GET']);
  assert.equal(e.tableSize, 0);
});

const AUTH: [string, string] = [':authority', 'www.example.com'];
const NO_CACHE: [string, string] = ['cache-control', 'no-cache'];
const CUSTOM: [string, string] = ['custom-key', 'custom-value'];
const requests = (b1: string, b2: string, b3: string): Step[] => [
  { block: b1, headers: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], AUTH], table: [AUTH], size: 57 },
  { block: b2, headers: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], AUTH, NO_CACHE], table: [NO_CACHE, AUTH], size: 110 },
  {
    block: b3,
    headers: [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], AUTH, CUSTOM],
    table: [CUSTOM, NO_CACHE, AUTH],
    size: 164,
  },
];

test('C.3: requests without Huffman coding', () => {
  series(
    4096,
    requests(
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ),
  );
});

test('C.4: requests with Huffman coding', () => {
  series(
    4096,
    requests('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'),
  );
});

const S302: [string, string] = [':status', '302'];
const S307: [string, string] = [':status', '307'];
const PRIVATE: [string, string] = ['cache-control', 'private'];
const DATE1: [string, string] = ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'];
const DATE2: [string, string] = ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'];
const LOC: [string, string] = ['location', 'https://www.example.com'];
const GZIP: [string, string] = ['content-encoding', 'gzip'];
const COOKIE: [string, string] = ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'];
const responses = (b1: string, b2: string, b3: string): Step[] => [
  { block: b1, headers: [S302, PRIVATE, DATE1, LOC], table: [LOC, DATE1, PRIVATE, S302], size: 222 },
  // ":status 307" evicts ":status 302".
  { block: b2, headers: [S307, PRIVATE, DATE1, LOC], table: [S307, LOC, DATE1, PRIVATE], size: 222 },
  // Three entries added, five evicted in all.
  { block: b3, headers: [[':status', '200'], PRIVATE, DATE2, LOC, GZIP, COOKIE], table: [COOKIE, GZIP, DATE2], size: 215 },
];

test('C.5: responses without Huffman coding, 256-byte table with evictions', () => {
  series(
    256,
    responses(
      `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
       2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
      '4803 3330 37c1 c0bf',
      `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
       54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
       5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
    ),
  );
});

test('C.6: responses with Huffman coding, 256-byte table with evictions', () => {
  series(
    256,
    responses(
      `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
       2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      '4883 640e ffc1 c0bf',
      `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
       77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
       9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    ),
  );
});

test('table size updates: shrink evicts, only at the start of a block, never above the setting', () => {
  const d = new HpackDecoder(4096);
  d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
  assert.equal(d.tableSize, 55);
  // Size update to 0 (001 00000) empties the table, then back to 4096 (3f e1 1f).
  assert.deepEqual(d.decode(hex('20 3fe11f 82')), [':method', 'GET']);
  assert.equal(d.tableSize, 0);
  assert.throws(() => new HpackDecoder(4096).decode(hex('82 20')), HpackError);
  assert.throws(() => new HpackDecoder(4096).decode(hex('3fe21f')), HpackError, 'above 4096');
  // An entry larger than the table empties it and is not added.
  const small = new HpackDecoder(40);
  small.decode(hex('4001 61 0162')); // a: b, 34 bytes
  assert.equal(small.tableSize, 34);
  small.decode(hex('4001 63 0a30313233343536373839')); // c: 0123456789, 43 bytes
  assert.deepEqual(small.entries(), []);
  assert.equal(small.tableSize, 0);
});

test('malformed blocks throw HpackError (a connection error), never something else', () => {
  const bad = [
    '80', // index 0
    'be', // dynamic index 62 with an empty table
    'ff ff ff ff ff ff 0f', // integer too large
    'ff', // truncated integer
    '40 05 6162', // string longer than the block
    '00 81 ff', // Huffman string with 8 bits of padding (too long)
    '00 81 18 00', // Huffman "a" then padding that is not all ones (00011 000)
    '00 84 ff ff ff ff 00', // EOS inside a string
    '40', // literal without its name
  ];
  for (const b of bad) assert.throws(() => new HpackDecoder().decode(hex(b)), HpackError, b);
});

test('a header list above the limit is decoded (table kept in sync) but reported as null', () => {
  const d = new HpackDecoder(4096, 60);
  assert.equal(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572 82')), null);
  assert.deepEqual(d.entries(), [['custom-key', 'custom-header']]);
  assert.deepEqual(d.decode(hex('be')), ['custom-key', 'custom-header']);
});

test('Huffman: canonical codes match the RFC, round trip of seeded random strings', () => {
  assert.equal(HUFFMAN_LENGTHS.length, 257);
  // A few codes as printed in RFC 7541 Appendix B.
  assert.deepEqual([HUFFMAN_CODES[48], HUFFMAN_LENGTHS[48]], [0x0, 5]); // '0'
  assert.deepEqual([HUFFMAN_CODES[97], HUFFMAN_LENGTHS[97]], [0x3, 5]); // 'a'
  assert.deepEqual([HUFFMAN_CODES[32], HUFFMAN_LENGTHS[32]], [0x14, 6]); // ' '
  assert.deepEqual([HUFFMAN_CODES[0], HUFFMAN_LENGTHS[0]], [0x1ff8, 13]);
  assert.deepEqual([HUFFMAN_CODES[255], HUFFMAN_LENGTHS[255]], [0x3ffffee, 26]);
  assert.deepEqual([HUFFMAN_CODES[256], HUFFMAN_LENGTHS[256]], [0x3fffffff, 30]); // EOS
  assert.equal(huffmanEncode('www.example.com').toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
  for (let i = 0; i < 300; i++) {
    let s = '';
    const n = Math.floor(rnd() * 40);
    for (let j = 0; j < n; j++) s += String.fromCharCode(Math.floor(rnd() * 256));
    const enc = huffmanEncode(s);
    assert.equal(huffmanDecode(enc, 0, enc.length), s);
  }
});

test('the encoder: static indexes where exact, literals otherwise; the decoder reads it back', () => {
  assert.deepEqual([...encodeHeaders([':status', '200'])], [0x88]);
  const list = [':status', '200', 'content-type', 'application/grpc', 'grpc-status', '3', 'grpc-message', 'etcdserver: %25 bad', 'x', ''];
  const block = encodeHeaders(list);
  assert.deepEqual(new HpackDecoder().decode(block), list);
  const long = ['grpc-message', 'm'.repeat(1000)];
  assert.deepEqual(new HpackDecoder().decode(encodeHeaders(long)), long);
});
