// Checks the applier with an alarm table on a memory backend: ACTIVATE / DEACTIVATE / GET
// entries answer as etcd 3.4's applierV3backend.Alarm; the alarm bucket is written in the same
// commit as the consistent index and a table rebuilt from the backend equals the live one;
// and, as a table over every request type, what passes and what fails (with etcd's exact
// error) while NOSPACE, CORRUPT or both are active, and that disarming restores writes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlarmResponse } from '../../../src/core/api/alarm.js';
import { AlarmAction, AlarmType, alarmText } from '../../../src/core/api/alarm.js';
import { txnCost, txnIsReadOnly } from '../../../src/core/apply/quota-cost.js';
import { b } from '../mvcc/util.js';
import { ApplyHarness, type Req } from './apply-harness.js';

const NOSPACE = 'etcdserver: mvcc: database space exceeded';
const CORRUPT = 'etcdserver: corrupt cluster';

/** The shared harness, plus an alarm helper. */
class Harness extends ApplyHarness {
  alarm(action: number, memberID: number, alarm: number): AlarmResponse {
    return this.ok<AlarmResponse>({ alarm: { action, memberID, alarm } });
  }
}

describe('alarm entries', () => {
  it('ACTIVATE, GET and DEACTIVATE answer as etcd', () => {
    const h = new Harness();
    assert.deepEqual(h.alarm(AlarmAction.GET, 0, AlarmType.NONE), { alarms: [] });
    assert.deepEqual(h.alarm(AlarmAction.ACTIVATE, 7, AlarmType.NOSPACE), { alarms: [{ memberID: 7, alarm: 1 }] });
    // Raising an active alarm answers with it and changes nothing.
    const commitsBefore = h.commits.length;
    assert.deepEqual(h.alarm(AlarmAction.ACTIVATE, 7, AlarmType.NOSPACE), { alarms: [{ memberID: 7, alarm: 1 }] });
    assert.ok(h.commits.slice(commitsBefore).every((ops) => ops.every((op) => op.bucket !== 'alarm')));
    h.alarm(AlarmAction.ACTIVATE, 3, AlarmType.CORRUPT);
    h.alarm(AlarmAction.ACTIVATE, 2, AlarmType.NOSPACE);
    // GET: NONE lists all (type, then member); a type filters; the member is ignored (etcd 3.4).
    assert.deepEqual(h.alarm(AlarmAction.GET, 0, AlarmType.NONE).alarms, [
      { memberID: 2, alarm: 1 },
      { memberID: 7, alarm: 1 },
      { memberID: 3, alarm: 2 },
    ]);
    assert.deepEqual(h.alarm(AlarmAction.GET, 99, AlarmType.CORRUPT).alarms, [{ memberID: 3, alarm: 2 }]);
    // DEACTIVATE of an alarm that is not active: no alarms; of an active one: that alarm.
    assert.deepEqual(h.alarm(AlarmAction.DEACTIVATE, 3, AlarmType.NOSPACE), { alarms: [] });
    assert.deepEqual(h.alarm(AlarmAction.DEACTIVATE, 7, AlarmType.NOSPACE), { alarms: [{ memberID: 7, alarm: 1 }] });
    assert.deepEqual(h.alarm(AlarmAction.GET, 0, AlarmType.NOSPACE).alarms, [{ memberID: 2, alarm: 1 }]);
  });

  it('writes the alarm bucket in the commit of its entry, and survives a reopen', async () => {
    const h = new Harness();
    h.alarm(AlarmAction.ACTIVATE, 2 ** 40 + 5, AlarmType.NOSPACE);
    const last = h.commits.at(-1)!;
    assert.ok(last.some((op) => op.bucket === 'alarm' && op.type === 'put'));
    assert.ok(last.some((op) => op.bucket === 'meta'), 'with the consistent index');
    h.alarm(AlarmAction.ACTIVATE, 1, AlarmType.CORRUPT);
    h.alarm(AlarmAction.DEACTIVATE, 1, AlarmType.CORRUPT);
    assert.ok(h.commits.at(-1)!.some((op) => op.bucket === 'alarm' && op.type === 'del'));
    const live = h.alarms.list();
    await h.reopen();
    assert.deepEqual(h.alarms.list(), live);
    assert.deepEqual(live, [{ memberID: 2 ** 40 + 5, alarm: AlarmType.NOSPACE }]);
    // Replay of the same entries after the consistent index is skipped: nothing changes.
    const replay = h.applier.applyBatch([{ index: 1, request: { id: 1, alarm: { action: 2, memberID: 2 ** 40 + 5, alarm: 1 } } }]);
    assert.equal(replay.results.length, 0);
    assert.ok(h.alarms.has(AlarmType.NOSPACE));
  });

  it('refuses malformed alarm entries the same way everywhere', () => {
    const h = new Harness();
    assert.match(h.apply({ alarm: { action: 5 } }).error!.message, /alarm action/);
    assert.match(h.apply({ alarm: { action: 1, memberID: -1, alarm: 1 } }).error!.message, /memberID/);
    assert.equal(h.alarms.list().length, 0);
  });

  it('prints alarms in etcd proto text form', () => {
    assert.equal(alarmText({ memberID: 13049071153751, alarm: 1 }), 'memberID:13049071153751 alarm:NOSPACE ');
    assert.equal(alarmText({ memberID: 5, alarm: 2 }), 'memberID:5 alarm:CORRUPT ');
    assert.equal(alarmText({ memberID: 5, alarm: 0 }), 'memberID:5 ');
    assert.equal(alarmText({ memberID: 0, alarm: 9 }), 'alarm:9 ');
  });
});

