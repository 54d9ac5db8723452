// Checks the linearizability checker (linearizability.ts): hand-written histories that are and
// are not linearizable for a register (stale reads, a value that comes back, a lost write, CAS
// and delete outcomes, writes of unknown outcome), P-compositionality across keys, the search
// budget, and an oracle test that compares the search with brute force over every real-time
// respecting order on thousands of seeded random small histories (with the plain register model
// and with the symmetries the simulation's checks use).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../src/core/raft/seeded-random.js';
import type { HistoryOp, RegisterOp } from './linearizability.js';
import { checkHistory, checkOperations, registerModel } from './linearizability.js';

const U = Infinity;
let nextId = 0;

/** [call, ret, op] on key "k" by client `c`. */
function h(c: number, call: number, ret: number, op: RegisterOp, key = 'k'): HistoryOp {
  return { id: nextId++, client: c, key, call, ret, op };
}
const get = (output: string | null): RegisterOp => ({ kind: 'get', output });
const put = (value: string): RegisterOp => ({ kind: 'put', value });
const del = (output?: boolean): RegisterOp => (output === undefined ? { kind: 'delete' } : { kind: 'delete', output });
const cas = (expected: string | null, value: string, output?: boolean): RegisterOp =>
  output === undefined ? { kind: 'cas', expected, value } : { kind: 'cas', expected, value, output };

describe('linearizability checker: register histories', () => {
  const cases: Array<{ name: string; history: HistoryOp[]; want: boolean }> = [
    { name: 'empty history', history: [], want: true },
    { name: 'a read of the initial state', history: [h(1, 1, 2, get(null))], want: true },
    { name: 'sequential put then get', history: [h(1, 1, 2, put('a')), h(1, 3, 4, get('a'))], want: true },
    { name: 'a read of a value nobody wrote', history: [h(1, 1, 2, put('a')), h(2, 3, 4, get('b'))], want: false },
    { name: 'a stale read after the next write finished', history: [h(1, 1, 2, put('a')), h(1, 3, 4, put('b')), h(2, 5, 6, get('a'))], want: false },
    { name: 'a read concurrent with a write sees the old value', history: [h(1, 1, 2, put('a')), h(1, 3, 8, put('b')), h(2, 4, 5, get('a'))], want: true },
    { name: 'a read concurrent with a write sees the new value', history: [h(1, 1, 2, put('a')), h(1, 3, 8, put('b')), h(2, 4, 5, get('b'))], want: true },
    {
      name: 'new value seen, then old value seen (no going back)',
      history: [h(1, 1, 2, put('a')), h(1, 3, 20, put('b')), h(2, 4, 5, get('b')), h(3, 6, 7, get('a'))],
      want: false,
    },
    {
      name: 'two readers see two concurrent writes in opposite orders',
      history: [
        h(1, 0, 10, put('a')),
        h(2, 0, 10, put('b')),
        h(3, 1, 2, get('a')),
        h(3, 3, 4, get('b')),
        h(4, 5, 6, get('b')),
        h(4, 7, 8, get('a')),
      ],
      want: false,
    },
    {
      name: 'two readers see two concurrent writes in the same order',
      history: [h(1, 0, 10, put('a')), h(2, 0, 10, put('b')), h(3, 1, 2, get('a')), h(3, 3, 4, get('b')), h(4, 5, 6, get('b'))],
      want: true,
    },
    { name: 'delete reports a key that did not exist', history: [h(1, 1, 2, put('a')), h(1, 3, 4, del(false))], want: false },
    { name: 'delete, then absent', history: [h(1, 1, 2, put('a')), h(1, 3, 4, del(true)), h(2, 5, 6, get(null))], want: true },
    { name: 'a deleted value comes back', history: [h(1, 1, 2, put('a')), h(1, 3, 4, del(true)), h(2, 5, 6, get('a'))], want: false },
    { name: 'cas succeeds on the expected value', history: [h(1, 1, 2, put('a')), h(2, 3, 4, cas('a', 'b', true)), h(1, 5, 6, get('b'))], want: true },
    { name: 'cas fails although the value matched', history: [h(1, 1, 2, put('a')), h(2, 3, 4, cas('a', 'b', false))], want: false },
    { name: 'cas on absent creates', history: [h(2, 1, 2, cas(null, 'b', true)), h(1, 3, 4, get('b'))], want: true },
    { name: 'two cas from the same value both succeed', history: [h(1, 1, 2, put('a')), h(2, 3, 10, cas('a', 'b', true)), h(3, 3, 10, cas('a', 'c', true))], want: false },
    { name: 'a write of unknown outcome that took effect', history: [h(1, 1, U, put('x')), h(2, 5, 6, get('x'))], want: true },
    { name: 'a write of unknown outcome that never took effect', history: [h(1, 1, U, put('x')), h(2, 5, 6, get(null)), h(2, 7, 8, get(null))], want: true },
    { name: 'a write of unknown outcome seen late', history: [h(1, 1, U, put('x')), h(2, 5, 6, get(null)), h(2, 7, 8, get('x'))], want: true },
    { name: 'a write of unknown outcome seen, then gone', history: [h(1, 1, U, put('x')), h(2, 5, 6, get('x')), h(2, 7, 8, get(null))], want: false },
    { name: 'a write of unknown outcome cannot act before its call', history: [h(2, 1, 2, get('x')), h(1, 3, U, put('x'))], want: false },
    {
      name: 'an acknowledged write lost',
      history: [h(1, 1, 2, put('a')), h(1, 3, 4, put('b')), h(2, 5, 6, get('a')), h(2, 7, 8, get('b'))],
      want: false,
    },
    {
      name: 'cas of unknown outcome explains a later value',
      history: [h(1, 1, 2, put('a')), h(2, 3, U, cas('a', 'b')), h(3, 5, 6, get('b'))],
      want: true,
    },
    {
      name: 'cas of unknown outcome cannot succeed from the wrong value',
      history: [h(1, 1, 2, put('z')), h(2, 3, U, cas('a', 'b')), h(3, 5, 6, get('b'))],
      want: false,
    },
  ];
  for (const tc of cases) {
    it(`${tc.want ? 'accepts' : 'rejects'}: ${tc.name}`, () => {
      const r = checkHistory(tc.history);
      assert.equal(r.decided, true);
      assert.equal(r.ok, tc.want, r.explanation);
      if (!r.ok) assert.match(r.explanation ?? '', /longest linearizable prefix/);
    });
  }

  it('checks keys independently and names the failing one', () => {
    const ok = [h(1, 1, 2, put('a'), 'x'), h(2, 3, 4, get('a'), 'x')];
    const bad = [h(1, 1, 2, put('a'), 'y'), h(1, 3, 4, put('b'), 'y'), h(2, 5, 6, get('a'), 'y')];
    // Interleaved in one history: each key is fine alone except y.
    const r = checkHistory([...ok, ...bad, h(3, 1, 2, get(null), 'z')]);
    assert.equal(r.ok, false);
    assert.equal(r.key, 'y');
    // Per key, a value written to x says nothing about y.
    assert.equal(checkHistory([h(1, 1, 2, put('a'), 'x'), h(2, 3, 4, get(null), 'y')]).ok, true);
  });

  it('reports an undecided result past the budget', () => {
    // Fourteen concurrent writes, then a read that none explains: every order of the writes
    // is a distinct configuration to refute.
    const hist: HistoryOp[] = [];
    for (let i = 0; i < 14; i++) hist.push(h(i, 1, 100, put(`v${i}`)));
    hist.push(h(99, 101, 102, get('nobody wrote this')));
    const r = checkHistory(hist, 50);
    assert.equal(r.decided, false);
  });

  it('handles many writes of unknown outcome quickly when they overlap little', () => {
    const hist: HistoryOp[] = [];
    let t = 1;
    for (let i = 0; i < 200; i++) {
      hist.push(h(1, t, t + 1, put(`a${i}`)));
      hist.push(h(2, t + 2, i % 10 === 0 ? U : t + 3, put(`b${i}`)));
      hist.push(h(3, t + 4, t + 5, get(`b${i}`)));
      t += 6;
    }
    const r = checkHistory(hist);
    assert.equal(r.ok, true, r.explanation);
  });
});

