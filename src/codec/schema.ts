/**
 * The message schema: etcd v3's protobuf messages (packages `mvccpb` and `etcdserverpb`,
 * field numbers from etcd 3.4/3.5's kv.proto and rpc.proto) plus etcetera's own `etcetera`
 * package, parsed at runtime with protobufjs.
 *
 * One schema serves every transport: ws and tcp carry these messages inside their frames and
 * the gRPC transport will carry them unchanged, so a message decoded from any of them has the
 * same shape. Field names become camelCase (`create_revision` → `createRevision`), which is
 * exactly the shape of `src/core/api/kv.ts`, so decoded requests go to the services as they are.
 *
 * NB: 64-bit integers decode as JS numbers, not `Long` objects. protobufjs decides this once,
 * globally, from `util.Long`, and it also fixes the type of int64 defaults when a schema is
 * resolved; so this module clears `util.Long` and reconfigures protobufjs *before* parsing.
 * Anything else in the process that uses protobufjs sees numbers too (there is nothing else
 * today). Values beyond 2^53 are rejected when decoding (see messages.ts), never rounded.
 *
 * `authpb` and the Auth service are left out until auth is built.
 */
import protobuf from 'protobufjs';
import { EMPTY } from '../core/api/kv.js';

// Must run before any parse: field defaults for int64 are built from util.Long at resolve time.
(protobuf.util as { Long: unknown }).Long = undefined;
protobuf.configure();

/** mvccpb (etcd's mvcc/mvccpb/kv.proto). */
export const MVCC_PROTO = `
syntax = "proto3";
package mvccpb;

message KeyValue {
  bytes key = 1;
  int64 create_revision = 2;
  int64 mod_revision = 3;
  int64 version = 4;
  bytes value = 5;
  int64 lease = 6;
}

message Event {
  enum EventType {
    PUT = 0;
    DELETE = 1;
  }
  EventType type = 1;
  KeyValue kv = 2;
  KeyValue prev_kv = 3;
}
`;

