/**
 * `alarm list` and `alarm disarm`, as etcdctl 3.4: list prints the cluster's active alarms;
 * disarm clears every one of them (a list, then one DEACTIVATE per alarm, as clientv3's
 * AlarmDisarm with an empty member does) and prints the alarms it cleared. Either with an
 * argument is exit 128 (`alarm list command accepts no arguments`); a failed call is exit 1
 * with the server's message. `alarm` alone prints its help and succeeds. Output formats: see
 * alarm-printer.ts.
 */
import type { Command } from 'commander';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import { alarmPrinter } from '../alarm-printer.js';
import { clusterCall, type CommandContext } from '../context.js';

async function alarmCommand(c: CommandContext, sub: 'list' | 'disarm', args: string[]): Promise<void> {
  if (args.length !== 0) throw new CliError(ExitCode.BadArgs, `alarm ${sub} command accepts no arguments`);
  c.printer(); // an unknown -w fails here, before any request (exit 4)
  const print = alarmPrinter(c.globals.writeOut, c.io.stdout);
  const client = await c.client();
  let resp;
  try {
    resp = sub === 'list' ? await clusterCall(client, 'alarmList')(undefined, c.callOptions()) : await clusterCall(client, 'alarmDisarm')({}, c.callOptions());
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(ExitCode.Error, errorText(e));
  }
  print(resp);
}

/** Registers `alarm` and its subcommands on the program. */
export function registerAlarm(program: Command, ctx: () => CommandContext): void {
  const alarm = program
    .command('alarm')
    .description('Alarm related commands')
    .allowExcessArguments()
    // `alarm` alone prints its help and succeeds, as in etcdctl.
    .action(function (this: Command) {
      this.outputHelp();
    });
  alarm
    .command('disarm')
    .description('Disarms all alarms')
    .allowExcessArguments() // so that arguments get etcdctl's message
    .action(async function (this: Command) {
      await alarmCommand(ctx(), 'disarm', this.args);
    });
  alarm
    .command('list')
    .description('Lists all alarms')
    .allowExcessArguments()
    .action(async function (this: Command) {
      await alarmCommand(ctx(), 'list', this.args);
    });
}
