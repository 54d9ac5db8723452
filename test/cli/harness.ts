// Runs etceteractl in-process for the CLI tests: captured stdout/stderr, a given stdin and
// environment, a FakeCluster as the client, and a fake clock advancing 1.5 ms per reading.
import { run } from '../../src/cli/main.js';
import { FakeCluster } from './fake-client.js';

/** What one run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

/** Options of `cli()`. */
export interface CliOptions {
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  cluster?: FakeCluster;
}

function sink(parts: Buffer[]): { write(chunk: string | Uint8Array): boolean } {
  return {
    write(chunk) {
      parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
      return true;
    },
  };
}

/** Runs `etceteractl ...argv` against `options.cluster` (a fresh one if absent). */
export async function cli(argv: string[], options: CliOptions = {}): Promise<CliResult> {
  const cluster = options.cluster ?? new FakeCluster();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdin = options.stdin === undefined ? [] : [typeof options.stdin === 'string' ? Buffer.from(options.stdin) : options.stdin];
  let t = 1_000_000_000n;
  const code = await run(
    argv,
    { stdout: sink(out), stderr: sink(err), stdin: (async function* () { yield* stdin; })(), env: options.env ?? {} },
    {
      clientFactory: cluster.factory,
      nowNs: () => (t += 1_500_000n),
    },
  );
  const stdoutBytes = Buffer.concat(out);
  return { code, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes };
}
