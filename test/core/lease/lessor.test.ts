// Checks the lessor under a simulated clock (every leader call takes `nowMs` as an argument):
// lazy scheduling of grants, expiry and the per-round bound, retry of a lost revoke, renewals,
// time-to-live, promote (fresh TTL + extension, checkpointed remaining TTL), demote,
// checkpoints, attachments from events, and etcd's minimum-TTL formula.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventType, type Event, type KeyValue } from '../../../src/core/api/kv.js';
import { Lessor, minLeaseTtlSec } from '../../../src/core/lease/lessor.js';
import { KvError } from '../../../src/core/errors.js';
import { b, s } from '../mvcc/util.js';

function kv(key: string, lease: number): KeyValue {
  return { key: b(key), createRevision: 2, modRevision: 2, version: 1, value: b('v'), lease };
}
const putEv = (key: string, lease: number, prevLease?: number): Event => ({
  type: EventType.PUT,
  kv: kv(key, lease),
  prevKv: prevLease === undefined ? null : kv(key, prevLease),
});
const delEv = (key: string, prevLease: number): Event => ({ type: EventType.DELETE, kv: kv(key, 0), prevKv: kv(key, prevLease) });

/** A primary lessor at t = 0. */
function primary(options = {}): Lessor {
  const l = new Lessor(options);
  l.promote(0, 0);
  return l;
}

describe('Lessor: expiry on the leader', () => {
  it('starts a grant’s expiry at the next leader call and finds it expired TTL later', () => {
    const l = primary();
    l.grant(7, 5);
    // The first call with a time schedules it: expiry = 1000 + 5000.
    assert.deepEqual(l.findExpired(1000, 10), []);
    assert.deepEqual(l.findExpired(5999, 10), []);
    assert.deepEqual(l.findExpired(6000, 10), [7]);
    // Handed out once; again only after the retry interval (3 s) if its revoke got lost.
    assert.deepEqual(l.findExpired(6500, 10), []);
    assert.deepEqual(l.findExpired(9000, 10), [7]);
    // Once removed it is never handed out again.
    l.remove(7);
    assert.deepEqual(l.findExpired(100_000, 10), []);
  });

  it('bounds the leases found per round, earliest first', () => {
    const l = primary();
    for (let id = 1; id <= 10; id++) l.grant(id, id); // id expires at id seconds
    l.findExpired(0, 0); // schedule at t = 0
    assert.deepEqual(l.findExpired(20_000, 3), [1, 2, 3]);
    assert.deepEqual(l.findExpired(20_000, 3), [4, 5, 6]);
    assert.deepEqual(l.findExpired(20_000, 3), [7, 8, 9]);
    assert.deepEqual(l.findExpired(20_000, 3), [10]);
    assert.deepEqual(l.findExpired(20_000, 3), []);
  });

  it('renews a live lease to its full TTL, not an expired or unknown one', () => {
    const l = primary();
    l.grant(1, 10);
    l.findExpired(0, 10);
    assert.deepEqual(l.renew(1, 9000), { ttlSec: 10, clearCheckpoint: false });
    assert.deepEqual(l.findExpired(18_999, 10), []);
    assert.equal(l.timeToLive(1, 9500)!.remainingSec, 9);
    assert.deepEqual(l.findExpired(19_000, 10), [1]);
    // Expired (its revoke is on the way): a keep-alive gets TTL 0, and does not resurrect it.
    assert.equal(l.renew(1, 19_001), undefined);
    assert.equal(l.renew(99, 0), undefined);
  });

  it('answers time-to-live with floor seconds and sorted keys', () => {
    const l = primary();
    l.grant(3, 30);
    l.applyEvents([putEv('zz', 3), putEv('a', 3), putEv('m', 3)]);
    const t = l.timeToLive(3, 0, true)!;
    assert.equal(t.ttlSec, 30);
    assert.equal(t.remainingSec, 30);
    assert.deepEqual(t.keys.map(s), ['a', 'm', 'zz']);
    assert.equal(l.timeToLive(3, 1, false)!.remainingSec, 29);
    assert.deepEqual(l.timeToLive(3, 1)!.keys, []);
    assert.equal(l.timeToLive(3, 31_000)!.remainingSec, 0); // expired, not yet revoked
    assert.equal(l.timeToLive(4, 0), undefined);
  });
});

