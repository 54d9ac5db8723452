/**
 * The RPC table of the etcd-compatible port: every gRPC method path etcd 3.4/3.5 serves, its
 * message types, how the port answers it, and its JSON gateway path. The gRPC transport and the
 * HTTP gateway both dispatch through this one table, so a method answers the same either way.
 *
 * What is served (auth disabled):
 *
 * | service                | answered by                                                        |
 * |------------------------|--------------------------------------------------------------------|
 * | KV                     | `services.kv`                                                      |
 * | Watch                  | `services.watch.open` when wired, else Unimplemented               |
 * | Lease                  | `services.lease` when wired, else Unimplemented                    |
 * | Cluster                | `services.cluster` when wired (client URLs shown as etcd clients   |
 * |                        | dial them, see `etcdClientUrls`); else MemberList lists this one   |
 * |                        | member and the changes are Unimplemented                           |
 * | Maintenance.Status     | `services.maintenance.status`                                      |
 * | Maintenance.HashKV     | `services.maintenance.hashKV` when present, else Unimplemented     |
 * | Maintenance.Hash       | `services.maintenance.hash` when present, else Unimplemented       |
 * | Maintenance.MoveLeader | `services.cluster.moveLeader`; without it, to itself: success,     |
 * |                        | else `etcdserver: bad leader transferee`                           |
 * | Maintenance.Alarm      | `services.maintenance.alarm` when present; else GET / DEACTIVATE:  |
 * |                        | no alarms (`{}`, no header, as etcd 3.4), ACTIVATE: Unimplemented  |
 * | Maintenance.Defragment | `services.maintenance.defragment` when present, else success; no   |
 * |                        | header either way                                                  |
 * | Maintenance.Snapshot   | `services.maintenance.snapshot` when present, else Unimplemented   |
 * | Maintenance.Downgrade  | Unimplemented                                                      |
 * | Auth                   | as etcd with auth disabled and no users or roles                   |
 * | grpc.health.v1.Health  | SERVING for service ""                                             |
 */
import type protobuf from 'protobufjs';
import type { AlarmRequest } from '../../core/api/alarm.js';
import type { ResponseHeader } from '../../core/api/kv.js';
import { KvError, Status } from '../../core/errors.js';
import type { MemberInfo, MoveLeaderRequest } from '../../core/api/cluster.js';
import type {
  CallContext,
  ClusterService,
  LeaseService,
  Services,
  StreamHandlers,
  StreamSink,
} from '../../core/ports/services.js';
import { codecOf, type MessageName } from '../../codec/messages.js';
import { ExtraCodec } from './grpc-schema.js';
import { WatchReplyWriter } from '../codec/watch-encoding.js';
import { PrefixedWriter, type PayloadWriter } from './grpc-frame.js';
import type { WatchResponse } from '../../core/api/watch.js';

/** Encoder and decoder of one message type, whichever root it comes from. */
export interface Codec<T = any> {
  /** The protobufjs type (the JSON gateway encodes through it). */
  readonly type: protobuf.Type;
  encodeInto(msg: T, writer: protobuf.Writer): protobuf.Writer;
  /** @throws on bytes that are not a valid encoding. */
  decode(bytes: Uint8Array): T;
}

/** A failure with an explicit gRPC status, for answers that have no `KvError` code. */
export class GrpcStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcStatusError';
  }
}

/** What the member says about itself in MemberList when no cluster service answers. */
export interface SelfMember {
  readonly name: string;
  readonly peerUrls: readonly string[];
  /** Filled in once the listener knows its port. */
  clientUrls: readonly string[];
}

/** What an RPC handler gets besides its request. */
export interface RpcEnv {
  readonly services: Services;
  readonly member: SelfMember;
}

/** A request → response method. */
export interface UnaryRpc<Req = any, Res = any> {
  readonly kind: 'unary';
  /** `/package.Service/Method`. */
  readonly path: string;
  readonly requestType: string;
  readonly responseType: string;
  readonly request: Codec<Req>;
  readonly response: Codec<Res>;
  /** POST path of the JSON gateway, if it has one. */
  readonly gatewayPath?: string;
  readonly invoke: (env: RpcEnv, req: Req, ctx: CallContext) => Promise<Res>;
}

