// Checks the Go text conventions etceteractl reproduces (Go's %q quoting and Unquote,
// time.Duration printing/parsing, strconv.ParseInt/ParseUint/ParseBool messages, go-humanize sizes,
// encoding/json strings), table-driven, with expected values taken from Go / etcdctl 3.4.23.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatGoDuration,
  goJson,
  goQuote,
  goUnquote,
  humanizeBytes,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseGoUint,
} from '../../src/cli/go-format.js';

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const s = (x: string): Uint8Array => new TextEncoder().encode(x);

test('goQuote matches Go %q (observed in etcdctl -w fields)', () => {
  const cases: [Uint8Array | string, string][] = [
    ['foo', '"foo"'],
    ['', '""'],
    // etcdctl printed this value as "a\"b\\c\td\x01\xffé\u200b\n"
    [b(0x61, 0x22, 0x62, 0x5c, 0x63, 0x09, 0x64, 0x01, 0xff, 0xc3, 0xa9, 0xe2, 0x80, 0x8b, 0x0a), '"a\\"b\\\\c\\td\\x01\\xffé\\u200b\\n"'],
    [b(0x07, 0x08, 0x0c, 0x0d, 0x0b, 0x7f), '"\\a\\b\\f\\r\\v\\x7f"'],
    ['\u00a0\u00ad\u0085', '"\\u00a0\\u00ad\\u0085"'],
    ['😀', '"😀"'],
    ['\u{e0001}', '"\\U000e0001"'],
    [b(0xed, 0xa0, 0x80), '"\\xed\\xa0\\x80"'], // an encoded surrogate is invalid UTF-8
    [b(0xc0, 0xaf), '"\\xc0\\xaf"'], // overlong
  ];
  for (const [input, want] of cases) assert.equal(goQuote(input), want, String(input));
});

test('goUnquote decodes Go literals to bytes and rejects what Go rejects', () => {
  const ok: [string, Uint8Array][] = [
    ['"abc"', s('abc')],
    ['""', b()],
    ['"\\x00\\xff"', b(0, 0xff)],
    ['"\\u00e9"', s('é')],
    ['"\\U0001F600"', s('😀')],
    ['"\\101\\n\\t\\\\\\""', s('A\n\t\\"')],
    ['"\\a\\b\\f\\r\\v"', b(7, 8, 12, 13, 11)],
    ['`raw \\n`', s('raw \\n')],
    ['`a\rb`', s('ab')],
    ['"é"', s('é')],
  ];
  for (const [lit, want] of ok) assert.deepEqual(goUnquote(s(lit)), want, lit);
  for (const bad of ['"\\q"', '"\\\'"', '"\\400"', '"\\xg0"', '"\\ud800"', '"a"b"', '"a\nb"', '"abc', 'abc', '"', "'a'", '`a`b`']) {
    assert.throws(() => goUnquote(s(bad)), { message: 'invalid syntax' }, bad);
  }
});

test('formatGoDuration matches time.Duration.String()', () => {
  const cases: [bigint, string][] = [
    [0n, '0s'],
    [1n, '1ns'],
    [999n, '999ns'],
    [1_000n, '1µs'],
    [1_500n, '1.5µs'],
    [656_755n, '656.755µs'],
    [1_032_717n, '1.032717ms'],
    [5_000_593_918n, '5.000593918s'],
    [1_000_000_000n, '1s'],
    [60_000_000_000n, '1m0s'],
    [90_500_000_000n, '1m30.5s'],
    [7_200_000_000_000n, '2h0m0s'],
    [-1_500_000n, '-1.5ms'],
  ];
  for (const [ns, want] of cases) assert.equal(formatGoDuration(ns), want);
});

