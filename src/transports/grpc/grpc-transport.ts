/**
 * The `grpc` client listener: etcd's v3 gRPC API (etcdserverpb, mvccpb) so that `etcdctl` and
 * existing etcd clients work unchanged, plus etcd's HTTP/1.1 endpoints (JSON gateway, /health,
 * /version, /metrics) on the same port, as etcd serves them on its client URL.
 *
 * One port, two protocols. Every accepted socket is sniffed: if its first bytes are the HTTP/2
 * connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, sent first by every h2c
 * prior-knowledge client, which is how etcdctl and grpc-go dial an insecure endpoint) it goes to
 * a node:http2 server, otherwise to a node:http server (curl, fetch). The bytes read while
 * sniffing are put back (`unshift`) before the socket is handed over.
 *
 * gRPC is implemented here on node:http2's core API rather than with @grpc/grpc-js, which
 * cannot share a port with HTTP/1 and costs more CPU per call. The framing is small (see
 * grpc-frame.ts): a unary call is request HEADERS + one length-prefixed message; the answer is
 * HEADERS (`content-type: application/grpc`), one DATA frame with the encoded response, and
 * trailers with `grpc-status: 0`. A failed call is answered "trailers-only": one HEADERS frame
 * carrying `grpc-status` and the percent-encoded `grpc-message`, whose text is etcd's exact
 * error string (clients match on it).
 *
 * Limits (each enters where the data does):
 * - a message longer than `maxFrameBytes` (max-request-bytes + 512 KiB, as etcd configures
 *   grpc-go) is refused from its 5-byte prefix, before it is buffered, with grpc-go's text
 *   `grpc: received message larger than max (<n> vs. <max>)` (ResourceExhausted);
 * - concurrent streams per connection are capped by the HTTP/2 setting
 *   `maxConcurrentStreams` = `maxCallsPerConnection` (clients queue beyond it). A unary stream
 *   stays open until its answer has been sent, so this also bounds the answers one client that
 *   does not read can make the server hold;
 * - a stream's outbound queue above `maxQueuedBytes` makes `StreamSink.send` return false.
 *
 * Malformed input never stops the server: bad protobuf, bad prefixes and unknown methods get a
 * status on their stream, and a connection that breaks HTTP/2 itself is closed by node:http2.
 *
 * Metrics: every call of a known method counts in `grpc_server_started_total` when it starts
 * and in `grpc_server_handled_total{grpc_code}` once its status is decided (a client that goes
 * away first counts as `Canceled`), through counters bound once per method; `GET /metrics`
 * (HTTP/1.1 or HTTP/2) serves the metrics in Prometheus' text format.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { KvError, Status } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';
import { noMetrics, type GrpcMethodMetrics, type Metrics } from '../../core/ports/metrics.js';
import type { CallContext, Services, StreamHandlers, StreamSink } from '../../core/ports/services.js';
import { limitsOf, parseAddress, type Limits, type ListenerOptions } from '../codec/options.js';
import type { TransportStats } from '../codec/server-session.js';
import { HttpGateway } from '../http/gateway.js';
import { encodeMessage, MessageReader, parseTimeoutMs, percentEncode, type MessageSink } from './grpc-frame.js';
import {
  GrpcStatusError,
  RPCS_BY_PATH,
  SERVICE_NAMES,
  type SelfMember,
  type RpcEnv,
  type StreamRpc,
  type UnaryRpc,
} from './rpcs.js';

export type { TransportStats } from '../codec/server-session.js';

/** What the composition root passes to the grpc listener. */
export interface GrpcListenerOptions extends ListenerOptions {
  /** The member's name, reported by MemberList (etcdctl prints `unstarted` when it is empty). */
  memberName?: string;
  /** The member's peer URLs, reported by MemberList. Default: none. */
  peerUrls?: readonly string[];
  /** The client URLs MemberList advertises. Default: `http://<bound host>:<bound port>`. */
  clientUrls?: readonly string[];
  /** Where calls are counted, and what `GET /metrics` serves. Default: nothing (empty text). */
  metrics?: Metrics;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const OK_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
// No Date header: gRPC does not use it, and node:http2 would format one per response.
const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true, sendDate: false });
const END_STREAM = Object.freeze({ endStream: true, sendDate: false });

