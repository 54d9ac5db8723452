// The watch guarantees of the issue, one test each, on the WatchHub over a real KvStore, with
// the TestScheduler driving catch-up passes and progress ticks (virtual time). A common
// scenario mixes history replay in 1-revision chunks, live writes, txns, and a consumer whose
// gate closes and reopens (so watchers fall behind and catch up). Each test checks one
// property: ordered, unique, reliable, atomic, resumable, progress revisions resumable, and
// compaction ending a watch with the compact revision.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestScheduler } from 'rxjs/testing';
import type { Event } from '../../src/core/api/kv.js';
import { CompactedError } from '../../src/core/errors.js';
import type { WatchBatch, WatchSpec } from '../../src/core/watch/watcher.js';
import { DeliveryGate, WatchHub } from '../../src/server/watch-hub.js';
import { World, b, ev } from '../core/watch/world.js';

interface Run {
  world: World;
  hub: WatchHub;
  /** Batches per watcher, by name. */
  got: Map<string, WatchBatch[]>;
  /** Victims just before the gate reopened (the gated watcher must have fallen behind). */
  victimsWhileClosed: number;
}

const PREFIX: WatchSpec = { key: b('g/'), rangeEnd: b('g0') };

/**
 * History: 20 revisions on the prefix (some txns of 3 keys), then watchers from revision 2
 * (catching up 1 revision per pass), from now, and one behind a gate that closes and reopens;
 * 40 more writes go on meanwhile, at virtual times.
 */
function scenario(extra?: (r: Run, at: (t: number, fn: () => void) => void) => void): Run {
  let run!: Run;
  new TestScheduler(assert.deepEqual).run(({ flush }) => {
    const world = new World();
    const txn = (i: number): void => {
      world.apply({ txn: { success: [0, 1, 2].map((k) => ({ requestPut: { key: b(`g/t${k}`), value: b(`${i}`) } })) } });
    };
    for (let i = 0; i < 20; i++) (i % 5 === 0 ? txn(i) : world.put(`g/${i % 4}`, `h${i}`));
    const hub = new WatchHub(world, { syncRevisionsMax: 1, queueEventsMax: 3, progressNotifyIntervalMs: 7 });
    const got = new Map<string, WatchBatch[]>();
    run = { world, hub, got, victimsWhileClosed: 0 };
    const gate = new DeliveryGate();
    const watch = (name: string, spec: WatchSpec, g?: DeliveryGate): void => {
      const list: WatchBatch[] = [];
      got.set(name, list);
      hub.watch(spec, g).subscribe({ next: (x) => list.push(x), error: () => {} });
    };
    watch('history', { ...PREFIX, startRevision: 2, prevKv: true, progressNotify: true });
    watch('now', { ...PREFIX, progressNotify: true });
    watch('gated', { ...PREFIX, startRevision: 5 }, gate);
    const at = (t: number, fn: () => void): void => void (hub as unknown as { scheduler: { schedule(f: () => void, d: number): unknown } }).scheduler.schedule(fn, t);
    for (let i = 0; i < 40; i++) at(2 * i + 1, () => (i % 7 === 0 ? txn(100 + i) : world.put(`g/${i % 4}`, `l${i}`)));
    at(10, () => gate.close());
    at(49, () => (run.victimsWhileClosed = hub.stats().victims));
    at(50, () => gate.open());
    extra?.(run, at);
    // The progress ticker would run forever in virtual time: stop the hub once all is done.
    at(200, () => hub.close());
    flush();
  });
  return run;
}

function events(batches: readonly WatchBatch[]): Event[] {
  return batches.flatMap((x) => x.events as Event[]);
}

