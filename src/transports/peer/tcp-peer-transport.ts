/**
 * The peer transport over plain TCP: the frames of peer-frame.ts on a byte stream, each behind
 * its u32 length prefix. Everything else (handshake, limits, dialling, batching) is
 * peer-transport-base.ts.
 *
 * Sockets have Nagle off (a heartbeat must not wait for an ACK) and TCP keep-alive on, so that
 * an idle connection to a vanished host is eventually noticed by the kernel.
 */
import net from 'node:net';
import type { Logger } from '../../core/ports/logger.js';
import { PeerFrameDecoder, SMALL_FRAME_BYTES, type PeerFrameSink } from './peer-frame.js';
import { parsePeerUrl, type PeerTransportOptions } from './peer-options.js';
import { PeerTransportBase, type LinkEvents, type PeerLink } from './peer-transport-base.js';

export type { PeerTransportOptions } from './peer-options.js';

/** Idle time before the first TCP keep-alive probe. */
const KEEPALIVE_DELAY_MS = 10_000;

/** One TCP connection, either direction. */
class TcpLink implements PeerLink, PeerFrameSink {
  private events: LinkEvents | null = null;
  private readonly decoder: PeerFrameDecoder;
  /** No more writes: ended, destroyed or closed. */
  private isShut = false;
  private reason = 'closed';

  constructor(
    private readonly socket: net.Socket,
    readonly remote: string,
  ) {
    this.decoder = new PeerFrameDecoder(this, SMALL_FRAME_BYTES);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', (err) => {
      this.reason = err.message;
    });
    socket.on('close', () => {
      this.isShut = true;
      this.decoder.stop();
      this.events?.onClose(this.reason);
    });
  }

  attach(events: LinkEvents): void {
    this.events = events;
  }

  onFrame(frame: Buffer): void {
    this.events?.onFrame(frame);
  }

  onFrameError(reason: string): void {
    this.events?.onFrameError(reason);
  }

  write(frame: Buffer): void {
    if (!this.isShut) this.socket.write(frame);
  }

  queuedBytes(): number {
    return this.socket.writableLength;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  setMaxFrameBytes(n: number): void {
    this.decoder.maxFrameBytes = n;
  }

  end(): void {
    if (this.isShut) return;
    this.isShut = true;
    this.decoder.stop();
    this.socket.end();
  }

  destroy(): void {
    this.isShut = true;
    this.decoder.stop();
    this.socket.destroy();
  }
}

/**
 * A `PeerTransport` (src/core/ports/peer-transport.ts) over TCP; peer URLs are
 * `tcp://host:port`. See peer-transport-base.ts for the behaviour and peer-options.ts for the
 * options and their defaults.
 */
export class TcpPeerTransport extends PeerTransportBase {
  private server: net.Server | null = null;

  /** @throws RangeError on a bad option (see peer-options.ts). */
  constructor(options: PeerTransportOptions, logger: Logger) {
    super(options, logger, 'tcp');
  }

  protected listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = net.createServer({ noDelay: true }, (socket) => {
      this.accept(new TcpLink(socket, `${socket.remoteAddress}:${socket.remotePort}`));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: host === '' ? undefined : host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'tcp peer listener error'));
        const a = server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  protected stopListening(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null || !server.listening) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  protected checkUrl(url: string): void {
    parsePeerUrl(url, 'tcp');
  }

  protected dial(url: string): PeerLink {
    const { host, port } = parsePeerUrl(url, 'tcp');
    return new TcpLink(net.connect({ host, port, noDelay: true }), url);
  }
}
