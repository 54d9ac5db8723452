// The write-ahead log (WalLogStore) on its own, on temporary directories: the CRC against known
// values and zlib; a torn tail cut at every byte offset of the last frame (both a short file and
// zeros in place) recovers to the previous frame and accepts appends; a byte flipped mid-log,
// or in an earlier segment, refuses to open naming the file and offset; rollover with small
// segments; compaction deleting segments; hard state, snapshots and suffix truncation across
// reopen; import of a previous version's LMDB or SQLite log. Then the shared conformance suite again
// with tiny segments, no read cache and fdatasync on the thread pool.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import type { Entry } from '../../src/core/ports/storage-driver.js';
import { EntryType } from '../../src/core/ports/storage-driver.js';
import type { WalOptions } from '../../src/drivers/wal/wal-log-store.js';
import { WalCorruptError, WalLogStore } from '../../src/drivers/wal/wal-log-store.js';
import { crc32, crc32Table } from '../../src/drivers/wal/crc32.js';
import { LmdbLogStore } from '../../src/drivers/lmdb/lmdb-log-store.js';
import { LmdbDriver } from '../../src/drivers/lmdb/lmdb-driver.js';
import { SqliteLogStore } from '../../src/drivers/sqlite/sqlite-log-store.js';
import { SqliteDriver } from '../../src/drivers/sqlite/sqlite-driver.js';
import { storageDriverSuite } from '../conformance/storage-driver.suite.js';
import { mulberry32 } from '../helpers/random.js';

const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const entry = (index: number, term: number, data: Uint8Array = text(`e${index}t${term}`)): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data,
});
const NO_PREALLOC: WalOptions = { preallocate: false };

function tempDir(): string {
  return fs.mkdtempSync(join(tmpdir(), 'etcetera-wal-'));
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
}

/** All entries of `ls`, as [index, term, data text] triples. */
function dump(ls: WalLogStore): [number, number, string][] {
  if (ls.lastIndex() < ls.firstIndex()) return [];
  return ls.entries(ls.firstIndex(), ls.lastIndex() + 1).map((e) => [e.index, e.term, Buffer.from(e.data).toString()]);
}

describe('wal: crc32', () => {
  it('matches the standard check value and zlib', () => {
    assert.equal(crc32Table(text('123456789')), 0xcbf43926);
    assert.equal(crc32Table(new Uint8Array(0)), 0);
    const rnd = mulberry32(7);
    const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
    for (let n = 0; n < 300; n += 7) {
      const b = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
      assert.equal(crc32(b), crc32Table(b));
      if (native !== undefined) assert.equal(native(b) >>> 0, crc32Table(b));
    }
  });
});

