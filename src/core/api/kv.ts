/**
 * Request, response and event types of the KV API, as plain data.
 *
 * Field names are the camelCase forms of etcd's protobuf fields (etcdserverpb, mvccpb), so
 * that a message decoded from the wire by the codec already has this shape and travels to
 * the services without a copy. Keys and values are bytes. Revisions, versions and lease IDs
 * are numbers and must be safe integers (checked where data enters).
 *
 * Optional request fields follow proto3: absent means the zero value. A decoded protobuf
 * message may carry `null` for an absent oneof member, so readers use `?? 0` / `?? EMPTY`.
 */
import type { AlarmRequest } from './alarm.js';
import type { LeaseCheckpointRequest, LeaseGrantRequest, LeaseRevokeRequest } from './lease.js';

/** Raw bytes. Keys are compared byte-wise (unsigned lexicographic order). */
export type Bytes = Uint8Array;

/** The empty byte string, shared. Never mutate it. */
export const EMPTY: Bytes = new Uint8Array(0);

export interface ResponseHeader {
  clusterId: number;
  memberId: number;
  /** Store revision when the request was applied (writes) or the current one (reads). */
  revision: number;
  raftTerm: number;
}

/** mvccpb.KeyValue. */
export interface KeyValue {
  key: Bytes;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Bytes;
  lease: number;
}

export const EventType = { PUT: 0, DELETE: 1 } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** mvccpb.Event. A DELETE carries the key and the deletion revision as modRevision. */
export interface Event {
  type: EventType;
  kv: KeyValue;
  prevKv?: KeyValue | null;
}

export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];

export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
export type SortTarget = (typeof SortTarget)[keyof typeof SortTarget];

export interface RangeRequest {
  key: Bytes;
  rangeEnd?: Bytes | null;
  limit?: number;
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  /** Keys in the range at the read revision, before limit and before min/max filters. */
  count: number;
}

export interface PutRequest {
  key: Bytes;
  value?: Bytes | null;
  lease?: number;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue | null;
}

export interface DeleteRangeRequest {
  key: Bytes;
  rangeEnd?: Bytes | null;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
export type CompareResult = (typeof CompareResult)[keyof typeof CompareResult];

export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

/**
 * etcdserverpb.Compare. Exactly one of version / createRevision / modRevision / value / lease
 * is meaningful (the oneof `target_union`); the one read is the one named by `target`, and a
 * missing member compares as zero / empty, as etcd does.
 */
export interface Compare {
  result?: CompareResult;
  target?: CompareTarget;
  key: Bytes;
  version?: number | null;
  createRevision?: number | null;
  modRevision?: number | null;
  value?: Bytes | null;
  lease?: number | null;
  rangeEnd?: Bytes | null;
}

/** etcdserverpb.RequestOp: exactly one member set (none set is an error). */
export interface RequestOp {
  requestRange?: RangeRequest | null;
  requestPut?: PutRequest | null;
  requestDeleteRange?: DeleteRangeRequest | null;
  requestTxn?: TxnRequest | null;
}

/** etcdserverpb.ResponseOp. Nested headers carry only `revision` (others zero). */
export interface ResponseOp {
  responseRange?: RangeResponse;
  responsePut?: PutResponse;
  responseDeleteRange?: DeleteRangeResponse;
  responseTxn?: TxnResponse;
}

export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

export type StatusRequest = Record<string, never>;

/** etcdserverpb.HashKVRequest: hash the key space up to `revision` (0 = current). */
export interface HashKVRequest {
  revision?: number;
}

/** etcdserverpb.HashKVResponse. */
export interface HashKVResponse {
  header: ResponseHeader;
  hash: number;
  compactRevision: number;
}

/** etcdserverpb.SnapshotRequest (no fields). */
export type SnapshotRequest = Record<string, never>;

/**
 * etcdserverpb.SnapshotResponse: one chunk of a Maintenance.Snapshot stream. `remainingBytes`
 * counts the payload bytes still to come after this chunk; the last message carries the
 * SHA-256 of the payload as its blob, with remainingBytes 0 (etcd 3.4 sends no header).
 */
export interface SnapshotResponse {
  header?: ResponseHeader;
  remainingBytes: number;
  blob: Uint8Array;
}

/** etcdserverpb.StatusResponse. */
export interface StatusResponse {
  header: ResponseHeader;
  version: string;
  dbSize: number;
  leader: number;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  dbSizeInUse: number;
  isLearner: boolean;
}

/**
 * What one Raft log entry of type Normal carries: one client write (or a compaction), with
 * the id the proposing member uses to answer its client. Mirrors etcd's InternalRaftRequest.
 * Exactly one of the operation members is set.
 */
export interface InternalRequest {
  /** Request id, unique per proposing member; 0 for entries nobody waits on. */
  id: number;
  /**
   * Member id of the proposer (0 when only one member can propose). With `id` it names the
   * waiter to answer: the proposer resolves its waiter only for entries it proposed.
   */
  origin?: number;
  /** A member publishing its name and client URLs; applied by the host to the member list. */
  memberAttributes?: { id: number; name: string; clientUrls: string[] } | null;
  put?: PutRequest | null;
  deleteRange?: DeleteRangeRequest | null;
  txn?: TxnRequest | null;
  compaction?: CompactionRequest | null;
  /** A grant whose ID the proposer already chose (never 0) and whose TTL it already raised. */
  leaseGrant?: LeaseGrantRequest | null;
  /** A revoke: by a client, or by the leader for an expired lease. */
  leaseRevoke?: LeaseRevokeRequest | null;
  /** Remaining TTLs the leader saw (lease checkpointing). */
  leaseCheckpoint?: LeaseCheckpointRequest | null;
  /** An alarm raised or cleared (ACTIVATE / DEACTIVATE; a GET is answered without the log). */
  alarm?: AlarmRequest | null;
}
