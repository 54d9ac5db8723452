/**
 * Wall time, injected. Only the shell reads it; the core receives `nowMs` as an argument.
 */
import type { ServiceIdentifier } from 'inversify';

export interface Clock {
  nowMs(): number;
}

export const Clock: ServiceIdentifier<Clock> = Symbol.for('etcetera.Clock');
