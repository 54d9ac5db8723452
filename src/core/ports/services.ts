/**
 * The API services every client transport calls. Transports decode a request, call one of
 * these, and encode the answer or the `KvError` it throws; they hold no business logic.
 * Later issues add watch, lease, cluster and auth services here.
 */
import type { ServiceIdentifier } from 'inversify';
import type {
  HashKVRequest,
  HashKVResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  SnapshotRequest,
  SnapshotResponse,
  StatusRequest,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../api/kv.js';
import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesRequest,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../api/lease.js';
import type {
  MemberAddRequest,
  MemberAddResponse,
  MemberListRequest,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MembersResponse,
  MemberUpdateRequest,
  MoveLeaderRequest,
  MoveLeaderResponse,
} from '../api/cluster.js';
import type { AlarmRequest, AlarmResponse, HashRequest, HashResponse } from '../api/alarm.js';
import type { WatchRequest, WatchResponse } from '../api/watch.js';
import type { KvError } from '../errors.js';

/** Per-call context a transport passes along. */
export interface CallContext {
  /** Aborted when the client cancels the call or its connection closes. */
  readonly signal?: AbortSignal;
}

export interface KvService {
  range(req: RangeRequest, ctx?: CallContext): Promise<RangeResponse>;
  put(req: PutRequest, ctx?: CallContext): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest, ctx?: CallContext): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest, ctx?: CallContext): Promise<TxnResponse>;
  compact(req: CompactionRequest, ctx?: CallContext): Promise<CompactionResponse>;
}

export interface MaintenanceService {
  status(req: StatusRequest, ctx?: CallContext): Promise<StatusResponse>;
  /** A hash of the key space's history up to a revision: equal on members with equal state. */
  hashKV?(req: HashKVRequest, ctx?: CallContext): Promise<HashKVResponse>;
  /**
   * Maintenance.Alarm: GET lists the active alarms (of one type, or all for NONE); ACTIVATE
   * and DEACTIVATE raise and clear one through the log, answering the alarm changed (none when
   * nothing changed). No header, as etcd 3.4. Absent where there is no alarm table.
   */
  alarm?(req: AlarmRequest, ctx?: CallContext): Promise<AlarmResponse>;
  /**
   * Maintenance.Defragment of this member's backend, resolving once its size reflects the
   * rewrite. No header, as etcd 3.4. Absent where the services cannot (test doubles).
   */
  defragment?(req: Record<string, never>, ctx?: CallContext): Promise<Record<string, never>>;
  /** Maintenance.Hash: a hash of this member's whole backend (see MaintenanceServiceImpl). */
  hash?(req: HashRequest, ctx?: CallContext): Promise<HashResponse>;
  /**
   * Maintenance.Snapshot, a server stream: after the client's one (empty) request, or its
   * half-close, the member's whole backend at one applied index, as the chunks of a snapshot
   * file (src/server/snapshot-file.ts: payload chunks with the bytes remaining, then the
   * SHA-256), then a clean close. Absent where the services cannot take one (test doubles).
   */
  readonly snapshot?: StreamOpener<SnapshotRequest, SnapshotResponse>;
}

/**
 * The server's side of one bidirectional stream (Watch, LeaseKeepAlive), as a transport
 * drives it. Plain callbacks, not RxJS: the core declares no RxJS types, and the transport
 * owns the flow control.
 */
export interface StreamSink<Res> {
  /**
   * Queues one message toward the client. Returns false when the connection's outbound queue is
   * above its cap (the message is still queued): the producer should hold further messages
   * until `onDrain` fires, and must never block the applier waiting for it.
   */
  send(res: Res): boolean;
  /** Calls `cb` once the outbound queue is below the cap again (at once if it already is). */
  onDrain(cb: () => void): void;
  /** Ends the stream from the server side: cleanly, or with an error the client receives. */
  close(err?: KvError): void;
}

/** What a service handler answers to a stream being opened: how to feed it client messages. */
export interface StreamHandlers<Req> {
  /** One message from the client. */
  message(req: Req): void;
  /** The client will send no more messages (half-close); the server may keep sending. */
  end(): void;
  /** The client cancelled the stream or the connection was lost: release everything. */
  cancel(): void;
}

/** Opens one stream; `sink` is how the service answers. */
export type StreamOpener<Req, Res> = (sink: StreamSink<Res>, ctx: CallContext) => StreamHandlers<Req>;

/**
 * etcdserverpb.Lease. Grant and revoke go through the log; time-to-live and keep-alive are
 * answered by the leader's lessor (keep-alives renew there only, never through the log).
 */
export interface LeaseService {
  grant(req: LeaseGrantRequest, ctx?: CallContext): Promise<LeaseGrantResponse>;
  revoke(req: LeaseRevokeRequest, ctx?: CallContext): Promise<LeaseRevokeResponse>;
  timeToLive(req: LeaseTimeToLiveRequest, ctx?: CallContext): Promise<LeaseTimeToLiveResponse>;
  leases(req: LeaseLeasesRequest, ctx?: CallContext): Promise<LeaseLeasesResponse>;
  /** LeaseKeepAlive streams: one answer per request, in order; many leases on one stream. */
  readonly keepAlive: StreamOpener<LeaseKeepAliveRequest, LeaseKeepAliveResponse>;
}

/** Membership (etcdserverpb.Cluster) and leadership transfer (Maintenance.MoveLeader). */
export interface ClusterService {
  memberList(req: MemberListRequest, ctx?: CallContext): Promise<MembersResponse>;
  memberAdd(req: MemberAddRequest, ctx?: CallContext): Promise<MemberAddResponse>;
  memberRemove(req: MemberRemoveRequest, ctx?: CallContext): Promise<MembersResponse>;
  memberUpdate(req: MemberUpdateRequest, ctx?: CallContext): Promise<MembersResponse>;
  memberPromote(req: MemberPromoteRequest, ctx?: CallContext): Promise<MembersResponse>;
  moveLeader(req: MoveLeaderRequest, ctx?: CallContext): Promise<MoveLeaderResponse>;
}

export interface Services {
  readonly kv: KvService;
  readonly maintenance: MaintenanceService;
  /** Membership; absent in test doubles that do not need it. */
  readonly cluster?: ClusterService;
  /** Watch streams (etcdserverpb.Watch/Watch); absent until the watch service is wired. */
  readonly watch?: { readonly open: StreamOpener<WatchRequest, WatchResponse> };
  /** The Lease service; absent where leases are not wired (test doubles). */
  readonly lease?: LeaseService;
}

export const Services: ServiceIdentifier<Services> = Symbol.for('etcetera.Services');
