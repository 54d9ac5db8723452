/** The ws listener's factory, for the composition root. */
import type { Logger } from '../../core/ports/logger.js';
import type { Services } from '../../core/ports/services.js';
import type { ListenerOptions } from '../codec/options.js';
import { WsTransport } from './ws-transport.js';

/** Builds a WebSocket client listener over `services`; call `listen()` to start it. */
export function createWsTransport(services: Services, options: ListenerOptions, logger: Logger): WsTransport {
  return new WsTransport(services, options, logger);
}
