/**
 * The server side of one client connection, shared by the ws and tcp transports: reads frames,
 * runs calls on the services, writes answers, and enforces the per-connection limits. The
 * transport adapts its socket to a `FrameLink` and feeds frames in; everything about the
 * protocol lives here.
 *
 * Guarantees:
 * - A call is answered exactly once (RESPONSE or ERROR), unless the client canceled it or the
 *   connection closed; then the services see the call's signal aborted and nothing is sent.
 * - A bad frame is answered with an ERROR carrying the exact message of src/core/errors.ts
 *   (to its id when readable, else to id 0), and the connection keeps being served.
 * - Nothing a client sends makes this throw: the process never crashes because of a peer.
 * - Streams (STREAM_OPEN of a stream method whose service is present): each client
 *   STREAM_MESSAGE is decoded and handed to the service's handlers in order, STREAM_CLOSE is
 *   `end()`, CANCEL or the connection's loss is `cancel()`. The service answers through a
 *   StreamSink: `send()` returns false once the connection's outbound queue is above
 *   `maxQueuedBytes`, and `onDrain` fires when it is below again. An undecodable message ends
 *   the stream with an ERROR frame.
 */
import { KvError, type ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';
import type { CallContext, Services, StreamHandlers, StreamSink } from '../../core/ports/services.js';
import { codecOf, DecodeError, type ErrorReply } from '../../codec/messages.js';
import { encodeFrame, encodeRawFrame, FrameKind, HEADER_BYTES, METHOD_HEADER_BYTES } from './frame.js';
import type { FrameSink } from './frame-decoder.js';
import { methodById, type StreamMethod, type UnaryMethod } from './methods.js';
import type { Limits } from './options.js';

/** The transport side of one connection, as a session drives it. */
export interface FrameLink {
  /** Sends one frame as built by `encodeFrame` (starting with its 4-byte length slot). */
  send(frame: Buffer): void;
  /** Bytes accepted by `send` and not yet handed to the kernel. */
  queuedBytes(): number;
  /**
   * Stops reading from the peer (backpressure), and calls the session's `onDrain()` once
   * everything queued so far has been handed to the kernel.
   */
  pauseReading(): void;
  /** Resumes reading from the peer. */
  resumeReading(): void;
}

/** Counters a listener reports about its connections (`stats()`). */
export interface TransportStats {
  /** Open connections. */
  readonly connections: number;
  /** Connections whose reading is paused because their client does not take its answers. */
  readonly pausedConnections: number;
  /** Calls being served, over all connections. */
  readonly callsInFlight: number;
  /** Answer bytes queued and not yet handed to the kernel, over all connections. */
  readonly queuedBytes: number;
}

const errorReplyCodec = codecOf('etcetera.ErrorReply');

/**
 * One call in flight; also its `CallContext`. The AbortSignal is created only when the services
 * first ask for it: NB Node 20 takes ~1.5 µs to construct one, a noticeable share of a put's
 * budget, so a service that reads `ctx.signal` only when it is about to wait pays only then.
 */
class ServerCall implements CallContext {
  private controller: AbortController | null = null;
  private reason: KvError | null = null;

  constructor(
    readonly id: number,
    readonly method: UnaryMethod,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.reason !== null) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: KvError): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/**
 * One open stream: its CallContext (signal created lazily, as for calls) and the sink the
 * service answers through. Its handlers are set right after the service opened it.
 */
class ServerStream implements CallContext, StreamSink<unknown> {
  handlers: StreamHandlers<unknown> | null = null;
  /** Set once the stream ended, from either side: nothing is sent or delivered after. */
  ended = false;
  private controller: AbortController | null = null;
  private reason: KvError | null = null;

  constructor(
    readonly session: ServerSession,
    readonly id: number,
    readonly method: StreamMethod,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.reason !== null) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: KvError): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  send(res: unknown): boolean {
    return this.session.streamSend(this, res);
  }

  onDrain(cb: () => void): void {
    this.session.streamOnDrain(this, cb);
  }

  close(err?: KvError): void {
    this.session.streamClose(this, err);
  }
}

/** Protocol state of one connection. See the module comment. */
export class ServerSession implements FrameSink {
  private readonly calls = new Map<number, ServerCall>();
  /** Open streams by id. Ids are unique across calls and streams. */
  private readonly streams = new Map<number, ServerStream>();
  /** Callbacks of streams waiting for the outbound queue to fall below its cap. */
  private drainWaiters: (() => void)[] = [];
  private paused = false;
  private closed = false;
  /**
   * Frames that arrived while paused: pausing stops the socket, but frames already read (the
   * rest of a chunk, the ws receiver's buffer) still come in. They wait here, so that no new
   * call starts while the client is not taking its answers. Bounded by one read's worth.
   */
  private backlog: Buffer[] = [];