/** etcdserverpb (etcd's rpc.proto) without the Auth service. */
export const ETCDSERVER_PROTO = `
syntax = "proto3";
package etcdserverpb;

service KV {
  rpc Range(RangeRequest) returns (RangeResponse);
  rpc Put(PutRequest) returns (PutResponse);
  rpc DeleteRange(DeleteRangeRequest) returns (DeleteRangeResponse);
  rpc Txn(TxnRequest) returns (TxnResponse);
  rpc Compact(CompactionRequest) returns (CompactionResponse);
}

service Watch {
  rpc Watch(stream WatchRequest) returns (stream WatchResponse);
}

service Lease {
  rpc LeaseGrant(LeaseGrantRequest) returns (LeaseGrantResponse);
  rpc LeaseRevoke(LeaseRevokeRequest) returns (LeaseRevokeResponse);
  rpc LeaseKeepAlive(stream LeaseKeepAliveRequest) returns (stream LeaseKeepAliveResponse);
  rpc LeaseTimeToLive(LeaseTimeToLiveRequest) returns (LeaseTimeToLiveResponse);
  rpc LeaseLeases(LeaseLeasesRequest) returns (LeaseLeasesResponse);
}

service Cluster {
  rpc MemberAdd(MemberAddRequest) returns (MemberAddResponse);
  rpc MemberRemove(MemberRemoveRequest) returns (MemberRemoveResponse);
  rpc MemberUpdate(MemberUpdateRequest) returns (MemberUpdateResponse);
  rpc MemberList(MemberListRequest) returns (MemberListResponse);
  rpc MemberPromote(MemberPromoteRequest) returns (MemberPromoteResponse);
}

service Maintenance {
  rpc Alarm(AlarmRequest) returns (AlarmResponse);
  rpc Status(StatusRequest) returns (StatusResponse);
  rpc Defragment(DefragmentRequest) returns (DefragmentResponse);
  rpc Hash(HashRequest) returns (HashResponse);
  rpc HashKV(HashKVRequest) returns (HashKVResponse);
  rpc Snapshot(SnapshotRequest) returns (stream SnapshotResponse);
  rpc MoveLeader(MoveLeaderRequest) returns (MoveLeaderResponse);
  rpc Downgrade(DowngradeRequest) returns (DowngradeResponse);
}

message ResponseHeader {
  uint64 cluster_id = 1;
  uint64 member_id = 2;
  int64 revision = 3;
  uint64 raft_term = 4;
}

message RangeRequest {
  enum SortOrder {
    NONE = 0;
    ASCEND = 1;
    DESCEND = 2;
  }
  enum SortTarget {
    KEY = 0;
    VERSION = 1;
    CREATE = 2;
    MOD = 3;
    VALUE = 4;
  }
  bytes key = 1;
  bytes range_end = 2;
  int64 limit = 3;
  int64 revision = 4;
  SortOrder sort_order = 5;
  SortTarget sort_target = 6;
  bool serializable = 7;
  bool keys_only = 8;
  bool count_only = 9;
  int64 min_mod_revision = 10;
  int64 max_mod_revision = 11;
  int64 min_create_revision = 12;
  int64 max_create_revision = 13;
}

message RangeResponse {
  ResponseHeader header = 1;
  repeated mvccpb.KeyValue kvs = 2;
  bool more = 3;
  int64 count = 4;
}

message PutRequest {
  bytes key = 1;
  bytes value = 2;
  int64 lease = 3;
  bool prev_kv = 4;
  bool ignore_value = 5;
  bool ignore_lease = 6;
}

message PutResponse {
  ResponseHeader header = 1;
  mvccpb.KeyValue prev_kv = 2;
}

message DeleteRangeRequest {
  bytes key = 1;
  bytes range_end = 2;
  bool prev_kv = 3;
}

message DeleteRangeResponse {
  ResponseHeader header = 1;
  int64 deleted = 2;
  repeated mvccpb.KeyValue prev_kvs = 3;
}

message RequestOp {
  oneof request {
    RangeRequest request_range = 1;
    PutRequest request_put = 2;
    DeleteRangeRequest request_delete_range = 3;
    TxnRequest request_txn = 4;
  }
}

message ResponseOp {
  oneof response {
    RangeResponse response_range = 1;
    PutResponse response_put = 2;
    DeleteRangeResponse response_delete_range = 3;
    TxnResponse response_txn = 4;
  }
}

message Compare {
  enum CompareResult {
    EQUAL = 0;
    GREATER = 1;
    LESS = 2;
    NOT_EQUAL = 3;
  }
  enum CompareTarget {
    VERSION = 0;
    CREATE = 1;
    MOD = 2;
    VALUE = 3;
    LEASE = 4;
  }
  CompareResult result = 1;
  CompareTarget target = 2;
  bytes key = 3;
  oneof target_union {
    int64 version = 4;
    int64 create_revision = 5;
    int64 mod_revision = 6;
    bytes value = 7;
    int64 lease = 8;
  }
  bytes range_end = 64;
}

message TxnRequest {
  repeated Compare compare = 1;
  repeated RequestOp success = 2;
  repeated RequestOp failure = 3;
}

message TxnResponse {
  ResponseHeader header = 1;
  bool succeeded = 2;
  repeated ResponseOp responses = 3;
}

message CompactionRequest {
  int64 revision = 1;
  bool physical = 2;
}

message CompactionResponse {
  ResponseHeader header = 1;
}

message HashRequest {
}

message HashKVRequest {
  int64 revision = 1;
}

message HashKVResponse {
  ResponseHeader header = 1;
  uint32 hash = 2;
  int64 compact_revision = 3;
}

message HashResponse {
  ResponseHeader header = 1;
  uint32 hash = 2;
}

message SnapshotRequest {
}

message SnapshotResponse {
  ResponseHeader header = 1;
  uint64 remaining_bytes = 2;
  bytes blob = 3;
}

message WatchRequest {
  oneof request_union {
    WatchCreateRequest create_request = 1;
    WatchCancelRequest cancel_request = 2;
    WatchProgressRequest progress_request = 3;
  }
}

message WatchCreateRequest {
  enum FilterType {
    NOPUT = 0;
    NODELETE = 1;
  }
  bytes key = 1;
  bytes range_end = 2;
  int64 start_revision = 3;
  bool progress_notify = 4;
  repeated FilterType filters = 5;
  bool prev_kv = 6;
  int64 watch_id = 7;
  bool fragment = 8;
}

message WatchCancelRequest {
  int64 watch_id = 1;
}

message WatchProgressRequest {
}

message WatchResponse {
  ResponseHeader header = 1;
  int64 watch_id = 2;
  bool created = 3;
  bool canceled = 4;
  int64 compact_revision = 5;
  string cancel_reason = 6;
  bool fragment = 7;
  repeated mvccpb.Event events = 11;
}

message LeaseGrantRequest {
  int64 TTL = 1;
  int64 ID = 2;
}

message LeaseGrantResponse {
  ResponseHeader header = 1;
  int64 ID = 2;
  int64 TTL = 3;
  string error = 4;
}

message LeaseRevokeRequest {
  int64 ID = 1;
}

message LeaseRevokeResponse {
  ResponseHeader header = 1;
}

message LeaseCheckpoint {
  int64 ID = 1;
  // etcd spells it remaining_TTL; protobufjs would keep that as is (it camel-cases only
  // "_" + lowercase), so the camelCase name is written here. Same field number, same wire.
  int64 remainingTTL = 2;
}

message LeaseCheckpointRequest {
  repeated LeaseCheckpoint checkpoints = 1;
}

message LeaseCheckpointResponse {
  ResponseHeader header = 1;
}

message LeaseKeepAliveRequest {
  int64 ID = 1;
}

message LeaseKeepAliveResponse {
  ResponseHeader header = 1;
  int64 ID = 2;
  int64 TTL = 3;
}

message LeaseTimeToLiveRequest {
  int64 ID = 1;
  bool keys = 2;
}

message LeaseTimeToLiveResponse {
  ResponseHeader header = 1;
  int64 ID = 2;
  int64 TTL = 3;
  int64 grantedTTL = 4;
  repeated bytes keys = 5;
}

message LeaseLeasesRequest {
}

message LeaseStatus {
  int64 ID = 1;
}

message LeaseLeasesResponse {
  ResponseHeader header = 1;
  repeated LeaseStatus leases = 2;
}

message Member {
  uint64 ID = 1;
  string name = 2;
  repeated string peerURLs = 3;
  repeated string clientURLs = 4;
  bool isLearner = 5;
}

message MemberAddRequest {
  repeated string peerURLs = 1;
  bool isLearner = 2;
}

message MemberAddResponse {
  ResponseHeader header = 1;
  Member member = 2;
  repeated Member members = 3;
}

message MemberRemoveRequest {
  uint64 ID = 1;
}

message MemberRemoveResponse {
  ResponseHeader header = 1;
  repeated Member members = 2;
}

message MemberUpdateRequest {
  uint64 ID = 1;
  repeated string peerURLs = 2;
}

message MemberUpdateResponse {
  ResponseHeader header = 1;
  repeated Member members = 2;
}

message MemberListRequest {
  bool linearizable = 1;
}

message MemberListResponse {
  ResponseHeader header = 1;
  repeated Member members = 2;
}

message MemberPromoteRequest {
  uint64 ID = 1;
}

message MemberPromoteResponse {
  ResponseHeader header = 1;
  repeated Member members = 2;
}

message DefragmentRequest {
}

message DefragmentResponse {
  ResponseHeader header = 1;
}

message MoveLeaderRequest {
  uint64 targetID = 1;
}

message MoveLeaderResponse {
  ResponseHeader header = 1;
}

enum AlarmType {
  NONE = 0;
  NOSPACE = 1;
  CORRUPT = 2;
}

message AlarmRequest {
  enum AlarmAction {
    GET = 0;
    ACTIVATE = 1;
    DEACTIVATE = 2;
  }
  AlarmAction action = 1;
  uint64 memberID = 2;
  AlarmType alarm = 3;
}

message AlarmMember {
  uint64 memberID = 1;
  AlarmType alarm = 2;
}

message AlarmResponse {
  ResponseHeader header = 1;
  repeated AlarmMember alarms = 2;
}

message DowngradeRequest {
  enum DowngradeAction {
    VALIDATE = 0;
    ENABLE = 1;
    CANCEL = 2;
  }
  DowngradeAction action = 1;
  string version = 2;
}

message DowngradeResponse {
  ResponseHeader header = 1;
  string version = 2;
}

message StatusRequest {
}

message StatusResponse {
  ResponseHeader header = 1;
  string version = 2;
  int64 dbSize = 3;
  uint64 leader = 4;
  uint64 raftIndex = 5;
  uint64 raftTerm = 6;
  uint64 raftAppliedIndex = 7;
  repeated string errors = 8;
  int64 dbSizeInUse = 9;
  bool isLearner = 10;
}
`;

