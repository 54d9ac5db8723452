/**
 * `watch KEY [RANGE_END] [--prefix] [--rev N] [--prev-kv] [--progress-notify] [-i]`: prints
 * the events of a Watch stream as etcdctl 3.4 does, until the server cancels the watch.
 *
 * - simple: per event its type (`PUT` / `DELETE`), the previous key and value when `--prev-kv`
 *   and the key existed, then key and value, one per line; `progress notify: <rev>` for a
 *   progress reply.
 * - json: Go's `json.Marshal` of clientv3's WatchResponse per reply:
 *   `{"Header":{…},"Events":[…],"CompactRevision":0,"Canceled":false,"Created":false}`.
 * - fields: etcdctl's `"Key" : value` lines per reply.
 *
 * A watch the server cancels prints `watch was canceled (<reason>)` on stderr and exits 5
 * with `watch is canceled by the server`, as etcdctl. The `created` reply is not printed
 * (clientv3 does not hand it to etcdctl).
 *
 * Interactive (`-i`): reads request lines from stdin — `watch [flags] KEY [RANGE_END]` starts
 * one more watch printing to the same stdout, `progress` asks the server for a progress reply
 * on every watch — until end of input, which exits 3 (etcdctl's `Error reading watch request
 * line: EOF`).
 *
 * NB: etcdctl's `-- command args` (run a command per event) is not offered.
 */
import type { Command } from 'commander';
import type { Observable } from 'rxjs';
import { EventType, type KeyValue, type ResponseHeader } from '../../core/api/kv.js';
import type { WatchResponse } from '../../core/api/watch.js';
import { hexEscape, utf8 } from '../bytes.js';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import type { CliClient, CommandContext } from '../context.js';
import { intFlag } from '../flags.js';
import { goJson, goQuote, type JsonValue } from '../go-format.js';
import type { Sink } from '../printer.js';
import { argify } from '../txn-parser.js';

/** Flags of `watch` as commander hands them over. */
export interface WatchFlagsRaw {
  prefix?: boolean;
  rev?: string;
  prevKv?: boolean;
  progressNotify?: boolean;
  interactive?: boolean;
}

/** The watch options of one `watch` (command line or interactive line). */
export interface WatchArgs {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  prefix: boolean;
  startRevision: number;
  prevKv: boolean;
  progressNotify: boolean;
}

/** The options `Client.watch` takes (a subset). */
interface ClientWatchOptions {
  prefix?: boolean;
  rangeEnd?: Uint8Array;
  startRevision?: number;
  prevKv?: boolean;
  progressNotify?: boolean;
}

/** What `watch` needs of the client library beyond CliClient. */
export interface WatchCapableClient extends CliClient {
  watch(key: Uint8Array, options?: ClientWatchOptions): Observable<WatchResponse>;
  requestWatchProgress(): void;
}

function watchClient(c: CliClient): WatchCapableClient {
  const w = c as Partial<WatchCapableClient>;
  if (typeof w.watch !== 'function' || typeof w.requestWatchProgress !== 'function') {
    throw new CliError(ExitCode.BadFeature, 'this client does not support watch');
  }
  return c as WatchCapableClient;
}

/** Turns positional arguments and flags into watch options; etcdctl's argument errors (exit 128). */
export function watchArgs(args: readonly Uint8Array[], f: WatchFlagsRaw): WatchArgs {
  if (args.length < 1 || args.length > 2) throw new CliError(ExitCode.BadArgs, 'bad number of arguments');
  const prefix = f.prefix === true;
  if (args.length === 2 && prefix) throw new CliError(ExitCode.BadArgs, '`range_end` and `--prefix` are mutually exclusive');
  const out: WatchArgs = {
    key: args[0]!,
    prefix,
    startRevision: intFlag('rev', f.rev),
    prevKv: f.prevKv === true,
    progressNotify: f.progressNotify === true,
  };
  if (args.length === 2) out.rangeEnd = args[1]!;
  return out;
}

// ---------------------------------------------------------------------------------------
// Printing

/** clientv3's `IsProgressNotify`: no events, not created, not canceled, a revision. */
function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.created && !r.canceled && (r.compactRevision ?? 0) === 0 && r.header.revision !== 0;
}

function b64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

