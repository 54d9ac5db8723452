/**
 * `del KEY [RANGE_END]`: one DeleteRange request; prints the number of keys deleted. The
 * flag → request mapping is shared with the `del` lines of `txn`.
 */
import type { Command } from 'commander';
import type { DeleteRangeRequest } from '../../core/api/kv.js';
import { FROM_KEY_END, prefixRangeEnd, utf8 } from '../bytes.js';
import { CliError, ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';

/** Flags of `del` as commander hands them over. */
export interface DelFlags {
  prefix?: boolean;
  fromKey?: boolean;
  prevKv?: boolean;
}

/** Declares `del`'s flags on `cmd`. */
export function addDelOptions(cmd: Command): Command {
  return cmd
    .option('--prefix', 'delete keys with matching prefix')
    .option('--prev-kv', 'return deleted key-value pairs')
    .option('--from-key', 'delete keys that are greater than or equal to the given key using byte compare');
}

/** The DeleteRange request for `del ARGS FLAGS`, with etcdctl's checks (exit 128). */
export function buildDeleteRequest(args: readonly Uint8Array[], f: DelFlags): DeleteRangeRequest {
  if (args.length === 0 || args.length > 2) {
    throw new CliError(ExitCode.BadArgs, 'del command needs one argument as key and an optional argument as range_end');
  }
  const prefix = f.prefix === true;
  const fromKey = f.fromKey === true;
  if (prefix && fromKey) {
    throw new CliError(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  }
  const req: DeleteRangeRequest = { key: args[0]! };
  if (args.length > 1) {
    if (prefix || fromKey) {
      throw new CliError(ExitCode.BadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
    }
    req.rangeEnd = args[1]!;
  }
  if (prefix) {
    if (req.key.length === 0) {
      req.key = FROM_KEY_END;
      req.rangeEnd = FROM_KEY_END;
    } else req.rangeEnd = prefixRangeEnd(req.key);
  }
  if (f.prevKv === true) req.prevKv = true;
  if (fromKey) {
    if (req.key.length === 0) req.key = FROM_KEY_END;
    req.rangeEnd = FROM_KEY_END;
  }
  return req;
}

/** Registers `del` on the program. */
export function registerDel(program: Command, ctx: () => CommandContext): void {
  addDelOptions(
    program
      .command('del')
      .description('Removes the specified key or range of keys [key, range_end)')
      .argument('[key]')
      .argument('[range_end]')
      .allowExcessArguments(), // so that too many arguments get etcdctl's message
  ).action(async function (this: Command) {
    const c = ctx();
    const args = this.args;
    const f = this.opts<DelFlags>();
    const req = buildDeleteRequest(args.map(utf8), f);
    const printer = c.printer();
    const resp = await (await c.client()).deleteRange(req, c.callOptions());
    printer.del(resp);
  });
}
