// etceteractl's lease commands, run in-process against a scripted fake client: the requests
// each command sends, etcdctl 3.4's output in the simple, json and fields formats (observed
// with etcdctl 3.4.23 against etcd 3.4.23), table refused with exit 4, argument errors
// (exit 128), failures (exit 1 for grant/revoke, 2 for the others), and the streaming
// keep-alive ending with "expired or revoked." when the lease is lost.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Observable } from 'rxjs';
import type { LeaseKeepAliveResponse } from '../../src/core/api/lease.js';
import { KvError } from '../../src/core/errors.js';
import { run, type CliClient } from '../../src/cli/main.js';

const H = { clusterId: 1484163906896517, memberId: 1027665774393297, revision: 7, raftTerm: 2 };

interface Script {
  calls: unknown[][];
  keepAlives?: () => Observable<LeaseKeepAliveResponse>;
  onceTtl?: number;
  fail?: Error;
}

function fakeClient(s: Script): CliClient {
  const notUsed = (): never => {
    throw new Error('not used by lease commands');
  };
  const failOr = <T>(v: T): Promise<T> => (s.fail ? Promise.reject(s.fail) : Promise.resolve(v));
  return {
    range: notUsed,
    put: notUsed,
    deleteRange: notUsed,
    txnRaw: notUsed,
    compact: notUsed,
    status: notUsed,
    close: async () => {},
    leaseGrant: (req) => {
      s.calls.push(['grant', req.TTL, req.ID]);
      return failOr({ header: H, ID: 0x1c61f3295f2ebf, TTL: Math.max(req.TTL ?? 0, 2) });
    },
    leaseRevoke: (req) => {
      s.calls.push(['revoke', req.ID]);
      return failOr({ header: { ...H, revision: 8 } });
    },
    leaseTimeToLive: (req) => {
      s.calls.push(['timetolive', req.ID, req.keys]);
      if (req.ID === 0x1234) return failOr({ header: H, ID: 0x1234, TTL: -1, grantedTTL: 0, keys: [] });
      return failOr({ header: H, ID: req.ID!, TTL: 29, grantedTTL: 30, keys: req.keys ? [Buffer.from('lk1'), Buffer.from('lk2')] : [] });
    },
    leaseLeases: () => {
      s.calls.push(['leases']);
      return failOr({ header: H, leases: [{ ID: 0x10 }, { ID: 0x1c61f3295f2ebf }] });
    },
    lease: (id) => ({
      keepAliveOnce: async () => {
        s.calls.push(['once', id]);
        if (s.fail) throw s.fail;
        if (s.onceTtl === 0) throw new KvError('LeaseNotFound');
        return { header: H, ID: id, TTL: s.onceTtl ?? 30 };
      },
      keepAlive: () => {
        s.calls.push(['keepAlive', id]);
        return s.keepAlives!();
      },
    }),
  };
}

async function ctl(argv: string[], s: Script = { calls: [] }): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (parts: Buffer[]) => ({ write: (c: string | Uint8Array) => parts.push(Buffer.from(c)) });
  const code = await run(argv, { stdout: sink(out), stderr: sink(err), stdin: (async function* () {})(), env: {} }, {
    clientFactory: () => fakeClient(s),
  });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

const ID = '001c61f3295f2ebf';
const ID_DEC = 0x1c61f3295f2ebf;
const HDR_JSON = '"cluster_id":1484163906896517,"member_id":1027665774393297,"revision":7,"raft_term":2';
const HDR_FIELDS = '"ClusterID" : 1484163906896517\n"MemberID" : 1027665774393297\n"Revision" : 7\n"RaftTerm" : 2\n';

