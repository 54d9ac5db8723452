/**
 * `member list | add NAME --peer-urls=U[,U] [--learner] | remove ID | update ID --peer-urls=…
 * | promote ID`, with etcdctl 3.4's arguments, messages and exit codes: member IDs are
 * hexadecimal (Go's `ParseUint(s, 16, 64)`: no `0x`, no sign); a missing or bad argument is
 * exit 128; a request the server refuses is exit 1 with the server's message
 * (`etcdserver: member not found`, `etcdserver: Peer URLs already exists`, …).
 *
 * NB: after `member add`, etcdctl 3.4 asks MemberList again (retrying until the answer comes
 * from the member that did the add) to build `ETCD_INITIAL_CLUSTER`. etceteractl builds it
 * from the MemberAdd response's own `members`, which the server fills from the same
 * committed configuration, so it saves a request and a failure point. Peer URLs are not
 * checked here (etcdctl's client rejects non-http schemes; etcetera's peers use tcp:// and
 * ws://): the server judges them.
 */
import type { Command } from 'commander';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import { clusterCall, type CommandContext } from '../context.js';
import { parseGoUint } from '../go-format.js';
import { memberPrinter, type MemberPrinter } from '../member-printer.js';

/** The largest member ID etcetera can hold exactly (IDs travel as JS numbers). */
const ID_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * etcdctl's member ID argument: hexadecimal uint64 (`bad member ID arg (…), expecting ID in
 * Hex`, exit 128 otherwise). NB: an ID beyond 2^53 is refused here too (exit 128): etcetera's
 * IDs are 48-bit, so no member has it, and a JS number could not carry it exactly.
 */
export function memberIdFromArg(arg: string): number {
  let id: bigint;
  try {
    id = parseGoUint(arg, 16);
  } catch (e) {
    throw new CliError(ExitCode.BadArgs, `bad member ID arg (${(e as Error).message}), expecting ID in Hex`);
  }
  if (id > ID_MAX) {
    throw new CliError(ExitCode.BadArgs, `bad member ID arg (${arg} is beyond 2^53, no etcetera member has it), expecting ID in Hex`);
  }
  return Number(id);
}

/** Looks like a URL: etcdctl hints `--peer-urls` for arguments starting with `http`. */
function looksLikeUrl(arg: string): boolean {
  return arg.toLowerCase().startsWith('http') || /^[a-z][a-z0-9+.-]*:\/\//i.test(arg);
}

function printerOf(c: CommandContext): MemberPrinter {
  c.printer(); // an unknown -w fails here, before any request (exit 4), as in etcdctl
  return memberPrinter(c.globals.writeOut, c.io.stdout);
}

/** Runs one membership request; a server refusal is exit 1 with the server's words. */
async function request<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(ExitCode.Error, errorText(e));
  }
}

async function list(c: CommandContext): Promise<void> {
  const p = printerOf(c);
  const client = await c.client();
  const resp = await request(() => clusterCall(client, 'memberList')(c.callOptions()));
  p.list(resp);
}

async function add(c: CommandContext, args: string[], peerUrls: string, learner: boolean): Promise<void> {
  if (args.length < 1) throw new CliError(ExitCode.BadArgs, 'member name not provided');
  if (args.length > 1) {
    let msg = 'too many arguments';
    for (const a of args) if (looksLikeUrl(a)) msg += `, did you mean --peer-urls=${a}`;
    throw new CliError(ExitCode.BadArgs, msg);
  }
  if (peerUrls === '') throw new CliError(ExitCode.BadArgs, 'member peer urls not provided');
  const name = args[0]!;
  const p = printerOf(c);
  const client = await c.client();
  const resp = await request(() => clusterCall(client, 'memberAdd')({ peerURLs: peerUrls.split(','), isLearner: learner }, c.callOptions()));
  p.add(resp, name, peerUrls);
}

function idArg(args: string[]): number {
  if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'member ID is not provided');
  return memberIdFromArg(args[0]!);
}

async function remove(c: CommandContext, args: string[]): Promise<void> {
  const id = idArg(args);
  const p = printerOf(c);
  const client = await c.client();
  p.remove(id, await request(() => clusterCall(client, 'memberRemove')({ ID: id }, c.callOptions())));
}

async function update(c: CommandContext, args: string[], peerUrls: string): Promise<void> {
  const id = idArg(args);
  if (peerUrls === '') throw new CliError(ExitCode.BadArgs, 'member peer urls not provided');
  const p = printerOf(c);
  const client = await c.client();
  p.update(id, await request(() => clusterCall(client, 'memberUpdate')({ ID: id, peerURLs: peerUrls.split(',') }, c.callOptions())));
}

async function promote(c: CommandContext, args: string[]): Promise<void> {
  const id = idArg(args);
  const p = printerOf(c);
  const client = await c.client();
  p.promote(id, await request(() => clusterCall(client, 'memberPromote')({ ID: id }, c.callOptions())));
}

interface PeerFlags {
  peerUrls?: string;
  learner?: boolean;
}

/** Registers `member` and its subcommands on the program. */
export function registerMember(program: Command, ctx: () => CommandContext): void {
  const member = program
    .command('member')
    .description('Membership related commands')
    .allowExcessArguments()
    // `member` alone (or with an unknown subcommand) prints its help and succeeds, as in etcdctl.
    .action(function (this: Command) {
      this.outputHelp();
    });
  member
    .command('add')
    .description('Adds a member into the cluster')
    .argument('[memberName]')
    .allowExcessArguments() // so that a wrong count gets etcdctl's message
    .option('--peer-urls <urls>', 'comma separated peer URLs for the new member.')
    .option('--learner', 'indicates if the new member is raft learner')
    .action(async function (this: Command) {
      const o = this.opts<PeerFlags>();
      await add(ctx(), this.args, o.peerUrls ?? '', o.learner === true);
    });
  member
    .command('remove')
    .description('Removes a member from the cluster')
    .argument('[memberID]')
    .allowExcessArguments()
    .action(async function (this: Command) {
      await remove(ctx(), this.args);
    });
  member
    .command('update')
    .description('Updates a member in the cluster')
    .argument('[memberID]')
    .allowExcessArguments()
    .option('--peer-urls <urls>', 'comma separated peer URLs for the updated member.')
    .action(async function (this: Command) {
      await update(ctx(), this.args, this.opts<PeerFlags>().peerUrls ?? '');
    });
  member
    .command('list')
    .description('Lists all members in the cluster')
    .allowExcessArguments() // etcdctl ignores arguments here
    .action(async () => list(ctx()));
  member
    .command('promote')
    .description('Promotes a non-voting member in the cluster')
    .argument('[memberID]')
    .allowExcessArguments()
    .action(async function (this: Command) {
      await promote(ctx(), this.args);
    });
}
