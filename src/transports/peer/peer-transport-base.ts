/**
 * The logic that the tcp and ws peer transports share: the peer table, lazy dialling with
 * capped backoff, the handshake, per-peer queue limits, per-tick write batching, round-trip
 * pings, unreachable reports and an orderly close. A subclass only moves frames: it listens,
 * dials, and wraps each connection in a `PeerLink`.
 *
 * Life of an outbound connection (one per peer, dialled by the first message to the peer):
 *
 * ```
 *   send() ──dial──▶ HANDSHAKE written, messages pipelined behind it
 *                       │ answer: same cluster, the member we meant, same version
 *                       ▼
 *                      up ── messages (+ a ping at most every pingIntervalMs) ──▶
 *                       │ close / error / refusal / bad frame / handshake timeout
 *                       ▼
 *   closed: report unreachable, messages dropped (and reported) until now ≥ retryAt,
 *   retryAt = now + min(max, min · 2^(failures-1)); the next send() after it dials again.
 * ```
 *
 * Messages written before the answer arrive after the handshake on the same stream, so the
 * acceptor reads them only if it accepted the connection. There is no retransmission: a
 * message written to a connection that then breaks is lost, which Raft tolerates.
 *
 * Inbound connections: the first frame must be a valid HANDSHAKE addressed to this member of
 * this cluster; otherwise the answer carries the reason and the connection is closed (logged
 * as a warning). After it, MESSAGE frames are decoded and handed to the handlers in order;
 * a malformed frame, an undecodable message, or a message whose from/to contradict the
 * handshake closes that connection only. A new connection from a member replaces the older
 * one (the peer reconnected; the old one is stale or half-open).
 *
 * NB: dialling is lazy and time is read with `performance.now()` when sending, so the only
 * timers are handshake timeouts, unref'd and cleared on close; a dead peer is retried only as
 * long as Raft keeps sending to it (it does: heartbeats and probes).
 */
import { decodePeerHandshake, decodeRaftMessage, DecodeError, PEER_PROTOCOL_VERSION, type PeerHandshake } from '../../codec/raft-codec.js';
import type { Logger } from '../../core/ports/logger.js';
import type { PeerStats, PeerTransport } from '../../core/ports/peer-transport.js';
import { isLocalMessage, messageTypeName, type Message } from '../../core/raft/messages.js';
import { parseAddress } from '../codec/options.js';
import { handshakeFrame, KIND_BYTES, LENGTH_BYTES, messageFrame, PeerFrameKind, pingFrame, SMALL_FRAME_BYTES } from './peer-frame.js';
import { peerLimitsOf, type PeerLimits, type PeerTransportOptions } from './peer-options.js';

/** What a link reports to the shared logic. */
export interface LinkEvents {
  /** One frame without length prefix: kind byte + payload. */
  onFrame(frame: Buffer): void;
  /** The bytes are not a valid frame sequence (bad length, text message, too large). */
  onFrameError(reason: string): void;
  /** The connection is gone, for whatever reason. Called exactly once, also after `destroy()`. */
  onClose(reason: string): void;
}

/** One connection as the shared logic drives it; each transport implements it. */
export interface PeerLink {
  /** The other end, for logs (`host:port` or the URL). */
  readonly remote: string;
  /** Sets the receiver of this link's events; called once, before any I/O event can fire. */
  attach(events: LinkEvents): void;
  /**
   * Queues a frame, as built by peer-frame.ts (the 4 length bytes first; ws drops them). Order
   * is kept. A frame written before the connection is open goes out once it is; one written
   * after it closed is discarded.
   */
  write(frame: Buffer): void;
  /** Bytes queued and not yet handed to the kernel. */
  queuedBytes(): number;
  /** Holds writes back until `uncork()` (one writev for a tick's frames). */
  cork(): void;
  uncork(): void;
  /** Largest frame accepted from now on (without length prefix). */
  setMaxFrameBytes(n: number): void;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes now, discarding what is queued and ignoring anything still arriving. */
  destroy(): void;
}

