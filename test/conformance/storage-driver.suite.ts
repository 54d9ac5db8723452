// The storage driver conformance suite: every driver (memory, LMDB, SQLite) runs these same
// checks of the Backend and LogStore ports through `storageDriverSuite`. Table-driven range
// cases over binary keys, atomicity, reopen, big/empty values, the log's append / truncate /
// compact / snapshot rules, ordering of concurrent saves, seeded oracle runs against the memory
// driver (SEED=<n> replays one), and for persistent drivers a crash test that SIGKILLs a child
// process writing in a loop and checks what it acknowledged survived.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  Backend,
  BackendOp,
  Bucket,
  Entry,
  LogStore,
  RangeOptions,
  StorageDriver,
  StorageHandles,
} from '../../src/core/ports/storage-driver.js';
import { EntryType } from '../../src/core/ports/storage-driver.js';
import { MemoryDriver } from '../../src/drivers/memory/memory-driver.js';
import { mulberry32 } from '../helpers/random.js';

/** What a driver's test file passes to the suite. */
export interface StorageDriverSuiteOptions {
  readonly name: string;
  /** A new driver instance; the suite opens it on a fresh temporary directory. */
  readonly factory: () => StorageDriver;
  /** Whether data lives on disk (enables the crash test against a child process). */
  readonly persistent: boolean;
}

const SEED = Number(process.env.SEED ?? 20240611);

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const put = (bucket: Bucket, key: Uint8Array, value: Uint8Array): BackendOp => ({ type: 'put', bucket, key, value });
const del = (bucket: Bucket, key: Uint8Array): BackendOp => ({ type: 'del', bucket, key });
const entry = (index: number, term: number, data: Uint8Array = text(`e${index}t${term}`)): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data,
});
const rangeHex = (b: Backend, bucket: Bucket, o?: RangeOptions): string[] => [...b.range(bucket, o)].map(([k]) => hex(k));

