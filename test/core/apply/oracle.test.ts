// Oracle test: seeded random puts, deletes, (nested) txns and compactions on a few keys, applied
// in random batches both to the applier + KvStore and to a naive model (kv-model.ts). Every
// response, error and event must match, and random ranges at every readable revision must
// agree. Then the backend is closed and reopened: the restored store must answer every range
// identically, have the same key histories and the same hashKV, and keep applying correctly.
// The committed history read back with changes() must equal the changes the applier reported.
// Replay with SEED=<n>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Compare, InternalRequest, RangeRequest, RequestOp, TxnRequest } from '../../../src/core/api/kv.js';
import type { RevisionChanges } from '../../../src/core/apply/applier.js';
import { Harness, b, deepNorm, prng } from '../mvcc/util.js';
import { KvModel } from './kv-model.js';

const KEYS = ['a', 'a/1', 'a/2', 'ab', 'b', 'b/x', 'c', '\xff'];
const ENDS = ['a/', 'a0', 'b', 'c', 'd', '\x00', '\xff\xff'];
const LEASES = [0, 0, 0, 0, 5, 6]; // 5 exists, 6 does not

class Gen {
  constructor(
    private readonly rand: () => number,
    private readonly model: KvModel,
  ) {}

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  value(): Uint8Array {
    return b(this.chance(0.1) ? '' : `v${this.int(50)}`);
  }
  revision(): number {
    // Around the readable window, errors included.
    const lo = Math.max(-1, this.model.compactRev - 2);
    return lo + this.int(this.model.rev - lo + 3);
  }
  rangeEnd(): Uint8Array | null {
    const r = this.rand();
    return r < 0.4 ? null : r < 0.5 ? b('\x00') : b(this.pick(ENDS));
  }

  range(): RangeRequest {
    const req: RangeRequest = { key: b(this.chance(0.1) ? '\x00' : this.pick(KEYS)), rangeEnd: this.rangeEnd() };
    if (this.chance(0.4)) req.limit = this.int(4);
    if (this.chance(0.3)) req.revision = this.revision();
    if (this.chance(0.3)) req.sortOrder = this.int(3) as 0 | 1 | 2;
    if (this.chance(0.3)) req.sortTarget = this.int(5) as 0 | 1 | 2 | 3 | 4;
    if (this.chance(0.1)) req.keysOnly = true;
    if (this.chance(0.1)) req.countOnly = true;
    if (this.chance(0.1)) req.minModRevision = this.revision() & 0xff;
    if (this.chance(0.1)) req.maxModRevision = this.revision() & 0xff;
    if (this.chance(0.1)) req.minCreateRevision = this.revision() & 0xff;
    if (this.chance(0.1)) req.maxCreateRevision = this.revision() & 0xff;
    return req;
  }

  put(key = this.pick(KEYS)): InternalRequest['put'] {
    const ignoreValue = this.chance(0.08);
    const ignoreLease = this.chance(0.08);
    return {
      key: b(key),
      value: ignoreValue ? null : this.value(),
      lease: ignoreLease ? 0 : this.pick(LEASES),
      prevKv: this.chance(0.5),
      ignoreValue,
      ignoreLease,
    };
  }

  del(): InternalRequest['deleteRange'] {
    return { key: b(this.pick(KEYS)), rangeEnd: this.chance(0.6) ? null : this.rangeEnd(), prevKv: this.chance(0.5) };
  }

  compare(): Compare {
    const c: Compare = { key: b(this.pick(KEYS)), target: this.int(5) as 0 | 1 | 2 | 3 | 4, result: this.int(4) as 0 | 1 | 2 | 3 };
    if (this.chance(0.2)) c.rangeEnd = this.rangeEnd();
    const n = this.int(this.model.rev + 2);
    switch (c.target) {
      case 0:
        c.version = this.int(4);
        break;
      case 1:
        c.createRevision = n;
        break;
      case 2:
        c.modRevision = n;
        break;
      case 3:
        c.value = this.value();
        break;
      case 4:
        c.lease = this.pick(LEASES);
        break;
    }
    return c;
  }

  /** Put keys are drawn without replacement from `free` so most txns pass the duplicate rules. */
  ops(depth: number, free: string[]): RequestOp[] {
    const out: RequestOp[] = [];
    const n = this.int(4);
    for (let i = 0; i < n; i++) {
      const r = this.rand();
      if (r < 0.3) {
        const req = this.range();
        if (this.chance(0.7)) delete req.revision;
        out.push({ requestRange: req });
      } else if (r < 0.65 && free.length > 0) {
        out.push({ requestPut: this.put(free.splice(this.int(free.length), 1)[0]!)! });
      } else if (r < 0.85) {
        out.push({ requestDeleteRange: this.del()! });
      } else if (depth < 2) {
        out.push({ requestTxn: this.txn(depth + 1, free) });
      }
    }
    return out;
  }

  txn(depth = 0, free = [...KEYS]): TxnRequest {
    const compare = Array.from({ length: this.int(3) }, () => this.compare());
    // Then and else may reuse keys (only one of them runs).
    const success = this.ops(depth, [...free]);
    const failure = this.ops(depth, free);
    return { compare, success, failure };
  }

  request(): InternalRequest {
    const r = this.rand();
    const id = 0;
    if (r < 0.45) return { id, put: this.put() };
    if (r < 0.6) return { id, deleteRange: this.del() };
    if (r < 0.975) return { id, txn: this.txn() };
    return { id, compaction: { revision: this.revision() } };
  }
}

