// etceteractl end to end: the real bin/etceteractl executable against the real server
// process, over ws and tcp, with endpoints from the flag and from ETCETERACTL_ENDPOINTS.
// Checks output and exit codes of put, get, del, txn (stdin), compaction and endpoint
// status / health as a user would run them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, startServer, type ServerProcess } from './harness.js';

const CTL = join(ROOT, 'bin', 'etceteractl');
let server: ServerProcess;

before(async () => {
  server = await startServer({ driver: 'sqlite' });
});
after(async () => {
  await server?.stop();
});

function ctl(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
    if (opts.env?.['ETCETERACTL_ENDPOINTS'] === undefined) delete env['ETCETERACTL_ENDPOINTS'];
    const p = spawn(process.execPath, [CTL, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.end(opts.stdin ?? '');
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

test('put, get, del, txn and compaction over ws and tcp', async () => {
  const ws = ['--endpoints', server.ws];
  const tcp = ['--endpoints', server.tcp];
  assert.deepEqual(await ctl([...ws, 'put', 'cli/a', 'one']), { code: 0, stdout: 'OK\n', stderr: '' });
  assert.equal((await ctl([...tcp, 'put', 'cli/b'], { stdin: 'from stdin' })).stdout, 'OK\n');
  assert.equal((await ctl([...tcp, 'get', 'cli/', '--prefix'])).stdout, 'cli/a\none\ncli/b\nfrom stdin\n');
  assert.equal((await ctl([...ws, 'get', 'cli/', '--prefix', '--keys-only'])).stdout, 'cli/a\n\ncli/b\n\n');
  assert.equal((await ctl([...ws, 'get', 'cli/a', '--print-value-only'])).stdout, 'one\n');
  const json = JSON.parse((await ctl([...ws, 'get', 'cli/a', '-w', 'json'])).stdout) as {
    header: { revision: number };
    kvs: { key: string; value: string; version: number }[];
    count: number;
  };
  assert.equal(Buffer.from(json.kvs[0]!.key, 'base64').toString(), 'cli/a');
  assert.equal(Buffer.from(json.kvs[0]!.value, 'base64').toString(), 'one');
  assert.equal(json.count, 1);

  const txn = await ctl([...tcp, 'txn'], { stdin: 'value("cli/a") = "one"\n\nput cli/a two\nget cli/a\n\nput cli/a other\n\n' });
  assert.equal(txn.code, 0, txn.stderr);
  assert.equal(txn.stdout, 'SUCCESS\n\nOK\n\ncli/a\ntwo\n');
  const again = await ctl([...tcp, 'txn'], { stdin: 'value("cli/a") = "one"\n\nput cli/a three\n\nget cli/b\n\n' });
  assert.equal(again.stdout, 'FAILURE\n\ncli/b\nfrom stdin\n');

  const rev = json.header.revision;
  assert.equal((await ctl([...ws, 'get', 'cli/a', '--rev', String(rev)])).stdout, 'cli/a\none\n');
  assert.equal((await ctl([...ws, 'compaction', String(rev + 1)])).stdout, `compacted revision ${rev + 1}\n`);
  const old = await ctl([...ws, 'get', 'cli/a', '--rev', String(rev)]);
  assert.equal(old.code, 1);
  assert.equal(old.stderr, 'Error: etcdserver: mvcc: required revision has been compacted\n');

  assert.equal((await ctl([...ws, 'del', 'cli/', '--prefix'])).stdout, '2\n');
  assert.equal((await ctl([...ws, 'get', 'cli/', '--prefix'])).stdout, '');
});

test('endpoints from ETCETERACTL_ENDPOINTS; status and health', async () => {
  const env = { ETCETERACTL_ENDPOINTS: `${server.ws},${server.tcp}` };
  const status = await ctl(['endpoint', 'status'], { env });
  assert.equal(status.code, 0, status.stderr);
  const lines = status.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, new RegExp(`^${server.ws}, [0-9a-f]+, 3\\.4\\.0, \\d+ kB, true, false, \\d+, \\d+, \\d+, $`));
  const health = await ctl(['endpoint', 'health'], { env });
  assert.equal(health.code, 0);
  assert.match(health.stderr, new RegExp(`${server.ws} is healthy: successfully committed proposal: took = `));
  assert.match(health.stderr, new RegExp(`${server.tcp} is healthy`));
});

test('errors: bad arguments, a server error, an unreachable endpoint', async () => {
  const bad = await ctl(['--endpoints', server.ws, 'get']);
  assert.equal(bad.code, 128); // etcdctl's ExitBadArgs
  assert.match(bad.stderr, /^Error: get command needs one argument as key and an optional argument as range_end/);
  const empty = await ctl(['--endpoints', server.ws, 'put', '', 'v']);
  assert.notEqual(empty.code, 0);
  const down = await ctl(['--endpoints', 'tcp://127.0.0.1:1', '--dial-timeout', '500ms', 'get', 'x']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^Error: /);
  const health = await ctl(['--endpoints', 'ws://127.0.0.1:1', '--dial-timeout', '500ms', 'endpoint', 'health']);
  assert.equal(health.code, 1);
  assert.match(health.stderr, /is unhealthy: failed to commit proposal: .*\nError: unhealthy cluster\n$/);
});
