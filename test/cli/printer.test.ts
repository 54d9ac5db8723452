// Checks every printer format byte for byte against output captured from etcdctl 3.4.23
// (driving a real etcd 3.4.23): each test builds the response etcd sent and compares the
// printed text with what etcdctl printed for it. Header IDs are given as bigints (cast) so
// that etcd's real 64-bit cluster and member IDs print exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyValue, ResponseHeader, StatusResponse } from '../../src/core/api/kv.js';
import { CliError } from '../../src/cli/cli-error.js';
import { createPrinter, type EndpointHealthRow, type Printer, type PrinterOptions } from '../../src/cli/printer.js';

const u = (x: string): Uint8Array => new TextEncoder().encode(x);
const big = (n: bigint): number => n as unknown as number;
const CLUSTER = big(14841639068965178418n);
const MEMBER = big(10276657743932975437n);
const hdr = (revision: number): ResponseHeader => ({ clusterId: CLUSTER, memberId: MEMBER, revision, raftTerm: 2 });
const nested = (revision: number): ResponseHeader => ({ clusterId: 0, memberId: 0, revision, raftTerm: 0 });
const kv = (key: string | Uint8Array, value: string | Uint8Array, createRevision: number, modRevision: number, version: number, lease = 0): KeyValue => ({
  key: typeof key === 'string' ? u(key) : key,
  value: typeof value === 'string' ? u(value) : value,
  createRevision,
  modRevision,
  version,
  lease,
});
const FIELDS_HDR = (rev: number): string =>
  `"ClusterID" : 14841639068965178418\n"MemberID" : 10276657743932975437\n"Revision" : ${rev}\n"RaftTerm" : 2\n`;
const JSON_HDR = (rev: number): string =>
  `"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":${rev},"raft_term":2}`;

/** Prints with `format` and returns [stdout, stderr] as text. */
function print(format: string, fn: (p: Printer) => void, options: PrinterOptions = {}): [string, string] {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (parts: Buffer[]) => ({ write: (c: string | Uint8Array) => parts.push(Buffer.from(c)) });
  fn(createPrinter(format, sink(out), sink(err), options));
  return [Buffer.concat(out).toString('latin1'), Buffer.concat(err).toString()];
}

test('get: simple, json and fields', () => {
  const resp = { header: hdr(3), kvs: [kv('foo', 'bar2', 2, 3, 2)], more: false, count: 1 };
  assert.equal(print('simple', (p) => p.get(resp))[0], 'foo\nbar2\n');
  assert.equal(print('simple', (p) => p.get(resp), { valueOnly: true })[0], 'bar2\n');
  assert.equal(
    print('json', (p) => p.get(resp))[0],
    `{${JSON_HDR(3)},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,"value":"YmFyMg=="}],"count":1}\n`,
  );
  assert.equal(
    print('fields', (p) => p.get(resp))[0],
    FIELDS_HDR(3) +
      '"Key" : "foo"\n"CreateRevision" : 2\n"ModRevision" : 3\n"Version" : 2\n"Value" : "bar2"\n"Lease" : 0\n"More" : false\n"Count" : 1\n',
  );
});

