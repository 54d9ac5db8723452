/**
 * The peer transport over WebSocket (`ws`): the frames of peer-frame.ts, one per binary message
 * and without the length prefix. Everything else (handshake, limits, dialling, batching) is
 * peer-transport-base.ts. Useful where only HTTP(S) ports pass between members.
 *
 * - perMessageDeflate is off: compressing Raft traffic costs more CPU than it saves.
 * - The listener's `maxPayload` is maxMessageBytes + 1 (the kind byte): `ws` refuses a larger
 *   message before buffering it and closes that connection (1009). NB: `maxPayload` is one
 *   setting for the whole listener, so before its handshake a connection may still make `ws`
 *   buffer one message of that size; the link then refuses anything above the small
 *   pre-handshake limit (tcp refuses it from the length prefix, before buffering).
 * - The dialling side masks with an all-zero key, which `ws` recognises and skips (no copy, no
 *   XOR of every byte). Masking protects browsers' intermediaries from cache poisoning; there
 *   are none between members. The wire stays valid RFC 6455.
 * - Sends of one tick are corked on the underlying socket (one writev), as on tcp.
 */
import http from 'node:http';
import type net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { Logger } from '../../core/ports/logger.js';
import { KIND_BYTES, LENGTH_BYTES, SMALL_FRAME_BYTES } from './peer-frame.js';
import { parsePeerUrl, type PeerTransportOptions } from './peer-options.js';
import { PeerTransportBase, type LinkEvents, type PeerLink } from './peer-transport-base.js';

export type { PeerTransportOptions } from './peer-options.js';

const SEND_OPTIONS = Object.freeze({ binary: true, compress: false });

/** Leaves ws's mask buffer all zero (see the module comment). */
function zeroMask(): void {}

/** One WebSocket, either direction. */
class WsLink implements PeerLink {
  private events: LinkEvents | null = null;
  /** The TCP socket under the WebSocket (for cork/uncork); null until a dial is upgraded. */
  private socket: net.Socket | null;
  /** Frames written before a dialled WebSocket opened. */
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private maxFrameBytes = SMALL_FRAME_BYTES;
  /** No more writes or frames: ended, destroyed or closed. */
  private isShut = false;
  private reason: string | undefined;

  constructor(
    private readonly ws: WebSocket,
    socket: net.Socket | null,
    readonly remote: string,
  ) {
    this.socket = socket;
    if (socket === null) {
      this.pending = [];
      ws.once('upgrade', (res: http.IncomingMessage) => {
        this.socket = res.socket;
      });
      ws.once('open', () => this.flushPending());
    }
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.isShut) return;
      if (!isBinary) this.events?.onFrameError('text message: frames are binary messages');
      else if (data.length === 0) this.events?.onFrameError('empty frame');
      else if (data.length > this.maxFrameBytes) {
        this.events?.onFrameError(`frame of ${data.length} bytes exceeds the limit of ${this.maxFrameBytes}`);
      } else this.events?.onFrame(data);
    });
    ws.on('error', (err: Error & { code?: unknown }) => {
      this.reason ??= err.message;
      // ws's own protocol errors (a message beyond maxPayload, a bad opcode...) are the peer's
      // malformed bytes; socket errors (resets) are just a closing connection.
      if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_') && !this.isShut) this.events?.onFrameError(err.message);
    });
    ws.on('close', (code: number) => {
      this.isShut = true;
      this.pending = null;
      this.pendingBytes = 0;
      this.events?.onClose(this.reason ?? `closed (${code})`);
    });
  }

  attach(events: LinkEvents): void {
    this.events = events;
  }

  private flushPending(): void {
    const frames = this.pending;
    this.pending = null;
    this.pendingBytes = 0;
    if (frames === null || this.isShut) return;
    this.socket?.cork();
    for (const f of frames) this.ws.send(f, SEND_OPTIONS);
    this.socket?.uncork();
  }

  write(frame: Buffer): void {
    if (this.isShut) return;
    const message = frame.subarray(LENGTH_BYTES);
    if (this.pending !== null) {
      this.pending.push(message);
      this.pendingBytes += message.length;
    } else if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(message, SEND_OPTIONS);
    }
  }

  queuedBytes(): number {
    return this.pendingBytes + this.ws.bufferedAmount;
  }

  cork(): void {
    this.socket?.cork();
  }

  uncork(): void {
    // NB: a cork taken before the dial was upgraded was a no-op; uncorking a socket that is
    // not corked is harmless.
    this.socket?.uncork();
  }

  setMaxFrameBytes(n: number): void {
    this.maxFrameBytes = n;
  }

  end(): void {
    if (this.isShut) return;
    this.isShut = true;
    this.ws.close(1000);
  }

  destroy(): void {
    this.isShut = true;
    this.pending = null;
    this.pendingBytes = 0;
    this.ws.terminate();
  }
}

/**
 * A `PeerTransport` (src/core/ports/peer-transport.ts) over WebSocket; peer URLs are
 * `ws://host:port[/path]` (any path is accepted by the listener). See peer-transport-base.ts for
 * the behaviour and peer-options.ts for the options and their defaults.
 */
export class WsPeerTransport extends PeerTransportBase {
  private http: http.Server | null = null;
  private wss: WebSocketServer | null = null;

  /** @throws RangeError on a bad option (see peer-options.ts). */
  constructor(options: PeerTransportOptions, logger: Logger) {
    super(options, logger, 'ws');
  }

  protected listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('etcetera: this port speaks the WebSocket peer protocol\n');
    });
    const wss = new WebSocketServer({
      server,
      perMessageDeflate: false,
      maxPayload: this.limits.maxMessageBytes + KIND_BYTES,
      clientTracking: false,
      skipUTF8Validation: true,
    });
    wss.on('connection', (ws, req) => {
      this.accept(new WsLink(ws, req.socket, `${req.socket.remoteAddress}:${req.socket.remotePort}`));
    });
    wss.on('error', (err) => this.log.error({ err }, 'ws peer listener error'));
    this.http = server;
    this.wss = wss;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: host === '' ? undefined : host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'ws peer listener error'));
        const a = server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  protected stopListening(): Promise<void> {
    const server = this.http;
    this.http = null;
    this.wss?.close();
    this.wss = null;
    if (server === null || !server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      // Connections still in their HTTP upgrade (never handed to accept()).
      server.closeAllConnections();
    });
  }

  protected checkUrl(url: string): void {
    parsePeerUrl(url, 'ws');
  }

  protected dial(url: string): PeerLink {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: SMALL_FRAME_BYTES,
      generateMask: zeroMask,
      skipUTF8Validation: true,
    });
    return new WsLink(ws, null, url);
  }
}
