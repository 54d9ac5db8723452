/**
 * `endpoint status` and `endpoint health`: ask each endpoint on its own (one client per
 * endpoint), so that one member's answer or failure says something about that member.
 */
import type { Command } from 'commander';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { utf8 } from '../bytes.js';
import { formatGoDuration } from '../go-format.js';
import type { EndpointHealthRow, EndpointStatusRow } from '../printer.js';

/** The error text a permission check gives; etcdctl counts it as healthy (the member answered). */
const PERMISSION_DENIED = 'etcdserver: permission denied';

/** Status of each endpoint in turn; failures are reported on stderr and make the exit code 1. */
async function endpointStatus(c: CommandContext): Promise<void> {
  const printer = c.printer();
  const rows: EndpointStatusRow[] = [];
  let failed = false;
  for (const endpoint of c.globals.endpoints) {
    try {
      const client = await c.clientFor(endpoint);
      rows.push({ endpoint, status: await client.status(c.callOptions()) });
    } catch (e) {
      failed = true;
      c.io.stderr.write(`Failed to get the status of endpoint ${endpoint} (${errorText(e)})\n`);
    }
  }
  printer.endpointStatus(rows);
  if (failed) throw new CliError(ExitCode.Error, 'failed to get the status of some endpoints', true);
}

/**
 * Health of every endpoint at once: a linearizable range of the key `health` (which needs a
 * leader and a quorum), timed. Results are printed in the order of `--endpoints`.
 */
async function endpointHealth(c: CommandContext): Promise<void> {
  const printer = c.printer();
  if (c.globals.endpoints.length === 0) throw new CliError(ExitCode.BadConnection, 'no available endpoints');
  const rows = await Promise.all(
    c.globals.endpoints.map(async (endpoint): Promise<EndpointHealthRow> => {
      let client;
      try {
        client = await c.clientFor(endpoint);
      } catch (e) {
        return { endpoint, health: false, took: '', error: errorText(e) };
      }
      const start = c.nowNs();
      let error = '';
      try {
        await client.range({ key: utf8('health') }, c.callOptions());
      } catch (e) {
        const text = errorText(e);
        if (text !== PERMISSION_DENIED) error = text;
      }
      const took = formatGoDuration(c.nowNs() - start);
      return { endpoint, health: error === '', took, error };
    }),
  );
  printer.endpointHealth(rows);
  if (rows.some((r) => !r.health)) throw new CliError(ExitCode.Error, 'unhealthy cluster');
}

/** Registers `endpoint status` and `endpoint health` on the program. */
export function registerEndpoint(program: Command, ctx: () => CommandContext): void {
  const endpoint = program
    .command('endpoint')
    .description('Endpoint related commands')
    .allowExcessArguments()
    // `endpoint` alone or with an unknown subcommand prints its help and succeeds, as in etcdctl.
    .action(function (this: Command) {
      this.outputHelp();
    });
  endpoint
    .command('status')
    .description('Prints out the status of endpoints specified in `--endpoints` flag')
    .allowExcessArguments() // etcdctl ignores arguments here
    .action(async () => endpointStatus(ctx()));
  endpoint
    .command('health')
    .description('Checks the healthiness of endpoints specified in `--endpoints` flag')
    .allowExcessArguments() // etcdctl ignores arguments here
    .action(async () => endpointHealth(ctx()));
}
