/**
 * Encode/decode of the peer schema (raft-schema.ts): Raft messages and the peer handshake.
 *
 * A decoded `Message` is a plain object built by `message()` of src/core/raft/messages.ts, so it
 * has every field, in the same order, as the messages the raft core makes itself: absent
 * scalars read 0 / false, absent entries the shared empty list, an absent snapshot or context
 * `undefined` (a present but empty context stays an empty `Uint8Array`: the raft core tells
 * the two apart). Entries and snapshot metadata are plain objects too.
 *
 * Bytes fields (entry data, snapshot data, context) are `Uint8Array` views into the input, not
 * copies: an entry's data travels from the peer's frame into the log store as the same memory.
 * The caller must therefore not reuse the input buffer (socket chunks never are).
 *
 * Every 64-bit integer decodes as a JS number; one beyond 2^53 - 1 makes the decode fail rather
 * than silently round. A message type or entry type outside the known values fails too.
 * Failures throw `DecodeError` (the one of messages.ts), always safe to catch: bytes from the
 * network are an operating error, and the peer transport closes the connection they came on.
 *
 * Encoding checks the record first (STYLE §6, "pair assertions"): ids, terms and indexes must
 * be non-negative safe integers, types known values. A failure there is a programmer error and
 * throws an `AssertionError`.
 */
import protobuf from 'protobufjs';
import { assert } from '../core/assert.js';
import { EntryType, type Entry, type SnapshotMeta } from '../core/ports/storage-driver.js';
import { message, MessageType, type Message, type Snapshot } from '../core/raft/messages.js';
import { DecodeError } from './messages.js';
import { asBuffer, SafeReader } from './safe-reader.js';
import { raftSchemaRoot } from './raft-schema.js';

export { DecodeError } from './messages.js';
export { PEER_PROTOCOL_VERSION } from './raft-schema.js';

/**
 * The first frame on a peer connection (see raft-schema.ts `PeerHandshake`). `error` is empty
 * except in an accepting member's refusal.
 */
export interface PeerHandshake {
  readonly clusterId: number;
  readonly fromMemberId: number;
  readonly toMemberId: number;
  readonly protocolVersion: number;
  readonly error: string;
}

const MESSAGE = raftSchemaRoot.lookupType('etcetera.raft.Message');
const HANDSHAKE = raftSchemaRoot.lookupType('etcetera.raft.PeerHandshake');

// ---------------------------------------------------------------------------------------------
// A reader whose 64-bit reads yield safe numbers or fail, and which drops unknown fields.


const EMPTY_BYTES = new Uint8Array(0);

/** A plain `Uint8Array` view of decoded bytes (protobufjs hands out Buffers, or [] by default). */
function view(b: Uint8Array | readonly number[] | null | undefined): Uint8Array {
  if (b === null || b === undefined || b.length === 0 || !(b instanceof Uint8Array)) return EMPTY_BYTES;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Raft messages.

/** The largest MessageType value; every value from 0 to it is a type. */
const MAX_MESSAGE_TYPE = Math.max(...Object.values(MessageType));

function isUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function checkEntry(e: Entry): void {
  assert(e.type === EntryType.Normal || e.type === EntryType.ConfChange, `entry type ${e.type} unknown`);
  assert(isUint(e.term) && isUint(e.index), `entry term/index not non-negative safe integers: ${e.term}/${e.index}`);
  assert(e.data instanceof Uint8Array, 'entry data is not a Uint8Array');
}

function checkMessage(m: Message): void {
  assert(Number.isInteger(m.type) && m.type >= 0 && m.type <= MAX_MESSAGE_TYPE, `message type ${m.type} unknown`);
  assert(
    isUint(m.to) && isUint(m.from) && isUint(m.term) && isUint(m.logTerm) && isUint(m.index) && isUint(m.commit) && isUint(m.rejectHint),
    `message ${m.type} has a field that is not a non-negative safe integer`,
  );
  for (const e of m.entries) checkEntry(e);
  const s = m.snapshot;
  if (s !== undefined) {
    const meta = s.meta;
    assert(isUint(meta.index) && isUint(meta.term), 'snapshot index/term not non-negative safe integers');
    assert(meta.voters.every(isUint) && meta.learners.every(isUint), 'snapshot member ids not non-negative safe integers');
    assert(s.data instanceof Uint8Array, 'snapshot data is not a Uint8Array');
  }
  assert(m.context === undefined || m.context instanceof Uint8Array, 'message context is not a Uint8Array');
}

/**
 * Appends the encoding of `m` to `writer`, without a length prefix. The peer transport uses this
 * to put its frame header and the message in one buffer.
 * @throws AssertionError if `m` breaks the checks above (a programmer error).
 */
export function writeRaftMessage(m: Message, writer: protobuf.Writer): protobuf.Writer {
  checkMessage(m);
  return MESSAGE.encode(m as unknown as protobuf.Message, writer);
}

/** Encodes `m`. @throws AssertionError if `m` breaks the checks above (a programmer error). */
export function encodeRaftMessage(m: Message): Uint8Array {
  return writeRaftMessage(m, protobuf.Writer.create()).finish();
}

// The shape protobufjs decodes into (defaults on the prototype, absent messages null).
interface RawEntry {
  type: number;
  term: number;
  index: number;
  data: Uint8Array;
}
interface RawSnapshot {
  meta: { index: number; term: number; voters: number[]; learners: number[] } | null;
  data: Uint8Array;
}
interface RawMessage {
  type: number;
  to: number;
  from: number;
  term: number;
  logTerm: number;
  index: number;
  entries: RawEntry[];
  commit: number;
  snapshot: RawSnapshot | null;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array | null;
}

const NO_MEMBERS: readonly number[] = Object.freeze([]);

function toEntry(e: RawEntry): Entry {
  if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) throw new RangeError(`unknown entry type ${e.type}`);
  return { term: e.term, index: e.index, type: e.type, data: view(e.data) };
}

