/**
 * `put KEY [VALUE]`: one Put request; the value comes from stdin when it is not an argument.
 * The flag → request mapping is shared with the `put` lines of `txn`.
 */
import type { Command } from 'commander';
import type { PutRequest } from '../../core/api/kv.js';
import { utf8 } from '../bytes.js';
import { CliError, ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { goQuote, parseGoInt } from '../go-format.js';

/** Flags of `put` as commander hands them over. */
export interface PutFlags {
  /** Lease ID in hexadecimal, as `lease grant` prints it. */
  lease?: string;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

/** Declares `put`'s flags on `cmd`. */
export function addPutOptions(cmd: Command): Command {
  return cmd
    .option('--lease <id>', 'lease ID (in hexadecimal) to attach to the key (default "0")')
    .option('--prev-kv', 'return the previous key-value pair before modification')
    .option('--ignore-value', 'updates the key using its current value')
    .option('--ignore-lease', 'updates the key using its current lease');
}

const NEEDS_ARGS = 'put command needs 1 argument and input from stdin or 2 arguments';

/**
 * Whether `put ARGS` takes its value from stdin: only when the key is the sole argument and
 * `--ignore-value` is off (etcdctl reads nothing otherwise).
 */
export function putReadsStdin(args: readonly unknown[], f: PutFlags): boolean {
  return args.length === 1 && f.ignoreValue !== true;
}

/**
 * The Put request for `put ARGS FLAGS`, with etcdctl's checks in its order (all exit 128).
 * `stdinValue` is what stdin held when `putReadsStdin`; an empty stdin is an error, as in
 * etcdctl (an empty value must be given as an argument: `put k ""`).
 */
export function buildPutRequest(args: readonly Uint8Array[], f: PutFlags, stdinValue?: Uint8Array): PutRequest {
  if (args.length === 0) throw new CliError(ExitCode.BadArgs, NEEDS_ARGS);
  if (f.ignoreValue === true && args.length > 1) {
    throw new CliError(ExitCode.BadArgs, "put command needs only 1 argument when 'ignore-value' is set");
  }
  const req: PutRequest = { key: args[0]! };
  if (f.ignoreValue !== true) {
    const value = args.length > 1 ? args[1]! : stdinValue;
    if (value === undefined || (args.length === 1 && value.length === 0)) throw new CliError(ExitCode.BadArgs, NEEDS_ARGS);
    req.value = value;
  }
  const leaseText = f.lease ?? '0';
  let lease: number;
  try {
    const id = parseGoInt(leaseText, 16);
    lease = Number(id);
    // Lease IDs are numbers in etcetera's API, so it issues them below 2^53.
    if (!Number.isSafeInteger(lease)) throw new Error(`parsing ${goQuote(leaseText)}: beyond 2^53, no etcetera lease has it`);
  } catch (e) {
    throw new CliError(ExitCode.BadArgs, `bad lease ID (${(e as Error).message}), expecting ID in Hex`);
  }
  if (lease !== 0) req.lease = lease;
  if (f.prevKv === true) req.prevKv = true;
  if (f.ignoreValue === true) req.ignoreValue = true;
  if (f.ignoreLease === true) req.ignoreLease = true;
  return req;
}

/** Registers `put` on the program. */
export function registerPut(program: Command, ctx: () => CommandContext): void {
  addPutOptions(
    program
      .command('put')
      .description('Puts the given key into the store (<value> can also be given from stdin)')
      .argument('[key]')
      .argument('[value]')
      .allowExcessArguments(), // etcdctl ignores a third argument
  ).action(async function (this: Command) {
    const c = ctx();
    const args = this.args;
    const f = this.opts<PutFlags>();
    const bytes = args.map(utf8);
    const stdinValue = args.length > 0 && putReadsStdin(args, f) ? await c.readStdin() : undefined;
    const req = buildPutRequest(bytes, f, stdinValue);
    const printer = c.printer();
    const resp = await (await c.client()).put(req, c.callOptions());
    printer.put(resp);
  });
}
