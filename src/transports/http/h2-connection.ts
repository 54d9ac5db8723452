/**
 * The server side of one HTTP/2 connection (RFC 9113) over a raw socket, written for what the
 * etcd-compatible port needs: many small gRPC calls at low CPU, a few long or large streams
 * (watch, snapshot), and no surprises for any client.
 *
 * Why not node:http2: nghttp2 refuses `:authority` values Go's server accepts (etcd 3.4's
 * clientv3 sends `http://127.0.0.1:2379` when it dials a member's client URL, so `etcdctl
 * endpoint status --cluster` failed), and its per-stream Duplex, header objects and callbacks
 * cost about two thirds of a put's server CPU.
 *
 * What is implemented:
 * - frames: DATA and HEADERS (with padding, HEADERS' priority fields skipped), CONTINUATION,
 *   PRIORITY (ignored), RST_STREAM, SETTINGS (+ ACK), PING (ACK), GOAWAY, WINDOW_UPDATE;
 *   unknown types are ignored, PUSH_PROMISE from a client is a protocol error;
 * - HPACK (hpack.ts): full decoder, stateless encoder; header values are not validated beyond
 *   HPACK itself (any `:authority` is accepted);
 * - our SETTINGS: MAX_CONCURRENT_STREAMS (a stream beyond it is refused with REFUSED_STREAM),
 *   INITIAL_WINDOW_SIZE, MAX_HEADER_LIST_SIZE; inbound MAX_FRAME_SIZE stays 16384;
 * - the peer's SETTINGS: INITIAL_WINDOW_SIZE (open streams adjusted by the difference),
 *   MAX_FRAME_SIZE (largest frame we send); HEADER_TABLE_SIZE needs nothing, as the encoder
 *   never indexes;
 * - flow control both ways. Outbound, DATA never exceeds the peer's connection and stream
 *   windows: the rest waits in the stream's queue until a WINDOW_UPDATE (or a larger
 *   INITIAL_WINDOW_SIZE) makes room, and the stream's trailers wait behind its data. Inbound,
 *   a peer that overruns a window is a FLOW_CONTROL_ERROR; data is consumed as it arrives and
 *   credited back with WINDOW_UPDATE once half a window is used, so a client never stalls;
 * - errors: a connection error (bad preface or frame, HPACK error, frame on a stream in the
 *   wrong state) sends GOAWAY with its code and closes this connection; a stream error sends
 *   RST_STREAM. No input makes an exception leave `onData`.
 *
 * Writing: frames are appended to a pooled buffer and written once per turn (process.nextTick,
 * so every answer produced by one batch of settled promises goes out in one socket write);
 * large DATA payloads are passed to the socket as they are, not copied. Small DATA payloads
 * of one stream written back to back share one DATA frame (up to the peer's frame size), and
 * `H2Stream.claim` lets a caller encode a message straight into the buffer. A connection with
 * a bulk of output in a turn (a watch fan-out) writes it after the turn's other flushes, so
 * the small answers produced with it (the put that caused it) are not held behind it.
 *
 * Streams are plain objects with a handler (no Duplex, no events): `onStream` gets each new
 * stream with its decoded header list and sets `stream.handler`.
 */
import type net from 'node:net';
import { encodeHeaders, HpackDecoder, HpackError } from './hpack.js';

/** The 24 octets every HTTP/2 client sends first. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

/** HTTP/2 error codes (RFC 9113 §7). */
export const H2Error = Object.freeze({
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
});

const SETTINGS_HEADER_TABLE_SIZE = 0x1;
const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;
const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

const DEFAULT_WINDOW = 65535;
const MAX_WINDOW = 0x7fffffff;
/** Largest frame payload we accept (we keep the protocol default). */
const MAX_INBOUND_FRAME = 16384;
/** Payloads up to this size are copied into the write buffer; larger ones are written as is. */
const COPY_LIMIT = 2048;
const CHUNK_BYTES = 64 * 1024;
/** Largest payload `H2Stream.claim` places: one frame of the smallest MAX_FRAME_SIZE. */
const MAX_CLAIM = 16384;
/** Output of one turn from which a connection's flush waits for the turn's smaller ones. */
const BULK_BYTES = 16 * 1024;
/** How long a connection we sent GOAWAY on may take to close before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/** What a stream's owner is told. Called from the connection's event handlers; must not throw. */
export interface H2StreamHandler {
  /** A piece of the request body (a view into a socket chunk; copy to keep it past the call). */
  onData(chunk: Buffer): void;
  /** The client half-closed the stream: no more data. */
  onEnd(): void;
  /** The stream was aborted (client RST_STREAM, connection lost or closed) before it finished. */
  onReset(code: number): void;
}

