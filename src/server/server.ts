/**
 * A running member: the consensus host plus its client listeners. Start order: host (open the
 * log, replay), then workers, then listeners; stop order: listeners, workers, host, storage
 * (whoever opened a resource closes it).
 */
import type { Logger } from '../core/ports/logger.js';
import type { StorageHandles } from '../core/ports/storage-driver.js';
import type { Config } from './config.js';
import type { ConsensusHost } from './host.js';

/** A client listener as the server drives it. */
export interface Listener {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/**
 * Something that runs beside the listeners while the member serves and may propose entries
 * (the lease expiry loop): started once the host is, stopped before it.
 */
export interface Worker {
  start(): void;
  /** Resolves once nothing of the worker is in flight any more. */
  stop(): Promise<void>;
}

export interface ListeningAddress {
  readonly transport: string;
  readonly url: string;
}

export class EtceteraServer {
  private addresses: ListeningAddress[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    readonly config: Config,
    readonly host: ConsensusHost,
    private readonly listeners: readonly Listener[],
    private readonly storage: StorageHandles,
    private readonly log: Logger,
    private readonly workers: readonly Worker[] = [],
  ) {}

  /** The URLs clients can reach, once started (ports resolved when the config said 0). */
  get urls(): readonly ListeningAddress[] {
    return this.addresses;
  }

  async start(): Promise<void> {
    await this.host.start();
    for (const w of this.workers) w.start();
    for (let i = 0; i < this.listeners.length; i++) {
      const l = this.listeners[i]!;
      const transport = this.config.listeners[i]!.transport;
      const a = await l.listen();
      const host = a.host.includes(':') ? `[${a.host}]` : a.host;
      const url = `${transport}://${host}:${a.port}`;
      this.addresses.push({ transport, url });
      this.log.info({ transport, url }, `listening for clients on ${url}`);
    }
    this.host.publish(this.config.name, this.config.advertiseClientUrls ?? this.addresses.map((a) => a.url));
    const s = this.host.status();
    this.log.info(
      {
        member: this.config.name,
        memberId: s.memberId.toString(16),
        dataDir: this.config.dataDir,
        driver: this.config.storage.driver,
        urls: this.addresses.map((a) => a.url),
      },
      'ready to serve client requests',
    );
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.allSettled(this.listeners.map((l) => l.close()));
      await Promise.allSettled(this.workers.map((w) => w.stop()));
      await this.host.stop();
      await this.storage.backend.close();
      await this.storage.logStore.close();
      this.log.info({}, 'stopped');
    })();
    return this.stopping;
  }
}
