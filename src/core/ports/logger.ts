/**
 * The logging port. The server binds it to a pino logger; tests bind a silent one. Fields are
 * structured: `log.info({ address }, 'listening')`.
 */
import type { ServiceIdentifier } from 'inversify';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const Logger: ServiceIdentifier<Logger> = Symbol.for('etcetera.Logger');

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
