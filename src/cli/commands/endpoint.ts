/**
 * `endpoint status` and `endpoint health`: ask each endpoint on its own (one client per
 * endpoint), so that one member's answer or failure says something about that member.
 * With `--cluster` the endpoints are the cluster's members instead of `--endpoints`: a
 * MemberList over `--endpoints` first, then each member's client URL (etcetera's client URLs,
 * e.g. `ws://127.0.0.1:12381`, are endpoints as they are). NB: etcdctl takes every client
 * URL a member publishes; etceteractl takes only the first, so a member that listens on ws
 * and tcp is asked once. Members that never started publish none and are left out.
 */
import type { Command } from 'commander';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import { clusterCall, type CommandContext } from '../context.js';
import { utf8 } from '../bytes.js';
import { formatGoDuration } from '../go-format.js';
import type { EndpointHealthRow, EndpointStatusRow } from '../printer.js';

/** The error text a permission check gives; etcdctl counts it as healthy (the member answered). */
const PERMISSION_DENIED = 'etcdserver: permission denied';

/**
 * The endpoints to ask: `--endpoints`, or with `--cluster` the first client URL of every
 * member, in MemberList's order. A failed MemberList is exit 1 with etcdctl's words. Also
 * used by `defrag --cluster`.
 */
export async function targetEndpoints(c: CommandContext, cluster: boolean): Promise<string[]> {
  if (!cluster) return c.globals.endpoints;
  let client;
  try {
    client = await c.client();
  } catch (e) {
    // etcdctl exits 1 here (not 2) when it cannot make the client for the member list.
    throw new CliError(ExitCode.Error, errorText(e));
  }
  const memberList = clusterCall(client, 'memberList');
  let resp;
  try {
    resp = await memberList(c.callOptions());
  } catch (e) {
    throw new CliError(ExitCode.Error, `failed to fetch endpoints from etcd cluster member list: ${errorText(e)}`);
  }
  const endpoints: string[] = [];
  for (const m of resp.members ?? []) {
    const first = (m.clientURLs ?? [])[0];
    if (first !== undefined) endpoints.push(first);
  }
  return endpoints;
}

/** Status of each endpoint in turn; failures are reported on stderr and make the exit code 1. */
async function endpointStatus(c: CommandContext, cluster: boolean): Promise<void> {
  const printer = c.printer();
  const rows: EndpointStatusRow[] = [];
  let failed = false;
  for (const endpoint of await targetEndpoints(c, cluster)) {
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
async function endpointHealth(c: CommandContext, cluster: boolean): Promise<void> {
  const printer = c.printer();
  if (c.globals.endpoints.length === 0) throw new CliError(ExitCode.BadConnection, 'no available endpoints');
  const endpoints = await targetEndpoints(c, cluster);
  const rows = await Promise.all(
    endpoints.map(async (endpoint): Promise<EndpointHealthRow> => {
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

interface ClusterFlag {
  cluster?: boolean;
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
    .option('--cluster', 'use all endpoints from the cluster member list')
    .action(async function (this: Command) {
      await endpointStatus(ctx(), this.opts<ClusterFlag>().cluster === true);
    });
  endpoint
    .command('health')
    .description('Checks the healthiness of endpoints specified in `--endpoints` flag')
    .allowExcessArguments() // etcdctl ignores arguments here
    .option('--cluster', 'use all endpoints from the cluster member list')
    .action(async function (this: Command) {
      await endpointHealth(ctx(), this.opts<ClusterFlag>().cluster === true);
    });
}
