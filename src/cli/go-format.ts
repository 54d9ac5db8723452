/**
 * Go's text conventions that etcdctl's output and error messages are made of: `%q` quoting,
 * `time.Duration` printing and parsing, `strconv` integer/bool parsing, go-humanize byte
 * sizes and `encoding/json` output. etceteractl reproduces them so its output can be read
 * by the same scripts as etcdctl's. Written from the documented Go behaviour; pure.
 */

const HEX = '0123456789abcdef';

function hex2(b: number): string {
  return HEX[b >> 4]! + HEX[b & 15]!;
}

/**
 * Decodes one UTF-8 sequence at `i` the way Go's `utf8.DecodeRune` does: returns the code
 * point and its length, or `[-1, 1]` for an invalid or overlong sequence or a surrogate.
 */
export function decodeRune(b: Uint8Array, i: number): [number, number] {
  const b0 = b[i]!;
  if (b0 < 0x80) return [b0, 1];
  const cont = (j: number, lo = 0x80, hi = 0xbf): number => {
    const x = b[i + j];
    return x !== undefined && x >= lo && x <= hi ? x & 0x3f : -1;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(1);
    return c1 < 0 ? [-1, 1] : [((b0 & 0x1f) << 6) | c1, 2];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const c1 = cont(1, b0 === 0xe0 ? 0xa0 : 0x80, b0 === 0xed ? 0x9f : 0xbf);
    const c2 = c1 < 0 ? -1 : cont(2);
    return c2 < 0 ? [-1, 1] : [((b0 & 0x0f) << 12) | (c1 << 6) | c2, 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(1, b0 === 0xf0 ? 0x90 : 0x80, b0 === 0xf4 ? 0x8f : 0xbf);
    const c2 = c1 < 0 ? -1 : cont(2);
    const c3 = c2 < 0 ? -1 : cont(3);
    return c3 < 0 ? [-1, 1] : [((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4];
  }
  return [-1, 1];
}

const GRAPHIC = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and ASCII space. */
export function isGoPrint(r: number): boolean {
  if (r <= 0xff) return (r >= 0x20 && r <= 0x7e) || (r >= 0xa1 && r !== 0xad);
  return GRAPHIC.test(String.fromCodePoint(r));
}

const SHORT_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };

/**
 * Go's `strconv.Quote` (what `%q` prints) over raw bytes: printable runes stay as they are,
 * invalid UTF-8 bytes become `\xNN`, other runes `\a`…`\v`, `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
 */
export function goQuote(bytes: Uint8Array | string): string {
  const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  let out = '"';
  for (let i = 0; i < b.length; ) {
    const [r, size] = decodeRune(b, i);
    if (r < 0) {
      out += '\\x' + hex2(b[i]!);
    } else if (r === 0x22 || r === 0x5c) {
      out += '\\' + String.fromCharCode(r);
    } else if (isGoPrint(r)) {
      out += String.fromCodePoint(r);
    } else if (SHORT_ESCAPES[r] !== undefined) {
      out += SHORT_ESCAPES[r];
    } else if (r < 0x20 || r === 0x7f) {
      out += '\\x' + hex2(r);
    } else if (r < 0x10000) {
      out += '\\u' + r.toString(16).padStart(4, '0');
    } else {
      out += '\\U' + r.toString(16).padStart(8, '0');
    }
    i += size;
  }
  return out + '"';
}

/** Go's `strconv.Unquote` failure, whose text is exactly `invalid syntax`. */
export class GoSyntaxError extends Error {
  constructor() {
    super('invalid syntax');
    this.name = 'GoSyntaxError';
  }
}

function isOctal(c: number): boolean {
  return c >= 0x30 && c <= 0x37;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function pushUtf8(out: number[], r: number): void {
  out.push(...new TextEncoder().encode(String.fromCodePoint(r)));
}

/**
 * Go's `strconv.Unquote` for a double-quoted or back-quoted literal given as raw bytes,
 * returning raw bytes (`"\xff"` is one byte 0xff, `"\u00e9"` the two UTF-8 bytes of é).
 * Throws `GoSyntaxError` for anything Go rejects: a bad escape, `\'` inside double quotes,
 * a newline inside double quotes, a surrogate or out-of-range `\u`/`\U`, a missing quote.
 */
export function goUnquote(lit: Uint8Array): Uint8Array {
  const n = lit.length;
  if (n < 2) throw new GoSyntaxError();
  const q = lit[0]!;
  if (q !== lit[n - 1]) throw new GoSyntaxError();
  const body = lit.subarray(1, n - 1);
  if (q === 0x60) {
    if (body.includes(0x60)) throw new GoSyntaxError();
    return body.filter((c) => c !== 0x0d);
  }
  if (q !== 0x22) throw new GoSyntaxError();
  if (body.includes(0x0a)) throw new GoSyntaxError();
  const out: number[] = [];
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c === 0x22) throw new GoSyntaxError();
    if (c !== 0x5c) {
      out.push(c);
      i++;
      continue;
    }
    const e = body[i + 1];
    if (e === undefined) throw new GoSyntaxError();
    i += 2;
    switch (e) {
      case 0x61: out.push(7); break; // \a
      case 0x62: out.push(8); break; // \b
      case 0x66: out.push(12); break; // \f
      case 0x6e: out.push(10); break; // \n
      case 0x72: out.push(13); break; // \r
      case 0x74: out.push(9); break; // \t
      case 0x76: out.push(11); break; // \v
      case 0x5c: out.push(0x5c); break;
      case 0x22: out.push(0x22); break;
      case 0x78: // \xHH
      case 0x75: // \uHHHH
      case 0x55: { // \UHHHHHHHH
        const len = e === 0x78 ? 2 : e === 0x75 ? 4 : 8;
        let v = 0;
        for (let k = 0; k < len; k++) {
          const h = hexValue(body[i + k] ?? -1);
          if (h < 0) throw new GoSyntaxError();
          v = v * 16 + h;
        }
        i += len;
        if (e === 0x78) out.push(v);
        else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new GoSyntaxError();
        else pushUtf8(out, v);
        break;
      }
      default: {
        if (!isOctal(e)) throw new GoSyntaxError();
        const d1 = body[i];
        const d2 = body[i + 1];
        if (d1 === undefined || d2 === undefined || !isOctal(d1) || !isOctal(d2)) throw new GoSyntaxError();
        const v = (e - 0x30) * 64 + (d1 - 0x30) * 8 + (d2 - 0x30);
        if (v > 255) throw new GoSyntaxError();
        out.push(v);
        i += 2;
      }
    }
  }
  return Uint8Array.from(out);
}

/**
 * Go's `time.Duration.String()` for a duration in nanoseconds: `0s`, `750ns`, `1.5µs`,
 * `656.755µs`, `1.032717ms`, `5.000593918s`, `1m30s`, `2h0m0s`.
 */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  const u = neg ? -ns : ns;
  const frac = (v: bigint, digits: number): string => {
    const scale = 10n ** BigInt(digits);
    const whole = v / scale;
    const rest = (v % scale).toString().padStart(digits, '0').replace(/0+$/, '');
    return rest === '' ? whole.toString() : `${whole}.${rest}`;
  };
  let s: string;
  if (u < 1_000n) s = `${u}ns`;
  else if (u < 1_000_000n) s = `${frac(u, 3)}µs`;
  else if (u < 1_000_000_000n) s = `${frac(u, 6)}ms`;
  else {
    const secs = frac(u % 60_000_000_000n, 9);
    const mins = (u / 60_000_000_000n) % 60n;
    const hours = u / 3_600_000_000_000n;
    if (hours > 0n) s = `${hours}h${mins}m${secs}s`;
    else if (mins > 0n) s = `${mins}m${secs}s`;
    else s = `${secs}s`;
  }
  return neg ? `-${s}` : s;
}

