// Checks the applier with a lessor on a memory backend: lease grant / revoke / checkpoint
// entries with etcd's errors, puts and txns with leases (unknown lease, compare on lease),
// a revoke deleting every attached key in ONE revision (sorted, with prevKvs), the lease
// bucket written in the same backend commit as the consistent index, replay after the
// consistent index, and, on seeded random operations, that a lessor rebuilt from the backend
// (bucket + key space) equals the live one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PutResponse, TxnResponse } from '../../../src/core/api/kv.js';
import { CompareResult, CompareTarget, EventType } from '../../../src/core/api/kv.js';
import type { LeaseGrantResponse, LeaseRevokeResponse } from '../../../src/core/api/lease.js';
import { KvError } from '../../../src/core/errors.js';
import { readLeaseRecords } from '../../../src/core/lease/lease-codec.js';
import { mulberry32 } from '../../helpers/random.js';
import { b, s } from '../mvcc/util.js';
import { ApplyHarness, type Req } from './apply-harness.js';

const LEASE_NOT_FOUND = 'etcdserver: requested lease not found';
const LEASE_EXIST = 'etcdserver: lease already exists';
const TTL_TOO_LARGE = 'etcdserver: too large lease TTL';

/** The shared harness, plus lease helpers. */
class LeaseHarness extends ApplyHarness {
  fails(req: Req, message: string): void {
    const before = this.store.currentRevision;
    const { result, changes } = this.applyWithChanges(req);
    assert.ok(result.error instanceof KvError, 'expected an error');
    assert.equal(result.error.message, message);
    assert.deepEqual(changes, []);
    assert.equal(this.store.currentRevision, before);
  }

  grant(id: number, ttl = 10): void {
    this.ok({ leaseGrant: { ID: id, TTL: ttl } });
  }

  put(key: string, lease = 0): number {
    return this.ok<PutResponse>({ put: { key: b(key), value: b('v'), lease } }).header.revision;
  }

  keys(): string[] {
    return this.store.range({ key: b('\0'), rangeEnd: b('\0') }).kvs.map((kv) => `${s(kv.key)}@${kv.lease}`);
  }
}

describe('lease entries', () => {
  it('grant answers ID and TTL at the current revision; refuses a taken ID and a huge TTL', () => {
    const h = new LeaseHarness();
    h.put('x');
    const g = h.ok<LeaseGrantResponse>({ leaseGrant: { ID: 42, TTL: 7 } });
    assert.deepEqual([g.ID, g.TTL, g.header.revision], [42, 7, 2]);
    h.fails({ leaseGrant: { ID: 42, TTL: 7 } }, LEASE_EXIST);
    h.fails({ leaseGrant: { ID: 43, TTL: 9_000_000_001 } }, TTL_TOO_LARGE);
    h.fails({ leaseGrant: { ID: 0, TTL: 5 } }, 'etcetera: invalid argument: lease ID must be a positive safe integer, got 0');
    h.fails({ leaseGrant: { ID: 44, TTL: 0 } }, 'etcetera: invalid argument: lease TTL must be at least 1 second, got 0');
    assert.deepEqual(h.lessor.ids(), [42]);
  });

  it('a put with an unknown lease fails, in a txn too; a known one attaches the key', () => {
    const h = new LeaseHarness();
    h.fails({ put: { key: b('a'), lease: 5 } }, LEASE_NOT_FOUND);
    h.fails({ txn: { success: [{ requestPut: { key: b('a'), lease: 5 } }] } }, LEASE_NOT_FOUND);
    h.grant(5);
    h.put('a', 5);
    h.ok({ txn: { success: [{ requestPut: { key: b('b'), lease: 5 } }] } });
    assert.deepEqual(h.lessor.dump()[0]!.keys, ['a', 'b']);
    // ignore_lease keeps the attachment; a put without a lease detaches.
    h.ok({ put: { key: b('a'), value: b('w'), ignoreLease: true } });
    h.put('b');
    assert.deepEqual(h.lessor.dump()[0]!.keys, ['a']);
  });

  it('a txn can compare on a key’s lease', () => {
    const h = new LeaseHarness();
    h.grant(9);
    h.put('k', 9);
    const cmp = (lease: number, result: CompareResult) => ({
      compare: [{ key: b('k'), target: CompareTarget.LEASE, result, lease }],
    });
    assert.equal(h.ok<TxnResponse>({ txn: cmp(9, CompareResult.EQUAL) }).succeeded, true);
    assert.equal(h.ok<TxnResponse>({ txn: cmp(8, CompareResult.EQUAL) }).succeeded, false);
    assert.equal(h.ok<TxnResponse>({ txn: cmp(8, CompareResult.GREATER) }).succeeded, true);
    // A missing key compares as lease 0.
    const missing = { compare: [{ key: b('nope'), target: CompareTarget.LEASE, result: CompareResult.EQUAL, lease: 0 }] };
    assert.equal(h.ok<TxnResponse>({ txn: missing }).succeeded, true);
  });

  it('revoke deletes every attached key in one revision, in key order', () => {
    const h = new LeaseHarness();
    h.grant(1);
    h.grant(2);
    for (const k of ['m', 'a', 'z', 'c']) h.put(k, 1);
    h.put('other', 2);
    h.put('plain');
    const before = h.store.currentRevision;
    const { result, changes } = h.applyWithChanges({ leaseRevoke: { ID: 1 } });
    const resp = result.response as LeaseRevokeResponse;
    assert.equal(resp.header.revision, before + 1);
    assert.equal(changes.length, 1, 'one revision');
    assert.equal(changes[0]!.revision, before + 1);
    assert.deepEqual(
      changes[0]!.events.map((e) => [e.type, s(e.kv.key), e.kv.modRevision, e.prevKv?.lease]),
      ['a', 'c', 'm', 'z'].map((k) => [EventType.DELETE, k, before + 1, 1]),
    );
    assert.deepEqual(h.keys(), ['other@2', 'plain@0']);
    assert.deepEqual(h.lessor.ids(), [2]);
    h.fails({ leaseRevoke: { ID: 1 } }, LEASE_NOT_FOUND);
    h.fails({ leaseRevoke: { ID: 0 } }, LEASE_NOT_FOUND);
    // A lease without keys goes without a revision.
    h.grant(3);
    const r = h.applyWithChanges({ leaseRevoke: { ID: 3 } });
    assert.deepEqual(r.changes, []);
    assert.equal((r.result.response as LeaseRevokeResponse).header.revision, before + 1);
  });

  it('checkpoints persist remaining TTLs and skip unknown leases', async () => {
    const h = new LeaseHarness();
    h.grant(1, 100);
    h.ok({ leaseCheckpoint: { checkpoints: [{ ID: 1, remainingTTL: 40 }, { ID: 77, remainingTTL: 5 }] } });
    h.fails({ leaseCheckpoint: { checkpoints: [{ ID: 1, remainingTTL: -1 }] } }, 'etcetera: invalid argument: checkpoint remaining TTL out of range: -1');
    await h.reopen();
    assert.deepEqual(h.lessor.dump(), [{ id: 1, ttlSec: 100, remainingTtlSec: 40, keys: [] }]);
  });

  it('writes lease records in the same backend commit as the consistent index', () => {
    const h = new LeaseHarness();
    h.commits.length = 0;
    h.applier.applyBatch([
      { index: 1, request: { id: 1, leaseGrant: { ID: 5, TTL: 10 } } },
      { index: 2, request: { id: 2, put: { key: b('a'), lease: 5 } } },
      { index: 3, request: { id: 3, leaseRevoke: { ID: 5 } } },
    ]);
    assert.equal(h.commits.length, 1);
    const buckets = h.commits[0]!.map((op) => `${op.type}:${op.bucket}`);
    assert.deepEqual(buckets, ['put:lease', 'put:key', 'put:key', 'del:lease', 'put:meta']);
  });

  it('replays the log after the consistent index to the same state', async () => {
    const h = new LeaseHarness();
    const log: Req[] = [
      { leaseGrant: { ID: 1, TTL: 10 } },
      { put: { key: b('a'), lease: 1 } },
      { leaseGrant: { ID: 2, TTL: 20 } },
      { put: { key: b('b'), lease: 2 } },
      { leaseRevoke: { ID: 1 } },
      { put: { key: b('b'), lease: 0 } },
      { put: { key: b('c'), lease: 2 } },
    ];
    const items = log.map((r, i) => ({ index: i + 1, request: { id: i + 1, ...r } }));
    h.applier.applyBatch(items.slice(0, 4));
    await h.reopen();
    // The whole log again: the first four are skipped, as after a crash.
    const { results } = h.applier.applyBatch(items);
    assert.equal(results.length, 3);
    assert.deepEqual(h.lessor.dump(), [{ id: 2, ttlSec: 20, remainingTtlSec: 0, keys: ['c'] }]);
    assert.deepEqual(h.keys(), ['b@0', 'c@2']);
  });
});