describe('lease grant / revoke', () => {
  it('prints the granted lease in each format', async () => {
    const s: Script = { calls: [] };
    assert.deepEqual(await ctl(['lease', 'grant', '5'], s), { code: 0, stdout: `lease ${ID} granted with TTL(5s)\n`, stderr: '' });
    assert.deepEqual(s.calls, [['grant', 5, undefined]]);
    assert.equal((await ctl(['-w', 'json', 'lease', 'grant', '5'])).stdout, `{${HDR_JSON},"ID":${ID_DEC},"TTL":5,"Error":""}\n`);
    assert.equal((await ctl(['-w', 'fields', 'lease', 'grant', '5'])).stdout, `${HDR_FIELDS}"ID" : ${ID_DEC}\n"TTL" : 5\n`);
    const t: Script = { calls: [] };
    assert.deepEqual(await ctl(['-w', 'table', 'lease', 'grant', '5'], t), {
      code: 4,
      stdout: '',
      stderr: 'Error: table not supported as output format\n',
    });
    assert.equal(t.calls.length, 1, 'the request ran before the printer refused');
    assert.equal((await ctl(['-w', 'yaml', 'lease', 'grant', '5'])).code, 4);
  });

  it('passes odd TTLs on as etcdctl would, and checks its argument', async () => {
    const s: Script = { calls: [] };
    await ctl(['lease', 'grant', '--', '-5'], s);
    await ctl(['lease', 'grant', '99999999999999'], s);
    assert.deepEqual(s.calls, [
      ['grant', 0, undefined],
      ['grant', 9_000_000_001, undefined],
    ]);
    const bad = (stderr: string) => ({ code: 128, stdout: '', stderr: `Error: ${stderr}\n` });
    assert.deepEqual(await ctl(['lease', 'grant']), bad('lease grant command needs TTL argument'));
    assert.deepEqual(await ctl(['lease', 'grant', '5', 'x']), bad('lease grant command needs TTL argument'));
    assert.deepEqual(await ctl(['lease', 'grant', 'abc']), bad('bad TTL (strconv.ParseInt: parsing "abc": invalid syntax)'));
    const f: Script = { calls: [], fail: new KvError('LeaseTTLTooLarge') };
    assert.deepEqual(await ctl(['lease', 'grant', '5'], f), {
      code: 1,
      stdout: '',
      stderr: 'Error: failed to grant lease (etcdserver: too large lease TTL)\n',
    });
  });

  it('revokes by hexadecimal ID', async () => {
    const s: Script = { calls: [] };
    assert.deepEqual(await ctl(['lease', 'revoke', ID], s), { code: 0, stdout: `lease ${ID} revoked\n`, stderr: '' });
    assert.deepEqual(s.calls, [['revoke', ID_DEC]]);
    assert.equal(
      (await ctl(['-w', 'json', 'lease', 'revoke', ID])).stdout,
      '{"header":{"cluster_id":1484163906896517,"member_id":1027665774393297,"revision":8,"raft_term":2}}\n',
    );
    assert.equal((await ctl(['-w', 'fields', 'lease', 'revoke', ID])).stdout, HDR_FIELDS.replace('"Revision" : 7', '"Revision" : 8'));
    assert.deepEqual(await ctl(['lease', 'revoke']), { code: 128, stdout: '', stderr: 'Error: lease revoke command needs 1 argument\n' });
    assert.deepEqual(await ctl(['lease', 'revoke', 'zz']), {
      code: 128,
      stdout: '',
      stderr: 'Error: bad lease ID arg (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex\n',
    });
    assert.deepEqual(await ctl(['lease', 'revoke', '1234'], { calls: [], fail: new KvError('LeaseNotFound') }), {
      code: 1,
      stdout: '',
      stderr: 'Error: failed to revoke lease (etcdserver: requested lease not found)\n',
    });
  });
});