/** Compares store and model on `req`, result and error included. */
function sameRange(h: Harness, model: KvModel, req: RangeRequest, what: string): void {
  const run = (f: () => unknown): unknown => {
    try {
      return deepNorm(f());
    } catch (e) {
      return deepNorm(e);
    }
  };
  assert.deepEqual(run(() => h.store.range(req)), run(() => model.range(req)), `${what}: ${JSON.stringify(deepNorm(req))}`);
}

function checkAllRevisions(h: Harness, model: KvModel, what: string): void {
  for (let rev = model.compactRev; rev <= model.rev; rev++) {
    sameRange(h, model, { key: b('\x00'), rangeEnd: b('\x00'), revision: rev }, `${what} at ${rev}`);
  }
}

/** The store's committed history after the compact revision equals what the applier reported. */
function checkHistory(h: Harness, model: KvModel, reported: Map<number, RevisionChanges>, what: string): void {
  const want = [...reported.values()].filter((c) => c.revision > model.compactRev);
  assert.deepEqual(deepNorm(h.store.changes(model.compactRev + 1, model.rev)), deepNorm(want), `${what}: history`);
  // In bounded chunks too.
  const chunks: RevisionChanges[] = [];
  for (let from = model.compactRev + 1; ; ) {
    const part = h.store.changes(from, model.rev, 3);
    if (part.length === 0) break;
    assert.ok(part.length <= 3);
    chunks.push(...part);
    from = part[part.length - 1]!.revision + 1;
  }
  assert.deepEqual(deepNorm(chunks), deepNorm(want), `${what}: chunked history`);
  if (model.compactRev > 1) assert.throws(() => h.store.changes(model.compactRev - 1, model.rev), /compacted/);
}

function run(seed: number, steps: number): void {
  const rand = prng(seed);
  const h = new Harness();
  h.leases.add(5);
  const model = new KvModel(h.leases);
  const gen = new Gen(rand, model);
  let applied = 0;
  let errors = 0;
  const reported = new Map<number, RevisionChanges>();
  while (applied < steps) {
    const items: Array<{ index: number; request: InternalRequest | null }> = [];
    const expected: Array<ReturnType<KvModel['apply']> & { index: number }> = [];
    const n = 1 + gen.int(4);
    for (let i = 0; i < n; i++) {
      const index = ++h.index;
      if (gen.chance(0.05)) {
        items.push({ index, request: null });
        continue;
      }
      const request = { ...gen.request(), id: index };
      items.push({ index, request });
      // The model applies in order too, so later items see earlier ones.
      expected.push({ ...model.apply(request), index });
      applied++;
    }
    const { results, changes } = h.applier.applyBatch(items);
    const where = `seed ${seed} entries ${items[0]!.index}..${h.index}`;
    assert.deepEqual(
      deepNorm(results.map((r) => ({ index: r.index, response: r.response, error: r.error }))),
      deepNorm(expected.map((e) => ({ index: e.index, response: e.response, error: e.error }))),
      `${where}: ${JSON.stringify(deepNorm(items))}`,
    );
    errors += results.filter((r) => r.error).length;
    for (const c of changes) reported.set(c.revision, c);
    assert.deepEqual(
      deepNorm(changes.flatMap((c) => c.events.map((e) => ({ rev: c.revision, ...e })))),
      deepNorm(expected.flatMap((e) => e.events.map((ev) => ({ rev: ev.kv.modRevision, ...ev })))),
      where,
    );
    assert.equal(h.store.currentRevision, model.rev, where);
    assert.equal(h.store.compactRevision, model.compactRev, where);
    for (let i = 0; i < 6; i++) sameRange(h, model, gen.range(), where);
  }
  // Not everything failed (the generator is meant to mostly produce valid requests).
  assert.ok(errors < steps / 2, `too many errors: ${errors}`);
  checkAllRevisions(h, model, `seed ${seed} final`);
  checkHistory(h, model, reported, `seed ${seed} final`);
}

const seeds = process.env['SEED'] !== undefined ? [Number(process.env['SEED'])] : [1, 2, 3, 4, 5];

describe('applier + KvStore vs naive model', () => {
  for (const seed of seeds) {
    it(`seed ${seed}`, () => run(seed, 300));
  }

  for (const seed of seeds.slice(0, 3)) {
    it(`restore after random ops answers identically (seed ${seed})`, async () => {
      const rand = prng(seed * 7919);
      const h = new Harness();
      h.leases.add(5);
      const model = new KvModel(h.leases);
      const gen = new Gen(rand, model);
      const reported = new Map<number, RevisionChanges>();
      const apply = (count: number): void => {
        for (let i = 0; i < count; i++) {
          const index = ++h.index;
          const request = { ...gen.request(), id: index };
          model.apply(request);
          for (const c of h.applier.applyBatch([{ index, request }]).changes) reported.set(c.revision, c);
        }
      };
      apply(250);
      const hash = h.store.hashKV();
      const keys = KEYS.map((k) => h.store.keyHistory(b(k)));
      const consistentIndex = h.store.consistentIndex;
      await h.reopen();
      assert.equal(h.store.consistentIndex, consistentIndex);
      assert.equal(h.store.currentRevision, model.rev);
      assert.equal(h.store.compactRevision, model.compactRev);
      assert.deepEqual(h.store.hashKV(), hash);
      assert.deepEqual(
        KEYS.map((k) => h.store.keyHistory(b(k))),
        keys,
      );
      checkAllRevisions(h, model, `seed ${seed} restored`);
      checkHistory(h, model, reported, `seed ${seed} restored`);
      for (let i = 0; i < 200; i++) sameRange(h, model, gen.range(), `seed ${seed} restored`);
      // And it keeps going from there.
      apply(50);
      checkAllRevisions(h, model, `seed ${seed} after restore`);
      checkHistory(h, model, reported, `seed ${seed} after restore`);
    });
  }
});
