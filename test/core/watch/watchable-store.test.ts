// Checks the pure WatchableStore over a real KvStore (memory backend) and applier: live
// delivery (one batch per revision, txn atomic, filters, prevKv), start revision 0 / future /
// past, catch-up in bounded chunks joining the live stream while writes go on, a full queue
// making a victim that later catches up from history, compaction at add time and while
// behind, and — on seeded random histories, consumers that stall and resume, and compactions —
// the guarantees (ordered, unique, reliable, atomic) against the recorded history.
// SEED=<n> replays one random run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactedError } from '../../../src/core/errors.js';
import { WatchableStore, type WatchOutlet, type WatchableStoreOptions } from '../../../src/core/watch/watchable-store.js';
import { Watcher, watchRange, type WatchBatch, type WatchSpec } from '../../../src/core/watch/watcher.js';
import { mulberry32 } from '../../helpers/random.js';
import { World, b, checkGuarantees, ev } from './world.js';

/** Consumers of the test: ready unless stalled; record every batch and every end. */
class Consumers implements WatchOutlet<Watcher> {
  readonly stalled = new Set<Watcher>();
  readonly batches = new Map<Watcher, WatchBatch[]>();
  readonly compactedAt = new Map<Watcher, number>();
  readonly parkedSet = new Set<Watcher>();

  ready(w: Watcher): boolean {
    return !this.stalled.has(w);
  }
  queued(w: Watcher): void {
    if (!this.stalled.has(w)) this.drain(w);
  }
  deliver(w: Watcher, batch: WatchBatch): void {
    let list = this.batches.get(w);
    if (list === undefined) this.batches.set(w, (list = []));
    list.push(batch);
  }
  parked(w: Watcher): void {
    this.parkedSet.add(w);
  }
  compacted(w: Watcher, rev: number): void {
    this.compactedAt.set(w, rev);
  }
  drain(w: Watcher): void {
    let batch: WatchBatch | undefined;
    while ((batch = w.take()) !== undefined) {
      let list = this.batches.get(w);
      if (list === undefined) this.batches.set(w, (list = []));
      list.push(batch);
    }
  }
  of(w: Watcher): WatchBatch[] {
    return this.batches.get(w) ?? [];
  }
}

function setup(options: Partial<WatchableStoreOptions> = {}): { world: World; c: Consumers; ws: WatchableStore } {
  const world = new World();
  const c = new Consumers();
  const outlet: WatchOutlet<Watcher> = {
    ready: (w) => c.ready(w),
    queued: (w) => c.queued(w),
    deliver: (w, batch) => c.deliver(w, batch),
    parked: (w) => c.parked(w),
    compacted: (w, r) => c.compacted(w, r),
  };
  const ws = new WatchableStore<Watcher>(world.store, outlet, world.store.currentRevision, options);
  world.onApplied((changes) => ws.notify(changes));
  return { world, c, ws };
}

function watcher(spec: WatchSpec): Watcher {
  const r = watchRange(spec.key, spec.rangeEnd);
  assert.ok(r !== null);
  return new Watcher(r, spec);
}

/** Runs catch-up passes until none has work (bounded). */
function syncAll(ws: WatchableStore): number {
  let passes = 0;
  while (ws.syncPass()) assert.ok(++passes < 10_000, 'catch-up does not converge');
  return passes + 1;
}

const evs = (batches: readonly WatchBatch[]): string[] => batches.flatMap((x) => x.events.map((e) => ev(e, true)));