/**
 * etcetera's own messages: the payload of a Raft log entry (etcd's InternalRaftRequest, reduced
 * to the KV writes and the lease entries for now) and the error reply of the ws/tcp client protocol.
 */
export const ETCETERA_PROTO = `
syntax = "proto3";
package etcetera;

message InternalRequest {
  uint64 id = 1;
  etcdserverpb.PutRequest put = 2;
  etcdserverpb.DeleteRangeRequest delete_range = 3;
  etcdserverpb.TxnRequest txn = 4;
  etcdserverpb.CompactionRequest compaction = 5;
  etcdserverpb.LeaseGrantRequest lease_grant = 6;
  etcdserverpb.LeaseRevokeRequest lease_revoke = 7;
  etcdserverpb.LeaseCheckpointRequest lease_checkpoint = 8;
  etcdserverpb.AlarmRequest alarm = 9;
  // The member that proposed the entry: only it answers a client for it.
  uint64 origin = 15;
  // A member publishing its name and client URLs (etcd's attribute publish).
  MemberAttributes member_attributes = 16;
}

message MemberAttributes {
  uint64 id = 1;
  string name = 2;
  repeated string client_urls = 3;
}

message ErrorReply {
  uint32 status = 1;
  string message = 2;
}
`;

/**
 * protobufjs's prototype default for a `bytes` field is an empty *Array*, which has no
 * `byteLength` and is not a `Uint8Array`; replace it with the shared empty `Uint8Array` so an
 * absent key or value reads as the `Bytes` that kv.ts promises.
 */
function fixBytesDefaults(ns: protobuf.NamespaceBase): void {
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Type) {
      for (const field of obj.fieldsArray) {
        if (field.type === 'bytes' && !field.repeated) {
          const f = field as unknown as { typeDefault: unknown; defaultValue: unknown };
          f.typeDefault = EMPTY;
          f.defaultValue = EMPTY;
        }
      }
      // Builds the constructor now, so its prototype takes the defaults above.
      const proto = obj.ctor.prototype as Record<string, unknown>;
      for (const field of obj.fieldsArray) {
        if (field.type === 'bytes' && !field.repeated) proto[field.name] = EMPTY;
      }
    }
    if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) fixBytesDefaults(obj);
  }
}

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  protobuf.parse(MVCC_PROTO, root);
  protobuf.parse(ETCDSERVER_PROTO, root);
  protobuf.parse(ETCETERA_PROTO, root);
  root.resolveAll();
  fixBytesDefaults(root);
  return root;
}

/**
 * The resolved schema: every message, enum and service above, looked up by full name
 * (`etcdserverpb.RangeRequest`, `etcdserverpb.KV`). Shared and never mutated after load; the
 * gRPC transport will read service definitions from it.
 */
export const schemaRoot: protobuf.Root = buildRoot();