  constructor(
    private readonly services: Services,
    private readonly link: FrameLink,
    private readonly limits: Limits,
    private readonly log: Logger,
    /** For log lines: who is on the other end. */
    private readonly peer: string,
  ) {}

  /** Calls and streams in flight on this connection. */
  get callsInFlight(): number {
    return this.calls.size + this.streams.size;
  }

  /** Whether reading is paused because the client does not take its answers. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** One frame from the client, without length prefix. */
  onFrame(frame: Buffer): void {
    if (this.closed) return;
    if (this.paused) this.backlog.push(frame);
    else this.handle(frame);
  }

  private handle(frame: Buffer): void {
    if (frame.length < HEADER_BYTES) {
      this.refuse(0, 'MalformedRequest', `frame of ${frame.length} bytes is shorter than its header`);
      return;
    }
    if (frame.length > this.limits.maxFrameBytes) {
      this.refuseOversized(frame[0]!, frame.readUInt32BE(1));
      return;
    }
    const kind = frame[0]!;
    const id = frame.readUInt32BE(1);
    switch (kind) {
      case FrameKind.REQUEST:
        this.onRequest(frame, id);
        return;
      case FrameKind.STREAM_OPEN:
        this.onStreamOpen(frame, id);
        return;
      case FrameKind.CANCEL: {
        const call = this.calls.get(id);
        // An unknown id is a call that already finished: the cancel crossed the answer.
        if (call !== undefined) {
          this.calls.delete(id);
          call.abort(new KvError('Canceled'));
          return;
        }
        const stream = this.streams.get(id);
        if (stream !== undefined) this.endStream(stream, new KvError('Canceled'));
        return;
      }
      case FrameKind.STREAM_MESSAGE:
        this.onStreamMessage(frame, id);
        return;
      case FrameKind.STREAM_CLOSE: {
        // Frames for an unknown id trail a stream that ended or was refused: dropped.
        const stream = this.streams.get(id);
        if (stream !== undefined) this.deliver(stream, (h) => h.end());
        return;
      }
      case FrameKind.RESPONSE:
      case FrameKind.ERROR:
        this.refuse(id, 'MalformedRequest', `frame kind ${kind} is sent by servers only`);
        return;
      default:
        this.refuse(id, 'MalformedRequest', `unknown frame kind ${kind}`);
    }
  }

  /**
   * A frame larger than `maxFrameBytes` arrived (or was announced, on tcp): answer its call
   * with `RequestTooLarge` if the frame opened one; other kinds get id 0.
   */
  refuseOversized(kind: number, id: number): void {
    if (this.closed) return;
    const stream = kind === FrameKind.STREAM_MESSAGE ? this.streams.get(id) : undefined;
    if (stream !== undefined) {
      // The stream cannot go on without the message it lost: end it with the error.
      this.failStream(stream, new KvError('RequestTooLarge'));
      return;
    }
    const callable = kind === FrameKind.REQUEST || kind === FrameKind.STREAM_OPEN || kind === FrameKind.STREAM_MESSAGE;
    if (callable && id !== 0 && !this.calls.has(id)) this.refuse(id, 'RequestTooLarge');
    else this.refuse(0, 'FrameTooLarge', `frame kind ${kind} larger than ${this.limits.maxFrameBytes} bytes`);
  }

  /** Something arrived that is not a frame at all (e.g. a ws text message): answer to id 0. */
  onNotAFrame(detail: string): void {
    if (!this.closed) this.refuse(0, 'MalformedRequest', detail);
  }

  /** FrameSink: the tcp decoder met an oversized frame (the transport closes afterwards). */
  onOversized(_length: number, kind: number, id: number): void {
    this.refuseOversized(kind, id);
  }

