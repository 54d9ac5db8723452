// Maintenance.Alarm, Defragment and Hash over the ws and tcp client protocol: real listeners on
// 127.0.0.1 in front of a toy alarm table, driven by the TypeScript client. Checks the requests
// the server receives (GET with type NONE; DEACTIVATE per alarm for a bare alarmDisarm(), as
// clientv3 does; one DEACTIVATE for a given alarm), the answers, and that services without
// these calls answer Unimplemented (`UnknownMethod`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { AlarmAction, AlarmType, type AlarmMember, type AlarmRequest, type AlarmResponse } from '../../src/core/api/alarm.js';
import { silentLogger } from '../../src/core/ports/logger.js';
import type { Services } from '../../src/core/ports/services.js';
import { TcpTransport } from '../../src/transports/tcp/tcp-transport.js';
import { WsTransport } from '../../src/transports/ws/ws-transport.js';
import { FakeServices } from '../helpers/fake-services.js';

/** The alarms of an answer as plain objects (decoded messages are protobufjs instances). */
const plain = (r: AlarmResponse): AlarmMember[] => (r.alarms ?? []).map((a) => ({ memberID: a.memberID, alarm: a.alarm }));

/** FakeServices plus an alarm table, a defragment counter and a fixed hash. */
function servicesWithAlarms(): { services: Services; requests: AlarmRequest[]; alarms: AlarmMember[]; defrags: { n: number } } {
  const fake = new FakeServices();
  const requests: AlarmRequest[] = [];
  let alarms: AlarmMember[] = [
    { memberID: 7, alarm: AlarmType.NOSPACE },
    { memberID: 9, alarm: AlarmType.CORRUPT },
  ];
  const defrags = { n: 0 };
  const services: Services = {
    kv: fake.kv,
    maintenance: {
      ...fake.maintenance,
      alarm: async (req: AlarmRequest): Promise<AlarmResponse> => {
        requests.push({ action: req.action ?? 0, memberID: req.memberID ?? 0, alarm: req.alarm ?? 0 });
        if ((req.action ?? 0) === AlarmAction.GET) return { alarms: alarms.filter((a) => !req.alarm || a.alarm === req.alarm) };
        const hit = alarms.filter((a) => a.memberID === req.memberID && a.alarm === req.alarm);
        alarms = alarms.filter((a) => !hit.includes(a));
        return { alarms: hit };
      },
      defragment: async () => {
        defrags.n++;
        return {};
      },
      hash: async () => ({ header: { clusterId: 77, memberId: 1, revision: 1, raftTerm: 2 }, hash: 0xdeadbeef }),
    },
  };
  return {
    services,
    requests,
    get alarms() {
      return alarms;
    },
    defrags,
  };
}

for (const transport of ['tcp', 'ws'] as const) {
  test(`${transport}: alarmList, alarmDisarm, defragment and hash`, async (t) => {
    const s = servicesWithAlarms();
    const options = { address: '127.0.0.1:0', maxFrameBytes: 1 << 20, maxQueuedBytes: 1 << 20 };
    const server = transport === 'ws' ? new WsTransport(s.services, options, silentLogger) : new TcpTransport(s.services, options, silentLogger);
    const { port } = await server.listen();
    const client = new Client({ endpoints: [`${transport}://127.0.0.1:${port}`] });
    t.after(async () => {
      await client.close();
      await server.close();
    });

    assert.deepEqual(plain(await client.alarmList()), [
      { memberID: 7, alarm: AlarmType.NOSPACE },
      { memberID: 9, alarm: AlarmType.CORRUPT },
    ]);
    assert.deepEqual(plain(await client.alarmList(AlarmType.CORRUPT)), [{ memberID: 9, alarm: AlarmType.CORRUPT }]);
    // One given alarm: one DEACTIVATE; nothing to clear: no alarm back.
    assert.deepEqual(plain(await client.alarmDisarm({ memberID: 9, alarm: AlarmType.CORRUPT })), [{ memberID: 9, alarm: AlarmType.CORRUPT }]);
    assert.deepEqual(plain(await client.alarmDisarm({ memberID: 9, alarm: AlarmType.CORRUPT })), []);
    s.requests.length = 0;
    // Every alarm: a list, then one DEACTIVATE per alarm.
    assert.deepEqual(plain(await client.alarmDisarm()), [{ memberID: 7, alarm: AlarmType.NOSPACE }]);
    assert.deepEqual(s.requests, [
      { action: AlarmAction.GET, memberID: 0, alarm: AlarmType.NONE },
      { action: AlarmAction.DEACTIVATE, memberID: 7, alarm: AlarmType.NOSPACE },
    ]);
    assert.deepEqual(s.alarms, []);
    assert.deepEqual(plain(await client.alarmDisarm()), []);

    await client.defragment();
    assert.equal(s.defrags.n, 1);
    assert.equal((await client.hash()).hash, 0xdeadbeef);
  });
}

test('services without alarms, defragment or hash answer UnknownMethod', async (t) => {
  const server = new TcpTransport(new FakeServices(), { address: '127.0.0.1:0', maxFrameBytes: 1 << 20, maxQueuedBytes: 1 << 20 }, silentLogger);
  const { port } = await server.listen();
  const client = new Client({ endpoints: [`tcp://127.0.0.1:${port}`] });
  t.after(async () => {
    await client.close();
    await server.close();
  });
  await assert.rejects(client.alarmList(), { code: 'UnknownMethod' });
  await assert.rejects(client.defragment(), { code: 'UnknownMethod' });
  await assert.rejects(client.hash(), { code: 'UnknownMethod' });
  // The connection is still usable afterwards.
  assert.equal((await client.status()).version, '3.4.0-toy');
});
