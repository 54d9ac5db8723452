// etcd compatibility end to end: the real etcetera server process (LMDB) with a grpc listener,
// driven by the real `etcdctl` 3.4 (Debian's etcd-client, ETCDCTL_API=3) over gRPC. Every
// command's stdout, stderr and exit code are compared with a written expectation; when Debian's
// `etcd` 3.4 binary is installed, a real etcd is started on loopback ports and the same commands
// must print the same there (outputs normalized for what legitimately differs: member, cluster
// and lease IDs, ports, versions, sizes, raft term and index, timings). Both stores start empty
// at revision 1 and get the same commands in the same order, so revisions line up.
// A missing etcdctl fails the test with an install hint (CI installs it); it is never skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { codecOf } from '../../src/codec/messages.js';
import { frame, frameOf, RawGrpcClient } from '../transports/grpc-raw-client.js';
import { startEtcd, which, type EtcdProcess } from './etcd-reference.js';
import { startServer, type ServerProcess } from './harness.js';

const ETCDCTL = which('etcdctl');
const ETCD = which('etcd');
const MISSING =
  "etcdctl is not installed: this test drives the real etcd client. Install Debian's etcd-client " +
  '(apt-get install -y etcd-client etcd-server); CI does.';

/** One server under test: where etcdctl dials it. */
interface Target {
  readonly name: 'etcetera' | 'etcd';
  readonly endpoint: string;
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs etcdctl against `t`, feeding `input` on stdin. */
function ctl(t: Target, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(ETCDCTL!, [`--endpoints=${t.endpoint}`, '--dial-timeout=3s', '--command-timeout=5s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
    p.stdin.end(input ?? '');
  });
}

/**
 * What may differ between two correct servers: IDs (hex in simple output, decimal in JSON),
 * the endpoint's port, raft term, timings; clientv3's JSON log lines on stderr (they carry
 * timestamps and random client ids) are dropped.
 */
function normalize(t: Target, s: string): string {
  return s
    .split('\n')
    .filter((l) => !l.startsWith('{"level"'))
    .join('\n')
    .replaceAll(t.endpoint, '<EP>')
    .replace(/"(cluster_id|member_id|raft_term|ID)":\d+/g, '"$1":<N>')
    .replace(/\b[0-9a-f]{10,16}\b/g, '<ID>')
    .replace(/took = [\d.]+(µs|ms|s)/g, 'took = <T>')
    .replace(/remaining\(\d+s\)/g, 'remaining(<N>s)');
}

let etcetera: ServerProcess | undefined;
let etcd: EtcdProcess | undefined;
const targets: Target[] = [];

before(async () => {
  if (ETCDCTL === null) return;
  etcetera = await startServer({ driver: 'lmdb', grpcAddress: '127.0.0.1:0' });
  assert.ok(etcetera.grpc, 'the server reports its grpc URL');
  targets.push({ name: 'etcetera', endpoint: etcetera.grpc.replace('grpc://', '') });
  if (ETCD !== null) {
    etcd = await startEtcd(ETCD);
    targets.push({ name: 'etcd', endpoint: etcd.endpoint });
  }
});

after(async () => {
  await etcetera?.stop();
  await etcd?.stop();
});

interface Want {
  out?: string;
  err?: string;
  code?: number;
}

/**
 * Runs one command on every target (in parallel: they hold separate stores) and checks each
 * normalized result against `want` (stdout and exit code always; stderr when given).
 */
async function check(args: string[] | ((t: Target) => string[]), want: Want, input?: string): Promise<void> {
  await Promise.all(
    targets.map(async (t) => {
      const a = typeof args === 'function' ? args(t) : args;
      const r = await ctl(t, a, input);
      const label = `${t.name}: etcdctl ${a.join(' ')}\nstdout: ${r.out}\nstderr: ${r.err}`;
      assert.equal(normalize(t, r.out), want.out ?? '', label);
      if (want.err !== undefined) assert.equal(normalize(t, r.err), want.err, label);
      assert.equal(r.code, want.code ?? 0, label);
    }),
  );
}

/** Starts `etcdctl watch`, resolves with the normalized output once it holds `lines` lines. */
async function watchLines(t: Target, args: string[], lines: number): Promise<string> {
  const p = spawn(ETCDCTL!, [`--endpoints=${t.endpoint}`, 'watch', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').length > lines) resolve(normalize(t, out));
      });
      p.on('exit', (code) => reject(new Error(`${t.name}: watch exited (${code}) early with:\n${out}`)));
      setTimeout(() => reject(new Error(`${t.name}: watch printed only:\n${out}`)), 10_000).unref();
    });
  } finally {
    p.kill('SIGTERM');
  }
}

