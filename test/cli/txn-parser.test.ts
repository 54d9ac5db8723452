// Checks the txn input parser against etcdctl 3.4.23's behaviour, table-driven: compare
// lines (Go %q scanning, targets, operators, numbers), request lines (argify word splitting,
// quoting and escapes, get/put/del flags) and whole inputs (blank-line sections, EOF). Each
// expected message was observed by feeding the same line to the real `etcdctl txn`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompareResult, CompareTarget, SortOrder, SortTarget, type Compare, type RequestOp } from '../../src/core/api/kv.js';
import { CliError } from '../../src/cli/cli-error.js';
import { argify, parseCompare, parseRequestOp, parseTxn, TxnBuilder } from '../../src/cli/txn-parser.js';

const u = (x: string): Uint8Array => new TextEncoder().encode(x);
const B = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

function rejects(fn: () => unknown, wantCode: number, wantMessage: string, label: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CliError, `${label}: not a CliError: ${String(e)}`);
    assert.equal(e.message, wantMessage, label);
    assert.equal(e.exitCode, wantCode, label);
    return true;
  });
}

test('compare lines that etcdctl accepts', () => {
  const V = CompareTarget.VALUE;
  const cases: [string, Compare][] = [
    ['mod("t1") > "5"', { key: u('t1'), target: CompareTarget.MOD, modRevision: 5, result: CompareResult.GREATER }],
    ['m("t1") < "-1"', { key: u('t1'), target: CompareTarget.MOD, modRevision: -1, result: CompareResult.LESS }],
    ['create("t1") = "+31"', { key: u('t1'), target: CompareTarget.CREATE, createRevision: 31, result: CompareResult.EQUAL }],
    ['c("k") != "0"', { key: u('k'), target: CompareTarget.CREATE, createRevision: 0, result: CompareResult.NOT_EQUAL }],
    ['version("t1") != "1"', { key: u('t1'), target: CompareTarget.VERSION, version: 1, result: CompareResult.NOT_EQUAL }],
    ['ver("k") = "3"', { key: u('k'), target: CompareTarget.VERSION, version: 3, result: CompareResult.EQUAL }],
    ['value("t2") = "hello"', { key: u('t2'), target: V, value: u('hello'), result: CompareResult.EQUAL }],
    ['val("k") > ""', { key: u('k'), target: V, value: u(''), result: CompareResult.GREATER }],
    ['value("t1")  =   "6"', { key: u('t1'), target: V, value: u('6'), result: CompareResult.EQUAL }],
    ['value("t1")\t=\t"6"', { key: u('t1'), target: V, value: u('6'), result: CompareResult.EQUAL }],
    ['value( "t1") = "6"', { key: u('t1'), target: V, value: u('6'), result: CompareResult.EQUAL }],
    ['value(`t1`) = `6`', { key: u('t1'), target: V, value: u('6'), result: CompareResult.EQUAL }],
    ['value("t\\x31") = "\\u0036"', { key: u('t1'), target: V, value: u('6'), result: CompareResult.EQUAL }],
    ['value("\\xff\\x00") = "a\\"b"', { key: B(0xff, 0), target: V, value: u('a"b'), result: CompareResult.EQUAL }],
    ['value("t1") = "6" trailing junk', { key: u('t1'), target: V, value: u('6'), result: CompareResult.EQUAL }],
    ['value("t1") = `6`x', { key: u('t1'), target: V, value: u('6'), result: CompareResult.EQUAL }],
    ['value("t1") = "6)"', { key: u('t1'), target: V, value: u('6)'), result: CompareResult.EQUAL }],
    ['value("é") = "ü"', { key: u('é'), target: V, value: u('ü'), result: CompareResult.EQUAL }],
    // etcdctl 3.4.23 panics on lease compares; etceteractl reads a decimal lease ID.
    ['lease("k") = "0"', { key: u('k'), target: CompareTarget.LEASE, lease: 0, result: CompareResult.EQUAL }],
    ['lease("k") != "7587899123570825"', { key: u('k'), target: CompareTarget.LEASE, lease: 7587899123570825, result: CompareResult.NOT_EQUAL }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseCompare(line), want, line);
});

test('compare lines that etcdctl rejects, with its messages (exit 3)', () => {
  const cases: [string, string][] = [
    ['value("t1")="6"', 'malformed comparison: value("t1")="6"; got value("t1")  ""'],
    ['value("t1") ="6"', 'malformed comparison: value("t1") ="6"; got value("t1") ="6" ""'],
    ['value("t1")= "6"', 'malformed comparison: value("t1")= "6"; got value("t1")  ""'],
    ['value ("t1") = "6"', 'malformed comparison: value ("t1") = "6" (unknown target value )'],
    ['value("t1") = 6', 'malformed comparison: value("t1") = 6; got value("t1") = ""'],
    ['value(t1) = "6"', 'malformed comparison: value(t1) = "6"; got value("")  ""'],
    ['bogus("t1") = "6"', 'malformed comparison: bogus("t1") = "6" (unknown target bogus)'],
    ['value "t1" = "6"', 'malformed comparison: value "t1" = "6"'],
    ['mod("t1") > "abc"', 'invalid txn compare request: mod("t1") > "abc"'],
    ['create("t1") = "  5"', 'invalid txn compare request: create("t1") = "  5"'],
    ['create("t1") = "0x1f"', 'invalid txn compare request: create("t1") = "0x1f"'],
    ['value("t1") = "6', 'malformed comparison: value("t1") = "6; got value("t1") = ""'],
    ['value("t1"', 'malformed comparison: value("t1"; got value("t1")  ""'],
    ['value("t1")', 'malformed comparison: value("t1"); got value("t1")  ""'],
    ['value("t1") =', 'malformed comparison: value("t1") =; got value("t1") = ""'],
    ['value("t\\q") = "6"', 'malformed comparison: value("t\\q") = "6"; got value("")  ""'],
    ['value("a\\tb\\x00") =', 'malformed comparison: value("a\\tb\\x00") =; got value("a\\tb\\x00") = ""'],
    ['value("t1"x) = "6"', 'malformed comparison: value("t1"x) = "6"; got value("t1")  ""'],
    ['value("t1" ) = "6"', 'malformed comparison: value("t1" ) = "6"; got value("t1")  ""'],
    // etcdctl panics on an unknown operator; etceteractl says what is wrong.
    ['version("t1") == "1"', 'malformed comparison: version("t1") == "1" (unknown operator ==; use =, !=, < or >)'],
    ['version("t1") >= "1"', 'malformed comparison: version("t1") >= "1" (unknown operator >=; use =, !=, < or >)'],
  ];
  for (const [line, message] of cases) rejects(() => parseCompare(line), 3, message, line);
});

test('argify splits request lines as etcdctl does', () => {
  const cases: [string, Uint8Array[]][] = [
    ['put k v', [u('put'), u('k'), u('v')]],
    ['  put   k\tv  ', [u('put'), u('k'), u('v')]],
    ['put "sp ace" "v a l"', [u('put'), u('sp ace'), u('v a l')]],
    ['put "k\\"q" "a\\nb"', [u('put'), u('k"q'), u('a\nb')]],
    ['get "t\\x31"', [u('get'), u('t1')]],
    ['put "\\xff\\x00" ""', [u('put'), B(0xff, 0), u('')]],
    ['get "t1', [u('get'), u('t1')]], // an unterminated quote is skipped
    ['put a\\ b c', [u('put'), u('a\\'), u('b'), u('c')]],
    ["put t9 'single q'", [u('put'), u('t9'), u('single q')]], // etcdctl 3.4 would keep only "s"
    ["put k '\\n'", [u('put'), u('k'), u('\\n')]],
    ['put k a"b', [u('put'), u('k'), u('a"b')]],
    ['put k é', [u('put'), u('k'), u('é')]],
    ['', []],
  ];
  for (const [line, want] of cases) assert.deepEqual(argify(line), want, line);
  rejects(() => argify('put k "\\q"'), 3, 'invalid syntax', 'bad escape');
});

test('request lines become the same requests as the commands send', () => {
  const cases: [string, RequestOp][] = [
    ['put t3 v3', { requestPut: { key: u('t3'), value: u('v3') } }],
    ['put t5 hi --prev-kv', { requestPut: { key: u('t5'), value: u('hi'), prevKv: true } }],
    ['put k v --lease=694da20cebef', { requestPut: { key: u('k'), value: u('v'), lease: 0x694da20cebef } }],
    ['put k --ignore-value', { requestPut: { key: u('k'), ignoreValue: true } }],
    ['put k v --ignore-lease', { requestPut: { key: u('k'), value: u('v'), ignoreLease: true } }],
    ['put k ""', { requestPut: { key: u('k'), value: u('') } }],
    ['put k -- -neg', { requestPut: { key: u('k'), value: u('-neg') } }],
    ['get t1', { requestRange: { key: u('t1') } }],
    ['get t1 t5', { requestRange: { key: u('t1'), rangeEnd: u('t5') } }],
    [
      'get t --prefix --limit 1 --sort-by KEY --order DESCEND',
      { requestRange: { key: u('t'), rangeEnd: u('u'), limit: 1, sortOrder: SortOrder.DESCEND } },
    ],
    ['get t --prefix=true --keys-only', { requestRange: { key: u('t'), rangeEnd: u('u'), keysOnly: true } }],
    ['get t --prefix=false', { requestRange: { key: u('t') } }],
    ['get a --from-key', { requestRange: { key: u('a'), rangeEnd: B(0) } }],
    ['get "" --prefix', { requestRange: { key: B(0), rangeEnd: B(0) } }],
    ['get k --sort-by=value', { requestRange: { key: u('k'), sortTarget: SortTarget.VALUE } }],
    ['get k --consistency=s --rev 3', { requestRange: { key: u('k'), serializable: true, revision: 3 } }],
    ['get t --prefix --count-only', { requestRange: { key: u('t'), rangeEnd: u('u'), countOnly: true } }],
    ['get t1 --print-value-only', { requestRange: { key: u('t1') } }],
    ['get "\\xff" --prefix', { requestRange: { key: B(0xff), rangeEnd: B(0) } }],
    ['del t2', { requestDeleteRange: { key: u('t2') } }],
    ['del t --prefix --prev-kv', { requestDeleteRange: { key: u('t'), rangeEnd: u('u'), prevKv: true } }],
    ['del a c', { requestDeleteRange: { key: u('a'), rangeEnd: u('c') } }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseRequestOp(line), want, line);
});

test('request lines etcdctl rejects, with its messages and exit codes', () => {
  const cases: [string, number, string][] = [
    ['put', 3, 'invalid txn compare request: put'],
    ['bogus t1', 3, 'invalid txn request: bogus t1'],
    ['get t1 --bogus', 3, 'invalid txn request: get t1 --bogus'],
    ['get t1 --limit abc', 3, 'invalid txn request: get t1 --limit abc'],
    ['get t1 --prefix=maybe', 3, 'invalid txn request: get t1 --prefix=maybe'],
    ['get t1 --limit', 3, 'invalid txn request: get t1 --limit'],
    ['put k "\\q"', 3, 'invalid syntax'],
    ['put t9', 128, 'put command needs 1 argument and input from stdin or 2 arguments'],
    ['put k v --ignore-value', 128, "put command needs only 1 argument when 'ignore-value' is set"],
    ['put t8 v --lease=zz', 128, 'bad lease ID (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex'],
    ['put k v --lease=694da20cebefd773', 128, 'bad lease ID (parsing "694da20cebefd773": beyond 2^53, no etcetera lease has it), expecting ID in Hex'],
    ['get t --prefix --from-key', 128, '`--prefix` and `--from-key` cannot be set at the same time, choose one'],
    ['get a b --prefix', 128, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set'],
    ['del a b c', 128, 'del command needs one argument as key and an optional argument as range_end'],
    ['get t --sort-by bogus', 4, 'bad sort target bogus'],
    ['get t --order up', 4, 'bad sort order up'],
    ['get t --consistency x', 4, 'unknown consistency flag "x"'],
  ];
  for (const [line, code, message] of cases) rejects(() => parseRequestOp(line), code, message, line);
});

test('whole inputs: three blank-line-terminated parts, EOF before the end is an error', () => {
  const full = 'mod("t1") > "5"\nvalue("t2") = "hello"\n\nput t3 v3\nget t1\ndel t2\n\nput t4 v4\n\n';
  assert.deepEqual(parseTxn(full), {
    compare: [
      { key: u('t1'), target: CompareTarget.MOD, modRevision: 5, result: CompareResult.GREATER },
      { key: u('t2'), target: CompareTarget.VALUE, value: u('hello'), result: CompareResult.EQUAL },
    ],
    success: [
      { requestPut: { key: u('t3'), value: u('v3') } },
      { requestRange: { key: u('t1') } },
      { requestDeleteRange: { key: u('t2') } },
    ],
    failure: [{ requestPut: { key: u('t4'), value: u('v4') } }],
  });
  assert.deepEqual(parseTxn('\n\n\n'), { compare: [], success: [], failure: [] });
  assert.deepEqual(parseTxn('\nget a\n\n\nignored after the end\n'), {
    compare: [],
    success: [{ requestRange: { key: u('a') } }],
    failure: [],
  });
  // CRLF and white-space-only lines are blank lines too (etcdctl trims every line).
  assert.deepEqual(parseTxn('value("k") = "x"\r\n   \r\n\t\r\n\r\n'), {
    compare: [{ key: u('k'), target: CompareTarget.VALUE, value: u('x'), result: CompareResult.EQUAL }],
    success: [],
    failure: [],
  });
  for (const early of ['', '\n\n', 'mod("t1") > "5"\n\nput t3 v3\n\nput t4 v4\n', '\n\n\n'.slice(0, 2) + 'x']) {
    rejects(() => parseTxn(early), 3, 'EOF', JSON.stringify(early));
  }
  // A bad line fails at once, whatever follows.
  rejects(() => parseTxn('nope\n\n\n'), 3, 'malformed comparison: nope', 'bad compare');
});

test('TxnBuilder reports which part comes next', () => {
  const b = new TxnBuilder();
  assert.equal(b.section, 'compares');
  assert.equal(b.feed('value("k") = "v"'), false);
  assert.equal(b.section, 'compares');
  assert.equal(b.feed(''), false);
  assert.equal(b.section, 'success');
  assert.equal(b.feed('put k v'), false);
  assert.equal(b.feed('  '), false);
  assert.equal(b.section, 'failure');
  assert.equal(b.feed(''), true);
  assert.equal(b.section, 'done');
  assert.equal(b.request().success?.length, 1);
});