test('parseGoDuration reads Go durations and fails with Go messages', () => {
  const ok: [string, number][] = [
    ['5s', 5e9],
    ['500ms', 5e8],
    ['2s', 2e9],
    ['1m30s', 90e9],
    ['1.5h', 5400e9],
    ['0', 0],
    ['100us', 1e5],
    ['100µs', 1e5],
    ['.5s', 5e8],
    ['-1s', -1e9],
  ];
  for (const [text, ns] of ok) assert.equal(parseGoDuration(text), ns, text);
  const bad: [string, string][] = [
    ['abc', 'time: invalid duration "abc"'],
    ['5', 'time: missing unit in duration "5"'],
    ['', 'time: invalid duration ""'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['.s', 'time: invalid duration ".s"'],
  ];
  for (const [text, message] of bad) assert.throws(() => parseGoDuration(text), { message }, text);
});

test('parseGoInt follows strconv.ParseInt', () => {
  assert.equal(parseGoInt('42', 10), 42n);
  assert.equal(parseGoInt('+31', 10), 31n);
  assert.equal(parseGoInt('-1', 10), -1n);
  assert.equal(parseGoInt('694da20cebefd773', 16), 0x694da20cebefd773n);
  assert.equal(parseGoInt('0x10', 0), 16n);
  assert.equal(parseGoInt('010', 0), 8n);
  assert.equal(parseGoInt('0b101', 0), 5n);
  assert.equal(parseGoInt('7fffffffffffffff', 16), (1n << 63n) - 1n);
  const bad: [string, 0 | 10 | 16, string][] = [
    ['abc', 10, 'strconv.ParseInt: parsing "abc": invalid syntax'],
    ['', 16, 'strconv.ParseInt: parsing "": invalid syntax'],
    ['0x10', 16, 'strconv.ParseInt: parsing "0x10": invalid syntax'],
    ['  5', 10, 'strconv.ParseInt: parsing "  5": invalid syntax'],
    ['zz', 16, 'strconv.ParseInt: parsing "zz": invalid syntax'],
    ['8000000000000000', 16, 'strconv.ParseInt: parsing "8000000000000000": value out of range'],
  ];
  for (const [text, base, message] of bad) assert.throws(() => parseGoInt(text, base), { message }, text);
});

test('parseGoUint follows strconv.ParseUint (etcdctl member IDs)', () => {
  assert.equal(parseGoUint('b5179d13d0285315', 16), 0xb5179d13d0285315n);
  assert.equal(parseGoUint('FFFFFFFFFFFFFFFF', 16), (1n << 64n) - 1n);
  assert.equal(parseGoUint('0', 10), 0n);
  const bad: [string, 10 | 16, string][] = [
    ['', 16, 'strconv.ParseUint: parsing "": invalid syntax'],
    ['-1', 16, 'strconv.ParseUint: parsing "-1": invalid syntax'],
    ['+1', 16, 'strconv.ParseUint: parsing "+1": invalid syntax'],
    ['0x12', 16, 'strconv.ParseUint: parsing "0x12": invalid syntax'],
    ['12a', 10, 'strconv.ParseUint: parsing "12a": invalid syntax'],
    ['1ffffffffffffffff', 16, 'strconv.ParseUint: parsing "1ffffffffffffffff": value out of range'],
    // Go stops at the overflow before it sees the bad digits.
    ['1ffffffffffffffffzz', 16, 'strconv.ParseUint: parsing "1ffffffffffffffffzz": value out of range'],
  ];
  for (const [text, base, message] of bad) assert.throws(() => parseGoUint(text, base), { message }, text);
});

test('parseGoBool follows strconv.ParseBool', () => {
  for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(parseGoBool(t), true);
  for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False']) assert.equal(parseGoBool(f), false);
  assert.throws(() => parseGoBool('abc'), { message: 'strconv.ParseBool: parsing "abc": invalid syntax' });
});

test('humanizeBytes matches go-humanize Bytes', () => {
  const cases: [number, string][] = [
    [0, '0 B'],
    [9, '9 B'],
    [10, '10 B'],
    [999, '999 B'],
    [1000, '1.0 kB'],
    [1500, '1.5 kB'],
    [24576, '25 kB'], // observed: etcdctl endpoint status
    [12_500, '12 kB'], // exactly half: Go's %.0f rounds to even
    [1_000_000, '1.0 MB'],
    [5_368_709_120, '5.4 GB'],
  ];
  for (const [n, want] of cases) assert.equal(humanizeBytes(n), want, String(n));
});

test('goJson prints like encoding/json', () => {
  assert.equal(goJson({ a: 1, b: [true, null], c: 'x<y>&"\\\n\u0001\u2028' }), '{"a":1,"b":[true,null],"c":"x\\u003cy\\u003e\\u0026\\"\\\\\\n\\u0001\\u2028"}');
  assert.equal(goJson(14841639068965178418n), '14841639068965178418');
  assert.equal(goJson([]), '[]');
});
