// Checks the client's keep-alive logic against a fake connection under mocked timers and a
// fake clock: `keepAlive()` renews at once and then a third of the TTL after each answer, emits
// every answer, errors with LeaseLostError on TTL 0 or when no renewal gets through before the
// TTL runs out, retries a lost stream on a new one, shares one stream between leases, stops on
// unsubscribe, and fails everything with TransportClosed when closed; `keepAliveOnce()` and
// the Lease conveniences send the right requests.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { LeaseKeepAliveResponse } from '../../src/core/api/lease.js';
import { KvError } from '../../src/core/errors.js';
import type { ClientConnection, StreamSlot } from '../../src/client/connection.js';
import { KeepAliveManager, Lease, LeaseLostError, type LeaseHost } from '../../src/client/lease.js';

const HEADER = { clusterId: 1, memberId: 2, revision: 3, raftTerm: 4 };

/** A connection that records what is sent on its streams. */
class FakeConn {
  readonly opened: StreamSlot[] = [];
  readonly sent: { slot: StreamSlot; msg: { ID: number } }[] = [];
  readonly cancelled: StreamSlot[] = [];
  dead = false;
  openStream(slot: StreamSlot): void {
    slot.id = this.opened.length + 1;
    this.opened.push(slot);
    if (this.dead) slot.ended(new KvError('TransportClosed'));
  }
  streamSend(slot: StreamSlot, msg: unknown): void {
    this.sent.push({ slot, msg: msg as { ID: number } });
  }
  cancelStream(slot: StreamSlot): void {
    this.cancelled.push(slot);
  }
  /** The server answers the oldest unanswered request of lease `id` with `ttl`. */
  answer(id: number, ttl: number): void {
    const slot = this.opened.at(-1)!;
    slot.message({ header: HEADER, ID: id, TTL: ttl } satisfies LeaseKeepAliveResponse);
  }
}

class Harness {
  conns: FakeConn[] = [new FakeConn()];
  t = 0;
  acquireFails = false;
  readonly manager = new KeepAliveManager(
    {
      acquire: async () => {
        if (this.acquireFails) throw new KvError('TransportClosed', 'no endpoint');
        return this.conns.at(-1)! as unknown as ClientConnection;
      },
      callTimeoutMs: 5000,
    },
    () => this.t,
  );
  get conn(): FakeConn {
    return this.conns.at(-1)!;
  }
  sentIds(): number[] {
    return this.conns.flatMap((c) => c.sent.map((s) => s.msg.ID));
  }
  /** Advances the fake clock and the mocked timers together. */
  advance(ms: number): void {
    this.t += ms;
    mock.timers.tick(ms);
  }
}

