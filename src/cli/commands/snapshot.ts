/**
 * `snapshot save FILE` and `snapshot restore FILE --data-dir DIR [...]`, after etcdctl 3.4.
 *
 * save: asks the one endpoint for Maintenance.Snapshot (over ws or tcp, method 69 of the
 * client protocol), writes the stream to `FILE.part` as it arrives (mode 0600), checks the
 * size is 512·k + 32 (etcdctl's `sha256 checksum not found [bytes: N]`) and the trailing
 * SHA-256, fsyncs and renames to FILE, then prints `Snapshot saved at FILE`. More than one
 * endpoint is refused (`snapshot must be requested to one selected node, not multiple [...]`,
 * exit 5 as in etcdctl). The whole transfer is bounded by `--command-timeout`, as etcdctl's is.
 *
 * restore: no server; verifies the file's SHA-256 (unless `--skip-hash-check`) and builds a
 * data dir for one member from it (src/server/snapshot-restore.ts): the chosen storage
 * driver, the backend content, the membership from `--initial-cluster` (a cluster is restored
 * by running this once per member with the same file and each member's `--name`), and the log
 * set to start after the snapshot's consistent index. A progress bar (cli-progress) shows the
 * check and the write when stderr is a terminal.
 *
 * The file format is etcetera's (snapshot-file.ts), not a bbolt database: etcdctl can save it
 * from etcetera, but only etceteractl can restore it.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { CliError, ExitCode, errorText } from '../cli-error.js';
import type { CliIo, CommandContext } from '../context.js';

/** Bytes of the digest that ends a snapshot (the stream's last message). */
const DIGEST_BYTES = 32;

/** A progress bar on stderr when it is a terminal; otherwise nothing is drawn. */
function progressBar(io: CliIo, label: string): cliProgress.SingleBar | null {
  const stream = io.stderr as NodeJS.WriteStream;
  if (stream.isTTY !== true) return null;
  return new cliProgress.SingleBar(
    { stream, format: `${label} [{bar}] {percentage}% | {value}/{total} {unit}`, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
}

async function save(c: CommandContext, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'snapshot save expects one argument');
  const path = args[0]!;
  const endpoints = c.globals.endpoints;
  if (endpoints.length !== 1) {
    throw new CliError(ExitCode.Interrupted, `snapshot must be requested to one selected node, not multiple [${endpoints.join(' ')}]`);
  }
  const client = await c.client();
  if (client.snapshot === undefined) throw new CliError(ExitCode.BadFeature, 'this client does not support snapshots');
  const part = `${path}.part`;
  rmSync(part, { force: true });
  const fd = openSync(part, 'w', 0o600);
  const hash = createHash('sha256');
  let size = 0;
  let last: Uint8Array | null = null;
  let bar: cliProgress.SingleBar | null = null;
  let ok = false;
  try {
    try {
      for await (const msg of client.snapshot.call(client, c.callOptions())) {
        // Every blob but the last is payload; the last one is the digest.
        if (last !== null) hash.update(last);
        const blob = msg.blob;
        writeSync(fd, blob);
        size += blob.byteLength;
        last = blob;
        if (bar === null && msg.remainingBytes > 0) {
          bar = progressBar(c.io, 'Saving');
          bar?.start(size + msg.remainingBytes, 0, { unit: 'bytes' });
        }
        bar?.update(Math.min(size, bar.getTotal()));
      }
    } catch (e) {
      throw new CliError(ExitCode.Interrupted, errorText(e));
    } finally {
      bar?.stop();
    }
    if (size % 512 !== DIGEST_BYTES || last === null || last.byteLength !== DIGEST_BYTES) {
      throw new CliError(ExitCode.Interrupted, `sha256 checksum not found [bytes: ${size}]`);
    }
    if (!hash.digest().equals(last)) throw new CliError(ExitCode.Interrupted, 'snapshot stream integrity check failed: SHA-256 mismatch');
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(part, { force: true });
  }
  renameSync(part, path);
  c.io.stdout.write(`Snapshot saved at ${path}\n`);
}

interface RestoreFlags {
  dataDir?: string;
  name: string;
  initialCluster?: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls?: string;
  storageDriver: string;
  skipHashCheck?: boolean;
}

/** `name=url,name=url` → members; a malformed pair is a flag error. */
function parseInitialCluster(list: string): { name: string; peerUrl: string }[] {
  return list
    .split(',')
    .filter((p) => p !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0 || eq === pair.length - 1) {
        throw new CliError(ExitCode.Error, `--initial-cluster: expected name=peerURL pairs, got ${JSON.stringify(pair)}`);
      }
      return { name: pair.slice(0, eq), peerUrl: pair.slice(eq + 1) };
    });
}