describe('requests while an alarm is active', () => {
  const put: Req = { put: { key: b('k'), value: b('v') } };
  const del: Req = { deleteRange: { key: b('k') } };
  const readTxn: Req = { txn: { success: [{ requestRange: { key: b('k') } }] } };
  const putTxn: Req = { txn: { failure: [{ requestPut: { key: b('k'), value: b('w') } }] } };
  const delTxn: Req = { txn: { success: [{ requestDeleteRange: { key: b('k') } }] } };
  // NB: etcd 3.4 costs only top-level puts, so this one passes NOSPACE (but not CORRUPT).
  const nestedPutTxn: Req = { txn: { success: [{ requestTxn: { success: [{ requestPut: { key: b('n'), value: b('v') } }] } }] } };
  const compaction: Req = { compaction: { revision: 1 } };
  const grant: Req = { leaseGrant: { ID: 100, TTL: 60 } };
  const revoke: Req = { leaseRevoke: { ID: 50 } };
  const checkpoint: Req = { leaseCheckpoint: { checkpoints: [{ ID: 50, remainingTTL: 10 }] } };
  const alarmGet: Req = { alarm: { action: AlarmAction.GET } };

  const cases: { name: string; req: Req; wantNoSpace: string | undefined; wantCorrupt: string | undefined }[] = [
    { name: 'Put', req: put, wantNoSpace: NOSPACE, wantCorrupt: CORRUPT },
    { name: 'DeleteRange', req: del, wantNoSpace: undefined, wantCorrupt: CORRUPT },
    { name: 'read-only Txn', req: readTxn, wantNoSpace: undefined, wantCorrupt: undefined },
    { name: 'Txn with a put', req: putTxn, wantNoSpace: NOSPACE, wantCorrupt: CORRUPT },
    { name: 'Txn with a delete', req: delTxn, wantNoSpace: undefined, wantCorrupt: CORRUPT },
    { name: 'Txn with a nested put', req: nestedPutTxn, wantNoSpace: undefined, wantCorrupt: CORRUPT },
    { name: 'Compaction', req: compaction, wantNoSpace: undefined, wantCorrupt: CORRUPT },
    { name: 'LeaseGrant', req: grant, wantNoSpace: NOSPACE, wantCorrupt: CORRUPT },
    { name: 'LeaseRevoke', req: revoke, wantNoSpace: undefined, wantCorrupt: CORRUPT },
    { name: 'LeaseCheckpoint', req: checkpoint, wantNoSpace: undefined, wantCorrupt: undefined },
    { name: 'Alarm GET', req: alarmGet, wantNoSpace: undefined, wantCorrupt: undefined },
  ];

  /** A harness with key k and lease 50, then the given alarms raised. */
  function withAlarms(types: number[]): Harness {
    const h = new Harness();
    h.ok({ put: { key: b('k'), value: b('v') } });
    h.ok({ leaseGrant: { ID: 50, TTL: 60 } });
    for (const t of types) h.alarm(AlarmAction.ACTIVATE, 9, t);
    return h;
  }

  for (const c of cases) {
    it(`${c.name}: NOSPACE ${c.wantNoSpace ?? 'passes'}, CORRUPT ${c.wantCorrupt ?? 'passes'}`, () => {
      const none = withAlarms([]).apply(c.req);
      assert.equal(none.error, undefined, 'passes without alarms');
      assert.equal(withAlarms([AlarmType.NOSPACE]).apply(c.req).error?.message, c.wantNoSpace);
      assert.equal(withAlarms([AlarmType.CORRUPT]).apply(c.req).error?.message, c.wantCorrupt);
      // Both active: CORRUPT is checked first, as etcd's corrupt applier wraps the capped one.
      assert.equal(withAlarms([AlarmType.NOSPACE, AlarmType.CORRUPT]).apply(c.req).error?.message, c.wantCorrupt ?? c.wantNoSpace);
    });
  }

  it('a refused request changes nothing; disarming lets writes through again', () => {
    const h = withAlarms([AlarmType.NOSPACE]);
    const rev = h.store.currentRevision;
    assert.equal(h.apply(put).error?.message, NOSPACE);
    assert.equal(h.store.currentRevision, rev);
    // NOSPACE of another member still caps this one: the alarm is cluster-wide state.
    h.alarm(AlarmAction.ACTIVATE, 10, AlarmType.NOSPACE);
    h.alarm(AlarmAction.DEACTIVATE, 9, AlarmType.NOSPACE);
    assert.equal(h.apply(put).error?.message, NOSPACE);
    h.alarm(AlarmAction.DEACTIVATE, 10, AlarmType.NOSPACE);
    assert.equal(h.apply(put).error, undefined);
    assert.equal(h.store.currentRevision, rev + 1);
  });

  it('the quota cost and read-only tests follow etcd', () => {
    assert.equal(txnCost(putTxn.txn!), 256 + 1 + 1);
    assert.equal(txnCost(nestedPutTxn.txn!), 0);
    assert.equal(txnCost({ success: [{ requestPut: { key: b('ab'), value: b('') } }], failure: [] }), 258);
    assert.ok(txnIsReadOnly(readTxn.txn!));
    assert.ok(!txnIsReadOnly(nestedPutTxn.txn!));
    assert.ok(!txnIsReadOnly(delTxn.txn!));
  });
});