test('etcdctl against the grpc port, compared with etcd 3.4', { timeout: 120_000 }, async (t) => {
  assert.ok(ETCDCTL !== null, MISSING);
  if (ETCD === null) t.diagnostic('etcd is not installed: outputs are checked against the written expectations only');

  await t.test('put and get', async () => {
    await check(['put', 'foo', 'bar'], { out: 'OK\n' });
    await check(['put', 'foo', 'baz', '--prev-kv'], { out: 'OK\nfoo\nbar\n' });
    await check(['get', 'foo'], { out: 'foo\nbaz\n' });
    await check(['get', 'foo', '-w', 'json'], {
      out:
        '{"header":{"cluster_id":<N>,"member_id":<N>,"revision":3,"raft_term":<N>},' +
        '"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,"value":"YmF6"}],"count":1}\n',
    });
    for (const k of ['a', 'b', 'c', 'd']) await check(['put', `p/${k}`, k.toUpperCase()], { out: 'OK\n' });
    // Revisions now: foo 2 (bar), 3 (baz); p/a..p/d 4..7.
    await check(['put', 'v', '--', '-from-stdin-'], { out: 'OK\n' });
    await check(['put', 'w'], { out: 'OK\n' }, 'stdin value');
    await check(['get', 'w'], { out: 'w\nstdin value\n' });
  });

  await t.test('get with every flag', async () => {
    const all = 'p/a\nA\np/b\nB\np/c\nC\np/d\nD\n';
    await check(['get', 'p/', '--prefix'], { out: all });
    await check(['get', 'p/', '--prefix', '--limit', '2'], { out: 'p/a\nA\np/b\nB\n' });
    await check(['get', 'p/', '--prefix', '--order', 'DESCEND'], { out: 'p/d\nD\np/c\nC\np/b\nB\np/a\nA\n' });
    await check(['get', 'p/', '--prefix', '--sort-by', 'CREATE', '--order', 'DESCEND', '--limit', '1'], { out: 'p/d\nD\n' });
    await check(['get', 'p/', '--prefix', '--sort-by', 'MODIFY'], { out: all });
    await check(['get', 'p/', '--prefix', '--sort-by', 'VERSION', '--order', 'ASCEND'], { out: all });
    await check(['get', 'p/', '--prefix', '--sort-by', 'VALUE', '--order', 'DESCEND'], { out: 'p/d\nD\np/c\nC\np/b\nB\np/a\nA\n' });
    await check(['get', 'p/', '--prefix', '--sort-by', 'KEY', '--order', 'ASCEND'], { out: all });
    await check(['get', 'p/', '--prefix', '--keys-only'], { out: 'p/a\n\np/b\n\np/c\n\np/d\n\n' });
    await check(['get', 'p/', '--prefix', '--print-value-only'], { out: 'A\nB\nC\nD\n' });
    await check(['get', 'p/a', 'p/c'], { out: 'p/a\nA\np/b\nB\n' });
    await check(['get', '--from-key', 'p/c'], { out: 'p/c\nC\np/d\nD\nv\n-from-stdin-\nw\nstdin value\n' });
    await check(['get', 'foo', '--rev', '2'], { out: 'foo\nbar\n' });
    await check(['get', 'foo', '--consistency', 's'], { out: 'foo\nbaz\n' });
    await check(['get', 'p/', '--prefix', '--limit', '1', '-w', 'json'], {
      out:
        '{"header":{"cluster_id":<N>,"member_id":<N>,"revision":9,"raft_term":<N>},' +
        '"kvs":[{"key":"cC9h","create_revision":4,"mod_revision":4,"version":1,"value":"QQ=="}],"more":true,"count":4}\n',
    });
    await check(['get', 'p/', '--prefix', '--hex', '--limit', '1'], { out: '\\x70\\x2f\\x61\n\\x41\n' });
    await check(['get', 'nothing'], { out: '' });
    await check(['get', 'foo', '--rev', '100'], {
      err: 'Error: etcdserver: mvcc: required revision is a future revision\n',
      code: 1,
    });
    await check(['get', ''], { err: 'Error: etcdserver: key is not provided\n', code: 1 });
  });

  await t.test('watch from a revision', async () => {
    const outs = await Promise.all(targets.map((tg) => watchLines(tg, ['foo', '--rev', '2'], 6)));
    for (const o of outs) assert.equal(o, 'PUT\nfoo\nbar\nPUT\nfoo\nbaz\n');
    const prefix = await Promise.all(targets.map((tg) => watchLines(tg, ['p/', '--prefix', '--rev', '6', '--prev-kv'], 6)));
    for (const o of prefix) assert.equal(o, 'PUT\np/c\nC\nPUT\np/d\nD\n');
  });

  await t.test('del', async () => {
    await check(['del', 'p/a', '--prev-kv'], { out: '1\np/a\nA\n' });
    await check(['del', 'p/', '--prefix'], { out: '3\n' });
    await check(['del', 'nothing'], { out: '0\n' });
    await check(['del', '--from-key', 'v'], { out: '2\n' });
    await check(['get', '', '--from-key'], { out: 'foo\nbaz\n' });
  });

  await t.test('txn from stdin', async () => {
    await check(['txn'], { out: 'SUCCESS\n\nOK\n\nfoo\nqux\n' }, 'mod("foo") > "0"\n\nput foo qux\nget foo\n\nput foo never\n\n');
    await check(['txn'], { out: 'FAILURE\n\nOK\n\n0\n' }, 'value("foo") = "nope"\nversion("foo") = "3"\n\nput foo never\n\nput t1 x\ndel t0\n\n');
    await check(['txn'], { out: 'SUCCESS\n\nfoo\nqux\n' }, 'create("t2") = "0"\n\nget foo\n\n\n');
    await check(['txn', '-w', 'json'], {
      out:
        '{"header":{"cluster_id":<N>,"member_id":<N>,"revision":15,"raft_term":<N>},"succeeded":true,' +
        '"responses":[{"Response":{"ResponsePut":{"header":{"revision":15}}}}]}\n',
    }, 'version("foo") > "0"\n\nput t3 v\n\n\n');
  });

  await t.test('put flags and errors', async () => {
    await check(['put', 'missing', '--ignore-value'], { err: 'Error: etcdserver: key not found\n', code: 1 });
    await check(['put', 'foo', '--ignore-value'], { out: 'OK\n' });
    await check(['get', 'foo', '--print-value-only'], { out: 'qux\n' });
  });

  await t.test('compaction', async () => {
    await check(['compaction', '5'], { out: 'compacted revision 5\n' });
    await check(['compaction', '5'], { err: 'Error: etcdserver: mvcc: required revision has been compacted\n', code: 1 });
    await check(['compaction', '1000'], { err: 'Error: etcdserver: mvcc: required revision is a future revision\n', code: 1 });
    await check(['get', 'foo', '--rev', '2'], { err: 'Error: etcdserver: mvcc: required revision has been compacted\n', code: 1 });
    await check(['compaction', '6', '--physical'], { out: 'compacted revision 6\n' });
    await check(['watch', 'foo', '--rev', '2'], {
      err: 'watch was canceled (etcdserver: mvcc: required revision has been compacted)\nError: watch is canceled by the server\n',
      code: 5,
    });
  });

  await t.test('endpoint, alarm, defrag, member, move-leader', async () => {
    await check(['endpoint', 'health'], { err: '<EP> is healthy: successfully committed proposal: took = <T>\n' });
    await Promise.all(
      targets.map(async (tg) => {
        const r = await ctl(tg, ['endpoint', 'status']);
        assert.equal(r.code, 0, r.err);
        // ENDPOINT, ID, VERSION, DB SIZE, IS LEADER, IS LEARNER, RAFT TERM, RAFT INDEX, RAFT APPLIED INDEX, ERRORS
        const f = r.out.replace(/\n$/, '').split(', ');
        assert.equal(f.length, 10, r.out);
        assert.equal(f[0], tg.endpoint);
        assert.match(f[1]!, /^[0-9a-f]+$/);
        assert.match(f[2]!, /^3\.4\./);
        assert.match(f[3]!, /^\d+(\.\d+)? ?[kMG]?B$/);
        assert.deepEqual([f[4], f[5]], ['true', 'false'], 'the only member leads and is no learner');
        assert.ok(Number(f[6]) >= 1 && Number(f[7]) >= 1 && f[7] === f[8], r.out);
        assert.equal(f[9], '');
        const j = (await ctl(tg, ['endpoint', 'status', '-w', 'json'])).out;
        assert.equal(/"leader":(\d+)/.exec(j)?.[1], /"member_id":(\d+)/.exec(j)?.[1], j);
        assert.match(j, /"revision":16,/);
      }),
    );
    await check(['alarm', 'list'], { out: '' });
    await check(['defrag'], { out: 'Finished defragmenting etcd member[<EP>]\n' });
    await Promise.all(
      targets.map(async (tg) => {
        const r = await ctl(tg, ['member', 'list']);
        assert.equal(r.code, 0, r.err);
        const f = r.out.trimEnd().split(', ');
        // ID, status, name, peer URLs, client URLs, is learner. The peer URL is the one field that
        // differs: etcetera's single member has no peer listener yet.
        assert.equal(f.length, 6, r.out);
        assert.deepEqual([f[1], f[2], f[4], f[5]], ['started', 'e2e', `http://${tg.endpoint}`, 'false'], r.out);
        // etcd's ids are full 64-bit: read the digits as text, not through a JS number.
        const status = (await ctl(tg, ['endpoint', 'status', '-w', 'json'])).out;
        const selfHex = BigInt(/"member_id":(\d+)/.exec(status)![1]!).toString(16);
        assert.equal(f[0], selfHex);
        const moved = await ctl(tg, ['move-leader', selfHex]);
        assert.equal(moved.out, `Leadership transferred from ${selfHex} to ${selfHex}\n`);
      }),
    );
    await check(['move-leader', '1234'], { err: 'Error: etcdserver: bad leader transferee\n', code: 1 });
  });

  await t.test('auth while disabled', async () => {
    await check(['auth', 'enable'], { err: 'Error: etcdserver: root user does not exist\n', code: 1 });
    await check(['user', 'list'], { out: '' });
    await check(['role', 'list'], { out: '' });
    await check(['user', 'get', 'nobody'], { err: 'Error: etcdserver: user name not found\n', code: 1 });
    // With credentials the client tries Authenticate, hears "not enabled", and goes on without a token.
    await check(['--user', 'root:pw', 'get', 'foo'], { out: 'foo\nqux\n' });
  });

  await t.test('leases', async () => {
    await Promise.all(
      targets.map(async (tg) => {
        const g = await ctl(tg, ['lease', 'grant', '60']);
        assert.equal(g.code, 0, g.err);
        const m = /^lease ([0-9a-f]{16}) granted with TTL\(60s\)\n$/.exec(g.out);
        assert.ok(m, g.out);
        const id = m[1]!;
        assert.equal((await ctl(tg, ['put', 'lk', 'v', `--lease=${id}`])).out, 'OK\n');
        const ttl = await ctl(tg, ['lease', 'timetolive', id, '--keys']);
        assert.match(ttl.out, new RegExp(`^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[lk\\]\\)\\n$`));
        assert.match((await ctl(tg, ['lease', 'list'])).out, new RegExp(`^found 1 leases\\n${id}\\n$`));
        assert.equal((await ctl(tg, ['lease', 'keep-alive', '--once', id])).out, `lease ${id} keepalived with TTL(60)\n`);
        assert.equal((await ctl(tg, ['lease', 'revoke', id])).out, `lease ${id} revoked\n`);
        assert.equal((await ctl(tg, ['get', 'lk'])).out, '');
        const gone = await ctl(tg, ['lease', 'timetolive', id]);
        assert.equal(gone.out, `lease ${id} already expired\n`);
      }),
    );
  });

  await t.test('malformed gRPC from a raw client: the statuses grpc-go gives, and the server keeps serving', async () => {
    const PutReq = codecOf('etcdserverpb.PutRequest');
    const cases: [string, string, Buffer[], Record<string, string>?][] = [
      ['unknown service', '/nope.Svc/X', [frame(Buffer.alloc(0))]],
      ['unknown method', '/etcdserverpb.KV/Nope', [frame(Buffer.alloc(0))]],
      // 2 MiB of value: over max-request-bytes + 512 KiB by the key and the field headers.
      ['oversized', '/etcdserverpb.KV/Put', [frameOf(PutReq, { key: Buffer.from('big'), value: Buffer.alloc(2 * 1024 * 1024) })]],
      ['bad prefix flag', '/etcdserverpb.KV/Put', [Buffer.from([2, 0, 0, 0, 0])]],
      ['compressed without encoding', '/etcdserverpb.KV/Put', [frame(Buffer.from('x'), true)]],
      ['ends inside a message', '/etcdserverpb.KV/Put', [frame(PutReq.encode({ key: Buffer.from('p') })).subarray(0, 6)]],
      ['ends before a message', '/etcdserverpb.KV/Put', []],
      ['empty key', '/etcdserverpb.KV/Put', [frameOf(PutReq, {})]],
    ];
    const results = await Promise.all(
      targets.map(async (tg) => {
        const c = await RawGrpcClient.connect(`http://${tg.endpoint}`);
        try {
          const out: string[] = [];
          for (const [name, path, body, headers] of cases) {
            const o = await c.call(path, body, headers);
            out.push(`${name}: ${o.status} ${o.message}`);
          }
          // Undecodable protobuf: the detail after the prefix is each implementation's own.
          const garbage = await c.call('/etcdserverpb.KV/Put', [frame(Buffer.from([0x0a, 0xff, 0x01, 0x41]))]);
          out.push(`garbage: ${garbage.status} ${garbage.message.slice(0, 'grpc: error unmarshalling request: '.length)}`);
          return out;
        } finally {
          await c.close();
        }
      }),
    );
    assert.deepEqual(results[0], [
      'unknown service: 12 unknown service nope.Svc',
      'unknown method: 12 unknown method Nope for service etcdserverpb.KV',
      'oversized: 8 grpc: received message larger than max (2097162 vs. 2097152)',
      'bad prefix flag: 13 grpc: received unexpected payload format 2',
      'compressed without encoding: 13 grpc: compressed flag set with identity or empty encoding',
      'ends inside a message: 2 unexpected EOF',
      'ends before a message: 2 EOF',
      'empty key: 3 etcdserver: key is not provided',
      'garbage: 13 grpc: error unmarshalling request: ',
    ]);
    for (const r of results.slice(1)) assert.deepEqual(r, results[0], 'etcd answers the same');
    await check(['get', 'foo'], { out: 'foo\nqux\n' });
  });
});
