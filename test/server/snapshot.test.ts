// Snapshots in process: the snapshot file format (chunks ≤ 32 KiB with the bytes remaining, a
// payload padded to a multiple of 512 so that the file is 512·k + 32 bytes as etcdctl
// requires, a trailing SHA-256; parse finds the backend again and refuses altered files) over a
// table of lengths around every boundary; the Maintenance.Snapshot stream of the real service
// against a scripted sink (backpressure honoured, one chunk per turn, cancel stops it, also
// while waiting for a drain); and restore into LMDB and SQLite data dirs built from a member
// that took writes: the restored member starts at the consistent index, serves the same data
// and continues the revisions; a cluster restore writes the members of --initial-cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Applier } from '../../src/core/apply/applier.js';
import type { SnapshotResponse } from '../../src/core/api/kv.js';
import { KvStore } from '../../src/core/mvcc/kv-store.js';
import { silentLogger } from '../../src/core/ports/logger.js';
import type { StreamSink } from '../../src/core/ports/services.js';
import type { StorageDriver } from '../../src/core/ports/storage-driver.js';
import { MemoryDriver } from '../../src/drivers/memory/memory-driver.js';
import { LmdbDriver } from '../../src/drivers/lmdb/lmdb-driver.js';
import { SqliteDriver } from '../../src/drivers/sqlite/sqlite-driver.js';
import { encodeBackendSnapshot } from '../../src/server/backend-snapshot.js';
import type { ConsensusHost } from '../../src/server/host.js';
import { memberIdFor } from '../../src/server/ids.js';
import { MaintenanceServiceImpl } from '../../src/server/kv-service.js';
import { loadMembers } from '../../src/server/membership.js';
import { SingleMemberHost } from '../../src/server/single-member-host.js';
import {
  encodeSnapshotFile,
  parseSnapshotFile,
  SNAPSHOT_CHUNK_BYTES,
  snapshotChunks,
  SnapshotFileError,
} from '../../src/server/snapshot-file.js';
import { restoreSnapshot, RestoreError } from '../../src/server/snapshot-restore.js';
import { mulberry32 } from '../helpers/random.js';

const enc = (s: string): Uint8Array => Buffer.from(s);

