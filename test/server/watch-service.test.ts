// Checks the Watch service's stream protocol (etcd §9.8) on a fake StreamSink, with a real
// WatchHub over a real KvStore: ids per stream from 0 and client-chosen ids, duplicate id and
// empty range refusals, created replies in request order and before any event, full headers
// everywhere, cancel (known and unknown ids), progress requests (watch_id -1), the compaction
// cancel (created first, then canceled with compact_revision and header revision 0), fragments
// of fragment watchers, and backpressure through send()'s return value and onDrain.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestScheduler } from 'rxjs/testing';
import type { WatchRequest, WatchResponse } from '../../src/core/api/watch.js';
import type { KvError } from '../../src/core/errors.js';
import type { StreamSink } from '../../src/core/ports/services.js';
import { WatchHub } from '../../src/server/watch-hub.js';
import { DUPLICATE_WATCH_ID, WatchStream } from '../../src/server/watch-service.js';
import { World, b } from '../core/watch/world.js';

const HOST = { status: () => ({ clusterId: 7, memberId: 9, term: 3 }) };

/** A sink that records replies; `full` makes send() report a full queue. */
class FakeSink implements StreamSink<WatchResponse> {
  readonly sent: WatchResponse[] = [];
  full = false;
  private drains: (() => void)[] = [];
  closedWith: KvError | undefined | null = null;
  send(res: WatchResponse): boolean {
    this.sent.push(res);
    return !this.full;
  }
  onDrain(cb: () => void): void {
    if (!this.full) cb();
    else this.drains.push(cb);
  }
  close(err?: KvError): void {
    this.closedWith = err;
  }
  drain(): void {
    this.full = false;
    const d = this.drains;
    this.drains = [];
    for (const cb of d) cb();
  }
  take(): WatchResponse[] {
    return this.sent.splice(0);
  }
}

function open(world: World, options: { fragmentBytesMax?: number; hub?: WatchHub } = {}) {
  const hub = options.hub ?? new WatchHub(world);
  const sink = new FakeSink();
  const stream = new WatchStream(hub, HOST, sink, {}, { fragmentBytesMax: options.fragmentBytesMax ?? 2 * 1024 * 1024 });
  const send = (req: WatchRequest): void => stream.message(req);
  return { hub, sink, stream, send };
}

/** A reply without its header, for compact comparisons (the header is checked separately). */
function bare(r: WatchResponse): Record<string, unknown> {
  const o: Record<string, unknown> = { watchId: r.watchId };
  if (r.created) o['created'] = true;
  if (r.canceled) o['canceled'] = true;
  if (r.compactRevision) o['compactRevision'] = r.compactRevision;
  if (r.cancelReason) o['cancelReason'] = r.cancelReason;
  if (r.fragment) o['fragment'] = true;
  if (r.events.length > 0) o['events'] = r.events.map((e) => `${Buffer.from(e.kv.key)}@${e.kv.modRevision}`);
  return o;
}

