// Test helpers of the watch tests: a store + applier that records every revision's changes
// (the oracle's history), a fake consensus host over it for the hub, and a checker of the
// watch guarantees (ordered, unique, reliable, atomic) against that history.
import assert from 'node:assert/strict';
import type { Event, InternalRequest } from '../../../src/core/api/kv.js';
import { EventType } from '../../../src/core/api/kv.js';
import type { RevisionChanges } from '../../../src/core/apply/applier.js';
import { bytesToLatin1 } from '../../../src/core/mvcc/bytes.js';
import { watchRange, type WatchBatch, type WatchSpec } from '../../../src/core/watch/watcher.js';
import { Harness, b } from '../mvcc/util.js';

export { b };

/** A store with its full history recorded, and listeners notified after each applied entry. */
export class World {
  readonly h = new Harness();
  /** Every revision's changes ever applied, by revision. */
  readonly history = new Map<number, RevisionChanges>();
  private readonly listeners = new Set<(changes: readonly RevisionChanges[]) => void>();
  /** When true, applied changes are held (not notified) until `release()`. */
  hold = false;
  private held: RevisionChanges[] = [];

  get store() {
    return this.h.store;
  }

  /** AppliedSource.onApplied. */
  onApplied(listener: (changes: readonly RevisionChanges[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(req: Omit<InternalRequest, 'id'>): RevisionChanges[] {
    const { result, changes } = this.h.apply(req);
    assert.equal(result.error, undefined, `unexpected error ${result.error?.message}`);
    for (const c of changes) this.history.set(c.revision, c);
    if (this.hold) this.held.push(...changes);
    else if (changes.length > 0) for (const l of this.listeners) l(changes);
    return changes;
  }

  /** Notifies the held changes as one batch. */
  release(): void {
    this.hold = false;
    const held = this.held;
    this.held = [];
    if (held.length > 0) for (const l of this.listeners) l(held);
  }

  put(key: string, value = 'v'): number {
    this.apply({ put: { key: b(key), value: b(value) } });
    return this.store.currentRevision;
  }

  del(key: string, rangeEnd?: string): number {
    this.apply({ deleteRange: { key: b(key), rangeEnd: rangeEnd === undefined ? null : b(rangeEnd) } });
    return this.store.currentRevision;
  }

  compact(revision: number): void {
    this.apply({ compaction: { revision } });
  }

  /** The events a watcher of `spec` must see, from its start, through revision `upTo`. */
  expected(spec: WatchSpec, start: number, upTo: number): Event[] {
    const range = watchRange(spec.key, spec.rangeEnd);
    assert.ok(range !== null);
    const out: Event[] = [];
    const noPut = spec.filters?.includes(0) ?? false;
    const noDelete = spec.filters?.includes(1) ?? false;
    for (let rev = start; rev <= upTo; rev++) {
      const rc = this.history.get(rev);
      if (rc === undefined) continue;
      for (const e of rc.events) {
        const k = bytesToLatin1(e.kv.key);
        const inRange = range.end === undefined ? k === range.start : k >= range.start && (range.end === '' || k < range.end);
        if (!inRange) continue;
        if (e.type === EventType.PUT ? noPut : noDelete) continue;
        out.push(e);
      }
    }
    return out;
  }
}

/** A comparable form of an event: type, key, value, revisions; prevKv's value and mod revision if `withPrev`. */
export function ev(e: Event, withPrev: boolean): string {
  const kv = e.kv;
  let s = `${e.type === EventType.PUT ? 'PUT' : 'DEL'} ${bytesToLatin1(kv.key)}=${bytesToLatin1(kv.value)} c${kv.createRevision} m${kv.modRevision} v${kv.version}`;
  if (withPrev) s += e.prevKv ? ` prev(${bytesToLatin1(e.prevKv.value)}@${e.prevKv.modRevision})` : ' prev()';
  return s;
}

/**
 * Checks batches one watcher received against the history: revisions strictly increase
 * across batches (ordered), header revision ≥ every event revision in its batch, every event
 * of a revision in one batch (atomic), and the concatenated events equal the expected ones
 * from `start` through the last batch's revision (no gap, no duplicate). `withPrev`: compare
 * prevKv too (and require its absence when the watcher did not ask).
 */
export function checkGuarantees(
  world: World,
  spec: WatchSpec,
  start: number,
  batches: readonly WatchBatch[],
  opts: { withPrev: boolean; upTo?: number },
): void {
  let lastHeader = start - 1;
  let lastEventRev = 0;
  const seenRevs = new Set<number>();
  const got: Event[] = [];
  for (const batch of batches) {
    assert.ok(batch.revision >= lastHeader, `header revision went back: ${batch.revision} after ${lastHeader}`);
    const revsHere = new Set<number>();
    for (const e of batch.events) {
      const r = e.kv.modRevision;
      assert.ok(r > lastEventRev || (revsHere.has(r) && r === lastEventRev), `event revision ${r} not after ${lastEventRev}`);
      assert.ok(r <= batch.revision, `event revision ${r} above the header revision ${batch.revision}`);
      assert.ok(!seenRevs.has(r) || revsHere.has(r), `revision ${r} split across batches`);
      seenRevs.add(r);
      revsHere.add(r);
      lastEventRev = r;
      if (!spec.prevKv) assert.ok(e.prevKv === undefined || e.prevKv === null, 'prevKv sent to a watcher that did not ask');
      got.push(e);
    }
    if (batch.events.length > 0) assert.ok(batch.revision > lastHeader, 'an event batch must advance the header revision');
    lastHeader = batch.revision;
  }
  const upTo = opts.upTo ?? lastHeader;
  const want = world.expected(spec, start, upTo).map((e) => ev(e, opts.withPrev && spec.prevKv === true));
  assert.deepEqual(
    got.map((e) => ev(e, opts.withPrev && spec.prevKv === true)),
    want,
    `events of watcher ${JSON.stringify({ key: bytesToLatin1(spec.key), start })} differ from the history`,
  );
}