function now(): number {
  return performance.now();
}

function uncorkConn(c: Conn): void {
  c.corked = false;
  c.link.uncork();
}

function clusterMismatch(h: PeerHandshake, clusterId: number, memberId: number, fromId: number | undefined): string | undefined {
  if (h.protocolVersion !== PEER_PROTOCOL_VERSION) return `protocol version ${h.protocolVersion}, want ${PEER_PROTOCOL_VERSION}`;
  if (h.clusterId !== clusterId) return `cluster id ${h.clusterId.toString(16)}, want ${clusterId.toString(16)}`;
  if (h.toMemberId !== memberId) return `addressed to member ${h.toMemberId.toString(16)}, this is ${memberId.toString(16)}`;
  if (fromId !== undefined && h.fromMemberId !== fromId) return `answered by member ${h.fromMemberId.toString(16)}, want ${fromId.toString(16)}`;
  if (h.fromMemberId === 0) return 'member id 0';
  if (h.fromMemberId === memberId) return `member id ${memberId.toString(16)} is this member's own`;
  return undefined;
}

/** State shared by both directions: the link, per-tick corking, the handshake timer. */
abstract class Conn implements LinkEvents {
  corked = false;
  private timer: NodeJS.Timeout | null = null;
  private isDestroyed = false;

  constructor(
    protected readonly owner: PeerTransportBase,
    readonly link: PeerLink,
  ) {}

  write(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.link.cork();
      process.nextTick(uncorkConn, this);
    }
    this.link.write(frame);
  }

  startTimer(ms: number, why: string): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fail(why, 'info');
    }, ms);
    this.timer.unref();
  }

  clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  get destroyed(): boolean {
    return this.isDestroyed;
  }

  destroy(): void {
    this.clearTimer();
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    this.link.destroy();
  }

  /** Closes this connection because of `why`, logged at `level`; the others keep working. */
  fail(why: string, level: 'warn' | 'info' | 'debug' = 'warn'): void {
    if (this.isDestroyed) return;
    this.owner.log[level]({ ...this.logFields(), reason: why }, 'closing peer connection');
    this.destroy();
  }

  onFrameError(reason: string): void {
    this.fail(`malformed frame: ${reason}`);
  }

  onClose(reason: string): void {
    this.clearTimer();
    this.isDestroyed = true;
    this.closed(reason);
  }

  abstract onFrame(frame: Buffer): void;
  protected abstract closed(reason: string): void;
  abstract logFields(): object;
}

/** A peer as this member knows it. */
class PeerState {
  out: Outbound | null = null;
  /** Consecutive failed connections; 0 after a handshake succeeded. */
  failures = 0;
  /** performance.now() before which no new dial is made. */
  retryAtMs = 0;
  rttMs: number | undefined = undefined;
  sent = 0;
  dropped = 0;
  /** Whether the last message was dropped for a full queue (to warn once per episode). */
  overflowing = false;

  constructor(
    readonly id: number,
    public url: string,
  ) {}
}

/** The connection this member dialled to a peer: carries our messages to it. */
class Outbound extends Conn {
  /** The peer accepted our handshake. */
  up = false;
  pingSeq = 0;
  pingOutstanding = false;
  pingSentAtMs = -Infinity;

  constructor(
    owner: PeerTransportBase,
    readonly peer: PeerState,
    link: PeerLink,
  ) {
    super(owner, link);
  }

  logFields(): object {
    return { peer: this.peer.id.toString(16), url: this.peer.url, transport: this.owner.transportName };
  }

