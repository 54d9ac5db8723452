// A bare gRPC client on node:http2 for tests of the grpc listener: sends exactly the bytes a
// test chooses (well-formed calls, or broken prefixes, protobuf, compression), and reports the
// raw outcome (response messages, grpc-status, decoded grpc-message, headers).
import http2 from 'node:http2';
import protobuf from 'protobufjs';
import { MessageReader, percentDecode } from '../../src/transports/grpc/grpc-frame.js';

/** What one call ended with. */
export interface RawOutcome {
  /** grpc-status (from trailers, or from the headers of a trailers-only answer); -1 if none. */
  status: number;
  /** grpc-message, percent-decoded; '' if none. */
  message: string;
  /** The raw (undecoded) percent-encoded grpc-message. */
  rawMessage: string;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  /** Response message payloads, without their 5-byte prefix. */
  messages: Buffer[];
  /** Set when the stream was reset or failed instead of ending with a status. */
  error?: Error;
}

/** Something with the protobufjs `type` of a message (the shared MessageCodec, ExtraCodec). */
export interface Typed {
  readonly type: protobuf.Type;
}

/** Frames a payload as one gRPC message: flag byte + u32 length + payload. */
export function frame(payload: Uint8Array, compressed = false): Buffer {
  const b = Buffer.alloc(5 + payload.length);
  b[0] = compressed ? 1 : 0;
  b.writeUInt32BE(payload.length, 1);
  b.set(payload, 5);
  return b;
}

/** Encodes a message of `codec`'s type and frames it. */
export function frameOf(codec: Typed, msg: object): Buffer {
  return frame(codec.type.encode(msg).finish());
}

/** One open stream of a `RawGrpcClient`. */
export interface RawStream {
  readonly req: http2.ClientHttp2Stream;
  /** Resolves with each response message as it arrives, in order. */
  next(): Promise<Buffer>;
  readonly done: Promise<RawOutcome>;
}

export class RawGrpcClient {
  private constructor(readonly session: http2.ClientHttp2Session) {}

  /** Connects with HTTP/2 prior knowledge (h2c), as etcdctl does. */
  static connect(authority: string, settings?: http2.Settings): Promise<RawGrpcClient> {
    return new Promise((resolve, reject) => {
      const s = http2.connect(authority, settings === undefined ? {} : { settings });
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', () => {});
        resolve(new RawGrpcClient(s));
      });
      s.once('error', reject);
    });
  }

  /** The settings the server announced. */
  remoteSettings(): Promise<http2.Settings> {
    if (this.session.remoteSettings.maxConcurrentStreams !== undefined && this.session.remoteSettings.maxConcurrentStreams !== 4294967295) {
      return Promise.resolve(this.session.remoteSettings);
    }
    return new Promise((resolve) => this.session.once('remoteSettings', resolve));
  }

  /** Opens a call on `path`; `body` chunks are written then the client half-closes (unless `keepOpen`). */
  open(path: string, body: Buffer[] = [], extraHeaders: Record<string, string> = {}, keepOpen = false): RawStream {
    const req = this.session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...extraHeaders,
    });
    const outcome: RawOutcome = { status: -1, message: '', rawMessage: '', headers: {}, trailers: {}, messages: [] };
    const waiting: ((b: Buffer) => void)[] = [];
    const queued: Buffer[] = [];
    const reader = new MessageReader(
      {
        onMessage: (b) => {
          const copy = Buffer.from(b);
          outcome.messages.push(copy);
          const w = waiting.shift();
          if (w) w(copy);
          else queued.push(copy);
        },
        onBadMessage: (status, message) => {
          outcome.error = new Error(`bad response message: ${status} ${message}`);
        },
      },
      64 * 1024 * 1024,
      undefined,
    );
    const setStatus = (h: http2.IncomingHttpHeaders): void => {
      const st = h['grpc-status'];
      if (st !== undefined) {
        outcome.status = Number(st);
        const m = h['grpc-message'];
        outcome.rawMessage = typeof m === 'string' ? m : '';
        outcome.message = percentDecode(outcome.rawMessage);
      }
    };
    const done = new Promise<RawOutcome>((resolve) => {
      req.on('response', (h) => {
        outcome.headers = h;
        setStatus(h);
      });
      req.on('trailers', (h) => {
        outcome.trailers = h;
        setStatus(h);
      });
      req.on('data', (c: Buffer) => reader.push(c));
      req.on('error', (err) => {
        outcome.error = err;
      });
      req.on('close', () => resolve(outcome));
    });
    for (const b of body) req.write(b);
    if (!keepOpen) req.end();
    return {
      req,
      done,
      next: () => {
        const q = queued.shift();
        if (q) return Promise.resolve(q);
        return new Promise((resolve, reject) => {
          waiting.push(resolve);
          void done.then(() => reject(new Error(`stream ended (status ${outcome.status} ${outcome.message})`)));
        });
      },
    };
  }

  /** One unary call with raw request bytes (already framed). */
  call(path: string, body: Buffer[], extraHeaders: Record<string, string> = {}): Promise<RawOutcome> {
    return this.open(path, body, extraHeaders).done;
  }

  /** One well-formed unary call: encodes `req`, decodes the single response (or null). */
  async unary<T = Record<string, unknown>>(
    path: string,
    reqType: Typed,
    req: object,
    resType: Typed,
  ): Promise<{ outcome: RawOutcome; res: T | null }> {
    const outcome = await this.call(path, [frameOf(reqType, req)]);
    const b = outcome.messages[0];
    return { outcome, res: b === undefined ? null : (resType.type.decode(b) as unknown as T) };
  }

  close(): Promise<void> {
    if (this.session.destroyed || this.session.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.session.once('close', () => resolve());
      this.session.close();
    });
  }
}
