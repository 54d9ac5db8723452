/**
 * A tiny seeded pseudo-random generator (mulberry32) implementing the `Random` port. Not for
 * cryptography: it only spreads election timeouts and drives deterministic simulations, where
 * the same seed must give the same sequence on every platform (32-bit integer arithmetic only).
 */
import { assert } from '../assert.js';
import type { Random } from '../ports/random.js';

/** See the file comment. Two instances with the same seed produce identical sequences. */
export class SeededRandom implements Random {
  // Invariant: a 32-bit unsigned integer.
  private state: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `seed must be a safe integer: ${seed}`);
    // Fold the high bits in so that seeds above 2^32 still differ.
    this.state = (seed ^ Math.floor(seed / 4294967296)) >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  nextInt(bound: number): number {
    assert(Number.isInteger(bound) && bound > 0 && bound <= 4294967296, `bad bound ${bound}`);
    // Multiply-shift maps 32 random bits onto [0, bound); the bias (< bound / 2^32) is
    // irrelevant for election jitter and simulations.
    return Math.floor((this.nextUint32() / 4294967296) * bound);
  }
}
