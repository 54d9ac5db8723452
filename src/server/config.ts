/**
 * The member's configuration: one YAML file, validated once at start, overridden by flags,
 * frozen, and bound in the container as a constant.
 *
 * Key names follow etcd's config file where the concept is the same. Unknown keys are errors
 * (a misspelt key silently ignored is a misconfigured cluster). Every mistake is reported
 * with its path and what was expected, all at once, before anything touches the data dir.
 */
import { readFileSync } from 'node:fs';
import { resolve, isAbsolute } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { ServiceIdentifier } from 'inversify';

const TRANSPORTS = ['ws', 'tcp', 'grpc'] as const;
export type ListenerTransport = (typeof TRANSPORTS)[number];

/** host:port with a numeric port 0..65535 (0 = ephemeral, for tests). */
const address = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'expected host:port, e.g. 127.0.0.1:2381')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');

const positiveInt = z.number().int().positive();

const listener = z.strictObject({
  transport: z.enum(TRANSPORTS),
  address,
});

const schema = z.strictObject({
  name: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only').default('default'),
  'data-dir': z.string().min(1).optional(),
  storage: z.strictObject({ driver: z.enum(['lmdb', 'sqlite', 'memory']) }).default({ driver: 'lmdb' }),
  listeners: z.array(listener).min(1, 'at least one listener is needed').default([
    { transport: 'grpc', address: '127.0.0.1:2379' },
    { transport: 'ws', address: '127.0.0.1:2381' },
    { transport: 'tcp', address: '127.0.0.1:2382' },
  ]),
  'initial-cluster-token': z.string().min(1).default('etcetera-cluster'),
  'heartbeat-interval': positiveInt.default(100),
  'election-timeout': positiveInt.default(1000),
  'snapshot-count': positiveInt.default(10000),
  'quota-backend-bytes': z.number().int().nonnegative().default(0),
  'max-request-bytes': positiveInt.max(64 * 1024 * 1024).default(1572864),
  'max-txn-ops': positiveInt.default(128),
  'max-queued-bytes': positiveInt.default(16 * 1024 * 1024),
  'max-calls-per-connection': positiveInt.default(10000),
  'log-level': z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  // Cluster (Raft). Without initial-cluster the member runs alone (no peer listener).
  'initial-cluster': z
    .string()
    .regex(/^[A-Za-z0-9._-]+=(tcp|ws|http):\/\/[^,=\s]+(,[A-Za-z0-9._-]+=(tcp|ws|http):\/\/[^,=\s]+)*$/, 'expected name=tcp://host:port,name=tcp://host:port,...')
    .optional(),
  'initial-cluster-state': z.enum(['new', 'existing']).default('new'),
  'listen-peer-urls': z.string().regex(/^(tcp|ws|http):\/\/[^\s]+:\d{1,5}$/, 'expected tcp://host:port, ws://host:port or http://host:port (= tcp)').optional(),
  'initial-advertise-peer-urls': z.string().regex(/^(tcp|ws|http):\/\/[^\s]+:\d{1,5}$/, 'expected tcp://host:port, ws://host:port or http://host:port (= tcp)').optional(),
  'advertise-client-urls': z.string().optional(),
  // Watch: etcd's progress-notify interval (here in ms; etcd's minimum is 100 ms) and the events
  // one watcher may hold queued for a slow client before it falls behind (etcetera's own).
  'experimental-watch-progress-notify-interval': positiveInt.default(10 * 60 * 1000),
  'watch-queue-events-max': positiveInt.default(1024),
  // Leases: etcd's checkpointing of remaining TTLs through the log (off by default, as in etcd),
  // and its interval (here in ms; etcd's default is 5 minutes).
  'experimental-enable-lease-checkpoint': z.boolean().default(false),
  'experimental-lease-checkpoint-interval': positiveInt.default(5 * 60 * 1000),
  // Where the Raft log's fdatasync runs (lmdb and sqlite drivers): on the main thread, which
  // is quickest for one member (no thread hop), or on libuv's thread pool, which lets a cluster
  // member keep serving its peers during the flush; auto picks by whether a cluster is set.
  'wal-fsync': z.enum(['auto', 'main-thread', 'thread-pool']).default('auto'),
});

