/** `compaction REV [--physical]`: compacts the key space's history up to revision REV. */
import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { parseGoInt } from '../go-format.js';

/** Registers `compaction` on the program. */
export function registerCompaction(program: Command, ctx: () => CommandContext): void {
  program
    .command('compaction')
    .description('Compacts the event history in etcetera')
    .argument('[revision]')
    .allowExcessArguments() // so that too many arguments get etcdctl's message
    .option('--physical', "'true' to wait for compaction to physically remove all old revisions")
    .action(async function (this: Command) {
      const c = ctx();
      const args = this.args;
      const f = this.opts<{ physical?: boolean }>();
      if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'compaction command needs 1 argument');
      let revision: number;
      try {
        revision = Number(parseGoInt(args[0]!, 10));
      } catch (e) {
        throw new CliError(ExitCode.Error, (e as Error).message);
      }
      if (!Number.isSafeInteger(revision)) {
        throw new CliError(ExitCode.Error, `revision ${args[0]} is out of the safe integer range of etceteractl`);
      }
      c.printer(); // an unknown -w fails here (exit 4), as in etcdctl; the output is plain text
      await (await c.client()).compact(f.physical === true ? { revision, physical: true } : { revision }, c.callOptions());
      c.io.stdout.write(`compacted revision ${revision}\n`);
    });
}
