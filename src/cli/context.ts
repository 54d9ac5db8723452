/**
 * What a command needs from the outside world, gathered in one object so that `run()` can
 * be called in-process by tests with captured streams and a fake client: the streams, the
 * environment, a client factory, a monotonic clock, and the resolved global flags.
 */
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  SnapshotResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../core/api/kv.js';
import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../core/api/lease.js';
import type {
  MemberAddRequest,
  MemberAddResponse,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MembersResponse,
  MemberUpdateRequest,
  MoveLeaderRequest,
  MoveLeaderResponse,
} from '../core/api/cluster.js';
import type { AlarmMember, AlarmResponse } from '../core/api/alarm.js';
import type { Observable } from 'rxjs';
import { CliError, ExitCode } from './cli-error.js';
import { createPrinter, type Printer, type PrinterOptions, type Sink } from './printer.js';

/** The process streams and environment `run()` works with. */
export interface CliIo {
  stdout: Sink;
  stderr: Sink;
  /** Read only by `put` without a value and by `txn`. */
  stdin: AsyncIterable<Uint8Array | string>;
  env: Readonly<Record<string, string | undefined>>;
}

/** Per-call options, as the client library takes them. */
export interface CliCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Options the CLI passes to its client factory (a subset of the client's ClientOptions). */
export interface CliClientOptions {
  endpoints: string[];
  timeoutMs?: number;
  dialTimeoutMs?: number;
}

/** The part of the client library (src/client/client.ts `Client`) that the CLI uses. */
export interface CliClient {
  range(req: RangeRequest, o?: CliCallOptions): Promise<RangeResponse>;
  put(req: PutRequest, o?: CliCallOptions): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest, o?: CliCallOptions): Promise<DeleteRangeResponse>;
  txnRaw(req: TxnRequest, o?: CliCallOptions): Promise<TxnResponse>;
  compact(req: CompactionRequest, o?: CliCallOptions): Promise<CompactionResponse>;
  status(o?: CliCallOptions): Promise<StatusResponse>;
  close(): Promise<void>;
  // Leases (optional so that test doubles without them still fit; `lease` commands need them).
  leaseGrant?(req: LeaseGrantRequest, o?: CliCallOptions): Promise<LeaseGrantResponse>;
  leaseRevoke?(req: LeaseRevokeRequest, o?: CliCallOptions): Promise<LeaseRevokeResponse>;
  leaseTimeToLive?(req: LeaseTimeToLiveRequest, o?: CliCallOptions): Promise<LeaseTimeToLiveResponse>;
  leaseLeases?(o?: CliCallOptions): Promise<LeaseLeasesResponse>;
  /**
   * Keep-alives of lease `id`: `keepAliveOnce` rejects with a KvError coded `LeaseNotFound`
   * when the server answers TTL 0; `keepAlive` renews until it errors so (lease lost).
   */
  lease?(id: number): {
    keepAliveOnce(o?: { timeoutMs?: number }): Promise<LeaseKeepAliveResponse>;
    keepAlive(): Observable<LeaseKeepAliveResponse>;
  };
  // Membership (optional for the same reason; `member`, `move-leader` and `--cluster` need them).
  memberList?(o?: CliCallOptions): Promise<MembersResponse>;
  memberAdd?(req: MemberAddRequest, o?: CliCallOptions): Promise<MemberAddResponse>;
  memberRemove?(req: MemberRemoveRequest, o?: CliCallOptions): Promise<MembersResponse>;
  memberUpdate?(req: MemberUpdateRequest, o?: CliCallOptions): Promise<MembersResponse>;
  memberPromote?(req: MemberPromoteRequest, o?: CliCallOptions): Promise<MembersResponse>;
  /** Must be sent to the leader: a follower refuses it. */
  moveLeader?(req: MoveLeaderRequest, o?: CliCallOptions): Promise<MoveLeaderResponse>;
  /** Maintenance.Snapshot: the stream's messages (`snapshot save` needs it). */
  snapshot?(o?: CliCallOptions): AsyncIterable<SnapshotResponse>;
  // Alarms and defragmentation (optional for the same reason; `alarm` and `defrag` need them).
  alarmList?(type?: number, o?: CliCallOptions): Promise<AlarmResponse>;
  /** With no member and no type: every active alarm, as clientv3's AlarmDisarm. */
  alarmDisarm?(m?: Partial<AlarmMember>, o?: CliCallOptions): Promise<AlarmResponse>;
  /** Defragments the member the client is connected to. */
  defragment?(o?: CliCallOptions): Promise<void>;
}

/** The optional calls of CliClient that membership and maintenance commands use. */
export type ClusterCall =
  | 'memberList'
  | 'memberAdd'
  | 'memberRemove'
  | 'memberUpdate'
  | 'memberPromote'
  | 'moveLeader'
  | 'alarmList'
  | 'alarmDisarm'
  | 'defragment';

/**
 * The client's membership call `name`, bound to it. A client without it (a test double made
 * for other commands) fails the command with exit 4 rather than a TypeError.
 */
