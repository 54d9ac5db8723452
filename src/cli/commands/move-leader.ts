/**
 * `move-leader TARGET_ID`: hands leadership to another member, the way etcdctl 3.4 does it.
 * MoveLeader must reach the leader, so each `--endpoints` member is asked for its Status in
 * turn (one client per endpoint) until one reports itself as the leader
 * (`header.memberId == leader`); MoveLeader then goes to that member.
 *
 * Exit codes and messages as etcdctl's: a missing or extra argument is exit 128 (`move-leader
 * command needs 1 argument`), as is an ID that is not hexadecimal (Go's ParseUint error) and
 * a list of endpoints without the leader (`no leader endpoint given at [a b]`); a Status that
 * fails stops the search with exit 1 and its error, and a refused transfer is exit 1 with the
 * server's message (`etcdserver: bad leader transferee` for a member that cannot lead).
 * NB: etcdctl runs every request under one `--command-timeout` deadline; etceteractl gives
 * each request its own.
 */
import type { Command } from 'commander';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import { clusterCall, type CliClient, type CommandContext } from '../context.js';
import { parseGoUint } from '../go-format.js';
import { memberPrinter } from '../member-printer.js';

/** The transferee argument: hexadecimal uint64, exit 128 with Go's error otherwise. */
function targetFromArg(arg: string): number {
  let id: bigint;
  try {
    id = parseGoUint(arg, 16);
  } catch (e) {
    throw new CliError(ExitCode.BadArgs, (e as Error).message);
  }
  if (id > BigInt(Number.MAX_SAFE_INTEGER)) {
    // NB: etcdctl would send it and get `bad leader transferee`; no etcetera member has it.
    throw new CliError(ExitCode.BadArgs, `member ID ${arg} is beyond 2^53: no etcetera member has it`);
  }
  return Number(id);
}

async function moveLeader(c: CommandContext, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'move-leader command needs 1 argument');
  const target = targetFromArg(args[0]!);
  c.printer(); // an unknown -w fails here, before any request (exit 4)
  const p = memberPrinter(c.globals.writeOut, c.io.stdout);
  const endpoints = c.globals.endpoints;
  if (endpoints.length === 0) throw new CliError(ExitCode.BadConnection, 'no available endpoints');
  let leaderClient: CliClient | undefined;
  let leaderId = 0;
  for (const endpoint of endpoints) {
    const client = await c.clientFor(endpoint);
    let status;
    try {
      status = await client.status(c.callOptions());
    } catch (e) {
      throw new CliError(ExitCode.Error, errorText(e));
    }
    if ((status.header?.memberId ?? 0) === status.leader) {
      leaderClient = client;
      leaderId = status.leader;
      break;
    }
  }
  if (leaderClient === undefined) {
    throw new CliError(ExitCode.BadArgs, `no leader endpoint given at [${endpoints.join(' ')}]`);
  }
  const send = clusterCall(leaderClient, 'moveLeader');
  let resp;
  try {
    resp = await send({ targetID: target }, c.callOptions());
  } catch (e) {
    throw new CliError(ExitCode.Error, errorText(e));
  }
  p.moveLeader(leaderId, target, resp);
}

/** Registers `move-leader` on the program. */
export function registerMoveLeader(program: Command, ctx: () => CommandContext): void {
  program
    .command('move-leader')
    .description('Transfers leadership to another etcetera cluster member.')
    .argument('[transferee-member-id]')
    .allowExcessArguments() // so that a wrong count gets etcdctl's message
    .action(async function (this: Command) {
      await moveLeader(ctx(), this.args);
    });
}