/**
 * A streaming method (bidirectional, or server streaming with one request). `open` throws a
 * `GrpcStatusError` when the method is not served; the transport answers it trailers-only.
 */
export interface StreamRpc<Req = any, Res = any> {
  readonly kind: 'stream';
  readonly path: string;
  readonly requestType: string;
  readonly responseType: string;
  readonly request: Codec<Req>;
  readonly response: Codec<Res>;
  readonly gatewayPath?: string;
  /** How it streams: the `grpc_type` label of its metrics. */
  readonly streamType: 'server_stream' | 'bidi_stream';
  /** Whether the method can be opened at all (checked before any header is sent). */
  readonly available: (env: RpcEnv) => boolean;
  readonly open: (env: RpcEnv, sink: StreamSink<Res>, ctx: CallContext) => StreamHandlers<Req>;
  /**
   * A faster encoder of responses as length-prefixed gRPC messages, when the method has one
   * (Watch: the bytes shared by every watcher of a revision are encoded once, and each reply is
   * written straight into the connection's output); a response it measures as -1 goes to the
   * generic encoder of `response`.
   */
  readonly messageWriter?: PayloadWriter<Res>;
}

export type Rpc = UnaryRpc | StreamRpc;

// ---------------------------------------------------------------------------------------------

function codec(name: string): Codec {
  return name.startsWith('etcdserverpb.') && !name.slice(13).startsWith('Auth')
    ? (codecOf(name as MessageName) as unknown as Codec)
    : new ExtraCodec(name);
}

function notServed(path: string): GrpcStatusError {
  return new GrpcStatusError(Status.UNIMPLEMENTED, `etcetera: not implemented yet: ${path.slice(1)}`);
}

type Invoke = UnaryRpc['invoke'];

const rpcs: Rpc[] = [];

function unary(service: string, method: string, req: string, res: string, gatewayPath: string | undefined, invoke: Invoke | null): void {
  const path = `/${service}/${method}`;
  const pkg = service.slice(0, service.lastIndexOf('.') + 1);
  const requestType = req.includes('.') ? req : pkg + req;
  const responseType = res.includes('.') ? res : pkg + res;
  rpcs.push(
    Object.freeze({
      kind: 'unary',
      path,
      requestType,
      responseType,
      request: codec(requestType),
      response: codec(responseType),
      ...(gatewayPath === undefined ? {} : { gatewayPath }),
      invoke:
        invoke ??
        (() => {
          throw notServed(path);
        }),
    } satisfies UnaryRpc),
  );
}

function stream(
  service: string,
  method: string,
  req: string,
  res: string,
  gatewayPath: string | undefined,
  available: StreamRpc['available'],
  open: StreamRpc['open'] | null,
  streamType: StreamRpc['streamType'] = 'bidi_stream',
  messageWriter?: StreamRpc['messageWriter'],
): void {
  const path = `/${service}/${method}`;
  const pkg = service.slice(0, service.lastIndexOf('.') + 1);
  const requestType = pkg + req;
  const responseType = pkg + res;
  rpcs.push(
    Object.freeze({
      kind: 'stream',
      path,
      requestType,
      responseType,
      request: codec(requestType),
      response: codec(responseType),
      ...(gatewayPath === undefined ? {} : { gatewayPath }),
      streamType,
      ...(messageWriter === undefined ? {} : { messageWriter }),
      available: open === null ? () => false : available,
      open:
        open ??
        (() => {
          throw notServed(path);
        }),
    } satisfies StreamRpc),
  );
}

/** The member's header for answers that are not about a revision (etcd leaves it out there). */
async function memberHeader(env: RpcEnv, ctx: CallContext, withRevision: boolean): Promise<ResponseHeader> {
  const h = (await env.services.maintenance.status({}, ctx)).header;
  return withRevision ? h : { clusterId: h.clusterId, memberId: h.memberId, revision: 0, raftTerm: h.raftTerm };
}