function omitEmpty(entries: [string, JsonValue | undefined][]): { [key: string]: JsonValue } {
  const o: { [key: string]: JsonValue } = {};
  for (const [k, v] of entries) if (v !== undefined && v !== 0 && v !== '') o[k] = v;
  return o;
}

function headerJson(h: ResponseHeader | null | undefined): JsonValue {
  return omitEmpty([
    ['cluster_id', h?.clusterId],
    ['member_id', h?.memberId],
    ['revision', h?.revision],
    ['raft_term', h?.raftTerm],
  ]);
}

function kvJson(kv: KeyValue): JsonValue {
  return omitEmpty([
    ['key', kv.key.length > 0 ? b64(kv.key) : undefined],
    ['create_revision', kv.createRevision],
    ['mod_revision', kv.modRevision],
    ['version', kv.version],
    ['value', kv.value.length > 0 ? b64(kv.value) : undefined],
    ['lease', kv.lease],
  ]);
}

/** Prints watch replies in one `-w` format. Each reply is written with one `write`. */
export class WatchPrinter {
  private readonly format: 'simple' | 'json' | 'fields';

  constructor(
    format: string,
    private readonly out: Sink,
    private readonly hex: boolean,
  ) {
    if (format === 'simple' || format === 'json' || format === 'fields') this.format = format;
    else if (format === 'table') throw new CliError(ExitCode.BadFeature, 'table is not supported as output format');
    else if (format === 'protobuf') throw new CliError(ExitCode.BadFeature, 'protobuf not supported as output format');
    else throw new CliError(ExitCode.BadFeature, 'unsupported output format');
  }