  /**
   * The link flushed what was queued when it paused: resume if the queue is under the cap
   * (serving the backlog first), else wait for the next flush.
   */
  onDrain(): void {
    if (!this.paused || this.closed) return;
    if (this.link.queuedBytes() > this.limits.maxQueuedBytes) {
      this.link.pauseReading();
      return;
    }
    this.paused = false;
    if (this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const cb of waiters) cb();
      // The streams may have filled the queue again: wait for the next flush.
      if (this.paused || this.closed) return;
    }
    const backlog = this.backlog;
    let i = 0;
    while (i < backlog.length && !this.paused && !this.closed) this.handle(backlog[i++]!);
    this.backlog = i === backlog.length ? [] : backlog.slice(i);
    if (!this.paused && !this.closed) this.link.resumeReading();
  }

  /** The connection is gone: abort every call and stream in flight; their answers are dropped. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog = [];
    this.drainWaiters = [];
    if (this.calls.size === 0 && this.streams.size === 0) return;
    const reason = new KvError('TransportClosed');
    for (const call of this.calls.values()) call.abort(reason);
    this.calls.clear();
    const streams = [...this.streams.values()];
    for (const stream of streams) this.endStream(stream, reason);
  }

  private onRequest(frame: Buffer, id: number): void {
    if (frame.length < METHOD_HEADER_BYTES) {
      this.refuse(id, 'MalformedRequest', `request frame of ${frame.length} bytes has no method id`);
      return;
    }
    const methodId = frame.readUInt16BE(HEADER_BYTES);
    const method = methodById(methodId);
    if (method === undefined) {
      this.refuse(id, 'UnknownMethod', `method id ${methodId}`);
      return;
    }
    if (method.kind !== 'unary') {
      this.refuse(id, 'MalformedRequest', `${method.name} is a stream: open it with STREAM_OPEN`);
      return;
    }
    if (id === 0) {
      this.refuse(0, 'MalformedRequest', 'call id 0 is reserved');
      return;
    }
    if (this.calls.has(id)) {
      this.refuse(id, 'MalformedRequest', `call id ${id} is already in flight`);
      return;
    }
    if (this.calls.size >= this.limits.maxCallsPerConnection) {
      this.refuse(id, 'TooManyRequests');
      return;
    }
    let req: unknown;
    try {
      req = method.request.decode(frame.subarray(METHOD_HEADER_BYTES));
    } catch (err) {
      this.refuse(id, 'MalformedRequest', err instanceof DecodeError ? err.message : 'undecodable payload');
      return;
    }
    const call = new ServerCall(id, method);
    this.calls.set(id, call);
    void this.run(call, req);
  }

  private onStreamOpen(frame: Buffer, id: number): void {
    if (frame.length < METHOD_HEADER_BYTES) {
      this.refuse(id, 'MalformedRequest', `stream open frame of ${frame.length} bytes has no method id`);
      return;
    }
    const methodId = frame.readUInt16BE(HEADER_BYTES);
    const method = methodById(methodId);
    if (method === undefined) {
      this.refuse(id, 'UnknownMethod', `method id ${methodId}`);
      return;
    }
    if (method.kind !== 'stream') {
      this.refuse(id, 'MalformedRequest', `${method.name} is unary: send a REQUEST`);
      return;
    }
    const opener = method.opener?.(this.services);
    if (opener === undefined) {
      this.refuse(id, 'UnknownMethod', `${method.name} is not implemented yet`);
      return;
    }
    if (id === 0) {
      this.refuse(0, 'MalformedRequest', 'call id 0 is reserved');
      return;
    }
    if (this.calls.has(id) || this.streams.has(id)) {
      this.refuse(id, 'MalformedRequest', `call id ${id} is already in flight`);
      return;
    }
    if (this.calls.size + this.streams.size >= this.limits.maxCallsPerConnection) {
      this.refuse(id, 'TooManyRequests');
      return;
    }
    const stream = new ServerStream(this, id, method);
    this.streams.set(id, stream);
    try {
      stream.handlers = opener(stream, stream) as StreamHandlers<unknown>;
    } catch (err) {
      this.streams.delete(id);
      stream.ended = true;
      this.send(this.errorFrame(id, err, method.name));
    }
  }

  private onStreamMessage(frame: Buffer, id: number): void {
    const stream = this.streams.get(id);
    // Unknown id: a message trailing a stream that ended or was refused; dropped.
    if (stream === undefined) return;
    let req: unknown;
    try {
      req = stream.method.request.decode(frame.subarray(HEADER_BYTES));
    } catch (err) {
      const detail = err instanceof DecodeError ? err.message : 'undecodable payload';
      this.failStream(stream, new KvError('MalformedRequest', detail));
      return;
    }
    this.deliver(stream, (h) => h.message(req));
  }

  /** Runs a handler of `stream`; a throw is a service bug: the stream ends with Internal. */
  private deliver(stream: ServerStream, fn: (h: StreamHandlers<unknown>) => void): void {
    const h = stream.handlers;
    if (h === null || stream.ended) return;
    try {
      fn(h);
    } catch (err) {
      this.log.error({ err, method: stream.method.name, peer: this.peer }, 'stream handler failed');
      this.failStream(stream, new KvError('Internal'));
    }
  }

  /** Ends `stream` from the client side (cancel, connection loss): the service releases it. */
  private endStream(stream: ServerStream, reason: KvError): void {
    if (stream.ended) return;
    stream.ended = true;
    this.streams.delete(stream.id);
    stream.abort(reason);
    try {
      stream.handlers?.cancel();
    } catch (err) {
      this.log.error({ err, method: stream.method.name, peer: this.peer }, 'stream cancel handler failed');
    }
  }

  /** Ends `stream` with an error the client receives, and releases it in the service. */
  private failStream(stream: ServerStream, err: KvError): void {
    if (stream.ended) return;
    this.send(this.errorFrame(stream.id, err, stream.method.name));
    this.endStream(stream, err);
  }

  /** @internal StreamSink.send of `stream`. */
  streamSend(stream: ServerStream, res: unknown): boolean {
    if (stream.ended || this.closed) return true;
    let frame: Buffer;
    try {
      const fast = stream.method.frameEncoder;
      frame =
        fast === undefined
          ? encodeFrame(FrameKind.STREAM_MESSAGE, stream.id, 0, stream.method.response, res)
          : fast(FrameKind.STREAM_MESSAGE, stream.id, res);
    } catch (err) {
      this.log.error({ err, method: stream.method.name, peer: this.peer }, 'cannot encode a stream message');
      this.failStream(stream, new KvError('Internal'));
      return true;
    }
    this.send(frame);
    return this.link.queuedBytes() <= this.limits.maxQueuedBytes;
  }

  /** @internal StreamSink.onDrain of `stream`. */
  streamOnDrain(stream: ServerStream, cb: () => void): void {
    if (stream.ended || this.closed) return;
    if (this.link.queuedBytes() <= this.limits.maxQueuedBytes) {
      cb();
      return;
    }
    // Over the cap means paused: the link calls onDrain() once it flushed.
    this.drainWaiters.push(() => {
      if (!stream.ended) cb();
    });
  }

  /** @internal StreamSink.close of `stream`: ends it cleanly (STREAM_CLOSE) or with `err`. */
  streamClose(stream: ServerStream, err?: KvError): void {
    if (stream.ended || this.closed) return;
    stream.ended = true;
    this.streams.delete(stream.id);
    this.send(err === undefined ? encodeRawFrame(FrameKind.STREAM_CLOSE, stream.id, 0, null) : this.errorFrame(stream.id, err, stream.method.name));
  }

  /** Runs one call to its end. Never rejects. */
  private async run(call: ServerCall, req: unknown): Promise<void> {
    const method = call.method;
    let ok = true;
    let result: unknown;
    try {
      result = await method.invoke(this.services, req, call);
    } catch (err) {
      ok = false;
      result = err;
    }
    // Canceled, or the connection closed: nobody is waiting for this answer.
    if (this.calls.get(call.id) !== call) return;
    this.calls.delete(call.id);
    let frame: Buffer | undefined;
    if (ok) {
      try {
        frame = encodeFrame(FrameKind.RESPONSE, call.id, 0, method.response, result);
      } catch (err) {
        ok = false;
        result = err;
      }
    }
    if (!ok) frame = this.errorFrame(call.id, result, method.name);
    this.send(frame!);
  }

  private errorFrame(id: number, err: unknown, method: string): Buffer {
    let reply: ErrorReply;
    if (err instanceof KvError) {
      reply = { status: err.status, message: err.message };
    } else {
      this.log.error({ err, method, peer: this.peer }, 'call failed with an unexpected error');
      const e = new KvError('Internal');
      reply = { status: e.status, message: e.message };
    }
    return encodeFrame(FrameKind.ERROR, id, 0, errorReplyCodec, reply);
  }

  private refuse(id: number, code: ErrorCode, detail?: string): void {
    const e = new KvError(code, detail);
    this.log.debug({ peer: this.peer, id, error: e.message }, 'refused a frame');
    this.send(encodeFrame(FrameKind.ERROR, id, 0, errorReplyCodec, { status: e.status, message: e.message }));
  }

  private send(frame: Buffer): void {
    if (this.closed) return;
    this.link.send(frame);
    if (!this.paused && this.link.queuedBytes() > this.limits.maxQueuedBytes) {
      this.paused = true;
      this.log.debug({ peer: this.peer, queued: this.link.queuedBytes() }, 'client reads slowly: paused reading');
      this.link.pauseReading();
    }
  }
}
