// Checks RangeIndex (the interval index over watcher key ranges) against a naive model: seeded
// random adds and deletes of single keys, bounded and unbounded ranges (many sharing one
// range), then every stab compared with a scan of the model. Also the AVL balance (height
// stays logarithmic on sorted inserts) and the event-fragmenting rules of fragment.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Event } from '../../../src/core/api/kv.js';
import { eventFieldBytes, fragmentEvents, RESPONSE_OVERHEAD_BYTES } from '../../../src/core/watch/fragment.js';
import { RangeIndex } from '../../../src/core/watch/range-index.js';
import { mulberry32 } from '../../helpers/random.js';

type End = string | undefined;
interface Entry {
  start: string;
  end: End;
  item: number;
}

function contains(e: Entry, k: string): boolean {
  if (e.end === undefined) return k === e.start;
  return k >= e.start && (e.end === '' || k < e.end);
}

describe('RangeIndex', () => {
  it('matches a naive model on random operations', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = mulberry32(seed);
      const int = (n: number): number => Math.floor(rnd() * n);
      const alphabet = 'abcdef';
      const key = (): string => Array.from({ length: 1 + int(3) }, () => alphabet[int(alphabet.length)]).join('');
      const index = new RangeIndex<number>();
      let model: Entry[] = [];
      for (let step = 0; step < 3000; step++) {
        const r = rnd();
        if (r < 0.55 || model.length === 0) {
          const start = key();
          let end: End;
          const shape = rnd();
          if (shape < 0.3) end = undefined;
          else if (shape < 0.4) end = '';
          else {
            end = key();
            if (end <= start) end = start + 'z';
          }
          // Reuse a handful of ranges often, so that nodes hold several items.
          const reuse = model.length > 0 && rnd() < 0.3 ? model[int(model.length)]! : undefined;
          const e: Entry = reuse ? { start: reuse.start, end: reuse.end, item: step } : { start, end, item: step };
          index.add(e.start, e.end, e.item);
          model.push(e);
        } else {
          const i = int(model.length);
          const e = model[i]!;
          assert.equal(index.delete(e.start, e.end, e.item), true);
          assert.equal(index.delete(e.start, e.end, e.item), false);
          model = model.filter((_, j) => j !== i);
        }
        assert.equal(index.size, model.length);
        if (step % 7 === 0) {
          for (let q = 0; q < 5; q++) {
            const k = key();
            const got: number[] = [];
            index.stab(k, (item) => got.push(item));
            const want = model.filter((e) => contains(e, k)).map((e) => e.item);
            assert.deepEqual(got.sort((a, b) => a - b), want.sort((a, b) => a - b), `seed ${seed} step ${step} key ${k}`);
          }
        }
      }
    }
  });

  it('stays balanced on sorted inserts and empties cleanly', () => {
    const index = new RangeIndex<number>();
    const n = 4096;
    for (let i = 0; i < n; i++) index.add(`k${String(i).padStart(5, '0')}`, `k${String(i).padStart(5, '0')}z`, i);
    assert.equal(index.distinctRanges, n);
    let visits = 0;
    index.stab('k02000', () => visits++);
    assert.equal(visits, 1);
    const height = (index as unknown as { root: { height: number } }).root.height;
    assert.ok(height <= 1.45 * Math.log2(n + 2), `height ${height} is not logarithmic`);
    for (let i = 0; i < n; i++) index.delete(`k${String(i).padStart(5, '0')}`, `k${String(i).padStart(5, '0')}z`, i);
    assert.equal(index.size, 0);
    assert.equal(index.distinctRanges, 0);
  });
});

describe('fragmentEvents', () => {
  const kv = (n: number): Event => ({
    type: 0,
    kv: { key: new Uint8Array(8), createRevision: 5, modRevision: 5, version: 1, value: new Uint8Array(n), lease: 0 },
  });

  it('keeps small responses and single events whole', () => {
    const small = [kv(10), kv(10)];
    assert.deepEqual(fragmentEvents(small, 10_000), [small]);
    const huge = [kv(100_000)];
    assert.deepEqual(fragmentEvents(huge, 1000), [huge]);
  });

  it('cuts large responses into parts below the limit, each with at least one event', () => {
    const events = [kv(300), kv(300), kv(300), kv(2000), kv(300)];
    const max = 1000;
    const parts = fragmentEvents(events, max);
    assert.deepEqual(parts.flat(), events, 'nothing lost or reordered');
    assert.ok(parts.length >= 3);
    for (const p of parts) {
      assert.ok(p.length >= 1);
      const bytes = RESPONSE_OVERHEAD_BYTES + p.reduce((s, e) => s + eventFieldBytes(e), 0);
      assert.ok(bytes < max || p.length === 1, `part of ${bytes} bytes`);
    }
  });
});
