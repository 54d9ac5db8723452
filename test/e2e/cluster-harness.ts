// Runs a cluster of real server processes on loopback for end-to-end tests: picks free ports,
// writes one config per member, starts them, and restarts or signals members by name.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startServer, tempDir, type ServerProcess } from './harness.js';
import { Client } from '../../src/client/client.js';

/**
 * `n` distinct ports that are free now, drawn at random below the kernel's ephemeral range
 * (32768+), each checked by binding it. A port the OS handed out for "port 0" and released could
 * be handed to another process's port-0 bind before our server binds it (tests run in
 * parallel); ports outside that range are never handed out that way. Another harness could
 * still draw the same port, rarely: `Cluster.start` retries on a failed start.
 */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (ports.has(port)) continue;
    const free = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (free) ports.add(port);
  }
  return [...ports];
}

export interface ClusterOptions {
  size?: number;
  driver?: 'lmdb' | 'sqlite' | 'memory';
  /** The peer URL scheme: tcp, ws, or http (etcd's spelling, an alias of tcp). */
  peerTransport?: 'tcp' | 'ws' | 'http';
  /** Also listen with etcd's gRPC API on a free port per member. */
  grpc?: boolean;
  snapshotCount?: number;
  heartbeatMs?: number;
  electionMs?: number;
}

export interface Member {
  readonly name: string;
  readonly dataDir: string;
  server: ServerProcess | undefined;
}

export class Cluster {
  readonly members: Member[] = [];
  private readonly extra: string[] = [];
  private base = '';
  /** name=peerURL of every member ever configured, for a joining member's initial-cluster. */
  private readonly peerList: string[] = [];

  private constructor(private readonly o: Required<ClusterOptions>) {}

  /**
   * Prepares member `name` to join the running cluster (after `member add` of `peerUrl()`):
   * its config lists every member and says initial-cluster-state: existing. Returns its index.
   */
  async prepareJoin(name: string): Promise<{ index: number; peerUrl: string }> {
    const [peer, ws, tcp] = await freePorts(3);
    const peerUrl = `${this.o.peerTransport}://127.0.0.1:${peer}`;
    this.peerList.push(`${name}=${peerUrl}`);
    const index = this.members.length;
    const m = { name, dataDir: join(this.base, name), server: undefined, wsPort: ws, tcpPort: tcp };
    this.members.push(m);
    this.extra.push(
      [
        `listen-peer-urls: ${peerUrl}`,
        `initial-cluster: ${this.peerList.join(',')}`,
        'initial-cluster-state: existing',
        'initial-cluster-token: e2e-cluster',
        `heartbeat-interval: ${this.o.heartbeatMs}`,
        `election-timeout: ${this.o.electionMs}`,
        `snapshot-count: ${this.o.snapshotCount}`,
      ].join('\n'),
    );
    return { index, peerUrl };
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const o: Required<ClusterOptions> = {
      size: 3,
      driver: 'lmdb',
      peerTransport: 'tcp',
      snapshotCount: 10000,
      heartbeatMs: 50,
      electionMs: 500,
      grpc: false,
      ...options,
    };
    for (let attempt = 1; ; attempt++) {
      const c = new Cluster(o);
      try {
        await c.startAll();
        return c;
      } catch (err) {
        // A member failed to start (a port taken in the meantime): stop the others, try again.
        await c.stop();
        if (attempt === 3) throw err;
      }
    }
  }

  private async startAll(): Promise<void> {
    const o = this.o;
    const ports = await freePorts(o.size * 4);
    const base = tempDir('cluster');
    this.base = base;
    const names = Array.from({ length: o.size }, (_, i) => `m${i + 1}`);
    this.peerList.push(...names.map((n, i) => `${n}=${o.peerTransport}://127.0.0.1:${ports[i * 4]}`));
    const initial = this.peerList.join(',');
    for (let i = 0; i < o.size; i++) {
      this.members.push({ name: names[i]!, dataDir: join(base, names[i]!), server: undefined });
      this.extra.push(
        [
          `listen-peer-urls: ${o.peerTransport}://127.0.0.1:${ports[i * 4]}`,
          `initial-cluster: ${initial}`,
          'initial-cluster-token: e2e-cluster',
          `heartbeat-interval: ${o.heartbeatMs}`,
          `election-timeout: ${o.electionMs}`,
          `snapshot-count: ${o.snapshotCount}`,
        ].join('\n'),
      );
      (this.members[i] as { wsPort?: number }).wsPort = ports[i * 4 + 1];
      (this.members[i] as { tcpPort?: number }).tcpPort = ports[i * 4 + 2];
      (this.members[i] as { grpcPort?: number }).grpcPort = ports[i * 4 + 3];
    }
    const started = await Promise.allSettled(this.members.map((_, i) => this.startMember(i)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** Starts (or restarts) member `i` on its data dir and fixed ports. */
  async startMember(i: number): Promise<ServerProcess> {
    const m = this.members[i]!;
    const ports = m as unknown as { wsPort: number; tcpPort: number; grpcPort?: number };
    m.server = await startServer({
      ...(this.o.grpc && ports.grpcPort !== undefined ? { grpcAddress: `127.0.0.1:${ports.grpcPort}` } : {}),
      driver: this.o.driver,
      name: m.name,
      dataDir: m.dataDir,
      wsAddress: `127.0.0.1:${ports.wsPort}`,
      tcpAddress: `127.0.0.1:${ports.tcpPort}`,
      extra: this.extra[i]!,
    });
    return m.server;
  }

  /** Client URLs of the members that are running (ws of each). */
  urls(kind: 'ws' | 'tcp' = 'ws'): string[] {
    return this.members.filter((m) => m.server !== undefined).map((m) => (kind === 'ws' ? m.server!.ws : m.server!.tcp));
  }

  client(i: number, kind: 'ws' | 'tcp' = 'ws'): Client {
    const s = this.members[i]!.server!;
    return new Client({ endpoints: [kind === 'ws' ? s.ws : s.tcp], timeoutMs: 10_000 });
  }

  /** The index of the member every running member agrees leads, polling until one does. */
  async leader(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = new Set<number>();
      let ids: (number | undefined)[] = [];
      ids = await Promise.all(
        this.members.map(async (m) => {
          if (m.server === undefined) return undefined;
          const c = new Client({ endpoints: [m.server.ws], timeoutMs: 1000 });
          try {
            const s = await c.status();
            seen.add(s.leader);
            return s.header.memberId;
          } catch {
            seen.add(-1);
            return undefined;
          } finally {
            await c.close();
          }
        }),
      );
      if (seen.size === 1 && !seen.has(0) && !seen.has(-1)) {
        const leaderId = [...seen][0]!;
        const i = ids.indexOf(leaderId);
        if (i >= 0) return i;
      }
      if (Date.now() > deadline) throw new Error(`no agreed leader within ${timeoutMs} ms (saw ${[...seen].join(',')})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      if (m.server !== undefined) {
        m.server.proc.kill('SIGCONT');
        await m.server.stop();
      }
      m.server = undefined;
    }));
  }
}
