/**
 * The frame format of etcetera's client protocol, carried by both the ws and the tcp
 * transport: many unary calls and bidirectional streams (Watch, LeaseKeepAlive) multiplexed
 * over one connection, correlated by a call id the client picks.
 *
 * One frame:
 *
 * ```
 *   tcp only            every frame                   REQUEST and STREAM_OPEN only
 *  ┌──────────────────┬────────┬─────────────────────┬───────────────────┬───────────────────┐
 *  │ length  u32 BE   │ kind u8│ id  u32 BE          │ method  u16 BE    │ payload (protobuf)│
 *  └──────────────────┴────────┴─────────────────────┴───────────────────┴───────────────────┘
 *   0                  4        5                     9                   11 (tcp) / 7 (ws)
 *   length counts everything after itself (kind .. end of payload).
 * ```
 *
 * On ws each binary message is exactly one frame, without the length prefix. On tcp frames
 * follow each other on the byte stream, each behind its length prefix.
 *
 * Kinds and who sends them:
 *
 * | kind | name           | from   | payload                                          |
 * |------|----------------|--------|--------------------------------------------------|
 * | 1    | REQUEST        | client | the method's request message                      |
 * | 2    | RESPONSE       | server | the method's response message; ends the call      |
 * | 3    | ERROR          | server | `etcetera.ErrorReply`; ends the call or stream    |
 * | 4    | STREAM_OPEN    | client | none (messages follow as STREAM_MESSAGE)          |
 * | 5    | STREAM_MESSAGE | both   | the method's request / response message           |
 * | 6    | STREAM_CLOSE   | both   | none: no more messages from this side             |
 * | 7    | CANCEL         | client | none: the client gave up on this call or stream   |
 *
 * Ids: chosen by the client, unique among its calls and streams in flight on the connection,
 * never 0. Id 0 is reserved for errors about a frame whose id could not be read (shorter than
 * the header); a client ignores those except as a diagnostic. Answers come back in any order.
 *
 * Encoding: `encodeFrame` always reserves the 4 length bytes at the front and fills them in,
 * so one buffer serves both transports (ws sends `frame.subarray(LENGTH_BYTES)`), the payload
 * is encoded straight into the frame (no second copy), and a client can re-send the same
 * buffer under another id by patching `ID_OFFSET`.
 */
import protobuf from 'protobufjs';
import type { MessageCodec } from '../../codec/messages.js';

/** Frame kinds (the first byte after the length prefix). */
export const FrameKind = {
  REQUEST: 1,
  RESPONSE: 2,
  ERROR: 3,
  STREAM_OPEN: 4,
  STREAM_MESSAGE: 5,
  STREAM_CLOSE: 6,
  CANCEL: 7,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Bytes of the tcp length prefix. */
export const LENGTH_BYTES = 4;
/** Bytes of kind + id: the shortest valid frame (without length prefix). */
export const HEADER_BYTES = 5;
/** Bytes of kind + id + method: the header of REQUEST and STREAM_OPEN. */
export const METHOD_HEADER_BYTES = 7;
/** Offset of the id in an encoded frame (which starts with the length slot). */
export const ID_OFFSET = LENGTH_BYTES + 1;

/** Largest call id; ids wrap to 1 after it. */
export const MAX_CALL_ID = 0xffffffff;

/** Whether frames of `kind` carry a method id. */
export function hasMethod(kind: number): boolean {
  return kind === FrameKind.REQUEST || kind === FrameKind.STREAM_OPEN;
}

/**
 * Encodes a frame whose payload is `msg`, into one buffer that starts with the length slot
 * (filled in). `method` is written only for kinds that carry one.
 */
export function encodeFrame<T>(kind: FrameKind, id: number, method: number, codec: MessageCodec<T>, msg: T): Buffer {
  // Reserve the header with placeholder ops (fixed32 = 4 bytes, uint32(0) = 1 byte), encode the
  // payload behind it, then patch the header into the finished buffer.
  const w = protobuf.Writer.create().fixed32(0).fixed32(0).uint32(0);
  if (hasMethod(kind)) w.uint32(0).uint32(0);
  codec.encodeInto(msg, w);
  const buf = w.finish() as Buffer;
  writeHeader(buf, kind, id, method);
  return buf;
}

/** Encodes a frame around an already encoded (or empty) payload. */
export function encodeRawFrame(kind: FrameKind, id: number, method: number, payload: Uint8Array | null): Buffer {
  const head = LENGTH_BYTES + (hasMethod(kind) ? METHOD_HEADER_BYTES : HEADER_BYTES);
  const n = payload === null ? 0 : payload.length;
  const buf = Buffer.allocUnsafe(head + n);
  if (n > 0) buf.set(payload!, head);
  writeHeader(buf, kind, id, method);
  return buf;
}

/** Bytes before the payload in an encoded frame of `kind`: the length slot and the header. */
export function frameHeaderBytes(kind: number): number {
  return LENGTH_BYTES + (hasMethod(kind) ? METHOD_HEADER_BYTES : HEADER_BYTES);
}

/**
 * Fills the length slot and the header of a frame whose payload the caller wrote at
 * `frameHeaderBytes(kind)` (for encoders that build frames themselves, e.g. watch-encoding.ts).
 */
export function writeFrameHeader(buf: Buffer, kind: number, id: number, method: number): void {
  writeHeader(buf, kind, id, method);
}

function writeHeader(buf: Buffer, kind: number, id: number, method: number): void {
  buf.writeUInt32BE(buf.length - LENGTH_BYTES, 0);
  buf[LENGTH_BYTES] = kind;
  buf.writeUInt32BE(id, ID_OFFSET);
  if (hasMethod(kind)) buf.writeUInt16BE(method, ID_OFFSET + 4);
}

/** The frame's length as sent: without the tcp length prefix. */
export function frameBytes(encoded: Buffer): number {
  return encoded.length - LENGTH_BYTES;
}

/** Where the payload starts in a frame *without* its length prefix. */
export function payloadOffset(kind: number): number {
  return hasMethod(kind) ? METHOD_HEADER_BYTES : HEADER_BYTES;
}