export function clusterCall<K extends ClusterCall>(client: CliClient, name: K): NonNullable<CliClient[K]> {
  const f = client[name];
  if (f === undefined) throw new CliError(ExitCode.BadFeature, `this client does not support ${name}`);
  return (f as (...args: unknown[]) => unknown).bind(client) as NonNullable<CliClient[K]>;
}

/** Makes a client; a throw (or rejection) means the endpoints are unusable: exit 2. */
export type ClientFactory = (options: CliClientOptions) => CliClient | Promise<CliClient>;

/** The global flags after defaults and environment variables are applied. */
export interface GlobalOptions {
  /** Endpoints as the user wrote them (printed back by `endpoint status/health`). */
  endpoints: string[];
  dialTimeoutMs: number;
  commandTimeoutMs: number;
  writeOut: string;
  hex: boolean;
}

/** Turns `host:port` into the default transport's URL; URLs with a scheme pass through. */
export function endpointUrl(endpoint: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `ws://${endpoint}`;
}

/**
 * The services one command run uses. Clients are created on first use and all closed by
 * `closeAll()` when the command ends, whatever its outcome.
 */
export class CommandContext {
  private shared: CliClient | undefined;
  private readonly open: CliClient[] = [];
  private stdinIterator: AsyncIterator<Uint8Array | string> | undefined;
  private stdinBuffer = new Uint8Array(0);
  private stdinDone = false;

  constructor(
    readonly io: CliIo,
    readonly globals: GlobalOptions,
    private readonly factory: ClientFactory,
    /** Monotonic clock in nanoseconds (for `took` in `endpoint health`). */
    readonly nowNs: () => bigint,
  ) {}

  /** The printer of `-w`; throws exit 4 for an unknown format before any request is sent. */
  printer(options: PrinterOptions = {}): Printer {
    return createPrinter(this.globals.writeOut, this.io.stdout, this.io.stderr, { hex: this.globals.hex, ...options });
  }

  /**
   * Options for one request: `--command-timeout`. NB: the client's deadline also covers
   * connecting; etcdctl's does in effect too (its dial does not block), so an unreachable
   * endpoint fails after the command timeout with `context deadline exceeded`.
   */
  callOptions(): CliCallOptions {
    return { timeoutMs: this.globals.commandTimeoutMs };
  }

  /** One client over every endpoint (the client picks and fails over). */
  async client(): Promise<CliClient> {
    this.shared ??= await this.connect(this.globals.endpoints);
    return this.shared;
  }

  /** A client of its own for one endpoint, as `endpoint status/health` query each member. */
  async clientFor(endpoint: string): Promise<CliClient> {
    return this.connect([endpoint]);
  }

  private async connect(endpoints: string[]): Promise<CliClient> {
    if (endpoints.length === 0) throw new CliError(ExitCode.BadConnection, 'no available endpoints');
    let c: CliClient;
    try {
      c = await this.factory({
        endpoints: endpoints.map(endpointUrl),
        timeoutMs: this.globals.commandTimeoutMs,
        dialTimeoutMs: this.globals.dialTimeoutMs,
      });
    } catch (e) {
      throw new CliError(ExitCode.BadConnection, e instanceof Error ? e.message : String(e));
    }
    this.open.push(c);
    return c;
  }

  /** Closes every client this run created; close errors do not change the outcome. */
  async closeAll(): Promise<void> {
    const all = this.open.splice(0);
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
    await this.stdinIterator?.return?.();
  }

  private async pull(): Promise<boolean> {
    if (this.stdinDone) return false;
    this.stdinIterator ??= this.io.stdin[Symbol.asyncIterator]();
    const r = await this.stdinIterator.next();
    if (r.done === true) {
      this.stdinDone = true;
      return false;
    }
    const chunk = typeof r.value === 'string' ? new TextEncoder().encode(r.value) : r.value;
    const merged = new Uint8Array(this.stdinBuffer.length + chunk.length);
    merged.set(this.stdinBuffer, 0);
    merged.set(chunk, this.stdinBuffer.length);
    this.stdinBuffer = merged;
    return true;
  }

  /** Everything left on stdin, as bytes. */
  async readStdin(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [this.stdinBuffer];
    this.stdinBuffer = new Uint8Array(0);
    while (await this.pull()) {
      parts.push(this.stdinBuffer);
      this.stdinBuffer = new Uint8Array(0);
    }
    return new Uint8Array(Buffer.concat(parts));
  }

  /**
   * The next stdin line without its `\n`, decoded as UTF-8; `null` at end of input when no
   * complete line is left. Like Go's `ReadString('\n')`, a last line without a newline is
   * an end of input, not a line.
   */
  async readLine(): Promise<string | null> {
    for (;;) {
      const nl = this.stdinBuffer.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.stdinBuffer.subarray(0, nl);
        this.stdinBuffer = this.stdinBuffer.slice(nl + 1);
        return new TextDecoder().decode(line);
      }
      if (!(await this.pull())) return null;
    }
  }
}