function tempDir(prefix: string): string {
  const d = join(tmpdir(), `etcetera-${prefix}-${process.pid}-${Math.floor(performance.now() * 1000)}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Deterministic bytes of length `n`. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

test('snapshot file: chunking, padding to 512·k + 32, digest, and parse, around every boundary', () => {
  const C = SNAPSHOT_CHUNK_BYTES;
  const lengths = [0, 1, 503, 504, 505, 511, 512, 1015, 1016, 1017, C - 1, C, C + 1, 2 * C - 8, 2 * C, 3 * C + 777];
  for (const [i, n] of lengths.entries()) {
    const body = bytes(n, i + 1);
    const msgs = [...snapshotChunks(body)];
    const file = Buffer.concat(msgs.map((m) => m.blob));
    assert.equal(file.length % 512, 32, `length ${n}: file size ${file.length}`);
    assert.ok(file.length - 32 - n >= 8 && file.length - 32 - n < 8 + 512, `length ${n}: padding + length field`);
    // Every blob ≤ 32 KiB; remaining bytes count the payload still to come; the last is the digest.
    const payload = file.length - 32;
    let sent = 0;
    for (const m of msgs.slice(0, -1)) {
      assert.ok(m.blob.length > 0 && m.blob.length <= C, `length ${n}: chunk of ${m.blob.length}`);
      sent += m.blob.length;
      assert.equal(m.remainingBytes, payload - sent);
    }
    const last = msgs.at(-1)!;
    assert.equal(last.remainingBytes, 0);
    assert.deepEqual(Buffer.from(last.blob), createHash('sha256').update(file.subarray(0, payload)).digest());
    assert.deepEqual(file, encodeSnapshotFile(body));
    const parsed = parseSnapshotFile(file);
    assert.deepEqual(Buffer.from(parsed.backendSnapshot), body, `length ${n}: round trip`);
    assert.equal(parsed.sha256, Buffer.from(last.blob).toString('hex'));
  }
});

test('snapshot file: altered, truncated or foreign files are refused', () => {
  const file = encodeSnapshotFile(bytes(3000, 7));
  const rnd = mulberry32(11);
  for (let i = 0; i < 20; i++) {
    const bad = Buffer.from(file);
    const at = Math.floor(rnd() * bad.length);
    bad[at] = bad[at]! ^ (1 + Math.floor(rnd() * 255));
    assert.throws(() => parseSnapshotFile(bad), SnapshotFileError, `flipped byte ${at}`);
  }
  assert.throws(() => parseSnapshotFile(file.subarray(0, file.length - 1)), /not a snapshot file: size/);
  assert.throws(() => parseSnapshotFile(Buffer.alloc(1056)), /SHA-256 mismatch/);
  // Without the hash check, the structure is still checked: a bad length field, bad padding.
  const zeros = Buffer.alloc(1056);
  assert.throws(() => parseSnapshotFile(zeros, { skipHashCheck: true }), /bad length field/);
  const padded = Buffer.from(file);
  padded[3000] = 1; // first padding byte
  assert.throws(() => parseSnapshotFile(padded, { skipHashCheck: true }), /bad padding/);
  // Progress of the hash check reaches the payload size.
  let hashed = 0;
  parseSnapshotFile(file, { onHashed: (n) => (hashed = n) });
  assert.equal(hashed, file.length - 32);
});

/** A single member on `driver` that took some writes; returns the host and its store. */
async function memberWithData(driver: StorageDriver, dir: string) {
  const h = await driver.open(dir);
  const store = new KvStore(h.backend);
  const host = new SingleMemberHost(
    store,
    new Applier(store),
    h.logStore,
    h.backend,
    { memberId: 7, clusterId: 9, maxRequestBytes: 1 << 20, maxPendingProposals: 5000, snapshotCount: 1_000_000, fatal: (e) => assert.fail(String(e)) },
    silentLogger,
  );
  await host.start();
  for (let i = 0; i < 50; i++) await host.propose({ put: { key: enc(`k/${i % 20}`), value: bytes(100 + i, i) } });
  await host.propose({ deleteRange: { key: enc('k/3') } });
  await host.propose({ put: { key: enc('big'), value: bytes(70_000, 99) } });
  return { host, store, handles: h };
}

/** A StreamSink that records what it gets and reports a full queue when told to. */
class ScriptedSink implements StreamSink<SnapshotResponse> {
  got: SnapshotResponse[] = [];
  closed: unknown = 'open';
  full = false;
  private drains: (() => void)[] = [];
  send(res: SnapshotResponse): boolean {
    this.got.push({ remainingBytes: res.remainingBytes, blob: Buffer.from(res.blob) });
    return !this.full;
  }
  onDrain(cb: () => void): void {
    if (!this.full) cb();
    else this.drains.push(cb);
  }
  close(err?: unknown): void {
    this.closed = err ?? null;
  }
  drain(): void {
    this.full = false;
    for (const cb of this.drains.splice(0)) cb();
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('Maintenance.Snapshot streams the backend: one chunk per turn, backpressure, cancel', async () => {
  const driver = new MemoryDriver();
  const { host, handles } = await memberWithData(driver, 'unused');
  const svc = new MaintenanceServiceImpl(host as ConsensusHost, handles);
  const want = encodeSnapshotFile(encodeBackendSnapshot(handles.backend));
  assert.ok(want.length > 2 * SNAPSHOT_CHUNK_BYTES, 'several chunks');

  // Full run: the first request starts it; chunks go out one per turn.
  const sink = new ScriptedSink();
  const h = svc.snapshot(sink, {});
  assert.equal(sink.got.length, 0, 'nothing before the request');
  h.message({});
  h.end();
  assert.equal(sink.got.length, 1, 'the first chunk goes out at once');
  await turn();
  assert.ok(sink.got.length <= 2, `at most one more chunk per turn, got ${sink.got.length}`);
  while (sink.closed === 'open') await turn();
  assert.equal(sink.closed, null, 'closed cleanly');
  assert.deepEqual(Buffer.concat(sink.got.map((m) => m.blob)), want);
  // Writes after the snapshot was taken do not change what was streamed: it is of one index.
  const racing = new ScriptedSink();
  const hr = svc.snapshot(racing, {});
  hr.end(); // a half-close without a request starts it too (the JSON gateway's empty body)
  await host.propose({ put: { key: enc('late'), value: enc('x') } });
  while (racing.closed === 'open') await turn();
  assert.deepEqual(Buffer.concat(racing.got.map((m) => m.blob)), want);

  // Backpressure: a full queue holds the pump until it drains.
  const slow = new ScriptedSink();
  slow.full = true;
  svc.snapshot(slow, {}).message({});
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(slow.got.length, 1, 'held after the first chunk');
  slow.drain();
  slow.full = true;
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(slow.got.length, 2, 'one more per drain');
  // Cancel while waiting for a drain: it stops, never closes, sends nothing more.
  const stuck = new ScriptedSink();
  stuck.full = true;
  const hc = svc.snapshot(stuck, {});
  hc.message({});
  await turn();
  hc.cancel();
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(stuck.got.length, 1);
  assert.equal(stuck.closed, 'open', 'a cancelled stream is not closed by the service');

  // Cancel between chunks.
  const quick = new ScriptedSink();
  const hq = svc.snapshot(quick, {});
  hq.message({});
  await turn();
  await turn();
  hq.cancel();
  const n = quick.got.length;
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(quick.got.length, n);
  assert.equal(quick.closed, 'open');
  await host.stop();
});

for (const [kind, Driver] of [
  ['lmdb', LmdbDriver],
  ['sqlite', SqliteDriver],
] as const) {
  test(`restore into ${kind}: the member starts at the consistent index and serves the data`, async () => {
    const base = tempDir(`restore-${kind}`);
    try {
      const src = await memberWithData(new MemoryDriver(), 'unused');
      const file = encodeSnapshotFile(encodeBackendSnapshot(src.handles.backend));
      const srcRange = src.store.range({ key: enc('\0'), rangeEnd: enc('\0') });
      const srcRev = src.store.currentRevision;
      const ci = src.store.consistentIndex;
      await src.host.stop();

      const dataDir = join(base, 'member');
      const phases = new Set<string>();
      const r = await restoreSnapshot(file, {
        dataDir,
        driver: kind,
        name: 'solo',
        initialClusterToken: 'tok',
        onProgress: (p, done, total) => {
          phases.add(p);
          assert.ok(done <= total);
        },
      });
      assert.deepEqual([...phases], ['verify', 'write']);
      assert.equal(r.consistentIndex, ci);
      assert.equal(r.revision, srcRev);
      assert.equal(r.members.length, 0);
      assert.deepEqual(
        readdirSync(base).filter((n) => n.startsWith('.')),
        [],
        'no temporary directory left',
      );

      const handles = await new Driver().open(dataDir);
      assert.equal(handles.logStore.snapshotMeta().index, ci);
      assert.equal(handles.logStore.lastIndex(), ci);
      assert.deepEqual(handles.logStore.hardState(), { term: 1, vote: 0, commit: ci });
      assert.equal(loadMembers(handles.backend).size, 0);
      const store = new KvStore(handles.backend);
      const host = new SingleMemberHost(
        store,
        new Applier(store),
        handles.logStore,
        handles.backend,
        { memberId: 1, clusterId: 2, maxRequestBytes: 1 << 20, maxPendingProposals: 10, snapshotCount: 1_000_000, fatal: (e) => assert.fail(String(e)) },
        silentLogger,
      );
      await host.start();
      assert.deepEqual(store.range({ key: enc('\0'), rangeEnd: enc('\0') }), srcRange);
      const put = await host.propose({ put: { key: enc('after'), value: enc('restore') } });
      assert.equal((put.response as { header: { revision: number } }).header.revision, srcRev + 1);
      assert.equal(host.status().appliedIndex, ci + 2, 'the leader entry, then the put, after the consistent index');
      await host.stop();
      await handles.backend.close();
      await handles.logStore.close();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
}

test('cluster restore: members come from --initial-cluster; bad flags and files are refused', async () => {
  const base = tempDir('restore-cluster');
  try {
    const src = await memberWithData(new MemoryDriver(), 'unused');
    const file = encodeSnapshotFile(encodeBackendSnapshot(src.handles.backend));
    await src.host.stop();
    const initialCluster = [
      { name: 'a', peerUrl: 'tcp://127.0.0.1:1' },
      { name: 'b', peerUrl: 'tcp://127.0.0.1:2' },
      { name: 'c', peerUrl: 'tcp://127.0.0.1:3' },
    ];
    const dataDir = join(base, 'b');
    const r = await restoreSnapshot(file, {
      dataDir,
      driver: 'lmdb',
      name: 'b',
      initialCluster,
      initialClusterToken: 'tok',
      initialAdvertisePeerUrl: 'tcp://127.0.0.1:2',
    });
    const ids = initialCluster.map((m) => memberIdFor(m.peerUrl, 'tok'));
    assert.deepEqual(r.members.map((m) => m.id), ids);
    const handles = await new LmdbDriver().open(dataDir);
    const members = loadMembers(handles.backend);
    assert.deepEqual([...members.keys()].sort(), [...ids].sort());
    assert.deepEqual(members.get(ids[1]!), { id: ids[1], name: 'b', peerURLs: ['tcp://127.0.0.1:2'], clientURLs: [], isLearner: false });
    assert.deepEqual([...handles.logStore.snapshotMeta().voters].sort(), [...ids].sort());
    await handles.backend.close();
    await handles.logStore.close();

    const refuse = async (o: Partial<Parameters<typeof restoreSnapshot>[1]>, f: Uint8Array, re: RegExp): Promise<void> => {
      const dir = join(base, `x${Math.floor(performance.now() * 1000)}`);
      await assert.rejects(
        restoreSnapshot(f, { dataDir: dir, driver: 'lmdb', name: 'a', initialClusterToken: 'tok', ...o }),
        (e: unknown) => e instanceof RestoreError && re.test(e.message),
      );
      assert.equal(existsSync(dir), false, 'nothing left behind');
    };
    await refuse({ dataDir }, file, /exists/);
    await refuse({ name: 'z', initialCluster }, file, /couldn't find local name "z"/);
    await refuse({ initialCluster, initialAdvertisePeerUrl: 'tcp://127.0.0.1:9' }, file, /does not match/);
    await refuse({ initialAdvertisePeerUrl: 'tcp://127.0.0.1:9' }, file, /needs --initial-cluster/);
    const bad = Buffer.from(file);
    bad[10] = bad[10]! ^ 0xff;
    await refuse({}, bad, /SHA-256 mismatch/);
    await refuse({ skipHashCheck: true }, encodeSnapshotFile(bytes(100, 3)), /not a snapshot file/);
    // An empty existing directory is fine (etcd's data dirs are often pre-created).
    const empty = join(base, 'empty');
    mkdirSync(empty);
    await restoreSnapshot(file, { dataDir: empty, driver: 'sqlite', name: 'a', initialClusterToken: 'tok' });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
