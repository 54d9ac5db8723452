/**
 * etcd's HTTP endpoints on the client port: the JSON gateway (`POST /v3/...`, one path per RPC,
 * see rpcs.ts), `GET /health`, `GET /version` and `GET /metrics`. The grpc listener hands it every HTTP/1.1
 * request (node:http) and every HTTP/2 request that is not gRPC (a stream of our own HTTP/2
 * server, h2-connection.ts).
 *
 * Behaviour copied from etcd 3.4 (grpc-gateway v1), as observed:
 * - RPC paths take POST with a JSON body (empty = `{}`); another method → 405
 *   `Method Not Allowed`; an unknown path under `/v3/` → 404 `Not Found`, anywhere else →
 *   404 `404 page not found`; `/v3beta/` is an alias of `/v3/`.
 * - answers use proto field names, int64 as strings, base64 bytes, enum names, zero values
 *   omitted (proto-json.ts); errors are `{"error","message","code"}` with an HTTP status
 *   derived from the gRPC code (FailedPrecondition → 400, as upstream etcd 3.4/3.5).
 * - streaming RPCs (`/v3/watch`) take one or more concatenated JSON requests in the body and
 *   answer with chunked `{"result":…}` lines, one per message.
 * - every answer carries etcd's default CORS headers (`--cors '*'`).
 *
 * `/metrics` answers with the metrics port's Prometheus text (empty without a metrics port);
 * like etcd's promhttp handler it takes any method.
 */
import type http from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { KvError, Status } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';
import { noMetrics, type Metrics } from '../../core/ports/metrics.js';
import type { CallContext, StreamHandlers, StreamSink } from '../../core/ports/services.js';
import type { Limits } from '../codec/options.js';
import { GrpcStatusError, RPCS_BY_GATEWAY_PATH, type Rpc, type RpcEnv, type StreamRpc, type UnaryRpc } from '../grpc/rpcs.js';
import { encodeHeaders, headerOf, type H2Stream, type H2StreamHandler } from './h2-connection.js';
import { JsonMappingError, ProtoJson } from './proto-json.js';

/** What `/version` reports: etcetera's server version and the etcd cluster API version. */
export const VERSION_BODY = '{"etcdserver":"3.4.0-etcetera","etcdcluster":"3.4.0"}';

/** How long `/health` waits for its linearizable read before answering unhealthy (etcd: 1 s). */
export const HEALTH_TIMEOUT_MS = 1000;

const CORS: Readonly<Record<string, string>> = Object.freeze({
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'access-control-allow-headers': 'accept, content-type, authorization',
});

/** grpc-gateway v1's gRPC code → HTTP status (runtime.HTTPStatusFromCode). */
const HTTP_STATUS: Readonly<Record<number, number>> = Object.freeze({
  [Status.OK]: 200,
  [Status.CANCELLED]: 408,
  [Status.UNKNOWN]: 500,
  [Status.INVALID_ARGUMENT]: 400,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.PERMISSION_DENIED]: 403,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.FAILED_PRECONDITION]: 400,
  [Status.ABORTED]: 409,
  [Status.OUT_OF_RANGE]: 400,
  [Status.UNIMPLEMENTED]: 501,
  [Status.INTERNAL]: 500,
  [Status.UNAVAILABLE]: 503,
  [Status.DATA_LOSS]: 500,
  [Status.UNAUTHENTICATED]: 401,
});

/** One HTTP answer, whatever protocol carries it. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The request as the gateway sees it. */
interface HttpRequestLike {
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
}

const text = (status: number, body: string, extra?: Record<string, string>): HttpAnswer => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...extra },
  body,
});
const json = (status: number, body: string, extra?: Record<string, string>): HttpAnswer => ({
  status,
  headers: { 'content-type': 'application/json', ...extra },
  body,
});

function errorBody(status: number, message: string): string {
  return JSON.stringify({ error: message, message, code: status });
}

function errorAnswer(status: number, message: string): HttpAnswer {
  return json(HTTP_STATUS[status] ?? 500, errorBody(status, message));
}

/**
 * Splits concatenated JSON objects (`{…}{…}`, or separated by whitespace) at top-level
 * boundaries. Returns the complete objects and the unfinished rest; the rest also holds
 * anything that does not start like an object or array, for the caller's parser to reject.
 */
export function splitJsonValues(input: string): { values: string[]; rest: string } {
  const values: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c /* \\ */) escaped = true;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (start < 0) {
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      start = i;
      if (c !== 0x7b /* { */ && c !== 0x5b /* [ */) break;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
      if (depth === 0) {
        values.push(input.slice(start, i + 1));
        start = -1;
      }
    }
  }
  return { values, rest: start < 0 ? '' : input.slice(start) };
}