const KV = 'etcdserverpb.KV';
unary(KV, 'Range', 'RangeRequest', 'RangeResponse', '/v3/kv/range', (e, r, c) => e.services.kv.range(r, c));
unary(KV, 'Put', 'PutRequest', 'PutResponse', '/v3/kv/put', (e, r, c) => e.services.kv.put(r, c));
unary(KV, 'DeleteRange', 'DeleteRangeRequest', 'DeleteRangeResponse', '/v3/kv/deleterange', (e, r, c) =>
  e.services.kv.deleteRange(r, c),
);
unary(KV, 'Txn', 'TxnRequest', 'TxnResponse', '/v3/kv/txn', (e, r, c) => e.services.kv.txn(r, c));
unary(KV, 'Compact', 'CompactionRequest', 'CompactionResponse', '/v3/kv/compaction', (e, r, c) =>
  e.services.kv.compact(r, c),
);

stream(
  'etcdserverpb.Watch',
  'Watch',
  'WatchRequest',
  'WatchResponse',
  '/v3/watch',
  (e) => e.services.watch !== undefined,
  (e, sink, ctx) => {
    const w = e.services.watch;
    if (w === undefined) throw notServed('/etcdserverpb.Watch/Watch');
    return w.open(sink, ctx);
  },
  'bidi_stream',
  new PrefixedWriter<WatchResponse>(new WatchReplyWriter()),
);

const LEASE = 'etcdserverpb.Lease';
/** The lease service, or Unimplemented where it is not wired. */
function leaseOf(e: RpcEnv, method: string): LeaseService {
  const l = e.services.lease;
  if (l === undefined) throw notServed(`/${LEASE}/${method}`);
  return l;
}
unary(LEASE, 'LeaseGrant', 'LeaseGrantRequest', 'LeaseGrantResponse', '/v3/lease/grant', (e, r, c) =>
  leaseOf(e, 'LeaseGrant').grant(r, c),
);
unary(LEASE, 'LeaseRevoke', 'LeaseRevokeRequest', 'LeaseRevokeResponse', '/v3/lease/revoke', (e, r, c) =>
  leaseOf(e, 'LeaseRevoke').revoke(r, c),
);
stream(
  LEASE,
  'LeaseKeepAlive',
  'LeaseKeepAliveRequest',
  'LeaseKeepAliveResponse',
  '/v3/lease/keepalive',
  (e) => e.services.lease !== undefined,
  (e, sink, ctx) => leaseOf(e, 'LeaseKeepAlive').keepAlive(sink, ctx),
);
unary(LEASE, 'LeaseTimeToLive', 'LeaseTimeToLiveRequest', 'LeaseTimeToLiveResponse', '/v3/lease/timetolive', (e, r, c) =>
  leaseOf(e, 'LeaseTimeToLive').timeToLive(r, c),
);
unary(LEASE, 'LeaseLeases', 'LeaseLeasesRequest', 'LeaseLeasesResponse', '/v3/lease/leases', (e, r, c) =>
  leaseOf(e, 'LeaseLeases').leases(r, c),
);

const CLUSTER = 'etcdserverpb.Cluster';

/**
 * Client URLs as etcd clients read them: etcdctl `--cluster` and clientv3's endpoint sync dial
 * exactly these, and understand only http(s) (and unix) URLs of an etcd API port. A member's
 * grpc listeners are that port (`grpc://h:p` → `http://h:p`); its ws and tcp listeners speak
 * etcetera's own protocol, so they are left out of what the etcd port reports.
 */