describe('Watch service stream', () => {
  it('assigns ids from 0 per stream, answers creates in order, and refuses bad ones', () => {
    const world = new World();
    const { sink, send } = open(world);
    send({ createRequest: { key: b('a') } });
    send({ createRequest: { key: b('b'), watchId: 7 } });
    send({ createRequest: { key: b('c') } });
    send({ createRequest: { key: b('d'), watchId: 7 } });
    send({ createRequest: { key: b('z'), rangeEnd: b('a') } });
    send({ createRequest: { key: b('e') } });
    const replies = sink.take();
    assert.deepEqual(replies.map(bare), [
      { watchId: 0, created: true },
      { watchId: 7, created: true },
      { watchId: 1, created: true },
      { watchId: -1, created: true, canceled: true, cancelReason: DUPLICATE_WATCH_ID },
      { watchId: -1, created: true, canceled: true, cancelReason: 'mvcc: watcher range is empty' },
      { watchId: 2, created: true },
    ]);
    for (const r of replies) assert.deepEqual(r.header, { clusterId: 7, memberId: 9, revision: 1, raftTerm: 3 });
    // Another stream starts from 0 again.
    const other = open(world);
    other.send({ createRequest: { key: b('a') } });
    assert.equal(other.sink.take()[0]!.watchId, 0);
  });

  it('sends events after the created reply, with header revisions, and honours cancel', () => {
    const world = new World();
    const { sink, send, stream } = open(world);
    world.put('k', '1'); // 2
    send({ createRequest: { key: b('k'), startRevision: 2 } });
    send({ createRequest: { key: b('k') } });
    world.put('k', '2'); // 3
    const first = sink.take();
    assert.deepEqual(first.map(bare), [
      { watchId: 0, created: true },
      { watchId: 1, created: true },
      { watchId: 1, events: ['k@3'] },
    ]);
    assert.equal(first[0]!.header.revision, 2, 'created header: the current revision');
    assert.equal(first[2]!.header.revision, 3, 'live header: the event revision');
    send({ cancelRequest: { watchId: 1 } });
    send({ cancelRequest: { watchId: 42 } });
    assert.deepEqual(sink.take().map(bare), [{ watchId: 1, canceled: true }], 'no reply for an unknown id');
    assert.equal(stream.size, 1);
    stream.end(); // half-close: the stream keeps serving
    world.put('k', '3');
    assert.ok(stream.size === 1);
    stream.cancel();
    assert.equal(stream.size, 0);
  });

  it('cancels a watch from a compacted revision after its created reply, as etcd', () => {
    const world = new World();
    for (let i = 0; i < 5; i++) world.put('k', `${i}`);
    world.compact(4);
    const { sink, send } = open(world);
    send({ createRequest: { key: b('k'), startRevision: 2 } });
    const [created, canceled] = sink.take();
    assert.deepEqual(bare(created!), { watchId: 0, created: true });
    assert.deepEqual(bare(canceled!), { watchId: 0, canceled: true, compactRevision: 4 });
    assert.deepEqual(canceled!.header, { clusterId: 7, memberId: 9, revision: 0, raftTerm: 3 });
  });

  it('answers a progress request with watch_id -1 at a revision every watcher reached', () => {
    new TestScheduler(assert.deepEqual).run(({ flush }) => {
      const world = new World();
      for (let i = 0; i < 6; i++) world.put('k', `${i}`);
      const { sink, send } = open(world, { hub: new WatchHub(world, { syncRevisionsMax: 2 }) });
      send({ progressRequest: {} });
      assert.deepEqual(sink.take().map((r) => [r.watchId, r.header.revision]), [[-1, 7]], 'no watchers: at once');
      send({ createRequest: { key: b('k'), startRevision: 2 } });
      send({ progressRequest: {} });
      flush();
      const replies = sink.take();
      const last = replies[replies.length - 1]!;
      assert.equal(last.watchId, -1);
      assert.equal(last.header.revision, 7);
      assert.deepEqual(replies.slice(1, -1).flatMap((r) => bare(r)['events'] as string[]), ['k@2', 'k@3', 'k@4', 'k@5', 'k@6', 'k@7']);
    });
  });

  it('splits the replies of a fragment watcher, and only of it', () => {
    const world = new World();
    const { sink, send } = open(world, { fragmentBytesMax: 600 });
    send({ createRequest: { key: b('f'), rangeEnd: b('g'), fragment: true } });
    send({ createRequest: { key: b('f'), rangeEnd: b('g') } });
    sink.take();
    const big = 'x'.repeat(200);
    world.apply({
      txn: { success: [1, 2, 3, 4, 5].map((i) => ({ requestPut: { key: b(`f${i}`), value: b(big) } })) },
    });
    const replies = sink.take();
    const frag = replies.filter((r) => r.watchId === 0);
    const whole = replies.filter((r) => r.watchId === 1);
    assert.equal(whole.length, 1);
    assert.equal(whole[0]!.events.length, 5);
    assert.ok(frag.length > 1);
    assert.deepEqual(frag.map((r) => r.fragment === true), [...frag.slice(1).map(() => true), false]);
    assert.equal(frag.flatMap((r) => r.events).length, 5);
  });

  it('stops sending when the sink is full and resumes on drain without losing events', () => {
    new TestScheduler(assert.deepEqual).run(({ flush }) => {
      const world = new World();
      const { sink, send } = open(world, { hub: new WatchHub(world, { queueEventsMax: 4 }) });
      send({ createRequest: { key: b('k') } });
      sink.take();
      sink.full = true;
      world.put('k', '0'); // sent, and reports full: the gate closes
      for (let i = 1; i < 20; i++) world.put('k', `${i}`);
      assert.equal(sink.sent.length, 1, 'nothing more sent while full');
      sink.drain();
      flush();
      world.put('k', 'live');
      const revs = sink.take().flatMap((r) => r.events.map((e) => e.kv.modRevision));
      assert.deepEqual(revs, Array.from({ length: 21 }, (_, i) => i + 2));
    });
  });
});
