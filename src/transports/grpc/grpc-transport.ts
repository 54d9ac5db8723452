/**
 * The `grpc` client listener: etcd's v3 gRPC API (etcdserverpb, mvccpb) so that `etcdctl` and
 * existing etcd clients work unchanged, plus etcd's HTTP/1.1 endpoints (JSON gateway, /health,
 * /version, /metrics) on the same port, as etcd serves them on its client URL.
 *
 * One port, two protocols. Every accepted socket is sniffed: if its first bytes are the HTTP/2
 * connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, sent first by every h2c
 * prior-knowledge client, which is how etcdctl and grpc-go dial an insecure endpoint) it is
 * served by our own HTTP/2 server connection (../http/h2-connection.ts), otherwise by a
 * node:http server (curl, fetch; the bytes read while sniffing are put back with `unshift`).
 *
 * Why our own HTTP/2 and not node:http2: nghttp2 resets streams whose `:authority` is a URL
 * (`http://127.0.0.1:2379`, what etcd 3.4's clientv3 sends when it dials the client URLs of
 * MemberList, e.g. `etcdctl endpoint status --cluster`), which Go's server accepts; and its
 * per-stream machinery cost most of a put's server CPU. @grpc/grpc-js is no option either: it
 * cannot share a port with HTTP/1 and costs more still.
 *
 * The gRPC framing is small (see grpc-frame.ts): a unary call is request HEADERS + one
 * length-prefixed message; the answer is HEADERS (`content-type: application/grpc`), one DATA
 * frame with the encoded response, and trailers with `grpc-status: 0` (both header blocks are
 * HPACK-encoded once, at load). A failed call is answered "trailers-only": one HEADERS frame
 * carrying `grpc-status` and the percent-encoded `grpc-message`, whose text is etcd's exact
 * error string (clients match on it).
 *
 * Limits (each enters where the data does):
 * - a message longer than `maxFrameBytes` (max-request-bytes + 512 KiB, as etcd configures
 *   grpc-go) is refused from its 5-byte prefix, before it is buffered, with grpc-go's text
 *   `grpc: received message larger than max (<n> vs. <max>)` (ResourceExhausted);
 * - concurrent streams per connection are capped by the HTTP/2 setting
 *   MAX_CONCURRENT_STREAMS = `maxCallsPerConnection` (clients queue beyond it; a stream opened
 *   anyway is refused with REFUSED_STREAM). A unary stream
 *   stays open until its answer has been sent, so this also bounds the answers one client that
 *   does not read can make the server hold;
 * - a stream's outbound bytes above `maxQueuedBytes` make `StreamSink.send` return false; they
 *   count what waits for the client's flow-control window plus the connection's socket queue;
 * - a connection whose socket queue exceeds `maxQueuedBytes` is not read until it drains.
 *
 * Malformed input never stops the server: bad protobuf, bad prefixes and unknown methods get a
 * status on their stream, and a connection that breaks HTTP/2 itself gets GOAWAY and is closed.
 *
 * Metrics: every call of a known method counts in `grpc_server_started_total` when it starts
 * and in `grpc_server_handled_total{grpc_code}` once its status is decided (a client that goes
 * away first counts as `Canceled`), through counters bound once per method; `GET /metrics`
 * (HTTP/1.1 or HTTP/2) serves the metrics in Prometheus' text format.
 */
import http from 'node:http';
import net from 'node:net';
import { KvError, Status } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';
import { noMetrics, type GrpcMethodMetrics, type Metrics } from '../../core/ports/metrics.js';
import type { CallContext, Services, StreamHandlers, StreamSink } from '../../core/ports/services.js';
import { limitsOf, parseAddress, type Limits, type ListenerOptions } from '../codec/options.js';
import type { TransportStats } from '../codec/server-session.js';
import { HttpGateway } from '../http/gateway.js';
import { encodeHeaders, H2Connection, H2_PREFACE, type H2Options, type H2Stream, type H2StreamHandler } from '../http/h2-connection.js';
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

// The constant blocks of every successful call, HPACK-encoded once. No Date header: gRPC does
// not use it.
const OK_HEADERS = encodeHeaders([':status', '200', 'content-type', 'application/grpc']);
const OK_TRAILERS = encodeHeaders(['grpc-status', '0']);

/** The status and message a failed call is answered with. */
function statusOf(err: unknown, log: Logger, path: string): { status: number; message: string } {
  if (err instanceof KvError || err instanceof GrpcStatusError) return { status: err.status, message: err.message };
  log.error({ err, method: path }, 'call failed with an unexpected error');
  const e = new KvError('Internal');
  return { status: e.status, message: e.message };
}

