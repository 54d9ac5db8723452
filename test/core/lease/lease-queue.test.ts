// Checks the lease priority queue against a naive model (a Map scanned for its minimum) on
// seeded random set / remove / pop operations, plus the tie order (time, then ID) and clear.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseQueue } from '../../../src/core/lease/lease-queue.js';
import { mulberry32 } from '../../helpers/random.js';

function naiveMin(m: Map<number, number>): { id: number; timeMs: number } | undefined {
  let best: { id: number; timeMs: number } | undefined;
  for (const [id, timeMs] of m) {
    if (best === undefined || timeMs < best.timeMs || (timeMs === best.timeMs && id < best.id)) best = { id, timeMs };
  }
  return best;
}

describe('LeaseQueue', () => {
  it('agrees with a naive model on seeded random operations', () => {
    const seed = Number(process.env['SEED'] ?? 7);
    const rand = mulberry32(seed);
    const q = new LeaseQueue();
    const model = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const op = rand();
      const id = 1 + Math.floor(rand() * 200);
      if (op < 0.5) {
        const t = Math.floor(rand() * 1000);
        q.set(id, t);
        model.set(id, t);
      } else if (op < 0.7) {
        q.remove(id);
        model.delete(id);
      } else if (op < 0.85) {
        const want = naiveMin(model);
        assert.equal(q.pop(), want?.id, `seed ${seed} step ${step}`);
        if (want !== undefined) model.delete(want.id);
      } else {
        assert.deepEqual(q.peek(), naiveMin(model), `seed ${seed} step ${step}`);
        assert.equal(q.timeOf(id), model.get(id));
        assert.equal(q.has(id), model.has(id));
      }
      assert.equal(q.size, model.size);
    }
  });

  it('pops by time, then by ID; clear empties it', () => {
    const q = new LeaseQueue();
    q.set(5, 10);
    q.set(3, 10);
    q.set(9, 5);
    q.set(1, 20);
    q.set(1, 1); // moved earlier
    assert.deepEqual([q.pop(), q.pop(), q.pop(), q.pop(), q.pop()], [1, 9, 3, 5, undefined]);
    q.set(2, 2);
    q.clear();
    assert.equal(q.size, 0);
    assert.equal(q.peek(), undefined);
    assert.equal(q.has(2), false);
  });
});