describe('watch guarantees', () => {
  const run = scenario();
  const starts: Record<string, number> = { history: 2, now: 22, gated: 5 };

  it('ordered: event revisions strictly increase across batches for every watcher', () => {
    for (const [name, batches] of run.got) {
      let last = 0;
      for (const batch of batches) {
        const revs = [...new Set(batch.events.map((e) => e.kv.modRevision))];
        for (const r of revs) {
          assert.ok(r > last, `${name}: revision ${r} after ${last}`);
          last = r;
        }
      }
    }
  });

  it('unique: no event is delivered twice', () => {
    for (const [name, batches] of run.got) {
      const ids = events(batches).map((e) => `${e.kv.modRevision}/${Buffer.from(e.kv.key)}`);
      assert.equal(new Set(ids).size, ids.length, name);
    }
  });

  it('reliable: every event of the history from the start revision is delivered (no gap)', () => {
    const cur = run.world.store.currentRevision;
    assert.equal(cur, 61); // 20 writes, then 40
    for (const [name, batches] of run.got) {
      const want: string[] = run.world.expected(PREFIX, starts[name]!, cur).map((e) => ev(e, false));
      assert.deepEqual(events(batches).map((e) => ev(e, false)), want, name);
    }
    assert.equal(run.victimsWhileClosed, 1, 'the gated watcher fell behind meanwhile');
    assert.deepEqual(run.hub.stats(), { synced: 3, unsynced: 0, victims: 0 });
  });

  it('atomic: all events of one revision arrive in one batch (txns of three keys)', () => {
    for (const [name, batches] of run.got) {
      const batchOf = new Map<number, number>();
      batches.forEach((batch, i) => {
        for (const e of batch.events) {
          const seen = batchOf.get(e.kv.modRevision);
          assert.ok(seen === undefined || seen === i, `${name}: revision ${e.kv.modRevision} split`);
          batchOf.set(e.kv.modRevision, i);
        }
      });
      const txnRevs = [...run.world.history.values()].filter((rc) => rc.events.length === 3 && rc.revision >= starts[name]!);
      assert.ok(txnRevs.length >= 5);
      for (const rc of txnRevs) assert.equal(batches[batchOf.get(rc.revision)!]!.events.filter((e) => e.kv.modRevision === rc.revision).length, 3);
    }
  });

  it('resumable: a new watch from the last seen revision + 1 continues exactly', () => {
    const all = events(run.got.get('history')!).map((e) => ev(e, true));
    const cut = 23;
    // The first part as a watcher saw it up to revision `cut`, then a new watch from cut + 1.
    const resumed = scenario((r) => {
      const list: WatchBatch[] = [];
      r.got.set('resumed', list);
      r.hub.watch({ ...PREFIX, startRevision: cut + 1, prevKv: true }).subscribe((x) => list.push(x));
    });
    const before = all.filter((e) => Number(/ m(\d+) /.exec(e)![1]) <= cut);
    const after = events(resumed.got.get('resumed')!).map((e) => ev(e, true));
    assert.deepEqual([...before, ...after], all);
  });

  it('progress notifications carry a revision the watcher may resume from', () => {
    for (const name of ['history', 'now']) {
      const batches = run.got.get(name)!;
      const progress = batches.filter((x) => x.events.length === 0);
      assert.ok(progress.length > 0, `${name} got progress notifications`);
      for (const p of progress) {
        // Everything up to p.revision was delivered before the notification...
        const i = batches.indexOf(p);
        const before = events(batches.slice(0, i)).map((e) => ev(e, false));
        assert.deepEqual(before, run.world.expected(PREFIX, starts[name]!, p.revision).map((e) => ev(e, false)), `${name} @${p.revision}`);
        // ...and nothing at or below it comes after.
        assert.ok(events(batches.slice(i + 1)).every((e) => e.kv.modRevision > p.revision));
      }
    }
  });

  it('a start revision below the compacted revision ends the watch with the compact revision', () => {
    const world = new World();
    for (let i = 0; i < 10; i++) world.put('c', `${i}`);
    world.compact(8);
    const hub = new WatchHub(world);
    let err: unknown;
    hub.watch({ key: b('c'), startRevision: 7 }).subscribe({ error: (e) => (err = e) });
    assert.ok(err instanceof CompactedError);
    assert.equal(err.compactRevision, 8);
    const at8: WatchBatch[] = [];
    hub.watch({ key: b('c'), startRevision: 8 }).subscribe((x) => at8.push(x));
    hub.close();
  });
});
