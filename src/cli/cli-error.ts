/**
 * Exit codes and the one error type the command-line client raises for itself.
 *
 * The codes are etcdctl's (etcdctl/ctlv3/command/error.go), so scripts written against
 * etcdctl keep working: a server error is 1, bad input on stdin (txn) is 3, an output format
 * or sort option the command cannot honour is 4, bad positional arguments are 128. Flag
 * syntax errors (unknown flag, bad flag value) are 1, as cobra makes them in etcdctl.
 */
import { goQuote } from './go-format.js';

/** etcdctl's exit codes. */
export const ExitCode = {
  Success: 0,
  Error: 1,
  BadConnection: 2,
  InvalidInput: 3,
  BadFeature: 4,
  Interrupted: 5,
  IO: 6,
  BadArgs: 128,
} as const;
/** One of etcdctl's exit codes. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error that ends the command with `exitCode`. `run()` prints `Error: <message>` on
 * stderr unless `quiet` is set (used when the command already printed its own diagnostics,
 * as `endpoint status` does for each unreachable endpoint).
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly quiet = false,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * A flag value that does not parse (`--limit abc`). The top-level commands turn it into
 * cobra's `invalid argument "abc" for "--limit" flag: <reason>` (exit 1); inside a txn
 * request line it becomes `invalid txn request: <line>` (exit 3), as etcdctl does.
 */
export class FlagValueError extends Error {
  constructor(
    readonly flag: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`invalid argument ${goQuote(value)} for "--${flag}" flag: ${reason}`);
    this.name = 'FlagValueError';
  }
}

/**
 * The text `Error: …` shows for an error from the client library: the server's message
 * (etcd's exact text), except that a request that ran out of time reads
 * `context deadline exceeded`, as etcdctl prints it, whichever layer noticed the deadline.
 */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (code === 'DeadlineExceeded' || e.name === 'TimeoutError') return 'context deadline exceeded';
    return e.message;
  }
  return String(e);
}