test('get: limit/more, keys-only, no match, lease, binary and --hex', () => {
  const two = { header: hdr(24), kvs: [kv('p/a', 'va', 20, 20, 1), kv('p/b', 'vb2', 21, 24, 2)], more: true, count: 4 };
  assert.equal(
    print('json', (p) => p.get(two))[0],
    `{${JSON_HDR(24)},"kvs":[{"key":"cC9h","create_revision":20,"mod_revision":20,"version":1,"value":"dmE="},` +
      `{"key":"cC9i","create_revision":21,"mod_revision":24,"version":2,"value":"dmIy"}],"more":true,"count":4}\n`,
  );
  assert.equal(
    print('fields', (p) => p.get(two))[0],
    FIELDS_HDR(24) +
      '"Key" : "p/a"\n"CreateRevision" : 20\n"ModRevision" : 20\n"Version" : 1\n"Value" : "va"\n"Lease" : 0\n' +
      '"Key" : "p/b"\n"CreateRevision" : 21\n"ModRevision" : 24\n"Version" : 2\n"Value" : "vb2"\n"Lease" : 0\n' +
      '"More" : true\n"Count" : 4\n',
  );
  const keysOnly = { header: hdr(24), kvs: [kv('p/a', '', 20, 20, 1), kv('p/b', '', 21, 24, 2)], more: false, count: 2 };
  assert.equal(print('simple', (p) => p.get(keysOnly))[0], 'p/a\n\np/b\n\n');
  assert.equal(print('simple', (p) => p.get(keysOnly), { valueOnly: true })[0], '\n\n');
  assert.equal(
    print('json', (p) => p.get(keysOnly))[0],
    `{${JSON_HDR(24)},"kvs":[{"key":"cC9h","create_revision":20,"mod_revision":20,"version":1},{"key":"cC9i","create_revision":21,"mod_revision":24,"version":2}],"count":2}\n`,
  );
  const none = { header: hdr(24), kvs: [], more: false, count: 0 };
  assert.equal(print('simple', (p) => p.get(none))[0], '');
  assert.equal(print('json', (p) => p.get(none))[0], `{${JSON_HDR(24)}}\n`);
  assert.equal(print('fields', (p) => p.get(none))[0], FIELDS_HDR(24) + '"More" : false\n"Count" : 0\n');

  const leased = { header: hdr(41), kvs: [kv('lk', 'v', 41, 41, 1, big(7587899123570825075n))], more: false, count: 1 };
  assert.equal(
    print('json', (p) => p.get(leased))[0],
    `{${JSON_HDR(41)},"kvs":[{"key":"bGs=","create_revision":41,"mod_revision":41,"version":1,"value":"dg==","lease":7587899123570825075}],"count":1}\n`,
  );
  assert.match(print('fields', (p) => p.get(leased))[0], /"Lease" : 7587899123570825075\n/);

  const value = Uint8Array.from([0x61, 0x22, 0x62, 0x5c, 0x63, 0x09, 0x64, 0x01, 0xff, 0xc3, 0xa9, 0xe2, 0x80, 0x8b, 0x0a]);
  const binary = { header: hdr(25), kvs: [kv('bin/k1', value, 25, 25, 1)], more: false, count: 1 };
  // fields ignores --hex and quotes like Go's %q (é is printable, U+200B is not)
  const fields = FIELDS_HDR(25) +
    '"Key" : "bin/k1"\n"CreateRevision" : 25\n"ModRevision" : 25\n"Version" : 1\n' +
    '"Value" : "a\\"b\\\\c\\td\\x01\\xff\u00c3\u00a9\\u200b\\n"\n"Lease" : 0\n"More" : false\n"Count" : 1\n';
  assert.equal(print('fields', (p) => p.get(binary), { hex: true })[0], fields);
  assert.equal(
    print('simple', (p) => p.get(binary), { hex: true })[0],
    '\\x62\\x69\\x6e\\x2f\\x6b\\x31\n\\x61\\x22\\x62\\x5c\\x63\\x09\\x64\\x01\\xff\\xc3\\xa9\\xe2\\x80\\x8b\\x0a\n',
  );
  assert.equal(
    print('json', (p) => p.get(binary), { hex: true })[0],
    `{${JSON_HDR(25)},"kvs":[{"key":"YmluL2sx","create_revision":25,"mod_revision":25,"version":1,"value":"YSJiXGMJZAH/w6nigIsK"}],"count":1}\n`,
  );
  // simple without --hex writes the raw bytes
  assert.deepEqual(Buffer.from(print('simple', (p) => p.get(binary))[0], 'latin1'), Buffer.concat([Buffer.from('bin/k1\n'), Buffer.from(value), Buffer.from('\n')]));
});

