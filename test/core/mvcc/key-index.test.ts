// Checks the key index: per-key generations (find at a revision, tombstones, compaction tables
// modelled on etcd's keyIndex tests) and the tree index as an oracle test against a naive
// history (Map of key -> list of changes) on seeded random puts, deletes and compactions, read by
// key and by range (fresh keys, stored as a bare revision number, and materialized ones alike).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssertionError } from '../../../src/core/assert.js';
import type { RevisionSlot } from '../../../src/core/mvcc/key-index.js';
import { KeyIndex } from '../../../src/core/mvcc/key-index.js';
import { TreeIndex } from '../../../src/core/mvcc/tree-index.js';
import { prng } from './util.js';

/** The example of key-index.ts: puts 1 2, delete 3, puts 4 5, delete 6, put 7 (all sub 0). */
function example(): KeyIndex {
  const ki = new KeyIndex('foo');
  ki.put(1, 0);
  ki.put(2, 0);
  ki.tombstone(3, 0);
  ki.put(4, 0);
  ki.put(5, 0);
  ki.tombstone(6, 0);
  ki.put(7, 0);
  return ki;
}

function findAt(ki: KeyIndex, atRev: number): string | undefined {
  const slot: RevisionSlot = { main: 0, sub: 0 };
  return ki.find(atRev, slot) ? `${slot.main}.${slot.sub}` : undefined;
}

describe('KeyIndex', () => {
  it('finds the revision visible at each store revision', () => {
    const ki = example();
    const want: Array<[number, string | undefined]> = [
      [0, undefined],
      [1, '1.0'],
      [2, '2.0'],
      [3, undefined],
      [4, '4.0'],
      [5, '5.0'],
      [6, undefined],
      [7, '7.0'],
      [100, '7.0'],
    ];
    for (const [atRev, rev] of want) assert.equal(findAt(ki, atRev), rev, `at ${atRev}`);
  });

  it('tracks created and version per generation', () => {
    const ki = example();
    assert.deepEqual(
      ki.generationList().map((g) => [g.created, g.version]),
      [
        [1, 3],
        [4, 3],
        [7, 1],
      ],
    );
  });

  it('sees all sub revisions of one main revision', () => {
    const ki = new KeyIndex('k');
    ki.put(2, 0);
    ki.put(3, 1);
    ki.put(3, 4);
    assert.equal(findAt(ki, 2), '2.0');
    assert.equal(findAt(ki, 3), '3.4');
  });

  it('refuses revisions that go back, and tombstones of deleted keys', () => {
    const ki = new KeyIndex('k');
    ki.put(5, 1);
    assert.throws(() => ki.put(5, 1), AssertionError);
    assert.throws(() => ki.put(4, 9), AssertionError);
    ki.tombstone(6, 0);
    assert.throws(() => ki.tombstone(7, 0), AssertionError);
  });

  const compactions: Array<{ atRev: number; wantRevs: string[]; wantDropped: string[]; wantEmpty?: boolean }> = [
    { atRev: 0, wantRevs: ['1', '2', '3t', '4', '5', '6t', '7'], wantDropped: [] },
    { atRev: 1, wantRevs: ['1', '2', '3t', '4', '5', '6t', '7'], wantDropped: [] },
    { atRev: 2, wantRevs: ['2', '3t', '4', '5', '6t', '7'], wantDropped: ['1'] },
    { atRev: 3, wantRevs: ['4', '5', '6t', '7'], wantDropped: ['1', '2', '3t'] },
    { atRev: 4, wantRevs: ['4', '5', '6t', '7'], wantDropped: ['1', '2', '3t'] },
    { atRev: 5, wantRevs: ['5', '6t', '7'], wantDropped: ['1', '2', '3t', '4'] },
    { atRev: 6, wantRevs: ['7'], wantDropped: ['1', '2', '3t', '4', '5', '6t'] },
    { atRev: 7, wantRevs: ['7'], wantDropped: ['1', '2', '3t', '4', '5', '6t'] },
    { atRev: 9, wantRevs: ['7'], wantDropped: ['1', '2', '3t', '4', '5', '6t'] },
  ];
  for (const tc of compactions) {
    it(`compacts at ${tc.atRev}`, () => {
      const ki = example();
      const dropped: string[] = [];
      const empty = ki.compact(tc.atRev, (main, _sub, t) => dropped.push(`${main}${t ? 't' : ''}`));
      assert.equal(empty, tc.wantEmpty ?? false);
      assert.deepEqual(dropped, tc.wantDropped);
      assert.deepEqual(
        ki.revisions().map(([m, , t]) => `${m}${t ? 't' : ''}`),
        tc.wantRevs,
      );
      // Reads at or after the compaction revision are unchanged.
      const fresh = example();
      for (let r = tc.atRev; r <= 9; r++) assert.equal(findAt(ki, r), findAt(fresh, r), `at ${r}`);
    });
  }

  it('becomes empty when the whole history is at or below a tombstone', () => {
    const ki = new KeyIndex('k');
    ki.put(2, 0);
    ki.tombstone(3, 0);
    const dropped: number[] = [];
    assert.equal(ki.compact(2, (m) => dropped.push(m)), false);
    assert.equal(dropped.length, 0);
    assert.equal(ki.compact(3, (m) => dropped.push(m)), true);
    assert.deepEqual(dropped, [2, 3]);
  });

  it('keeps a restored generation with created and version from the stored value', () => {
    const ki = new KeyIndex('k');
    ki.restore(2, 5, 9, 0);
    assert.equal(findAt(ki, 8), undefined, 'history before the restored revision is compacted');
    assert.equal(findAt(ki, 9), '9.0');
    ki.put(10, 0);
    assert.deepEqual([ki.created, ki.version], [2, 6]);
    assert.equal(findAt(ki, 9), '9.0');
    assert.equal(findAt(ki, 8), undefined);
  });
});

