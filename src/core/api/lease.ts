/**
 * Lease API messages as plain data: etcdserverpb's Lease* requests and responses, with the
 * field names protobufjs gives them (etcd spells `ID`, `TTL`, `grantedTTL` in capitals, and the
 * decoded messages keep those names), so that a decoded message fits without a copy.
 *
 * Lease IDs are positive safe integers in etcetera (below 2^53): the server never issues a
 * larger one, and the codec refuses one on the wire. TTLs are in seconds.
 */
import type { Bytes, ResponseHeader } from './kv.js';

/** The largest TTL a lease may be granted with, in seconds (etcd's MaxLeaseTTL). */
export const MAX_LEASE_TTL_SEC = 9_000_000_000;

/** etcdserverpb.LeaseGrantRequest. */
export interface LeaseGrantRequest {
  /** Requested TTL in seconds; raised to the server's minimum when lower (0 and negatives too). */
  TTL?: number;
  /** 0 = the server picks an unused positive ID. */
  ID?: number;
}

/** etcdserverpb.LeaseGrantResponse. */
export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: number;
  /** The TTL granted, after raising it to the minimum. */
  TTL: number;
  /** Always empty (etcd never fills it either). */
  error?: string;
}

/** etcdserverpb.LeaseRevokeRequest. */
export interface LeaseRevokeRequest {
  ID?: number;
}

/** etcdserverpb.LeaseRevokeResponse. */
export interface LeaseRevokeResponse {
  header: ResponseHeader;
}

/** One lease's remaining TTL as the leader saw it, carried through the log (internal). */
export interface LeaseCheckpoint {
  ID?: number;
  /** Seconds; 0 clears a previous checkpoint (the lease was renewed to its full TTL). */
  remainingTTL?: number;
}

/** Internal (raft-only): remaining TTLs to persist, so that a new leader does not reset them. */
export interface LeaseCheckpointRequest {
  checkpoints?: LeaseCheckpoint[];
}

/** etcdserverpb.LeaseCheckpointResponse. */
export interface LeaseCheckpointResponse {
  header: ResponseHeader;
}

/** etcdserverpb.LeaseKeepAliveRequest. */
export interface LeaseKeepAliveRequest {
  ID?: number;
}

/** etcdserverpb.LeaseKeepAliveResponse. */
export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: number;
  /** The lease's granted TTL after the renewal; 0 when the lease does not exist or expired. */
  TTL: number;
}

/** etcdserverpb.LeaseTimeToLiveRequest. */
export interface LeaseTimeToLiveRequest {
  ID?: number;
  /** List the keys attached to the lease. */
  keys?: boolean;
}

/** etcdserverpb.LeaseTimeToLiveResponse. */
export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: number;
  /** Remaining whole seconds (floor); -1 when the lease does not exist. */
  TTL: number;
  /** The TTL granted (or last renewed to); 0 when the lease does not exist. */
  grantedTTL: number;
  /** Attached keys in byte order, when asked for. */
  keys: Bytes[];
}

/** etcdserverpb.LeaseLeasesRequest (no fields). */
export type LeaseLeasesRequest = Record<string, never>;

/** etcdserverpb.LeaseStatus. */
export interface LeaseStatus {
  ID: number;
}

/** etcdserverpb.LeaseLeasesResponse. */
export interface LeaseLeasesResponse {
  header: ResponseHeader;
  /** Every lease, by ascending ID. */
  leases: LeaseStatus[];
}