test('put: simple, json and fields, with and without prev kv', () => {
  const plain = { header: hdr(4) };
  const prev = { header: hdr(5), prevKv: kv('foo', 'bar', 2, 4, 3) };
  assert.equal(print('simple', (p) => p.put(plain))[0], 'OK\n');
  assert.equal(print('simple', (p) => p.put(prev))[0], 'OK\nfoo\nbar\n');
  assert.equal(print('simple', (p) => p.put(prev), { hex: true })[0], 'OK\n\\x66\\x6f\\x6f\n\\x62\\x61\\x72\n');
  assert.equal(print('json', (p) => p.put(plain))[0], `{${JSON_HDR(4)}}\n`);
  assert.equal(
    print('json', (p) => p.put(prev))[0],
    `{${JSON_HDR(5)},"prev_kv":{"key":"Zm9v","create_revision":2,"mod_revision":4,"version":3,"value":"YmFy"}}\n`,
  );
  assert.equal(print('fields', (p) => p.put({ header: hdr(6) }))[0], FIELDS_HDR(6));
  assert.equal(
    print('fields', (p) => p.put({ header: hdr(10), prevKv: kv('foo', 'z', 2, 9, 8) }))[0],
    FIELDS_HDR(10) +
      '"PrevKey" : "foo"\n"PrevCreateRevision" : 2\n"PrevModRevision" : 9\n"PrevVersion" : 8\n"PrevValue" : "z"\n"PrevLease" : 0\n',
  );
});

test('del: simple, json and fields', () => {
  const none = { header: hdr(26), deleted: 0, prevKvs: [] };
  assert.equal(print('simple', (p) => p.del(none))[0], '0\n');
  assert.equal(print('json', (p) => p.del(none))[0], `{${JSON_HDR(26)}}\n`);
  assert.equal(print('fields', (p) => p.del(none))[0], FIELDS_HDR(26) + '"Deleted" : 0\n');
  assert.equal(print('simple', (p) => p.del({ header: hdr(27), deleted: 1, prevKvs: [kv('p/a', 'va', 20, 20, 1)] }))[0], '1\np/a\nva\n');
  assert.equal(
    print('json', (p) => p.del({ header: hdr(28), deleted: 1, prevKvs: [kv('p/b', 'vb2', 21, 24, 2)] }))[0],
    `{${JSON_HDR(28)},"deleted":1,"prev_kvs":[{"key":"cC9i","create_revision":21,"mod_revision":24,"version":2,"value":"dmIy"}]}\n`,
  );
  assert.equal(
    print('fields', (p) => p.del({ header: hdr(29), deleted: 1, prevKvs: [kv('p/c', 'vc', 22, 22, 1)] }))[0],
    FIELDS_HDR(29) +
      '"Deleted" : 1\n"PrevKey" : "p/c"\n"PrevCreateRevision" : 22\n"PrevModRevision" : 22\n"PrevVersion" : 1\n"PrevValue" : "vc"\n"PrevLease" : 0\n',
  );
});

