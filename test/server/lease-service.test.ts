// The lease service and its leader-side loop over a real single-member host (memory driver),
// driven by a fake clock and by calling the loop's rounds by hand (no timers): grant (minimum
// TTL, chosen or assigned IDs, etcd's errors), revoke, time-to-live, the list, keep-alive
// streams (many leases per stream, TTL 0 for unknown or expired leases, half-close), expiry
// applied through the log as one revision per lease and bounded per round, a restart that
// gives every lease a fresh TTL plus an election timeout (nobody loses a kept-alive lease to
// it, an abandoned one still expires), checkpoints that survive the restart, and NotLeader off
// the leader.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PutResponse } from '../../src/core/api/kv.js';
import { EventType } from '../../src/core/api/kv.js';
import type { LeaseKeepAliveResponse } from '../../src/core/api/lease.js';
import { Applier, type RevisionChanges } from '../../src/core/apply/applier.js';
import { KvError } from '../../src/core/errors.js';
import { Lessor } from '../../src/core/lease/lessor.js';
import { KvStore } from '../../src/core/mvcc/kv-store.js';
import { silentLogger } from '../../src/core/ports/logger.js';
import type { StreamSink } from '../../src/core/ports/services.js';
import { MemoryDriver } from '../../src/drivers/memory/memory-driver.js';
import { validateConfig, type Config } from '../../src/server/config.js';
import type { ConsensusHost, HostStatus } from '../../src/server/host.js';
import { LeaseLoop } from '../../src/server/lease-loop.js';
import { LeaseServiceImpl } from '../../src/server/lease-service.js';
import { SingleMemberHost } from '../../src/server/single-member-host.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();

class FakeClock {
  constructor(public t = 1_000_000) {}
  nowMs(): number {
    return this.t;
  }
}

/** A member: memory driver, host, lessor, service and loop; `restart()` reopens the same data. */
class Member {
  readonly driver = new MemoryDriver();
  readonly clock = new FakeClock();
  host!: SingleMemberHost;
  lessor!: Lessor;
  service!: LeaseServiceImpl;
  loop!: LeaseLoop;
  readonly applied: RevisionChanges[] = [];
  /** When set, the host reports this status (to play a follower). */
  statusOverride: Partial<HostStatus> | undefined;

  constructor(readonly config: Config = validateConfig({})) {}

