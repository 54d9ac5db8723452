/** The peer transports' factory, for the composition root. */
import type { Logger } from '../../core/ports/logger.js';
import type { PeerTransport } from '../../core/ports/peer-transport.js';
import type { PeerTransportOptions } from './peer-options.js';
import { TcpPeerTransport } from './tcp-peer-transport.js';
import { WsPeerTransport } from './ws-peer-transport.js';

export type { PeerTransportOptions } from './peer-options.js';

/** The peer transports a member can be configured with (the scheme of its peer URLs). */
export type PeerTransportKind = 'tcp' | 'ws';

const factories = {
  tcp: (o, l) => new TcpPeerTransport(o, l),
  ws: (o, l) => new WsPeerTransport(o, l),
} satisfies Record<PeerTransportKind, (options: PeerTransportOptions, logger: Logger) => PeerTransport>;

/**
 * Builds the peer transport of `kind`; call `start()` to listen. Every member of a cluster must
 * use the same kind (and the same maxMessageBytes): peer URLs name it by their scheme.
 * @throws RangeError on a bad option.
 */
export function createPeerTransport(kind: PeerTransportKind, options: PeerTransportOptions, logger: Logger): PeerTransport {
  return factories[kind](options, logger);
}
