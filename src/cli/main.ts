/**
 * etceteractl: the command-line client, mirroring etcdctl 3.4's commands, flags, output
 * formats and exit codes where the concept is the same.
 *
 * `run(argv, io)` is the whole program as a function (tests call it in-process with
 * captured streams and a fake client); bin/etceteractl calls it with the process's own.
 *
 * Global flags (each also read from the environment as ETCETERACTL_<FLAG>, e.g.
 * ETCETERACTL_ENDPOINTS; a flag on the command line wins):
 *   --endpoints a,b        default ws://127.0.0.1:2381; `host:port` means ws://host:port
 *   --dial-timeout 2s      Go duration
 *   --command-timeout 5s   Go duration, per request
 *   -w, --write-out simple|json|fields|table
 *   --hex                  keys and values as \xNN escapes (simple format)
 */
import { Command, CommanderError } from 'commander';
import { CliError, ExitCode, FlagValueError, errorText } from './cli-error.js';
import { registerAlarm } from './commands/alarm.js';
import { registerCompaction } from './commands/compaction.js';
import { registerDefrag } from './commands/defrag.js';
import { registerDel } from './commands/del.js';
import { registerEndpoint } from './commands/endpoint.js';
import { registerGet } from './commands/get.js';
import { registerLease } from './commands/lease.js';
import { registerMember } from './commands/member.js';
import { registerMoveLeader } from './commands/move-leader.js';
import { registerPut } from './commands/put.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerTxn } from './commands/txn.js';
import { registerWatch } from './commands/watch.js';
import { CommandContext, type ClientFactory, type CliClient, type CliIo, type GlobalOptions } from './context.js';
import { durationFlagMs, normalizeBooleanFlags } from './flags.js';
import { parseGoBool } from './go-format.js';

/** Re-exported so that callers of `run()` need only this module. */
export type { CliIo, ClientFactory, CliClient } from './context.js';
/** Re-exported: the exit codes `run()` returns. */
export { ExitCode } from './cli-error.js';

/** The program's name in messages. */
const NAME = 'etceteractl';

/** Where etceteractl connects when neither `--endpoints` nor ETCETERACTL_ENDPOINTS is set. */
export const DEFAULT_ENDPOINT = 'ws://127.0.0.1:2381';

/** What `run()` may be given besides argv and streams; all optional. */
export interface RunOptions {
  /** Makes the client (default: the client library's `Client`). */
  clientFactory?: ClientFactory;
  /** Monotonic clock in nanoseconds (default `process.hrtime.bigint`). */
  nowNs?: () => bigint;
}

/** The client library, loaded on first use so that commands failing early never load it. */
const defaultClientFactory: ClientFactory = async (options) => {
  const { Client } = await import('../client/client.js');
  return new Client(options) as CliClient;
};

interface RawGlobals {
  endpoints?: string[];
  dialTimeout?: string;
  commandTimeout?: string;
  writeOut?: string;
  hex?: boolean;
}

