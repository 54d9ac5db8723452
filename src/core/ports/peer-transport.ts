/**
 * The peer transport port: how a member's Raft messages reach the other members. The raft host
 * hands it the messages of each Ready and feeds what it receives into `step()`.
 *
 * Delivery is best effort, as Raft assumes of its network: messages may be lost (an unreachable
 * peer, a full queue, a connection that breaks), but those to one peer are never reordered and
 * never duplicated by the transport, and a message that arrives is exactly the one sent. Raft
 * repairs loss itself (retries, probes, heartbeats); `onUnreachable` lets it do so promptly.
 *
 * Implementations: src/transports/peer (TcpPeerTransport, WsPeerTransport).
 */
import type { ServiceIdentifier } from 'inversify';
import type { Message } from '../raft/messages.js';

/** What a transport knows about one peer, for metrics and tests. */
export interface PeerStats {
  readonly id: number;
  /** The address given by `setPeer`. */
  readonly url: string;
  /** Whether an outbound connection to the peer is open and past its handshake. */
  readonly connected: boolean;
  /**
   * Smoothed round-trip time of the outbound connection in milliseconds (handshake and pings;
   * a ping queued behind a large message measures that queueing too), or undefined before the
   * first sample.
   */
  readonly rttMs: number | undefined;
  /** Bytes written to the peer but not yet handed to the kernel. */
  readonly queuedBytes: number;
  /** Messages delivered to the outbound connection since the transport was built. */
  readonly sentMessages: number;
  /** Messages dropped (unreachable, queue full, too large) since the transport was built. */
  readonly droppedMessages: number;
}

export interface PeerTransport {
  /**
   * Starts listening on this member's peer address; resolves with the bound host/port (the real
   * port when the address asked for 0). Rejects if the address cannot be bound or the transport
   * was started or closed before.
   */
  start(): Promise<{ host: string; port: number }>;
  /**
   * Sets or replaces the address of a peer (member id → URL like `tcp://127.0.0.1:2380` or
   * `ws://127.0.0.1:2380`). A changed URL closes the connection to the old one.
   * @throws RangeError for a URL this transport cannot dial (wrong scheme, no port): a
   * configuration mistake, to be caught when the configuration is validated.
   */
  setPeer(id: number, url: string): void;
  /** Forgets a peer and closes the connection to it; later messages to it are dropped. */
  removePeer(id: number): void;
  /**
   * Sends messages, each to `m.to`. Never blocks or throws: a message to an unreachable or
   * unknown peer, or beyond the peer's queue limit, is dropped and reported through
   * `onUnreachable` (Raft retries). Per-peer order is preserved. Reports are made after
   * `send` returns, never from inside it, so a handler may step the raft node. (A message
   * that breaks the codec's checks, e.g. a negative term, is a programmer error and throws
   * an AssertionError.)
   */
  send(messages: readonly Message[]): void;
  /**
   * Registers a receiver of messages from peers, called in arrival order (per peer, in send
   * order). Messages received while no handler is registered are dropped.
   */
  onMessage(handler: (m: Message) => void): void;
  /**
   * Registers a receiver of "peer unreachable" reports (a connection failed or broke, or a
   * message to the peer was dropped): the host passes them to Raft as `Unreachable`. At most
   * one report per peer per turn of the event loop.
   */
  onUnreachable(handler: (peerId: number) => void): void;
  /**
   * Registers a receiver of "peer lost" reports: an established outbound connection to the peer
   * was closed by the other end or broke. That is what a member sees within a millisecond when
   * a peer's process dies (its kernel closes the sockets), long before an election timeout. A
   * follower that loses its leader this way stops waiting for heartbeats (Raft's
   * `reportLeaderLost`). A report may be spurious (a connection reset on a live peer): Raft must
   * stay safe and the cluster available when it is. Delivered after the current turn, like
   * `onUnreachable`.
   */
  onPeerLost(handler: (peerId: number) => void): void;
  /** Per peer (by member id): connection state, round-trip time, queue and counters. */
  stats(): ReadonlyMap<number, PeerStats>;
  /**
   * Stops listening, closes every connection and forgets pending reports; resolves once the
   * listener is closed. Nothing it started keeps the process alive afterwards. Later `send`s
   * are dropped silently.
   */
  close(): Promise<void>;
}

export const PeerTransport: ServiceIdentifier<PeerTransport> = Symbol.for('etcetera.PeerTransport');