describe('TreeIndex (oracle against a naive history)', () => {
  type Change = { main: number; sub: number; del: boolean };

  function naiveFind(hist: Change[] | undefined, atRev: number): string | undefined {
    let found: Change | undefined;
    for (const c of hist ?? []) if (c.main <= atRev) found = c;
    return found === undefined || found.del ? undefined : `${found.main}.${found.sub}`;
  }

  for (const seed of [1, 2, 3, 4]) {
    it(`agrees with a Map of histories on random ops (seed ${seed})`, () => {
      const rand = prng(seed);
      const keys = ['a', 'aa', 'ab', 'b', 'ba', 'c', '\x00', '\xff', 'z'];
      const tree = new TreeIndex();
      const hist = new Map<string, Change[]>();
      let rev = 1;
      let compactRev = 0;
      for (let step = 0; step < 400; step++) {
        const r = rand();
        if (r < 0.85) {
          rev++;
          const n = 1 + Math.floor(rand() * 3);
          const touched = new Set<string>();
          for (let sub = 0; sub < n; sub++) {
            const k = keys[Math.floor(rand() * keys.length)]!;
            if (touched.has(k)) continue;
            touched.add(k);
            const h = hist.get(k) ?? [];
            const live = h.length > 0 && !h[h.length - 1]!.del;
            if (live && rand() < 0.35) {
              tree.tombstone(k, rev, sub);
              h.push({ main: rev, sub, del: true });
            } else {
              tree.put(k, rev, sub);
              h.push({ main: rev, sub, del: false });
            }
            hist.set(k, h);
          }
        } else if (rev > compactRev) {
          const at = compactRev + 1 + Math.floor(rand() * (rev - compactRev));
          tree.compact(at, () => {});
          compactRev = at;
        }
        // Every single-key and range read at every readable revision agrees.
        for (let at = compactRev; at <= rev; at++) {
          for (const k of keys) {
            const ki = tree.get(k);
            const slot = { main: 0, sub: 0 };
            const got = ki !== undefined && ki.find(at, slot) ? `${slot.main}.${slot.sub}` : undefined;
            assert.equal(got, naiveFind(hist.get(k), at), `key ${JSON.stringify(k)} at ${at} step ${step}`);
            const one: string[] = [];
            tree.range(k, undefined, at, 0, (key, m, s) => one.push(`${key}@${m}.${s}`));
            assert.deepEqual(one, got === undefined ? [] : [`${k}@${got}`], `single-key range of ${JSON.stringify(k)} at ${at}`);
          }
          const lo = keys[Math.floor(rand() * keys.length)]!;
          const hi = rand() < 0.2 ? '' : keys[Math.floor(rand() * keys.length)]!;
          const limit = Math.floor(rand() * 3);
          const got: string[] = [];
          const count = tree.range(lo, hi, at, limit, (k, m, s) => got.push(`${k}@${m}.${s}`));
          const want = [...keys]
            .sort()
            .filter((k) => k >= lo && (hi === '' || k < hi))
            .flatMap((k) => {
              const f = naiveFind(hist.get(k), at);
              return f === undefined ? [] : [`${k}@${f}`];
            });
          assert.equal(count, want.length);
          assert.deepEqual(got, limit > 0 ? want.slice(0, limit) : want);
        }
      }
      // Compaction removed every key with nothing left to read.
      for (const ki of tree.keyIndexes()) assert.ok(!ki.isEmpty());
    });
  }
});
