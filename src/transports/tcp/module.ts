/** The tcp listener's factory, for the composition root. */
import type { Logger } from '../../core/ports/logger.js';
import type { Services } from '../../core/ports/services.js';
import type { ListenerOptions } from '../codec/options.js';
import { TcpTransport } from './tcp-transport.js';

/** Builds a tcp client listener over `services`; call `listen()` to start it. */
export function createTcpTransport(services: Services, options: ListenerOptions, logger: Logger): TcpTransport {
  return new TcpTransport(services, options, logger);
}
