/**
 * Typed encode/decode of the schema's messages (see schema.ts).
 *
 * Decoded messages are protobufjs message instances whose field defaults live on the prototype,
 * so a decoded `RangeRequest` reads `limit === 0` without the wire carrying it, and can be
 * handed to the services as the kv.ts type it already is. Absent oneof members and absent
 * sub-messages read as `null`. Bytes fields are views into the input buffer, not copies: a value
 * travels from a request frame into the log entry as the same memory.
 *
 * Every 64-bit integer decodes as a JS number; one that is not a safe integer (|n| > 2^53 - 1)
 * makes the decode fail rather than silently round.
 *
 * Decoding bytes from the network may fail; it throws `DecodeError`, which callers turn into an
 * error reply (network) or an assertion (disk). It never throws anything uncatchable.
 */
import protobuf from 'protobufjs';
import type {
  HashKVRequest,
  HashKVResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  InternalRequest,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  SnapshotRequest,
  SnapshotResponse,
  StatusRequest,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../core/api/kv.js';
import type { WatchRequest, WatchResponse } from '../core/api/watch.js';
import type {
  LeaseCheckpointRequest,
  LeaseCheckpointResponse,
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
} from '../core/api/lease.js';
import type {
  MemberAddRequest,
  MemberAddResponse,
  MemberInfo,
  MemberListRequest,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MembersResponse,
  MemberUpdateRequest,
  MoveLeaderRequest,
  MoveLeaderResponse,
} from '../core/api/cluster.js';
import type { AlarmMember, AlarmRequest, AlarmResponse, HashRequest, HashResponse } from '../core/api/alarm.js';
import { asBuffer, SafeReader } from './safe-reader.js';
import { schemaRoot } from './schema.js';

/** `etcetera.ErrorReply`: how ws/tcp carry a failed call (see errors.ts `ERRORS`). */
export interface ErrorReply {
  status: number;
  message: string;
}

/** The TypeScript shape of each schema message that has one in kv.ts (or here). */
export interface MessageTypes {
  'mvccpb.KeyValue': KeyValue;
  'mvccpb.Event': Event;
  'etcdserverpb.ResponseHeader': ResponseHeader;
  'etcdserverpb.RangeRequest': RangeRequest;
  'etcdserverpb.RangeResponse': RangeResponse;
  'etcdserverpb.PutRequest': PutRequest;
  'etcdserverpb.PutResponse': PutResponse;
  'etcdserverpb.DeleteRangeRequest': DeleteRangeRequest;
  'etcdserverpb.DeleteRangeResponse': DeleteRangeResponse;
  'etcdserverpb.TxnRequest': TxnRequest;
  'etcdserverpb.TxnResponse': TxnResponse;
  'etcdserverpb.HashKVRequest': HashKVRequest;
  'etcdserverpb.Member': MemberInfo;
  'etcdserverpb.MemberListRequest': MemberListRequest;
  'etcdserverpb.MemberListResponse': MembersResponse;
  'etcdserverpb.MemberAddRequest': MemberAddRequest;
  'etcdserverpb.MemberAddResponse': MemberAddResponse;
  'etcdserverpb.MemberRemoveRequest': MemberRemoveRequest;
  'etcdserverpb.MemberRemoveResponse': MembersResponse;
  'etcdserverpb.MemberUpdateRequest': MemberUpdateRequest;
  'etcdserverpb.MemberUpdateResponse': MembersResponse;
  'etcdserverpb.MemberPromoteRequest': MemberPromoteRequest;
  'etcdserverpb.MemberPromoteResponse': MembersResponse;
  'etcdserverpb.MoveLeaderRequest': MoveLeaderRequest;
  'etcdserverpb.MoveLeaderResponse': MoveLeaderResponse;
  'etcdserverpb.HashKVResponse': HashKVResponse;
  'etcdserverpb.CompactionRequest': CompactionRequest;
  'etcdserverpb.CompactionResponse': CompactionResponse;
  'etcdserverpb.StatusRequest': StatusRequest;
  'etcdserverpb.StatusResponse': StatusResponse;
  'etcdserverpb.SnapshotRequest': SnapshotRequest;
  'etcdserverpb.SnapshotResponse': SnapshotResponse;
  'etcdserverpb.WatchRequest': WatchRequest;
  'etcdserverpb.WatchResponse': WatchResponse;
  'etcdserverpb.LeaseGrantRequest': LeaseGrantRequest;
  'etcdserverpb.LeaseGrantResponse': LeaseGrantResponse;
  'etcdserverpb.LeaseRevokeRequest': LeaseRevokeRequest;
  'etcdserverpb.LeaseRevokeResponse': LeaseRevokeResponse;
  'etcdserverpb.LeaseCheckpointRequest': LeaseCheckpointRequest;
  'etcdserverpb.LeaseCheckpointResponse': LeaseCheckpointResponse;
  'etcdserverpb.LeaseKeepAliveRequest': LeaseKeepAliveRequest;
  'etcdserverpb.LeaseKeepAliveResponse': LeaseKeepAliveResponse;
  'etcdserverpb.LeaseTimeToLiveRequest': LeaseTimeToLiveRequest;
  'etcdserverpb.LeaseTimeToLiveResponse': LeaseTimeToLiveResponse;
  'etcdserverpb.LeaseLeasesRequest': LeaseLeasesRequest;
  'etcdserverpb.LeaseLeasesResponse': LeaseLeasesResponse;
  'etcdserverpb.AlarmRequest': AlarmRequest;
  'etcdserverpb.AlarmMember': AlarmMember;
  'etcdserverpb.AlarmResponse': AlarmResponse;
  'etcdserverpb.DefragmentRequest': Record<string, never>;
  'etcdserverpb.DefragmentResponse': Record<string, never>;
  'etcdserverpb.HashRequest': HashRequest;
  'etcdserverpb.HashResponse': HashResponse;
  'etcetera.InternalRequest': InternalRequest;
  'etcetera.ErrorReply': ErrorReply;
}

/**
 * Every message of the schema, by full name. A test checks this list against the schema both
 * ways, so a message added to schema.ts must be added here.
 */
export const MESSAGE_NAMES = [
  'mvccpb.KeyValue',
  'mvccpb.Event',
  'etcdserverpb.ResponseHeader',
  'etcdserverpb.RangeRequest',
  'etcdserverpb.RangeResponse',
  'etcdserverpb.PutRequest',
  'etcdserverpb.PutResponse',
  'etcdserverpb.DeleteRangeRequest',
  'etcdserverpb.DeleteRangeResponse',
  'etcdserverpb.RequestOp',
  'etcdserverpb.ResponseOp',
  'etcdserverpb.Compare',
  'etcdserverpb.TxnRequest',
  'etcdserverpb.TxnResponse',
  'etcdserverpb.CompactionRequest',
  'etcdserverpb.CompactionResponse',
  'etcdserverpb.HashRequest',
  'etcdserverpb.HashKVRequest',
  'etcdserverpb.HashKVResponse',
  'etcdserverpb.HashResponse',
  'etcdserverpb.SnapshotRequest',
  'etcdserverpb.SnapshotResponse',
  'etcdserverpb.WatchRequest',
  'etcdserverpb.WatchCreateRequest',
  'etcdserverpb.WatchCancelRequest',
  'etcdserverpb.WatchProgressRequest',
  'etcdserverpb.WatchResponse',
  'etcdserverpb.LeaseGrantRequest',
  'etcdserverpb.LeaseGrantResponse',
  'etcdserverpb.LeaseRevokeRequest',
  'etcdserverpb.LeaseRevokeResponse',
  'etcdserverpb.LeaseCheckpoint',
  'etcdserverpb.LeaseCheckpointRequest',
  'etcdserverpb.LeaseCheckpointResponse',
  'etcdserverpb.LeaseKeepAliveRequest',
  'etcdserverpb.LeaseKeepAliveResponse',
  'etcdserverpb.LeaseTimeToLiveRequest',
  'etcdserverpb.LeaseTimeToLiveResponse',
  'etcdserverpb.LeaseLeasesRequest',
  'etcdserverpb.LeaseStatus',
  'etcdserverpb.LeaseLeasesResponse',
  'etcdserverpb.Member',
  'etcdserverpb.MemberAddRequest',
  'etcdserverpb.MemberAddResponse',
  'etcdserverpb.MemberRemoveRequest',
  'etcdserverpb.MemberRemoveResponse',
  'etcdserverpb.MemberUpdateRequest',
  'etcdserverpb.MemberUpdateResponse',
  'etcdserverpb.MemberListRequest',
  'etcdserverpb.MemberListResponse',
  'etcdserverpb.MemberPromoteRequest',
  'etcdserverpb.MemberPromoteResponse',
  'etcdserverpb.DefragmentRequest',
  'etcdserverpb.DefragmentResponse',
  'etcdserverpb.MoveLeaderRequest',
  'etcdserverpb.MoveLeaderResponse',
  'etcdserverpb.AlarmRequest',
  'etcdserverpb.AlarmMember',
  'etcdserverpb.AlarmResponse',
  'etcdserverpb.DowngradeRequest',
  'etcdserverpb.DowngradeResponse',
  'etcdserverpb.StatusRequest',
  'etcdserverpb.StatusResponse',
  'etcetera.InternalRequest',
  'etcetera.MemberAttributes',
  'etcetera.ErrorReply',
] as const;

/** The full name of a schema message, e.g. `'etcdserverpb.PutRequest'`. */
export type MessageName = (typeof MESSAGE_NAMES)[number];

/** The TypeScript type of message `N`: its kv.ts interface, or a loose record for the rest. */
export type MessageOf<N extends MessageName> = N extends keyof MessageTypes
  ? MessageTypes[N]
  : Record<string, unknown>;

/** Bytes that are not a valid encoding of the expected message. Always safe to catch. */
export class DecodeError extends Error {
  constructor(
    readonly messageName: string,
    options?: { cause?: unknown },
  ) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot decode ${messageName}${why}`, options);
    this.name = 'DecodeError';
  }
}


// ---------------------------------------------------------------------------------------------

/**
 * Encoder and decoder of one message type, looked up once. Hot paths (transports) hold one of
 * these rather than looking up the type by name per message.
 */
export class MessageCodec<T> {
  /** The protobufjs type, for callers that frame messages themselves (see `encodeInto`). */
  readonly type: protobuf.Type;

  constructor(readonly name: MessageName) {
    this.type = schemaRoot.lookupType(name);
  }

  /** Encodes `msg` to a fresh buffer. Absent (undefined/null) fields are not written. */
  encode(msg: T): Uint8Array {
    return this.type.encode(msg as object).finish();
  }

  /**
   * Appends `msg` to `writer`: used to encode a frame header and its payload into one buffer
   * (reserve the header bytes, then encode, then `finish()` once).
   */
  encodeInto(msg: T, writer: protobuf.Writer): protobuf.Writer {
    return this.type.encode(msg as object, writer);
  }

  /**
   * Decodes `bytes` (which it does not copy; bytes fields of the result are views into it).
   * @throws DecodeError on anything that is not a valid encoding.
   */
  decode(bytes: Uint8Array): T {
    try {
      return this.type.decode(new SafeReader(asBuffer(bytes))) as unknown as T;
    } catch (err) {
      throw new DecodeError(this.name, { cause: err });
    }
  }
}

const codecs = new Map<MessageName, MessageCodec<unknown>>();

/** The shared codec of message `name`. Throws if the name is not in the schema. */
export function codecOf<N extends MessageName>(name: N): MessageCodec<MessageOf<N>> {
  let c = codecs.get(name);
  if (c === undefined) {
    c = new MessageCodec<unknown>(name);
    codecs.set(name, c);
  }
  return c as MessageCodec<MessageOf<N>>;
}

/** Encodes a message of type `type`. */
export function encode<N extends MessageName>(type: N, msg: MessageOf<N>): Uint8Array {
  return codecOf(type).encode(msg);
}

/** Decodes a message of type `type`. @throws DecodeError */
export function decode<N extends MessageName>(type: N, bytes: Uint8Array): MessageOf<N> {
  return codecOf(type).decode(bytes);
}

const internalRequestCodec = codecOf('etcetera.InternalRequest');

/** Encodes the payload of a Raft log entry. */
export function encodeInternalRequest(req: InternalRequest): Uint8Array {
  return internalRequestCodec.encode(req);
}

/**
 * Decodes the payload of a Raft log entry. @throws DecodeError (from disk that is corruption:
 * the caller asserts).
 */
export function decodeInternalRequest(bytes: Uint8Array): InternalRequest {
  return internalRequestCodec.decode(bytes);
}
