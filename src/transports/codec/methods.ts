/**
 * The method table of the client protocol: method id (the u16 in REQUEST and STREAM_OPEN
 * frames) ↔ gRPC-style name ↔ request and response message types ↔ the `Services` call.
 *
 * Ids are grouped by service so that later issues can add methods without renumbering:
 *
 * | range   | service     | assigned                                                           |
 * |---------|-------------|--------------------------------------------------------------------|
 * | 1–15    | KV          | 1 Range, 2 Put, 3 DeleteRange, 4 Txn, 5 Compact                    |
 * | 16–31   | Watch       | 16 Watch (stream)                                                  |
 * | 32–47   | Lease       | 32 LeaseGrant, 33 LeaseRevoke, 34 LeaseKeepAlive (stream),         |
 * |         |             | 35 LeaseTimeToLive, 36 LeaseLeases                                 |
 * | 48–63   | Cluster     | (reserved) 48 MemberAdd … 52 MemberPromote                         |
 * | 64–79   | Maintenance | 64 Alarm, 65 Status, 66 Defragment, 67 Hash, 68 HashKV,            |
 * |         |             | 69 Snapshot (server stream), 70 MoveLeader, 71 Downgrade — all but |
 * |         |             | 71 are listed today                                                |
 * | 80–111  | Auth        | (reserved)                                                         |
 *
 * Ids are part of the wire protocol: never reuse or renumber one.
 */
import { KvError } from '../../core/errors.js';
import type {
  ClusterService,
  CallContext,
  LeaseService,
  MaintenanceService,
  Services,
  StreamOpener,
} from '../../core/ports/services.js';
import { codecOf, type MessageCodec, type MessageName, type MessageOf } from '../../codec/messages.js';
import type { FrameKind } from './frame.js';
import { encodeWatchResponseFrame } from './watch-encoding.js';

/** A request → response method. */
export interface UnaryMethod<Req = unknown, Res = unknown> {
  readonly kind: 'unary';
  readonly id: number;
  /** gRPC path form without the leading slash, e.g. `etcdserverpb.KV/Range`. */
  readonly name: string;
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
  /** Runs the call on the services. A module-level function: no closure per call. */
  readonly invoke: (services: Services, req: Req, ctx: CallContext) => Promise<Res>;
}

/**
 * A bidirectional stream method. `opener` picks the service's StreamOpener; it is absent until
 * the issue that implements the method, and may return undefined when the services at hand do
 * not offer it. Opening a stream without an opener is answered with an Unimplemented error.
 */
export interface StreamMethod<Req = unknown, Res = unknown> {
  readonly kind: 'stream';
  readonly id: number;
  readonly name: string;
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
  readonly opener?: (services: Services) => StreamOpener<Req, Res> | undefined;
  /**
   * Builds the frame of one server message faster than the generic encoder (the same bytes
   * once decoded); absent = the generic encoder of `response`.
   */
  readonly frameEncoder?: (kind: FrameKind, id: number, res: Res) => Buffer;
}

/** Any method of the table (its message types erased). */
export type Method = UnaryMethod<any, any> | StreamMethod<any, any>;

function unary<Q extends MessageName, R extends MessageName>(
  id: number,
  name: string,
  request: Q,
  response: R,
  invoke: (services: Services, req: MessageOf<Q>, ctx: CallContext) => Promise<MessageOf<R>>,
): UnaryMethod<MessageOf<Q>, MessageOf<R>> {
  return Object.freeze({ kind: 'unary', id, name, request: codecOf(request), response: codecOf(response), invoke });
}

function stream<Q extends MessageName, R extends MessageName>(
  id: number,
  name: string,
  request: Q,
  response: R,
  opener?: (services: Services) => StreamOpener<MessageOf<Q>, MessageOf<R>> | undefined,
  frameEncoder?: (kind: FrameKind, id: number, res: MessageOf<R>) => Buffer,
): StreamMethod<MessageOf<Q>, MessageOf<R>> {
  const m = { kind: 'stream' as const, id, name, request: codecOf(request), response: codecOf(response) };
  return Object.freeze({
    ...m,
    ...(opener === undefined ? {} : { opener }),
    ...(frameEncoder === undefined ? {} : { frameEncoder }),
  });
}