/** Answers a stream whose headers are not sent yet with a trailers-only status. */
function trailersOnly(stream: H2Stream, status: number, message: string): void {
  if (stream.closed || stream.headersSent) return;
  stream.respond(
    encodeHeaders([':status', '200', 'content-type', 'application/grpc', 'grpc-status', String(status), 'grpc-message', percentEncode(message)]),
    true,
  );
}

/** The trailer block of a stream that ends with `status` (OK: the constant block). */
function trailersOf(status: number, message: string): Buffer {
  if (status === Status.OK) return OK_TRAILERS;
  return encodeHeaders(['grpc-status', String(status), 'grpc-message', percentEncode(message)]);
}

/** A stream answered at once (unknown method, Unimplemented): its request body is dropped. */
const DROP: H2StreamHandler = { onData() {}, onEnd() {}, onReset() {} };

/**
 * One unary call: waits for its request message, runs it, answers once. It is also the call's
 * `CallContext`; the AbortSignal is built only if the service asks for it (NB: constructing one
 * costs ~1.5 µs on Node 20, a noticeable share of a put), and aborted if the client resets the
 * stream, the connection drops or the grpc-timeout passes first.
 */
class UnaryCall implements MessageSink, CallContext, H2StreamHandler {
  /** 0 = waiting for the request, 1 = running, 2 = answered or abandoned. */
  private state = 0;
  private controller: AbortController | null = null;
  private reason: KvError | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly reader: MessageReader;

  constructor(
    private readonly owner: GrpcTransport,
    private readonly stream: H2Stream,
    private readonly rpc: UnaryRpc,
    timeoutMs: number | undefined,
    encoding: string | undefined,
    private readonly metrics: GrpcMethodMetrics,
  ) {
    this.reader = new MessageReader(this, owner.limits.maxFrameBytes, encoding);
    owner.callsInFlight++;
    metrics.started.inc();
    stream.handler = this;
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
  }

  // H2StreamHandler -----------------------------------------------------------------------