describe('lease projection rebuilt from the backend', () => {
  it('equals the live one after seeded random operations', async () => {
    const seed = Number(process.env['SEED'] ?? 1234);
    const rand = mulberry32(seed);
    const h = new LeaseHarness();
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const keyNames = Array.from({ length: 24 }, (_, i) => `k${i.toString(36)}`);
    const leaseIds = [1, 2, 3, 4, 5, 6];
    for (let step = 0; step < 1500; step++) {
      const op = rand();
      const lease = rand() < 0.3 ? 0 : pick(leaseIds);
      let req: Req;
      if (op < 0.15) req = { leaseGrant: { ID: pick(leaseIds), TTL: 1 + Math.floor(rand() * 100) } };
      else if (op < 0.22) req = { leaseRevoke: { ID: pick(leaseIds) } };
      else if (op < 0.6) req = { put: { key: b(pick(keyNames)), value: b(String(step)), lease } };
      else if (op < 0.7) req = { deleteRange: { key: b(pick(keyNames)) } };
      else if (op < 0.75) req = { deleteRange: { key: b('k'), rangeEnd: b('k5') } };
      else if (op < 0.8) req = { leaseCheckpoint: { checkpoints: [{ ID: pick(leaseIds), remainingTTL: Math.floor(rand() * 50) }] } };
      else {
        req = {
          txn: {
            compare: [{ key: b(pick(keyNames)), target: CompareTarget.LEASE, result: CompareResult.EQUAL, lease }],
            success: [{ requestPut: { key: b(pick(keyNames)), value: b('t'), lease } }],
            failure: [{ requestDeleteRange: { key: b(pick(keyNames)) } }, { requestPut: { key: b(pick(keyNames)), lease: 0 } }],
          },
        };
      }
      h.apply(req); // errors (unknown lease, taken ID) are part of the game
      // Invariant: every live key with a lease is attached to it, and nothing else is.
      if (step % 100 === 99) {
        const live = h.lessor.dump();
        const attached = live.flatMap((l) => l.keys.map((k) => `${k}@${l.id}`)).sort();
        assert.deepEqual(attached, h.keys().filter((k) => !k.endsWith('@0')), `seed ${seed} step ${step}`);
        await h.reopen();
        assert.deepEqual(h.lessor.dump(), live, `rebuilt lessor differs (seed ${seed}, step ${step})`);
        assert.deepEqual(
          [...readLeaseRecords(h.backend.range('lease'))].map((r) => r.id),
          live.map((l) => l.id),
        );
      }
    }
  });
});