/** The status and message a failed call is answered with. */
function statusOf(err: unknown, log: Logger, path: string): { status: number; message: string } {
  if (err instanceof KvError || err instanceof GrpcStatusError) return { status: err.status, message: err.message };
  log.error({ err, method: path }, 'call failed with an unexpected error');
  const e = new KvError('Internal');
  return { status: e.status, message: e.message };
}

/** Answers a stream whose headers are not sent yet with a trailers-only status. */
function trailersOnly(stream: http2.ServerHttp2Stream, status: number, message: string): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status), 'grpc-message': percentEncode(message) },
    END_STREAM,
  );
  resetIfClientOpen(stream);
}

/**
 * After the server's status went out on a stream the client is still sending on, resets it
 * with NO_ERROR ("stop sending"), as grpc-go does: the client already has its answer, and the
 * stream would otherwise hold one of the connection's concurrent-stream slots until the client
 * half-closes. NB: deferred to the next turn, because a reset submitted in the same turn as the
 * trailers can overtake them inside nghttp2 (observed: the client then sees no status).
 */
function resetIfClientOpen(stream: http2.ServerHttp2Stream): void {
  if (!stream.readableEnded) setImmediate(resetStream, stream);
}

function resetStream(stream: http2.ServerHttp2Stream): void {
  if (!stream.closed && !stream.destroyed && !stream.readableEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

function ignoreError(): void {}

/**
 * One unary call: waits for its request message, runs it, answers once. It is also the call's
 * `CallContext`; the AbortSignal is built only if the service asks for it (NB: constructing one
 * costs ~1.5 µs on Node 20, a noticeable share of a put), and aborted if the client resets the
 * stream, the connection drops or the grpc-timeout passes first.
 */
class UnaryCall implements MessageSink, CallContext {
  /** 0 = waiting for the request, 1 = running, 2 = answered or abandoned. */
  private state = 0;
  private controller: AbortController | null = null;
  private reason: KvError | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly reader: MessageReader;

  constructor(
    private readonly owner: GrpcTransport,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly rpc: UnaryRpc,
    timeoutMs: number | undefined,
    encoding: string | undefined,
    private readonly metrics: GrpcMethodMetrics,
  ) {
    this.reader = new MessageReader(this, owner.limits.maxFrameBytes, encoding);
    owner.callsInFlight++;
    metrics.started.inc();
    stream.on('data', (chunk: Buffer) => this.reader.push(chunk));
    stream.on('end', () => this.onEnd());
    stream.on('close', () => this.onClose());
    stream.on('error', ignoreError);
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.onDeadline(), timeoutMs);
      this.timer.unref();
    }
  }

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.reason !== null) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  onMessage(bytes: Buffer): void {
    // A unary call takes one message; grpc-go ignores anything after it, so does this.
    if (this.state !== 0) return;
    this.state = 1;
    let req: unknown;
    try {
      req = this.rpc.request.decode(bytes);
    } catch (err) {
      this.fail(Status.INTERNAL, `grpc: error unmarshalling request: ${(err as Error).message}`);
      return;
    }
    let p: Promise<unknown>;
    try {
      p = this.rpc.invoke(this.owner.env, req, this);
    } catch (err) {
      this.finishWithError(err);
      return;
    }
    p.then(
      (res) => this.finish(res),
      (err: unknown) => this.finishWithError(err),
    );
  }

  onBadMessage(status: number, message: string): void {
    if (this.state !== 0) return;
    this.fail(status, message);
    // Drop whatever else the client sends on this stream.
    this.stream.resume();
  }

  private onEnd(): void {
    if (this.state !== 0) return;
    // grpc-go's answers (Unknown, with Go's io error texts) for a request that ends inside its
    // message or before one.
    this.fail(Status.UNKNOWN, this.reader.hasPartial ? 'unexpected EOF' : 'EOF');
  }

  private onClose(): void {
    if (this.state === 2) return;
    this.settle(Status.CANCELLED);
    this.abort(new KvError('Canceled'));
  }

  private onDeadline(): void {
    this.timer = null;
    if (this.state === 2) return;
    const e = new KvError('DeadlineExceeded');
    this.fail(Status.DEADLINE_EXCEEDED, 'context deadline exceeded');
    this.abort(e);
  }

  private abort(reason: KvError): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  /** The call's outcome is decided: `code` is the status it is answered (or abandoned) with. */
  private settle(code: number): void {
    this.state = 2;
    this.owner.callsInFlight--;
    this.metrics.handled(code).inc();
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private finish(res: unknown): void {
    if (this.state === 2) return;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) {
      this.settle(Status.CANCELLED);
      return;
    }
    let buf: Buffer;
    try {
      buf = encodeMessage(this.rpc.response, res);
    } catch (err) {
      this.owner.log.error({ err, method: this.rpc.path }, 'cannot encode a response');
      this.settle(Status.INTERNAL);
      trailersOnly(stream, Status.INTERNAL, new KvError('Internal').message);
      return;
    }
    this.settle(Status.OK);
    stream.respond(OK_HEADERS, WAIT_FOR_TRAILERS);
    stream.on('wantTrailers', sendOkTrailers);
    stream.end(buf);
  }

  private finishWithError(err: unknown): void {
    if (this.state === 2) return;
    const { status, message } = statusOf(err, this.owner.log, this.rpc.path);
    this.fail(status, message);
  }

  private fail(status: number, message: string): void {
    if (this.state !== 2) this.settle(status);
    trailersOnly(this.stream, status, message);
  }
}

