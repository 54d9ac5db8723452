// An in-process single member for watch tests over real sockets: memory driver, real store,
// applier, single-member host, watch hub and services, behind a ws or tcp listener on
// 127.0.0.1:0. Exposes the hub (for its stats) and the listener (for its stats).
import 'reflect-metadata';
import { Applier } from '../../src/core/apply/applier.js';
import { KvStore } from '../../src/core/mvcc/kv-store.js';
import { silentLogger } from '../../src/core/ports/logger.js';
import type { Services } from '../../src/core/ports/services.js';
import { MemoryDriver } from '../../src/drivers/memory/memory-driver.js';
import type { Config } from '../../src/server/config.js';
import { KvServiceImpl, MaintenanceServiceImpl } from '../../src/server/kv-service.js';
import { SingleMemberHost } from '../../src/server/single-member-host.js';
import { WatchHub, type WatchHubOptions } from '../../src/server/watch-hub.js';
import { WatchServiceImpl } from '../../src/server/watch-service.js';
import type { TransportStats } from '../../src/transports/codec/server-session.js';
import { TcpTransport } from '../../src/transports/tcp/tcp-transport.js';
import { WsTransport } from '../../src/transports/ws/ws-transport.js';

export interface Member {
  readonly url: string;
  readonly hub: WatchHub;
  readonly host: SingleMemberHost;
  stats(): TransportStats;
  close(): Promise<void>;
}

export interface MemberOptions {
  transport: 'ws' | 'tcp';
  hub?: Partial<WatchHubOptions>;
  /** Outbound bytes per connection before backpressure (default 16 MiB). */
  maxQueuedBytes?: number;
}

export async function startMember(o: MemberOptions): Promise<Member> {
  const handles = await new MemoryDriver().open('');
  const store = new KvStore(handles.backend);
  const applier = new Applier(store);
  const host = new SingleMemberHost(
    store,
    applier,
    handles.logStore,
    handles.backend,
    { memberId: 11, clusterId: 22, maxRequestBytes: 1572864, maxPendingProposals: 50_000, snapshotCount: 1_000_000, fatal: (e) => { throw e; } },
    silentLogger,
  );
  const hub = new WatchHub(host, o.hub);
  const config = { maxTxnOps: 128, maxRequestBytes: 1572864 } as Config;
  const services: Services = {
    kv: new KvServiceImpl(host, config),
    maintenance: new MaintenanceServiceImpl(host, handles),
    watch: new WatchServiceImpl(hub, host, config),
  };
  await host.start();
  const options = {
    address: '127.0.0.1:0',
    maxFrameBytes: 1572864 + 512 * 1024,
    maxQueuedBytes: o.maxQueuedBytes ?? 16 * 1024 * 1024,
    maxCallsPerConnection: 100_000,
  };
  const listener = o.transport === 'ws' ? new WsTransport(services, options, silentLogger) : new TcpTransport(services, options, silentLogger);
  const { port } = await listener.listen();
  return {
    url: `${o.transport}://127.0.0.1:${port}`,
    hub,
    host,
    stats: () => listener.stats(),
    async close() {
      await listener.close();
      hub.close();
      await host.stop();
    },
  };
}