export type RawConfig = z.input<typeof schema>;

/** The validated configuration. Plain data, frozen. */
export interface Config {
  readonly name: string;
  /** Absolute path. */
  readonly dataDir: string;
  readonly storage: { readonly driver: 'lmdb' | 'sqlite' | 'memory' };
  readonly listeners: readonly { readonly transport: ListenerTransport; readonly address: string }[];
  readonly initialClusterToken: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotCount: number;
  /** 0 means the default, 2 GiB. */
  readonly quotaBackendBytes: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly maxQueuedBytes: number;
  readonly maxCallsPerConnection: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** The initial members (name → peer URL), in file order; empty when running alone. */
  readonly initialCluster: readonly { readonly name: string; readonly peerUrl: string }[];
  readonly initialClusterState: 'new' | 'existing';
  /** Where this member listens for peers (tcp:// or ws://); set iff initialCluster is. */
  readonly listenPeerUrl: string | undefined;
  /** The peer URL other members dial (default: listenPeerUrl). */
  readonly advertisePeerUrl: string | undefined;
  /** Client URLs published in the member list (default: the listeners' URLs once bound). */
  readonly advertiseClientUrls: readonly string[] | undefined;
  /** Where the Raft log's fdatasync runs ('auto' resolved: a cluster member uses the pool). */
  readonly walFsync: 'main-thread' | 'thread-pool';
  /** Period of progress notifications to idle watchers that asked for them. */
  readonly watchProgressNotifyIntervalMs: number;
  /** Events a watcher may hold queued for a slow client before it catches up from history. */
  readonly watchQueueEventsMax: number;
  /** Whether the leader persists remaining lease TTLs through the log (lease checkpoints). */
  readonly leaseCheckpointEnabled: boolean;
  /** How often the leader checkpoints the remaining TTL of each lease longer than this. */
  readonly leaseCheckpointIntervalMs: number;
}

export const Config: ServiceIdentifier<Config> = Symbol.for('etcetera.Config');

/** A config that failed validation; `problems` lists every mistake as "path: what was expected". */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Overrides from command-line flags; each replaces the file's value. */
export interface ConfigOverrides {
  name?: string;
  dataDir?: string;
  storageDriver?: string;
  /** URLs like ws://127.0.0.1:2381 or tcp://127.0.0.1:2382; replace the file's listeners. */
  listen?: string[];
  logLevel?: string;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
  return `${path}: ${issue.message}`;
}

/**
 * Validates a parsed YAML document plus overrides. `baseDir` resolves a relative data-dir
 * (the directory the server was started from, as etcd does).
 */
