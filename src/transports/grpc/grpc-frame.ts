/**
 * gRPC's framing over HTTP/2, the small part of it a server needs: length-prefixed messages in
 * the DATA frames of a stream, statuses in trailers, and the `grpc-timeout` header.
 *
 * One message on the wire ("Length-Prefixed-Message" in gRPC's PROTOCOL-HTTP2.md):
 *
 * ```
 *  ┌──────────────────┬────────────────────────┬──────────────────────────────┐
 *  │ compressed  u8   │ length  u32 BE         │ message (protobuf), length B │
 *  └──────────────────┴────────────────────────┴──────────────────────────────┘
 *   0                  1                        5
 * ```
 *
 * HTTP/2 splits and joins DATA frames freely, so a message may span many chunks and one chunk
 * may hold several messages (or their pieces): `MessageReader` reassembles them.
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import protobuf from 'protobufjs';

/** Bytes of the prefix in front of every message. */
export const PREFIX_BYTES = 5;

/** Anything that can append a message to a protobufjs writer (MessageCodec and GrpcCodec do). */
export interface MessageEncoder<T> {
  encodeInto(msg: T, writer: protobuf.Writer): protobuf.Writer;
}

/**
 * Encodes `msg` behind its 5-byte prefix into one buffer: the payload is written once, straight
 * after placeholder bytes that are patched afterwards (no second copy).
 */
export function encodeMessage<T>(codec: MessageEncoder<T>, msg: T): Buffer {
  // fixed32(0) + uint32(0) reserve exactly 4 + 1 bytes.
  const w = protobuf.Writer.create().fixed32(0).uint32(0);
  codec.encodeInto(msg, w);
  const buf = w.finish() as Buffer;
  buf[0] = 0;
  buf.writeUInt32BE(buf.length - PREFIX_BYTES, 1);
  return buf;
}

/** Frames an already encoded payload. */
export function frameRaw(payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
  buf[0] = 0;
  buf.writeUInt32BE(payload.length, 1);
  buf.set(payload, PREFIX_BYTES);
  return buf;
}

/**
 * Writes messages of one kind in two steps, so that they can go straight into a transport's
 * output buffer: `prepare` measures a message, `writeTo` writes the one prepared last.
 */
export interface PayloadWriter<T> {
  /** Bytes `writeTo` will write for `msg`, or -1 if this writer leaves `msg` to another encoder. */
  prepare(msg: T): number;
  /** Writes the message measured by the last `prepare` at `buf[pos]`; returns the end offset. */
  writeTo(buf: Uint8Array, pos: number): number;
}

/** A `PayloadWriter` of whole gRPC messages (prefix included) around one of bare payloads. */
export class PrefixedWriter<T> implements PayloadWriter<T> {
  private length = 0;

  constructor(private readonly inner: PayloadWriter<T>) {}

  prepare(msg: T): number {
    const n = this.inner.prepare(msg);
    this.length = n;
    return n < 0 ? -1 : PREFIX_BYTES + n;
  }

  writeTo(buf: Uint8Array, pos: number): number {
    const n = this.length;
    buf[pos] = 0;
    buf[pos + 1] = n >>> 24;
    buf[pos + 2] = (n >>> 16) & 0xff;
    buf[pos + 3] = (n >>> 8) & 0xff;
    buf[pos + 4] = n & 0xff;
    return this.inner.writeTo(buf, pos + PREFIX_BYTES);
  }
}

/** What a `MessageReader` reports. */
export interface MessageSink {
  /** One whole message (decompressed); `bytes` may be a view into a chunk the reader was given. */
  onMessage(bytes: Buffer): void;
  /**
   * A message refused before it was buffered: announced `length` exceeds the limit, or it is
   * compressed in a way this server does not read. The reader ignores everything after it.
   */
  onBadMessage(status: number, message: string): void;
}

/** gRPC status codes this module produces. */
const RESOURCE_EXHAUSTED = 8;
const INTERNAL = 13;
const UNIMPLEMENTED = 12;

/**
 * Reassembles length-prefixed messages from the chunks of one stream. A message that arrives
 * whole inside one chunk is handed on as a view of that chunk (the common case, no copy); only
 * a message split across chunks is copied into one buffer.
 *
 * Limits: a message announced larger than `maxMessageBytes` is refused with grpc-go's exact
 * text before any of it is buffered, so a client cannot make the server hold more than
 * `maxMessageBytes` (+ one chunk) per stream.
 */
