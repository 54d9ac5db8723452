// LmdbBackend.defragment(): on a backend filled with 2000 values of 1 kB of which 90% were then
// deleted, the file shrinks to about the live data, every pair (and the batches committed while
// the copy is made, and a sync meanwhile) survives, in the process and after a reopen, and later
// commits and syncs work. A failure before the swap leaves the old file in use; a child process
// SIGKILLed at each step of the swap leaves a store that reopens with all its data, the old file
// before the rename and the compacted one from it on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LmdbBackend, type DefragStep } from '../../src/drivers/lmdb/lmdb-backend.js';
import { LmdbDriver } from '../../src/drivers/lmdb/lmdb-driver.js';
import { DURING_COPY, KEYS, VALUE_BYTES, expectedKeys, fillBackend, keysOf } from './lmdb-defrag-fixture.js';

const LIVE_BYTES = (KEYS / 10) * VALUE_BYTES;
const PAGE_BYTES = 4096;
/**
 * The most a compacted file may take: a compacting copy drops every free page but does not
 * repack leaves, and deleting 9 of every 10 pairs left each survivor (1 kB, at LMDB's 25% merge
 * threshold of a 4 kB page) alone on its leaf page: one page per live pair, plus branch pages,
 * the meta pages and the named databases' roots.
 */
const COMPACTED_BYTES_MAX = (KEYS / 10 + 32) * PAGE_BYTES;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'etcetera-lmdb-defrag-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('defragment shrinks the file to about the live data and keeps every pair', async (t) => {
  const dir = tempDir(t);
  let backend = LmdbBackend.open(dir);
  fillBackend(backend);
  const before = backend.sizeBytes();
  assert.ok(before > KEYS * VALUE_BYTES, `the filled file (${before} B) holds every value once`);
  await backend.defragment();
  const after = backend.sizeBytes();
  t.diagnostic(`data.mdb: ${before} B filled, ${after} B defragmented, ${LIVE_BYTES} B of live values`);
  assert.ok(after >= LIVE_BYTES, `${after} B is less than the live data`);
  assert.ok(after <= COMPACTED_BYTES_MAX, `${after} B is more than one page per live pair and a few`);
  assert.ok(after < before / 4, `${after} B is not a quarter of ${before} B`);
  assert.deepEqual(keysOf(backend), expectedKeys(false));
  assert.deepEqual([...backend.get('meta', Buffer.from('consistent_index'))!], [0, 0, 0, 0, 0, 0, 0, 7]);
  assert.ok(!existsSync(join(dir, 'defrag-copy')), 'the copy directory is removed');

  // Later commits, syncs and reopening work on the new file.
  backend.commit([{ type: 'put', bucket: 'key', key: Buffer.from('key/later'), value: Buffer.from('v') }]);
  await backend.sync();
  await backend.close();
  backend = LmdbBackend.open(dir);
  assert.ok(backend.sizeBytes() <= COMPACTED_BYTES_MAX, 'the reopened file is the compacted one');
  assert.deepEqual(Buffer.from(backend.get('key', Buffer.from('key/later'))!).toString(), 'v');
  assert.equal(keysOf(backend).length, expectedKeys(false).length + 1);
  // A second defragmentation of an already compact file changes nothing.
  await backend.defragment();
  assert.equal(keysOf(backend).length, expectedKeys(false).length + 1);
  await backend.close();
});

test('commits and a sync made while the copy is being made are kept; concurrent calls join', async (t) => {
  const dir = tempDir(t);
  let synced: Promise<void> | undefined;
  // The batch is committed once the copy is complete, so it can only reach the new file
  // through the journal (a commit right after defragment() may or may not be in the copy).
  const backend: LmdbBackend = LmdbBackend.open(dir, {
    onDefragStep: (step) => {
      if (step !== 'copied') return;
      backend.commit(DURING_COPY);
      synced = backend.sync();
      // Reads see the commit at once, as ever.
      assert.equal(Buffer.from(backend.get('key', Buffer.from('key/during'))!).toString(), 'copy');
    },
  });
  fillBackend(backend);
  const first = backend.defragment();
  const second = backend.defragment();
  assert.equal(first, second, 'a call made during a defragmentation joins it');
  await first;
  assert.ok(synced !== undefined);
  await synced;
  assert.deepEqual(keysOf(backend), expectedKeys(true));
  assert.deepEqual([...backend.range('lease')].map(([k, v]) => [[...k], [...v]]), [[[1], [2]]]);
  await backend.close();
  const reopened = LmdbBackend.open(dir);
  assert.deepEqual(keysOf(reopened), expectedKeys(true));
  await reopened.close();
});