describe('Lessor: leadership', () => {
  it('promote gives every lease its TTL plus the extension from now', () => {
    const l = new Lessor();
    l.grant(1, 5);
    l.grant(2, 60);
    assert.deepEqual(l.findExpired(1e12, 10), [], 'not primary: nothing expires');
    assert.equal(l.timeToLive(1, 0)!.remainingSec, 5, 'off the leader: the full TTL');
    l.promote(100_000, 1000);
    assert.deepEqual(l.findExpired(105_999, 10), []);
    assert.deepEqual(l.findExpired(106_000, 10), [1]);
    assert.equal(l.timeToLive(2, 106_000)!.remainingSec, 55);
  });

  it('demote forgets every expiry; a later promote starts afresh', () => {
    const l = primary();
    l.grant(1, 5);
    l.findExpired(0, 10);
    l.demote();
    assert.equal(l.isPrimary, false);
    assert.deepEqual(l.findExpired(10_000, 10), []);
    assert.throws(() => l.renew(1, 0), /not primary/);
    l.promote(10_000, 0);
    assert.deepEqual(l.findExpired(14_999, 10), []);
    assert.deepEqual(l.findExpired(15_000, 10), [1]);
  });

  it('uses the checkpointed remaining TTL on promote, and asks to clear it on renew', () => {
    const l = primary({ checkpointIntervalMs: 1000 });
    l.grant(1, 10);
    l.grant(2, 1); // not longer than the interval: never checkpointed
    l.findExpired(0, 10);
    assert.deepEqual(l.dueCheckpoints(999, 10), []);
    assert.deepEqual(l.dueCheckpoints(1000, 10), [{ ID: 1, remainingTTL: 9 }]);
    assert.deepEqual(l.dueCheckpoints(1500, 10), []);
    assert.deepEqual(l.dueCheckpoints(2400, 10), [{ ID: 1, remainingTTL: 8 }]); // ceil(7.6)
    // Applying the checkpoint (through the log on every member) persists it.
    assert.ok(l.checkpoint(1, 8) !== undefined);
    assert.equal(l.checkpoint(1, 8), undefined, 'unchanged: nothing to write');
    assert.equal(l.checkpoint(42, 3), undefined, 'unknown lease: ignored');
    // A new leader honours it: 8 s + extension instead of a fresh 10 s.
    l.remove(2);
    l.demote();
    l.promote(50_000, 500);
    assert.deepEqual(l.findExpired(58_499, 10), []);
    assert.equal(l.timeToLive(1, 50_000)!.remainingSec, 8);
    // A keep-alive renews to the full TTL and asks the leader to clear the checkpoint.
    assert.deepEqual(l.renew(1, 51_000), { ttlSec: 10, clearCheckpoint: true });
    assert.deepEqual(l.findExpired(60_999, 10), []);
    assert.deepEqual(l.findExpired(61_000, 10), [1]);
  });

  it('makes no checkpoints when they are off or it is not primary', () => {
    const off = primary();
    off.grant(1, 100);
    assert.deepEqual(off.dueCheckpoints(1e9, 10), []);
    const follower = new Lessor({ checkpointIntervalMs: 10 });
    follower.grant(1, 100);
    assert.deepEqual(follower.dueCheckpoints(1e9, 10), []);
  });
});

describe('Lessor: the projection', () => {
  it('grant refuses a taken ID with etcd’s error', () => {
    const l = new Lessor();
    l.grant(1, 5);
    assert.throws(
      () => l.grant(1, 5),
      (e: unknown) => e instanceof KvError && e.message === 'etcdserver: lease already exists',
    );
  });

  it('keeps attachments in step with put and delete events', () => {
    const l = new Lessor();
    l.grant(1, 5);
    l.grant(2, 5);
    l.applyEvents([putEv('a', 1), putEv('b', 1), putEv('c', 2)]);
    l.applyEvents([putEv('a', 2, 1)]); // moved to lease 2
    l.applyEvents([putEv('b', 0, 1)]); // detached by a put without a lease
    l.applyEvents([delEv('c', 2)]);
    l.applyEvents([putEv('a', 2, 2)]); // same lease again
    assert.deepEqual(l.dump(), [
      { id: 1, ttlSec: 5, remainingTtlSec: 0, keys: [] },
      { id: 2, ttlSec: 5, remainingTtlSec: 0, keys: ['a'] },
    ]);
    assert.deepEqual(l.keysOf(2)!.map(s), ['a']);
    assert.equal(l.keysOf(3), undefined);
    assert.throws(() => l.remove(2), /still attached/);
    l.remove(1);
    assert.deepEqual(l.ids(), [2]);
  });
});

describe('minLeaseTtlSec', () => {
  it('follows etcd: ceil(1.5 election timeouts in whole ticks)', () => {
    assert.equal(minLeaseTtlSec(100, 1000), 2);
    assert.equal(minLeaseTtlSec(10, 100), 1);
    assert.equal(minLeaseTtlSec(100, 1050), 2);
    assert.equal(minLeaseTtlSec(500, 5000), 8);
    assert.equal(minLeaseTtlSec(1000, 5000), 7); // 5 ticks → (3 * 5) / 2 = 7 ticks
  });
});