/** Brute force: some order respecting real time in which the model accepts every operation. */
function bruteForce(ops: readonly HistoryOp[]): boolean {
  const n = ops.length;
  const used = new Array<boolean>(n).fill(false);
  const go = (state: string | null, placed: number): boolean => {
    if (placed === n) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      // i may go next only if no unplaced operation returned before i was called.
      let minimal = true;
      for (let j = 0; j < n && minimal; j++) if (!used[j] && j !== i && ops[j]!.ret < ops[i]!.call) minimal = false;
      if (!minimal) continue;
      const next = registerModel.step(state, ops[i]!.op, ops[i]!.ret === Infinity);
      if (next === undefined) continue;
      used[i] = true;
      if (go(next, placed + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return go(null, 0);
}

describe('linearizability checker: oracle', () => {
  it('agrees with brute force on 5000 random small histories', () => {
    const rnd = new SeededRandom(4242);
    let accepted = 0;
    for (let round = 0; round < 5000; round++) {
      const n = 1 + rnd.nextInt(7);
      const ops: HistoryOp[] = [];
      const values = ['a', 'b', 'c'];
      for (let i = 0; i < n; i++) {
        const call = rnd.nextInt(12);
        const ret = rnd.nextFloat() < 0.25 ? Infinity : call + 1 + rnd.nextInt(6);
        const unknown = ret === Infinity;
        // Shared values, and values only this operation writes (never observed: symmetry).
        const v = rnd.nextInt(2) === 0 ? values[rnd.nextInt(3)]! : `u${i}`;
        const pickVal = (): string | null => (rnd.nextInt(4) === 0 ? null : values[rnd.nextInt(3)]!);
        let op: RegisterOp;
        switch (rnd.nextInt(4)) {
          case 0:
            op = unknown ? put(v) : get(pickVal());
            break;
          case 1:
            op = put(v);
            break;
          case 2:
            op = unknown ? del() : del(rnd.nextInt(2) === 0);
            break;
          default:
            op = unknown ? cas(pickVal(), v) : cas(pickVal(), v, rnd.nextInt(2) === 0);
        }
        ops.push({ id: i, client: i, key: 'k', call, ret, op });
      }
      const want = bruteForce(ops);
      const what = `round ${round}: ${JSON.stringify(ops, (_k, x) => (x === Infinity ? 'inf' : x))}`;
      // The plain model, and the one with symmetries that checkHistory uses.
      const plain = checkOperations(registerModel, ops);
      assert.equal(plain.decided, true);
      assert.equal(plain.ok, want, `plain ${what}`);
      const sym = checkHistory(ops);
      assert.equal(sym.decided, true);
      assert.equal(sym.ok, want, `symmetric ${what}`);
      if (want) accepted++;
    }
    // Both verdicts occur often enough for the comparison to mean something.
    assert.ok(accepted > 1000 && accepted < 4000, `accepted ${accepted} of 5000`);
  });
});