/** Parses one JSON text, with Go's error wording for the common mistake (a stray character). */
function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (err) {
    const first = body.trimStart()[0];
    if (first !== undefined && !'{["tfn-0123456789'.includes(first)) {
      throw new JsonMappingError(`invalid character '${first}' looking for beginning of value`);
    }
    throw new JsonMappingError((err as Error).message);
  }
}

/** A CallContext aborted when the HTTP request goes away. */
class HttpCall implements CallContext {
  readonly controller = new AbortController();
  get signal(): AbortSignal {
    return this.controller.signal;
  }
}

/** Serves etcd's HTTP endpoints over the services. See the module comment. */
export class HttpGateway {
  private readonly mapping = new ProtoJson();
  /** Largest request body read: a message's JSON is at most ~4/3 of its bytes, plus syntax. */
  private readonly maxBodyBytes: number;

  constructor(
    private readonly env: RpcEnv,
    limits: Limits,
    private readonly log: Logger,
    /** What `/metrics` serves. */
    private readonly metrics: Metrics = noMetrics,
  ) {
    this.maxBodyBytes = limits.maxFrameBytes * 2;
  }

  /** Serves one HTTP/1.1 request (node:http's request listener). */
  handleHttp1(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const r: HttpRequestLike = {
      method: req.method ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      query: q < 0 ? '' : url.slice(q + 1),
    };
    const write = (a: HttpAnswer): void => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(a.status, { ...CORS, ...a.headers, 'content-length': Buffer.byteLength(a.body) });
      res.end(a.body);
    };
    const rpc = this.route(r, write);
    if (rpc === null) {
      req.resume();
      return;
    }
    const call = new HttpCall();
    res.on('close', () => call.controller.abort(new KvError('Canceled')));
    if (rpc.kind === 'stream') {
      this.serveStream(rpc, call, readableBody(req), {
        start: () => {
          res.writeHead(200, { ...CORS, 'content-type': 'application/json' });
          res.flushHeaders();
        },
        write: (chunk) => res.write(chunk),
        queued: () => res.writableLength,
        onDrain: (cb) => res.once('drain', cb),
        end: () => res.end(),
        fail: write,
        closed: () => res.destroyed || res.writableEnded,
      });
      return;
    }
    this.readBody(readableBody(req), (body) => {
      if (body === null) write(errorAnswer(Status.RESOURCE_EXHAUSTED, `etcetera: request body larger than ${this.maxBodyBytes} bytes`));
      else void this.unary(rpc, body, call).then(write);
    });
  }

  /** Serves one HTTP/2 request that is not gRPC (an HTTP/2 stream of the grpc listener). */
  handleHttp2(stream: H2Stream, headers: readonly string[]): void {
    const body = new H2Body();
    stream.handler = body;
    const url = headerOf(headers, ':path') ?? '/';
    const q = url.indexOf('?');
    const r: HttpRequestLike = {
      method: headerOf(headers, ':method') ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      query: q < 0 ? '' : url.slice(q + 1),
    };
    const respond = (status: number, extra: Record<string, string>, endStream: boolean): void => {
      const list = [':status', String(status)];
      for (const [k, v] of Object.entries({ ...CORS, ...extra })) list.push(k, v);
      stream.respond(encodeHeaders(list), endStream);
    };
    const write = (a: HttpAnswer): void => {
      if (stream.closed || stream.headersSent) return;
      const bytes = Buffer.from(a.body, 'utf8');
      respond(a.status, { ...a.headers, 'content-length': String(bytes.length) }, bytes.length === 0);
      if (bytes.length > 0) {
        stream.write(bytes);
        stream.end();
      }
    };
    const rpc = this.route(r, write);
    if (rpc === null) return;
    const call = new HttpCall();
    body.aborted = () => call.controller.abort(new KvError('Canceled'));
    if (rpc.kind === 'stream') {
      this.serveStream(rpc, call, body, {
        start: () => respond(200, { 'content-type': 'application/json' }, false),
        write: (chunk) => stream.write(Buffer.from(chunk, 'utf8')),
        queued: () => stream.outboundBytes,
        onDrain: (cb) => stream.whenDrained(this.maxBodyBytes, cb),
        end: () => stream.end(),
        fail: write,
        closed: () => stream.closed || stream.localEnded,
      });
      return;
    }
    this.readBody(body, (text) => {
      if (text === null) write(errorAnswer(Status.RESOURCE_EXHAUSTED, `etcetera: request body larger than ${this.maxBodyBytes} bytes`));
      else void this.unary(rpc, text, call).then(write);
    });
  }

  /**
   * Answers the plain endpoints and routing errors through `write` (returning null), or returns
   * the RPC the request is for.
   */
  private route(r: HttpRequestLike, write: (a: HttpAnswer) => void): Rpc | null {
    if (r.path === '/health') {
      if (r.method !== 'GET') write(text(405, 'Method Not Allowed\n', { allow: 'GET' }));
      else void this.health(r.query).then(write);
      return null;
    }
    if (r.path === '/metrics') {
      void this.scrape().then(write);
      return null;
    }
    if (r.path === '/version') {
      if (r.method !== 'GET') write(text(405, 'Method Not Allowed\n', { allow: 'GET' }));
      else write(json(200, VERSION_BODY));
      return null;
    }
    const path = r.path.startsWith('/v3beta/') ? `/v3/${r.path.slice(8)}` : r.path;
    const rpc = RPCS_BY_GATEWAY_PATH.get(path);
    if (rpc === undefined) {
      write(path.startsWith('/v3/') ? text(404, 'Not Found\n') : text(404, '404 page not found\n'));
      return null;
    }
    if (r.method !== 'POST') {
      write(text(405, 'Method Not Allowed\n'));
      return null;
    }
    return rpc;
  }

  /** `/metrics`: the Prometheus text exposition of the metrics port. */
  private async scrape(): Promise<HttpAnswer> {
    try {
      const body = await this.metrics.scrape();
      return { status: 200, headers: { 'content-type': this.metrics.contentType }, body };
    } catch (err) {
      this.log.error({ err }, 'metrics scrape failed');
      return text(500, 'metrics are not available\n');
    }
  }

  /** `/health`: healthy iff the member has a leader, no alarm, and a linearizable read works. */
  private async health(query: string): Promise<HttpAnswer> {
    const unhealthy = text(503, '{"health":"false"}');
    const healthy = text(200, '{"health":"true"}');
    void query; // ?exclude=… only matters once alarms exist.
    let timer: NodeJS.Timeout | undefined;
    try {
      const status = await this.env.services.maintenance.status({});
      if (status.leader === 0 || status.errors.length > 0) return unhealthy;
      const call = new HttpCall();
      const timeout = new Promise<never>((_res, rej) => {
        timer = setTimeout(() => {
          call.controller.abort(new KvError('Timeout'));
          rej(new KvError('Timeout'));
        }, HEALTH_TIMEOUT_MS);
      });
      await Promise.race([this.env.services.kv.range({ key: Buffer.from('health') }, call), timeout]);
      return healthy;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'health check failed');
      return unhealthy;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Reads a whole body (null if it exceeds the limit; the rest is drained and dropped). */
  private readBody(src: BodySource, done: (body: string | null) => void): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let over = false;
    src.read(
      (c) => {
        if (over) return;
        bytes += c.length;
        if (bytes > this.maxBodyBytes) over = true;
        // HTTP/2 chunks are views into socket reads: copied by concat at the end.
        else chunks.push(c);
      },
      () => done(over ? null : Buffer.concat(chunks, bytes).toString('utf8')),
    );
  }

  /** A JSON message of the RPC's request type from a JSON text (via the binary schema). */
  private decodeRequest(rpc: Rpc, jsonText: string): unknown {
    const value = jsonText.trim() === '' ? {} : parseJson(jsonText);
    const plain = this.mapping.fromJsonValue(rpc.requestType, value);
    // Round-trip through the wire form, so the services get exactly what gRPC would give them
    // (defaults, safe-integer checks, Uint8Array bytes).
    let bytes: Uint8Array;
    try {
      bytes = rpc.request.type.encode(plain).finish();
    } catch (err) {
      throw new JsonMappingError((err as Error).message);
    }
    return rpc.request.decode(bytes);
  }

  private async unary(rpc: UnaryRpc, body: string, call: HttpCall): Promise<HttpAnswer> {
    let req: unknown;
    try {
      const first = splitJsonValues(body);
      req = this.decodeRequest(rpc, first.values[0] ?? first.rest);
    } catch (err) {
      return errorAnswer(Status.INVALID_ARGUMENT, (err as Error).message);
    }
    try {
      const res = await rpc.invoke(this.env, req, call);
      return json(200, this.mapping.stringify(rpc.responseType, res), { 'grpc-metadata-content-type': 'application/grpc' });
    } catch (err) {
      if (err instanceof KvError || err instanceof GrpcStatusError) return errorAnswer(err.status, err.message);
      this.log.error({ err, method: rpc.path }, 'gateway call failed with an unexpected error');
      const e = new KvError('Internal');
      return errorAnswer(e.status, e.message);
    }
  }

  /**
   * A streaming RPC over HTTP: each JSON request in the body becomes one stream message as it
   * arrives; the end of the body is the client's half-close; each response is one
   * `{"result":…}` line; an error ends the stream with an `{"error":…}` line.
   */
  private serveStream(rpc: StreamRpc, call: HttpCall, src: BodySource, out: StreamOut): void {
    if (!rpc.available(this.env)) {
      src.read(ignore, ignore);
      out.fail(errorAnswer(Status.UNIMPLEMENTED, `etcetera: not implemented yet: ${rpc.path.slice(1)}`));
      return;
    }
    out.start();
    let done = false;
    let handlers: StreamHandlers<unknown> | null = null;
    const maxQueued = this.maxBodyBytes;
    const mapping = this.mapping;
    const log = this.log;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      if (err !== undefined && !out.closed()) {
        const known = err instanceof KvError || err instanceof GrpcStatusError;
        if (!known) log.error({ err, method: rpc.path }, 'gateway stream failed with an unexpected error');
        const s = known ? err : new KvError('Internal');
        out.write(`${JSON.stringify({ error: { grpc_code: s.status, http_code: HTTP_STATUS[s.status] ?? 500, message: s.message, http_status: '' } })}\n`);
      }
      if (!out.closed()) out.end();
    };
    const sink: StreamSink<unknown> = {
      send: (res) => {
        if (done || out.closed()) return true;
        out.write(`{"result":${mapping.stringify(rpc.responseType, res)}}\n`);
        return out.queued() <= maxQueued;
      },
      onDrain: (cb) => {
        if (done || out.closed() || out.queued() <= maxQueued) cb();
        else out.onDrain(cb);
      },
      close: (err) => finish(err),
    };
    call.signal.addEventListener('abort', () => {
      if (!done) {
        done = true;
        handlers?.cancel();
      }
    });
    try {
      handlers = rpc.open(this.env, sink, call);
    } catch (err) {
      finish(err);
      src.read(ignore, ignore);
      return;
    }
    let pending = '';
    const utf8 = new StringDecoder('utf8');
    const onChunk = (bytes: Buffer): void => {
      if (done) return;
      pending += utf8.write(bytes);
      if (pending.length > this.maxBodyBytes) {
        finish(new GrpcStatusError(Status.RESOURCE_EXHAUSTED, `etcetera: request larger than ${this.maxBodyBytes} bytes`));
        handlers?.cancel();
        return;
      }
      const { values, rest } = splitJsonValues(pending);
      pending = rest;
      for (const v of values) {
        if (done) return;
        let req: unknown;
        try {
          req = this.decodeRequest(rpc, v);
        } catch (err) {
          finish(new GrpcStatusError(Status.INVALID_ARGUMENT, (err as Error).message));
          handlers?.cancel();
          return;
        }
        try {
          handlers!.message(req);
        } catch (err) {
          // A handler that throws broke its contract: end this stream, keep the server.
          log.error({ err, method: rpc.path }, 'stream handler threw');
          finish(new KvError('Internal'));
          handlers?.cancel();
          return;
        }
      }
    };
    src.read(onChunk, () => {
      if (!done) handlers?.end();
    });
  }
}

