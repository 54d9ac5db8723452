/**
 * `defrag [--cluster]`: defragments each endpoint's member in turn (one client per endpoint,
 * so that each call reaches that member), as etcdctl 3.4: `Finished defragmenting etcd
 * member[<endpoint>]` on stdout for each success, `Failed to defragment etcd member[<endpoint>]
 * (<error>)` on stderr for each failure, exit 1 if any failed. The endpoints are printed as
 * given in `--endpoints` (with `--cluster`: the members' client URLs). Arguments are ignored
 * and `-w` only checked, as etcdctl does. NB: etcdctl's `--data-dir` (defragment a data
 * directory offline) is not offered.
 */
import type { Command } from 'commander';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import { clusterCall, type CommandContext } from '../context.js';
import { targetEndpoints } from './endpoint.js';

async function defrag(c: CommandContext, cluster: boolean): Promise<void> {
  c.printer(); // an unknown -w fails here, before any request (exit 4)
  let failures = 0;
  for (const endpoint of await targetEndpoints(c, cluster)) {
    try {
      const client = await c.clientFor(endpoint);
      await clusterCall(client, 'defragment')(c.callOptions());
      c.io.stdout.write(`Finished defragmenting etcd member[${endpoint}]\n`);
    } catch (e) {
      if (e instanceof CliError && e.exitCode === ExitCode.BadFeature) throw e;
      failures++;
      c.io.stderr.write(`Failed to defragment etcd member[${endpoint}] (${errorText(e)})\n`);
    }
  }
  if (failures !== 0) throw new CliError(ExitCode.Error, 'failed to defragment some members', true);
}

/** Registers `defrag` on the program. */
export function registerDefrag(program: Command, ctx: () => CommandContext): void {
  program
    .command('defrag')
    .description('Defragments the storage of the etcetera members with given endpoints')
    .allowExcessArguments() // etcdctl ignores arguments
    .option('--cluster', 'use all endpoints from the cluster member list')
    .action(async function (this: Command) {
      await defrag(ctx(), this.opts<{ cluster?: boolean }>().cluster === true);
    });
}
