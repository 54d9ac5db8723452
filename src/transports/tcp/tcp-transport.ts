/**
 * The tcp client listener: etcetera's framed protocol (src/transports/codec/frame.ts) over
 * plain TCP, each frame behind a u32 length prefix.
 *
 * Writes are corked for the rest of the current tick and flushed together, so the answers
 * that one turn of the event loop produces (a group commit resolves many puts at once) leave
 * in one writev syscall. Reading pauses while a connection's outbound queue is above
 * `maxQueuedBytes` and resumes once it has been flushed.
 */
import net from 'node:net';
import type { Logger } from '../../core/ports/logger.js';
import type { Services } from '../../core/ports/services.js';
import { FrameDecoder } from '../codec/frame-decoder.js';
import { limitsOf, parseAddress, type Limits, type ListenerOptions } from '../codec/options.js';
import { ServerSession, type FrameLink, type TransportStats } from '../codec/server-session.js';

export type { ListenerOptions } from '../codec/options.js';

const NOTHING = Buffer.alloc(0);

function uncork(conn: TcpConnection): void {
  conn.corked = false;
  conn.socket.uncork();
}

/** One accepted socket: the link a session writes to, and the decoder that feeds it. */
class TcpConnection implements FrameLink {
  corked = false;
  readonly session: ServerSession;
  private readonly flushed = (): void => this.session.onDrain();
  readonly decoder: FrameDecoder;

  constructor(
    readonly socket: net.Socket,
    services: Services,
    limits: Limits,
    private readonly log: Logger,
    private readonly owner: TcpTransport,
  ) {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.session = new ServerSession(services, this, limits, log, peer);
    this.decoder = new FrameDecoder(this, limits.maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', (err) => this.log.debug({ err, peer }, 'client connection error'));
    socket.on('close', () => {
      this.session.onClose();
      this.owner.forget(this);
    });
  }

  // FrameSink (the decoder's output) -------------------------------------------------------

  onFrame(frame: Buffer): void {
    this.session.onFrame(frame);
  }

  onOversized(length: number, kind: number, id: number): void {
    this.session.onOversized(length, kind, id);
    // The stream cannot be resynchronised past a refused length: say why, then hang up. The
    // rest of the input is read and dropped, so the kernel does not reset the connection
    // (which could discard the error reply before the client reads it).
    this.session.onClose();
    this.socket.end();
    this.socket.resume();
  }

  // FrameLink (the session's output) -------------------------------------------------------

  send(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.socket.write(frame);
  }

  queuedBytes(): number {
    return this.socket.writableLength;
  }

  pauseReading(): void {
    this.socket.pause();
    // The callback of a write runs once every earlier write has reached the kernel.
    this.socket.write(NOTHING, this.flushed);
  }

  resumeReading(): void {
    this.socket.resume();
  }
}

/** Serves the client protocol over TCP. */
export class TcpTransport {
  private readonly limits: Limits;
  private server: net.Server | null = null;
  private readonly connections = new Set<TcpConnection>();

  constructor(
    private readonly services: Services,
    private readonly options: ListenerOptions,
    private readonly log: Logger,
  ) {
    this.limits = limitsOf(options);
  }

  /** Starts listening; resolves with the bound address (the real port when asked for 0). */
  listen(): Promise<{ host: string; port: number }> {
    if (this.server !== null) return Promise.reject(new Error('TcpTransport: listen() called twice'));
    const { host, port } = parseAddress(this.options.address);
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: host === '' ? undefined : host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'tcp listener error'));
        const a = server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting, closes every connection (aborting their calls), and waits for both. */
  close(): Promise<void> {
    const server = this.server;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      for (const c of this.connections) {
        c.session.onClose();
        c.socket.destroy();
      }
      this.connections.clear();
    });
  }

  /** A snapshot of the listener's connections, for metrics and tests. */
  stats(): TransportStats {
    let pausedConnections = 0;
    let callsInFlight = 0;
    let queuedBytes = 0;
    for (const c of this.connections) {
      if (c.session.isPaused) pausedConnections++;
      callsInFlight += c.session.callsInFlight;
      queuedBytes += c.queuedBytes();
    }
    return { connections: this.connections.size, pausedConnections, callsInFlight, queuedBytes };
  }

  /** @internal Called by a connection once its socket closed. */
  forget(conn: TcpConnection): void {
    this.connections.delete(conn);
  }

  private accept(socket: net.Socket): void {
    if (!this.server?.listening) {
      socket.destroy();
      return;
    }
    this.connections.add(new TcpConnection(socket, this.services, this.limits, this.log, this));
  }
}