describe('lease timetolive / list', () => {
  it('prints remaining and granted TTL, keys, and the expired form', async () => {
    const s: Script = { calls: [] };
    assert.equal((await ctl(['lease', 'timetolive', ID], s)).stdout, `lease ${ID} granted with TTL(30s), remaining(29s)\n`);
    assert.equal(
      (await ctl(['lease', 'timetolive', '--keys', ID], s)).stdout,
      `lease ${ID} granted with TTL(30s), remaining(29s), attached keys([lk1 lk2])\n`,
    );
    assert.equal((await ctl(['lease', 'timetolive', '--keys=true', ID], s)).stdout.includes('attached keys'), true);
    assert.deepEqual(s.calls, [
      ['timetolive', ID_DEC, false],
      ['timetolive', ID_DEC, true],
      ['timetolive', ID_DEC, true],
    ]);
    assert.equal((await ctl(['lease', 'timetolive', '1234'])).stdout, 'lease 0000000000001234 already expired\n');
    assert.equal(
      (await ctl(['-w', 'json', 'lease', 'timetolive', '--keys', ID])).stdout,
      `{${HDR_JSON},"id":${ID_DEC},"ttl":29,"granted-ttl":30,"keys":["bGsx","bGsy"]}\n`,
    );
    assert.equal(
      (await ctl(['-w', 'json', 'lease', 'timetolive', '1234'])).stdout,
      `{${HDR_JSON},"id":4660,"ttl":-1,"granted-ttl":0,"keys":null}\n`,
    );
    assert.equal(
      (await ctl(['-w', 'fields', 'lease', 'timetolive', '--keys', ID])).stdout,
      `${HDR_FIELDS}"ID" : ${ID_DEC}\n"TTL" : 29\n"GrantedTTL" : 30\n"Key" : "lk1"\n"Key" : "lk2"\n`,
    );
    assert.deepEqual(await ctl(['lease', 'timetolive']), {
      code: 128,
      stdout: '',
      stderr: 'Error: lease timetolive command needs lease ID as argument\n',
    });
    assert.deepEqual(await ctl(['lease', 'timetolive', ID], { calls: [], fail: new KvError('NotLeader') }), {
      code: 2,
      stdout: '',
      stderr: 'Error: etcdserver: not leader\n',
    });
  });

  it('lists leases', async () => {
    assert.deepEqual(await ctl(['lease', 'list', 'ignored']), { code: 0, stdout: `found 2 leases\n0000000000000010\n${ID}\n`, stderr: '' });
    assert.equal((await ctl(['-w', 'json', 'lease', 'list'])).stdout, `{${HDR_JSON},"leases":[{"id":16},{"id":${ID_DEC}}]}\n`);
    assert.equal((await ctl(['-w', 'fields', 'lease', 'list'])).stdout, `${HDR_FIELDS}"ID" : 16\n"ID" : ${ID_DEC}\n`);
    assert.equal((await ctl(['lease', 'list'], { calls: [], fail: new KvError('Stopped') })).code, 2);
  });
});

describe('lease keep-alive', () => {
  it('--once renews once; a lost lease is exit 2', async () => {
    assert.deepEqual(await ctl(['lease', 'keep-alive', '--once', ID]), {
      code: 0,
      stdout: `lease ${ID} keepalived with TTL(30)\n`,
      stderr: '',
    });
    assert.equal((await ctl(['-w', 'json', 'lease', 'keep-alive', '--once', ID])).stdout, `{${HDR_JSON},"ID":${ID_DEC},"TTL":30}\n`);
    assert.deepEqual(await ctl(['lease', 'keep-alive', '--once', '1234'], { calls: [], onceTtl: 0 }), {
      code: 2,
      stdout: '',
      stderr: 'Error: etcdserver: requested lease not found\n',
    });
    assert.deepEqual(await ctl(['lease', 'keep-alive']), {
      code: 128,
      stdout: '',
      stderr: 'Error: lease keep-alive command needs lease ID as argument\n',
    });
  });

  it('streams renewals until the lease is lost, then says so (simple format only)', async () => {
    const lost = (): Observable<LeaseKeepAliveResponse> =>
      new Observable((sub) => {
        sub.next({ header: H, ID: ID_DEC, TTL: 30 });
        sub.next({ header: H, ID: ID_DEC, TTL: 30 });
        sub.error(new KvError('LeaseNotFound'));
      });
    const s: Script = { calls: [], keepAlives: lost };
    assert.deepEqual(await ctl(['lease', 'keep-alive', ID], s), {
      code: 0,
      stdout: `lease ${ID} keepalived with TTL(30)\nlease ${ID} keepalived with TTL(30)\nlease ${ID} expired or revoked.\n`,
      stderr: '',
    });
    assert.deepEqual(s.calls, [['keepAlive', ID_DEC]]);
    assert.equal(
      (await ctl(['-w', 'json', 'lease', 'keep-alive', ID], { calls: [], keepAlives: lost })).stdout,
      `{${HDR_JSON},"ID":${ID_DEC},"TTL":30}\n`.repeat(2),
    );
    const broken = (): Observable<LeaseKeepAliveResponse> =>
      new Observable((sub) => sub.error(new KvError('TransportClosed', 'client closed')));
    assert.deepEqual(await ctl(['lease', 'keep-alive', ID], { calls: [], keepAlives: broken }), {
      code: 2,
      stdout: '',
      stderr: 'Error: etcetera: connection closed: client closed\n',
    });
  });
});
