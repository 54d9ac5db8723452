/**
 * Messages the gRPC port needs beyond the shared schema (src/codec/schema.ts): etcd's Auth
 * service messages (with `authpb`), and `grpc.health.v1`. They live here, in their own
 * protobufjs root, because only this transport speaks them (auth is not built yet; the port
 * answers as an etcd with auth disabled does).
 *
 * Field names and numbers are etcd 3.5's rpc.proto / auth.proto (3.4 lacks AuthStatus and the
 * hashedPassword fields; the extra fields are wire-compatible with 3.4 clients).
 */
import protobuf from 'protobufjs';
// Imported for its side effect first: it switches protobufjs to plain-number int64s before any
// schema is parsed (see schema.ts), and this root must be parsed under the same setting.
import '../../codec/schema.js';

/** authpb (etcd's auth/authpb/auth.proto). */
export const AUTHPB_PROTO = `
syntax = "proto3";
package authpb;

message UserAddOptions {
  bool no_password = 1;
}

message Permission {
  enum Type {
    READ = 0;
    WRITE = 1;
    READWRITE = 2;
  }
  Type permType = 1;
  bytes key = 2;
  bytes range_end = 3;
}
`;

/** The Auth service of etcdserverpb, with its messages (and a copy of ResponseHeader). */
export const AUTH_PROTO = `
syntax = "proto3";
package etcdserverpb;

service Auth {
  rpc AuthEnable(AuthEnableRequest) returns (AuthEnableResponse);
  rpc AuthDisable(AuthDisableRequest) returns (AuthDisableResponse);
  rpc AuthStatus(AuthStatusRequest) returns (AuthStatusResponse);
  rpc Authenticate(AuthenticateRequest) returns (AuthenticateResponse);
  rpc UserAdd(AuthUserAddRequest) returns (AuthUserAddResponse);
  rpc UserGet(AuthUserGetRequest) returns (AuthUserGetResponse);
  rpc UserList(AuthUserListRequest) returns (AuthUserListResponse);
  rpc UserDelete(AuthUserDeleteRequest) returns (AuthUserDeleteResponse);
  rpc UserChangePassword(AuthUserChangePasswordRequest) returns (AuthUserChangePasswordResponse);
  rpc UserGrantRole(AuthUserGrantRoleRequest) returns (AuthUserGrantRoleResponse);
  rpc UserRevokeRole(AuthUserRevokeRoleRequest) returns (AuthUserRevokeRoleResponse);
  rpc RoleAdd(AuthRoleAddRequest) returns (AuthRoleAddResponse);
  rpc RoleGet(AuthRoleGetRequest) returns (AuthRoleGetResponse);
  rpc RoleList(AuthRoleListRequest) returns (AuthRoleListResponse);
  rpc RoleDelete(AuthRoleDeleteRequest) returns (AuthRoleDeleteResponse);
  rpc RoleGrantPermission(AuthRoleGrantPermissionRequest) returns (AuthRoleGrantPermissionResponse);
  rpc RoleRevokePermission(AuthRoleRevokePermissionRequest) returns (AuthRoleRevokePermissionResponse);
}

message ResponseHeader {
  uint64 cluster_id = 1;
  uint64 member_id = 2;
  int64 revision = 3;
  uint64 raft_term = 4;
}

message AuthEnableRequest {}
message AuthDisableRequest {}
message AuthStatusRequest {}
message AuthenticateRequest { string name = 1; string password = 2; }
message AuthUserAddRequest { string name = 1; string password = 2; authpb.UserAddOptions options = 3; string hashedPassword = 4; }
message AuthUserGetRequest { string name = 1; }
message AuthUserDeleteRequest { string name = 1; }
message AuthUserChangePasswordRequest { string name = 1; string password = 2; string hashedPassword = 3; }
message AuthUserGrantRoleRequest { string user = 1; string role = 2; }
message AuthUserRevokeRoleRequest { string name = 1; string role = 2; }
message AuthRoleAddRequest { string name = 1; }
message AuthRoleGetRequest { string role = 1; }
message AuthUserListRequest {}
message AuthRoleListRequest {}
message AuthRoleDeleteRequest { string role = 1; }
message AuthRoleGrantPermissionRequest { string name = 1; authpb.Permission perm = 2; }
message AuthRoleRevokePermissionRequest { string role = 1; bytes key = 2; bytes range_end = 3; }

message AuthEnableResponse { ResponseHeader header = 1; }
message AuthDisableResponse { ResponseHeader header = 1; }
message AuthStatusResponse { ResponseHeader header = 1; bool enabled = 2; uint64 authRevision = 3; }
message AuthenticateResponse { ResponseHeader header = 1; string token = 2; }
message AuthUserAddResponse { ResponseHeader header = 1; }
message AuthUserGetResponse { ResponseHeader header = 1; repeated string roles = 2; }
message AuthUserDeleteResponse { ResponseHeader header = 1; }
message AuthUserChangePasswordResponse { ResponseHeader header = 1; }
message AuthUserGrantRoleResponse { ResponseHeader header = 1; }
message AuthUserRevokeRoleResponse { ResponseHeader header = 1; }
message AuthRoleAddResponse { ResponseHeader header = 1; }
message AuthRoleGetResponse { ResponseHeader header = 1; repeated authpb.Permission perm = 2; }
message AuthRoleListResponse { ResponseHeader header = 1; repeated string roles = 2; }
message AuthUserListResponse { ResponseHeader header = 1; repeated string users = 2; }
message AuthRoleDeleteResponse { ResponseHeader header = 1; }
message AuthRoleGrantPermissionResponse { ResponseHeader header = 1; }
message AuthRoleRevokePermissionResponse { ResponseHeader header = 1; }
`;

/** grpc.health.v1 (grpc's health.proto). */
export const HEALTH_PROTO = `
syntax = "proto3";
package grpc.health.v1;

service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}

message HealthCheckRequest {
  string service = 1;
}

message HealthCheckResponse {
  enum ServingStatus {
    UNKNOWN = 0;
    SERVING = 1;
    NOT_SERVING = 2;
    SERVICE_UNKNOWN = 3;
  }
  ServingStatus status = 1;
}
`;

/** The three texts above, for tools that parse them again (the JSON gateway does, keeping case). */
export const GRPC_EXTRA_PROTOS: readonly string[] = [AUTHPB_PROTO, AUTH_PROTO, HEALTH_PROTO];

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const text of GRPC_EXTRA_PROTOS) protobuf.parse(text, root);
  root.resolveAll();
  return root;
}

/** The resolved extra schema, shared and never mutated. */
export const grpcExtraRoot: protobuf.Root = buildRoot();

/**
 * Encoder/decoder of one message of the extra schema. Same surface as the shared schema's
 * `MessageCodec` where the transport uses it (`encodeInto`, `decode`), so both fit one table.
 */
export class ExtraCodec<T = Record<string, unknown>> {
  readonly type: protobuf.Type;

  constructor(readonly name: string) {
    this.type = grpcExtraRoot.lookupType(name);
  }

  encodeInto(msg: T, writer: protobuf.Writer): protobuf.Writer {
    return this.type.encode(msg as object, writer);
  }

  /** @throws Error on bytes that are not a valid encoding (callers turn it into a status). */
  decode(bytes: Uint8Array): T {
    return this.type.decode(bytes) as unknown as T;
  }
}