  onFrame(frame: Buffer): void {
    if (this.destroyed) return;
    const kind = frame[0];
    if (!this.up) {
      if (kind !== PeerFrameKind.HANDSHAKE) return this.fail(`expected a handshake answer, got frame kind ${kind}`);
      let h: PeerHandshake;
      try {
        h = decodePeerHandshake(frame.subarray(KIND_BYTES));
      } catch (err) {
        if (err instanceof DecodeError) return this.fail(err.message);
        throw err;
      }
      if (h.error !== '') return this.fail(`peer refused the connection: ${h.error}`);
      const bad = clusterMismatch(h, this.owner.limits.clusterId, this.owner.limits.memberId, this.peer.id);
      if (bad !== undefined) return this.fail(`wrong peer at this address: ${bad}`);
      this.up = true;
      this.clearTimer();
      this.peer.failures = 0;
      this.owner.log.info(this.logFields(), 'connected to peer');
      return;
    }
    if (kind === PeerFrameKind.PONG && frame.length === KIND_BYTES + 4) {
      if (this.pingOutstanding && frame.readUInt32BE(KIND_BYTES) === this.pingSeq) {
        this.pingOutstanding = false;
        const sample = now() - this.pingSentAtMs;
        const p = this.peer;
        // Smoothed as TCP's SRTT (RFC 6298): 7/8 of the old estimate, 1/8 of the sample.
        p.rttMs = p.rttMs === undefined ? sample : p.rttMs + (sample - p.rttMs) / 8;
      }
      return;
    }
    this.fail(`unexpected frame kind ${kind} from the accepting side`);
  }

  protected closed(reason: string): void {
    this.owner.outboundClosed(this, reason);
  }
}

/** A connection a peer dialled to this member: carries its messages to us. */
class Inbound extends Conn {
  /** The peer's member id, once its handshake was accepted (0 before). */
  memberId = 0;
  /** The handshake was refused: the answer is being flushed, nothing more is read. */
  refused = false;

  logFields(): object {
    return {
      remote: this.link.remote,
      peer: this.memberId === 0 ? undefined : this.memberId.toString(16),
      transport: this.owner.transportName,
    };
  }

  onFrame(frame: Buffer): void {
    if (this.destroyed || this.refused) return;
    const kind = frame[0];
    if (this.memberId === 0) {
      if (kind !== PeerFrameKind.HANDSHAKE) return this.fail(`expected a handshake, got frame kind ${kind}`);
      let h: PeerHandshake;
      try {
        h = decodePeerHandshake(frame.subarray(KIND_BYTES));
      } catch (err) {
        if (err instanceof DecodeError) return this.fail(err.message);
        throw err;
      }
      this.owner.inboundHandshake(this, h);
      return;
    }
    if (kind === PeerFrameKind.MESSAGE) {
      let m: Message;
      try {
        m = decodeRaftMessage(frame.subarray(KIND_BYTES));
      } catch (err) {
        if (err instanceof DecodeError) return this.fail(err.message);
        throw err;
      }
      if (m.from !== this.memberId || m.to !== this.owner.limits.memberId || isLocalMessage(m.type)) {
        return this.fail(`message ${messageTypeName(m.type)} from ${m.from.toString(16)} to ${m.to.toString(16)} does not belong on this connection`);
      }
      // Outside the try: a handler's exception is a bug in the host, not a bad frame.
      this.owner.deliver(m);
      return;
    }
    if (kind === PeerFrameKind.PING && frame.length === KIND_BYTES + 4) {
      this.write(pingFrame(PeerFrameKind.PONG, frame.readUInt32BE(KIND_BYTES)));
      return;
    }
    this.fail(`unexpected frame kind ${kind} (${frame.length} bytes)`);
  }

  protected closed(reason: string): void {
    this.owner.inboundClosed(this, reason);
  }
}

/**
 * A `PeerTransport` over some byte transport; see the module comment for the behaviour.
 * Subclasses implement `listen`, `stopListening`, `checkUrl` and `dial`, and call `accept`
 * for each inbound connection.
 */
