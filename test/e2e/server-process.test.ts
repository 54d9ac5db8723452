// The server binary as a user runs it: it logs each listener and a ready line, stops cleanly
// on SIGINT and SIGTERM (exit 0), refuses a bad config with every mistake listed (exit 2)
// without creating the data dir, and refuses a data dir another live server holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runServer, startServer, tempDir } from './harness.js';

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`logs listeners and ready, and stops cleanly on ${signal}`, async () => {
    const s = await startServer({ driver: 'lmdb' });
    const msgs = s.logs.map((l) => String(l['msg']));
    assert.ok(msgs.includes(`listening for clients on ${s.ws}`), msgs.join('\n'));
    assert.ok(msgs.includes(`listening for clients on ${s.tcp}`));
    assert.ok(msgs.includes('ready to serve client requests'));
    assert.equal(await s.stop(signal), 0);
    assert.ok(s.logs.some((l) => l['msg'] === 'stopped'));
    assert.ok(!existsSync(join(s.dataDir, 'LOCK')), 'the lock is released');
  });
}

test('a bad config is refused with every mistake, exit 2, data dir untouched', async () => {
  const dir = tempDir('badcfg');
  const dataDir = join(dir, 'data');
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, `data-dir: ${dataDir}\nstorage: { driver: floppy }\nlisteners: [{ transport: ws, address: nowhere }]\nsnapshot-cnt: 5\n`);
  const r = await runServer(['--config', cfg]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /storage\.driver: /);
  assert.match(r.stderr, /listeners\.0\.address: expected host:port/);
  assert.match(r.stderr, /snapshot-cnt/);
  assert.ok(!existsSync(dataDir));
  const flags = await runServer(['--config', cfg, '--no-such-flag']);
  assert.equal(flags.code, 2);
  assert.match(flags.stderr, /unknown option '--no-such-flag'/);
});

test('a second server on the same data dir refuses to start', async () => {
  const s = await startServer({ driver: 'sqlite' });
  try {
    const r = await runServer(['--data-dir', s.dataDir, '--storage-driver', 'sqlite', '--listen', 'ws://127.0.0.1:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is in use by process/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('a data dir left by a killed server is taken over', async () => {
  const s = await startServer({ driver: 'lmdb' });
  await s.kill();
  assert.ok(existsSync(join(s.dataDir, 'LOCK')));
  const again = await startServer({ driver: 'lmdb', dataDir: s.dataDir });
  assert.equal(await again.stop(), 0);
});
