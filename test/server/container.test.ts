// The composition root: for every storage driver and with every listener transport, the
// container builds a server that starts, answers a put and a get through its services, and
// stops cleanly (closing what it opened).
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Client } from '../../src/client/client.js';
import { silentLogger } from '../../src/core/ports/logger.js';
import { validateConfig } from '../../src/server/config.js';
import { createServer, driverModules, listenerFactories } from '../../src/server/container.js';

const drivers = Object.keys(driverModules) as (keyof typeof driverModules)[];
const transports = Object.keys(listenerFactories) as (keyof typeof listenerFactories)[];

for (const driver of drivers) {
  test(`container: ${driver} driver with ${transports.join(' + ')} listeners`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `etcetera-container-${driver}-`));
    const config = validateConfig({
      'data-dir': join(dir, 'data'),
      storage: { driver },
      listeners: transports.map((transport) => ({ transport, address: '127.0.0.1:0' })),
    });
    const server = await createServer(config, silentLogger, (e) => assert.fail(String(e)));
    await server.start();
    try {
      assert.deepEqual(server.urls.map((u) => u.transport), transports);
      for (const { url, transport } of server.urls) {
        if (transport === 'grpc') {
          // The gRPC listener also answers HTTP/1.1 on the same port.
          const r = await fetch(url.replace('grpc://', 'http://') + '/health');
          assert.deepEqual(await r.json(), { health: 'true' });
          continue;
        }
        const client = new Client({ endpoints: [url] });
        try {
          await client.put({ key: Buffer.from(`via ${url}`), value: Buffer.from(driver) });
          const r = await client.range({ key: Buffer.from(`via ${url}`) });
          assert.equal(Buffer.from(r.kvs[0]!.value).toString(), driver);
        } finally {
          await client.close();
        }
      }
    } finally {
      await server.stop();
    }
  });
}
