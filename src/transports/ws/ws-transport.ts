/**
 * The WebSocket client listener: etcetera's framed protocol (src/transports/codec/frame.ts)
 * over `ws`, one frame per binary message (no length prefix: the message boundary is the
 * frame boundary, so the connection can always resynchronise after a bad frame).
 *
 * perMessageDeflate is off (compression costs more CPU than it saves on small KV messages).
 * `maxPayload` is twice `maxFrameBytes`: a message between the two is answered with
 * `RequestTooLarge` and the connection stays; a larger one makes `ws` close the connection
 * (close code 1009) before buffering it, which bounds the memory a client can make us hold.
 *
 * As on tcp, sends are corked for the rest of the tick (the underlying socket is corked, so
 * all the ws frames of one tick go out in one writev), and reading pauses while
 * `ws.bufferedAmount` is above `maxQueuedBytes`, resuming once it has been flushed.
 */
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../core/ports/logger.js';
import type { Services } from '../../core/ports/services.js';
import { HEADER_BYTES, LENGTH_BYTES } from '../codec/frame.js';
import { limitsOf, parseAddress, type Limits, type ListenerOptions } from '../codec/options.js';
import { ServerSession, type FrameLink, type TransportStats } from '../codec/server-session.js';

export type { ListenerOptions } from '../codec/options.js';

const NOTHING = Buffer.alloc(0);

function uncork(conn: WsConnection): void {
  conn.corked = false;
  conn.socket.uncork();
}

const SEND_OPTIONS = Object.freeze({ binary: true, compress: false });

/** One accepted WebSocket: the link its session writes to. */
class WsConnection implements FrameLink {
  corked = false;
  readonly session: ServerSession;
  private readonly flushed = (): void => this.session.onDrain();

  constructor(
    readonly ws: WebSocket,
    /** The socket under `ws` (the upgraded HTTP request's), corked per tick. */
    readonly socket: net.Socket,
    services: Services,
    limits: Limits,
    log: Logger,
    owner: WsTransport,
  ) {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.session = new ServerSession(services, this, limits, log, peer);
    socket.setNoDelay(true);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.session.onFrame(data);
      else this.session.onNotAFrame('text message: frames are binary messages');
    });
    ws.on('error', (err) => log.debug({ err, peer }, 'client connection error'));
    ws.on('close', () => {
      this.session.onClose();
      owner.forget(this);
    });
  }

  send(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.ws.send(frame.subarray(LENGTH_BYTES), SEND_OPTIONS);
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  pauseReading(): void {
    this.ws.pause();
    // Without compression ws writes straight to the socket, so the callback of an empty write
    // there runs once every earlier frame has reached the kernel.
    this.socket.write(NOTHING, this.flushed);
  }

  resumeReading(): void {
    this.ws.resume();
  }
}

/** Serves the client protocol over WebSocket (any path). */
export class WsTransport {
  private readonly limits: Limits;
  private http: http.Server | null = null;
  private wss: WebSocketServer | null = null;
  private readonly connections = new Set<WsConnection>();

  constructor(
    private readonly services: Services,
    private readonly options: ListenerOptions,
    private readonly log: Logger,
  ) {
    this.limits = limitsOf(options);
  }

  /** Starts listening; resolves with the bound address (the real port when asked for 0). */
  listen(): Promise<{ host: string; port: number }> {
    if (this.http !== null) return Promise.reject(new Error('WsTransport: listen() called twice'));
    const { host, port } = parseAddress(this.options.address);
    const server = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('etcetera: this port speaks WebSocket\n');
    });
    const wss = new WebSocketServer({
      server,
      perMessageDeflate: false,
      maxPayload: Math.max(2 * this.limits.maxFrameBytes, this.limits.maxFrameBytes + HEADER_BYTES),
      clientTracking: false,
    });
    wss.on('connection', (ws, req) => {
      this.connections.add(new WsConnection(ws, req.socket, this.services, this.limits, this.log, this));
    });
    wss.on('error', (err) => this.log.error({ err }, 'ws listener error'));
    this.http = server;
    this.wss = wss;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: host === '' ? undefined : host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'ws listener error'));
        const a = server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting, closes every connection (aborting their calls), and waits for both. */
  close(): Promise<void> {
    const server = this.http;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => {
      this.wss?.close();
      server.close(() => resolve());
      for (const c of this.connections) {
        c.session.onClose();
        c.ws.terminate();
      }
      this.connections.clear();
      server.closeAllConnections();
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

  /** @internal Called by a connection once it closed. */
  forget(conn: WsConnection): void {
    this.connections.delete(conn);
  }
}