test('txn: simple, json and fields', () => {
  const success = {
    header: hdr(31),
    succeeded: true,
    responses: [
      { responsePut: { header: nested(31) } },
      { responseRange: { header: nested(31), kvs: [kv('t1', '5', 29, 29, 1)], more: false, count: 1 } },
      { responseDeleteRange: { header: nested(31), deleted: 1, prevKvs: [] } },
    ],
  };
  assert.equal(print('simple', (p) => p.txn(success))[0], 'SUCCESS\n\nOK\n\nt1\n5\n\n1\n');
  const failure = {
    header: hdr(37),
    succeeded: false,
    responses: [
      { responsePut: { header: nested(37) } },
      { responseRange: { header: nested(37), kvs: [kv('t4', 'v4', 37, 37, 1)], more: false, count: 1 } },
      { responseDeleteRange: { header: nested(37), deleted: 1, prevKvs: [kv('t3', 'v3', 35, 35, 1)] } },
      { responseRange: { header: nested(37), kvs: [], more: false, count: 0 } },
      { responsePut: { header: nested(37), prevKv: kv('t1', '5', 31, 31, 1) } },
      { responseDeleteRange: { header: nested(37), deleted: 1, prevKvs: [] } },
    ],
  };
  assert.equal(print('simple', (p) => p.txn(failure))[0], 'FAILURE\n\nOK\n\nt4\nv4\n\n1\nt3\nv3\n\n\nOK\nt1\n5\n\n1\n');
  // --print-value-only does not reach the ops of a txn
  assert.equal(print('simple', (p) => p.txn(success), { valueOnly: true })[0], 'SUCCESS\n\nOK\n\nt1\n5\n\n1\n');
  assert.equal(print('simple', (p) => p.txn({ header: hdr(36), succeeded: true, responses: [] }))[0], 'SUCCESS\n');
  assert.equal(print('json', (p) => p.txn({ header: hdr(36), succeeded: true, responses: [] }))[0], `{${JSON_HDR(36)},"succeeded":true}\n`);
  assert.equal(print('fields', (p) => p.txn({ header: hdr(36), succeeded: true, responses: [] }))[0], FIELDS_HDR(36) + '"Succeeded" : true\n');
  assert.equal(print('json', (p) => p.txn({ header: hdr(36), succeeded: false, responses: [] }))[0], `{${JSON_HDR(36)}}\n`);

  const mixed = {
    header: hdr(33),
    succeeded: true,
    responses: [
      {
        responseRange: {
          header: nested(32),
          kvs: [kv('t1', '5', 31, 31, 1), kv('t2', 'hello', 32, 32, 1)],
          more: false,
          count: 2,
        },
      },
      { responseRange: { header: nested(32), kvs: [kv('t1', '', 31, 31, 1), kv('t2', '', 32, 32, 1)], more: false, count: 2 } },
      { responsePut: { header: nested(33) } },
    ],
  };
  assert.equal(
    print('json', (p) => p.txn(mixed))[0],
    `{${JSON_HDR(33)},"succeeded":true,"responses":[` +
      '{"Response":{"ResponseRange":{"header":{"revision":32},"kvs":[{"key":"dDE=","create_revision":31,"mod_revision":31,"version":1,"value":"NQ=="},{"key":"dDI=","create_revision":32,"mod_revision":32,"version":1,"value":"aGVsbG8="}],"count":2}}},' +
      '{"Response":{"ResponseRange":{"header":{"revision":32},"kvs":[{"key":"dDE=","create_revision":31,"mod_revision":31,"version":1},{"key":"dDI=","create_revision":32,"mod_revision":32,"version":1}],"count":2}}},' +
      '{"Response":{"ResponsePut":{"header":{"revision":33}}}}]}\n',
  );
  const fieldsTxn = {
    header: hdr(34),
    succeeded: true,
    responses: [
      { responseRange: { header: nested(33), kvs: [kv('t1', '5', 31, 31, 1), kv('t2', 'hello', 32, 32, 1)], more: false, count: 2 } },
      { responsePut: { header: nested(34), prevKv: kv('t5', 'hi', 33, 33, 1) } },
      { responseDeleteRange: { header: nested(34), deleted: 0, prevKvs: [] } },
    ],
  };
  const nestedFields = (rev: number): string => `"ClusterID" : 0\n"MemberID" : 0\n"Revision" : ${rev}\n"RaftTerm" : 0\n`;
  assert.equal(
    print('fields', (p) => p.txn(fieldsTxn))[0],
    FIELDS_HDR(34) +
      '"Succeeded" : true\n' +
      nestedFields(33) +
      '"Key" : "t1"\n"CreateRevision" : 31\n"ModRevision" : 31\n"Version" : 1\n"Value" : "5"\n"Lease" : 0\n' +
      '"Key" : "t2"\n"CreateRevision" : 32\n"ModRevision" : 32\n"Version" : 1\n"Value" : "hello"\n"Lease" : 0\n' +
      '"More" : false\n"Count" : 2\n' +
      nestedFields(34) +
      '"PrevKey" : "t5"\n"PrevCreateRevision" : 33\n"PrevModRevision" : 33\n"PrevVersion" : 1\n"PrevValue" : "hi"\n"PrevLease" : 0\n' +
      nestedFields(34) +
      '"Deleted" : 0\n',
  );
});

const STATUS: StatusResponse = {
  header: hdr(45),
  version: '3.4.23',
  dbSize: 24576,
  leader: MEMBER,
  raftIndex: 68,
  raftTerm: 2,
  raftAppliedIndex: 68,
  errors: [],
  dbSizeInUse: 24576,
  isLearner: false,
};