const NO_HANDLER: H2StreamHandler = { onData() {}, onEnd() {}, onReset() {} };

/** Limits and windows of a connection. */
export interface H2Options {
  /** SETTINGS_MAX_CONCURRENT_STREAMS; further streams are refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: what a client may send on a stream before we credit it. */
  streamWindow: number;
  /** Our connection receive window. */
  connectionWindow: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE; a larger request is reset with ENHANCE_YOUR_CALM. */
  maxHeaderListSize: number;
  /**
   * Bytes queued to the socket above which the connection stops reading from it, until the
   * socket drains: a client that sends requests and does not read the answers cannot make the
   * server buffer without bound.
   */
  maxQueuedBytes: number;
}

/** Something to log connection errors to. */
interface DebugLog {
  debug(obj: object, msg: string): void;
}

class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** One request stream. Created by the connection; its owner answers through it. */
export class H2Stream {
  /** Who receives the request body and the end or abort of the stream. */
  handler: H2StreamHandler = NO_HANDLER;
  /** The client sent END_STREAM. */
  remoteEnded = false;
  /** We queued our END_STREAM (trailers or an empty DATA); nothing more may be sent. */
  localEnded = false;
  /** The stream is gone from the connection (finished or aborted). */
  closed = false;
  /** Response headers were sent. */
  headersSent = false;
  /** @internal Peer's window for this stream. */
  sendWindow: number;
  /** @internal Our window: what the client may still send. */
  recvWindow: number;
  /** @internal Bytes received since the last WINDOW_UPDATE we sent for this stream. */
  recvUnacked = 0;
  /** @internal DATA waiting for window, in order; `queueHead` is consumed from the front. */
  queue: Buffer[] = [];
  /** @internal Bytes of `queue[0]` already sent. */
  queueHead = 0;
  /** Bytes of response body waiting for flow-control window. */
  queuedBytes = 0;
  /** @internal The end of the stream, sent once the queue is empty: a trailer block, or empty for DATA+END_STREAM. */
  pendingEnd: Buffer | null = null;
  /** @internal Called once queued bytes fall to the drain limit. */
  drainCb: (() => void) | null = null;
  /** @internal */
  drainLimit = 0;

  constructor(
    /** The stream identifier. */
    readonly id: number,
    /** The connection it belongs to. */
    readonly conn: H2Connection,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** Sends the response headers (an encoded block); with `endStream` the answer is complete. */
  respond(block: Buffer, endStream = false): void {
    if (this.closed || this.localEnded || this.headersSent) return;
    this.headersSent = true;
    if (endStream) this.localEnded = true;
    this.conn.sendHeaders(this, block, endStream);
  }

  /** Queues body bytes: sent as the peer's windows allow. */
  write(data: Buffer): void {
    if (this.closed || this.localEnded || data.length === 0) return;
    this.conn.sendData(this, data);
  }

  /**
   * Room for `n` body bytes that the windows let go out at once, in the connection's output
   * buffer: returns the offset in `conn.output` where the caller must write exactly `n` bytes
   * now (before anything else is sent on the connection), or -1 when they cannot be placed
   * there (stream ended or with bytes waiting, windows too small, `n` above one frame); then
   * the caller encodes them elsewhere and calls `write`. Saves a buffer and a copy per message
   * for many small messages (watch replies); the bytes count as sent for flow control.
   */
  claim(n: number): number {
    if (this.closed || this.localEnded || this.queuedBytes > 0 || n <= 0) return -1;
    return this.conn.claimData(this, n);
  }

  /** Ends the response: with a trailer block (gRPC), or an empty DATA frame with END_STREAM. */
  end(trailers?: Buffer): void {
    if (this.closed || this.localEnded) return;
    this.localEnded = true;
    this.conn.sendEnd(this, trailers ?? EMPTY);
  }

  /** Aborts the stream with RST_STREAM `code`; the handler is not called. */
  reset(code: number = H2Error.CANCEL): void {
    if (this.closed) return;
    this.conn.resetStream(this, code, false);
  }

  /** Bytes this stream's answers occupy: waiting for window, plus the connection's socket queue. */
  get outboundBytes(): number {
    return this.queuedBytes + this.conn.outboundBytes;
  }

  /** Calls `cb` once `outboundBytes` is at most `limit`, or the stream is closed (at once if so now). */
  whenDrained(limit: number, cb: () => void): void {
    if (this.closed || this.outboundBytes <= limit) {
      cb();
      return;
    }
    this.drainCb = cb;
    this.drainLimit = limit;
    this.conn.waitDrain(this);
  }
}

const EMPTY = Buffer.alloc(0);

/** Decoded request header list → a value (first occurrence), or undefined. */
export function headerOf(list: readonly string[], name: string): string | undefined {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1];
  return undefined;
}

