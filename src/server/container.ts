/**
 * The composition root: the one place that knows concrete classes. The config chooses the
 * storage driver and the listeners; everything else is wired the same way for every choice.
 *
 *   Config ─▶ driver module ─▶ StorageDriver.open(dataDir) ─▶ KvStore ─▶ Applier ─▶ host
 *                                                                                   │
 *                          transports (ws, tcp) ◀── Services {kv, maintenance} ◀────┘
 */
import { Container, ContainerModule } from 'inversify';
import { Applier } from '../core/apply/applier.js';
import { KvStore } from '../core/mvcc/kv-store.js';
import { Logger } from '../core/ports/logger.js';
import { Services } from '../core/ports/services.js';
import { StorageDriver, type StorageKind } from '../core/ports/storage-driver.js';
import { lmdbDriverModule } from '../drivers/lmdb/module.js';
import { memoryDriverModule } from '../drivers/memory/module.js';
import { sqliteDriverModule } from '../drivers/sqlite/module.js';
import { TcpTransport } from '../transports/tcp/tcp-transport.js';
import { WsTransport } from '../transports/ws/ws-transport.js';
import { Config, type ListenerTransport } from './config.js';
import { ConsensusHost } from './host.js';
import { clusterIdFor, memberIdFor } from './ids.js';
import { KvServiceImpl, MaintenanceServiceImpl } from './kv-service.js';
import { EtceteraServer, type Listener } from './server.js';
import { SingleMemberHost } from './single-member-host.js';
import { ApplierToken, FatalHandler, KvStoreToken, StorageHandlesToken } from './tokens.js';

/** One module per storage kind; a kind without a module fails to compile. */
export const driverModules = {
  memory: memoryDriverModule,
  lmdb: lmdbDriverModule,
  sqlite: sqliteDriverModule,
} satisfies Record<StorageKind, ContainerModule>;

/** One factory per listener transport. */
export const listenerFactories = {
  ws: (services, options, log) => new WsTransport(services, options, log),
  tcp: (services, options, log) => new TcpTransport(services, options, log),
} satisfies Record<
  ListenerTransport,
  (services: Services, options: ConstructorParameters<typeof WsTransport>[1], log: Logger) => Listener
>;

const ListenersToken = Symbol.for('etcetera.Listeners');

/**
 * Builds a server from a validated config: opens the storage (the only async step, so it
 * happens before the rest is bound), then binds every part as a singleton.
 */
export async function createServer(config: Config, logger: Logger, fatal: (err: unknown) => void): Promise<EtceteraServer> {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind(Config).toConstantValue(config);
  container.bind(Logger).toConstantValue(logger);
  container.bind(FatalHandler).toConstantValue(fatal);
  await container.load(driverModules[config.storage.driver]);

  const handles = await container.get(StorageDriver).open(config.dataDir);
  container.bind(StorageHandlesToken).toConstantValue(handles);
  container
    .bind(KvStoreToken)
    .toDynamicValue((ctx) => new KvStore(ctx.get(StorageHandlesToken).backend))
    .inSingletonScope();
  container
    .bind(ApplierToken)
    .toDynamicValue((ctx) => new Applier(ctx.get(KvStoreToken)))
    .inSingletonScope();
  container
    .bind(ConsensusHost)
    .toDynamicValue((ctx) => {
      const cfg = ctx.get(Config);
      const memberId = memberIdFor(cfg.name, cfg.initialClusterToken);
      const storage = ctx.get(StorageHandlesToken);
      return new SingleMemberHost(
        ctx.get(KvStoreToken),
        ctx.get(ApplierToken),
        storage.logStore,
        storage.backend,
        {
          memberId,
          clusterId: clusterIdFor([memberId], cfg.initialClusterToken),
          maxRequestBytes: cfg.maxRequestBytes,
          maxPendingProposals: 5000,
          snapshotCount: cfg.snapshotCount,
          fatal: ctx.get(FatalHandler),
        },
        ctx.get(Logger),
      );
    })
    .inSingletonScope();
  container.bind(KvServiceImpl).toSelf().inSingletonScope();
  container.bind(MaintenanceServiceImpl).toSelf().inSingletonScope();
  container
    .bind(Services)
    .toDynamicValue((ctx) => ({ kv: ctx.get(KvServiceImpl), maintenance: ctx.get(MaintenanceServiceImpl) }))
    .inSingletonScope();
  container
    .bind<Listener[]>(ListenersToken)
    .toDynamicValue((ctx) => {
      const cfg = ctx.get(Config);
      const services = ctx.get(Services);
      const log = ctx.get(Logger);
      return cfg.listeners.map((l) =>
        listenerFactories[l.transport](
          services,
          {
            address: l.address,
            maxFrameBytes: cfg.maxRequestBytes + 512 * 1024,
            maxQueuedBytes: cfg.maxQueuedBytes,
            maxCallsPerConnection: cfg.maxCallsPerConnection,
          },
          log,
        ),
      );
    })
    .inSingletonScope();
  return new EtceteraServer(
    config,
    container.get(ConsensusHost),
    container.get<Listener[]>(ListenersToken),
    handles,
    logger,
  );
}