describe('wal: recovery', () => {
  it('a torn last frame, cut at every byte offset, recovers to the previous frame', async () => {
    await withDir(async (dir) => {
      const src = join(dir, 'src');
      let ls = WalLogStore.open(src, NO_PREALLOC);
      await ls.save({ entries: [entry(1, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
      await ls.save({ entries: [entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 1, commit: 3 } });
      const [seg] = segments(src);
      const file = join(src, seg!);
      const before = fs.statSync(file).size;
      await ls.save({ entries: [entry(4, 2, text('the torn one'))], hardState: { term: 2, vote: 1, commit: 4 } });
      const after = fs.statSync(file).size;
      await ls.close();
      assert.ok(after - before >= 48, 'the last frame spans header, records and padding');
      const full = fs.readFileSync(file);
      // The frame ends with zero padding; a cut in it leaves the frame whole (checked below).
      let bodyEnd = after;
      while (full[bodyEnd - 1] === 0) bodyEnd--;
      for (let cut = before; cut < after; cut++) {
        const whole = cut >= bodyEnd;
        for (const how of ['short', 'zeroed'] as const) {
          const d = join(dir, `cut-${cut}-${how}`);
          fs.mkdirSync(d);
          const torn = Buffer.from(full);
          if (how === 'zeroed') torn.fill(0, cut, after);
          fs.writeFileSync(join(d, seg!), how === 'short' ? torn.subarray(0, cut) : torn);
          ls = WalLogStore.open(d, NO_PREALLOC);
          if (whole) {
            assert.equal(ls.lastIndex(), 4, `cut at ${cut} (${how}), in the padding`);
            assert.deepEqual(ls.hardState(), { term: 2, vote: 1, commit: 4 });
            await ls.close();
            fs.rmSync(d, { recursive: true });
            continue;
          }
          assert.equal(ls.lastIndex(), 3, `cut at ${cut} (${how})`);
          assert.deepEqual(ls.hardState(), { term: 1, vote: 1, commit: 3 });
          await ls.save({ entries: [entry(4, 3)], hardState: { term: 3, vote: 1, commit: 4 } });
          await ls.close();
          ls = WalLogStore.open(d, NO_PREALLOC);
          assert.deepEqual(dump(ls), [
            [1, 1, 'e1t1'],
            [2, 1, 'e2t1'],
            [3, 1, 'e3t1'],
            [4, 3, 'e4t3'],
          ]);
          assert.deepEqual(ls.hardState(), { term: 3, vote: 1, commit: 4 });
          await ls.close();
          fs.rmSync(d, { recursive: true });
        }
      }
    });
  });

  it('garbage after the last frame (preallocated zeros, then a torn write) is cut, not refused', async () => {
    await withDir(async (dir) => {
      let ls = WalLogStore.open(dir, NO_PREALLOC);
      await ls.save({ entries: [entry(1, 1)] });
      await ls.close();
      const file = join(dir, segments(dir)[0]!);
      const size = fs.statSync(file).size;
      // Zeros (never written), then half a page of something that is no valid frame.
      fs.appendFileSync(file, Buffer.concat([Buffer.alloc(4096), Buffer.alloc(2048, 0xab)]));
      ls = WalLogStore.open(dir, NO_PREALLOC);
      assert.equal(ls.lastIndex(), 1);
      assert.equal(fs.statSync(file).size, size, 'the tail was cut off the file');
      await ls.close();
    });
  });

  it('a flipped byte in the middle of the log refuses to open, naming the file and offset', async () => {
    await withDir(async (dir) => {
      const ls = WalLogStore.open(dir, NO_PREALLOC);
      const file = join(dir, segments(dir)[0]!);
      await ls.save({ entries: [entry(1, 1)] });
      const second = fs.statSync(file).size;
      await ls.save({ entries: [entry(2, 1)] });
      await ls.save({ entries: [entry(3, 1)] });
      await ls.close();
      const good = fs.readFileSync(file);
      // A byte of the second frame's header, and one of its body: both times the valid third
      // frame behind it shows that acknowledged entries follow.
      for (const at of [second + 2, second + 20]) {
        const bad = Buffer.from(good);
        bad[at]! ^= 0x01;
        fs.writeFileSync(file, bad);
        assert.throws(
          () => WalLogStore.open(dir, NO_PREALLOC),
          (err: unknown) => err instanceof WalCorruptError && err.file === file && err.offset === second && err.message.includes(`${file} is corrupt at offset ${second}`),
        );
      }
      fs.writeFileSync(file, good);
      const again = WalLogStore.open(dir, NO_PREALLOC);
      assert.equal(again.lastIndex(), 3);
      await again.close();
    });
  });

  it('damage in an earlier segment refuses to open, even at its tail', async () => {
    await withDir(async (dir) => {
      const opts: WalOptions = { segmentBytes: 4096, preallocate: false };
      const ls = WalLogStore.open(dir, opts);
      for (let i = 1; i <= 60; i++) await ls.save({ entries: [entry(i, 1, new Uint8Array(100).fill(i))] });
      await ls.close();
      const segs = segments(dir);
      assert.ok(segs.length >= 3, `expected several segments, got ${segs.length}`);
      const file = join(dir, segs[0]!);
      const good = fs.readFileSync(file);
      // The seal is the last frame of the first segment: losing it is damage, not a torn tail.
      const bad = Buffer.from(good);
      bad[bad.byteLength - 16]! ^= 0xff; // the seal's record kind byte (then 15 bytes of padding)
      fs.writeFileSync(file, bad);
      assert.throws(() => WalLogStore.open(dir, opts), (err: unknown) => err instanceof WalCorruptError && err.file === file);
      fs.writeFileSync(file, good);
      // A deleted middle segment is refused too.
      fs.renameSync(join(dir, segs[1]!), join(dir, 'moved-away'));
      assert.throws(() => WalLogStore.open(dir, opts), /is missing/);
    });
  });
});

describe('wal: saves in flight', () => {
  for (const cacheBytes of [0, 1 << 20]) {
    it(`an entry replaced before its frame is written reads as the replacement (cache ${cacheBytes} bytes)`, async () => {
      await withDir(async (dir) => {
        const opts: WalOptions = { ...NO_PREALLOC, cacheBytes };
        let ls = WalLogStore.open(dir, opts);
        await ls.save({ entries: [entry(1, 1)] });
        // Not awaited: all three saves are queued before the first frame is written, and the
        // second rewrites 3 (a follower meeting a new leader's entries) and drops 4.
        const a = ls.save({ entries: [entry(2, 1), entry(3, 1), entry(4, 1)] });
        assert.deepEqual(dump(ls), [[1, 1, 'e1t1'], [2, 1, 'e2t1'], [3, 1, 'e3t1'], [4, 1, 'e4t1']]);
        const b = ls.save({ entries: [entry(3, 2)] });
        assert.deepEqual(dump(ls), [[1, 1, 'e1t1'], [2, 1, 'e2t1'], [3, 2, 'e3t2']]);
        const c = ls.save({ entries: [entry(4, 2), entry(5, 2)] });
        await Promise.all([a, b, c]);
        const want = [[1, 1, 'e1t1'], [2, 1, 'e2t1'], [3, 2, 'e3t2'], [4, 2, 'e4t2'], [5, 2, 'e5t2']];
        assert.deepEqual(dump(ls), want);
        await ls.save({ entries: [entry(6, 2)] });
        assert.deepEqual(dump(ls), [...want, [6, 2, 'e6t2']]);
        await ls.close();
        ls = WalLogStore.open(dir, opts);
        assert.deepEqual(dump(ls), [...want, [6, 2, 'e6t2']]);
        await ls.close();
      });
    });
  }

  it('a frame written after its entry was replaced does not point the entry at the old data (fsync on the pool)', async () => {
    await withDir(async (dir) => {
      const ls = WalLogStore.open(dir, { ...NO_PREALLOC, syncOnMainThread: false });
      await ls.save({ entries: [entry(1, 1)] });
      const a = ls.save({ entries: [entry(2, 1), entry(3, 1)] });
      // Let a's frame go out (its fdatasync is on the pool), then replace 3 before it returns.
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      const b = ls.save({ entries: [entry(3, 2)] });
      await a;
      // b's frame is not durable yet: 3 must still read as b's entry, not a's.
      assert.deepEqual(dump(ls), [[1, 1, 'e1t1'], [2, 1, 'e2t1'], [3, 2, 'e3t2']]);
      await b;
      assert.deepEqual(dump(ls), [[1, 1, 'e1t1'], [2, 1, 'e2t1'], [3, 2, 'e3t2']]);
      await ls.close();
    });
  });
});

describe('wal: segments', () => {
  it('rolls over with small segments, and compaction deletes old segments durably', async () => {
    await withDir(async (dir) => {
      const opts: WalOptions = { segmentBytes: 4096, cacheBytes: 1024 };
      let ls = WalLogStore.open(dir, opts);
      const data = (i: number): Uint8Array => text(`entry ${i} `.padEnd(100, '.'));
      for (let i = 1; i <= 200; i += 2) {
        await ls.save({ entries: [entry(i, 1, data(i)), entry(i + 1, 1, data(i + 1))], hardState: { term: 1, vote: 7, commit: i } });
      }
      const rolled = segments(dir).length;
      assert.ok(rolled >= 6, `expected >= 6 segments, got ${rolled}`);
      // Reads of old entries come back from the files (the cache holds ~10 entries).
      assert.deepEqual(Buffer.from(ls.entries(5, 6)[0]!.data).toString(), Buffer.from(data(5)).toString());
      await ls.close();
      ls = WalLogStore.open(dir, opts);
      assert.equal(ls.lastIndex(), 200);
      assert.deepEqual(ls.hardState(), { term: 1, vote: 7, commit: 199 });
      ls.entries(1, 201).forEach((e, i) => assert.deepEqual(e, entry(i + 1, 1, data(i + 1))));

      await ls.compact({ index: 150, term: 1, voters: [7], learners: [] });
      const left = segments(dir).length;
      assert.ok(left < rolled - 3, `compaction kept ${left} of ${rolled} segments`);
      await ls.close();
      ls = WalLogStore.open(dir, opts);
      assert.equal(ls.firstIndex(), 151);
      assert.equal(ls.lastIndex(), 200);
      assert.deepEqual(ls.snapshotMeta(), { index: 150, term: 1, voters: [7], learners: [] });
      assert.deepEqual(ls.hardState(), { term: 1, vote: 7, commit: 199 });
      ls.entries(151, 201).forEach((e, i) => assert.deepEqual(e, entry(i + 151, 1, data(i + 151))));
      // Keep going: more entries, a compaction of everything, a reopen.
      for (let i = 201; i <= 260; i++) await ls.save({ entries: [entry(i, 2, data(i))], hardState: { term: 2, vote: 7, commit: i } });
      await ls.compact({ index: 260, term: 2, voters: [7], learners: [] });
      await ls.close();
      ls = WalLogStore.open(dir, opts);
      assert.equal(ls.firstIndex(), 261);
      assert.equal(ls.lastIndex(), 260);
      assert.equal(ls.term(260), 2);
      assert.ok(segments(dir).length <= 2, `segments left: ${segments(dir).join(' ')}`);
      await ls.save({ entries: [entry(261, 2)] });
      await ls.close();
      ls = WalLogStore.open(dir, opts);
      assert.deepEqual(dump(ls), [[261, 2, 'e261t2']]);
      await ls.close();
    });
  });

  it('hard state, snapshots (matching or not) and suffix truncation survive reopen', async () => {
    await withDir(async (dir) => {
      const opts: WalOptions = { segmentBytes: 4096 };
      let ls = WalLogStore.open(dir, opts);
      for (let i = 1; i <= 80; i++) await ls.save({ entries: [entry(i, 1, new Uint8Array(64))] });
      // Truncate a suffix that spans segments.
      await ls.save({ entries: [entry(30, 2), entry(31, 2)], hardState: { term: 2, vote: 3, commit: 29 } });
      await ls.close();
      ls = WalLogStore.open(dir, opts);
      assert.equal(ls.lastIndex(), 31);
      assert.equal(ls.term(29), 1);
      assert.equal(ls.term(30), 2);
      assert.deepEqual(dump(ls).slice(-2), [
        [30, 2, 'e30t2'],
        [31, 2, 'e31t2'],
      ]);
      assert.deepEqual(ls.hardState(), { term: 2, vote: 3, commit: 29 });
      // A snapshot whose term matches keeps the suffix.
      await ls.save({ snapshot: { index: 30, term: 2, voters: [1, 2, 3], learners: [4] } });
      await ls.close();
      ls = WalLogStore.open(dir, opts);
      assert.equal(ls.firstIndex(), 31);
      assert.equal(ls.lastIndex(), 31);
      assert.deepEqual(ls.snapshotMeta(), { index: 30, term: 2, voters: [1, 2, 3], learners: [4] });
      // One that does not match resets the log.
      await ls.save({ snapshot: { index: 500, term: 3, voters: [1], learners: [] }, hardState: { term: 3, vote: 0, commit: 500 } });
      await ls.save({ entries: [entry(501, 3)] });
      await ls.close();
      ls = WalLogStore.open(dir, opts);
      assert.equal(ls.firstIndex(), 501);
      assert.deepEqual(dump(ls), [[501, 3, 'e501t3']]);
      assert.deepEqual(ls.hardState(), { term: 3, vote: 0, commit: 500 });
      assert.equal(ls.term(500), 3);
      await ls.close();
    });
  });

  it('concurrent saves share frames and resolve in call order', async () => {
    await withDir(async (dir) => {
      const ls = WalLogStore.open(dir, { syncOnMainThread: false });
      const order: number[] = [];
      await Promise.all(Array.from({ length: 50 }, (_, i) => ls.save({ entries: [entry(i + 1, 1)] }).then(() => order.push(i))));
      assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
      await ls.close();
    });
  });
});

describe('wal: import of an LMDB log (data dirs of the previous version)', () => {
  it('imports once, removes the old environment, and keeps everything', async () => {
    await withDir(async (dir) => {
      const old = LmdbLogStore.open(join(dir, 'log'));
      for (let i = 1; i <= 40; i++) await old.save({ entries: [entry(i, i < 20 ? 1 : 2)] });
      await old.compact({ index: 10, term: 1, voters: [1, 2], learners: [3] });
      await old.save({ hardState: { term: 2, vote: 2, commit: 38 } });
      await old.close();
      // A leftover of an interrupted earlier import is redone, not trusted.
      fs.mkdirSync(join(dir, 'wal.import'));
      fs.writeFileSync(join(dir, 'wal.import', '0000000000000000.wal'), 'junk');

      const driver = new LmdbDriver();
      let h = await driver.open(dir);
      assert.ok(h.logStore instanceof WalLogStore);
      assert.equal(fs.existsSync(join(dir, 'log')), false, 'the old log environment is gone');
      assert.equal(fs.existsSync(join(dir, 'wal.import')), false);
      const check = (): void => {
        assert.equal(h.logStore.firstIndex(), 11);
        assert.equal(h.logStore.lastIndex(), 40);
        assert.deepEqual(h.logStore.snapshotMeta(), { index: 10, term: 1, voters: [1, 2], learners: [3] });
        assert.deepEqual(h.logStore.hardState(), { term: 2, vote: 2, commit: 38 });
        h.logStore.entries(11, 41).forEach((e, i) => assert.deepEqual(e, entry(i + 11, i + 11 < 20 ? 1 : 2)));
      };
      check();
      await h.logStore.save({ entries: [entry(41, 2)] });
      await h.logStore.close();
      await h.backend.close();
      h = await driver.open(dir);
      assert.equal(h.logStore.lastIndex(), 41);
      await h.logStore.close();
      await h.backend.close();
    });
  });

  it('an old log left beside a finished import is deleted, not imported again', async () => {
    await withDir(async (dir) => {
      const driver = new LmdbDriver();
      let h = await driver.open(dir);
      await h.logStore.save({ entries: [entry(1, 1)] });
      await h.logStore.close();
      await h.backend.close();
      const old = LmdbLogStore.open(join(dir, 'log'));
      await old.save({ entries: [entry(1, 9), entry(2, 9)] });
      await old.close();
      h = await driver.open(dir);
      assert.deepEqual(h.logStore.entries(1, 2), [entry(1, 1)]);
      assert.equal(h.logStore.lastIndex(), 1);
      assert.equal(fs.existsSync(join(dir, 'log')), false);
      await h.logStore.close();
      await h.backend.close();
    });
  });
});

describe('wal: import of a SQLite log.db', () => {
  it('imports once, removes log.db, and keeps everything', async () => {
    await withDir(async (dir) => {
      const old = new SqliteLogStore(join(dir, 'log.db'));
      for (let i = 1; i <= 30; i++) await old.save({ entries: [entry(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
      await old.compact({ index: 5, term: 1, voters: [1], learners: [] });
      await old.close();
      const driver = new SqliteDriver();
      let h = await driver.open(dir);
      assert.ok(h.logStore instanceof WalLogStore);
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('log.db')), []);
      assert.equal(h.logStore.firstIndex(), 6);
      assert.deepEqual(h.logStore.snapshotMeta(), { index: 5, term: 1, voters: [1], learners: [] });
      assert.deepEqual(h.logStore.hardState(), { term: 1, vote: 1, commit: 30 });
      assert.deepEqual(h.logStore.entries(6, 31), Array.from({ length: 25 }, (_, i) => entry(i + 6, 1)));
      await h.logStore.close();
      await h.backend.close();
      h = await driver.open(dir);
      assert.equal(h.logStore.lastIndex(), 30);
      await h.logStore.close();
      await h.backend.close();
    });
  });
});

// The whole conformance suite once more, through the paths the defaults rarely take: many
// rollovers, every read from the files, fdatasync on the thread pool.
storageDriverSuite({
  name: 'lmdb',
  factory: () => new LmdbDriver({ segmentBytes: 4096, cacheBytes: 0, syncOnMainThread: false }),
  persistent: false,
});
