/**
 * `txn [-i]`: reads compares, success requests and failure requests from stdin (format in
 * txn-parser.ts) and sends them as one Txn request. With `-i` it prompts before each part.
 */
import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { TXN_PROMPTS, TxnBuilder } from '../txn-parser.js';

/** Registers `txn` on the program. */
export function registerTxn(program: Command, ctx: () => CommandContext): void {
  program
    .command('txn')
    .description('Txn processes all the requests in one transaction')
    .allowExcessArguments() // so that arguments get etcdctl's message
    .option('-i, --interactive', 'Input transaction in interactive mode')
    .action(async function (this: Command) {
      const c = ctx();
      const args = this.args;
      const f = this.opts<{ interactive?: boolean }>();
      if (args.length !== 0) throw new CliError(ExitCode.BadArgs, 'txn command does not accept argument');
      // As etcdctl: the output format and the client are settled before reading stdin.
      const printer = c.printer();
      const client = await c.client();
      const builder = new TxnBuilder();
      let prompted: string | undefined;
      while (builder.section !== 'done') {
        const section = builder.section;
        if (f.interactive === true && prompted !== section) {
          c.io.stdout.write(TXN_PROMPTS[section] + '\n');
          prompted = section;
        }
        const line = await c.readLine();
        if (line === null) throw new CliError(ExitCode.InvalidInput, 'EOF');
        builder.feed(line);
      }
      const resp = await client.txnRaw(builder.request(), c.callOptions());
      printer.txn(resp);
    });
}
