/**
 * The text format `etceteractl txn` reads, which is etcdctl's:
 *
 *     mod("key1") > "0"            <- compares, one per line: TARGET("key") OP "value"
 *     value("key2") = "v"
 *                                  <- blank line
 *     put key1 "new value"         <- success requests: put / get / del with their flags
 *     get key2 --prefix
 *                                  <- blank line
 *     del key3                     <- failure requests
 *                                  <- blank line (required: without it the input ends early)
 *
 * Targets: `ver`/`version`, `c`/`create`, `m`/`mod` (decimal integers), `val`/`value`
 * (bytes), `lease` (decimal lease ID). Operators: `=`, `!=`, `<`, `>`. Quoted strings are Go
 * literals: `"…"` with Go escapes (`\"`, `\\`, `\n`, `\x00`, `\u00e9`…) or raw `` `…` ``.
 * Request lines are split into words like etcdctl's argify: `"…"` (Go-unquoted), `'…'`
 * (taken literally) or a run of non-space characters.
 *
 * Everything here is pure: no I/O. Errors are CliErrors carrying etcdctl's messages and exit
 * codes (3 for malformed input; 128 and 4 for request flags, as the commands themselves).
 */
import { Command, CommanderError } from 'commander';
import { CompareResult, CompareTarget, type Compare, type RequestOp, type TxnRequest } from '../core/api/kv.js';
import { CliError, ExitCode, FlagValueError } from './cli-error.js';
import { addDelOptions, buildDeleteRequest, type DelFlags } from './commands/del.js';
import { addGetOptions, buildRangeRequest, getFlags, type GetFlagsRaw } from './commands/get.js';
import { addPutOptions, buildPutRequest, type PutFlags } from './commands/put.js';
import { normalizeBooleanFlags } from './flags.js';
import { GoSyntaxError, goQuote, goUnquote, parseGoInt } from './go-format.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bytes as a string of one char per byte, so that regexes and commander can split them. */
function toBinary(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
function fromBinary(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

// NB: Go's regexp `\s` is [\t\n\f\r ]; `.` is any byte but \n. Same leftmost-first choice.
const WORD = /"(?:[^"\\]|\\[^\n])*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*/g;

/**
 * Splits a request line into words, as etcdctl's argify does: double-quoted words are Go
 * string literals (escapes decoded, so any byte can be written), single-quoted words are
 * taken literally, anything else is a run of non-space characters. An unterminated quote is
 * skipped. Throws CliError exit 3 `invalid syntax` for a bad escape.
 *
 * NB: etcdctl 3.4 cuts single-quoted words short (it slices by the number of words instead
 * of the word's length); etceteractl keeps the whole word.
 */
export function argify(line: string): Uint8Array[] {
  const words: Uint8Array[] = [];
  for (const m of toBinary(enc.encode(line)).matchAll(WORD)) {
    const w = m[0];
    if (w.startsWith("'")) words.push(fromBinary(w.slice(1, -1)));
    else if (w.startsWith('"')) {
      try {
        words.push(goUnquote(fromBinary(w)));
      } catch (e) {
        if (e instanceof GoSyntaxError) throw new CliError(ExitCode.InvalidInput, e.message);
        throw e;
      }
    } else words.push(fromBinary(w));
  }
  return words;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0b || c === 0x0c || c === 0x0d;
}

/**
 * Scans `%q) %s %q` from `b` the way Go's fmt.Sscanf does: verbs skip leading spaces, a
 * space in the format needs at least one space in the input (or its end), `)` must follow
 * the key at once. Returns how many values were read and the values (zero when unread).
 */
