/**
 * The `etcetera` server binary: parse flags, load and validate the config (refusing to start,
 * with every mistake listed, before anything touches the data dir), lock the data dir, build
 * the server in the container, serve until SIGINT/SIGTERM, then shut down in order.
 *
 * Exit codes: 0 clean stop, 2 bad flags or config, 1 failed to start or a fatal error.
 */
import 'reflect-metadata';
import v8 from 'node:v8';
import { Command, CommanderError } from 'commander';
import { pino } from 'pino';
import type { Logger } from '../core/ports/logger.js';
import { ConfigError, loadConfig, type ConfigOverrides } from './config.js';
import { createServer } from './container.js';
import { lockDataDir } from './data-dir-lock.js';
import type { EtceteraServer } from './server.js';

// V8 grows its old generation up to 4× the live heap after each full GC when a server
// allocates fast, and keeps those pages: with 100,000 keys written at 256 in flight the heap
// committed ~90 MB more than stayed live. Capping the factor at 2× saves ~30 MB of RSS there at
// no measurable CPU cost (bench/RESULTS.md; 1.5× saved ~40 MB but cost ~15% more CPU per put).
// V8 reads the flag at each GC, so setting it here, before the server allocates, is enough.
v8.setFlagsFromString('--heap-growing-percent=100');

function parseArgs(argv: string[]): { configPath?: string; overrides: ConfigOverrides } {
  const program = new Command('etcetera')
    .description('A distributed, strongly consistent key-value store in the class of etcd v3')
    .option('--config <file>', 'YAML config file (default: built-in defaults)')
    .option('--config-file <file>', 'alias of --config, as etcd names it')
    .option('--name <name>', 'member name (overrides the file)')
    .option('--data-dir <dir>', 'data directory (overrides the file)')
    .option('--storage-driver <driver>', 'lmdb | sqlite | memory (overrides the file)')
    .option('--listen <url...>', 'client listeners, e.g. ws://127.0.0.1:2381 tcp://127.0.0.1:2382 (replace the file\'s)')
    .option('--log-level <level>', 'debug | info | warn | error | silent')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    config?: string;
    configFile?: string;
    name?: string;
    dataDir?: string;
    storageDriver?: string;
    listen?: string[];
    logLevel?: string;
  }>();
  const overrides: ConfigOverrides = {};
  if (o.name !== undefined) overrides.name = o.name;
  if (o.dataDir !== undefined) overrides.dataDir = o.dataDir;
  if (o.storageDriver !== undefined) overrides.storageDriver = o.storageDriver;
  if (o.listen !== undefined) overrides.listen = o.listen;
  if (o.logLevel !== undefined) overrides.logLevel = o.logLevel;
  const configPath = o.config ?? o.configFile;
  return configPath === undefined ? { overrides } : { configPath, overrides };
}

export async function main(argv: string[]): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    throw e;
  }
  let config;
  try {
    config = loadConfig(args.configPath, args.overrides);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`etcetera: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger: Logger = pino({ name: 'etcetera', level: config.logLevel, base: { pid: process.pid } }, pino.destination(2));

  let release: () => void;
  try {
    release = lockDataDir(config.dataDir);
  } catch (e) {
    logger.error({ err: (e as Error).message }, 'cannot start');
    process.exit(1);
  }

  let server: EtceteraServer | undefined;
  const fatal = (err: unknown): void => {
    logger.error({ err: String((err as Error)?.stack ?? err) }, 'fatal storage error: stopping at once');
    release();
    process.exit(1);
  };
  try {
    server = await createServer(config, logger, fatal, {
      // A member removed from the cluster stops, as etcd's does.
      removed: () => process.kill(process.pid, 'SIGTERM'),
    });
    await server.start();
  } catch (e) {
    logger.error({ err: String((e as Error)?.stack ?? e) }, 'failed to start');
    await server?.stop().catch(() => {});
    release();
    process.exit(1);
  }

  let firstSignalAt = 0;
  const shutdown = (signal: string): void => {
    if (firstSignalAt !== 0) {
      // One Ctrl-C under `npm start` arrives twice (from the terminal and forwarded by npm):
      // only a signal well after the first one means "stop now".
      if (Date.now() - firstSignalAt < 2000) return;
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
      process.exit(1);
    }
    firstSignalAt = Date.now();
    logger.info({ signal }, 'shutting down');
    server!
      .stop()
      .then(() => {
        release();
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err: String(err) }, 'error during shutdown');
        release();
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

await main(process.argv.slice(2));
