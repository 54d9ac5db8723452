// etceteractl snapshot save and restore, run in-process with a scripted client whose Snapshot
// stream yields chosen messages: a good stream is written to FILE (via FILE.part, which is
// gone afterwards) and reported as etcdctl does; a stream whose size is not 512·k + 32 fails
// with etcdctl's `sha256 checksum not found [bytes: N]`, a wrong digest and a broken stream
// fail too (exit 5, no file left); argument errors are exit 128; restore refuses a bad driver
// name, a malformed --initial-cluster and a file that is not a snapshot (exit 1).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { SnapshotResponse } from '../../src/core/api/kv.js';
import { KvError } from '../../src/core/errors.js';
import { run, type CliClient } from '../../src/cli/main.js';
import { snapshotChunks } from '../../src/server/snapshot-file.js';

const dir = mkdtempSync(join(tmpdir(), 'etcetera-cli-snapshot-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fakeClient(messages: () => AsyncIterable<SnapshotResponse>): CliClient {
  const notUsed = (): never => {
    throw new Error('not used by snapshot commands');
  };
  return {
    range: notUsed,
    put: notUsed,
    deleteRange: notUsed,
    txnRaw: notUsed,
    compact: notUsed,
    status: notUsed,
    close: async () => {},
    snapshot: () => messages(),
  };
}

async function ctl(argv: string[], messages: () => AsyncIterable<SnapshotResponse> = async function* () {}) {
  let out = '';
  let err = '';
  const code = await run(
    argv,
    {
      stdout: { write: (s: string | Uint8Array) => (out += s.toString()) },
      stderr: { write: (s: string | Uint8Array) => (err += s.toString()) },
      stdin: (async function* () {})(),
      env: {},
    },
    { clientFactory: () => fakeClient(messages) },
  );
  return { code, out, err };
}

const body = Buffer.from('a backend snapshot, as far as this test cares');

test('snapshot save writes the stream to FILE and says so', async () => {
  const path = join(dir, 'good.snap');
  const r = await ctl(['snapshot', 'save', path], async function* () {
    yield* snapshotChunks(body, 16);
  });
  assert.deepEqual(r, { code: 0, out: `Snapshot saved at ${path}\n`, err: '' });
  const file = readFileSync(path);
  assert.deepEqual(file, Buffer.concat([...snapshotChunks(body)].map((m) => m.blob)));
  assert.equal(existsSync(`${path}.part`), false);
});

test('snapshot save refuses a stream without a digest, with a bad digest, or broken', async () => {
  const path = join(dir, 'bad.snap');
  const chunks = [...snapshotChunks(body)];
  const noDigest = await ctl(['snapshot', 'save', path], async function* () {
    yield* chunks.slice(0, -1);
  });
  assert.equal(noDigest.code, 5);
  assert.equal(noDigest.err, `Error: sha256 checksum not found [bytes: ${chunks.slice(0, -1).reduce((n, c) => n + c.blob.length, 0)}]\n`);
  const badDigest = await ctl(['snapshot', 'save', path], async function* () {
    yield* chunks.slice(0, -1);
    yield { remainingBytes: 0, blob: Buffer.alloc(32, 7) };
  });
  assert.equal(badDigest.code, 5);
  assert.match(badDigest.err, /SHA-256 mismatch/);
  const broken = await ctl(['snapshot', 'save', path], async function* () {
    yield chunks[0]!;
    throw new KvError('TransportClosed', 'connection to ws://x closed');
  });
  assert.equal(broken.code, 5);
  assert.equal(broken.err, 'Error: etcetera: connection closed: connection to ws://x closed\n');
  assert.equal(existsSync(path), false, 'no file');
  assert.equal(existsSync(`${path}.part`), false, 'no partial file');
});

test('snapshot argument and flag errors', async () => {
  assert.deepEqual(await ctl(['snapshot', 'save']), { code: 128, out: '', err: 'Error: snapshot save expects one argument\n' });
  const two = await ctl(['--endpoints', 'ws://a:1,ws://b:2', 'snapshot', 'save', join(dir, 'x')]);
  assert.equal(two.code, 5);
  assert.equal(two.err, 'Error: snapshot must be requested to one selected node, not multiple [ws://a:1 ws://b:2]\n');
  assert.equal((await ctl(['snapshot', 'restore'])).code, 128);
  const notSnap = join(dir, 'not-a-snapshot');
  writeFileSync(notSnap, 'hello');
  const restoreTo = join(dir, 'restored');
  const driver = await ctl(['snapshot', 'restore', notSnap, '--data-dir', restoreTo, '--storage-driver', 'memory']);
  assert.deepEqual(driver, { code: 1, out: '', err: 'Error: --storage-driver: expected lmdb or sqlite, got "memory"\n' });
  const cluster = await ctl(['snapshot', 'restore', notSnap, '--data-dir', restoreTo, '--initial-cluster', 'a=tcp://h:1,b']);
  assert.equal(cluster.code, 1);
  assert.match(cluster.err, /--initial-cluster: expected name=peerURL pairs, got "b"/);
  const file = await ctl(['snapshot', 'restore', notSnap, '--data-dir', restoreTo]);
  assert.equal(file.code, 1);
  assert.match(file.err, /^Error: not a snapshot file: size 5 /);
  assert.equal(existsSync(restoreTo), false);
});