function ignore(): void {}

/** A request body, delivered in chunks then an end (never both after an abort). */
interface BodySource {
  /** Registers the consumers; called at most once per request. */
  read(onChunk: (chunk: Buffer) => void, onEnd: () => void): void;
}

function readableBody(req: NodeJS.ReadableStream): BodySource {
  return {
    read: (onChunk, onEnd) => {
      req.on('data', onChunk);
      req.on('end', onEnd);
    },
  };
}

/**
 * The body of an HTTP/2 request, as the stream's handler: buffers nothing, hands chunks to
 * whoever called `read` (data arriving before that, or after an abort, is dropped: the gateway
 * registers synchronously when it wants the body).
 */
class H2Body implements H2StreamHandler, BodySource {
  private chunk: (c: Buffer) => void = ignore;
  private ended: () => void = ignore;
  /** Called if the stream is aborted before it finishes. */
  aborted: () => void = ignore;

  read(onChunk: (c: Buffer) => void, onEnd: () => void): void {
    this.chunk = onChunk;
    this.ended = onEnd;
  }

  onData(chunk: Buffer): void {
    this.chunk(chunk);
  }

  onEnd(): void {
    this.ended();
  }

  onReset(): void {
    this.aborted();
  }
}

/** How `serveStream` writes, over HTTP/1.1 or HTTP/2. */
interface StreamOut {
  start(): void;
  write(chunk: string): void;
  queued(): number;
  onDrain(cb: () => void): void;
  end(): void;
  fail(a: HttpAnswer): void;
  closed(): boolean;
}
