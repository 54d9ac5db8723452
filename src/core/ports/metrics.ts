/**
 * The metrics port: what the server shell and the transports record, named after etcd's
 * Prometheus metrics where the concept is the same, so that dashboards and alerts written for
 * etcd (`etcd_server_has_leader == 0`, `etcd_disk_wal_fsync_duration_seconds` quantiles, gRPC
 * error rates) work unchanged. The server binds a prom-client implementation
 * (src/server/metrics/prom-metrics.ts) and serves it at `GET /metrics` on the grpc port; tests
 * and tools use `noMetrics`.
 *
 * Two ways to record, chosen by cost:
 * - events (an fsync, a failed proposal, a leader change, a gRPC call) are recorded where they
 *   happen, through handles bound once to their labels (`Counter`, `Histogram`): one call, no
 *   label lookup, on the hot path;
 * - levels that are cheap to read on demand (applied index, pending proposals, database size,
 *   number of keys) are set by `onScrape` callbacks right before each scrape, so they cost
 *   nothing between scrapes.
 *
 * | handle               | Prometheus name                                  | type      |
 * |----------------------|--------------------------------------------------|-----------|
 * | hasLeader            | etcd_server_has_leader                           | gauge     |
 * | leaderChanges        | etcd_server_leader_changes_seen_total            | counter   |
 * | proposalsCommitted   | etcd_server_proposals_committed_total            | gauge     |
 * | proposalsApplied     | etcd_server_proposals_applied_total              | gauge     |
 * | proposalsPending     | etcd_server_proposals_pending                    | gauge     |
 * | proposalsFailed      | etcd_server_proposals_failed_total               | counter   |
 * | dbTotalSizeBytes     | etcd_mvcc_db_total_size_in_bytes                 | gauge     |
 * | keysTotal            | etcd_debugging_mvcc_keys_total                   | gauge     |
 * | walFsyncSeconds      | etcd_disk_wal_fsync_duration_seconds             | histogram |
 * | backendCommitSeconds | etcd_disk_backend_commit_duration_seconds        | histogram |
 * | peerRoundTripSeconds | etcd_network_peer_round_trip_time_seconds{To}    | histogram |
 * | grpcMethod           | grpc_server_started_total, grpc_server_handled_total | counter |
 *
 * (etcd's own types: the proposals committed/applied "totals" are gauges there too.)
 */
import type { ServiceIdentifier } from 'inversify';

/** A monotonically increasing count, bound to its labels. */
export interface Counter {
  inc(by?: number): void;
}

/** A level that goes up and down, bound to its labels. */
export interface Gauge {
  set(value: number): void;
}

/** A distribution of observed values (seconds for durations), bound to its labels. */
export interface Histogram {
  observe(value: number): void;
}

/** How a gRPC method streams, as go-grpc-prometheus labels it (`grpc_type`). */
export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/** The counters of one gRPC method (`grpc_service` + `grpc_method` + `grpc_type`). */
export interface GrpcMethodMetrics {
  /** grpc_server_started_total: a call was received. */
  readonly started: Counter;
  /**
   * grpc_server_handled_total for the call's final status code (numeric gRPC code; the label
   * carries its name, `OK`, `Unavailable`, …). Implementations cache one child per code.
   */
  handled(code: number): Counter;
}

/** See the module comment for what each handle is called in Prometheus. */
export interface Metrics {
  readonly hasLeader: Gauge;
  readonly leaderChanges: Counter;
  /** The commit index (etcd: "total number of consensus proposals committed"). */
  readonly proposalsCommitted: Gauge;
  /** The applied index. */
  readonly proposalsApplied: Gauge;
  /** Proposals waiting to be committed and applied. */
  readonly proposalsPending: Gauge;
  /** Proposals that could not be proposed, or were not answered (timeout, leader change, stop). */
  readonly proposalsFailed: Counter;
  /** Bytes the backend occupies. */
  readonly dbTotalSizeBytes: Gauge;
  /** Keys in the MVCC key index (with retained history). */
  readonly keysTotal: Gauge;
  /** Duration of one durable LogStore.save (append + fsync), in seconds. */
  readonly walFsyncSeconds: Histogram;
  /** Duration of one backend commit (one apply batch), in seconds. */
  readonly backendCommitSeconds: Histogram;
  /** Round-trip time to peer `toHex` (member id in hex, etcd's `To` label), in seconds. */
  peerRoundTripSeconds(toHex: string): Histogram;
  /** The counters of one gRPC method; call once per method and keep the result. */
  grpcMethod(type: GrpcType, service: string, method: string): GrpcMethodMetrics;
  /**
   * Registers `refresh`, run right before every scrape to set gauges from their sources.
   * Returns a function that unregisters it (call it when the source goes away).
   */
  onScrape(refresh: () => void): () => void;
  /** The Content-Type of `scrape()`'s text. */
  readonly contentType: string;
  /** Every metric in the Prometheus text exposition format (runs the `onScrape` callbacks). */
  scrape(): Promise<string>;
}

export const Metrics: ServiceIdentifier<Metrics> = Symbol.for('etcetera.Metrics');

const noop = { inc() {}, set() {}, observe() {} };
const noGrpc: GrpcMethodMetrics = { started: noop, handled: () => noop };

/** Metrics that record nothing and scrape as empty text: for tests, tools and simulations. */
export const noMetrics: Metrics = Object.freeze({
  hasLeader: noop,
  leaderChanges: noop,
  proposalsCommitted: noop,
  proposalsApplied: noop,
  proposalsPending: noop,
  proposalsFailed: noop,
  dbTotalSizeBytes: noop,
  keysTotal: noop,
  walFsyncSeconds: noop,
  backendCommitSeconds: noop,
  peerRoundTripSeconds: () => noop,
  grpcMethod: () => noGrpc,
  onScrape: () => () => {},
  contentType: 'text/plain; version=0.0.4; charset=utf-8',
  scrape: () => Promise.resolve(''),
});