/** Lets resolved promises run (the manager awaits acquire()). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('keep-alive', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('renews at once, then a third of the TTL after each answer, emitting every answer', async () => {
    const h = new Harness();
    const seen: number[] = [];
    const sub = h.manager.keepAlive(7, 9).subscribe({ next: (r) => seen.push(r.TTL) });
    await flush();
    assert.deepEqual(h.sentIds(), [7]);
    h.conn.answer(7, 9);
    await flush();
    assert.deepEqual(seen, [9]);
    h.advance(2999);
    await flush();
    assert.deepEqual(h.sentIds(), [7]);
    h.advance(1);
    await flush();
    assert.deepEqual(h.sentIds(), [7, 7]);
    h.conn.answer(7, 9);
    await flush();
    assert.deepEqual(seen, [9, 9]);
    sub.unsubscribe();
    h.advance(10_000);
    await flush();
    assert.deepEqual(h.sentIds(), [7, 7], 'no renewals after unsubscribe');
    assert.equal(h.conn.opened.length, 1, 'one stream');
  });

  it('errors with LeaseLostError when the server answers TTL 0', async () => {
    const h = new Harness();
    let error = undefined as unknown;
    h.manager.keepAlive(7, 9).subscribe({ error: (e: unknown) => (error = e) });
    await flush();
    h.conn.answer(7, 0);
    await flush();
    assert.ok(error instanceof LeaseLostError);
    assert.equal(error.message, 'etcdserver: requested lease not found');
    assert.equal(error.leaseId, 7);
  });

  it('retries on a new stream after a loss, and gives up once the TTL ran out', async () => {
    const h = new Harness();
    let error = undefined as unknown;
    const seen: number[] = [];
    h.manager.keepAlive(7, 3).subscribe({ next: (r) => seen.push(r.TTL), error: (e: unknown) => (error = e) });
    await flush();
    h.conn.opened[0]!.ended(new KvError('TransportClosed', 'member died'));
    await flush();
    // The member comes back on another connection; the renewal is sent there.
    h.conns.push(new FakeConn());
    h.advance(250);
    await flush();
    assert.deepEqual(h.conns[1]!.sent.map((s) => s.msg.ID), [7]);
    h.conn.answer(7, 3);
    await flush();
    assert.deepEqual(seen, [3]);
    assert.equal(error as unknown, undefined);
    // Then no endpoint answers at all: retried until the lease's TTL (3 s) has passed.
    h.acquireFails = true;
    h.conn.opened[0]!.ended(new KvError('TransportClosed', 'gone again'));
    h.advance(1000); // the next renewal is due
    await flush();
    for (let i = 0; i < 7; i++) {
      h.advance(250);
      await flush();
    }
    assert.equal(error as unknown, undefined, 'not lost while the TTL lasts');
    h.advance(1000);
    await flush();
    assert.ok(error instanceof LeaseLostError, String(error));
    assert.match((error as Error).message, /not renewed before its TTL ran out/);
  });

  it('shares one stream between leases and matches answers by ID', async () => {
    const h = new Harness();
    const a = h.manager.once(1, 1000);
    const b = h.manager.once(2, 1000);
    const c = h.manager.once(1, 1000);
    await flush();
    h.conn.answer(2, 20);
    h.conn.answer(1, 10);
    h.conn.answer(1, 11);
    assert.deepEqual((await Promise.all([a, b, c])).map((r) => [r.ID, r.TTL]), [
      [1, 10],
      [2, 20],
      [1, 11],
    ]);
    assert.equal(h.conn.opened.length, 1);
    const late = h.manager.once(3, 100);
    await flush();
    h.advance(100);
    await assert.rejects(late, (e: unknown) => e instanceof KvError && e.code === 'DeadlineExceeded');
  });

  it('close fails renewals in flight and keep-alives with TransportClosed', async () => {
    const h = new Harness();
    let error = undefined as unknown;
    h.manager.keepAlive(7, 9).subscribe({ error: (e: unknown) => (error = e) });
    const once = h.manager.once(8, 1000);
    await flush();
    h.manager.close(new KvError('TransportClosed', 'client closed'));
    await flush();
    await assert.rejects(once, (e: unknown) => e instanceof KvError && e.code === 'TransportClosed');
    assert.ok(error instanceof KvError && error.code === 'TransportClosed');
    assert.equal(h.conn.cancelled.length, 1);
    await assert.rejects(h.manager.once(1, 10), (e: unknown) => e instanceof KvError && e.code === 'TransportClosed');
  });
});

describe('Lease', () => {
  it('puts with its ID, revokes and asks for its TTL; keepAliveOnce rejects on TTL 0', async () => {
    const calls: unknown[] = [];
    const conn = new FakeConn();
    const manager = new KeepAliveManager({ acquire: async () => conn as unknown as ClientConnection, callTimeoutMs: 1000 });
    const host: LeaseHost = {
      acquire: async () => conn as unknown as ClientConnection,
      callTimeoutMs: 1000,
      put: async (req) => {
        calls.push(['put', Buffer.from(req.key).toString(), Buffer.from(req.value!).toString(), req.lease]);
        return { header: HEADER };
      },
      leaseRevoke: async (req) => {
        calls.push(['revoke', req.ID]);
        return { header: HEADER };
      },
      leaseTimeToLive: async (req) => {
        calls.push(['ttl', req.ID, req.keys]);
        return { header: HEADER, ID: req.ID, TTL: 5, grantedTTL: 9, keys: [] };
      },
      keepAlives: () => manager,
    };
    const lease = new Lease(host, 42, 9);
    await lease.put('k', 'v');
    await lease.timeToLive({ keys: true });
    await lease.revoke();
    assert.deepEqual(calls, [
      ['put', 'k', 'v', 42],
      ['ttl', 42, true],
      ['revoke', 42],
    ]);
    const ok = lease.keepAliveOnce();
    await flush();
    conn.answer(42, 9);
    assert.equal((await ok).TTL, 9);
    const gone = lease.keepAliveOnce();
    await flush();
    conn.answer(42, 0);
    await assert.rejects(gone, (e: unknown) => e instanceof LeaseLostError);
  });
});