const DURATION_UNITS_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Go's `time.ParseDuration`, returning nanoseconds (a float: sub-nanosecond precision is
 * irrelevant for timeouts). Throws an Error with Go's text: `time: invalid duration "x"`,
 * `time: missing unit in duration "5"`, `time: unknown unit "q" in duration "5q"`.
 */
export function parseGoDuration(text: string): number {
  const quoted = goQuote(text);
  const invalid = (): Error => new Error(`time: invalid duration ${quoted}`);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const num = /^([0-9]*)(\.([0-9]*))?/.exec(s)!;
    const intPart = num[1]!;
    const fracPart = num[3] ?? '';
    if (intPart === '' && fracPart === '') throw invalid();
    s = s.slice(num[0].length);
    const unitMatch = /^[^0-9.]*/.exec(s)!;
    const unit = unitMatch[0];
    if (unit === '') throw new Error(`time: missing unit in duration ${quoted}`);
    const scale = DURATION_UNITS_NS[unit];
    if (scale === undefined) throw new Error(`time: unknown unit ${goQuote(unit)} in duration ${quoted}`);
    s = s.slice(unit.length);
    total += Number(`${intPart === '' ? '0' : intPart}.${fracPart === '' ? '0' : fracPart}`) * scale;
  }
  return sign * total;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * Go's `strconv.ParseInt(s, base, 64)`. Base 0 reads a `0x`/`0o`/`0b` or leading-`0` prefix
 * (pflag parses integer flags this way); base 10 and 16 take digits only. Throws an Error
 * with Go's text: `strconv.ParseInt: parsing "abc": invalid syntax` or `...: value out of range`.
 */