  /** One reply as clientv3 hands it to etcdctl (not `created` ones). */
  reply(r: WatchResponse): void {
    if (r.created && !r.canceled) return;
    if (this.format === 'json') {
      this.out.write(
        goJson({
          Header: headerJson(r.header),
          Events:
            r.events.length === 0
              ? null
              : r.events.map((e) =>
                  omitEmpty([
                    ['type', e.type],
                    ['kv', kvJson(e.kv)],
                    ['prev_kv', e.prevKv ? kvJson(e.prevKv) : undefined],
                  ]),
                ),
          CompactRevision: r.compactRevision ?? 0,
          Canceled: r.canceled ?? false,
          Created: r.created ?? false,
        }) + '\n',
      );
      return;
    }
    const parts: (string | Uint8Array)[] = [];
    if (isProgressNotify(r)) parts.push(`progress notify: ${r.header.revision}\n`);
    if (this.format === 'fields') {
      const h = r.header;
      parts.push(`"ClusterID" : ${h.clusterId}\n"MemberID" : ${h.memberId}\n"Revision" : ${h.revision}\n"RaftTerm" : ${h.raftTerm}\n`);
      for (const e of r.events) {
        parts.push(`"Type" : ${e.type === EventType.DELETE ? 'DELETE' : 'PUT'}\n`);
        if (e.prevKv) this.fieldsKv(parts, 'Prev', e.prevKv);
        this.fieldsKv(parts, '', e.kv);
      }
    } else {
      for (const e of r.events) {
        parts.push(e.type === EventType.DELETE ? 'DELETE\n' : 'PUT\n');
        if (e.prevKv) this.simpleKv(parts, e.prevKv);
        this.simpleKv(parts, e.kv);
      }
    }
    if (parts.length === 0) return;
    this.out.write(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));
  }

  private simpleKv(parts: (string | Uint8Array)[], kv: KeyValue): void {
    for (const b of [kv.key, kv.value]) {
      if (this.hex) parts.push(hexEscape(b));
      else parts.push(b);
      parts.push('\n');
    }
  }

  private fieldsKv(parts: (string | Uint8Array)[], prefix: string, kv: KeyValue): void {
    parts.push(
      `"${prefix}Key" : ${goQuote(kv.key)}\n"${prefix}CreateRevision" : ${kv.createRevision}\n` +
        `"${prefix}ModRevision" : ${kv.modRevision}\n"${prefix}Version" : ${kv.version}\n` +
        `"${prefix}Value" : ${goQuote(kv.value)}\n"${prefix}Lease" : ${kv.lease}\n`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// Running

/**
 * Runs one watch, printing its replies, until the server ends it. Resolves (never rejects)
 * with the reason: the error text, or null when the stream completed.
 */
function runWatch(
  client: WatchCapableClient,
  a: WatchArgs,
  printer: WatchPrinter,
  io: CommandContext['io'],
  run: { done: boolean },
): Promise<string | null> {
  const options: ClientWatchOptions = {
    startRevision: a.startRevision,
    prevKv: a.prevKv,
    progressNotify: a.progressNotify,
  };
  if (a.prefix) options.prefix = true;
  if (a.rangeEnd !== undefined) options.rangeEnd = a.rangeEnd;
  return new Promise((resolve) => {
    client.watch(a.key, options).subscribe({
      next: (r) => printer.reply(r),
      error: (e: unknown) => {
        // The command is over (its client is being closed): nothing more to report.
        if (run.done) return resolve(null);
        const reason = errorText(e);
        io.stderr.write(`watch was canceled (${reason})\n`);
        const compact = (e as { compactRevision?: number }).compactRevision;
        if (compact !== undefined && compact > 0) {
          printer.reply({ header: { clusterId: 0, memberId: 0, revision: 0, raftTerm: 0 }, watchId: 0, canceled: true, compactRevision: compact, events: [] });
        }
        resolve(reason);
      },
      complete: () => resolve(null),
    });
  });
}

/** Parses the flags of an interactive `watch` line: --prefix, --rev N|--rev=N, --prev-kv, --progress-notify. */
function parseLine(words: readonly Uint8Array[]): WatchArgs {
  const f: WatchFlagsRaw = {};
  const args: Uint8Array[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = Buffer.from(words[i]!).toString('utf8');
    if (w === '--prefix') f.prefix = true;
    else if (w === '--prev-kv') f.prevKv = true;
    else if (w === '--progress-notify') f.progressNotify = true;
    else if (w === '--rev') f.rev = words[++i] === undefined ? '' : Buffer.from(words[i]!).toString('utf8');
    else if (w.startsWith('--rev=')) f.rev = w.slice('--rev='.length);
    else if (w.startsWith('--')) throw new CliError(ExitCode.BadArgs, `unknown flag: ${w}`);
    else args.push(words[i]!);
  }
  return watchArgs(args, f);
}

async function interactive(c: CommandContext, client: WatchCapableClient, printer: WatchPrinter): Promise<never> {
  const run = { done: false };
  for (;;) {
    const line = await c.readLine();
    if (line === null) {
      run.done = true;
      throw new CliError(ExitCode.InvalidInput, 'Error reading watch request line: EOF');
    }
    const words = argify(line);
    const cmd = words.length > 0 ? Buffer.from(words[0]!).toString('utf8') : '';
    if (cmd === '') {
      c.io.stderr.write(`Invalid command: ${line} (watch and progress supported)\n`);
    } else if (cmd === 'watch') {
      if (words.length < 2) {
        c.io.stderr.write(`Invalid command ${line} (command type or key is not provided)\n`);
        continue;
      }
      let a: WatchArgs;
      try {
        a = parseLine(words);
      } catch (e) {
        c.io.stderr.write(`Invalid command ${line} (${(e as Error).message})\n`);
        continue;
      }
      void runWatch(client, a, printer, c.io, run);
    } else if (cmd === 'progress') {
      client.requestWatchProgress();
    } else {
      c.io.stderr.write(`Invalid command ${line} (only support watch)\n`);
    }
  }
}

/** Registers `watch` on the program. */
export function registerWatch(program: Command, ctx: () => CommandContext): void {
  program
    .command('watch')
    .description('Watches events stream on keys or prefixes')
    .argument('[key]')
    .argument('[range_end]')
    .option('-i, --interactive', 'Interactive mode')
    .option('--prefix', 'Watch on a prefix if prefix is set')
    .option('--rev <revision>', 'Revision to start watching')
    .option('--prev-kv', 'get the previous key-value pair before the event happens')
    .option('--progress-notify', 'get periodic watch progress notification from server')
    .allowExcessArguments()
    .action(async function (this: Command) {
      const c = ctx();
      const f = this.opts<WatchFlagsRaw>();
      const printer = new WatchPrinter(c.globals.writeOut, c.io.stdout, c.globals.hex);
      if (f.interactive) {
        const client = watchClient(await c.client());
        await interactive(c, client, printer);
      }
      const a = watchArgs(this.args.map(utf8), f);
      const client = watchClient(await c.client());
      await runWatch(client, a, printer, c.io, { done: false });
      throw new CliError(ExitCode.Interrupted, 'watch is canceled by the server');
    });
}
