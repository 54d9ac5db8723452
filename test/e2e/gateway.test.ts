// etcd's HTTP endpoints on the grpc port, end to end: the real etcetera server process (LMDB)
// with a grpc listener, spoken to over HTTP/1.1 with node's fetch and node:http, as curl users
// and HTTP clients of etcd do. When Debian's etcd 3.4 binary is installed, a real etcd on
// loopback gets the same requests in the same order and the answers must be equal: status,
// content type, and the JSON text itself (field names and order, int64 as strings, base64,
// omitted zero values), after replacing what legitimately differs (member and cluster IDs,
// raft term and index, versions, sizes, ports, lease IDs). Without etcd, the answers are checked
// against the same written expectations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startEtcd, which, type EtcdProcess } from './etcd-reference.js';
import { startServer, type ServerProcess } from './harness.js';

interface Target {
  readonly name: 'etcetera' | 'etcd';
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
}

let etcetera: ServerProcess | undefined;
let etcd: EtcdProcess | undefined;
const targets: Target[] = [];

before(async () => {
  etcetera = await startServer({ driver: 'lmdb', grpcAddress: '127.0.0.1:0' });
  targets.push({ name: 'etcetera', base: etcetera.grpc!.replace('grpc://', 'http://') });
  const bin = which('etcd');
  if (bin !== null) {
    etcd = await startEtcd(bin);
    targets.push({ name: 'etcd', base: `http://${etcd.endpoint}` });
  }
});

after(async () => {
  await etcetera?.stop();
  await etcd?.stop();
});

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Fields whose values differ between two correct servers, replaced by a placeholder. */
const VARYING = new Set([
  'cluster_id',
  'member_id',
  'raft_term',
  'leader',
  'dbSize',
  'dbSizeInUse',
  'raftIndex',
  'raftTerm',
  'raftAppliedIndex',
  'peerURLs',
  'clientURLs',
  'etcdserver',
]);

/** The JSON text with varying values replaced, keeping field order. */
function normalizeJson(t: Target, text: string): string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text.replaceAll(t.base.replace('http://', ''), '<EP>');
  }
  const walk = (x: unknown, key: string): unknown => {
    if (Array.isArray(x)) return VARYING.has(key) ? '<X>' : x.map((y) => walk(y, ''));
    if (x !== null && typeof x === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, y] of Object.entries(x)) out[k] = walk(y, k);
      return out;
    }
    if (VARYING.has(key) || (key === 'ID' && typeof x === 'string')) return '<X>';
    // Status.version ("3.4.23"), not KeyValue.version (a count).
    if (key === 'version' && typeof x === 'string' && x.includes('.')) return '<X>';
    return x;
  };
  return JSON.stringify(walk(v, ''));
}

interface Answer {
  status: number;
  type: string;
  body: string;
}

async function send(t: Target, method: string, path: string, body?: string): Promise<Answer> {
  const r = await fetch(`${t.base}${path}`, body === undefined ? { method } : { method, body });
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: normalizeJson(t, await r.text()) };
}

/** Sends the request to every target (one after the other: the same order on each store). */
async function check(method: string, path: string, body: string | undefined, want: Answer | ((a: Answer) => void)): Promise<void> {
  for (const t of targets) {
    const a = await send(t, method, path, body);
    const label = `${t.name}: ${method} ${path} ${body ?? ''}`;
    if (typeof want === 'function') want(a);
    else assert.deepEqual(a, want, label);
  }
}

const H = '{"cluster_id":"<X>","member_id":"<X>","revision":"REV","raft_term":"<X>"}';
const h = (rev: number): string => H.replace('REV', String(rev));
const ok = (body: string): Answer => ({ status: 200, type: 'application/json', body });
const err = (status: number, code: number, message: string): Answer => ({
  status,
  type: 'application/json',
  body: JSON.stringify({ error: message, message, code }),
});