test('endpoint status: simple, table, json and fields', () => {
  const rows = [{ endpoint: '127.0.0.1:23790', status: STATUS }];
  assert.equal(print('simple', (p) => p.endpointStatus(rows))[0], '127.0.0.1:23790, 8e9e05c52164694d, 3.4.23, 25 kB, true, false, 2, 68, 68, \n');
  assert.equal(
    print('table', (p) => p.endpointStatus(rows))[0],
    '+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n' +
      '|    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |\n' +
      '+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n' +
      '| 127.0.0.1:23790 | 8e9e05c52164694d |  3.4.23 |   25 kB |      true |      false |         2 |         68 |                 68 |        |\n' +
      '+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n',
  );
  assert.equal(
    print('json', (p) => p.endpointStatus(rows))[0],
    `[{"Endpoint":"127.0.0.1:23790","Status":{${JSON_HDR(45)},"version":"3.4.23","dbSize":24576,"leader":10276657743932975437,"raftIndex":68,"raftTerm":2,"raftAppliedIndex":68,"dbSizeInUse":24576}}]\n`,
  );
  assert.equal(
    print('fields', (p) => p.endpointStatus(rows))[0],
    FIELDS_HDR(45) +
      '"Version" : "3.4.23"\n"DBSize" : 24576\n"Leader" : 10276657743932975437\n"IsLearner" : false\n' +
      '"RaftIndex" : 68\n"RaftTerm" : 2\n"RaftAppliedIndex" : 68\n"Errors" : []\n"Endpoint" : "127.0.0.1:23790"\n\n',
  );
  const three = ['127.0.0.1:23790', 'http://127.0.0.1:23790', 'localhost:23790'].map((endpoint) => ({ endpoint, status: STATUS }));
  assert.equal(
    print('table', (p) => p.endpointStatus(three))[0],
    '+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n' +
      '|        ENDPOINT        |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |\n' +
      '+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n' +
      '|        127.0.0.1:23790 | 8e9e05c52164694d |  3.4.23 |   25 kB |      true |      false |         2 |         68 |                 68 |        |\n' +
      '| http://127.0.0.1:23790 | 8e9e05c52164694d |  3.4.23 |   25 kB |      true |      false |         2 |         68 |                 68 |        |\n' +
      '|        localhost:23790 | 8e9e05c52164694d |  3.4.23 |   25 kB |      true |      false |         2 |         68 |                 68 |        |\n' +
      '+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n',
  );
  // no endpoint answered: etcdctl still prints the frame, closing border twice
  assert.equal(
    print('table', (p) => p.endpointStatus([]))[0],
    '+----------+----+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n' +
      '| ENDPOINT | ID | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |\n' +
      '+----------+----+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n' +
      '+----------+----+---------+---------+-----------+------------+-----------+------------+--------------------+--------+\n',
  );
  assert.equal(print('json', (p) => p.endpointStatus([]))[0], '[]\n');
  // a follower with errors and a learner flag
  const follower = { ...STATUS, leader: 7, errors: ['etcdserver: no leader', 'x'], isLearner: true };
  assert.equal(
    print('simple', (p) => p.endpointStatus([{ endpoint: 'e', status: follower }]))[0],
    'e, 8e9e05c52164694d, 3.4.23, 25 kB, false, true, 2, 68, 68, etcdserver: no leader, x\n',
  );
  assert.match(print('json', (p) => p.endpointStatus([{ endpoint: 'e', status: follower }]))[0], /"leader":7,.*"errors":\["etcdserver: no leader","x"\],"dbSizeInUse":24576,"isLearner":true\}/);
  assert.match(print('fields', (p) => p.endpointStatus([{ endpoint: 'e', status: follower }]))[0], /"Errors" : \[etcdserver: no leader x\]\n/);
});