export class MessageReader {
  /** Bytes held from earlier chunks: a partial prefix or a partial message. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Length of the message being assembled (-1 while its prefix is incomplete). */
  private need = -1;
  private failed = false;

  constructor(
    private readonly sink: MessageSink,
    private readonly maxMessageBytes: number,
    /** The stream's `grpc-encoding` header, for compressed messages. */
    private readonly encoding: string | undefined,
  ) {}

  /** Whether bytes of an unfinished message are held (at end of stream that is an error). */
  get hasPartial(): boolean {
    return this.pendingBytes > 0 && !this.failed;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    if (this.pendingBytes === 0) {
      this.scan(chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.need < 0) {
      if (this.pendingBytes < PREFIX_BYTES) return;
      const joined = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.scan(joined);
      return;
    }
    if (this.pendingBytes < PREFIX_BYTES + this.need) return;
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.need = -1;
    this.scan(joined);
  }

  /** Consumes whole messages from `buf`, keeping any trailing piece. */
  private scan(buf: Buffer): void {
    let off = 0;
    while (!this.failed) {
      const left = buf.length - off;
      if (left < PREFIX_BYTES) break;
      const flag = buf[off]!;
      const length = buf.readUInt32BE(off + 1);
      if (length > this.maxMessageBytes) {
        this.fail(RESOURCE_EXHAUSTED, `grpc: received message larger than max (${length} vs. ${this.maxMessageBytes})`);
        return;
      }
      if (flag > 1) {
        this.fail(INTERNAL, `grpc: received unexpected payload format ${flag}`);
        return;
      }
      if (left < PREFIX_BYTES + length) {
        this.need = length;
        break;
      }
      const body = buf.subarray(off + PREFIX_BYTES, off + PREFIX_BYTES + length);
      off += PREFIX_BYTES + length;
      this.deliver(flag === 1, body);
    }
    if (this.failed) return;
    if (off < buf.length) {
      const rest = off === 0 ? buf : buf.subarray(off);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
      // The loop above already checked a complete prefix against the limits.
      this.need = rest.length >= PREFIX_BYTES ? rest.readUInt32BE(1) : -1;
    } else {
      this.need = -1;
    }
  }

  private deliver(compressed: boolean, body: Buffer): void {
    if (!compressed) {
      this.sink.onMessage(body);
      return;
    }
    const enc = this.encoding;
    if (enc === undefined || enc === 'identity') {
      this.fail(INTERNAL, 'grpc: compressed flag set with identity or empty encoding');
      return;
    }
    let plain: Buffer;
    try {
      // The limit applies to the decompressed size too (a small bomb must not expand unbounded).
      const opts = { maxOutputLength: this.maxMessageBytes + 1 };
      if (enc === 'gzip') plain = gunzipSync(body, opts);
      else if (enc === 'deflate') plain = inflateSync(body, opts);
      else {
        this.fail(UNIMPLEMENTED, `grpc: Decompressor is not installed for grpc-encoding "${enc}"`);
        return;
      }
    } catch (err) {
      const tooBig = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      if (tooBig) this.fail(RESOURCE_EXHAUSTED, `grpc: received message after decompression larger than max (${this.maxMessageBytes})`);
      else this.fail(INTERNAL, `grpc: failed to decompress the received message: ${(err as Error).message}`);
      return;
    }
    if (plain.length > this.maxMessageBytes) {
      this.fail(RESOURCE_EXHAUSTED, `grpc: received message after decompression larger than max (${plain.length} vs. ${this.maxMessageBytes})`);
      return;
    }
    this.sink.onMessage(plain);
  }

  private fail(status: number, message: string): void {
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.sink.onBadMessage(status, message);
  }
}

/**
 * Percent-encodes a status message for the `grpc-message` trailer: every byte outside printable
 * ASCII, and `%` itself, becomes `%XX` of its UTF-8 bytes (gRPC's PROTOCOL-HTTP2.md).
 */
export function percentEncode(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    if (byte < 0x20 || byte > 0x7e || byte === 0x25) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

/** Decodes a percent-encoded `grpc-message` (for clients and tests). */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && i + 2 < text.length && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c & 0xff);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3600e3, M: 60e3, S: 1e3, m: 1, u: 1e-3, n: 1e-6 };

/**
 * Parses a `grpc-timeout` header (`1-8 digits` + unit `H M S m u n`) into milliseconds, or
 * undefined when absent or malformed (then the call has no deadline, as grpc-go would fail it
 * instead; a lenient server is the safer choice for an optional header).
 */
export function parseTimeoutMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) return undefined;
  return Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
}
