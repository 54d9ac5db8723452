/**
 * The composition root: the one place that knows concrete classes. The config chooses the
 * storage driver and the listeners; everything else is wired the same way for every choice.
 *
 *   Config ─▶ driver module ─▶ StorageDriver.open(dataDir) ─▶ KvStore ─▶ Applier ─▶ host
 *                                                                                   │
 *                          transports (ws, tcp) ◀── Services {kv, maintenance, watch, lease} ◀──┘
 */
import { Container, ContainerModule } from 'inversify';
import { AlarmStore } from '../core/apply/alarm-store.js';
import { Applier } from '../core/apply/applier.js';
import { Lessor } from '../core/lease/lessor.js';
import { KvStore } from '../core/mvcc/kv-store.js';
import { Clock } from '../core/ports/clock.js';
import { Logger } from '../core/ports/logger.js';
import { Metrics } from '../core/ports/metrics.js';
import { Services } from '../core/ports/services.js';
import { StorageDriver, type StorageHandles, type StorageKind } from '../core/ports/storage-driver.js';
import { lmdbDriverModule } from '../drivers/lmdb/module.js';
import { memoryDriverModule } from '../drivers/memory/module.js';
import { sqliteDriverModule } from '../drivers/sqlite/module.js';
import { WalOptionsToken } from '../drivers/wal/wal-log-store.js';
import { TcpTransport } from '../transports/tcp/tcp-transport.js';
import { WsTransport } from '../transports/ws/ws-transport.js';
import { GrpcTransport } from '../transports/grpc/grpc-transport.js';
import { Config, type ListenerTransport } from './config.js';
import { ConsensusHost } from './host.js';
import { clusterIdFor, memberIdFor } from './ids.js';
import { KvServiceImpl, MaintenanceServiceImpl } from './kv-service.js';
import { ClusterServiceImpl } from './cluster-service.js';
import { EtceteraServer, type Listener } from './server.js';
import { SingleMemberHost } from './single-member-host.js';
import { RaftHost } from './raft-host.js';
import type { Member } from './membership.js';
import { createPeerTransport } from '../transports/peer/module.js';
import { SeededRandom } from '../core/raft/seeded-random.js';
import { randomBytes } from 'node:crypto';
import { LeaseLoop } from './lease-loop.js';
import { LeaseServiceImpl } from './lease-service.js';
import { AlarmStoreToken, ApplierToken, FatalHandler, KvStoreToken, LessorToken, StorageHandlesToken } from './tokens.js';
import { BackendQuota } from './backend-quota.js';
import { WatchHub } from './watch-hub.js';
import { WatchServiceImpl } from './watch-service.js';
import { PromMetrics } from './metrics/prom-metrics.js';
import { TimedBackend } from './metrics/timed-backend.js';

/** Raft ticks per heartbeat interval (see the raft host options below). */
const TICKS_PER_HEARTBEAT = 10;

/** A Raft host for a member of `cfg.initialCluster`, with its peer transport. */
function createRaftHost(
  cfg: Config,
  store: KvStore,
  applier: Applier,
  storage: StorageHandles,
  reloaded: () => void,
  removed: (() => void) | undefined,
  fatal: (err: unknown) => void,
  log: Logger,
  metrics?: Metrics,
): RaftHost {
  const token = cfg.initialClusterToken;
  // A cluster member's id follows from its peer URL (as etcd's does), so that a member added
  // with `member add URL` and then started with that URL agrees on its id with everyone.
  const idOf = (peerUrl: string): number => memberIdFor(peerUrl, token);
  const memberId = idOf(cfg.advertisePeerUrl!);
  const initialMembers: Member[] = cfg.initialCluster.map((m) => ({
    id: idOf(m.peerUrl),
    name: m.name,
    peerURLs: [m.peerUrl],
    clientURLs: [],
    isLearner: false,
  }));
  // NB: from the token alone (not the initial members, as etcd does): a member joining with
  // initial-cluster-state: existing lists a different initial cluster but must get the same id.
  const clusterId = clusterIdFor([], token);
  const peerUrl = new URL(cfg.listenPeerUrl!);
  const transport = createPeerTransport(
    peerUrl.protocol === 'ws:' ? 'ws' : 'tcp',
    { memberId, clusterId, listenAddress: peerUrl.host },
    log,
  );
  const seed = randomBytes(4).readUInt32BE(0);
  return new RaftHost(
    store,
    applier,
    storage.logStore,
    storage.backend,
    transport,
    new SeededRandom(seed),
    {
      memberId,
      clusterId,
      initialMembers,
      bootstrap: cfg.initialClusterState === 'new',
      // Ten ticks per heartbeat: the randomized election timeout and the quick campaign after
      // a lost leader (Raft.leaderLost) get a tenth of a heartbeat's resolution, so members
      // that time out together rarely pick the same tick and split the vote.
      tickMs: cfg.heartbeatIntervalMs / TICKS_PER_HEARTBEAT,
      readRetryMs: 5 * cfg.heartbeatIntervalMs,
      heartbeatTicks: TICKS_PER_HEARTBEAT,
      electionTicks: Math.max(2, Math.round(cfg.electionTimeoutMs / cfg.heartbeatIntervalMs)) * TICKS_PER_HEARTBEAT,
      maxRequestBytes: cfg.maxRequestBytes,
      maxPendingProposals: 5000,
      snapshotCount: cfg.snapshotCount,
      requestTimeoutMs: Math.max(5000, 5 * cfg.electionTimeoutMs),
      reloaded,
      memberIdFor: idOf,
      ...(removed === undefined ? {} : { removed }),
      fatal,
      ...(metrics === undefined ? {} : { metrics }),
    },
    log,
  );
}

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
  grpc: (services, options, log, metrics) => new GrpcTransport(services, { ...options, metrics }, log),
} satisfies Record<
  ListenerTransport,
  (services: Services, options: ConstructorParameters<typeof WsTransport>[1], log: Logger, metrics: Metrics) => Listener
