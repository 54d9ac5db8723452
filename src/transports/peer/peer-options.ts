/**
 * Options of the peer transports (tcp and ws alike). Every limit has a name, a default and a
 * check where data enters (peer-transport-base.ts).
 */

/** What the composition root passes to a peer transport. */
export interface PeerTransportOptions {
  /** This member's id: put in every handshake, and required of every connection addressed to us. */
  readonly memberId: number;
  /** The cluster's id: a connection from a member of another cluster is refused. */
  readonly clusterId: number;
  /** `host:port` to listen on for peers, e.g. `127.0.0.1:2380`; port 0 picks a free port. */
  readonly listenAddress: string;
  /**
   * Largest encoded Raft message sent or accepted. NB: a snapshot travels as one message for
   * now (no chunked snapshot stream yet), so this bounds the snapshot size too; a larger
   * message is dropped by the sender (logged, reported unreachable), and a peer that sends
   * one anyway is disconnected. All members must use the same value. Default 64 MiB.
   */
  readonly maxMessageBytes?: number;
  /**
   * Bytes queued to one peer (written, not yet taken by the kernel) beyond which further
   * messages to it are dropped and the peer is reported unreachable: a slow or stuck peer never
   * makes the queue grow without bound. A message always fits an empty queue, so the true
   * bound is max(this, maxMessageBytes + frame overhead). Default 64 MiB.
   */
  readonly maxQueuedBytesPerPeer?: number;
  /**
   * A connection whose handshake has not completed within this time is closed (the dialler's
   * answer, or the acceptor's first frame). Default 5000 ms.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * Backoff between dial attempts to a peer that failed: doubles from the min to the max, and
   * resets once a handshake succeeds. Messages to the peer meanwhile are dropped (and reported
   * unreachable). Defaults 50 ms and 1000 ms.
   */
  readonly reconnectDelayMinMs?: number;
  readonly reconnectDelayMaxMs?: number;
  /**
   * At most one ping per this interval per connection, sent along with messages (an idle
   * connection is not pinged), to measure the round-trip time. Default 1000 ms.
   */
  readonly pingIntervalMs?: number;
}

/** Default `maxMessageBytes`: 64 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Default `maxQueuedBytesPerPeer`: 64 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES_PER_PEER = 64 * 1024 * 1024;
/** Default `handshakeTimeoutMs`. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** Default `reconnectDelayMinMs`. */
export const DEFAULT_RECONNECT_DELAY_MIN_MS = 50;
/** Default `reconnectDelayMaxMs`. */
export const DEFAULT_RECONNECT_DELAY_MAX_MS = 1000;
/** Default `pingIntervalMs`. */
export const DEFAULT_PING_INTERVAL_MS = 1000;

/** Validated options with every default filled in. */
export type PeerLimits = Required<PeerTransportOptions>;

function int(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`peer transport: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

/** Checks the options and fills in defaults; throws a RangeError naming the bad one. */
export function peerLimitsOf(o: PeerTransportOptions): PeerLimits {
  const min = int('reconnectDelayMinMs', o.reconnectDelayMinMs ?? DEFAULT_RECONNECT_DELAY_MIN_MS, 1, 3_600_000);
  return Object.freeze({
    memberId: int('memberId', o.memberId, 1, Number.MAX_SAFE_INTEGER),
    clusterId: int('clusterId', o.clusterId, 0, Number.MAX_SAFE_INTEGER),
    listenAddress: o.listenAddress,
    // At most what a u32 length prefix (and a Buffer) can carry, with the kind byte.
    maxMessageBytes: int('maxMessageBytes', o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, 1024, 0x7fff_fff0),
    maxQueuedBytesPerPeer: int('maxQueuedBytesPerPeer', o.maxQueuedBytesPerPeer ?? DEFAULT_MAX_QUEUED_BYTES_PER_PEER, 1, Number.MAX_SAFE_INTEGER),
    handshakeTimeoutMs: int('handshakeTimeoutMs', o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, 1, 3_600_000),
    reconnectDelayMinMs: min,
    reconnectDelayMaxMs: int('reconnectDelayMaxMs', o.reconnectDelayMaxMs ?? DEFAULT_RECONNECT_DELAY_MAX_MS, min, 3_600_000),
    pingIntervalMs: int('pingIntervalMs', o.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS, 1, 3_600_000),
  });
}

/**
 * Splits a peer URL (`tcp://127.0.0.1:2380`, `ws://[::1]:2380/raft`) into what a dial needs.
 * `scheme` is the one scheme the calling transport speaks (without "://"). Throws a RangeError
 * for anything else, naming the URL: a peer address is configuration, checked where it enters.
 */
export function parsePeerUrl(url: string, scheme: 'tcp' | 'ws'): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RangeError(`bad peer URL "${url}": want ${scheme}://host:port`);
  }
  // http:// is accepted as an alias of tcp://, so that etcd's habits (and etcdctl, whose URL
  // parser accepts only http(s)) carry over: `member add --peer-urls=http://host:port`.
  const ok = u.protocol === `${scheme}:` || (scheme === 'tcp' && u.protocol === 'http:');
  if (!ok) throw new RangeError(`bad peer URL "${url}": this peer transport speaks ${scheme}://`);
  // NB: URL drops a ws port that is the scheme's default (80), so only tcp can lack one.
  const port = u.port === '' && scheme === 'ws' ? '80' : u.port;
  if (u.hostname === '' || port === '') throw new RangeError(`bad peer URL "${url}": want ${scheme}://host:port`);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port: Number(port) };
}