describe('WatchableStore', () => {
  it('delivers each matching live revision as one batch, in order', () => {
    const { world, c, ws } = setup();
    const w = watcher({ key: b('a'), rangeEnd: b('b') });
    ws.add(w);
    assert.equal(w.state, 'synced');
    world.put('a1', 'x');
    world.put('zz', 'not mine');
    world.apply({
      txn: { success: [{ requestPut: { key: b('a2'), value: b('y') } }, { requestPut: { key: b('a3'), value: b('z') } }, { requestPut: { key: b('q'), value: b('no') } }] },
    });
    world.del('a1');
    const got = c.of(w);
    assert.deepEqual(
      got.map((x) => x.revision),
      [2, 4, 5],
    );
    assert.deepEqual(got[1]!.events.map((e) => ev(e, false)), ['PUT a2=y c4 m4 v1', 'PUT a3=z c4 m4 v1']);
    assert.deepEqual(evs([got[2]!]), ['DEL a1= c0 m5 v0 prev()']);
    checkGuarantees(world, { key: b('a'), rangeEnd: b('b') }, 2, got, { withPrev: true });
  });

  it('filters events and attaches prevKv only when asked', () => {
    const { world, c, ws } = setup();
    const noPut = watcher({ key: b('k'), filters: [0] });
    const noDel = watcher({ key: b('k'), filters: [1], prevKv: true });
    const plain = watcher({ key: b('k') });
    for (const w of [noPut, noDel, plain]) ws.add(w);
    world.put('k', '1');
    world.put('k', '2');
    world.del('k');
    assert.deepEqual(evs(c.of(noPut)), ['DEL k= c0 m4 v0 prev()']);
    assert.deepEqual(evs(c.of(noDel)), ['PUT k=1 c2 m2 v1 prev()', 'PUT k=2 c2 m3 v2 prev(1@2)']);
    assert.deepEqual(evs(c.of(plain)), ['PUT k=1 c2 m2 v1 prev()', 'PUT k=2 c2 m3 v2 prev()', 'DEL k= c0 m4 v0 prev()']);
    // NB: with prevKv the DELETE carries the deleted value; without it, no prevKv at all.
    assert.equal(c.of(noPut)[0]!.events[0]!.prevKv, undefined);
  });

  it('shares one batch among watchers of one view (encode once)', () => {
    const { world, c, ws } = setup();
    const ws1 = [0, 1, 2].map(() => watcher({ key: b('p/'), rangeEnd: b('p0') }));
    for (const w of ws1) ws.add(w);
    world.put('p/x', '1');
    const [x, y, z] = ws1.map((w) => c.of(w)[0]);
    assert.ok(x === y && y === z, 'one batch object for every watcher of the same view');
  });

  it('start revision 0 is from now; a future start revision waits for it', () => {
    const { world, c, ws } = setup();
    world.put('k', '1');
    const now = watcher({ key: b('k') });
    const future = watcher({ key: b('k'), startRevision: 5 });
    ws.add(now);
    ws.add(future);
    assert.equal(now.nextRevision, 3);
    assert.equal(future.state, 'synced');
    world.put('k', '2'); // 3
    world.put('k', '3'); // 4
    world.put('k', '4'); // 5
    assert.deepEqual(c.of(now).map((x) => x.revision), [3, 4, 5]);
    assert.deepEqual(c.of(future).map((x) => x.revision), [5]);
  });

  it('catches up from history in bounded chunks and joins the live stream while writes go on', () => {
    const { world, c, ws } = setup({ syncRevisionsMax: 3 });
    for (let i = 0; i < 10; i++) world.put(`k${i % 3}`, `v${i}`); // revisions 2..11
    const spec = { key: b('k'), rangeEnd: b('l'), startRevision: 2, prevKv: true };
    const w = watcher(spec);
    ws.add(w);
    assert.equal(w.state, 'unsynced');
    let passes = 0;
    while ((w.state as string) !== 'synced') {
      ws.syncPass();
      world.put('k9', `live${passes}`); // a write between every chunk
      assert.ok(++passes < 20);
    }
    world.put('k0', 'after');
    const got = c.of(w);
    assert.ok(got.length >= 4, 'several chunks');
    assert.ok(got.slice(0, 3).every((x) => new Set(x.events.map((e) => e.kv.modRevision)).size <= 3), 'chunks hold at most 3 revisions');
    checkGuarantees(world, spec, 2, got, { withPrev: true, upTo: world.store.currentRevision });
  });

  it('makes a victim of a watcher whose consumer stalls, then catches it up from history', () => {
    const { world, c, ws } = setup({ queueEventsMax: 4 });
    const spec = { key: b('s') };
    const slow = watcher(spec);
    const fast = watcher(spec);
    ws.add(slow);
    ws.add(fast);
    c.stalled.add(slow);
    for (let i = 0; i < 20; i++) world.put('s', `${i}`);
    assert.equal(slow.state, 'victim');
    assert.equal(slow.queueLength, 0, 'the queue was dropped');
    assert.ok(c.parkedSet.has(slow));
    assert.equal(c.of(slow).length, 0);
    assert.equal(c.of(fast).length, 20, 'the other watcher was not held up');
    // The position is the first revision that was dropped: nothing was handed over yet.
    assert.equal(slow.nextRevision, 2);
    c.stalled.delete(slow);
    ws.resume(slow);
    assert.equal(slow.state, 'unsynced');
    syncAll(ws);
    assert.equal(slow.state, 'synced');
    world.put('s', 'live');
    checkGuarantees(world, spec, 2, c.of(slow), { withPrev: false, upTo: world.store.currentRevision });
  });

  it('keeps the position of batches the consumer already took when it overflows later', () => {
    const { world, c, ws } = setup({ queueEventsMax: 2 });
    const spec = { key: b('s') };
    const w = watcher(spec);
    ws.add(w);
    world.put('s', 'a'); // 2, taken
    c.stalled.add(w);
    world.put('s', 'b'); // 3 queued
    world.put('s', 'c'); // 4 queued
    world.put('s', 'd'); // 5 overflows: drop 3,4
    assert.equal(w.state, 'victim');
    assert.equal(w.nextRevision, 3);
    c.stalled.delete(w);
    ws.resume(w);
    syncAll(ws);
    checkGuarantees(world, spec, 2, c.of(w), { withPrev: false, upTo: 5 });
  });

  it('refuses a start revision below the compacted revision, accepts one at it', () => {
    const { world, ws } = setup();
    for (let i = 0; i < 5; i++) world.put('k', `${i}`);
    world.compact(4);
    assert.throws(() => ws.add(watcher({ key: b('k'), startRevision: 3 })), (e: unknown) => e instanceof CompactedError && e.compactRevision === 4);
    const at = watcher({ key: b('k'), startRevision: 4 });
    ws.add(at);
    assert.equal(at.state, 'unsynced');
  });

  it('ends a watcher whose position was compacted while it was behind', () => {
    const { world, c, ws } = setup({ queueEventsMax: 1 });
    const w = watcher({ key: b('k') });
    const ok = watcher({ key: b('k') });
    ws.add(w);
    ws.add(ok);
    c.stalled.add(w);
    for (let i = 0; i < 5; i++) world.put('k', `${i}`); // 2..6; w becomes a victim at 2
    assert.equal(w.state, 'victim');
    world.compact(5);
    c.stalled.delete(w);
    ws.resume(w);
    syncAll(ws);
    assert.equal(c.compactedAt.get(w), 5);
    assert.equal(w.state, 'removed');
    assert.equal(ok.state, 'synced');
    assert.equal(ws.size, 1);
  });

  it('holds a whole notified batch of revisions in order', () => {
    const { world, c, ws } = setup();
    const spec = { key: b('a'), rangeEnd: b('z') };
    const w = watcher(spec);
    ws.add(w);
    world.hold = true;
    for (let i = 0; i < 5; i++) world.put(`k${i}`, 'x');
    world.release();
    assert.deepEqual(c.of(w).map((x) => x.revision), [2, 3, 4, 5, 6]);
  });

  for (const compaction of [false, true]) {
    it(`keeps the guarantees on random histories with stalls${compaction ? ' and compactions' : ''}`, () => {
      const seeds = process.env['SEED'] !== undefined ? [Number(process.env['SEED'])] : [1, 2, 3, 4, 5, 6, 7, 8];
      for (const seed of seeds) randomRun(seed, compaction);
    });
  }
});