/** The Lease service, or Unimplemented where the services at hand have none. */
function leaseOf(s: Services): LeaseService {
  if (s.lease === undefined) throw new KvError('UnknownMethod', 'the Lease service is not available');
  return s.lease;
}

/** The Cluster service, or Unimplemented where the services at hand have none. */
function clusterOf(s: Services): ClusterService {
  if (s.cluster === undefined) throw new KvError('UnknownMethod', 'the Cluster service is not available');
  return s.cluster;
}

/**
 * The optional Maintenance call `name` of the services at hand, bound, or Unimplemented where
 * they have none (test doubles).
 */
function maintenanceCall<K extends 'alarm' | 'defragment' | 'hash'>(s: Services, name: K): NonNullable<MaintenanceService[K]> {
  const m = s.maintenance;
  const f = m[name];
  if (f === undefined) throw new KvError('UnknownMethod', `Maintenance.${name} is not available`);
  return (f as (...args: unknown[]) => unknown).bind(m) as NonNullable<MaintenanceService[K]>;
}

/** Every method the protocol knows today, by short name. */
export const Methods = {
  Range: unary(1, 'etcdserverpb.KV/Range', 'etcdserverpb.RangeRequest', 'etcdserverpb.RangeResponse', (s, r, c) =>
    s.kv.range(r, c),
  ),
  Put: unary(2, 'etcdserverpb.KV/Put', 'etcdserverpb.PutRequest', 'etcdserverpb.PutResponse', (s, r, c) =>
    s.kv.put(r, c),
  ),
  DeleteRange: unary(
    3,
    'etcdserverpb.KV/DeleteRange',
    'etcdserverpb.DeleteRangeRequest',
    'etcdserverpb.DeleteRangeResponse',
    (s, r, c) => s.kv.deleteRange(r, c),
  ),
  Txn: unary(4, 'etcdserverpb.KV/Txn', 'etcdserverpb.TxnRequest', 'etcdserverpb.TxnResponse', (s, r, c) =>
    s.kv.txn(r, c),
  ),
  Compact: unary(
    5,
    'etcdserverpb.KV/Compact',
    'etcdserverpb.CompactionRequest',
    'etcdserverpb.CompactionResponse',
    (s, r, c) => s.kv.compact(r, c),
  ),
  Watch: stream(
    16,
    'etcdserverpb.Watch/Watch',
    'etcdserverpb.WatchRequest',
    'etcdserverpb.WatchResponse',
    (s) => s.watch?.open,
    encodeWatchResponseFrame,
  ),
  LeaseGrant: unary(
    32,
    'etcdserverpb.Lease/LeaseGrant',
    'etcdserverpb.LeaseGrantRequest',
    'etcdserverpb.LeaseGrantResponse',
    (s, r, c) => leaseOf(s).grant(r, c),
  ),
  LeaseRevoke: unary(
    33,
    'etcdserverpb.Lease/LeaseRevoke',
    'etcdserverpb.LeaseRevokeRequest',
    'etcdserverpb.LeaseRevokeResponse',
    (s, r, c) => leaseOf(s).revoke(r, c),
  ),
  LeaseKeepAlive: stream(
    34,
    'etcdserverpb.Lease/LeaseKeepAlive',
    'etcdserverpb.LeaseKeepAliveRequest',
    'etcdserverpb.LeaseKeepAliveResponse',
    (s) => s.lease?.keepAlive,
  ),
  LeaseTimeToLive: unary(
    35,
    'etcdserverpb.Lease/LeaseTimeToLive',
    'etcdserverpb.LeaseTimeToLiveRequest',
    'etcdserverpb.LeaseTimeToLiveResponse',
    (s, r, c) => leaseOf(s).timeToLive(r, c),
  ),
  LeaseLeases: unary(
    36,
    'etcdserverpb.Lease/LeaseLeases',
    'etcdserverpb.LeaseLeasesRequest',
    'etcdserverpb.LeaseLeasesResponse',
    (s, r, c) => leaseOf(s).leases(r, c),
  ),
  Alarm: unary(64, 'etcdserverpb.Maintenance/Alarm', 'etcdserverpb.AlarmRequest', 'etcdserverpb.AlarmResponse', async (s, r, c) =>
    maintenanceCall(s, 'alarm')(r, c),
  ),
  Defragment: unary(
    66,
    'etcdserverpb.Maintenance/Defragment',
    'etcdserverpb.DefragmentRequest',
    'etcdserverpb.DefragmentResponse',
    async (s, r, c) => maintenanceCall(s, 'defragment')(r, c),
  ),
  Hash: unary(67, 'etcdserverpb.Maintenance/Hash', 'etcdserverpb.HashRequest', 'etcdserverpb.HashResponse', async (s, r, c) =>
    maintenanceCall(s, 'hash')(r, c),
  ),
  Status: unary(
    65,
    'etcdserverpb.Maintenance/Status',
    'etcdserverpb.StatusRequest',
    'etcdserverpb.StatusResponse',
    (s, r, c) => s.maintenance.status(r, c),
  ),
  MemberAdd: unary(48, 'etcdserverpb.Cluster/MemberAdd', 'etcdserverpb.MemberAddRequest', 'etcdserverpb.MemberAddResponse', (s, r, c) =>
    clusterOf(s).memberAdd(r, c),
  ),
  MemberRemove: unary(49, 'etcdserverpb.Cluster/MemberRemove', 'etcdserverpb.MemberRemoveRequest', 'etcdserverpb.MemberRemoveResponse', (s, r, c) =>
    clusterOf(s).memberRemove(r, c),
  ),
  MemberUpdate: unary(50, 'etcdserverpb.Cluster/MemberUpdate', 'etcdserverpb.MemberUpdateRequest', 'etcdserverpb.MemberUpdateResponse', (s, r, c) =>
    clusterOf(s).memberUpdate(r, c),
  ),
  MemberList: unary(51, 'etcdserverpb.Cluster/MemberList', 'etcdserverpb.MemberListRequest', 'etcdserverpb.MemberListResponse', (s, r, c) =>
    clusterOf(s).memberList(r, c),
  ),
  MemberPromote: unary(52, 'etcdserverpb.Cluster/MemberPromote', 'etcdserverpb.MemberPromoteRequest', 'etcdserverpb.MemberPromoteResponse', (s, r, c) =>
    clusterOf(s).memberPromote(r, c),
  ),
  MoveLeader: unary(70, 'etcdserverpb.Maintenance/MoveLeader', 'etcdserverpb.MoveLeaderRequest', 'etcdserverpb.MoveLeaderResponse', (s, r, c) =>
    clusterOf(s).moveLeader(r, c),
  ),
  Snapshot: stream(
    69,
    'etcdserverpb.Maintenance/Snapshot',
    'etcdserverpb.SnapshotRequest',
    'etcdserverpb.SnapshotResponse',
    (s) => s.maintenance.snapshot,
  ),
  HashKV: unary(
    68,
    'etcdserverpb.Maintenance/HashKV',
    'etcdserverpb.HashKVRequest',
    'etcdserverpb.HashKVResponse',
    (s, r, c) => (s.maintenance.hashKV ? s.maintenance.hashKV(r, c) : Promise.reject(new KvError('UnknownMethod', 'HashKV'))),
  ),
} as const;

const byId: (Method | undefined)[] = [];
for (const m of Object.values(Methods) as Method[]) {
  if (byId[m.id] !== undefined) throw new Error(`duplicate method id ${m.id}`);
  byId[m.id] = m;
}

/** The method with wire id `id`, or undefined for an unknown id. O(1). */
export function methodById(id: number): Method | undefined {
  return byId[id];
}