>;

const ListenersToken = Symbol.for('etcetera.Listeners');

/**
 * Builds a server from a validated config: opens the storage (the only async step, so it
 * happens before the rest is bound), then binds every part as a singleton.
 */
export async function createServer(
  config: Config,
  logger: Logger,
  fatal: (err: unknown) => void,
  hooks: { readonly removed?: () => void } = {},
): Promise<EtceteraServer> {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind(Config).toConstantValue(config);
  container.bind(Logger).toConstantValue(logger);
  container.bind(FatalHandler).toConstantValue(fatal);
  container.bind(WalOptionsToken).toConstantValue({ syncOnMainThread: config.walFsync === 'main-thread' });
  await container.load(driverModules[config.storage.driver]);

  // Metrics: a prom-client registry of this server's own (servers in one process, as in
  // tests, do not share one); the hosts and the grpc listener record into it.
  const metrics = new PromMetrics();
  container.bind(Metrics).toConstantValue(metrics);
  const opened = await container.get(StorageDriver).open(config.dataDir);
  // Backend commits are timed for etcd_disk_backend_commit_duration_seconds.
  const handles = { ...opened, backend: new TimedBackend(opened.backend, metrics.backendCommitSeconds) };
  container.bind(StorageHandlesToken).toConstantValue(handles);
  container
    .bind(KvStoreToken)
    .toDynamicValue((ctx) => new KvStore(ctx.get(StorageHandlesToken).backend))
    .inSingletonScope();
  container
    .bind(LessorToken)
    .toDynamicValue((ctx) => {
      const cfg = ctx.get(Config);
      const lessor = new Lessor({ checkpointIntervalMs: cfg.leaseCheckpointEnabled ? cfg.leaseCheckpointIntervalMs : 0 });
      lessor.recover(ctx.get(StorageHandlesToken).backend, ctx.get(KvStoreToken));
      return lessor;
    })
    .inSingletonScope();
  container
    .bind(AlarmStoreToken)
    .toDynamicValue((ctx) => new AlarmStore(ctx.get(StorageHandlesToken).backend))
    .inSingletonScope();
  container
    .bind(ApplierToken)
    .toDynamicValue(
      (ctx) => new Applier(ctx.get(KvStoreToken), { lessor: ctx.get(LessorToken), alarms: ctx.get(AlarmStoreToken) }),
    )
    .inSingletonScope();
  // Lease expiry needs a clock that never jumps: a monotonic one.
  if (!container.isBound(Clock)) container.bind(Clock).toConstantValue({ nowMs: () => performance.now() });
  container.bind(LeaseServiceImpl).toSelf().inSingletonScope();
  container
    .bind(LeaseLoop)
    .toDynamicValue(
      (ctx) => new LeaseLoop(ctx.get(LeaseServiceImpl), ctx.get(LessorToken), ctx.get(Clock), ctx.get(Logger)),
    )
    .inSingletonScope();
  container
    .bind(ConsensusHost)
    .toDynamicValue((ctx) => {
      const cfg = ctx.get(Config);
      const memberId = memberIdFor(cfg.name, cfg.initialClusterToken);
      const storage = ctx.get(StorageHandlesToken);
      if (cfg.initialCluster.length > 0) {
        const store = ctx.get(KvStoreToken);
        const lessor = ctx.get(LessorToken);
        const alarms = ctx.get(AlarmStoreToken);
        // After a snapshot from the leader replaced the backend, leases and alarms are rebuilt
        // from it too.
        const reloaded = (): void => {
          lessor.reload(storage.backend, store);
          alarms.reload(storage.backend);
        };
        return createRaftHost(
          cfg,
          store,
          ctx.get(ApplierToken),
          storage,
          reloaded,
          hooks.removed,
          ctx.get(FatalHandler),
          ctx.get(Logger),
          ctx.get(Metrics),
        );
      }
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
          metrics: ctx.get(Metrics),
        },
        ctx.get(Logger),
      );
    })
    .inSingletonScope();
  container.bind(BackendQuota).toSelf().inSingletonScope();
  container.bind(KvServiceImpl).toSelf().inSingletonScope();
  container.bind(ClusterServiceImpl).toSelf().inSingletonScope();
  container.bind(MaintenanceServiceImpl).toSelf().inSingletonScope();
  container
    .bind(WatchHub)
    .toDynamicValue((ctx) => {
      const cfg = ctx.get(Config);
      return new WatchHub(ctx.get(ConsensusHost), {
        queueEventsMax: cfg.watchQueueEventsMax,
        progressNotifyIntervalMs: cfg.watchProgressNotifyIntervalMs,
      });
    })
    .inSingletonScope();
  container.bind(WatchServiceImpl).toSelf().inSingletonScope();
  container
    .bind(Services)
    .toDynamicValue((ctx) => ({
      kv: ctx.get(KvServiceImpl),
      maintenance: ctx.get(MaintenanceServiceImpl),
      cluster: ctx.get(ClusterServiceImpl),
      watch: ctx.get(WatchServiceImpl),
      lease: ctx.get(LeaseServiceImpl),
    }))
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
          ctx.get(Metrics),
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
    [
      container.get(LeaseLoop),
      // The cluster service holds a forwarding connection to the leader: close it at stop.
      { start: () => {}, stop: () => container.get(ClusterServiceImpl).close() },
    ],
  );
}