function splitEndpoints(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Flags first, then ETCETERACTL_* variables, then defaults. Throws for a bad value. */
function resolveGlobals(raw: RawGlobals, env: CliIo['env']): GlobalOptions {
  const fromEnv = (flag: string): string | undefined => env[`ETCETERACTL_${flag.toUpperCase().replace(/-/g, '_')}`];
  const endpointsEnv = fromEnv('endpoints');
  const dial = raw.dialTimeout ?? fromEnv('dial-timeout') ?? '2s';
  const command = raw.commandTimeout ?? fromEnv('command-timeout') ?? '5s';
  let hex = raw.hex === true;
  const hexEnv = fromEnv('hex');
  if (raw.hex === undefined && hexEnv !== undefined) {
    try {
      hex = parseGoBool(hexEnv);
    } catch (e) {
      throw new CliError(ExitCode.Error, `invalid value ${JSON.stringify(hexEnv)} for ETCETERACTL_HEX: ${(e as Error).message}`);
    }
  }
  return {
    endpoints: raw.endpoints ?? (endpointsEnv !== undefined ? splitEndpoints(endpointsEnv) : [DEFAULT_ENDPOINT]),
    dialTimeoutMs: durationFlagMs('dial-timeout', dial),
    commandTimeoutMs: durationFlagMs('command-timeout', command),
    writeOut: raw.writeOut ?? fromEnv('write-out') ?? 'simple',
    hex,
  };
}

/** Builds the commander program; `makeContext` is called once the flags are parsed. */
function buildProgram(io: CliIo, makeContext: (globals: GlobalOptions) => CommandContext): Command {
  let ctx: CommandContext | undefined;
  const program = new Command(NAME)
    .description('A simple command line client for etcetera (etcdctl-compatible).')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => {}, // run() prints errors itself, in etcdctl's words
    })
    .helpCommand(false)
    .configureHelp({ showGlobalOptions: true })
    .option('--endpoints <list>', `endpoints (ws://host:port, tcp://host:port; host:port means ws), comma-separated (default ${DEFAULT_ENDPOINT})`, (v: string, prev?: string[]) => [
      ...(prev ?? []),
      ...splitEndpoints(v),
    ])
    .option('--dial-timeout <duration>', 'dial timeout for client connections (default 2s)')
    .option('--command-timeout <duration>', 'timeout for short running command (excluding dial timeout) (default 5s)')
    .option('-w, --write-out <format>', 'set the output format (fields, json, simple, table) (default "simple")')
    .option('--hex', 'print byte strings as hex encoded strings');
  program.hook('preAction', () => {
    ctx = makeContext(resolveGlobals(program.opts<RawGlobals>(), io.env));
  });
  const current = (): CommandContext => {
    if (ctx === undefined) throw new Error('etceteractl: command ran before its context was made');
    return ctx;
  };
  registerGet(program, current);
  registerPut(program, current);
  registerDel(program, current);
  registerTxn(program, current);
  registerCompaction(program, current);
  registerEndpoint(program, current);
  registerLease(program, current);
  registerWatch(program, current);
  registerMember(program, current);
  registerMoveLeader(program, current);
  registerSnapshot(program, current);
  registerAlarm(program, current);
  registerDefrag(program, current);
  return program;
}

/** etcdctl's (cobra/pflag's) words for commander's parse errors. */
function commanderMessage(e: CommanderError): string {
  const first = e.message.split('\n')[0]!.replace(/^error: /, '');
  switch (e.code) {
    case 'commander.unknownOption': {
      const flag = /'([^']+)'/.exec(first)?.[1] ?? first;
      return flag.startsWith('--') ? `unknown flag: ${flag}` : `unknown shorthand flag: '${flag.slice(1, 2)}' in ${flag}`;
    }
    case 'commander.optionMissingArgument': {
      const flag = /(--[a-z][a-z-]*)/.exec(first)?.[1] ?? first;
      return `flag needs an argument: ${flag}`;
    }
    case 'commander.unknownCommand': {
      const name = /'([^']+)'/.exec(first)?.[1] ?? first;
      return `unknown command ${JSON.stringify(name)} for ${JSON.stringify(NAME)}\nRun '${NAME} --help' for usage.`;
    }
    default:
      return first;
  }
}

/**
 * Runs etceteractl with `argv` (the arguments after the program name) and returns the exit
 * code: 0 success, 1 error (server error, timeout, bad flag), 2 no usable endpoint,
 * 3 malformed txn input, 4 unsupported output format or option, 128 bad arguments.
 * Errors are printed on `io.stderr` as `Error: <message>`. Never throws.
 */
export async function run(argv: readonly string[], io: CliIo, options: RunOptions = {}): Promise<number> {
  const factory = options.clientFactory ?? defaultClientFactory;
  const nowNs = options.nowNs ?? (() => process.hrtime.bigint());
  let ctx: CommandContext | undefined;
  const program = buildProgram(io, (globals) => (ctx = new CommandContext(io, globals, factory, nowNs)));
  try {
    if (argv.length === 0) {
      io.stdout.write(program.helpInformation());
      return ExitCode.Success;
    }
    await program.parseAsync(normalizeBooleanFlags(argv), { from: 'user' });
    return ExitCode.Success;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') {
        return ExitCode.Success;
      }
      io.stderr.write(`Error: ${commanderMessage(e)}\n`);
      return ExitCode.Error;
    }
    if (e instanceof CliError) {
      if (!e.quiet) io.stderr.write(`Error: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof FlagValueError) {
      io.stderr.write(`Error: ${e.message}\n`);
      return ExitCode.Error;
    }
    io.stderr.write(`Error: ${errorText(e)}\n`);
    return ExitCode.Error;
  } finally {
    await ctx?.closeAll();
  }
}
