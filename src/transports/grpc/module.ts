/** The grpc listener's factory, for the composition root. */
import type { Logger } from '../../core/ports/logger.js';
import type { Services } from '../../core/ports/services.js';
import { GrpcTransport, type GrpcListenerOptions } from './grpc-transport.js';

/** Builds a grpc client listener (etcd's gRPC API + HTTP endpoints) over `services`; call `listen()` to start it. */
export function createGrpcTransport(services: Services, options: GrpcListenerOptions, logger: Logger): GrpcTransport {
  return new GrpcTransport(services, options, logger);
}