test('the JSON gateway answers as etcd 3.4 does', { timeout: 120_000 }, async (t) => {
  if (targets.length === 1) t.diagnostic('etcd is not installed: answers are checked against the written expectations only');

  await t.test('kv: put, range, deleterange', async () => {
    await check('POST', '/v3/kv/put', `{"key":"${b64('foo')}","value":"${b64('bar')}"}`, ok(`{"header":${h(2)}}`));
    await check(
      'POST',
      '/v3/kv/put',
      `{"key":"${b64('foo')}","value":"${b64('baz')}","prev_kv":true}`,
      ok(`{"header":${h(3)},"prev_kv":{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}}`),
    );
    await check(
      'POST',
      '/v3/kv/range',
      `{"key":"${b64('foo')}"}`,
      ok(`{"header":${h(3)},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmF6"}],"count":"1"}`),
    );
    await check('POST', '/v3/kv/range', `{"key":"${b64('nope')}"}`, ok(`{"header":${h(3)}}`));
    for (const k of ['p/a', 'p/b', 'p/c', 'p/d']) await check('POST', '/v3/kv/put', `{"key":"${b64(k)}","value":"${b64(k)}"}`, () => {});
    await check(
      'POST',
      '/v3/kv/range',
      `{"key":"${b64('p/')}","range_end":"${b64('p0')}","limit":2,"keys_only":true}`,
      ok(
        `{"header":${h(7)},"kvs":[{"key":"cC9h","create_revision":"4","mod_revision":"4","version":"1"},` +
          `{"key":"cC9i","create_revision":"5","mod_revision":"5","version":"1"}],"more":true,"count":"4"}`,
      ),
    );
    // camelCase input names, int64 as a string, enums by name.
    await check(
      'POST',
      '/v3/kv/range',
      `{"key":"${b64('p/')}","rangeEnd":"${b64('p0')}","limit":"1","sortOrder":"DESCEND","sort_target":"KEY","countOnly":false}`,
      ok(`{"header":${h(7)},"kvs":[{"key":"cC9k","create_revision":"7","mod_revision":"7","version":"1","value":"cC9k"}],"more":true,"count":"4"}`),
    );
    await check('POST', '/v3/kv/range', '{"key":"AA==","range_end":"AA==","count_only":true}', ok(`{"header":${h(7)},"count":"5"}`));
    await check(
      'POST',
      '/v3/kv/deleterange',
      `{"key":"${b64('p/a')}","range_end":"${b64('p/c')}","prev_kv":true}`,
      ok(
        `{"header":${h(8)},"deleted":"2","prev_kvs":[{"key":"cC9h","create_revision":"4","mod_revision":"4","version":"1","value":"cC9h"},` +
          `{"key":"cC9i","create_revision":"5","mod_revision":"5","version":"1","value":"cC9i"}]}`,
      ),
    );
    await check('POST', '/v3/kv/deleterange', `{"key":"${b64('nope')}"}`, ok(`{"header":${h(8)}}`));
    await check('POST', '/v3beta/kv/range', `{"key":"${b64('foo')}","count_only":true}`, ok(`{"header":${h(8)},"count":"1"}`));
  });

  await t.test('kv: txn and compaction', async () => {
    await check(
      'POST',
      '/v3/kv/txn',
      JSON.stringify({
        compare: [{ key: b64('new'), target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
        success: [{ request_put: { key: b64('new'), value: b64('one') } }, { request_range: { key: b64('new') } }],
      }),
      ok(
        `{"header":${h(9)},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"9"}}},` +
          `{"response_range":{"header":{"revision":"9"},"kvs":[{"key":"bmV3","create_revision":"9","mod_revision":"9","version":"1","value":"b25l"}],"count":"1"}}]}`,
      ),
    );
    await check(
      'POST',
      '/v3/kv/txn',
      JSON.stringify({ compare: [{ key: b64('new'), target: 'VALUE', result: 'EQUAL', value: b64('two') }], failure: [{ request_delete_range: { key: b64('zzz') } }] }),
      ok(`{"header":${h(9)},"responses":[{"response_delete_range":{"header":{"revision":"9"}}}]}`),
    );
    await check('POST', '/v3/kv/compaction', '{"revision":"3"}', ok(`{"header":${h(9)}}`));
    await check('POST', '/v3/kv/compaction', '{"revision":3}', err(400, 11, 'etcdserver: mvcc: required revision has been compacted'));
    await check('POST', '/v3/kv/compaction', '{"revision":100}', err(400, 11, 'etcdserver: mvcc: required revision is a future revision'));
    await check('POST', '/v3/kv/range', `{"key":"${b64('foo')}","revision":2}`, err(400, 11, 'etcdserver: mvcc: required revision has been compacted'));
  });

  await t.test('errors: bad input, wrong method, unknown paths', async () => {
    await check('POST', '/v3/kv/range', '{"key":""}', err(400, 3, 'etcdserver: key is not provided'));
    await check('POST', '/v3/kv/put', '{"value":"eA=="}', err(400, 3, 'etcdserver: key is not provided'));
    await check('POST', '/v3/kv/range', 'garbage', err(400, 3, "invalid character 'g' looking for beginning of value"));
    // The detail of a type mismatch is Go's or ours; the code and status are etcd's.
    await check('POST', '/v3/kv/range', '{"key":"Zm9v","limit":"x"}', (a) => {
      assert.equal(a.status, 400);
      assert.equal((JSON.parse(a.body) as { code: number }).code, 3);
    });
    await check('POST', '/v3/kv/range', '{"key":"Zm9v","unknown_field":1}', (a) => assert.equal(a.status, 200, 'unknown fields are ignored'));
    await check('GET', '/v3/kv/range', undefined, { status: 405, type: 'text/plain; charset=utf-8', body: 'Method Not Allowed\n' });
    await check('GET', '/nope', undefined, { status: 404, type: 'text/plain; charset=utf-8', body: '404 page not found\n' });
    await check('POST', '/v3/nope', '{}', { status: 404, type: 'text/plain; charset=utf-8', body: 'Not Found\n' });
    await check('POST', '/v3alpha/kv/range', '{}', { status: 404, type: 'text/plain; charset=utf-8', body: '404 page not found\n' });
    // Auth is disabled: FailedPrecondition. etcd's Debian build maps it to HTTP 412, upstream
    // etcd (grpc-gateway >= 1.9.5) and etcetera to 400; clients read `code`.
    await check('POST', '/v3/auth/authenticate', '{"name":"root","password":"x"}', (a) => {
      assert.ok(a.status === 400 || a.status === 412, String(a.status));
      assert.equal(a.body, JSON.stringify({ error: 'etcdserver: authentication is not enabled', message: 'etcdserver: authentication is not enabled', code: 9 }));
    });
  });

  await t.test('maintenance and cluster', async () => {
    await check(
      'POST',
      '/v3/maintenance/status',
      '{}',
      ok(`{"header":${h(9)},"version":"<X>","dbSize":"<X>","leader":"<X>","raftIndex":"<X>","raftTerm":"<X>","raftAppliedIndex":"<X>","dbSizeInUse":"<X>"}`),
    );
    await check('POST', '/v3/maintenance/alarm', '{}', ok('{}'));
    await check('POST', '/v3/maintenance/defragment', '', ok('{}'));
    await check('POST', '/v3/cluster/member/list', '{}', (a) => {
      assert.equal(a.status, 200);
      const j = JSON.parse(a.body) as { header: Record<string, string>; members: Record<string, unknown>[] };
      assert.deepEqual(j.header, { cluster_id: '<X>', member_id: '<X>', raft_term: '<X>' }, 'no revision in Cluster headers');
      // NB: a lone etcetera member has no peer listener, hence no peer URL (omitted when empty).
      const { peerURLs: _peers, ...rest } = j.members[0]!;
      assert.equal(j.members.length, 1);
      assert.deepEqual(rest, { ID: '<X>', name: 'e2e', clientURLs: '<X>' });
    });
    for (const tg of targets) {
      const r = await fetch(`${tg.base}/v3/cluster/member/list`, { method: 'POST', body: '{}' });
      const j = (await r.json()) as { members: { clientURLs: string[] }[] };
      assert.deepEqual(j.members[0]!.clientURLs, [tg.base], `${tg.name}: the client URL is the one etcd clients dial`);
    }
  });

  await t.test('/health and /version', async () => {
    await check('GET', '/health', undefined, { status: 200, type: 'text/plain; charset=utf-8', body: '{"health":"true"}' });
    await check('POST', '/health', '', { status: 405, type: 'text/plain; charset=utf-8', body: 'Method Not Allowed\n' });
    await check('GET', '/version', undefined, ok('{"etcdserver":"<X>","etcdcluster":"3.4.0"}'));
    const v = (await (await fetch(`${targets[0]!.base}/version`)).json()) as { etcdserver: string };
    assert.equal(v.etcdserver, '3.4.0-etcetera');
  });

  await t.test('watch over HTTP: {"result":…} lines, history first', async () => {
    for (const tg of targets) {
      const lines = await new Promise<string[]>((resolve, reject) => {
        const got: string[] = [];
        const req = http.request(`${tg.base}/v3/watch`, { method: 'POST' }, (res) => {
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            buf += d;
            let i;
            while ((i = buf.indexOf('\n')) >= 0) {
              got.push(normalizeJson(tg, buf.slice(0, i)));
              buf = buf.slice(i + 1);
              if (got.length === 2) {
                resolve(got);
                req.destroy();
              }
            }
          });
        });
        req.on('error', (e) => (got.length < 2 ? reject(e) : undefined));
        setTimeout(() => reject(new Error(`${tg.name}: the watch printed only ${JSON.stringify(got)}`)), 10_000).unref();
        req.end(`{"create_request":{"key":"${b64('new')}","start_revision":9,"prev_kv":true}}`);
      });
      assert.deepEqual(
        lines,
        [
          `{"result":{"header":${h(9)},"created":true}}`,
          `{"result":{"header":${h(9)},"events":[{"kv":{"key":"bmV3","create_revision":"9","mod_revision":"9","version":"1","value":"b25l"}}]}}`,
        ],
        tg.name,
      );
    }
  });

  await t.test('leases over HTTP', async () => {
    await check('POST', '/v3/lease/grant', '{"TTL":60,"ID":4660}', ok(`{"header":${h(9)},"ID":"<X>","TTL":"60"}`));
    await check('POST', '/v3/kv/lease/timetolive', '{"ID":"4660"}', (a) => {
      assert.equal(a.status, 200);
      assert.match(a.body, /^\{"header":.*,"ID":"<X>","TTL":"\d+","grantedTTL":"60"\}$/);
    });
    await check('POST', '/v3/lease/timetolive', '{"ID":12345}', ok(`{"header":${h(9)},"ID":"<X>","TTL":"-1"}`));
    await check('POST', '/v3/lease/revoke', '{"ID":4660}', ok(`{"header":${h(9)}}`));
    await check('POST', '/v3/lease/revoke', '{"ID":4660}', err(404, 5, 'etcdserver: requested lease not found'));
  });
});
