// etceteractl's `alarm list`, `alarm disarm` and `defrag`, run in-process against the fake
// client: etcdctl 3.4's exact output in every -w format (observed with etcdctl 3.4.23 against
// etcd 3.4.23 with --quota-backend-bytes=300000: `memberID:<dec> alarm:NOSPACE ` lines, `{}`
// or `{"alarms":[…]}` in json, table refused with exit 4 after the request, defrag's
// Finished/Failed lines per endpoint and exit 1 if one failed), argument errors (exit 128)
// and server failures (exit 1).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlarmType } from '../../src/core/api/alarm.js';
import { KvError } from '../../src/core/errors.js';
import { FakeCluster } from './fake-client.js';
import { cli } from './harness.js';

const ID = 1027665774393297;

function alarmed(): FakeCluster {
  const c = new FakeCluster();
  c.alarms = [{ memberID: ID, alarm: AlarmType.NOSPACE }];
  return c;
}

test('alarm list in every format, with and without alarms', async () => {
  const cases: { args: string[]; alarms: boolean; want: { code: number; stdout: string; stderr: string } }[] = [
    { args: [], alarms: true, want: { code: 0, stdout: `memberID:${ID} alarm:NOSPACE \n`, stderr: '' } },
    { args: [], alarms: false, want: { code: 0, stdout: '', stderr: '' } },
    { args: ['-w', 'json'], alarms: true, want: { code: 0, stdout: `{"alarms":[{"memberID":${ID},"alarm":1}]}\n`, stderr: '' } },
    { args: ['-w', 'json'], alarms: false, want: { code: 0, stdout: '{}\n', stderr: '' } },
    { args: ['-w', 'fields'], alarms: true, want: { code: 0, stdout: `"MemberID" : ${ID}\n"AlarmType" : NOSPACE\n\n`, stderr: '' } },
    { args: ['-w', 'table'], alarms: true, want: { code: 4, stdout: '', stderr: 'Error: table not supported as output format\n' } },
    { args: ['-w', 'bogus'], alarms: true, want: { code: 4, stdout: '', stderr: 'Error: unsupported output format\n' } },
  ];
  for (const { args, alarms, want } of cases) {
    const cluster = alarms ? alarmed() : new FakeCluster();
    const r = await cli(['alarm', 'list', ...args], { cluster });
    assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, want, args.join(' '));
    // An unknown format fails before any request; table after it, as etcdctl.
    assert.equal(cluster.calls.length, args[1] === 'bogus' ? 0 : 1, args.join(' '));
  }
});

test('alarm disarm clears every alarm and prints those it cleared', async () => {
  const cluster = alarmed();
  const r = await cli(['alarm', 'disarm'], { cluster });
  assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 0, stdout: `memberID:${ID} alarm:NOSPACE \n`, stderr: '' });
  assert.deepEqual(cluster.calls.map((c) => [c.method, c.req]), [['alarmDisarm', {}]]);
  assert.deepEqual(cluster.alarms, []);
  const again = await cli(['alarm', 'disarm', '-w', 'json'], { cluster });
  assert.deepEqual({ code: again.code, stdout: again.stdout }, { code: 0, stdout: '{}\n' });
});

test('alarm: arguments, server errors, and the bare command', async () => {
  for (const sub of ['list', 'disarm']) {
    const r = await cli(['alarm', sub, 'x']);
    assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, {
      code: 128,
      stdout: '',
      stderr: `Error: alarm ${sub} command accepts no arguments\n`,
    });
  }
  const cluster = new FakeCluster();
  cluster.failNext('alarmList', new KvError('NoLeader'));
  const r = await cli(['alarm', 'list'], { cluster });
  assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 1, stderr: 'Error: etcdserver: no leader\n' });
  const bare = await cli(['alarm']);
  assert.equal(bare.code, 0);
  assert.match(bare.stdout, /disarm\s+Disarms all alarms/);
  assert.match(bare.stdout, /list\s+Lists all alarms/);
});

test('defrag: one line per endpoint, failures on stderr and exit 1', async () => {
  const cluster = new FakeCluster();
  const ok = await cli(['--endpoints', 'ws://127.0.0.1:1,127.0.0.1:2', 'defrag', 'ignored'], { cluster });
  assert.deepEqual({ code: ok.code, stdout: ok.stdout, stderr: ok.stderr }, {
    code: 0,
    stdout: 'Finished defragmenting etcd member[ws://127.0.0.1:1]\nFinished defragmenting etcd member[127.0.0.1:2]\n',
    stderr: '',
  });
  // One client per endpoint, so that each call reaches that member.
  assert.deepEqual(cluster.calls.map((c) => [c.method, c.endpoints]), [
    ['defragment', ['ws://127.0.0.1:1']],
    ['defragment', ['ws://127.0.0.1:2']],
  ]);

  cluster.downEndpoints.set('ws://127.0.0.1:1', new KvError('DeadlineExceeded'));
  const failed = await cli(['--endpoints', '127.0.0.1:1,127.0.0.1:2', 'defrag'], { cluster });
  assert.deepEqual({ code: failed.code, stdout: failed.stdout, stderr: failed.stderr }, {
    code: 1,
    stdout: 'Finished defragmenting etcd member[127.0.0.1:2]\n',
    stderr: 'Failed to defragment etcd member[127.0.0.1:1] (context deadline exceeded)\n',
  });

  const cl = await cli(['defrag', '--cluster'], { cluster: new FakeCluster() });
  assert.deepEqual({ code: cl.code, stdout: cl.stdout }, { code: 0, stdout: 'Finished defragmenting etcd member[ws://127.0.0.1:12381]\n' });
  const bad = await cli(['defrag', '-w', 'bogus']);
  assert.deepEqual({ code: bad.code, stderr: bad.stderr }, { code: 4, stderr: 'Error: unsupported output format\n' });
});
