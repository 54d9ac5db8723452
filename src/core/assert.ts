/**
 * Invariant checks. A failed assertion is a programmer error or on-disk corruption: the member
 * must stop rather than limp on, so this throws an `AssertionError` that nothing catches on
 * purpose.
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Asserts that `n` is a safe integer (revisions, log indexes, terms, lease IDs). */
export function assertSafeInt(n: number, what: string): void {
  if (!Number.isSafeInteger(n)) throw new AssertionError(`${what} is not a safe integer: ${n}`);
}

/** For exhaustive switches: `default: return unreachable(x)`. */
export function unreachable(x: never): never {
  throw new AssertionError(`unreachable: ${JSON.stringify(x)}`);
}