/** A fresh directory and driver for one test; closes handles and removes the directory after. */
async function session(
  opts: StorageDriverSuiteOptions,
  fn: (s: { dir: string; driver: StorageDriver; open(): Promise<StorageHandles>; reopen(): Promise<StorageHandles> }) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `etcetera-${opts.name}-`));
  const driver = opts.factory();
  let handles: StorageHandles | undefined;
  const close = async (): Promise<void> => {
    if (handles === undefined) return;
    const h = handles;
    handles = undefined;
    await h.logStore.close();
    await h.backend.close();
  };
  const open = async (): Promise<StorageHandles> => {
    handles = await driver.open(dir);
    return handles;
  };
  try {
    await fn({ dir, driver, open, reopen: async () => (await close(), open()) });
  } finally {
    await close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

// Keys with the awkward bytes: 0x00 and 0xff, prefixes of each other, high bit set.
const ORDER_KEYS = ['00', '0000', '00ff', '01', '7f', '80', 'fe', 'ff', 'ff00', 'ffff', 'ffffff'];

/** Registers the suite for one driver. Call it at the top level of a test file. */
export function storageDriverSuite(opts: StorageDriverSuiteOptions): void {
  const test = (name: string, fn: (s: Parameters<Parameters<typeof session>[1]>[0]) => Promise<void>) =>
    it(name, () => session(opts, fn));

  describe(`storage driver conformance: ${opts.name}`, () => {
    it('declares its kind', () => {
      assert.equal(opts.factory().kind, opts.name);
    });

    describe('backend', () => {
      test('get, put, overwrite, delete; buckets are separate', async ({ open }) => {
        const { backend } = await open();
        assert.equal(backend.get('key', bytes('01')), undefined);
        backend.commit([put('key', bytes('01'), text('a')), put('meta', bytes('01'), text('m'))]);
        assert.deepEqual(backend.get('key', bytes('01')), text('a'));
        assert.deepEqual(backend.get('meta', bytes('01')), text('m'));
        assert.equal(backend.get('lease', bytes('01')), undefined);
        backend.commit([put('key', bytes('01'), text('b')), del('meta', bytes('01')), del('alarm', bytes('05'))]);
        assert.deepEqual(backend.get('key', bytes('01')), text('b'));
        assert.equal(backend.get('meta', bytes('01')), undefined);
        assert.deepEqual(rangeHex(backend, 'key'), ['01']);
        assert.deepEqual(rangeHex(backend, 'meta'), []);
        // Ops apply in order within a batch.
        backend.commit([put('auth', bytes('02'), text('x')), del('auth', bytes('02')), put('auth', bytes('03'), text('y'))]);
        assert.deepEqual(rangeHex(backend, 'auth'), ['03']);
        backend.commit([]);
      });

      test('range scans are in byte order with 0x00 and 0xff bytes', async ({ open }) => {
        const { backend } = await open();
        const shuffled = [...ORDER_KEYS].sort((a, b) => (a.length * 7 + parseInt(a, 16)) % 5 - (b.length * 7 + parseInt(b, 16)) % 5);
        backend.commit(shuffled.map((k) => put('key', bytes(k), bytes(k))));
        const pairs = [...backend.range('key')];
        assert.deepEqual(pairs.map(([k]) => hex(k)), ORDER_KEYS);
        for (const [k, v] of pairs) assert.deepEqual(hex(v), hex(k));
        assert.deepEqual(rangeHex(backend, 'key', { reverse: true }), [...ORDER_KEYS].reverse());
      });

      const cases: { name: string; o: RangeOptions; want: string[] }[] = [
        { name: 'all', o: {}, want: ORDER_KEYS },
        { name: 'start inclusive', o: { start: bytes('00ff') }, want: ['00ff', '01', '7f', '80', 'fe', 'ff', 'ff00', 'ffff', 'ffffff'] },
        { name: 'end exclusive', o: { end: bytes('01') }, want: ['00', '0000', '00ff'] },
        { name: 'start and end', o: { start: bytes('0000'), end: bytes('ff00') }, want: ['0000', '00ff', '01', '7f', '80', 'fe', 'ff'] },
        { name: 'bounds not stored', o: { start: bytes('0001'), end: bytes('fe00') }, want: ['00ff', '01', '7f', '80', 'fe'] },
        { name: 'prefix range of ff', o: { start: bytes('ff'), end: bytes('ffff') }, want: ['ff', 'ff00'] },
        { name: 'start = end is empty', o: { start: bytes('7f'), end: bytes('7f') }, want: [] },
        { name: 'start > end is empty', o: { start: bytes('80'), end: bytes('7f') }, want: [] },
        { name: 'start past the last key', o: { start: bytes('ffffffff') }, want: [] },
        { name: 'limit', o: { start: bytes('01'), limit: 3 }, want: ['01', '7f', '80'] },
        { name: 'limit 0 means none', o: { end: bytes('01'), limit: 0 }, want: ['00', '0000', '00ff'] },
        { name: 'reverse all', o: { reverse: true }, want: [...ORDER_KEYS].reverse() },
        { name: 'reverse end exclusive', o: { reverse: true, end: bytes('ff') }, want: ['fe', '80', '7f', '01', '00ff', '0000', '00'] },
        { name: 'reverse start inclusive', o: { reverse: true, start: bytes('ff') }, want: ['ffffff', 'ffff', 'ff00', 'ff'] },
        { name: 'reverse bounds', o: { reverse: true, start: bytes('0000'), end: bytes('7f') }, want: ['01', '00ff', '0000'] },
        { name: 'reverse down to 0x00', o: { reverse: true, end: bytes('0000') }, want: ['00'] },
        { name: 'reverse limit', o: { reverse: true, limit: 2 }, want: ['ffffff', 'ffff'] },
        { name: 'reverse bounds limit', o: { reverse: true, start: bytes('00'), end: bytes('80'), limit: 4 }, want: ['7f', '01', '00ff', '0000'] },
        { name: 'reverse start = end', o: { reverse: true, start: bytes('01'), end: bytes('01') }, want: [] },
      ];
      test('range bounds and limits (table)', async ({ open }) => {
        const { backend } = await open();
        backend.commit(ORDER_KEYS.map((k) => put('lease', bytes(k), text(k))));
        for (const c of cases) assert.deepEqual(rangeHex(backend, 'lease', c.o), c.want, c.name);
      });

      test('keys as Uint8Array views at an offset', async ({ open }) => {
        const { backend } = await open();
        const raw = new Uint8Array([9, 9, 0xab, 0x00, 0xff, 9]);
        const key = raw.subarray(2, 5);
        backend.commit([put('members', key, raw.subarray(0, 2))]);
        assert.deepEqual(backend.get('members', new Uint8Array([0xab, 0x00, 0xff])), new Uint8Array([9, 9]));
        assert.deepEqual(rangeHex(backend, 'members', { start: raw.subarray(2, 3), end: raw.subarray(4, 5) }), ['ab00ff']);
        // The driver copied what it stored: changing the caller's buffer changes nothing.
        raw.fill(1);
        assert.deepEqual(backend.get('members', bytes('ab00ff')), new Uint8Array([9, 9]));
      });

      test('returned values stay valid after later reads', async ({ open }) => {
        const { backend } = await open();
        backend.commit([put('key', bytes('01'), text('first')), put('key', bytes('02'), text('second'))]);
        const a = backend.get('key', bytes('01'))!;
        const b = backend.get('key', bytes('02'))!;
        const pairs = [...backend.range('key')];
        backend.get('key', bytes('02'));
        assert.deepEqual(a, text('first'));
        assert.deepEqual(b, text('second'));
        assert.deepEqual(pairs.map(([k, v]) => [hex(k), Buffer.from(v).toString()]), [['01', 'first'], ['02', 'second']]);
      });

      test('a batch with an invalid op applies nothing', async ({ open }) => {
        const { backend } = await open();
        backend.commit([put('key', bytes('01'), text('old')), put('key', bytes('02'), text('keep'))]);
        const bad: BackendOp[][] = [
          [put('key', bytes('01'), text('new')), del('key', bytes('02')), put('nope' as Bucket, bytes('03'), text('x'))],
          [put('key', bytes('01'), text('new')), del('key', bytes('02')), put('key', 'str' as unknown as Uint8Array, text('x'))],
          [put('key', bytes('01'), text('new')), del('key', bytes('02')), put('key', new Uint8Array(0), text('x'))],
          [put('key', bytes('01'), text('new')), put('key', bytes('04'), null as unknown as Uint8Array)],
        ];
        for (const ops of bad) {
          assert.throws(() => backend.commit(ops));
          assert.deepEqual(backend.get('key', bytes('01')), text('old'));
          assert.deepEqual(backend.get('key', bytes('02')), text('keep'));
          assert.deepEqual(rangeHex(backend, 'key'), ['01', '02']);
        }
        // Still usable afterwards.
        backend.commit([put('key', bytes('03'), text('ok'))]);
        assert.deepEqual(rangeHex(backend, 'key'), ['01', '02', '03']);
      });

      test('empty and 1 MiB values', async ({ open, reopen }) => {
        let { backend } = await open();
        const big = new Uint8Array(1 << 20);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
        backend.commit([put('key', bytes('01'), new Uint8Array(0)), put('key', bytes('02'), big)]);
        const check = (b: Backend): void => {
          assert.equal(b.get('key', bytes('01'))?.byteLength, 0);
          assert.ok(Buffer.from(b.get('key', bytes('02'))!).equals(big));
          const pairs = [...b.range('key')];
          assert.equal(pairs.length, 2);
          assert.equal(pairs[0]![1].byteLength, 0);
          assert.ok(Buffer.from(pairs[1]![1]).equals(big));
        };
        check(backend);
        assert.ok(backend.sizeBytes() >= 1 << 20, `sizeBytes ${backend.sizeBytes()} < 1 MiB`);
        await backend.sync();
        ({ backend } = await reopen());
        check(backend);
      });

      test('an abandoned range iterator does not block later commits', async ({ open }) => {
        const { backend } = await open();
        backend.commit(ORDER_KEYS.map((k) => put('key', bytes(k), text(k))));
        const it = backend.range('key', { reverse: true });
        assert.equal(hex(it.next().value![0]), 'ffffff');
        // Reads during iteration are allowed.
        assert.deepEqual(backend.get('key', bytes('01')), text('01'));
        it.return!();
        backend.commit([del('key', bytes('ffffff'))]);
        for (const [k] of backend.range('key')) if (hex(k) === '01') break; // for-of break returns too
        backend.commit([del('key', bytes('01'))]);
        assert.equal(rangeHex(backend, 'key').length, ORDER_KEYS.length - 2);
        await backend.sync();
      });

      test('two interleaved range iterators over the same bucket', async ({ open }) => {
        const { backend } = await open();
        backend.commit(ORDER_KEYS.map((k) => put('key', bytes(k), text(k))));
        const a = backend.range('key', { start: bytes('01') });
        const b = backend.range('key', { start: bytes('01') });
        const seen: string[] = [];
        for (let i = 0; i < 3; i++) seen.push(hex(a.next().value![0]), hex(b.next().value![0]));
        assert.deepEqual(seen, ['01', '01', '7f', '7f', '80', '80']);
        assert.equal([...a].length, ORDER_KEYS.length - 6);
        b.return!();
        backend.commit([del('key', bytes('01'))]);
      });

      test('reopen after close keeps committed data', async ({ open, reopen }) => {
        let { backend } = await open();
        backend.commit([put('key', bytes('00ff'), text('v1')), put('meta', text('consistent_index'), bytes('0000000000000007'))]);
        backend.commit([del('key', bytes('00ff')), put('key', bytes('ff00'), text('v2'))]);
        await backend.sync();
        ({ backend } = await reopen());
        assert.deepEqual(rangeHex(backend, 'key'), ['ff00']);
        assert.deepEqual(backend.get('meta', text('consistent_index')), bytes('0000000000000007'));
        // Closed handles refuse work; the new ones carry on.
        backend.commit([put('key', bytes('01'), text('v3'))]);
        ({ backend } = await reopen());
        assert.deepEqual(rangeHex(backend, 'key'), ['01', 'ff00']);
      });

      test('closed backend refuses reads and writes', async ({ open }) => {
        const { backend } = await open();
        await backend.close();
        assert.throws(() => backend.get('key', bytes('01')));
        assert.throws(() => backend.commit([put('key', bytes('01'), text('x'))]));
      });

      test(`oracle: seeded random batches match the memory driver (SEED=${SEED})`, async ({ open, reopen }) => {
        let { backend } = await open();
        const model = (await new MemoryDriver().open('')).backend;
        const rnd = mulberry32(SEED);
        const int = (n: number): number => Math.floor(rnd() * n);
        const alphabet = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
        const key = (): Uint8Array => {
          const k = new Uint8Array(1 + int(3));
          for (let i = 0; i < k.length; i++) k[i] = alphabet[int(alphabet.length)]!;
          return k;
        };
        const buckets: Bucket[] = ['key', 'lease'];
        const compareRange = (o: RangeOptions, what: string): void => {
          for (const b of buckets) {
            const got = [...backend.range(b, o)].map(([k, v]) => `${hex(k)}=${hex(v)}`);
            const want = [...model.range(b, o)].map(([k, v]) => `${hex(k)}=${hex(v)}`);
            assert.deepEqual(got, want, `${what} bucket ${b} range ${JSON.stringify({ ...o, start: o.start && hex(o.start), end: o.end && hex(o.end) })} (SEED=${SEED})`);
          }
        };
        for (let step = 0; step < 400; step++) {
          const ops: BackendOp[] = [];
          for (let n = 1 + int(8); n > 0; n--) {
            const b = buckets[int(buckets.length)]!;
            if (rnd() < 0.3) ops.push(del(b, key()));
            else {
              const v = new Uint8Array(int(12));
              for (let i = 0; i < v.length; i++) v[i] = int(256);
              ops.push(put(b, key(), v));
            }
          }
          backend.commit(ops);
          model.commit(ops);
          for (let q = 0; q < 3; q++) {
            const o: { start?: Uint8Array; end?: Uint8Array; reverse?: boolean; limit?: number } = {};
            if (rnd() < 0.6) o.start = key();
            if (rnd() < 0.6) o.end = key();
            if (rnd() < 0.5) o.reverse = true;
            if (rnd() < 0.5) o.limit = int(6);
            compareRange(o, `step ${step}`);
            const k = key();
            for (const b of buckets) assert.deepEqual(backend.get(b, k), model.get(b, k), `get ${hex(k)} step ${step}`);
          }
          if (opts.persistent && step % 150 === 149) {
            await backend.sync();
            ({ backend } = await reopen());
          }
        }
        compareRange({}, 'final');
        compareRange({ reverse: true }, 'final');
      });
    });

    describe('log store', () => {
      test('a new store is empty', async ({ open }) => {
        const { logStore } = await open();
        assert.deepEqual(logStore.hardState(), { term: 0, vote: 0, commit: 0 });
        assert.deepEqual(logStore.snapshotMeta(), { index: 0, term: 0, voters: [], learners: [] });
        assert.equal(logStore.firstIndex(), 1);
        assert.equal(logStore.lastIndex(), 0);
        assert.equal(logStore.term(0), 0);
        assert.equal(logStore.term(1), undefined);
        assert.deepEqual(logStore.entries(1, 1), []);
      });

      test('append, read back, term(), entry types and empty data', async ({ open }) => {
        const { logStore } = await open();
        const ents: Entry[] = [
          entry(1, 1),
          { index: 2, term: 1, type: EntryType.ConfChange, data: text('cc') },
          entry(3, 2, new Uint8Array(0)),
        ];
        await logStore.save({ entries: ents, hardState: { term: 2, vote: 3, commit: 1 } });
        assert.equal(logStore.lastIndex(), 3);
        assert.deepEqual(logStore.entries(1, 4), ents);
        assert.deepEqual(logStore.entries(2, 3), [ents[1]]);
        assert.deepEqual([0, 1, 2, 3, 4].map((i) => logStore.term(i)), [0, 1, 1, 2, undefined]);
        assert.deepEqual(logStore.hardState(), { term: 2, vote: 3, commit: 1 });
        await logStore.save({ entries: [entry(4, 2)] });
        assert.equal(logStore.lastIndex(), 4);
        assert.deepEqual(logStore.hardState(), { term: 2, vote: 3, commit: 1 }, 'hard state unchanged when absent');
        await logStore.save({});
        await logStore.save({ hardState: { term: 3, vote: 0, commit: 4 } });
        assert.deepEqual(logStore.hardState(), { term: 3, vote: 0, commit: 4 });
        assert.throws(() => logStore.entries(0, 2));
        assert.throws(() => logStore.entries(1, 6));
      });

      test('a conflicting suffix is truncated', async ({ open, reopen }) => {
        let { logStore } = await open();
        await logStore.save({ entries: [1, 2, 3, 4, 5].map((i) => entry(i, 1)) });
        await logStore.save({ entries: [entry(3, 2), entry(4, 2)] });
        assert.equal(logStore.lastIndex(), 4);
        assert.deepEqual(logStore.entries(1, 5), [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)]);
        assert.equal(logStore.term(5), undefined);
        // Overwrite from the first index, and append at lastIndex + 1.
        await logStore.save({ entries: [entry(1, 3)] });
        await logStore.save({ entries: [entry(2, 3), entry(3, 3)] });
        ({ logStore } = await reopen());
        assert.deepEqual(logStore.entries(1, 4), [entry(1, 3), entry(2, 3), entry(3, 3)]);
        assert.equal(logStore.lastIndex(), 3);
        await assert.rejects(logStore.save({ entries: [entry(5, 3)] }), /lastIndex/, 'a gap is refused');
        await assert.rejects(logStore.save({ entries: [entry(4, 3), entry(6, 3)] }), /consecutive/);
        assert.equal(logStore.lastIndex(), 3);
      });

      test('compact discards the prefix and records the snapshot point', async ({ open, reopen }) => {
        let { logStore } = await open();
        await logStore.save({ entries: [1, 2, 3, 4, 5, 6].map((i) => entry(i, i < 4 ? 1 : 2)) });
        const meta = { index: 4, term: 2, voters: [1, 2, 3], learners: [9] };
        await logStore.compact(meta);
        const check = (ls: LogStore): void => {
          assert.equal(ls.firstIndex(), 5);
          assert.equal(ls.lastIndex(), 6);
          assert.deepEqual(ls.snapshotMeta(), meta);
          assert.equal(ls.term(3), undefined);
          assert.equal(ls.term(4), 2);
          assert.equal(ls.term(5), 2);
          assert.deepEqual(ls.entries(5, 7), [entry(5, 2), entry(6, 2)]);
          assert.throws(() => ls.entries(4, 6));
        };
        check(logStore);
        ({ logStore } = await reopen());
        check(logStore);
        await assert.rejects(logStore.compact({ ...meta, index: 7 }), 'beyond lastIndex');
        await assert.rejects(logStore.compact({ ...meta, index: 3 }), 'below the snapshot');
        await assert.rejects(logStore.compact({ ...meta, index: 5, term: 9 }), 'term mismatch');
        // Compact everything: the log is empty after the snapshot point.
        await logStore.compact({ index: 6, term: 2, voters: [1], learners: [] });
        assert.equal(logStore.firstIndex(), 7);
        assert.equal(logStore.lastIndex(), 6);
        await logStore.save({ entries: [entry(7, 3)] });
        ({ logStore } = await reopen());
        assert.deepEqual(logStore.entries(7, 8), [entry(7, 3)]);
        assert.equal(logStore.term(6), 2);
      });

      test('a snapshot resets the log, keeping a matching suffix', async ({ open, reopen }) => {
        let { logStore } = await open();
        await logStore.save({ entries: [1, 2, 3, 4, 5].map((i) => entry(i, 1)) });
        // Matching term at the snapshot index: later entries stay.
        await logStore.save({ snapshot: { index: 3, term: 1, voters: [1], learners: [] } });
        assert.equal(logStore.firstIndex(), 4);
        assert.equal(logStore.lastIndex(), 5);
        assert.deepEqual(logStore.entries(4, 6), [entry(4, 1), entry(5, 1)]);
        // Different term: everything goes; entries in the same update follow the snapshot.
        await logStore.save({
          snapshot: { index: 4, term: 2, voters: [1, 2], learners: [3] },
          entries: [entry(4, 2), entry(5, 2), entry(6, 2)],
          hardState: { term: 2, vote: 1, commit: 4 },
        });
        const check = (ls: LogStore): void => {
          assert.equal(ls.firstIndex(), 5);
          assert.equal(ls.lastIndex(), 6);
          assert.equal(ls.term(4), 2);
          assert.deepEqual(ls.entries(5, 7), [entry(5, 2), entry(6, 2)]);
          assert.deepEqual(ls.snapshotMeta(), { index: 4, term: 2, voters: [1, 2], learners: [3] });
          assert.deepEqual(ls.hardState(), { term: 2, vote: 1, commit: 4 });
        };
        check(logStore);
        ({ logStore } = await reopen());
        check(logStore);
        // A snapshot far ahead of the log.
        await logStore.save({ snapshot: { index: 100, term: 5, voters: [1], learners: [] } });
        assert.equal(logStore.firstIndex(), 101);
        assert.equal(logStore.lastIndex(), 100);
        assert.equal(logStore.term(100), 5);
        await assert.rejects(logStore.save({ snapshot: { index: 50, term: 5, voters: [], learners: [] } }), 'older snapshot');
      });

      test('entries() respects maxBytes but returns at least one', async ({ open }) => {
        const { logStore } = await open();
        await logStore.save({ entries: [1, 2, 3, 4].map((i) => entry(i, 1, new Uint8Array(100).fill(i))) });
        const n = (lo: number, hi: number, max?: number): number => logStore.entries(lo, hi, max).length;
        assert.equal(n(1, 5), 4);
        assert.equal(n(1, 5, 250), 2);
        assert.equal(n(1, 5, 300), 3);
        assert.equal(n(1, 5, 0), 1);
        assert.equal(n(2, 5, 99), 1);
        assert.equal(n(1, 5, 10_000), 4);
        assert.deepEqual(logStore.entries(3, 5, 150), [entry(3, 1, new Uint8Array(100).fill(3))]);
      });

      test('1 MiB entries survive reopen', async ({ open, reopen }) => {
        let { logStore } = await open();
        const big = new Uint8Array(1 << 20);
        for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
        await logStore.save({ entries: [entry(1, 1, big), entry(2, 1, new Uint8Array(0)), entry(3, 1, big)] });
        ({ logStore } = await reopen());
        const got = logStore.entries(1, 4);
        assert.equal(got.length, 3);
        assert.ok(Buffer.from(got[0]!.data).equals(big));
        assert.equal(got[1]!.data.byteLength, 0);
        assert.equal(logStore.entries(1, 4, 1 << 20).length, 2, 'the empty entry fits under the limit');
      });

      test('many concurrent saves apply and resolve in call order', async ({ open, reopen }) => {
        let { logStore } = await open();
        const resolved: number[] = [];
        const saves: Promise<void>[] = [];
        let call = 0;
        const issue = (ents: Entry[], commit: number): void => {
          const k = call++;
          saves.push(
            logStore.save({ entries: ents, hardState: { term: ents[0]?.term ?? 1, vote: 0, commit } }).then(() => {
              resolved.push(k);
              // Reads reflect this save once it has resolved (commit only grows here).
              assert.ok(logStore.hardState().commit >= commit, `save ${k}: hard state not visible`);
            }),
          );
        };
        for (let i = 1; i <= 200; i++) issue([entry(i, 1)], i);
        // In the same turn: overwrite 150..160 with term 2 (truncating 161..200), then go on.
        issue([150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160].map((i) => entry(i, 2)), 201);
        for (let i = 161; i <= 180; i++) issue([entry(i, 2)], 201 + i);
        await Promise.all(saves);
        assert.deepEqual(resolved, [...Array(call).keys()]);
        const check = (ls: LogStore): void => {
          assert.equal(ls.lastIndex(), 180);
          const got = ls.entries(1, 181);
          assert.deepEqual(got, [...Array(180).keys()].map((i) => entry(i + 1, i + 1 < 150 ? 1 : 2)));
          assert.equal(ls.hardState().commit, 201 + 180);
        };
        check(logStore);
        ({ logStore } = await reopen());
        check(logStore);
      });

      test(`oracle: seeded random log operations match the memory driver (SEED=${SEED})`, async ({ open, reopen }) => {
        let { logStore } = await open();
        const model = (await new MemoryDriver().open('')).logStore;
        const rnd = mulberry32(SEED ^ 0x5eed);
        const int = (n: number): number => Math.floor(rnd() * n);
        let term = 1;
        const compare = (what: string): void => {
          assert.equal(logStore.firstIndex(), model.firstIndex(), what);
          assert.equal(logStore.lastIndex(), model.lastIndex(), what);
          assert.deepEqual(logStore.snapshotMeta(), model.snapshotMeta(), what);
          assert.deepEqual(logStore.hardState(), model.hardState(), what);
          for (let i = model.firstIndex() - 2; i <= model.lastIndex() + 1; i++) assert.equal(logStore.term(i), model.term(i), `${what} term(${i})`);
          assert.deepEqual(logStore.entries(model.firstIndex(), model.lastIndex() + 1), model.entries(model.firstIndex(), model.lastIndex() + 1), what);
        };
        for (let step = 0; step < 150; step++) {
          const r = rnd();
          const batch: Promise<unknown>[] = [];
          // A few writes per turn, so that drivers batch them together.
          for (let w = 1 + int(3); w > 0; w--) {
            const first = model.firstIndex();
            const last = model.lastIndex();
            if (r < 0.1 && last >= first) {
              const meta = { index: first + int(last - first + 1), term: 0, voters: [1, 2, 3].slice(0, 1 + int(3)), learners: [] };
              const m = { ...meta, term: model.term(meta.index)! };
              batch.push(logStore.compact(m), model.compact(m));
            } else if (r < 0.15) {
              const index = model.snapshotMeta().index + int(last - first + 8);
              const t = rnd() < 0.5 ? (model.term(index) ?? term) : term;
              term = Math.max(term, t);
              const u = { snapshot: { index, term: t, voters: [1], learners: [2] } };
              batch.push(logStore.save(u), model.save(u));
            } else {
              if (rnd() < 0.2) term++;
              const lo = Math.max(first, last + 1 - int(4));
              const ents = [...Array(1 + int(4)).keys()].map((i) => entry(lo + i, term, text(`s${step}w${w}`)));
              const u = { entries: ents, hardState: { term, vote: int(3), commit: int(lo) } };
              batch.push(logStore.save(u), model.save(u));
            }
          }
          await Promise.all(batch);
          compare(`step ${step} (SEED=${SEED})`);
          if (opts.persistent && step % 50 === 49) {
            ({ logStore } = await reopen());
            compare(`reopen at step ${step}`);
          }
        }
      });

      test('reads stay consistent while saves and compactions are in flight', async ({ open }) => {
        const { logStore } = await open();
        // The model sees every call at once; it tells the test which compactions are valid.
        const model = (await new MemoryDriver().open('')).logStore;
        const both = (f: (ls: LogStore) => Promise<void>): Promise<unknown> => Promise.all([f(logStore), f(model)]);
        const check = (): void => {
          const lo = logStore.firstIndex();
          const hi = logStore.lastIndex() + 1;
          const got = logStore.entries(lo, hi);
          assert.equal(got.length, hi - lo);
          got.forEach((e, i) => {
            assert.equal(e.index, lo + i);
            assert.equal(e.term, logStore.term(e.index));
          });
        };
        let term = 1;
        for (let round = 0; round < 40; round++) {
          const inflight: Promise<unknown>[] = [];
          for (let w = 0; w < 4; w++) {
            const last = model.lastIndex();
            if (w === 1) {
              // Overwrite the last two entries with a newer term (truncating a suffix).
              term++;
              const from = Math.max(model.firstIndex(), last - 1);
              inflight.push(both((ls) => ls.save({ entries: [entry(from, term), entry(from + 1, term)] })));
            } else if (w === 3 && round % 3 === 2 && last > model.firstIndex() + 2) {
              const index = last - 2;
              inflight.push(both((ls) => ls.compact({ index, term: model.term(index)!, voters: [1], learners: [] })));
            } else {
              const ents = [1, 2, 3].map((i) => entry(last + i, term));
              inflight.push(both((ls) => ls.save({ entries: ents, hardState: { term, vote: 1, commit: last } })));
            }
            check();
          }
          let settled = false;
          const all = Promise.all(inflight).then(() => (settled = true));
          while (!settled) {
            check();
            await new Promise((r) => setImmediate(r));
          }
          await all;
          check();
        }
        assert.equal(logStore.lastIndex(), model.lastIndex());
        assert.equal(logStore.firstIndex(), model.firstIndex());
        assert.deepEqual(logStore.entries(model.firstIndex(), model.lastIndex() + 1), model.entries(model.firstIndex(), model.lastIndex() + 1));
      });

      test('closed log store refuses work', async ({ open }) => {
        const { logStore } = await open();
        await logStore.save({ entries: [entry(1, 1)] });
        await logStore.close();
        assert.throws(() => logStore.lastIndex());
        await assert.rejects(logStore.save({ entries: [entry(2, 1)] }));
      });
    });

    if (opts.persistent) {
      describe('crash', () => {
        test('SIGKILL loses no acknowledged log entry and half-applies no batch', async ({ dir, reopen }) => {
          const child = fileURLToPath(new URL('../drivers/storage-crash-child.js', import.meta.url));
          let acked = 0;
          for (const killAfter of [1, 40, 300]) {
            const maxAck = await runAndKill(child, opts.name, dir, killAfter);
            assert.ok(maxAck >= acked, 'acks continue from the recovered log');
            acked = maxAck;
            const { logStore, backend } = await reopen();
            // Every acknowledged entry is there, with its data and the hard state saved with it.
            assert.ok(logStore.lastIndex() >= acked, `lastIndex ${logStore.lastIndex()} < acknowledged ${acked}`);
            assert.ok(logStore.hardState().commit >= acked, 'hard state saved with the entry');
            const ents = logStore.entries(1, logStore.lastIndex() + 1);
            ents.forEach((e, i) => assert.deepEqual(e, entry(i + 1, 1, text(`entry ${i + 1}`))));
            // Batches: both keys of a pair or neither, and the recorded last batch matches.
            const as = [...backend.range('key', { start: text('a'), end: text('b') })].map(([k]) => hex(k.subarray(1)));
            const bs = [...backend.range('key', { start: text('b'), end: text('c') })].map(([k]) => hex(k.subarray(1)));
            assert.deepEqual(as, bs, 'a batch was half-applied');
            const last = backend.get('meta', text('last_batch'));
            assert.equal(last === undefined ? undefined : hex(last), as.at(-1), 'last_batch disagrees with the pairs');
            await backend.close();
            await logStore.close();
          }
        });
      });
    }
  });
}

/**
 * Runs the crash child on `dir` until it has acknowledged `killAfter` log entries in this run,
 * SIGKILLs it, and returns the highest index it acknowledged.
 */
function runAndKill(childPath: string, kind: string, dir: string, killAfter: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(childPath, [kind, dir], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '';
    let err = '';
    let count = 0;
    let maxAck = 0;
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crash child made no progress (acks ${count}); stderr: ${err}`));
    }, 20_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = /^ack (\d+)$/.exec(line);
        if (m === null) continue;
        maxAck = Math.max(maxAck, Number(m[1]));
        if (++count >= killAfter && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve(maxAck);
      else reject(new Error(`crash child exited early (code ${code}, signal ${signal}); stderr: ${err}`));
    });
  });
}
