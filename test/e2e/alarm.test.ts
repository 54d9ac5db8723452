// The space quota and the NOSPACE alarm end to end: two real etcetera server processes, one on
// the SQLite driver (defrag is VACUUM) and one on the LMDB driver (defrag is a compacting copy
// swapped in), with a 300 kB quota-backend-bytes, and, when Debian's etcd 3.4 is installed, a
// real etcd with the same quota, all driven by the real etcdctl with the same command sequence: put 30 kB values until a put fails with etcd's "database space
// exceeded", then the alarm is listed (`memberID:<id> alarm:NOSPACE `), writes fail, reads
// work, Status.errors lists it; on etcetera the alarm survives a restart; then delete,
// compaction, defrag and `alarm disarm`, after which writes succeed and no alarm is left.
// Outputs are compared with written expectations on both servers, normalized for member ids,
// ports, revisions and counts (the two backends grow differently, so the fill differs).
// etceteractl, over ws and tcp, is checked against etcdctl's output on the same member:
// `alarm list` (simple and json) while the alarm is raised, `alarm disarm` (on the LMDB
// member), then `defrag` and the empty list and disarm.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startEtcdWith, which, type EtcdProcess } from './etcd-reference.js';
import { join } from 'node:path';
import { ROOT, startServer, type ServerProcess } from './harness.js';

const ETCETERACTL = join(ROOT, 'bin', 'etceteractl');

const ETCDCTL = which('etcdctl');
const ETCD = which('etcd');
const QUOTA = 300_000;
const VALUE = 'x'.repeat(30_000);
const NOSPACE_ERR = 'Error: etcdserver: mvcc: database space exceeded\n';

interface Target {
  readonly name: 'etcetera-sqlite' | 'etcetera-lmdb' | 'etcd';
  endpoint: string;
}

