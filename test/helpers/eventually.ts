// Retries an async check until it passes or a deadline: for end-to-end tests that wait on a
// cluster (an election, a catch-up) where there is no event to wait on from outside.

/** Runs `f` until it resolves; rethrows its last error after `timeoutMs`. */
export async function eventually<T>(f: () => Promise<T>, timeoutMs = 30_000, pauseMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}