export function validateConfig(doc: unknown, overrides: ConfigOverrides = {}, source = 'config', baseDir = process.cwd()): Config {
  const problems: string[] = [];
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(source, ['(top level): expected a mapping of keys to values']);
  }
  const merged: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  if (overrides.name !== undefined) merged['name'] = overrides.name;
  if (overrides.dataDir !== undefined) merged['data-dir'] = overrides.dataDir;
  if (overrides.storageDriver !== undefined) merged['storage'] = { driver: overrides.storageDriver };
  if (overrides.logLevel !== undefined) merged['log-level'] = overrides.logLevel;
  if (overrides.listen !== undefined) {
    const listeners: unknown[] = [];
    for (const url of overrides.listen) {
      const m = /^([a-z]+):\/\/(.+)$/.exec(url);
      if (m === null) problems.push(`--listen ${url}: expected transport://host:port, e.g. ws://127.0.0.1:2381`);
      else listeners.push({ transport: m[1], address: m[2] });
    }
    merged['listeners'] = listeners;
  }
  const parsed = schema.safeParse(merged);
  if (!parsed.success) problems.push(...parsed.error.issues.map(describeIssue));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);
  const c = parsed.data;
  if (c['election-timeout'] < 5 * c['heartbeat-interval']) {
    problems.push(
      `election-timeout: must be at least 5 times heartbeat-interval (${c['heartbeat-interval']} ms), got ${c['election-timeout']}`,
    );
  }
  const seen = new Set<string>();
  c.listeners.forEach((l, i) => {
    const port = l.address.slice(l.address.lastIndexOf(':') + 1);
    if (port !== '0' && seen.has(l.address)) problems.push(`listeners.${i}.address: ${l.address} is used twice`);
    seen.add(l.address);
  });
  if (problems.length > 0) throw new ConfigError(source, problems);
  const initialCluster = (c['initial-cluster'] ?? '')
    .split(',')
    .filter((x) => x !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return Object.freeze({ name: pair.slice(0, eq), peerUrl: pair.slice(eq + 1) });
    });
  if (initialCluster.length > 0) {
    const names = new Set(initialCluster.map((m) => m.name));
    if (names.size !== initialCluster.length) problems.push('initial-cluster: a member name appears twice');
    if (!names.has(c.name)) problems.push(`initial-cluster: this member's name "${c.name}" is not in it`);
    if (c['listen-peer-urls'] === undefined) problems.push('listen-peer-urls: required with initial-cluster');
  } else if (c['listen-peer-urls'] !== undefined) {
    problems.push('initial-cluster: required with listen-peer-urls');
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  const dataDir = c['data-dir'] ?? `./data/${c.name}`;
  return Object.freeze({
    name: c.name,
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(baseDir, dataDir),
    storage: Object.freeze({ driver: c.storage.driver }),
    listeners: Object.freeze(c.listeners.map((l) => Object.freeze({ ...l }))),
    initialClusterToken: c['initial-cluster-token'],
    heartbeatIntervalMs: c['heartbeat-interval'],
    electionTimeoutMs: c['election-timeout'],
    snapshotCount: c['snapshot-count'],
    quotaBackendBytes: c['quota-backend-bytes'],
    maxRequestBytes: c['max-request-bytes'],
    maxTxnOps: c['max-txn-ops'],
    maxQueuedBytes: c['max-queued-bytes'],
    maxCallsPerConnection: c['max-calls-per-connection'],
    logLevel: c['log-level'],
    initialCluster: Object.freeze(initialCluster),
    initialClusterState: c['initial-cluster-state'],
    listenPeerUrl: c['listen-peer-urls'],
    advertisePeerUrl: c['initial-advertise-peer-urls'] ?? c['listen-peer-urls'],
    advertiseClientUrls: c['advertise-client-urls'] === undefined ? undefined : Object.freeze(c['advertise-client-urls'].split(',').filter((u) => u !== '')),
    watchProgressNotifyIntervalMs: c['experimental-watch-progress-notify-interval'],
    watchQueueEventsMax: c['watch-queue-events-max'],
    leaseCheckpointEnabled: c['experimental-enable-lease-checkpoint'],
    leaseCheckpointIntervalMs: c['experimental-lease-checkpoint-interval'],
    walFsync: c['wal-fsync'] === 'auto' ? (initialCluster.length > 0 ? 'thread-pool' : 'main-thread') : c['wal-fsync'],
  });
}

/** Reads, parses and validates a YAML config file; `undefined` path = defaults only. */
export function loadConfig(path: string | undefined, overrides: ConfigOverrides = {}): Config {
  if (path === undefined) return validateConfig({}, overrides, 'defaults');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [`cannot read the file: ${(e as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    const msg = e instanceof YAMLParseError ? e.message.split('\n')[0] : String(e);
    throw new ConfigError(path, [`not valid YAML: ${msg}`]);
  }
  // A relative data-dir is relative to the working directory, as with etcd.
  return validateConfig(doc, overrides, path);
}
