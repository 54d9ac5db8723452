/**
 * `lease grant TTL | revoke ID | timetolive ID [--keys] | list | keep-alive ID [--once]`, with
 * etcdctl 3.4's arguments, messages and exit codes: IDs are hexadecimal (`%016x` on output),
 * TTLs decimal seconds; a bad argument is exit 128; a failed grant or revoke is exit 1
 * (`failed to grant lease (…)`); a failed timetolive, list or keep-alive is exit 2 with the
 * server's message. `keep-alive` prints every renewal until the lease is gone, then
 * `lease … expired or revoked.` (simple format) and exit 0; `--once` renews once and fails
 * with `etcdserver: requested lease not found` (exit 2) when the lease is gone.
 */
import type { Command } from 'commander';
import { MAX_LEASE_TTL_SEC } from '../../core/api/lease.js';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import type { CliClient, CommandContext } from '../context.js';
import { parseGoInt } from '../go-format.js';
import { leaseHex, leasePrinter, type LeasePrinter } from '../lease-printer.js';

/** etcdctl's `leaseFromArgs`: a hexadecimal int64; exit 128 otherwise. */
export function leaseIdFromArg(arg: string): number {
  let id: bigint;
  try {
    id = parseGoInt(arg, 16);
  } catch (e) {
    throw new CliError(ExitCode.BadArgs, `bad lease ID arg (${(e as Error).message}), expecting ID in Hex`);
  }
  const n = Number(id);
  if (!Number.isSafeInteger(n)) {
    throw new CliError(ExitCode.BadArgs, `bad lease ID arg (${arg} is beyond 2^53, no etcetera lease has it), expecting ID in Hex`);
  }
  return n;
}

/** etcdctl's TTL argument: a decimal int64; exit 128 otherwise. */
export function ttlFromArg(arg: string): number {
  let ttl: bigint;
  try {
    ttl = parseGoInt(arg, 10);
  } catch (e) {
    throw new CliError(ExitCode.BadArgs, `bad TTL (${(e as Error).message})`);
  }
  // Beyond the largest TTL the server refuses it anyway; below 0 it raises it to its minimum.
  if (ttl > BigInt(MAX_LEASE_TTL_SEC)) return MAX_LEASE_TTL_SEC + 1;
  if (ttl < 0n) return 0;
  return Number(ttl);
}

/** The client's lease call `name`; a client without it cannot run lease commands. */
function need<K extends 'leaseGrant' | 'leaseRevoke' | 'leaseTimeToLive' | 'leaseLeases' | 'lease'>(
  client: CliClient,
  name: K,
): NonNullable<CliClient[K]> {
  const f = client[name];
  if (f === undefined) throw new CliError(ExitCode.BadFeature, 'this client does not support leases');
  return (f as (...args: unknown[]) => unknown).bind(client) as NonNullable<CliClient[K]>;
}

function printerOf(c: CommandContext): LeasePrinter {
  c.printer(); // an unknown -w fails here, before any request (exit 4), as in etcdctl
  return leasePrinter(c.globals.writeOut, c.io.stdout);
}

async function grant(c: CommandContext, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'lease grant command needs TTL argument');
  const ttl = ttlFromArg(args[0]!);
  const p = printerOf(c);
  const client = await c.client();
  let resp;
  try {
    resp = await need(client, 'leaseGrant')({ TTL: ttl }, c.callOptions());
  } catch (e) {
    throw new CliError(ExitCode.Error, `failed to grant lease (${errorText(e)})`);
  }
  p.grant(resp);
}

async function revoke(c: CommandContext, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'lease revoke command needs 1 argument');
  const id = leaseIdFromArg(args[0]!);
  const p = printerOf(c);
  const client = await c.client();
  let resp;
  try {
    resp = await need(client, 'leaseRevoke')({ ID: id }, c.callOptions());
  } catch (e) {
    throw new CliError(ExitCode.Error, `failed to revoke lease (${errorText(e)})`);
  }
  p.revoke(id, resp);
}

async function timeToLive(c: CommandContext, args: string[], keys: boolean): Promise<void> {
  if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'lease timetolive command needs lease ID as argument');
  const id = leaseIdFromArg(args[0]!);
  const p = printerOf(c);
  const client = await c.client();
  let resp;
  try {
    resp = await need(client, 'leaseTimeToLive')({ ID: id, keys }, c.callOptions());
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(ExitCode.BadConnection, errorText(e));
  }
  p.timeToLive(resp, keys);
}

async function list(c: CommandContext): Promise<void> {
  const p = printerOf(c);
  const client = await c.client();
  let resp;
  try {
    resp = await need(client, 'leaseLeases')(c.callOptions());
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(ExitCode.BadConnection, errorText(e));
  }
  p.leases(resp);
}

const isLeaseGone = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === 'LeaseNotFound';

async function keepAlive(c: CommandContext, args: string[], once: boolean): Promise<void> {
  if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'lease keep-alive command needs lease ID as argument');
  const id = leaseIdFromArg(args[0]!);
  const p = printerOf(c);
  const client = await c.client();
  const lease = need(client, 'lease')(id);
  if (once) {
    let resp;
    try {
      resp = await lease.keepAliveOnce({ timeoutMs: c.globals.commandTimeoutMs });
    } catch (e) {
      throw new CliError(ExitCode.BadConnection, isLeaseGone(e) ? 'etcdserver: requested lease not found' : errorText(e));
    }
    p.keepAlive(resp);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    lease.keepAlive().subscribe({
      next: (resp) => {
        try {
          p.keepAlive(resp);
        } catch (e) {
          reject(e);
        }
      },
      error: (e: unknown) => (isLeaseGone(e) ? resolve() : reject(new CliError(ExitCode.BadConnection, errorText(e)))),
      complete: () => resolve(),
    });
  });
  if (c.globals.writeOut === 'simple') c.io.stdout.write(`lease ${leaseHex(id)} expired or revoked.\n`);
}

/** Registers `lease` and its subcommands on the program. */
export function registerLease(program: Command, ctx: () => CommandContext): void {
  const lease = program
    .command('lease')
    .description('Lease related commands')
    .allowExcessArguments()
    // `lease` alone prints its help and succeeds, as in etcdctl.
    .action(function (this: Command) {
      this.outputHelp();
    });
  lease
    .command('grant')
    .description('Creates leases')
    .argument('[ttl]')
    .allowExcessArguments() // so that a wrong count gets etcdctl's message
    .action(async function (this: Command) {
      await grant(ctx(), this.args);
    });
  lease
    .command('revoke')
    .description('Revokes leases')
    .argument('[leaseID]')
    .allowExcessArguments()
    .action(async function (this: Command) {
      await revoke(ctx(), this.args);
    });
  lease
    .command('timetolive')
    .description('Get lease information')
    .argument('[leaseID]')
    .allowExcessArguments()
    .option('--keys', 'Get keys attached to this lease')
    .action(async function (this: Command) {
      await timeToLive(ctx(), this.args, this.opts<{ keys?: boolean }>().keys === true);
    });
  lease
    .command('list')
    .description('List all active leases')
    .allowExcessArguments() // etcdctl ignores arguments here
    .action(async () => list(ctx()));
  lease
    .command('keep-alive')
    .description('Keeps leases alive (renew)')
    .argument('[leaseID]')
    .allowExcessArguments()
    .option('--once', 'Resets the keep-alive time to its original value and exits immediately')
    .action(async function (this: Command) {
      await keepAlive(ctx(), this.args, this.opts<{ once?: boolean }>().once === true);
    });
}