/** The etcetera targets and their drivers. */
const DRIVERS = [
  ['etcetera-sqlite', 'sqlite'],
  ['etcetera-lmdb', 'lmdb'],
] as const;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function ctl(t: Target, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(ETCDCTL!, [`--endpoints=${t.endpoint}`, '--dial-timeout=3s', '--command-timeout=5s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Runs etceteractl against `endpoint` (a ws:// or tcp:// URL). */
function etceteractl(endpoint: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env };
    delete env['ETCETERACTL_ENDPOINTS'];
    const p = spawn(process.execPath, [ETCETERACTL, `--endpoints=${endpoint}`, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Drops clientv3's JSON log lines; hides the endpoint, member ids, revisions. */
function normalize(t: Target, s: string): string {
  return s
    .split('\n')
    .filter((l) => !l.startsWith('{"level"'))
    .join('\n')
    .replaceAll(t.endpoint, '<EP>')
    .replace(/memberID:\d+/g, 'memberID:<ID>')
    .replace(/compacted revision \d+/g, 'compacted revision <REV>');
}

async function check(targets: Target[], args: (t: Target) => string[], want: { out?: string; err?: string; code?: number }): Promise<void> {
  await Promise.all(
    targets.map(async (t) => {
      const a = args(t);
      const r = await ctl(t, a);
      const label = `${t.name}: etcdctl ${a.join(' ').slice(0, 80)}\nstdout: ${r.out.slice(0, 300)}\nstderr: ${r.err.slice(0, 300)}`;
      assert.equal(normalize(t, r.out), want.out ?? '', label);
      if (want.err !== undefined) assert.equal(normalize(t, r.err), want.err, label);
      assert.equal(r.code, want.code ?? 0, label);
    }),
  );
}

/** Status.errors, the header revision and dbSize of `t`, from `endpoint status -w json`. */
async function status(t: Target): Promise<{ errors: string[]; revision: number; dbSize: number }> {
  const r = await ctl(t, ['endpoint', 'status', '-w', 'json']);
  assert.equal(r.code, 0, r.err);
  const [row] = JSON.parse(r.out) as { Status: { errors?: string[]; header: { revision: number }; dbSize: number } }[];
  return {
    errors: (row!.Status.errors ?? []).map((e) => normalize(t, e)),
    revision: row!.Status.header.revision,
    dbSize: row!.Status.dbSize,
  };
}

const etcetera = new Map<Target['name'], ServerProcess>();
let etcd: EtcdProcess | undefined;

after(async () => {
  for (const s of etcetera.values()) await s.stop();
  await etcd?.stop();
});

function startEtcetera(driver: 'sqlite' | 'lmdb', dataDir?: string): Promise<ServerProcess> {
  return startServer({ driver, ...(dataDir === undefined ? {} : { dataDir }), grpcAddress: '127.0.0.1:0', extra: `quota-backend-bytes: ${QUOTA}` });
}

test('NOSPACE: quota, alarm list, restart, compaction + defrag + disarm, compared with etcd 3.4', { timeout: 180_000 }, async (t) => {
  assert.ok(ETCDCTL !== null, "etcdctl is not installed: install Debian's etcd-client (apt-get install -y etcd-client etcd-server)");
  const targets: Target[] = [];
  for (const [name, driver] of DRIVERS) {
    const s = await startEtcetera(driver);
    etcetera.set(name, s);
    targets.push({ name, endpoint: s.grpc!.replace('grpc://', '') });
  }
  if (ETCD !== null) {
    etcd = await startEtcdWith(ETCD, [`--quota-backend-bytes=${QUOTA}`]);
    targets.push({ name: 'etcd', endpoint: etcd.endpoint });
  } else {
    t.diagnostic('etcd is not installed: outputs are checked against the written expectations only');
  }
  const all = (): Target[] => targets;

  await t.test('puts succeed until the quota is reached, then fail with etcd error', async () => {
    await Promise.all(
      targets.map(async (tg) => {
        let failed: Run | undefined;
        let n = 0;
        for (; n < 100 && failed === undefined; n++) {
          const r = await ctl(tg, ['put', `k${n}`, VALUE]);
          if (r.code !== 0) failed = r;
          else assert.equal(r.out, 'OK\n');
        }
        assert.ok(failed !== undefined, `${tg.name}: 100 puts of 30 kB fit a 300 kB quota`);
        assert.ok(n > 3, `${tg.name}: the quota refused a put after only ${n - 1}`);
        assert.equal(normalize(tg, failed.err), NOSPACE_ERR, tg.name);
      }),
    );
  });

  await t.test('the member raised a NOSPACE alarm: listed, in Status.errors, writes fail, reads work', async () => {
    await check(all(), () => ['alarm', 'list'], { out: 'memberID:<ID> alarm:NOSPACE \n' });
    await check(all(), () => ['put', 'a', 'b'], { err: NOSPACE_ERR, code: 1 });
    await check(all(), () => ['lease', 'grant', '60'], { err: 'Error: failed to grant lease (etcdserver: mvcc: database space exceeded)\n', code: 1 });
    await check(all(), () => ['get', 'k0', '--keys-only'], { out: 'k0\n\n' });
    for (const tg of targets) assert.deepEqual((await status(tg)).errors, ['memberID:<ID> alarm:NOSPACE '], tg.name);
  });

  await t.test('etceteractl over ws and tcp lists the alarm exactly as etcdctl does', async () => {
    for (const [name] of DRIVERS) {
      const s = etcetera.get(name)!;
      const tg = targets.find((x) => x.name === name)!;
      for (const format of ['simple', 'json']) {
        const want = await ctl(tg, ['alarm', 'list', '-w', format]);
        assert.equal(want.code, 0, want.err);
        assert.notEqual(want.out, '', `${name}: etcdctl lists no alarm`);
        for (const endpoint of [s.ws, s.tcp]) {
          const got = await etceteractl(endpoint, ['alarm', 'list', '-w', format]);
          assert.deepEqual({ code: got.code, out: got.out, err: got.err }, { code: 0, out: want.out, err: '' }, `${name} ${endpoint} -w ${format}`);
        }
      }
    }
  });

  await t.test('etcetera: the alarm survives a restart', async () => {
    for (const [i, [name, driver]] of DRIVERS.entries()) {
      const old = etcetera.get(name)!;
      assert.equal(await old.stop(), 0);
      const s = await startEtcetera(driver, old.dataDir);
      etcetera.set(name, s);
      targets[i]!.endpoint = s.grpc!.replace('grpc://', '');
    }
    const ours = targets.filter((tg) => tg.name !== 'etcd');
    await check(ours, () => ['alarm', 'list'], { out: 'memberID:<ID> alarm:NOSPACE \n' });
    await check(ours, () => ['put', 'a', 'b'], { err: NOSPACE_ERR, code: 1 });
  });

  await t.test('delete, compaction and defrag keep the alarm; disarm clears it and writes succeed', async () => {
    await Promise.all(
      targets.map(async (tg) => {
        const r = await ctl(tg, ['del', '--prefix', 'k']);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /^\d+\n$/);
      }),
    );
    const revs = new Map(await Promise.all(targets.map(async (tg) => [tg.name, (await status(tg)).revision] as const)));
    await check(all(), (tg) => ['compaction', String(revs.get(tg.name))], { out: 'compacted revision <REV>\n' });
    for (const tg of targets) {
      const { dbSize } = await status(tg);
      // Full: the next 30 kB value did not fit.
      assert.ok(dbSize + VALUE.length >= QUOTA, `${tg.name}: ${dbSize} B before defrag, with room left`);
    }
    await check(all(), () => ['defrag'], { out: 'Finished defragmenting etcd member[<EP>]\n' });
    for (const tg of targets) {
      const { dbSize } = await status(tg);
      t.diagnostic(`${tg.name}: dbSize ${dbSize} B after defrag`);
      assert.ok(dbSize < QUOTA / 2, `${tg.name}: ${dbSize} B after defrag`);
    }
    // Space is back, but the alarm still caps writes until it is disarmed.
    await check(all(), () => ['put', 'a', 'b'], { err: NOSPACE_ERR, code: 1 });
    // Disarmed by etcdctl, except on the LMDB member by etceteractl (over tcp): the same output.
    const lmdb = targets.find((tg) => tg.name === 'etcetera-lmdb')!;
    await check(
      targets.filter((tg) => tg !== lmdb),
      () => ['alarm', 'disarm'],
      { out: 'memberID:<ID> alarm:NOSPACE \n' },
    );
    const disarmed = await etceteractl(etcetera.get('etcetera-lmdb')!.tcp, ['alarm', 'disarm']);
    assert.deepEqual({ code: disarmed.code, out: normalize(lmdb, disarmed.out), err: disarmed.err }, { code: 0, out: 'memberID:<ID> alarm:NOSPACE \n', err: '' });
    await check(all(), () => ['alarm', 'list'], {});
    await check(all(), () => ['put', 'a', 'b'], { out: 'OK\n' });
    await check(all(), () => ['get', 'a', '--print-value-only'], { out: 'b\n' });
    await check(all(), () => ['alarm', 'disarm'], {});
    for (const tg of targets) assert.deepEqual((await status(tg)).errors, [], tg.name);
    for (const [name] of DRIVERS) {
      const s = etcetera.get(name)!;
      for (const [args, out] of [
        [['alarm', 'list'], ''],
        [['alarm', 'disarm'], ''],
        [['alarm', 'list', '-w', 'json'], '{}\n'],
        [['defrag'], `Finished defragmenting etcd member[${s.ws}]\n`],
      ] as const) {
        const r = await etceteractl(s.ws, [...args]);
        assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 0, out, err: '' }, `${name}: etceteractl ${args.join(' ')}`);
      }
    }
  });
});
