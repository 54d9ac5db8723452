/**
 * The metrics port (src/core/ports/metrics.ts) over prom-client: one Registry per server (so
 * that several servers in one process, as in tests, do not share or clash), holding etcd's
 * metric names and prom-client's default `process_*` / `nodejs_*` metrics (`etcdctl check
 * datascale` reads `process_resident_memory_bytes`).
 *
 * Histogram buckets are etcd's: fsync and backend commit durations from 1 ms doubling 14
 * times (to ~8 s), peer round trips from 0.1 ms doubling 14 times.
 *
 * NB: a prom-client child bound with `labels()` still hashes its label values on every `inc`
 * (a string build and a validation, ~0.5 µs). The gRPC counters are bumped twice per call, so
 * they count into plain numbers held per method and code (`GrpcCounts`), copied into the
 * prom-client counters only when scraped. The other labelled metric (peer RTT) is observed
 * once a second per peer and uses prom-client's children as they are.
 */
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from 'prom-client';
import type {
  Counter as CounterHandle,
  GrpcMethodMetrics,
  GrpcType,
  Histogram as HistogramHandle,
  Metrics,
} from '../../core/ports/metrics.js';

/** gRPC status code → its name as grpc-go prints it (the `grpc_code` label). */
const GRPC_CODE_NAMES: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** A counter that is a plain number until scraped. */
class PlainCounter implements CounterHandle {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

/** The counts of one gRPC method, by plain increments (see the NB in the module comment). */
class GrpcCounts implements GrpcMethodMetrics {
  readonly started = new PlainCounter();
  /** By numeric status code. */
  readonly byCode: (PlainCounter | undefined)[] = [];

  constructor(readonly labels: { readonly grpc_type: string; readonly grpc_service: string; readonly grpc_method: string }) {}

  handled(code: number): CounterHandle {
    let c = this.byCode[code];
    if (c === undefined) {
      c = new PlainCounter();
      this.byCode[code] = c;
    }
    return c;
  }
}

/** What `PromMetrics` may be told at construction. */
export interface PromMetricsOptions {
  /** Also collect prom-client's default process and Node.js metrics (default true). */
  readonly defaultMetrics?: boolean;
}

/** `Metrics` recorded into a prom-client Registry of its own. */
export class PromMetrics implements Metrics {
  /** The registry every metric of this instance lives in. */
  readonly registry = new Registry();
  readonly hasLeader: Gauge;
  readonly leaderChanges: Counter;
  readonly proposalsCommitted: Gauge;
  readonly proposalsApplied: Gauge;
  readonly proposalsPending: Gauge;
  readonly proposalsFailed: Counter;
  readonly dbTotalSizeBytes: Gauge;
  readonly keysTotal: Gauge;
  readonly walFsyncSeconds: Histogram;
  readonly backendCommitSeconds: Histogram;
  private readonly peerRtt: Histogram<'To'>;
  private readonly peerChildren = new Map<string, HistogramHandle>();
  private readonly grpcStarted: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  private readonly grpcHandled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  private readonly grpcMethods = new Map<string, GrpcCounts>();
  private readonly refreshers = new Set<() => void>();

  constructor(options: PromMetricsOptions = {}) {
    const registers = [this.registry];
    const gauge = (name: string, help: string): Gauge => new Gauge({ name, help, registers });
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers });
    this.hasLeader = gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.');
    this.leaderChanges = counter('etcd_server_leader_changes_seen_total', 'The number of leader changes seen.');
    this.proposalsCommitted = gauge('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.');
    this.proposalsApplied = gauge('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied.');
    this.proposalsPending = gauge('etcd_server_proposals_pending', 'The current number of pending proposals to commit.');
    this.proposalsFailed = counter('etcd_server_proposals_failed_total', 'The total number of failed proposals seen.');
    this.dbTotalSizeBytes = gauge('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.');
    this.keysTotal = gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.');
    this.walFsyncSeconds = new Histogram({
      name: 'etcd_disk_wal_fsync_duration_seconds',
      help: 'The latency distributions of fsync called by WAL.',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.backendCommitSeconds = new Histogram({
      name: 'etcd_disk_backend_commit_duration_seconds',
      help: 'The latency distributions of commit called by backend.',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.peerRtt = new Histogram({
      name: 'etcd_network_peer_round_trip_time_seconds',
      help: 'Round-Trip-Time histogram between peers',
      labelNames: ['To'],
      buckets: exponentialBuckets(0.0001, 2, 14),
      registers,
    });
    const methods = this.grpcMethods;
    this.grpcStarted = new Counter({
      name: 'grpc_server_started_total',
      help: 'Total number of RPCs started on the server.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      registers,
      collect(this: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>) {
        this.reset();
        for (const m of methods.values()) this.inc(m.labels, m.started.value);
      },
    });
    this.grpcHandled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
      registers,
      collect(this: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>) {
        this.reset();
        for (const m of methods.values()) {
          m.byCode.forEach((c, code) => {
            if (c !== undefined) this.inc({ ...m.labels, grpc_code: GRPC_CODE_NAMES[code] ?? String(code) }, c.value);
          });
        }
      },
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  peerRoundTripSeconds(toHex: string): HistogramHandle {
    let h = this.peerChildren.get(toHex);
    if (h === undefined) {
      h = this.peerRtt.labels({ To: toHex });
      this.peerChildren.set(toHex, h);
    }
    return h;
  }

  grpcMethod(type: GrpcType, service: string, method: string): GrpcMethodMetrics {
    const key = `${type}/${service}/${method}`;
    let m = this.grpcMethods.get(key);
    if (m === undefined) {
      m = new GrpcCounts({ grpc_type: type, grpc_service: service, grpc_method: method });
      this.grpcMethods.set(key, m);
    }
    return m;
  }

  onScrape(refresh: () => void): () => void {
    this.refreshers.add(refresh);
    return () => this.refreshers.delete(refresh);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  scrape(): Promise<string> {
    for (const r of this.refreshers) {
      try {
        r();
      } catch {
        // A source that cannot be read now (a host not started yet) keeps its last value.
      }
    }
    return this.registry.metrics();
  }
}
