/**
 * The peer schema: what members send each other. The Raft `Message` (src/core/raft/messages.ts)
 * with its `Entry`, `SnapshotMeta` and `Snapshot`, plus the handshake that opens every peer
 * connection. Parsed at runtime with protobufjs into its own root (not schema.ts's client
 * schema: the two never share a connection).
 *
 * Field numbers follow etcd's raftpb.Message where etcd has the same field (type = 1 ... context
 * = 12), which makes hex dumps easy to compare; the encoding is NOT wire-compatible with etcd
 * (etcd nests a ConfState in the snapshot metadata and uses gogoproto non-nullable fields), and
 * does not try to be: only etcetera members talk to etcetera members.
 *
 * `context` is `optional` because its presence carries meaning: the raft core tells a
 * HeartbeatResp without a read-index context from one with an empty context. Every other field
 * is a proto3 scalar whose zero value is its absence, exactly as `message()` fills missing
 * fields in with zeros.
 *
 * NB: 64-bit integers decode as JS numbers, not `Long`s. protobufjs decides that once per
 * process from `util.Long`, and schema.ts already clears it; this module clears it too (the
 * same idempotent step) so that it does not depend on the order modules load in.
 */
import protobuf from 'protobufjs';

(protobuf.util as { Long: unknown }).Long = undefined;
protobuf.configure();

/**
 * Version of the peer protocol (this schema plus the framing in src/transports/peer). Both
 * ends of a connection must speak the same one; bump it on any incompatible change.
 */
export const PEER_PROTOCOL_VERSION = 1;

/** The schema text, package `etcetera.raft`. */
export const RAFT_PROTO = `
syntax = "proto3";
package etcetera.raft;

// core/ports/storage-driver.ts Entry. type: 0 = Normal, 1 = ConfChange.
message Entry {
  uint32 type = 1;
  uint64 term = 2;
  uint64 index = 3;
  bytes data = 4;
}

// core/ports/storage-driver.ts SnapshotMeta (etcd keeps voters and learners in a ConfState).
message SnapshotMeta {
  uint64 index = 1;
  uint64 term = 2;
  repeated uint64 voters = 3;
  repeated uint64 learners = 4;
}

// core/raft/messages.ts Snapshot: the metadata plus the host's opaque data.
message Snapshot {
  SnapshotMeta meta = 1;
  bytes data = 2;
}

// core/raft/messages.ts Message. type is a MessageType (0..18).
message Message {
  uint32 type = 1;
  uint64 to = 2;
  uint64 from = 3;
  uint64 term = 4;
  uint64 log_term = 5;
  uint64 index = 6;
  repeated Entry entries = 7;
  uint64 commit = 8;
  Snapshot snapshot = 9;
  bool reject = 10;
  uint64 reject_hint = 11;
  optional bytes context = 12;
}

// The first frame on a peer connection, in both directions. The dialling member sends its
// own ids and the id it believes it is calling; the accepting member answers with its own
// (from = itself, to = the dialler), or with error set when it refuses the connection
// (another cluster, another member, another protocol version) just before it closes it.
message PeerHandshake {
  uint64 cluster_id = 1;
  uint64 from_member_id = 2;
  uint64 to_member_id = 3;
  uint32 protocol_version = 4;
  string error = 5;
}
`;

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  protobuf.parse(RAFT_PROTO, root);
  root.resolveAll();
  return root;
}

/** The resolved peer schema (`etcetera.raft.Message`, ...). Shared and never mutated after load. */
export const raftSchemaRoot: protobuf.Root = buildRoot();