  async start(): Promise<void> {
    const h = await this.driver.open('unused');
    const store = new KvStore(h.backend);
    this.lessor = new Lessor({ checkpointIntervalMs: this.config.leaseCheckpointEnabled ? this.config.leaseCheckpointIntervalMs : 0 });
    this.lessor.recover(h.backend, store);
    this.host = new SingleMemberHost(
      store,
      new Applier(store, { lessor: this.lessor }),
      h.logStore,
      h.backend,
      { memberId: 7, clusterId: 9, maxRequestBytes: 1 << 20, maxPendingProposals: 5000, snapshotCount: 1e6, fatal: (e) => assert.fail(String(e)) },
      silentLogger,
    );
    await this.host.start();
    this.host.onApplied((changes) => this.applied.push(...changes));
    const host = new Proxy(this.host, {
      get: (t, p, r) => {
        if (p === 'status') return () => ({ ...t.status(), ...this.statusOverride });
        const v = Reflect.get(t, p, r);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    }) as ConsensusHost;
    this.service = new LeaseServiceImpl(host, this.lessor, this.clock, this.config, silentLogger);
    this.loop = new LeaseLoop(this.service, this.lessor, this.clock, silentLogger, {
      intervalMs: 500,
      maxRevokesPerRound: 3,
      maxCheckpointsPerRound: 1000,
    });
  }

  async restart(): Promise<void> {
    await this.host.stop();
    const h = await this.driver.open('unused'); // the same instances: close them, then reopen
    await h.backend.close();
    await h.logStore.close();
    await this.start();
  }

  put(key: string, lease: number): Promise<PutResponse> {
    return this.host.propose({ put: { key: enc(key), value: enc('v'), lease } }).then((r) => {
      if (r.error) throw r.error;
      return r.response as PutResponse;
    });
  }

  keys(): string[] {
    return this.host.store.range({ key: enc('\0'), rangeEnd: enc('\0') }).kvs.map((kv) => dec(kv.key));
  }

  advance(ms: number): void {
    this.clock.t += ms;
  }
}

/** A sink recording what a stream sent and how it ended. */
class SinkSpy implements StreamSink<LeaseKeepAliveResponse> {
  sent: LeaseKeepAliveResponse[] = [];
  closed: { err?: KvError } | undefined;
  send(res: LeaseKeepAliveResponse): boolean {
    this.sent.push(res);
    return true;
  }
  onDrain(cb: () => void): void {
    cb();
  }
  close(err?: KvError): void {
    this.closed = err === undefined ? {} : { err };
  }
}

/** Lets queued promise callbacks (the stream's renew chain) run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

async function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof KvError && e.message === message);
}

describe('lease service', () => {
  it('grants with the minimum TTL, assigned or requested IDs, and etcd’s errors', async () => {
    const m = new Member();
    await m.start();
    const a = await m.service.grant({ TTL: 1 });
    assert.equal(a.TTL, 2, 'raised to the minimum (2 s with the default timeouts)');
    assert.ok(Number.isSafeInteger(a.ID) && a.ID > 0);
    assert.deepEqual([a.header.clusterId, a.header.memberId, a.header.revision], [9, 7, 1]);
    assert.equal((await m.service.grant({ TTL: 0 })).TTL, 2);
    assert.equal((await m.service.grant({ TTL: -5 })).TTL, 2);
    const b = await m.service.grant({ TTL: 60, ID: 0x1234 });
    assert.deepEqual([b.ID, b.TTL], [0x1234, 60]);
    await rejectsWith(m.service.grant({ TTL: 60, ID: 0x1234 }), 'etcdserver: lease already exists');
    await rejectsWith(m.service.grant({ TTL: 9_000_000_001 }), 'etcdserver: too large lease TTL');
    assert.equal((await m.service.grant({ TTL: 9_000_000_000 })).TTL, 9_000_000_000);
    const list = await m.service.leases({});
    assert.equal(list.leases.length, 5);
    assert.deepEqual(
      list.leases.map((l) => l.ID),
      [...list.leases.map((l) => l.ID)].sort((x, y) => x - y),
    );
  });

  it('answers time-to-live with remaining and granted TTL, keys on request, -1 when unknown', async () => {
    const m = new Member();
    await m.start();
    await m.loop.runOnce(); // promote, as the loop does when the member starts
    const g = await m.service.grant({ TTL: 30, ID: 5 });
    await m.put('lk2', g.ID);
    await m.put('lk1', g.ID);
    m.advance(1);
    const t = await m.service.timeToLive({ ID: 5, keys: true });
    assert.deepEqual([t.ID, t.TTL, t.grantedTTL, t.keys.map(dec)], [5, 29, 30, ['lk1', 'lk2']]);
    assert.equal(t.header.revision, 3);
    assert.deepEqual((await m.service.timeToLive({ ID: 5 })).keys, []);
    const u = await m.service.timeToLive({ ID: 0x99 });
    assert.deepEqual([u.ID, u.TTL, u.grantedTTL, u.keys], [0x99, -1, 0, []]);
  });

  it('revokes: every key in one revision; unknown lease → not found', async () => {
    const m = new Member();
    await m.start();
    await m.service.grant({ TTL: 30, ID: 5 });
    for (const k of ['b', 'a', 'c']) await m.put(k, 5);
    await m.put('free', 0);
    m.applied.length = 0;
    const r = await m.service.revoke({ ID: 5 });
    assert.equal(r.header.revision, 6);
    assert.equal(m.applied.length, 1);
    assert.deepEqual(m.applied[0]!.events.map((e) => [e.type, dec(e.kv.key)]), [
      [EventType.DELETE, 'a'],
      [EventType.DELETE, 'b'],
      [EventType.DELETE, 'c'],
    ]);
    assert.deepEqual(m.keys(), ['free']);
    await rejectsWith(m.service.revoke({ ID: 5 }), 'etcdserver: requested lease not found');
    await rejectsWith(m.put('x', 5), 'etcdserver: requested lease not found');
  });

  it('keeps many leases alive over one stream; TTL 0 for unknown ones; half-close ends it', async () => {
    const m = new Member();
    await m.start();
    await m.service.grant({ TTL: 10, ID: 1 });
    await m.service.grant({ TTL: 20, ID: 2 });
    const sink = new SinkSpy();
    const stream = m.service.keepAlive(sink, {});
    stream.message({ ID: 1 });
    stream.message({ ID: 2 });
    stream.message({ ID: 3 });
    stream.message({ ID: 1 });
    stream.end();
    await settle();
    assert.deepEqual(
      sink.sent.map((r) => [r.ID, r.TTL]),
      [
        [1, 10],
        [2, 20],
        [3, 0],
        [1, 10],
      ],
    );
    assert.deepEqual(sink.closed, {});
    assert.equal(sink.sent[0]!.header.memberId, 7);
  });

  it('revokes expired leases through the log, one revision each, bounded per round', async () => {
    const m = new Member();
    await m.start();
    await m.loop.runOnce(); // promote
    for (let id = 1; id <= 5; id++) {
      await m.service.grant({ TTL: 5, ID: id });
      await m.put(`k${id}a`, id);
      await m.put(`k${id}b`, id);
    }
    await m.service.grant({ TTL: 60, ID: 99 });
    await m.put('kept', 99);
    m.advance(4999);
    await m.loop.runOnce();
    assert.equal(m.keys().length, 11, 'nothing expired yet');
    m.applied.length = 0;
    m.advance(1);
    await m.loop.runOnce();
    assert.deepEqual(m.keys().filter((k) => k !== 'kept').length, 4, 'three leases per round');
    assert.equal(m.applied.length, 3, 'one revision per lease');
    for (const ch of m.applied) assert.deepEqual(ch.events.map((e) => e.type), [EventType.DELETE, EventType.DELETE]);
    await m.loop.runOnce();
    assert.deepEqual(m.keys(), ['kept']);
    assert.deepEqual(m.lessor.ids(), [99]);
    // A keep-alive for an expired lease that is still there gets TTL 0 and does not save it.
    await m.service.grant({ TTL: 5, ID: 7 });
    m.advance(6000);
    const sink = new SinkSpy();
    m.service.keepAlive(sink, {}).message({ ID: 7 });
    await settle();
    assert.equal(sink.sent[0]!.TTL, 0);
    await m.loop.runOnce();
    assert.equal(m.lessor.exists(7), false);
  });

  it('after a restart: kept-alive leases survive, abandoned ones expire a TTL (+ election timeout) later', async () => {
    const m = new Member();
    await m.start();
    await m.loop.runOnce();
    await m.service.grant({ TTL: 10, ID: 1 }); // kept alive
    await m.service.grant({ TTL: 10, ID: 2 }); // abandoned
    await m.put('alive', 1);
    await m.put('abandoned', 2);
    m.advance(8000);
    await m.service.renew({ ID: 1 });
    // The member restarts 1 s later; lease 2 would have expired 1 s after that.
    m.advance(1000);
    await m.restart();
    assert.deepEqual(m.lessor.dump().map((l) => [l.id, l.keys]), [
      [1, ['alive']],
      [2, ['abandoned']],
    ]);
    await m.loop.runOnce(); // the new leader promotes: each lease gets 1 s + its full TTL
    m.advance(10_999);
    await m.loop.runOnce();
    assert.deepEqual(m.keys(), ['abandoned', 'alive']);
    assert.equal((await m.service.timeToLive({ ID: 1 })).TTL, 0);
    const sink = new SinkSpy();
    m.service.keepAlive(sink, {}).message({ ID: 1 }); // the client keeps renewing
    await settle();
    assert.equal(sink.sent[0]!.TTL, 10);
    m.advance(1);
    await m.loop.runOnce();
    assert.deepEqual(m.keys(), ['alive']);
    assert.deepEqual(m.lessor.ids(), [1]);
  });

  it('checkpoints remaining TTLs through the log and honours them after a restart', async () => {
    const config = validateConfig({ 'experimental-enable-lease-checkpoint': true, 'experimental-lease-checkpoint-interval': 1000 });
    const m = new Member(config);
    await m.start();
    await m.loop.runOnce();
    await m.service.grant({ TTL: 30, ID: 1 });
    m.advance(1000);
    await m.loop.runOnce(); // checkpoint: ceil(29) = 29
    m.advance(1000);
    await m.loop.runOnce(); // 28
    assert.deepEqual(m.lessor.dump()[0], { id: 1, ttlSec: 30, remainingTtlSec: 28, keys: [] });
    await m.restart();
    await m.loop.runOnce();
    // 28 s checkpointed + 1 s election timeout, not a fresh 30 s.
    assert.equal((await m.service.timeToLive({ ID: 1 })).TTL, 29);
    // A keep-alive renews to the full TTL and clears the checkpoint through the log.
    const sink = new SinkSpy();
    m.service.keepAlive(sink, {}).message({ ID: 1 });
    await settle();
    await settle();
    assert.equal(sink.sent[0]!.TTL, 30);
    assert.equal(m.lessor.dump()[0]!.remainingTtlSec, 0);
  });

  it('off the leader: time-to-live and keep-alive fail with NotLeader, nothing expires', async () => {
    const m = new Member();
    await m.start();
    await m.loop.runOnce();
    await m.service.grant({ TTL: 5, ID: 1 });
    m.statusOverride = { leader: 3 };
    await rejectsWith(m.service.timeToLive({ ID: 1 }), 'etcdserver: not leader');
    const sink = new SinkSpy();
    m.service.keepAlive(sink, {}).message({ ID: 1 });
    await settle();
    assert.equal(sink.closed?.err?.message, 'etcdserver: not leader');
    m.advance(60_000);
    await m.loop.runOnce();
    assert.equal(m.lessor.isPrimary, false);
    assert.deepEqual(m.lessor.ids(), [1], 'only the leader revokes');
    // Leader again (a new term): fresh TTL from now.
    m.statusOverride = { term: 99 };
    await m.loop.runOnce();
    assert.equal(m.lessor.isPrimary, true);
    assert.equal((await m.service.timeToLive({ ID: 1 })).TTL, 6);
  });
});
