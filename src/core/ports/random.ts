/**
 * Randomness, injected. The raft core draws its election jitter from this port instead of
 * the global random generator, so that a simulation replays exactly from a seed and the core stays pure.
 * The server binds a `SeededRandom` (src/core/raft/seeded-random.ts) seeded once at start from
 * its own entropy; tests bind one with a fixed seed.
 */
import type { ServiceIdentifier } from 'inversify';

/** A source of uniformly distributed integers; deterministic for a given seed in tests. */
export interface Random {
  /**
   * A uniformly distributed integer in [0, bound). `bound` is a positive integer no larger than
   * 2^32; anything else is a programmer error.
   */
  nextInt(bound: number): number;
}

/** The DI token of the Random port. */
export const Random: ServiceIdentifier<Random> = Symbol.for('etcetera.Random');
