/**
 * The V8 flags the server runs with. V8 reads the young generation's size only at start-up, so
 * these go on node's command line: `bin/etcetera`'s shebang, `npm start`, the test harness and
 * scripts/cluster.mjs all pass them (test/server/node-flags.test.ts keeps them in step).
 *
 * `--max-semi-space-size=4` (MB, V8's default is 16): each of the two semi-spaces of the young
 * generation stays resident once grown, so the default costs ~32 MB of RSS under load. At 4 MB
 * a server that took 100,000 puts at 256 in flight grew ~25 MB less, for ~3% more CPU per put
 * (more scavenges; bench/RESULTS.md). The old generation's growth is capped from main.ts
 * (`--heap-growing-percent`), which V8 also honours when set at run time.
 */
export const NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=4']);