  onData(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  onEnd(): void {
    if (this.state !== 0) return;
    // grpc-go's answers (Unknown, with Go's io error texts) for a request that ends inside its
    // message or before one.
    this.fail(Status.UNKNOWN, this.reader.hasPartial ? 'unexpected EOF' : 'EOF');
  }

  onReset(): void {
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
    if (stream.closed) {
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
    stream.respond(OK_HEADERS);
    stream.write(buf);
    stream.end(OK_TRAILERS);
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
class StreamCall implements StreamSink<unknown>, MessageSink, CallContext, H2StreamHandler {
  private handlers: StreamHandlers<unknown> | null = null;
  private readonly controller = new AbortController();
  private readonly reader: MessageReader;
  /** Set once the server ended the stream (close) or the client went away. */
  private done = false;

  constructor(
    private readonly owner: GrpcTransport,
    private readonly stream: H2Stream,
    private readonly rpc: StreamRpc,
    encoding: string | undefined,
    private readonly metrics: GrpcMethodMetrics,
  ) {
    this.reader = new MessageReader(this, owner.limits.maxFrameBytes, encoding);
    owner.callsInFlight++;
    metrics.started.inc();
    stream.handler = this;
    stream.respond(OK_HEADERS);
    try {
      this.handlers = rpc.open(owner.env, this, this);
    } catch (err) {
      this.close(err);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  // StreamSink ----------------------------------------------------------------------------

  send(res: unknown): boolean {
    if (this.done) return true;
    const stream = this.stream;
    if (stream.closed) return true;
    const writer = this.rpc.messageWriter;
    const n = writer === undefined ? -1 : writer.prepare(res);
    if (writer === undefined || n < 0) {
      stream.write(encodeMessage(this.rpc.response, res));
    } else {
      // Straight into the connection's output when the windows allow, else its own buffer.
      const at = stream.claim(n);
      if (at >= 0) {
        writer.writeTo(stream.conn.output, at);
      } else {
        const buf = Buffer.allocUnsafe(n);
        writer.writeTo(buf, 0);
        stream.write(buf);
      }
    }
    // Counts what waits for the client's flow-control window and the socket's queue.
    return stream.outboundBytes <= this.owner.limits.maxQueuedBytes;
  }

  onDrain(cb: () => void): void {
    if (this.done) {
      cb();
      return;
    }
    this.stream.whenDrained(this.owner.limits.maxQueuedBytes, cb);
  }

  close(err?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.owner.callsInFlight--;
    let trailers = OK_TRAILERS;
    if (err !== undefined) {
      const { status, message } = statusOf(err, this.owner.log, this.rpc.path);
      trailers = trailersOf(status, message);
      this.metrics.handled(status).inc();
    } else {
      this.metrics.handled(Status.OK).inc();
    }
    this.stream.end(trailers);
  }

  // H2StreamHandler -----------------------------------------------------------------------

  onData(chunk: Buffer): void {
    if (!this.done) this.reader.push(chunk);
  }

  onEnd(): void {
    if (!this.done) this.guard(() => this.handlers?.end());
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
  }

  /** Ends the stream with an error the client caused, and releases the service's side. */
  private fatal(status: number, message: string): void {
    if (this.done) return;
    this.close(new GrpcStatusError(status, message));
    this.controller.abort(new KvError('Canceled'));
    this.guard(() => this.handlers?.cancel());
  }

  onReset(): void {
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
  private readonly h2Options: H2Options;
  private readonly h1: http.Server;
  private readonly gateway: HttpGateway;
  private readonly sockets = new Set<net.Socket>();
  private readonly connections = new Set<H2Connection>();
  private readonly member: SelfMember;
  private readonly metrics: Metrics;
  /** Each method's counters, bound on first use. */
  private readonly methodMetrics = new Map<string, GrpcMethodMetrics>();
  private readonly onStreamFn = (stream: H2Stream, headers: string[]): void => this.onStream(stream, headers);

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
    this.h2Options = {
      maxConcurrentStreams: this.limits.maxCallsPerConnection,
      // Room for one largest message per stream, so a client never waits for a credit to
      // finish a message; credits are sent as data arrives anyway.
      streamWindow: Math.min(Math.max(this.limits.maxFrameBytes + 5, 65535), 0x7fffffff),
      // Many streams can upload at once; this only bounds what a client may send ahead.
      connectionWindow: Math.min(Math.max(this.limits.maxQueuedBytes, 1024 * 1024), 0x7fffffff),
      maxHeaderListSize: 64 * 1024,
      maxQueuedBytes: this.limits.maxQueuedBytes,
    };
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

  /**
   * Stops accepting, closes every connection (HTTP/2 ones with GOAWAY; calls in flight are
   * aborted), and waits until they are closed.
   */
  close(): Promise<void> {
    const server = this.server;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      for (const c of this.connections) c.close();
      this.connections.clear();
      // The GOAWAYs were handed to the kernel by the writes above.
      for (const s of this.sockets) s.destroy();
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
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.compare(H2_PREFACE, 0, n, 0, n) === 0;
      if (isH2 && head.length < H2_PREFACE.length) return;
      socket.off('data', onData);
      if (isH2) {
        const conn = new H2Connection(socket, this.h2Options, this.onStreamFn, this.log);
        this.connections.add(conn);
        socket.on('close', () => this.connections.delete(conn));
        socket.on('data', (c: Buffer) => conn.onData(c));
        conn.onData(head);
      } else {
        socket.pause();
        socket.unshift(head);
        this.h1.emit('connection', socket);
        // node:http reads through its own parser once it has the socket; the bytes put back
        // above are still in the stream's buffer and need the stream flowing to reach it.
        socket.resume();
      }
    };
    socket.on('data', onData);
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

  private onStream(stream: H2Stream, headers: string[]): void {
    // One pass over the (short) header list for what a call needs.
    let contentType: string | undefined;
    let path = '';
    let timeout: string | undefined;
    let encoding: string | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      if (n === 'content-type') contentType = headers[i + 1];
      else if (n === ':path') path = headers[i + 1]!;
      else if (n === 'grpc-timeout') timeout = headers[i + 1];
      else if (n === 'grpc-encoding') encoding = headers[i + 1];
    }
    if (contentType === undefined || !contentType.startsWith('application/grpc')) {
      // Not gRPC: the JSON gateway and /health also answer over HTTP/2, as etcd's do.
      this.gateway.handleHttp2(stream, headers);
      return;
    }
    const rpc = RPCS_BY_PATH.get(path);
    if (rpc === undefined) {
      stream.handler = DROP;
      const cut = path.lastIndexOf('/');
      const service = path.slice(1, cut);
      const message = SERVICE_NAMES.has(service)
        ? `unknown method ${path.slice(cut + 1)} for service ${service}`
        : `unknown service ${service}`;
      trailersOnly(stream, Status.UNIMPLEMENTED, message);
      return;
    }
    const metrics = this.metricsOf(rpc);
    if (rpc.kind === 'unary') {
      new UnaryCall(this, stream, rpc, parseTimeoutMs(timeout), encoding, metrics);
      return;
    }
    if (!rpc.available(this.env)) {
      metrics.started.inc();
      metrics.handled(Status.UNIMPLEMENTED).inc();
      stream.handler = DROP;
      trailersOnly(stream, Status.UNIMPLEMENTED, `etcetera: not implemented yet: ${path.slice(1)}`);
      return;
    }
    new StreamCall(this, stream, rpc, encoding, metrics);
  }
}