function toSnapshot(s: RawSnapshot): Snapshot {
  const m = s.meta;
  const meta: SnapshotMeta =
    m === null
      ? { index: 0, term: 0, voters: NO_MEMBERS, learners: NO_MEMBERS }
      : {
          index: m.index,
          term: m.term,
          voters: m.voters.length === 0 ? NO_MEMBERS : m.voters,
          learners: m.learners.length === 0 ? NO_MEMBERS : m.learners,
        };
  return { meta, data: view(s.data) };
}

/**
 * Decodes a Raft message (see the module comment for the shape).
 * @throws DecodeError on anything that is not a valid encoding of a known message type.
 */
export function decodeRaftMessage(bytes: Uint8Array): Message {
  try {
    const raw = MESSAGE.decode(new SafeReader(asBuffer(bytes))) as unknown as RawMessage;
    if (raw.type > MAX_MESSAGE_TYPE) throw new RangeError(`unknown message type ${raw.type}`);
    return message({
      type: raw.type as MessageType,
      to: raw.to,
      from: raw.from,
      term: raw.term,
      logTerm: raw.logTerm,
      index: raw.index,
      entries: raw.entries.length === 0 ? undefined : raw.entries.map(toEntry),
      commit: raw.commit,
      snapshot: raw.snapshot === null ? undefined : toSnapshot(raw.snapshot),
      reject: raw.reject,
      rejectHint: raw.rejectHint,
      // Presence, not emptiness: an empty context is still a context.
      context: raw.context === null || raw.context === undefined ? undefined : view(raw.context),
    });
  } catch (err) {
    throw new DecodeError('etcetera.raft.Message', { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------
// The handshake.

/** Encodes a handshake. */
export function encodePeerHandshake(h: PeerHandshake): Uint8Array {
  assert(isUint(h.clusterId) && isUint(h.fromMemberId) && isUint(h.toMemberId), 'handshake ids not non-negative safe integers');
  return HANDSHAKE.encode(h as unknown as protobuf.Message).finish();
}

/** Decodes a handshake (absent fields read 0 / ''). @throws DecodeError */
export function decodePeerHandshake(bytes: Uint8Array): PeerHandshake {
  try {
    const raw = HANDSHAKE.decode(new SafeReader(asBuffer(bytes))) as unknown as PeerHandshake;
    return {
      clusterId: raw.clusterId,
      fromMemberId: raw.fromMemberId,
      toMemberId: raw.toMemberId,
      protocolVersion: raw.protocolVersion,
      error: raw.error,
    };
  } catch (err) {
    throw new DecodeError('etcetera.raft.PeerHandshake', { cause: err });
  }
}