export function etcdClientUrls(urls: readonly string[]): string[] {
  const out: string[] = [];
  for (const u of urls) {
    if (u.startsWith('grpc://')) out.push(`http://${u.slice(7)}`);
    else if (/^(https?|unixs?):\/\//.test(u)) out.push(u);
  }
  return out;
}

function forEtcd(m: MemberInfo): MemberInfo {
  return { ...m, clientURLs: etcdClientUrls(m.clientURLs) };
}

function membersForEtcd<R extends { members: MemberInfo[] }>(r: R): R {
  return { ...r, members: r.members.map(forEtcd) };
}

/** The cluster service, or Unimplemented where it is not wired. */
function clusterOf(e: RpcEnv, method: string): ClusterService {
  const c = e.services.cluster;
  if (c === undefined) throw notServed(`/${CLUSTER}/${method}`);
  return c;
}

unary(CLUSTER, 'MemberAdd', 'MemberAddRequest', 'MemberAddResponse', '/v3/cluster/member/add', async (e, r, c) => {
  const res = await clusterOf(e, 'MemberAdd').memberAdd(r, c);
  return { ...membersForEtcd(res), member: forEtcd(res.member) };
});
unary(CLUSTER, 'MemberRemove', 'MemberRemoveRequest', 'MemberRemoveResponse', '/v3/cluster/member/remove', async (e, r, c) =>
  membersForEtcd(await clusterOf(e, 'MemberRemove').memberRemove(r, c)),
);
unary(CLUSTER, 'MemberUpdate', 'MemberUpdateRequest', 'MemberUpdateResponse', '/v3/cluster/member/update', async (e, r, c) =>
  membersForEtcd(await clusterOf(e, 'MemberUpdate').memberUpdate(r, c)),
);
unary(CLUSTER, 'MemberList', 'MemberListRequest', 'MemberListResponse', '/v3/cluster/member/list', async (e, r, c) => {
  const cluster = e.services.cluster;
  if (cluster !== undefined) return membersForEtcd(await cluster.memberList(r, c));
  // No cluster service (test doubles): this one member, as the listener knows it.
  const header = await memberHeader(e, c, false);
  const self: MemberInfo = {
    ID: header.memberId,
    name: e.member.name,
    peerURLs: [...e.member.peerUrls],
    clientURLs: [...e.member.clientUrls],
    isLearner: false,
  };
  return { header, members: [self] };
});
unary(CLUSTER, 'MemberPromote', 'MemberPromoteRequest', 'MemberPromoteResponse', '/v3/cluster/member/promote', async (e, r, c) =>
  membersForEtcd(await clusterOf(e, 'MemberPromote').memberPromote(r, c)),
);

const MAINT = 'etcdserverpb.Maintenance';
/** AlarmRequest.AlarmAction. */
const ALARM_ACTIVATE = 1;
unary(MAINT, 'Alarm', 'AlarmRequest', 'AlarmResponse', '/v3/maintenance/alarm', async (e, r: AlarmRequest, c) => {
  const m = e.services.maintenance;
  if (m.alarm !== undefined) return m.alarm.call(m, r, c);
  // Services without an alarm table (test doubles): nothing is ever raised, so GET lists none
  // and DEACTIVATE has nothing to clear; etcd 3.4 answers both without a header.
  if (r.action === ALARM_ACTIVATE) throw notServed('/etcdserverpb.Maintenance/Alarm ACTIVATE');
  return { alarms: [] };
});
unary(MAINT, 'Status', 'StatusRequest', 'StatusResponse', '/v3/maintenance/status', (e, r, c) =>
  e.services.maintenance.status(r, c),
);
// The services defragment where the driver can; without them (test doubles) there is nothing
// to do. etcd 3.4 answers without a header.
unary(MAINT, 'Defragment', 'DefragmentRequest', 'DefragmentResponse', '/v3/maintenance/defragment', async (e, r, c) => {
  const m = e.services.maintenance;
  return m.defragment === undefined ? {} : m.defragment.call(m, r, c);
});
unary(MAINT, 'Hash', 'HashRequest', 'HashResponse', '/v3/maintenance/hash', (e, r, c) => {
  const m = e.services.maintenance;
  if (m.hash === undefined) throw notServed('/etcdserverpb.Maintenance/Hash');
  return m.hash.call(m, r, c);
});
unary(MAINT, 'HashKV', 'HashKVRequest', 'HashKVResponse', '/v3/maintenance/hashkv', (e, r, c) => {
  const m = e.services.maintenance;
  if (m.hashKV === undefined) throw notServed('/etcdserverpb.Maintenance/HashKV');
  return m.hashKV.call(m, r, c);
});
stream(
  MAINT,
  'Snapshot',
  'SnapshotRequest',
  'SnapshotResponse',
  '/v3/maintenance/snapshot',
  (e) => e.services.maintenance.snapshot !== undefined,
  (e, sink, ctx) => {
    const open = e.services.maintenance.snapshot;
    if (open === undefined) throw notServed('/etcdserverpb.Maintenance/Snapshot');
    return open(sink, ctx);
  },
  'server_stream',
);
unary(
  MAINT,
  'MoveLeader',
  'MoveLeaderRequest',
  'MoveLeaderResponse',
  '/v3/maintenance/transfer-leadership',
  async (e, r: MoveLeaderRequest, c) => {
    const cluster = e.services.cluster;
    if (cluster !== undefined) return cluster.moveLeader(r, c);
    // No cluster service (test doubles): the only member leads. Moving leadership to itself
    // is a no-op etcd answers with success (3.4.23: "Leadership transferred from X to X");
    // any other target is not a member.
    const self = (await e.services.maintenance.status({}, c)).header.memberId;
    if (r.targetID !== self) throw new KvError('BadLeaderTransferee');
    return {};
  },
);
unary(MAINT, 'Downgrade', 'DowngradeRequest', 'DowngradeResponse', '/v3/maintenance/downgrade', null);

// Auth, answered as etcd answers with auth disabled and an empty user and role store. Writes
// that would create users or roles are not served until auth is built.
const AUTH = 'etcdserverpb.Auth';
const fp = (message: string): GrpcStatusError => new GrpcStatusError(Status.FAILED_PRECONDITION, message);
const invalid = (message: string): GrpcStatusError => new GrpcStatusError(Status.INVALID_ARGUMENT, message);
const USER_NOT_FOUND = 'etcdserver: user name not found';
const ROLE_NOT_FOUND = 'etcdserver: role name not found';
const headerOnly = async (e: RpcEnv, _r: unknown, c: CallContext): Promise<{ header: ResponseHeader }> => ({
  header: await memberHeader(e, c, true),
});
const reject = (err: () => GrpcStatusError): Invoke => async () => {
  throw err();
};
unary(AUTH, 'AuthEnable', 'AuthEnableRequest', 'AuthEnableResponse', '/v3/auth/enable', reject(() => fp('etcdserver: root user does not exist')));
unary(AUTH, 'AuthDisable', 'AuthDisableRequest', 'AuthDisableResponse', '/v3/auth/disable', headerOnly);
unary(AUTH, 'AuthStatus', 'AuthStatusRequest', 'AuthStatusResponse', '/v3/auth/status', async (e, _r, c) => ({
  header: await memberHeader(e, c, true),
  enabled: false,
  authRevision: 0,
}));
unary(AUTH, 'Authenticate', 'AuthenticateRequest', 'AuthenticateResponse', '/v3/auth/authenticate', reject(() => fp('etcdserver: authentication is not enabled')));
unary(AUTH, 'UserAdd', 'AuthUserAddRequest', 'AuthUserAddResponse', '/v3/auth/user/add', async (_e, r: { name: string }) => {
  if (r.name === '') throw invalid('etcdserver: user name is empty');
  throw notServed('/etcdserverpb.Auth/UserAdd');
});
unary(AUTH, 'UserGet', 'AuthUserGetRequest', 'AuthUserGetResponse', '/v3/auth/user/get', reject(() => fp(USER_NOT_FOUND)));
unary(AUTH, 'UserList', 'AuthUserListRequest', 'AuthUserListResponse', '/v3/auth/user/list', headerOnly);
unary(AUTH, 'UserDelete', 'AuthUserDeleteRequest', 'AuthUserDeleteResponse', '/v3/auth/user/delete', reject(() => fp(USER_NOT_FOUND)));
unary(AUTH, 'UserChangePassword', 'AuthUserChangePasswordRequest', 'AuthUserChangePasswordResponse', '/v3/auth/user/changepw', reject(() => fp(USER_NOT_FOUND)));
unary(AUTH, 'UserGrantRole', 'AuthUserGrantRoleRequest', 'AuthUserGrantRoleResponse', '/v3/auth/user/grant', reject(() => fp(USER_NOT_FOUND)));
unary(AUTH, 'UserRevokeRole', 'AuthUserRevokeRoleRequest', 'AuthUserRevokeRoleResponse', '/v3/auth/user/revoke', reject(() => fp(USER_NOT_FOUND)));
unary(AUTH, 'RoleAdd', 'AuthRoleAddRequest', 'AuthRoleAddResponse', '/v3/auth/role/add', async (_e, r: { name: string }) => {
  if (r.name === '') throw invalid('etcdserver: role name is empty');
  throw notServed('/etcdserverpb.Auth/RoleAdd');
});
unary(AUTH, 'RoleGet', 'AuthRoleGetRequest', 'AuthRoleGetResponse', '/v3/auth/role/get', reject(() => fp(ROLE_NOT_FOUND)));
unary(AUTH, 'RoleList', 'AuthRoleListRequest', 'AuthRoleListResponse', '/v3/auth/role/list', headerOnly);
unary(AUTH, 'RoleDelete', 'AuthRoleDeleteRequest', 'AuthRoleDeleteResponse', '/v3/auth/role/delete', reject(() => fp(ROLE_NOT_FOUND)));
unary(AUTH, 'RoleGrantPermission', 'AuthRoleGrantPermissionRequest', 'AuthRoleGrantPermissionResponse', '/v3/auth/role/grant', reject(() => fp(ROLE_NOT_FOUND)));
unary(AUTH, 'RoleRevokePermission', 'AuthRoleRevokePermissionRequest', 'AuthRoleRevokePermissionResponse', '/v3/auth/role/revoke', reject(() => fp(ROLE_NOT_FOUND)));

// grpc.health.v1: etcd registers the health service and reports "" as SERVING.
const HEALTH = 'grpc.health.v1.Health';
/** HealthCheckResponse.ServingStatus. */
const SERVING = 1;
const SERVICE_UNKNOWN = 3;
unary(HEALTH, 'Check', 'HealthCheckRequest', 'HealthCheckResponse', undefined, async (_e, r: { service: string }) => {
  if (r.service !== '') throw new GrpcStatusError(Status.NOT_FOUND, 'unknown service');
  return { status: SERVING };
});
stream(
  HEALTH,
  'Watch',
  'HealthCheckRequest',
  'HealthCheckResponse',
  undefined,
  () => true,
  (_e, sink) => ({
    // One status now; it never changes while the member serves, so nothing follows.
    message: (r: { service: string }) => void sink.send({ status: r.service === '' ? SERVING : SERVICE_UNKNOWN }),
    end: () => {},
    cancel: () => {},
  }),
  'server_stream',
);

/** Every method the port knows, by gRPC path (`/etcdserverpb.KV/Range`). */
export const RPCS_BY_PATH: ReadonlyMap<string, Rpc> = new Map(rpcs.map((r) => [r.path, r]));

/** Every method with a JSON gateway path, by that path (`/v3/kv/range`). */
export const RPCS_BY_GATEWAY_PATH: ReadonlyMap<string, Rpc> = (() => {
  const m = new Map(rpcs.filter((r) => r.gatewayPath !== undefined).map((r) => [r.gatewayPath!, r]));
  // etcd's older lease paths, still routed by 3.4 and 3.5.
  for (const name of ['revoke', 'timetolive', 'leases']) m.set(`/v3/kv/lease/${name}`, m.get(`/v3/lease/${name}`)!);
  return m;
})();

/** The services the port knows (for the "unknown service" / "unknown method" distinction). */
export const SERVICE_NAMES: ReadonlySet<string> = new Set(rpcs.map((r) => r.path.slice(1, r.path.lastIndexOf('/'))));
