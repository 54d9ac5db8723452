/**
 * `get KEY [RANGE_END]`: one Range request. The flag → request mapping is shared with the
 * `get` lines of `txn` (see txn-parser.ts), so both accept the same flags and fail alike.
 */
import type { Command } from 'commander';
import { SortOrder, SortTarget, type RangeRequest } from '../../core/api/kv.js';
import { FROM_KEY_END, prefixRangeEnd, utf8 } from '../bytes.js';
import { CliError, ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { intFlag } from '../flags.js';
import { goQuote } from '../go-format.js';

/** Flags of `get` as commander hands them over (values unparsed). */
export interface GetFlagsRaw {
  consistency?: string;
  order?: string;
  sortBy?: string;
  limit?: string;
  prefix?: boolean;
  fromKey?: boolean;
  rev?: string;
  keysOnly?: boolean;
  countOnly?: boolean;
  printValueOnly?: boolean;
  minCreateRev?: string;
  maxCreateRev?: string;
  minModRev?: string;
  maxModRev?: string;
}

/** Flags of `get` with numbers parsed. */
export interface GetFlags {
  consistency: string;
  order: string;
  sortBy: string;
  limit: number;
  prefix: boolean;
  fromKey: boolean;
  rev: number;
  keysOnly: boolean;
  countOnly: boolean;
  printValueOnly: boolean;
  minCreateRev: number;
  maxCreateRev: number;
  minModRev: number;
  maxModRev: number;
}

/** Declares `get`'s flags (etcdctl 3.5's set, a superset of 3.4's) on `cmd`. */
export function addGetOptions(cmd: Command): Command {
  return cmd
    .option('--consistency <l|s>', 'Linearizable(l) or Serializable(s) (default "l")')
    .option('--order <order>', 'Order of results; ASCEND or DESCEND (ASCEND by default)')
    .option('--sort-by <target>', 'Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION')
    .option('--limit <n>', 'Maximum number of results (default 0: no limit)')
    .option('--prefix', 'Get keys with matching prefix')
    .option('--from-key', 'Get keys that are greater than or equal to the given key using byte compare')
    .option('--rev <revision>', 'Specify the kv revision (default 0: latest)')
    .option('--keys-only', 'Get only the keys')
    .option('--count-only', 'Get only the count (needs --write-out=fields)')
    .option('--print-value-only', 'Only write values when using the "simple" output format')
    .option('--min-create-rev <revision>', 'Minimum create revision')
    .option('--max-create-rev <revision>', 'Maximum create revision')
    .option('--min-mod-rev <revision>', 'Minimum modification revision')
    .option('--max-mod-rev <revision>', 'Maximum modification revision');
}

/** Parses the numeric flags; throws FlagValueError for a value pflag would reject. */
export function getFlags(raw: GetFlagsRaw): GetFlags {
  return {
    consistency: raw.consistency ?? 'l',
    order: raw.order ?? '',
    sortBy: raw.sortBy ?? '',
    limit: intFlag('limit', raw.limit),
    prefix: raw.prefix === true,
    fromKey: raw.fromKey === true,
    rev: intFlag('rev', raw.rev),
    keysOnly: raw.keysOnly === true,
    countOnly: raw.countOnly === true,
    printValueOnly: raw.printValueOnly === true,
    minCreateRev: intFlag('min-create-rev', raw.minCreateRev),
    maxCreateRev: intFlag('max-create-rev', raw.maxCreateRev),
    minModRev: intFlag('min-mod-rev', raw.minModRev),
    maxModRev: intFlag('max-mod-rev', raw.maxModRev),
  };
}

const SORT_TARGETS: Record<string, SortTarget> = {
  '': SortTarget.KEY,
  CREATE: SortTarget.CREATE,
  KEY: SortTarget.KEY,
  MODIFY: SortTarget.MOD,
  VALUE: SortTarget.VALUE,
  VERSION: SortTarget.VERSION,
};

/**
 * The Range request for `get ARGS FLAGS`, with etcdctl's checks in etcdctl's order (bad
 * arguments exit 128, an unknown consistency or sort option exit 4). `--prefix` on an empty
 * key and `--from-key` on an empty key both mean every key, as in etcdctl.
 */
export function buildRangeRequest(args: readonly Uint8Array[], f: GetFlags): RangeRequest {
  if (args.length === 0) {
    throw new CliError(ExitCode.BadArgs, 'get command needs one argument as key and an optional argument as range_end');
  }
  if (f.prefix && f.fromKey) {
    throw new CliError(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  }
  const req: RangeRequest = { key: args[0]! };
  if (f.consistency === 's') req.serializable = true;
  else if (f.consistency !== 'l') {
    throw new CliError(ExitCode.BadFeature, `unknown consistency flag ${goQuote(f.consistency)}`);
  }
  if (args.length > 1) {
    if (f.prefix || f.fromKey) {
      throw new CliError(ExitCode.BadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
    }
    req.rangeEnd = args[1]!;
  }
  if (f.limit !== 0) req.limit = f.limit;
  if (f.rev > 0) req.revision = f.rev;

  let order: SortOrder;
  switch (f.order.toUpperCase()) {
    case 'ASCEND': order = SortOrder.ASCEND; break;
    case 'DESCEND': order = SortOrder.DESCEND; break;
    case '': order = SortOrder.NONE; break;
    default: throw new CliError(ExitCode.BadFeature, `bad sort order ${f.order}`);
  }
  const target = SORT_TARGETS[f.sortBy.toUpperCase()];
  if (target === undefined) throw new CliError(ExitCode.BadFeature, `bad sort target ${f.sortBy}`);
  // Keys come back in ascending key order anyway; asking for it would make the server
  // fetch the whole range before applying the limit (clientv3 drops it the same way).
  if (target === SortTarget.KEY && order === SortOrder.ASCEND) order = SortOrder.NONE;
  if (order !== SortOrder.NONE) req.sortOrder = order;
  if (target !== SortTarget.KEY) req.sortTarget = target;

  if (f.prefix) {
    if (req.key.length === 0) {
      req.key = FROM_KEY_END;
      req.rangeEnd = FROM_KEY_END;
    } else req.rangeEnd = prefixRangeEnd(req.key);
  }
  if (f.fromKey) {
    if (req.key.length === 0) req.key = FROM_KEY_END;
    req.rangeEnd = FROM_KEY_END;
  }
  if (f.keysOnly) req.keysOnly = true;
  if (f.countOnly) req.countOnly = true;
  if (f.minCreateRev !== 0) req.minCreateRevision = f.minCreateRev;
  if (f.maxCreateRev !== 0) req.maxCreateRevision = f.maxCreateRev;
  if (f.minModRev !== 0) req.minModRevision = f.minModRev;
  if (f.maxModRev !== 0) req.maxModRevision = f.maxModRev;
  return req;
}

/** Registers `get` on the program. */
export function registerGet(program: Command, ctx: () => CommandContext): void {
  addGetOptions(
    program
      .command('get')
      .description('Gets the key or a range of keys')
      .argument('[key]')
      .argument('[range_end]')
      .allowExcessArguments(), // etcdctl ignores a third argument
  ).action(async function (this: Command) {
    const c = ctx();
    const args = this.args;
    const raw = this.opts<GetFlagsRaw>();
    const f = getFlags(raw);
    const req = buildRangeRequest(args.map(utf8), f);
    const format = c.globals.writeOut;
    const printer = c.printer({ valueOnly: f.printValueOnly });
    const resp = await (await c.client()).range(req, c.callOptions());
    // etcdctl checks these two after the request, so a server error still comes first.
    if (f.countOnly && format !== 'fields') {
      throw new CliError(ExitCode.BadArgs, '--count-only is only for `--write-out=fields`');
    }
    if (f.printValueOnly && format !== 'simple') {
      throw new CliError(ExitCode.BadArgs, 'print-value-only is only for `--write-out=simple`');
    }
    printer.get(resp);
  });
}