function scanCompareTail(b: Uint8Array): { n: number; key: Uint8Array; op: string; val: Uint8Array } {
  const res: { n: number; key: Uint8Array; op: string; val: Uint8Array } = { n: 0, key: new Uint8Array(0), op: '', val: new Uint8Array(0) };
  let pos = 0;
  const skip = (): void => {
    while (pos < b.length && isSpace(b[pos])) pos++;
  };
  const formatSpace = (): boolean => {
    if (pos < b.length && !isSpace(b[pos])) return false;
    skip();
    return true;
  };
  const quoted = (): Uint8Array | null => {
    skip();
    const q = b[pos];
    let end: number;
    if (q === 0x60) {
      end = b.indexOf(0x60, pos + 1);
      if (end < 0) return null;
    } else if (q === 0x22) {
      end = pos + 1;
      for (;;) {
        if (end >= b.length) return null;
        if (b[end] === 0x5c) end += 2;
        else if (b[end] === 0x22) break;
        else end++;
      }
      if (end >= b.length) return null;
    } else return null;
    const lit = b.subarray(pos, end + 1);
    pos = end + 1;
    try {
      return goUnquote(lit);
    } catch {
      return null;
    }
  };

  const key = quoted();
  if (key === null) return res;
  res.key = key;
  res.n = 1;
  if (b[pos] !== 0x29) return res;
  pos++;
  if (!formatSpace()) return res;
  skip();
  const start = pos;
  while (pos < b.length && !isSpace(b[pos])) pos++;
  if (pos === start) return res;
  res.op = dec.decode(b.subarray(start, pos));
  res.n = 2;
  if (!formatSpace()) return res;
  const val = quoted();
  if (val === null) return res;
  res.val = val;
  res.n = 3;
  return res;
}

const OPERATORS: Record<string, CompareResult> = {
  '=': CompareResult.EQUAL,
  '!=': CompareResult.NOT_EQUAL,
  '>': CompareResult.GREATER,
  '<': CompareResult.LESS,
};

/**
 * Parses one compare line, e.g. `mod("k") > "5"` or `value("k") = "v"`. Throws CliError
 * exit 3 with etcdctl's message: `malformed comparison: <line>; got <what was read>`,
 * `malformed comparison: <line> (unknown target t)`, or `invalid txn compare request: <line>`
 * for a number that does not parse.
 *
 * NB: etcdctl 3.4 crashes on `lease(..)` compares and on an unknown operator; etceteractl
 * compares the lease ID as a decimal number, and rejects the operator with a message.
 */
export function parseCompare(line: string): Compare {
  const lp = line.indexOf('(');
  if (lp < 0) throw new CliError(ExitCode.InvalidInput, `malformed comparison: ${line}`);
  const target = line.slice(0, lp);
  const { n, key, op, val } = scanCompareTail(enc.encode(line.slice(lp + 1)));
  if (n !== 3) {
    throw new CliError(
      ExitCode.InvalidInput,
      `malformed comparison: ${line}; got ${target}(${goQuote(key)}) ${op} ${goQuote(val)}`,
    );
  }
  const integer = (): number => {
    try {
      const v = Number(parseGoInt(dec.decode(val), 10));
      if (Number.isSafeInteger(v)) return v;
    } catch {
      // reported below with etcdctl's message
    }
    throw new CliError(ExitCode.InvalidInput, `invalid txn compare request: ${line}`);
  };
  let cmp: Compare;
  switch (target) {
    case 'ver':
    case 'version':
      cmp = { key, target: CompareTarget.VERSION, version: integer() };
      break;
    case 'c':
    case 'create':
      cmp = { key, target: CompareTarget.CREATE, createRevision: integer() };
      break;
    case 'm':
    case 'mod':
      cmp = { key, target: CompareTarget.MOD, modRevision: integer() };
      break;
    case 'val':
    case 'value':
      cmp = { key, target: CompareTarget.VALUE, value: val };
      break;
    case 'lease':
      cmp = { key, target: CompareTarget.LEASE, lease: integer() };
      break;
    default:
      throw new CliError(ExitCode.InvalidInput, `malformed comparison: ${line} (unknown target ${target})`);
  }
  const result = OPERATORS[op];
  if (result === undefined) {
    throw new CliError(ExitCode.InvalidInput, `malformed comparison: ${line} (unknown operator ${op}; use =, !=, < or >)`);
  }
  cmp.result = result;
  return cmp;
}

const silent = { writeOut: (): void => {}, writeErr: (): void => {}, outputError: (): void => {} };

