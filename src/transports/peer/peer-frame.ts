/**
 * The frames of the peer protocol, shared by the tcp and ws peer transports.
 *
 * ```
 *   tcp only            every frame
 *  ┌──────────────────┬─────────┬─────────────────────────────────────────┐
 *  │ length  u32 BE   │ kind u8 │ payload                                 │
 *  └──────────────────┴─────────┴─────────────────────────────────────────┘
 *   0                  4         5 (tcp) / 1 (ws)
 *   length counts everything after itself (kind + payload), so it is never 0.
 * ```
 *
 * On tcp frames follow each other on the byte stream; on ws each binary message is one frame
 * without the length prefix. Encoders always reserve the 4 length bytes and fill them in, so one
 * buffer serves both (ws sends `frame.subarray(LENGTH_BYTES)`) and a message is encoded
 * straight into its frame.
 *
 * A connection carries Raft messages one way only, from the member that dialled it to the
 * member that accepted it; the reverse direction carries only the handshake answer and pongs.
 * Each member dials its own connection to each peer, so a pair of members uses two.
 *
 * | kind | name      | from      | payload                                                 |
 * |------|-----------|-----------|---------------------------------------------------------|
 * | 1    | HANDSHAKE | both      | `PeerHandshake`: the dialler's first frame, the acceptor's answer |
 * | 2    | MESSAGE   | dialler   | one Raft `Message` (raft-codec.ts)                      |
 * | 3    | PING      | dialler   | u32 BE sequence number (round-trip time measurement)    |
 * | 4    | PONG      | acceptor  | the ping's sequence number, echoed                      |
 */
import protobuf from 'protobufjs';
import { encodePeerHandshake, writeRaftMessage, type PeerHandshake } from '../../codec/raft-codec.js';
import type { Message } from '../../core/raft/messages.js';

/** Frame kinds (the first byte after the length prefix). */
export const PeerFrameKind = {
  HANDSHAKE: 1,
  MESSAGE: 2,
  PING: 3,
  PONG: 4,
} as const;
export type PeerFrameKind = (typeof PeerFrameKind)[keyof typeof PeerFrameKind];

/** Bytes of the tcp length prefix. */
export const LENGTH_BYTES = 4;
/** Bytes a frame adds to its payload besides the length prefix (the kind byte). */
export const KIND_BYTES = 1;
/**
 * Largest frame (without length prefix) accepted before a connection's handshake, and ever on
 * the reverse direction (handshake answers, pongs): a stranger cannot make a member buffer a
 * large frame before it has said who it is.
 */
export const SMALL_FRAME_BYTES = 4096;

/**
 * A frame carrying Raft message `m`. The payload is encoded straight into the frame buffer.
 * @throws AssertionError if `m` is not a valid message (a programmer error).
 */
export function messageFrame(m: Message): Buffer {
  const w = protobuf.Writer.create();
  w.fixed32(0); // the length prefix, filled in below
  w.uint32(PeerFrameKind.MESSAGE); // a varint below 128 is the single byte itself
  writeRaftMessage(m, w);
  const frame = w.finish() as Buffer;
  frame.writeUInt32BE(frame.length - LENGTH_BYTES, 0);
  return frame;
}

/** A HANDSHAKE frame. */
export function handshakeFrame(h: PeerHandshake): Buffer {
  const payload = encodePeerHandshake(h);
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + KIND_BYTES + payload.length);
  frame.writeUInt32BE(KIND_BYTES + payload.length, 0);
  frame[LENGTH_BYTES] = PeerFrameKind.HANDSHAKE;
  frame.set(payload, LENGTH_BYTES + KIND_BYTES);
  return frame;
}

/** A PING or PONG frame carrying sequence number `seq`. */
export function pingFrame(kind: typeof PeerFrameKind.PING | typeof PeerFrameKind.PONG, seq: number): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + KIND_BYTES + 4);
  frame.writeUInt32BE(KIND_BYTES + 4, 0);
  frame[LENGTH_BYTES] = kind;
  frame.writeUInt32BE(seq >>> 0, LENGTH_BYTES + KIND_BYTES);
  return frame;
}

/** Receives what a `PeerFrameDecoder` finds. */
export interface PeerFrameSink {
  /** One frame without its length prefix (kind + payload). Not reused by the decoder. */
  onFrame(frame: Buffer): void;
  /** The stream is not a valid frame sequence (a zero or too large length). The decoder is dead. */
  onFrameError(reason: string): void;
}

const LENGTH = 0;
const BODY = 1;
const DEAD = 2;

/**
 * Splits a tcp byte stream into frames: a state machine fed chunks of any size, split anywhere.
 *
 * ```
 *        ┌──── frame complete ◀────┐
 *        ▼                         │
 *   ┌────────┐  4 bytes, 0 < len ≤ max  ┌──────┐
 *   │ LENGTH │ ───────────────────────▶ │ BODY │   (a frame wholly inside the chunk is
 *   └────────┘                          └──────┘    emitted at once as a view, no copy)
 *        │ len = 0 or len > max
 *        ▼
 *   ┌──────┐  onFrameError(); the stream cannot be trusted past a length it refused,
 *   │ DEAD │  and everything after is ignored (as after `stop()`)
 *   └──────┘
 * ```
 *
 * `maxFrameBytes` may be raised between frames (after a handshake); it is read at each length.
 * Nothing is buffered beyond one frame of at most `maxFrameBytes`.
 */
export class PeerFrameDecoder {
  private state = LENGTH;
  private lengthBytes = 0;
  private length = 0;
  private body: Buffer | null = null;
  private have = 0;

  constructor(
    private readonly sink: PeerFrameSink,
    /** Largest frame accepted (without length prefix). */
    public maxFrameBytes: number,
  ) {}

  /** Whether the decoder stopped for good (after a bad length, or `stop()`). */
  get dead(): boolean {
    return this.state === DEAD;
  }

  /** Stops decoding: the rest of the current chunk and later chunks are ignored. */
  stop(): void {
    this.state = DEAD;
    this.body = null;
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    // The state is re-read on every turn: a sink may stop() the decoder from inside onFrame.
    while (pos < n && this.state !== DEAD) {
      if (this.state === LENGTH) {
        if (this.lengthBytes === 0 && n - pos >= LENGTH_BYTES) {
          this.length = chunk.readUInt32BE(pos);
          pos += LENGTH_BYTES;
        } else {
          this.length = this.length * 256 + chunk[pos++]!;
          if (++this.lengthBytes < LENGTH_BYTES) continue;
        }
        this.lengthBytes = 0;
        const len = this.length;
        this.length = 0;
        if (len === 0 || len > this.maxFrameBytes) {
          this.stop();
          this.sink.onFrameError(len === 0 ? 'empty frame' : `frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes}`);
          return;
        }
        if (n - pos >= len) {
          const frame = chunk.subarray(pos, pos + len);
          pos += len;
          this.sink.onFrame(frame);
        } else {
          this.body = Buffer.allocUnsafe(len);
          this.have = 0;
          this.state = BODY;
        }
      } else {
        const body = this.body!;
        const take = Math.min(body.length - this.have, n - pos);
        chunk.copy(body, this.have, pos, pos + take);
        this.have += take;
        pos += take;
        if (this.have === body.length) {
          this.body = null;
          this.state = LENGTH;
          this.sink.onFrame(body);
        }
      }
    }
  }
}
