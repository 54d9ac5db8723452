// Checks config validation: defaults, overrides from flags, and that every kind of mistake is
// reported with its path and what was expected (all at once), table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, validateConfig } from '../../src/server/config.js';

test('defaults: one member on lmdb, grpc 2379, ws 2381 and tcp 2382', () => {
  const c = validateConfig({}, {}, 'test', '/base');
  assert.equal(c.name, 'default');
  assert.equal(c.dataDir, '/base/data/default');
  assert.equal(c.storage.driver, 'lmdb');
  assert.deepEqual(c.listeners, [
    { transport: 'grpc', address: '127.0.0.1:2379' },
    { transport: 'ws', address: '127.0.0.1:2381' },
    { transport: 'tcp', address: '127.0.0.1:2382' },
  ]);
  assert.equal(c.maxRequestBytes, 1572864);
  assert.equal(c.maxTxnOps, 128);
  assert.ok(Object.isFrozen(c));
});

test('the shipped config files are valid', () => {
  for (const f of ['default', 'sqlite', 'memory']) {
    const c = loadConfig(`config/${f}.yaml`);
    assert.equal(c.storage.driver, f === 'default' ? 'lmdb' : f);
  }
});

test('flags override the file', () => {
  const c = validateConfig(
    { name: 'a', 'data-dir': '/x', storage: { driver: 'sqlite' } },
    { name: 'b', dataDir: '/y', storageDriver: 'memory', listen: ['tcp://127.0.0.1:0'], logLevel: 'warn' },
  );
  assert.equal(c.name, 'b');
  assert.equal(c.dataDir, '/y');
  assert.equal(c.storage.driver, 'memory');
  assert.deepEqual(c.listeners, [{ transport: 'tcp', address: '127.0.0.1:0' }]);
  assert.equal(c.logLevel, 'warn');
});

test('wal-fsync: auto runs the log fsync on the main thread alone, on the thread pool in a cluster', () => {
  assert.equal(validateConfig({}, {}, 'test', '/base').walFsync, 'main-thread');
  const cluster = {
    'initial-cluster': 'a=tcp://127.0.0.1:2380,b=tcp://127.0.0.1:2390',
    name: 'a',
    'listen-peer-urls': 'tcp://127.0.0.1:2380',
  };
  assert.equal(validateConfig(cluster, {}, 'test', '/base').walFsync, 'thread-pool');
  assert.equal(validateConfig({ ...cluster, 'wal-fsync': 'main-thread' }, {}, 'test', '/base').walFsync, 'main-thread');
  assert.equal(validateConfig({ 'wal-fsync': 'thread-pool' }, {}, 'test', '/base').walFsync, 'thread-pool');
  assert.throws(() => validateConfig({ 'wal-fsync': 'sometimes' }, {}, 'test', '/base'), /wal-fsync/);
});

const mistakes: { name: string; doc: unknown; overrides?: object; want: RegExp[] }[] = [
  { name: 'unknown key', doc: { nmae: 'x' }, want: [/Unrecognized key.*nmae/] },
  { name: 'unknown nested key', doc: { storage: { driver: 'lmdb', extra: 1 } }, want: [/storage: .*extra/] },
  { name: 'bad driver', doc: { storage: { driver: 'redis' } }, want: [/storage\.driver: .*"lmdb"/] },
  { name: 'bad address', doc: { listeners: [{ transport: 'ws', address: 'localhost' }] }, want: [/listeners\.0\.address: expected host:port/] },
  { name: 'bad port', doc: { listeners: [{ transport: 'ws', address: '127.0.0.1:70000' }] }, want: [/listeners\.0\.address: port must be at most 65535/] },
  { name: 'bad transport', doc: { listeners: [{ transport: 'udp', address: '127.0.0.1:1' }] }, want: [/listeners\.0\.transport/] },
  { name: 'no listeners', doc: { listeners: [] }, want: [/listeners: at least one listener/] },
  { name: 'wrong type', doc: { 'max-txn-ops': 'many' }, want: [/max-txn-ops: .*number/] },
  { name: 'negative', doc: { 'snapshot-count': -1 }, want: [/snapshot-count: /] },
  { name: 'several at once', doc: { 'max-txn-ops': 0, 'log-level': 'loud' }, want: [/max-txn-ops/, /log-level/] },
  { name: 'timing', doc: { 'heartbeat-interval': 500, 'election-timeout': 1000 }, want: [/election-timeout: must be at least 5 times/] },
  { name: 'duplicate listener', doc: { listeners: [{ transport: 'ws', address: '127.0.0.1:5' }, { transport: 'tcp', address: '127.0.0.1:5' }] }, want: [/listeners\.1\.address: 127\.0\.0\.1:5 is used twice/] },
  { name: 'not a mapping', doc: [1, 2], want: [/expected a mapping/] },
  { name: 'bad --listen', doc: {}, overrides: { listen: ['127.0.0.1:1'] }, want: [/--listen 127\.0\.0\.1:1: expected transport:\/\/host:port/] },
];

for (const m of mistakes) {
  test(`mistake: ${m.name}`, () => {
    assert.throws(
      () => validateConfig(m.doc, m.overrides ?? {}),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        for (const w of m.want) assert.match(e.message, w);
        return true;
      },
    );
  });
}

test('unreadable and unparsable files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etcetera-config-'));
  assert.throws(() => loadConfig(join(dir, 'missing.yaml')), /cannot read the file/);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'name: [unclosed\n');
  assert.throws(() => loadConfig(bad), /not valid YAML/);
  const dup = join(dir, 'dup.yaml');
  writeFileSync(dup, 'name: a\nname: b\n');
  assert.throws(() => loadConfig(dup), /not valid YAML/);
});
