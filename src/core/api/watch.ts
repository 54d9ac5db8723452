/**
 * Watch API messages as plain data (etcdserverpb WatchRequest / WatchResponse and their parts),
 * camelCase forms of etcd's fields so that decoded protobuf messages fit without a copy.
 */
import type { Bytes, Event, ResponseHeader } from './kv.js';

export const FilterType = { NOPUT: 0, NODELETE: 1 } as const;
export type FilterType = (typeof FilterType)[keyof typeof FilterType];

export interface WatchCreateRequest {
  /** Empty is treated as "\0". */
  key: Bytes;
  rangeEnd?: Bytes | null;
  /** Inclusive; 0 = from now (current revision + 1). */
  startRevision?: number;
  progressNotify?: boolean;
  filters?: FilterType[];
  prevKv?: boolean;
  /** 0 = the server assigns one. */
  watchId?: number;
  fragment?: boolean;
}

export interface WatchCancelRequest {
  watchId: number;
}

export type WatchProgressRequest = Record<string, never>;

/** Exactly one member set (oneof request_union). */
export interface WatchRequest {
  createRequest?: WatchCreateRequest | null;
  cancelRequest?: WatchCancelRequest | null;
  progressRequest?: WatchProgressRequest | null;
}

export interface WatchResponse {
  header: ResponseHeader;
  /** -1 for replies not tied to a watcher (progress replies to a progress request). */
  watchId: number;
  created?: boolean;
  canceled?: boolean;
  compactRevision?: number;
  cancelReason?: string;
  fragment?: boolean;
  events: Event[];
}