async function restore(c: CommandContext, args: string[], f: RestoreFlags): Promise<void> {
  if (args.length !== 1) throw new CliError(ExitCode.BadArgs, 'snapshot restore requires exactly one argument');
  const path = args[0]!;
  if (f.storageDriver !== 'lmdb' && f.storageDriver !== 'sqlite') {
    throw new CliError(ExitCode.Error, `--storage-driver: expected lmdb or sqlite, got ${JSON.stringify(f.storageDriver)}`);
  }
  const dataDir = f.dataDir ?? `./data/${f.name}`;
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (e) {
    throw new CliError(ExitCode.Error, errorText(e));
  }
  const initialCluster = f.initialCluster === undefined ? [] : parseInitialCluster(f.initialCluster);
  // Loaded here, not at the top: the server side (drivers) is only needed by this command.
  const { restoreSnapshot, RestoreError } = await import('../../server/snapshot-restore.js');
  const verify = progressBar(c.io, 'Verifying');
  const write = progressBar(c.io, 'Restoring');
  let phase: 'verify' | 'write' | null = null;
  let result;
  try {
    result = await restoreSnapshot(file, {
      dataDir,
      driver: f.storageDriver,
      name: f.name,
      initialCluster,
      initialClusterToken: f.initialClusterToken,
      ...(f.initialAdvertisePeerUrls === undefined ? {} : { initialAdvertisePeerUrl: f.initialAdvertisePeerUrls }),
      ...(f.skipHashCheck === true ? { skipHashCheck: true } : {}),
      onProgress: (p, done, total) => {
        const bar = p === 'verify' ? verify : write;
        if (phase !== p) {
          if (phase === 'verify') verify?.stop();
          phase = p;
          bar?.start(total, 0, { unit: p === 'verify' ? 'bytes' : 'records' });
        }
        bar?.update(done);
      },
    });
  } catch (e) {
    if (e instanceof RestoreError) throw new CliError(ExitCode.Error, e.message);
    throw new CliError(ExitCode.Error, errorText(e));
  } finally {
    verify?.stop();
    write?.stop();
  }
  c.io.stderr.write(
    `restored snapshot ${path} into ${dataDir}: revision ${result.revision}, ${result.keys} keys, ` +
      `consistent index ${result.consistentIndex}, ${result.members.length === 0 ? 'single member' : `${result.members.length} members`}\n`,
  );
}

/** Registers `snapshot save` and `snapshot restore` on the program. */
export function registerSnapshot(program: Command, ctx: () => CommandContext): void {
  const snapshot = program
    .command('snapshot')
    .description('Manages etcetera node snapshots')
    .allowExcessArguments()
    .action(function (this: Command) {
      this.outputHelp();
    });
  snapshot
    .command('save')
    .description('Stores a snapshot of the member\'s key space to a given file')
    .argument('[filename]')
    .allowExcessArguments()
    .action(async function (this: Command) {
      await save(ctx(), this.args);
    });
  snapshot
    .command('restore')
    .description('Restores a data directory for one member from a snapshot file')
    .argument('[filename]')
    .allowExcessArguments()
    .option('--data-dir <path>', 'Path to the data directory to create (default ./data/<name>)')
    .option('--name <name>', 'Human-readable name for this member', 'default')
    .option('--initial-cluster <list>', 'Initial cluster configuration for restore bootstrap (name=peerURL,…); absent = a single member')
    .option('--initial-cluster-token <token>', 'Initial cluster token for the cluster during restore bootstrap', 'etcetera-cluster')
    .option('--initial-advertise-peer-urls <url>', "This member's peer URL (must match its entry in --initial-cluster)")
    .option('--storage-driver <driver>', 'Storage driver of the new data directory: lmdb or sqlite', 'lmdb')
    .option('--skip-hash-check', 'Ignore the snapshot integrity hash value')
    .action(async function (this: Command) {
      ctx().printer(); // an unknown -w fails here (exit 4); the output is plain text
      await restore(ctx(), this.args, this.opts<RestoreFlags>());
    });
}