/** Runs commander over one request line's words; returns positional words and flags. */
function parseWords<T>(
  verb: string,
  addOptions: (c: Command) => Command,
  words: string[],
): { args: Uint8Array[]; flags: T } {
  let parsed: { args: Uint8Array[]; flags: T } | undefined;
  const cmd = addOptions(new Command(verb).exitOverride().configureOutput(silent).argument('[args...]')).action(
    (args: string[], opts: Record<string, unknown>) => {
      // Flag values are ASCII in practice; decode them as the UTF-8 the user typed.
      const flags = Object.fromEntries(
        Object.entries(opts).map(([k, v]) => [k, typeof v === 'string' ? dec.decode(fromBinary(v)) : v]),
      );
      parsed = { args: args.map(fromBinary), flags: flags as T };
    },
  );
  cmd.parse(normalizeBooleanFlags(words), { from: 'user' });
  if (parsed === undefined) throw new CommanderError(1, 'commander.noAction', 'no action ran');
  return parsed;
}

/**
 * Parses one request line (`put k v`, `get k --prefix`, `del k --prev-kv`) into a RequestOp,
 * with the same flags and checks as the commands. A line that is not such a request exits 3
 * (`invalid txn request: <line>`; fewer than two words: `invalid txn compare request: <line>`,
 * etcdctl's text). A `put` without a value is an error: stdin already holds the txn itself.
 */
export function parseRequestOp(line: string): RequestOp {
  const words = argify(line).map(toBinary);
  if (words.length < 2) throw new CliError(ExitCode.InvalidInput, `invalid txn compare request: ${line}`);
  const [verb, ...rest] = words as [string, ...string[]];
  const invalid = (): CliError => new CliError(ExitCode.InvalidInput, `invalid txn request: ${line}`);
  try {
    switch (verb) {
      case 'get': {
        const { args, flags } = parseWords<GetFlagsRaw>('get', addGetOptions, rest);
        return { requestRange: buildRangeRequest(args, getFlags(flags)) };
      }
      case 'put': {
        const { args, flags } = parseWords<PutFlags>('put', addPutOptions, rest);
        return { requestPut: buildPutRequest(args, flags) };
      }
      case 'del': {
        const { args, flags } = parseWords<DelFlags>('del', addDelOptions, rest);
        return { requestDeleteRange: buildDeleteRequest(args, flags) };
      }
      default:
        throw invalid();
    }
  } catch (e) {
    if (e instanceof CommanderError || e instanceof FlagValueError) throw invalid();
    throw e;
  }
}

/** Which part of the txn input comes next. */
export type TxnSection = 'compares' | 'success' | 'failure' | 'done';

/** What `txn -i` prints before each part, as etcdctl does. */
export const TXN_PROMPTS: Readonly<Record<Exclude<TxnSection, 'done'>, string>> = {
  compares: 'compares:',
  success: 'success requests (get, put, del):',
  failure: 'failure requests (get, put, del):',
};

/**
 * Builds a TxnRequest from input lines fed one at a time, so that `txn -i` can prompt
 * before each part. A line is trimmed of surrounding white space; an empty line ends the
 * current part.
 */
export class TxnBuilder {
  private current: TxnSection = 'compares';
  private readonly compare: Compare[] = [];
  private readonly success: RequestOp[] = [];
  private readonly failure: RequestOp[] = [];

  /** The part the next line belongs to; `done` after the failure part's blank line. */
  get section(): TxnSection {
    return this.current;
  }

  /** Takes one line (without its `\n`); returns true once the request is complete. */
  feed(line: string): boolean {
    const text = line.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
    switch (this.current) {
      case 'compares':
        if (text === '') this.current = 'success';
        else this.compare.push(parseCompare(text));
        break;
      case 'success':
        if (text === '') this.current = 'failure';
        else this.success.push(parseRequestOp(text));
        break;
      case 'failure':
        if (text === '') this.current = 'done';
        else this.failure.push(parseRequestOp(text));
        break;
      case 'done':
        break;
    }
    return this.current === 'done';
  }

  /** The request read so far (complete once `section` is `done`). */
  request(): TxnRequest {
    return { compare: [...this.compare], success: [...this.success], failure: [...this.failure] };
  }
}

/**
 * Parses a whole txn input. Like etcdctl, the input must end each of the three parts with
 * a blank line, and a last line without `\n` does not count: ending early is CliError exit 3
 * `EOF`. Anything after the failure part's blank line is ignored.
 */
export function parseTxn(text: string): TxnRequest {
  const b = new TxnBuilder();
  const lines = text.split('\n');
  lines.pop(); // after the last '\n': an unterminated line, or ''
  for (const line of lines) if (b.feed(line)) return b.request();
  throw new CliError(ExitCode.InvalidInput, 'EOF');
}