export function parseGoInt(text: string, base: 0 | 10 | 16): bigint {
  const fail = (why: string): Error => new Error(`strconv.ParseInt: parsing ${goQuote(text)}: ${why}`);
  let s = text;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  let b: number = base;
  if (base === 0) {
    b = 10;
    if (/^0[xX]/.test(s)) [b, s] = [16, s.slice(2)];
    else if (/^0[oO]/.test(s)) [b, s] = [8, s.slice(2)];
    else if (/^0[bB]/.test(s)) [b, s] = [2, s.slice(2)];
    else if (s.length > 1 && s[0] === '0') [b, s] = [8, s.slice(1)];
  }
  if (s === '') throw fail('invalid syntax');
  let v = 0n;
  for (const ch of s) {
    const d = hexValue(ch.charCodeAt(0));
    if (d < 0 || d >= b || ch.length !== 1) throw fail('invalid syntax');
    v = v * BigInt(b) + BigInt(d);
  }
  if (neg) v = -v;
  if (v > INT64_MAX || v < INT64_MIN) throw fail('value out of range');
  return v;
}

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * Go's `strconv.ParseUint(s, base, 64)` for base 10 or 16 (etcdctl reads member IDs with
 * base 16): digits only, no sign, no `0x` prefix. Like Go it stops at the first problem, so
 * `1ffffffffffffffffzz` is out of range, not invalid. Throws an Error with Go's text:
 * `strconv.ParseUint: parsing "zz": invalid syntax` or `...: value out of range`.
 */
export function parseGoUint(text: string, base: 10 | 16): bigint {
  const fail = (why: string): Error => new Error(`strconv.ParseUint: parsing ${goQuote(text)}: ${why}`);
  if (text === '') throw fail('invalid syntax');
  let v = 0n;
  for (const ch of text) {
    const d = ch.length === 1 ? hexValue(ch.charCodeAt(0)) : -1;
    if (d < 0 || d >= base) throw fail('invalid syntax');
    v = v * BigInt(base) + BigInt(d);
    if (v > UINT64_MAX) throw fail('value out of range');
  }
  return v;
}

/** Go's `strconv.ParseBool` (what pflag uses for `--flag=value` on boolean flags). */
export function parseGoBool(text: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new Error(`strconv.ParseBool: parsing ${goQuote(text)}: invalid syntax`);
}

/** Rounds half to even, as Go's `%.0f` does for a value exactly halfway. */
function toFixed0HalfEven(v: number): string {
  const f = Math.floor(v);
  const d = v - f;
  if (d === 0.5) return String(f % 2 === 0 ? f : f + 1);
  return v.toFixed(0);
}

/**
 * go-humanize's `Bytes` (SI, base 1000), which `endpoint status` uses for DB SIZE:
 * `9 B`, `25 kB`, `1.5 MB`.
 */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const suffix = sizes[e] ?? 'EB';
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${suffix}` : `${toFixed0HalfEven(val)} ${suffix}`;
}

/** A value `goJson` can print. Object keys keep insertion order; bigint prints as a number. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

/** Go `encoding/json` string escaping: HTML-safe (`<`, `>`, `&` as `\u003c`…), U+2028/9. */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16).padStart(4, '0');
    } else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'; // a lone surrogate: Go sees invalid UTF-8
    else out += ch;
  }
  return out + '"';
}

/**
 * Compact JSON the way Go's `json.Marshal` prints it: no spaces, 64-bit integers as plain
 * numbers (pass a bigint to print one beyond 2^53 exactly).
 */
export function goJson(v: JsonValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'bigint':
      return v.toString();
    case 'string':
      return goJsonString(v);
  }
  if (Array.isArray(v)) return '[' + v.map(goJson).join(',') + ']';
  return '{' + Object.entries(v).map(([k, x]) => goJsonString(k) + ':' + goJson(x)).join(',') + '}';
}