/**
 * One streaming call: the `StreamSink` a service writes to and the `CallContext` it sees.
 * Response headers go out when the stream opens; each message is encoded once and written;
 * `close` ends the stream with trailers carrying OK or the error's status.
 */
class StreamCall implements StreamSink<unknown>, MessageSink, CallContext {
  private handlers: StreamHandlers<unknown> | null = null;
  private readonly controller = new AbortController();
  private readonly reader: MessageReader;
  /** Set once the server ended the stream (close) or the client went away. */
  private done = false;
  private trailers: Record<string, string> = OK_TRAILERS;

  constructor(
    private readonly owner: GrpcTransport,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly rpc: StreamRpc,
    encoding: string | undefined,
    private readonly metrics: GrpcMethodMetrics,
  ) {
    this.reader = new MessageReader(this, owner.limits.maxFrameBytes, encoding);
    owner.callsInFlight++;
    metrics.started.inc();
    stream.on('error', ignoreError);
    stream.on('close', () => this.onClose());
    stream.respond(OK_HEADERS, WAIT_FOR_TRAILERS);
    stream.on('wantTrailers', () => {
      stream.sendTrailers(this.trailers);
      resetIfClientOpen(stream);
    });
    try {
      this.handlers = rpc.open(owner.env, this, this);
    } catch (err) {
      this.close(err);
      return;
    }
    if (this.done) return;
    stream.on('data', (chunk: Buffer) => this.reader.push(chunk));
    stream.on('end', () => {
      if (!this.done) this.guard(() => this.handlers?.end());
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  // StreamSink ----------------------------------------------------------------------------

  send(res: unknown): boolean {
    if (this.done) return true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return true;
    stream.write(encodeMessage(this.rpc.response, res));
    return stream.writableLength <= this.owner.limits.maxQueuedBytes;
  }

  onDrain(cb: () => void): void {
    const stream = this.stream;
    if (this.done || stream.destroyed || stream.writableLength <= this.owner.limits.maxQueuedBytes) {
      cb();
      return;
    }
    const check = (): void => {
      if (this.done || stream.destroyed || stream.writableLength <= this.owner.limits.maxQueuedBytes) cb();
      else stream.once('drain', check);
    };
    stream.once('drain', check);
  }

  close(err?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.owner.callsInFlight--;
    if (err !== undefined) {
      const { status, message } = statusOf(err, this.owner.log, this.rpc.path);
      this.trailers = { 'grpc-status': String(status), 'grpc-message': percentEncode(message) };
      this.metrics.handled(status).inc();
    } else {
      this.metrics.handled(Status.OK).inc();
    }
    const stream = this.stream;
    if (!stream.destroyed && !stream.closed) stream.end();
  }

  // MessageSink ---------------------------------------------------------------------------

  onMessage(bytes: Buffer): void {
    if (this.done || this.handlers === null) return;
    let req: unknown;
    try {
      req = this.rpc.request.decode(bytes);
    } catch (err) {
      this.fatal(Status.INTERNAL, `grpc: error unmarshalling request: ${(err as Error).message}`);
      return;
    }
    try {
      this.handlers.message(req);
    } catch (err) {
      // A handler that throws has broken its own contract; end this stream, keep the server.
      this.owner.log.error({ err, method: this.rpc.path }, 'stream handler threw');
      this.fatal(Status.INTERNAL, new KvError('Internal').message);
    }
  }

  onBadMessage(status: number, message: string): void {
    this.fatal(status, message);
    this.stream.resume();
  }

  /** Ends the stream with an error the client caused, and releases the service's side. */
  private fatal(status: number, message: string): void {
    if (this.done) return;
    this.close(new GrpcStatusError(status, message));
    this.controller.abort(new KvError('Canceled'));
    this.guard(() => this.handlers?.cancel());
  }

  private onClose(): void {
    if (this.done) return;
    this.done = true;
    this.owner.callsInFlight--;
    this.metrics.handled(Status.CANCELLED).inc();
    this.controller.abort(new KvError('Canceled'));
    this.guard(() => this.handlers?.cancel());
  }

  /** Runs a service callback from an event handler, where a throw would crash the process. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.owner.log.error({ err, method: this.rpc.path }, 'stream handler threw');
      if (!this.done) this.close(new KvError('Internal'));
    }
  }
}

/** Serves etcd's gRPC API and HTTP endpoints on one port. See the module comment. */
export class GrpcTransport {
  /** @internal Validated limits, read by the calls. */
  readonly limits: Limits;
  /** @internal What RPC handlers see. */
  readonly env: RpcEnv;
  /** @internal Unary calls and streams being served. */
  callsInFlight = 0;
  private server: net.Server | null = null;
  private readonly h2: http2.Http2Server;
  private readonly h1: http.Server;
  private readonly gateway: HttpGateway;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly member: SelfMember;
  private readonly metrics: Metrics;
  /** Each method's counters, bound on first use. */
  private readonly methodMetrics = new Map<string, GrpcMethodMetrics>();

  constructor(
    services: Services,
    private readonly options: GrpcListenerOptions,
    /** @internal */
    readonly log: Logger,
  ) {
    this.limits = limitsOf(options);
    this.member = { name: options.memberName ?? '', peerUrls: options.peerUrls ?? [], clientUrls: options.clientUrls ?? [] };
    this.env = { services, member: this.member };
    this.metrics = options.metrics ?? noMetrics;
    const mib = 1024 * 1024;
    this.h2 = http2.createServer({
      settings: {
        maxConcurrentStreams: this.limits.maxCallsPerConnection,
        // Room for one largest message per stream window; node grants more as it is read.
        initialWindowSize: Math.min(this.limits.maxFrameBytes + 5, 0x7fffffff),
      },
      // node:http2 tears a session down (ENHANCE_YOUR_CALM) past this many MiB of buffered
      // frames; allow the queue cap plus a few largest messages in flight.
      maxSessionMemory: Math.max(32, Math.ceil((this.limits.maxQueuedBytes + 8 * this.limits.maxFrameBytes) / mib)),
    });
    this.h2.on('session', (session) => this.onSession(session));
    this.h2.on('stream', (stream, headers) => this.onStream(stream, headers));
    this.gateway = new HttpGateway(this.env, this.limits, log, this.metrics);
    this.h1 = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => this.gateway.handleHttp1(req, res));
    this.h1.on('clientError', (err, socket) => {
      this.log.debug({ err: (err as Error).message }, 'bad HTTP/1 request');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Starts listening; resolves with the bound address (the real port when asked for 0). */
  listen(): Promise<{ host: string; port: number }> {
    if (this.server !== null) return Promise.reject(new Error('GrpcTransport: listen() called twice'));
    const { host, port } = parseAddress(this.options.address);
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: host === '' ? undefined : host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'grpc listener error'));
        const a = server.address() as net.AddressInfo;
        if (this.options.clientUrls === undefined) {
          const h = a.address.includes(':') ? `[${a.address}]` : a.address;
          this.member.clientUrls = [`http://${h}:${a.port}`];
        }
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting, closes every connection (aborting calls in flight), and waits for both. */
  close(): Promise<void> {
    const server = this.server;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of this.sessions) s.destroy();
      for (const s of this.sockets) s.destroy();
      this.sessions.clear();
      this.sockets.clear();
    });
  }

  /** A snapshot of the listener's connections, for metrics and tests. */
  stats(): TransportStats {
    let queuedBytes = 0;
    for (const s of this.sockets) queuedBytes += s.writableLength;
    return { connections: this.sockets.size, pausedConnections: 0, callsInFlight: this.callsInFlight, queuedBytes };
  }

  private accept(socket: net.Socket): void {
    if (!this.server?.listening) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'client connection error'));
    let head: Buffer | null = null;
    const onData = (chunk: Buffer): void => {
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      const isH2 = head.compare(PREFACE, 0, n, 0, n) === 0;
      if (isH2 && head.length < PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      if (isH2) {
        this.h2.emit('connection', socket);
      } else {
        this.h1.emit('connection', socket);
        // node:http reads through its own parser once it has the socket; the bytes put back
        // above are still in the stream's buffer and need the stream flowing to reach it.
        socket.resume();
      }
    };
    socket.on('data', onData);
  }

  private onSession(session: http2.ServerHttp2Session): void {
    this.sessions.add(session);
    session.on('close', () => this.sessions.delete(session));
    session.on('error', (err) => this.log.debug({ err: err.message }, 'http2 session error'));
    // A larger connection window than HTTP/2's 64 KiB default, so many streams can upload at
    // once; it only bounds what a client may send before node reads it.
    const setWindow = (): void => {
      try {
        session.setLocalWindowSize(Math.min(this.limits.maxQueuedBytes, 0x7fffffff));
      } catch {
        // The session may already be closing; nothing to widen then.
      }
    };
    if (session.connecting) session.once('connect', setWindow);
    else setWindow();
  }

  /** The counters of `rpc`, bound to its labels once. */
  private metricsOf(rpc: UnaryRpc | StreamRpc): GrpcMethodMetrics {
    let m = this.methodMetrics.get(rpc.path);
    if (m === undefined) {
      const cut = rpc.path.lastIndexOf('/');
      const type = rpc.kind === 'unary' ? 'unary' : rpc.streamType;
      m = this.metrics.grpcMethod(type, rpc.path.slice(1, cut), rpc.path.slice(cut + 1));
      this.methodMetrics.set(rpc.path, m);
    }
    return m;
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      // Not gRPC: the JSON gateway and /health also answer over HTTP/2, as etcd's do.
      this.gateway.handleHttp2(stream, headers);
      return;
    }
    const path = headers[':path'] ?? '';
    const rpc = RPCS_BY_PATH.get(path);
    if (rpc === undefined) {
      stream.on('error', ignoreError);
      const cut = path.lastIndexOf('/');
      const service = path.slice(1, cut);
      const message = SERVICE_NAMES.has(service)
        ? `unknown method ${path.slice(cut + 1)} for service ${service}`
        : `unknown service ${service}`;
      trailersOnly(stream, Status.UNIMPLEMENTED, message);
      stream.resume();
      return;
    }
    const encoding = headers['grpc-encoding'];
    const enc = typeof encoding === 'string' ? encoding : undefined;
    const metrics = this.metricsOf(rpc);
    if (rpc.kind === 'unary') {
      new UnaryCall(this, stream, rpc, parseTimeoutMs(headers['grpc-timeout']), enc, metrics);
      return;
    }
    if (!rpc.available(this.env)) {
      metrics.started.inc();
      metrics.handled(Status.UNIMPLEMENTED).inc();
      stream.on('error', ignoreError);
      trailersOnly(stream, Status.UNIMPLEMENTED, `etcetera: not implemented yet: ${path.slice(1)}`);
      stream.resume();
      return;
    }
    new StreamCall(this, stream, rpc, enc, metrics);
  }
}