function randomRun(seed: number, compaction: boolean): void {
  const rnd = mulberry32(seed * 7919 + (compaction ? 1 : 0));
  const int = (n: number): number => Math.floor(rnd() * n);
  const { world, c, ws } = setup({ queueEventsMax: 1 + int(6), syncRevisionsMax: 1 + int(5), syncWatchersMax: 1 + int(4) });
  const keys = ['a', 'ab', 'b', 'ba', 'c', 'd'];
  const watchers: { w: Watcher; spec: WatchSpec; start: number }[] = [];
  try {
    for (let step = 0; step < 400; step++) {
      const r = rnd();
      if (r < 0.45) {
        world.put(keys[int(keys.length)]!, `s${step}`);
      } else if (r < 0.52) {
        const k = keys[int(keys.length)]!;
        world.del(k, rnd() < 0.5 ? undefined : `${k}\xff`);
      } else if (r < 0.57) {
        const i = int(keys.length);
        const j = (i + 1 + int(keys.length - 1)) % keys.length;
        const k = [0, 1, 2, 3].map((x) => (i + x) % keys.length).find((x) => x !== i && x !== j)!;
        world.apply({
          txn: {
            success: [
              { requestPut: { key: b(keys[i]!), value: b(`t${step}`) } },
              { requestDeleteRange: { key: b(keys[j]!) } },
              { requestPut: { key: b(keys[k]!), value: b(`u${step}`) } },
            ],
          },
        });
      } else if (r < 0.65) {
        const cur = world.store.currentRevision;
        // NB: not at the compact revision itself: a deletion there is gone from history.
        const startRevision = rnd() < 0.3 ? 0 : Math.max(world.store.compactRevision + 1, 1 + int(cur + 3));
        const shapes: WatchSpec[] = [
          { key: b(keys[int(keys.length)]!) },
          { key: b('a'), rangeEnd: b('b') },
          { key: b('b'), rangeEnd: b('\0') },
          { key: b('\0'), rangeEnd: b('\0') },
          { key: b(keys[int(keys.length)]!), rangeEnd: b('c') },
        ];
        const base = shapes[int(shapes.length)]!;
        if (watchRange(base.key, base.rangeEnd) === null) continue;
        const spec: WatchSpec = { ...base, startRevision, prevKv: rnd() < 0.5, filters: rnd() < 0.2 ? [int(2) as 0 | 1] : [] };
        const w = watcher(spec);
        ws.add(w);
        watchers.push({ w, spec, start: startRevision === 0 ? cur + 1 : startRevision });
      } else if (r < 0.75 && watchers.length > 0) {
        const { w } = watchers[int(watchers.length)]!;
        if (c.stalled.has(w)) {
          c.stalled.delete(w);
          c.drain(w);
          ws.resume(w);
        } else {
          c.stalled.add(w);
        }
      } else if (r < 0.9) {
        ws.syncPass();
      } else if (r < 0.93 && compaction) {
        const cur = world.store.currentRevision;
        const to = world.store.compactRevision + 1 + int(Math.max(1, cur - world.store.compactRevision));
        if (to <= cur && to > world.store.compactRevision) world.compact(to);
      } else if (r < 0.95) {
        world.hold = true;
        for (let i = 0; i < 1 + int(4); i++) world.put(keys[int(keys.length)]!, `h${step}`);
        world.release();
      }
    }
    // Let every consumer go and catch everything up.
    for (const { w } of watchers) {
      c.stalled.delete(w);
      c.drain(w);
      ws.resume(w);
    }
    syncAll(ws);
    const cur = world.store.currentRevision;
    for (const { w, spec, start } of watchers) {
      const got = c.of(w);
      const compactedAt = c.compactedAt.get(w);
      if (compactedAt !== undefined) {
        assert.equal(w.state, 'removed');
        // Everything handed over before the cancel is a correct prefix.
        checkGuarantees(world, spec, start, got, { withPrev: false });
        continue;
      }
      assert.equal(w.state, 'synced', `watcher not caught up: ${w.state} next ${w.nextRevision} q ${w.queueLength} cur ${cur} start ${start}`);
      checkGuarantees(world, spec, start, got, { withPrev: !compaction, upTo: cur });
    }
  } catch (e) {
    (e as Error).message = `seed ${seed} (compaction ${compaction}): ${(e as Error).message}`;
    throw e;
  }
}