export abstract class PeerTransportBase implements PeerTransport {
  /** @internal Validated options. */
  readonly limits: PeerLimits;
  private readonly peers = new Map<number, PeerState>();
  /** Every live connection, both directions (close() waits for them). */
  private readonly conns = new Set<Conn>();
  private readonly inboundByMember = new Map<number, Inbound>();
  private readonly messageHandlers: ((m: Message) => void)[] = [];
  private readonly unreachableHandlers: ((peerId: number) => void)[] = [];
  private readonly pendingUnreachable = new Set<number>();
  private readonly lostHandlers: ((peerId: number) => void)[] = [];
  private readonly pendingLost = new Set<number>();
  private reportTimer: NodeJS.Immediate | null = null;
  private starting: Promise<unknown> | null = null;
  private isClosed = false;
  private closing: Promise<void> | null = null;
  private allConnsClosed: (() => void) | null = null;

  protected constructor(
    options: PeerTransportOptions,
    /** @internal */
    readonly log: Logger,
    /** @internal For logs: "tcp" or "ws". */
    readonly transportName: string,
  ) {
    this.limits = peerLimitsOf(options);
    parseAddress(options.listenAddress); // fail at construction on a bad address
  }

  /** Listens on host:port, passing each inbound connection to `accept`; resolves with the bound address. */
  protected abstract listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops listening; resolves once the listener is closed. Connections are closed separately. */
  protected abstract stopListening(): Promise<void>;
  /** Throws a RangeError if this transport cannot dial `url`. */
  protected abstract checkUrl(url: string): void;
  /** Opens a connection to `url` (already checked). Must not throw for an unreachable peer. */
  protected abstract dial(url: string): PeerLink;

  /** Called by the subclass for each inbound connection. */
  protected accept(link: PeerLink): void {
    const conn = new Inbound(this, link);
    link.attach(conn);
    if (this.isClosed) {
      conn.destroy();
      return;
    }
    link.setMaxFrameBytes(SMALL_FRAME_BYTES);
    this.conns.add(conn);
    conn.startTimer(this.limits.handshakeTimeoutMs, 'no handshake in time');
  }

  start(): Promise<{ host: string; port: number }> {
    if (this.starting !== null || this.isClosed) {
      return Promise.reject(new Error(`${this.transportName} peer transport: start() after start() or close()`));
    }
    const { host, port } = parseAddress(this.limits.listenAddress);
    const p = this.listen(host, port);
    this.starting = p.catch(() => undefined);
    return p.then((a) => {
      this.log.info({ host: a.host, port: a.port, transport: this.transportName, member: this.limits.memberId.toString(16) }, 'listening for peers');
      return a;
    });
  }

