// Checks the WatchHub (RxJS shell of the watchable store) on the RxJS TestScheduler in run
// mode (virtual time: the progress ticker and the catch-up passes run on it): marble tests of
// live batches and progress notifications, catch-up from a past revision joining the live
// stream while writes go on, unsubscribe deregistering, compaction and empty-range errors,
// a closed DeliveryGate making victims that catch up once it opens, and progress requests
// answered only when every watcher of a gate is caught up. The store is a real KvStore.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { CompactedError, KvError } from '../../src/core/errors.js';
import type { WatchBatch } from '../../src/core/watch/watcher.js';
import { DeliveryGate, WATCH_RANGE_EMPTY, WatchHub } from '../../src/server/watch-hub.js';
import { World, b, checkGuarantees } from '../core/watch/world.js';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}

/** A short text of a batch for marble values: `r<revision>:<keys>` or `p<revision>`. */
function text(batch: WatchBatch): string {
  if (batch.events.length === 0) return `p${batch.revision}`;
  return `r${batch.revision}:${batch.events.map((e) => Buffer.from(e.kv.key).toString()).join(',')}`;
}

describe('WatchHub', () => {
  it('emits live batches and progress notifications when idle (marbles)', () => {
    scheduler().run(({ expectObservable }) => {
      const world = new World();
      const hub = new WatchHub(world, { progressNotifyIntervalMs: 10 });
      const at = (t: number, fn: () => void): unknown => hubScheduler(hub).schedule(fn, t);
      at(5, () => world.put('k', 'a')); // rev 2
      at(25, () => world.put('k', 'b')); // rev 3
      at(27, () => world.put('other', 'x')); // rev 4: not for this watcher, but progress reports it
      const batches$ = hub.watch({ key: b('k'), progressNotify: true }).pipe(map(text));
      // Ticks at 10 (active: reset), 20 (idle: p2), 30 (active), 40 (idle: p4), 50 (p4).
      expectObservable(batches$, '^ 55ms !').toBe('5ms a 14ms p 4ms b 14ms q 9ms q', {
        a: 'r2:k',
        p: 'p2',
        b: 'r3:k',
        q: 'p4',
      });
    });
  });

  it('catches up from a past revision, then joins the live stream (marbles)', () => {
    scheduler().run(({ expectObservable }) => {
      const world = new World();
      for (let i = 0; i < 7; i++) world.put(`k${i}`, `${i}`); // revisions 2..8
      const hub = new WatchHub(world, { syncRevisionsMax: 3 });
      const batches$ = hub.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 3 }).pipe(map(text));
      // Pass 1 (t=0): revisions 3..5; pass 2 (t=0): 6..8, the store revision: synced. Then live.
      hubScheduler(hub).schedule(() => world.put('k9', 'live'), 5);
      expectObservable(batches$, '^ 9ms !').toBe('(ab) 1ms c', { a: 'r5:k1,k2,k3', b: 'r8:k4,k5,k6', c: 'r9:k9' });
    });
  });

  it('keeps the guarantees for a watch from history while writes continue', () => {
    scheduler().run(({ flush }) => {
      const world = new World();
      for (let i = 0; i < 50; i++) world.put(`p/${i % 7}`, `${i}`);
      const hub = new WatchHub(world, { syncRevisionsMax: 4 });
      const spec = { key: b('p/'), rangeEnd: b('p0'), startRevision: 2, prevKv: true };
      const got: WatchBatch[] = [];
      const sub = hub.watch(spec).subscribe((x) => got.push(x));
      for (let t = 0; t < 30; t++) hubScheduler(hub).schedule(() => world.put(`p/${t % 5}`, `live${t}`), t);
      flush();
      assert.deepEqual(hub.stats(), { synced: 1, unsynced: 0, victims: 0 });
      checkGuarantees(world, spec, 2, got, { withPrev: true, upTo: world.store.currentRevision });
      sub.unsubscribe();
      assert.deepEqual(hub.stats(), { synced: 0, unsynced: 0, victims: 0 });
    });
  });

  it('ends with CompactedError below the compacted revision, and refuses an empty range', () => {
    const world = new World();
    for (let i = 0; i < 5; i++) world.put('k', `${i}`);
    world.compact(4);
    const hub = new WatchHub(world);
    let err: unknown;
    hub.watch({ key: b('k'), startRevision: 2 }).subscribe({ error: (e) => (err = e) });
    assert.ok(err instanceof CompactedError && err.compactRevision === 4);
    hub.watch({ key: b('b'), rangeEnd: b('a') }).subscribe({ error: (e) => (err = e) });
    assert.ok(err instanceof KvError && err.message.endsWith(WATCH_RANGE_EMPTY));
    assert.deepEqual(hub.stats(), { synced: 0, unsynced: 0, victims: 0 });
    hub.close();
  });

  it('queues behind a closed gate, parks on overflow, and catches up when it opens', () => {
    scheduler().run(({ flush }) => {
      const world = new World();
      const hub = new WatchHub(world, { queueEventsMax: 3 });
      const gate = new DeliveryGate();
      const spec = { key: b('s') };
      const got: WatchBatch[] = [];
      const other: WatchBatch[] = [];
      hub.watch(spec, gate).subscribe((x) => got.push(x));
      hub.watch(spec).subscribe((x) => other.push(x));
      world.put('s', '0'); // 2: delivered
      gate.close();
      world.put('s', '1');
      world.put('s', '2');
      assert.equal(got.length, 1, 'held while the gate is closed');
      for (let i = 3; i < 10; i++) world.put('s', `${i}`);
      assert.deepEqual(hub.stats(), { synced: 1, unsynced: 0, victims: 1 });
      assert.equal(other.length, 10, 'another consumer is not held up');
      gate.open();
      flush();
      assert.deepEqual(hub.stats(), { synced: 2, unsynced: 0, victims: 0 });
      world.put('s', 'live');
      checkGuarantees(world, spec, 2, got, { withPrev: false, upTo: world.store.currentRevision });
    });
  });

  it('answers a progress request only once every watcher of the gate is caught up', () => {
    scheduler().run(({ flush }) => {
      const world = new World();
      for (let i = 0; i < 10; i++) world.put('k', `${i}`);
      const hub = new WatchHub(world, { syncRevisionsMax: 2 });
      const gate = new DeliveryGate();
      const order: string[] = [];
      hub.watch({ key: b('k') }, gate).subscribe((x) => order.push(text(x)));
      hub.watch({ key: b('k'), startRevision: 2 }, gate).subscribe((x) => order.push(text(x)));
      hub.requestProgress(gate, (rev) => order.push(`progress ${rev}`));
      assert.equal(order.length, 0, 'the second watcher is behind');
      flush();
      assert.equal(order[order.length - 1], 'progress 11');
      assert.ok(order.length > 2, 'the catch-up batches came first');
      // With everyone caught up, the answer is immediate.
      hub.requestProgress(gate, (rev) => order.push(`again ${rev}`));
      assert.equal(order[order.length - 1], 'again 11');
    });
  });
});

/** The scheduler a hub runs on (the TestScheduler in run mode patches asyncScheduler). */
function hubScheduler(hub: WatchHub): { schedule(fn: () => void, delay: number): unknown } {
  return (hub as unknown as { scheduler: { schedule(fn: () => void, delay: number): unknown } }).scheduler;
}