test('endpoint health: simple (on stderr), json, table and fields', () => {
  const healthy: EndpointHealthRow[] = [{ endpoint: '127.0.0.1:23790', health: true, took: '656.755µs', error: '' }];
  assert.deepEqual(print('simple', (p) => p.endpointHealth(healthy)), ['', '127.0.0.1:23790 is healthy: successfully committed proposal: took = 656.755µs\n']);
  const h2: EndpointHealthRow[] = [{ endpoint: '127.0.0.1:23790', health: true, took: '1.032717ms', error: '' }];
  assert.equal(print('json', (p) => p.endpointHealth(h2))[0], '[{"endpoint":"127.0.0.1:23790","health":true,"took":"1.032717ms"}]\n');
  const out = (format: string, rows: EndpointHealthRow[]) => Buffer.from(print(format, (p) => p.endpointHealth(rows))[0], 'latin1').toString();
  assert.equal(
    out('table', [{ endpoint: '127.0.0.1:23790', health: true, took: '839.523µs', error: '' }]),
    '+-----------------+--------+-----------+-------+\n' +
      '|    ENDPOINT     | HEALTH |   TOOK    | ERROR |\n' +
      '+-----------------+--------+-----------+-------+\n' +
      '| 127.0.0.1:23790 |   true | 839.523µs |       |\n' +
      '+-----------------+--------+-----------+-------+\n',
  );
  assert.equal(
    out('fields', [{ endpoint: '127.0.0.1:23790', health: true, took: '838.806µs', error: '' }]),
    '"Endpoint" : "127.0.0.1:23790"\n"Health" : true\n"Took" : 838.806µs\n"Error" : \n\n',
  );
  const down: EndpointHealthRow[] = [{ endpoint: '127.0.0.1:1', health: false, took: '5.000593918s', error: 'context deadline exceeded' }];
  assert.equal(
    out('table', down),
    '+-------------+--------+--------------+---------------------------+\n' +
      '|  ENDPOINT   | HEALTH |     TOOK     |           ERROR           |\n' +
      '+-------------+--------+--------------+---------------------------+\n' +
      '| 127.0.0.1:1 |  false | 5.000593918s | context deadline exceeded |\n' +
      '+-------------+--------+--------------+---------------------------+\n',
  );
  assert.equal(
    out('json', [{ ...down[0]!, took: '5.001171929s' }]),
    '[{"endpoint":"127.0.0.1:1","health":false,"took":"5.001171929s","error":"context deadline exceeded"}]\n',
  );
  assert.deepEqual(
    print('simple', (p) => p.endpointHealth([...healthy, ...down])),
    ['', '127.0.0.1:23790 is healthy: successfully committed proposal: took = 656.755µs\n127.0.0.1:1 is unhealthy: failed to commit proposal: context deadline exceeded\n'],
  );
});

test('table wraps cells wider than 30 at spaces like tablewriter (observed with odd endpoints)', () => {
  const row = (endpoint: string): EndpointHealthRow => ({ endpoint, health: false, took: '300.885267ms', error: 'context deadline exceeded' });
  const table = (rows: EndpointHealthRow[]) => Buffer.from(print('table', (p) => p.endpointHealth(rows))[0], 'latin1').toString();
  assert.equal(
    table([row('127.0.0.1:1 one two three four five six seven eight')]),
    '+--------------------------------+--------+--------------+---------------------------+\n' +
      '|            ENDPOINT            | HEALTH |     TOOK     |           ERROR           |\n' +
      '+--------------------------------+--------+--------------+---------------------------+\n' +
      '| 127.0.0.1:1 one two three four |  false | 300.885267ms | context deadline exceeded |\n' +
      '|           five six seven eight |        |              |                           |\n' +
      '+--------------------------------+--------+--------------+---------------------------+\n',
  );
  assert.equal(
    table([row('aaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb c')]),
    '+------------------------------------------------+--------+--------------+---------------------------+\n' +
      '|                    ENDPOINT                    | HEALTH |     TOOK     |           ERROR           |\n' +
      '+------------------------------------------------+--------+--------------+---------------------------+\n' +
      '|                                     aaaaaaaaaa |  false | 300.885267ms | context deadline exceeded |\n' +
      '| bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb |        |              |                           |\n' +
      '|                                              c |        |              |                           |\n' +
      '+------------------------------------------------+--------+--------------+---------------------------+\n',
  );
});

test('unsupported formats fail with exit 4', () => {
  const resp = { header: hdr(1), kvs: [], more: false, count: 0 };
  for (const call of [
    (p: Printer) => p.get(resp),
    (p: Printer) => p.put({ header: hdr(1) }),
    (p: Printer) => p.del({ header: hdr(1), deleted: 0, prevKvs: [] }),
    (p: Printer) => p.txn({ header: hdr(1), succeeded: true, responses: [] }),
  ]) {
    assert.throws(() => print('table', call), (e: unknown) => e instanceof CliError && e.exitCode === 4 && e.message === 'table not supported as output format');
  }
  assert.throws(() => print('bogus', () => {}), (e: unknown) => e instanceof CliError && e.exitCode === 4 && e.message === 'unsupported output format');
  assert.throws(() => print('protobuf', () => {}), (e: unknown) => e instanceof CliError && e.exitCode === 4 && e.message === 'protobuf not supported as output format');
});