  setPeer(id: number, url: string): void {
    if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`peer id must be a positive safe integer, got ${id}`);
    this.checkUrl(url);
    const peer = this.peers.get(id);
    if (peer === undefined) {
      this.peers.set(id, new PeerState(id, url));
      return;
    }
    if (peer.url === url) return;
    peer.url = url;
    this.dropConnection(peer);
    peer.failures = 0;
    peer.retryAtMs = 0;
  }

  removePeer(id: number): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    this.dropConnection(peer);
  }

  send(messages: readonly Message[]): void {
    if (this.isClosed) return;
    const t = now();
    const { maxMessageBytes, maxQueuedBytesPerPeer, pingIntervalMs } = this.limits;
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (peer === undefined) {
        this.log.debug({ peer: m.to.toString(16), type: messageTypeName(m.type) }, 'dropping message to an unknown peer');
        this.report(m.to);
        continue;
      }
      let out = peer.out;
      if (out === null && t < peer.retryAtMs) {
        this.dropped(peer);
        continue;
      }
      const frame = messageFrame(m);
      if (frame.length - LENGTH_BYTES - KIND_BYTES > maxMessageBytes) {
        this.log.warn(
          { peer: peer.id.toString(16), type: messageTypeName(m.type), bytes: frame.length - LENGTH_BYTES - KIND_BYTES, maxMessageBytes },
          'dropping a message larger than maxMessageBytes',
        );
        this.dropped(peer);
        continue;
      }
      if (out === null) {
        out = this.connect(peer);
        if (out === null) {
          this.dropped(peer);
          continue;
        }
      }
      const queued = out.link.queuedBytes();
      if (queued > 0 && queued + frame.length > maxQueuedBytesPerPeer) {
        if (!peer.overflowing) {
          peer.overflowing = true;
          this.log.warn({ peer: peer.id.toString(16), queuedBytes: queued, maxQueuedBytesPerPeer }, 'peer queue full: dropping messages');
        }
        this.dropped(peer);
        continue;
      }
      peer.overflowing = false;
      out.write(frame);
      peer.sent++;
      if (out.up && !out.pingOutstanding && t - out.pingSentAtMs >= pingIntervalMs) {
        out.pingOutstanding = true;
        out.pingSentAtMs = t;
        out.pingSeq = (out.pingSeq + 1) >>> 0;
        out.write(pingFrame(PeerFrameKind.PING, out.pingSeq));
      }
    }
  }

  onMessage(handler: (m: Message) => void): void {
    this.messageHandlers.push(handler);
  }

  onPeerLost(handler: (peerId: number) => void): void {
    this.lostHandlers.push(handler);
  }

  onUnreachable(handler: (peerId: number) => void): void {
    this.unreachableHandlers.push(handler);
  }

  stats(): ReadonlyMap<number, PeerStats> {
    const out = new Map<number, PeerStats>();
    for (const p of this.peers.values()) {
      out.set(p.id, {
        id: p.id,
        url: p.url,
        connected: p.out?.up ?? false,
        rttMs: p.rttMs,
        queuedBytes: p.out?.link.queuedBytes() ?? 0,
        sentMessages: p.sent,
        droppedMessages: p.dropped,
      });
    }
    return out;
  }

  close(): Promise<void> {
    if (this.closing === null) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.isClosed = true;
    if (this.reportTimer !== null) clearImmediate(this.reportTimer);
    this.reportTimer = null;
    this.pendingUnreachable.clear();
    this.pendingLost.clear();
    await this.starting;
    const connsClosed = new Promise<void>((resolve) => {
      if (this.conns.size === 0) resolve();
      else this.allConnsClosed = resolve;
    });
    for (const p of this.peers.values()) p.out = null;
    for (const c of this.conns) c.destroy();
    await Promise.all([this.starting === null ? undefined : this.stopListening(), connsClosed]);
  }

  // --- for the connections ----------------------------------------------------------------------

  /** @internal Hands a received message to every handler. */
  deliver(m: Message): void {
    if (this.isClosed) return;
    if (this.messageHandlers.length === 0) {
      this.log.debug({ peer: m.from.toString(16), type: messageTypeName(m.type) }, 'no message handler: dropping message');
      return;
    }
    for (const h of this.messageHandlers) h(m);
  }

  /** @internal An inbound connection's handshake arrived: accept or refuse it. */
  inboundHandshake(conn: Inbound, h: PeerHandshake): void {
    const { clusterId, memberId } = this.limits;
    const answer = { clusterId, fromMemberId: memberId, toMemberId: h.fromMemberId, protocolVersion: PEER_PROTOCOL_VERSION };
    const bad = h.error !== '' ? `handshake carries an error: ${h.error}` : clusterMismatch(h, clusterId, memberId, undefined);
    if (bad !== undefined) {
      this.log.warn({ ...conn.logFields(), from: h.fromMemberId.toString(16), reason: bad }, 'refusing peer connection');
      conn.refused = true;
      conn.write(handshakeFrame({ ...answer, error: bad }));
      // The handshake timer stays armed: it destroys the connection if the peer never hangs up.
      conn.link.end();
      return;
    }
    conn.memberId = h.fromMemberId;
    conn.clearTimer();
    conn.link.setMaxFrameBytes(this.limits.maxMessageBytes + KIND_BYTES);
    const old = this.inboundByMember.get(conn.memberId);
    this.inboundByMember.set(conn.memberId, conn);
    if (old !== undefined) old.fail('replaced by a newer connection from the same member', 'info');
    conn.write(handshakeFrame({ ...answer, error: '' }));
    this.log.debug(conn.logFields(), 'accepted peer connection');
  }

  /** @internal */
  inboundClosed(conn: Inbound, reason: string): void {
    if (conn.memberId !== 0 && this.inboundByMember.get(conn.memberId) === conn) this.inboundByMember.delete(conn.memberId);
    this.log.debug({ ...conn.logFields(), reason }, 'peer connection closed');
    this.forget(conn);
  }

  /** @internal */
  outboundClosed(conn: Outbound, reason: string): void {
    this.forget(conn);
    const peer = conn.peer;
    // A connection replaced by setPeer, removed, or closed by close() is no failure.
    if (peer.out !== conn || this.isClosed) return;
    peer.out = null;
    peer.failures++;
    const delay = Math.min(this.limits.reconnectDelayMaxMs, this.limits.reconnectDelayMinMs * 2 ** Math.min(peer.failures - 1, 30));
    peer.retryAtMs = now() + delay;
    if (conn.up) {
      this.log.info({ ...conn.logFields(), reason }, 'lost connection to peer');
      this.pendingLost.add(peer.id);
    } else {
      this.log.debug({ ...conn.logFields(), reason, retryInMs: delay }, 'cannot connect to peer');
    }
    this.report(peer.id);
  }

  // --- internals ----------------------------------------------------------------------------------

  /** Dials `peer`; null if the dial failed at once (then it counts as a failed connection). */
  private connect(peer: PeerState): Outbound | null {
    let link: PeerLink;
    try {
      link = this.dial(peer.url);
    } catch (err) {
      peer.failures++;
      peer.retryAtMs = now() + this.limits.reconnectDelayMaxMs;
      this.log.warn({ err, peer: peer.id.toString(16), url: peer.url, transport: this.transportName }, 'cannot dial peer');
      return null;
    }
    const conn = new Outbound(this, peer, link);
    conn.link.attach(conn);
    conn.link.setMaxFrameBytes(SMALL_FRAME_BYTES);
    this.conns.add(conn);
    peer.out = conn;
    const { clusterId, memberId } = this.limits;
    conn.write(handshakeFrame({ clusterId, fromMemberId: memberId, toMemberId: peer.id, protocolVersion: PEER_PROTOCOL_VERSION, error: '' }));
    conn.startTimer(this.limits.handshakeTimeoutMs, 'no handshake answer in time');
    return conn;
  }

  private dropConnection(peer: PeerState): void {
    const out = peer.out;
    peer.out = null;
    out?.destroy();
  }

  private forget(conn: Conn): void {
    this.conns.delete(conn);
    if (this.conns.size === 0 && this.allConnsClosed !== null) {
      const done = this.allConnsClosed;
      this.allConnsClosed = null;
      done();
    }
  }

  private dropped(peer: PeerState): void {
    peer.dropped++;
    this.report(peer.id);
  }

  /** Queues an unreachable report, delivered after the current turn (never inside send()). */
  private report(id: number): void {
    if (this.isClosed) return;
    this.pendingUnreachable.add(id);
    if (this.reportTimer === null) this.reportTimer = setImmediate(() => this.flushReports());
  }

  private flushReports(): void {
    this.reportTimer = null;
    const ids = [...this.pendingUnreachable];
    const lost = [...this.pendingLost];
    this.pendingUnreachable.clear();
    this.pendingLost.clear();
    for (const id of ids) for (const h of this.unreachableHandlers) h(id);
    for (const id of lost) for (const h of this.lostHandlers) h(id);
  }
}