/** The server end of one HTTP/2 connection. See the module comment. */
export class H2Connection {
  private readonly decoder: HpackDecoder;
  private readonly streams = new Map<number, H2Stream>();
  /** Highest client stream id seen (also the GOAWAY last-stream-id). */
  private lastStreamId = 0;
  /** Bytes still expected of the preface. */
  private prefaceLeft = H2_PREFACE.length;
  private gotSettings = false;
  /** Unparsed bytes: a partial frame. */
  private rest: Buffer | null = null;
  /** A HEADERS block waiting for its CONTINUATION frames. */
  private contId = 0;
  private contEnd = false;
  private contParts: Buffer[] = [];
  private contBytes = 0;

  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16384;
  private sendWindow = DEFAULT_WINDOW;
  private recvWindow: number;
  private recvUnacked = 0;

  /** Streams with DATA waiting for window. */
  private readonly blocked = new Set<H2Stream>();
  /** Streams waiting for their outbound bytes to drain. */
  private readonly draining = new Set<H2Stream>();

  // The write buffer: frames are built in `chunk` from `start` to `used`; finished segments
  // and large payloads wait in `out` until the flush.
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private start = 0;
  private used = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  /**
   * The stream whose DATA frame (header at `dataAt` in `chunk`) is the last frame built, still
   * open to more payload; 0 when the last frame is anything else or was cut off.
   */
  private dataId = 0;
  private dataAt = 0;
  private flushQueued = false;
  /**
   * The turn's flush: a connection with a bulk of output (watch replies) lets the turn's other
   * flushes go first, once, by queueing itself again behind them. The small answers produced in
   * the same turn (the put that caused the fan-out) then leave before the bulk's socket writes,
   * which take tens of µs each, instead of after them.
   */
  private readonly flushFn = (): void => {
    if (!this.flushDeferred && this.outBytes + (this.used - this.start) >= BULK_BYTES) {
      this.flushDeferred = true;
      process.nextTick(this.flushFn);
      return;
    }
    this.flushDeferred = false;
    this.flush();
  };
  private flushDeferred = false;
  private lateFlushQueued = false;
  private readonly lateFlushFn = (): void => {
    this.lateFlushQueued = false;
    if (!this.flushQueued) this.flush();
  };