test('a failure before the swap leaves the old file in use, whole and writable', async (t) => {
  for (const failAt of ['copied', 'replayed', 'synced'] as const) {
    const dir = tempDir(t);
    const backend = LmdbBackend.open(dir, {
      onDefragStep: (step) => {
        if (step === failAt) throw new Error(`injected failure at ${step}`);
      },
    });
    fillBackend(backend);
    const before = backend.sizeBytes();
    const done = backend.defragment();
    backend.commit(DURING_COPY);
    await assert.rejects(done, /injected failure/);
    assert.equal(backend.sizeBytes(), before, failAt);
    assert.deepEqual(keysOf(backend), expectedKeys(true), failAt);
    assert.ok(!existsSync(join(dir, 'defrag-copy')), `${failAt}: the copy directory is removed`);
    backend.commit([{ type: 'del', bucket: 'key', key: Buffer.from('key/during') }]);
    await backend.sync();
    assert.equal(backend.get('key', Buffer.from('key/during')), undefined);
    await backend.close();
  }
});

test('close() during a defragmentation waits for it and leaves a whole store', async (t) => {
  const dir = tempDir(t);
  const backend = LmdbBackend.open(dir);
  fillBackend(backend);
  const done = backend.defragment();
  await backend.close();
  await done;
  const reopened = LmdbBackend.open(dir);
  assert.deepEqual(keysOf(reopened), expectedKeys(false));
  await reopened.close();
});

test('the LMDB driver defragments through the Backend port', async (t) => {
  const dir = tempDir(t);
  const { backend, logStore } = await new LmdbDriver().open(dir);
  fillBackend(backend);
  const before = backend.sizeBytes();
  await backend.defragment!();
  assert.ok(backend.sizeBytes() < before / 4, `${backend.sizeBytes()} B after, ${before} B before`);
  await backend.close();
  await logStore.close();
});

/** Runs the crash child on `dir`, killing itself at `step`; resolves with its exit signal. */
function runChild(dir: string, step: DefragStep | 'none'): Promise<NodeJS.Signals | null> {
  const child = fileURLToPath(new URL('./lmdb-defrag-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const p = fork(child, [dir, step], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (signal === null && code !== 0) reject(new Error(`crash child exited ${code}: ${err}`));
      else resolve(signal);
    });
  });
}

test('SIGKILL at any step of a defragmentation leaves the old or the new file, whole', async (t) => {
  const steps: { step: DefragStep | 'none'; wantCompacted: boolean }[] = [
    { step: 'copied', wantCompacted: false },
    { step: 'replayed', wantCompacted: false },
    { step: 'synced', wantCompacted: false },
    { step: 'closed', wantCompacted: false },
    { step: 'renamed', wantCompacted: true },
    { step: 'reopened', wantCompacted: true },
    { step: 'none', wantCompacted: true },
  ];
  for (const { step, wantCompacted } of steps) {
    const dir = tempDir(t);
    const signal = await runChild(dir, step);
    assert.equal(signal, step === 'none' ? null : 'SIGKILL', step);
    const backend = LmdbBackend.open(dir);
    assert.ok(!existsSync(join(dir, 'defrag-copy')), `${step}: the stray copy is removed at open`);
    const size = backend.sizeBytes();
    assert.equal(size <= COMPACTED_BYTES_MAX, wantCompacted, `${step}: ${size} B, want ${wantCompacted ? 'compacted' : 'the old file'}`);
    assert.deepEqual(keysOf(backend), expectedKeys(true), step);
    backend.commit([{ type: 'put', bucket: 'key', key: Buffer.from('key/after'), value: Buffer.from('x') }]);
    await backend.sync();
    await backend.close();
  }
});