  /** GOAWAY sent or received: no new streams. */
  private goingAway = false;
  /** The connection is finished (error or close); input is ignored. */
  private dead = false;
  private readingPaused = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: H2Options,
    /** Called for each new request stream with its header list; sets `stream.handler`. */
    private readonly onStream: (stream: H2Stream, headers: string[]) => void,
    private readonly log: DebugLog,
  ) {
    this.decoder = new HpackDecoder(4096, options.maxHeaderListSize);
    this.recvWindow = options.connectionWindow;
    socket.on('drain', () => this.onSocketDrain());
    socket.on('close', () => this.teardown());
    // Our SETTINGS and the connection window go first (the server preface).
    const s = Buffer.allocUnsafe(18);
    s.writeUInt16BE(SETTINGS_MAX_CONCURRENT_STREAMS, 0);
    s.writeUInt32BE(Math.min(options.maxConcurrentStreams, 0xffffffff), 2);
    s.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    s.writeUInt32BE(options.streamWindow, 8);
    s.writeUInt16BE(SETTINGS_MAX_HEADER_LIST_SIZE, 12);
    s.writeUInt32BE(options.maxHeaderListSize, 14);
    this.frame(SETTINGS, 0, 0, s, 0, s.length);
    if (options.connectionWindow > DEFAULT_WINDOW) this.windowUpdate(0, options.connectionWindow - DEFAULT_WINDOW);
  }

  /** Open streams (for tests and stats). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Bytes written but not yet sent by the socket, or not yet handed to it. */
  get outboundBytes(): number {
    return this.socket.writableLength + this.outBytes + (this.used - this.start);
  }

  /** Feeds bytes read from the socket (the sniffed first bytes, then each chunk). */
  onData(chunk: Buffer): void {
    if (this.dead) return;
    try {
      this.parse(chunk);
    } catch (err) {
      if (err instanceof ConnectionError) {
        this.fail(err.code, err.message);
      } else if (err instanceof HpackError) {
        this.fail(H2Error.COMPRESSION_ERROR, err.message);
      } else {
        this.log.debug({ err }, 'http2: unexpected error handling a frame');
        this.fail(H2Error.INTERNAL_ERROR, 'internal error');
      }
    }
  }

  /**
   * Ends the connection: GOAWAY (NO_ERROR), every open stream aborted (handlers see
   * `onReset`), the socket ended and destroyed if it does not close soon.
   */
  close(): void {
    this.fail(H2Error.NO_ERROR, 'server shutting down');
  }

  // Parsing -------------------------------------------------------------------------------

  private parse(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let off = 0;
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, buf.length);
      const at = H2_PREFACE.length - this.prefaceLeft;
      if (buf.compare(H2_PREFACE, at, at + n, 0, n) !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad connection preface');
      this.prefaceLeft -= n;
      off = n;
    }
    const end = buf.length;
    while (end - off >= 9 && !this.dead) {
      const length = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
      if (length > MAX_INBOUND_FRAME) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
      if (end - off - 9 < length) break;
      const type = buf[off + 3]!;
      const flags = buf[off + 4]!;
      const id = buf.readUInt32BE(off + 5) & 0x7fffffff;
      const p = off + 9;
      off = p + length;
      this.onFrame(type, flags, id, buf, p, off);
    }
    if (off < end && !this.dead) this.rest = buf.subarray(off);
    // What reading produced by itself (PING and SETTINGS acks, WINDOW_UPDATEs) waits for the
    // end of this loop turn: an answer produced meanwhile (a put whose fsync runs on the main
    // thread) then leaves in the same socket write. grpc-go pings after each answer it gets, so
    // this saves a write per call.
    this.maybeFlushLate();
  }

  private maybeFlushLate(): void {
    if (this.flushQueued || this.lateFlushQueued || this.dead) return;
    if (this.used === this.start && this.out.length === 0) return;
    this.lateFlushQueued = true;
    setImmediate(this.lateFlushFn);
  }

  private onFrame(type: number, flags: number, id: number, buf: Buffer, p: number, end: number): void {
    if (!this.gotSettings) {
      if (type !== SETTINGS || (flags & FLAG_ACK) !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'expected SETTINGS first');
      this.gotSettings = true;
    }
    if (this.contId !== 0 && (type !== CONTINUATION || id !== this.contId)) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'expected CONTINUATION');
    }
    switch (type) {
      case DATA:
        this.onDataFrame(flags, id, buf, p, end);
        return;
      case HEADERS:
        this.onHeadersFrame(flags, id, buf, p, end);
        return;
      case CONTINUATION:
        this.onContinuation(flags, id, buf, p, end);
        return;
      case PRIORITY:
        if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (end - p !== 5) this.streamError(id, H2Error.FRAME_SIZE_ERROR);
        return;
      case RST_STREAM:
        this.onRstStream(id, buf, p, end);
        return;
      case SETTINGS:
        this.onSettings(flags, id, buf, p, end);
        return;
      case PUSH_PROMISE:
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case PING:
        if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PING on a stream');
        if (end - p !== 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PING size');
        if ((flags & FLAG_ACK) === 0) this.frame(PING, FLAG_ACK, 0, buf, p, end);
        return;
      case GOAWAY:
        if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (end - p < 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'GOAWAY size');
        this.goingAway = true;
        if (this.streams.size === 0) this.finishGracefully();
        return;
      case WINDOW_UPDATE:
        this.onWindowUpdate(id, buf, p, end);
        return;
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1).
        return;
    }
  }

  /** Start and end of a padded frame's content. */
  private unpad(flags: number, buf: Buffer, p: number, end: number, skip: number): [number, number] {
    let pad = 0;
    if (flags & FLAG_PADDED) {
      if (p >= end) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'padded frame without pad length');
      pad = buf[p]!;
      p++;
    }
    p += skip;
    if (p + pad > end) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'padding exceeds the frame');
    return [p, end - pad];
  }

  private onDataFrame(flags: number, id: number, buf: Buffer, p: number, end: number): void {
    if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on stream 0');
    const length = end - p;
    // Flow control counts the whole payload, padding included.
    this.recvWindow -= length;
    if (this.recvWindow < 0) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window exceeded');
    const [from, to] = this.unpad(flags, buf, p, end, 0);
    this.recvUnacked += length;
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on an idle stream');
      // A stream we closed or reset: the data is dropped but its window credited.
      this.creditConnection();
      return;
    }
    if (stream.remoteEnded) {
      this.creditConnection();
      this.streamError(id, H2Error.STREAM_CLOSED);
      return;
    }
    stream.recvWindow -= length;
    if (stream.recvWindow < 0) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'stream window exceeded');
    stream.recvUnacked += length;
    const end_ = (flags & FLAG_END_STREAM) !== 0;
    if (end_) stream.remoteEnded = true;
    if (to > from) stream.handler.onData(buf.subarray(from, to));
    this.creditConnection();
    if (end_) {
      this.onRemoteEnd(stream);
    } else if (!stream.closed && stream.recvUnacked >= this.options.streamWindow / 2) {
      stream.recvWindow += stream.recvUnacked;
      this.windowUpdate(id, stream.recvUnacked);
      stream.recvUnacked = 0;
    }
  }

  private creditConnection(): void {
    if (this.recvUnacked >= this.options.connectionWindow / 2) {
      this.recvWindow += this.recvUnacked;
      this.windowUpdate(0, this.recvUnacked);
      this.recvUnacked = 0;
    }
  }

  private onHeadersFrame(flags: number, id: number, buf: Buffer, p: number, end: number): void {
    if (id === 0 || (id & 1) === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${id}`);
    const [from, to] = this.unpad(flags, buf, p, end, flags & FLAG_PRIORITY ? 5 : 0);
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (flags & FLAG_END_HEADERS) {
      this.onHeaderBlock(id, buf.subarray(from, to), endStream);
      return;
    }
    this.contId = id;
    this.contEnd = endStream;
    this.contParts = [buf.subarray(from, to)];
    this.contBytes = to - from;
  }

  private onContinuation(flags: number, id: number, buf: Buffer, p: number, end: number): void {
    if (this.contId === 0 || id !== this.contId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    this.contBytes += end - p;
    // A header block may be a little larger than the list it encodes (literal framing).
    if (this.contBytes > 2 * this.options.maxHeaderListSize + MAX_INBOUND_FRAME) {
      throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, 'header block too large');
    }
    this.contParts.push(buf.subarray(p, end));
    if ((flags & FLAG_END_HEADERS) === 0) return;
    const block = Buffer.concat(this.contParts, this.contBytes);
    this.contId = 0;
    this.contParts = [];
    this.contBytes = 0;
    this.onHeaderBlock(id, block, this.contEnd);
  }

  private onHeaderBlock(id: number, block: Buffer, endStream: boolean): void {
    // Decoded even if the stream is refused: the HPACK table is connection state.
    const headers = this.decoder.decode(block);
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      // Trailers from the client: they must end the stream.
      if (existing.remoteEnded) {
        this.streamError(id, H2Error.STREAM_CLOSED);
      } else if (!endStream) {
        this.streamError(id, H2Error.PROTOCOL_ERROR);
      } else {
        existing.remoteEnded = true;
        this.onRemoteEnd(existing);
      }
      return;
    }
    // A stream we closed or reset: frames the client sent before it knew are ignored.
    if (id <= this.lastStreamId) return;
    this.lastStreamId = id;
    if (this.goingAway) return;
    if (headers === null) {
      this.rst(id, H2Error.ENHANCE_YOUR_CALM);
      return;
    }
    if (this.streams.size >= this.options.maxConcurrentStreams) {
      this.rst(id, H2Error.REFUSED_STREAM);
      return;
    }
    if (!isRequest(headers)) {
      this.rst(id, H2Error.PROTOCOL_ERROR);
      return;
    }
    const stream = new H2Stream(id, this, this.peerInitialWindow, this.options.streamWindow);
    this.streams.set(id, stream);
    stream.remoteEnded = endStream;
    this.onStream(stream, headers);
    if (endStream && !stream.closed) this.onRemoteEnd(stream);
  }

  private onRemoteEnd(stream: H2Stream): void {
    stream.handler.onEnd();
    if (stream.localEnded && stream.pendingEnd === null && !stream.closed) this.remove(stream);
  }

  private onRstStream(id: number, buf: Buffer, p: number, end: number): void {
    if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (end - p !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'RST_STREAM size');
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
      return;
    }
    const handler = stream.handler;
    this.remove(stream);
    handler.onReset(buf.readUInt32BE(p));
  }

  private onSettings(flags: number, id: number, buf: Buffer, p: number, end: number): void {
    if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) {
      if (end !== p) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if ((end - p) % 6 !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS size');
    let windowChanged = false;
    for (let q = p; q < end; q += 6) {
      const key = buf.readUInt16BE(q);
      const value = buf.readUInt32BE(q + 2);
      switch (key) {
        case SETTINGS_ENABLE_PUSH:
          if (value > 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'ENABLE_PUSH');
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE');
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'stream window overflow');
          }
          windowChanged = delta > 0;
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < 16384 || value > 16777215) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'MAX_FRAME_SIZE');
          this.peerMaxFrame = value;
          break;
        case SETTINGS_HEADER_TABLE_SIZE: // our encoder never indexes
        case SETTINGS_MAX_CONCURRENT_STREAMS: // we never push
        case SETTINGS_MAX_HEADER_LIST_SIZE: // advisory; our answers are small
        default:
          break;
      }
    }
    this.frame(SETTINGS, FLAG_ACK, 0, EMPTY, 0, 0);
    if (windowChanged) this.pump();
  }

  private onWindowUpdate(id: number, buf: Buffer, p: number, end: number): void {
    if (end - p !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE size');
    const inc = buf.readUInt32BE(p) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window overflow');
      this.pump();
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
      return;
    }
    if (inc === 0) {
      this.streamError(id, H2Error.PROTOCOL_ERROR);
      return;
    }
    stream.sendWindow += inc;
    if (stream.sendWindow > MAX_WINDOW) {
      this.streamError(id, H2Error.FLOW_CONTROL_ERROR);
      return;
    }
    if (stream.queuedBytes > 0 || stream.pendingEnd !== null) this.pump();
  }

  // Streams -------------------------------------------------------------------------------

  /** A stream error: RST_STREAM, and the stream's handler sees `onReset`. */
  private streamError(id: number, code: number): void {
    const stream = this.streams.get(id);
    if (stream === undefined) {
      this.rst(id, code);
      return;
    }
    this.resetStream(stream, code, true);
  }

  /** @internal Resets `stream` with `code`; tells its handler if `notify`. */
  resetStream(stream: H2Stream, code: number, notify: boolean): void {
    const handler = stream.handler;
    this.remove(stream);
    this.rst(stream.id, code);
    this.maybeFlush();
    if (notify) handler.onReset(code);
  }

  private remove(stream: H2Stream): void {
    stream.closed = true;
    stream.handler = NO_HANDLER;
    stream.queue = [];
    stream.queuedBytes = 0;
    stream.pendingEnd = null;
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    if (stream.drainCb !== null) {
      this.draining.delete(stream);
      const cb = stream.drainCb;
      stream.drainCb = null;
      cb();
    }
    if (this.goingAway && this.streams.size === 0 && !this.dead) this.finishGracefully();
  }

  /** @internal */
  sendHeaders(stream: H2Stream, block: Buffer, endStream: boolean): void {
    this.headerFrames(stream.id, block, endStream);
    if (endStream) this.localDone(stream);
    this.maybeFlush();
  }

  /** @internal */
  sendData(stream: H2Stream, data: Buffer): void {
    if (stream.queuedBytes > 0) {
      stream.queue.push(data);
      stream.queuedBytes += data.length;
      return;
    }
    const sent = this.dataFrames(stream, data, 0);
    if (sent < data.length) {
      stream.queue.push(data);
      stream.queueHead = sent;
      stream.queuedBytes = data.length - sent;
      this.blocked.add(stream);
    }
    this.maybeFlush();
  }

  /** The buffer `H2Stream.claim` offsets point into (changes as it fills: read it after the claim). */
  get output(): Buffer {
    return this.chunk;
  }

  /** @internal See `H2Stream.claim`. */
  claimData(stream: H2Stream, n: number): number {
    if (n > MAX_CLAIM || n > stream.sendWindow || n > this.sendWindow || this.dead) return -1;
    stream.sendWindow -= n;
    this.sendWindow -= n;
    const at = this.appendData(stream.id, n);
    this.maybeFlush();
    return at;
  }

  /** @internal */
  sendEnd(stream: H2Stream, trailers: Buffer): void {
    if (stream.queuedBytes > 0) {
      stream.pendingEnd = trailers;
      return;
    }
    this.endFrames(stream, trailers);
    this.maybeFlush();
  }

  /** @internal */
  waitDrain(stream: H2Stream): void {
    this.draining.add(stream);
  }

  private endFrames(stream: H2Stream, trailers: Buffer): void {
    if (trailers.length === 0) this.frame(DATA, FLAG_END_STREAM, stream.id, EMPTY, 0, 0);
    else this.headerFrames(stream.id, trailers, true);
    this.localDone(stream);
  }

  /** Our END_STREAM is written: the stream is done once the client's side is too. */
  private localDone(stream: H2Stream): void {
    this.remove(stream);
    // The answer is complete while the client still sends: ask it to stop (NO_ERROR), as
    // grpc-go does, so the stream does not hold a concurrency slot.
    if (!stream.remoteEnded) this.rst(stream.id, H2Error.NO_ERROR);
  }

  /** Sends what the windows allow of `data` from `from`; returns the offset reached. */
  private dataFrames(stream: H2Stream, data: Buffer, from: number): number {
    let off = from;
    const max = this.peerMaxFrame;
    while (off < data.length) {
      const n = Math.min(data.length - off, stream.sendWindow, this.sendWindow, max);
      if (n <= 0) break;
      this.frame(DATA, 0, stream.id, data, off, off + n);
      stream.sendWindow -= n;
      this.sendWindow -= n;
      off += n;
    }
    return off;
  }

  /** Sends queued DATA of blocked streams as far as the windows allow, then their ends. */
  private pump(): void {
    for (const s of this.blocked) {
      if (this.sendWindow <= 0) break;
      while (s.queue.length > 0) {
        const head = s.queue[0]!;
        const reached = this.dataFrames(s, head, s.queueHead);
        s.queuedBytes -= reached - s.queueHead;
        if (reached < head.length) {
          s.queueHead = reached;
          break;
        }
        s.queue.shift();
        s.queueHead = 0;
      }
      if (s.queue.length === 0) {
        this.blocked.delete(s);
        const end = s.pendingEnd;
        if (end !== null) {
          s.pendingEnd = null;
          this.endFrames(s, end);
        }
      }
    }
    this.checkDrains();
    this.maybeFlush();
  }

  private checkDrains(): void {
    if (this.draining.size === 0) return;
    const outside = this.outboundBytes;
    for (const s of this.draining) {
      if (s.closed || s.queuedBytes + outside <= s.drainLimit) {
        this.draining.delete(s);
        const cb = s.drainCb;
        s.drainCb = null;
        cb?.();
      }
    }
  }

  private onSocketDrain(): void {
    if (this.readingPaused && !this.dead) {
      this.readingPaused = false;
      this.socket.resume();
    }
    this.checkDrains();
  }

  // Writing -------------------------------------------------------------------------------

  private headerFrames(id: number, block: Buffer, endStream: boolean): void {
    const max = this.peerMaxFrame;
    const es = endStream ? FLAG_END_STREAM : 0;
    if (block.length <= max) {
      this.frame(HEADERS, es | FLAG_END_HEADERS, id, block, 0, block.length);
      return;
    }
    this.frame(HEADERS, es, id, block, 0, max);
    let off = max;
    while (off < block.length) {
      const n = Math.min(max, block.length - off);
      this.frame(CONTINUATION, off + n === block.length ? FLAG_END_HEADERS : 0, id, block, off, off + n);
      off += n;
    }
  }

  private rst(id: number, code: number): void {
    const b = this.reserve(13);
    this.header(b, 4, RST_STREAM, 0, id);
    this.chunk.writeUInt32BE(code, this.used);
    this.used += 4;
  }

  private windowUpdate(id: number, inc: number): void {
    this.reserve(13);
    this.header(this.chunk, 4, WINDOW_UPDATE, 0, id);
    this.chunk.writeUInt32BE(inc, this.used);
    this.used += 4;
  }

  /**
   * Appends one frame with payload `src[from, to)`. A small DATA payload that follows a DATA
   * frame of the same stream is appended to that frame instead (up to the peer's frame size):
   * gRPC messages need no frame of their own, and a client parses, credits and wakes its
   * reader per frame, so a watch stream's replies of one turn cost it one frame per 16 KiB
   * instead of one per reply. Flow control counts bytes, so it is unaffected.
   */
  private frame(type: number, flags: number, id: number, src: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n <= COPY_LIMIT) {
      if (type === DATA && flags === 0) {
        const at = this.appendData(id, n); // NB: before reading `chunk`, which it may replace
        src.copy(this.chunk, at, from, to);
        return;
      }
      this.reserve(9 + n);
      this.header(this.chunk, n, type, flags, id);
      src.copy(this.chunk, this.used, from, to);
      this.used += n;
      return;
    }
    this.reserve(9);
    this.header(this.chunk, n, type, flags, id);
    this.cut();
    this.out.push(from === 0 && to === src.length ? src : src.subarray(from, to));
    this.outBytes += n;
  }

  /**
   * Room for `n` (≤ MAX_CLAIM) bytes of DATA payload on stream `id` in `chunk`: the end of the
   * previous frame when it is a DATA frame of the same stream with room left (its length is
   * patched), else after a new frame header. Returns the offset; the caller fills it.
   */
  private appendData(id: number, n: number): number {
    let chunk: Buffer = this.chunk;
    if (id === this.dataId && chunk.length - this.used >= n) {
      const at = this.dataAt;
      const length = ((chunk[at]! << 16) | (chunk[at + 1]! << 8) | chunk[at + 2]!) + n;
      if (length <= this.peerMaxFrame) {
        const p = this.used;
        this.used = p + n;
        chunk[at] = length >>> 16;
        chunk[at + 1] = (length >>> 8) & 0xff;
        chunk[at + 2] = length & 0xff;
        return p;
      }
    }
    chunk = this.reserve(9 + n);
    const at = this.used;
    this.header(chunk, n, DATA, 0, id);
    this.dataId = id;
    this.dataAt = at;
    const p = this.used;
    this.used = p + n;
    return p;
  }

  private header(b: Buffer, length: number, type: number, flags: number, id: number): Buffer {
    this.dataId = 0;
    let u = this.used;
    b[u++] = length >>> 16;
    b[u++] = (length >>> 8) & 0xff;
    b[u++] = length & 0xff;
    b[u++] = type;
    b[u++] = flags;
    b.writeUInt32BE(id, u);
    this.used = u + 4;
    return b;
  }

  /** Makes room for `n` bytes at `used`. */
  private reserve(n: number): Buffer {
    if (this.chunk.length - this.used < n) {
      this.cut();
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, n));
      this.start = 0;
      this.used = 0;
    }
    return this.chunk;
  }

  /** Moves the built part of the chunk to the output list. */
  private cut(): void {
    this.dataId = 0;
    if (this.used > this.start) {
      this.out.push(this.chunk.subarray(this.start, this.used));
      this.outBytes += this.used - this.start;
      this.start = this.used;
    }
  }

  private maybeFlush(): void {
    if (this.flushQueued || this.dead) return;
    if (this.used === this.start && this.out.length === 0) return;
    this.flushQueued = true;
    process.nextTick(this.flushFn);
  }

  private flush(): void {
    this.flushQueued = false;
    this.cut();
    const out = this.out;
    if (out.length === 0 || this.socket.destroyed) {
      this.out = [];
      this.outBytes = 0;
      return;
    }
    this.out = [];
    this.outBytes = 0;
    const socket = this.socket;
    if (out.length === 1) {
      socket.write(out[0]!);
    } else {
      socket.cork();
      for (const b of out) socket.write(b);
      socket.uncork();
    }
    const queued = socket.writableLength;
    if (queued === 0) {
      // The kernel took every byte during the calls above, so nothing refers to the chunk any
      // more: the next frames reuse it from its start (a fan-out would otherwise allocate a
      // fresh 64 KiB buffer every other turn per connection, which costs allocation, page
      // faults and garbage collections).
      this.start = 0;
      this.used = 0;
    }
    if (!this.readingPaused && queued > this.options.maxQueuedBytes) {
      this.readingPaused = true;
      socket.pause();
    }
  }

  // Ending --------------------------------------------------------------------------------

  /** A connection error (or close): GOAWAY, abort every stream, end the socket. */
  private fail(code: number, message: string): void {
    if (this.dead) return;
    if (code !== H2Error.NO_ERROR) this.log.debug({ code, message }, 'http2 connection error');
    this.goingAway = true;
    const g = Buffer.allocUnsafe(8);
    g.writeUInt32BE(this.lastStreamId, 0);
    g.writeUInt32BE(code, 4);
    this.frame(GOAWAY, 0, 0, g, 0, 8);
    this.flush();
    this.dead = true;
    this.rest = null;
    this.abortStreams();
    const socket = this.socket;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /** After a client's GOAWAY, once its last stream is done. */
  private finishGracefully(): void {
    this.flush();
    this.dead = true;
    this.socket.end();
  }

  private abortStreams(): void {
    const streams = [...this.streams.values()];
    for (const s of streams) {
      const handler = s.handler;
      this.remove(s);
      handler.onReset(H2Error.CANCEL);
    }
  }

  private teardown(): void {
    this.dead = true;
    this.rest = null;
    this.out = [];
    this.abortStreams();
  }
}

/** A request needs `:method` and `:path` (no CONNECT here); nothing else is checked. */
function isRequest(headers: readonly string[]): boolean {
  let method = false;
  let path = false;
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i]!;
    if (n === ':method') method = true;
    else if (n === ':path') path = headers[i + 1] !== '';
  }
  return method && path;
}

/** Encodes a response or trailer header block (re-exported for the servers on top). */
export { encodeHeaders };
