// A frame-level HTTP/2 client for tests of the grpc listener's own HTTP/2 server: it writes
// exactly the frames a test chooses (including broken ones) and hands back every frame the
// server sends, with no flow control or acknowledgement of its own.
import net from 'node:net';
import { encodeHeaders, HpackDecoder } from '../../src/transports/http/hpack.js';
import { H2_PREFACE } from '../../src/transports/http/h2-connection.js';

export const T = Object.freeze({
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
});

/** One frame as received. */
export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

/** Encodes one frame. */
export function frameBytes(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id, 5);
  return Buffer.concat([h, payload]);
}

/** A SETTINGS payload from [key, value] pairs. */
export function settingsPayload(pairs: [number, number][]): Buffer {
  const b = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([k, v], i) => {
    b.writeUInt16BE(k, 6 * i);
    b.writeUInt32BE(v, 6 * i + 2);
  });
  return b;
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

/** The HEADERS block of a gRPC request. */
export function grpcRequestBlock(path: string, extra: string[] = [], authority = '127.0.0.1'): Buffer {
  return encodeHeaders([
    ':method', 'POST',
    ':scheme', 'http',
    ':path', path,
    ':authority', authority,
    'content-type', 'application/grpc',
    'te', 'trailers',
    ...extra,
  ]);
}

export class RawH2 {
  /** Frames received and not yet taken by `next`. */
  private readonly inbox: Frame[] = [];
  private waiter: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void } | null = null;
  private buf = Buffer.alloc(0);
  /** Decodes the server's header blocks. */
  readonly hpack = new HpackDecoder();
  isClosed = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        const w = this.waiter;
        this.waiter = null;
        w?.reject(new Error('connection closed'));
        resolve();
      });
    });
  }

  /** Connects and sends the preface with `settings` (unless `preface` is false). */
  static connect(port: number, settings: [number, number][] = [], preface = true): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.off('error', reject);
        const c = new RawH2(s);
        if (preface) c.write(Buffer.concat([H2_PREFACE, frameBytes(T.SETTINGS, 0, 0, settingsPayload(settings))]));
        resolve(c);
      });
      s.once('error', reject);
    });
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  send(type: number, flags: number, id: number, payload?: Buffer): void {
    this.write(frameBytes(type, flags, id, payload));
  }

  /** The next received frame matching `pred` (earlier non-matching frames stay in the inbox). */
  next(pred: (f: Frame) => boolean = () => true): Promise<Frame> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.waiter = { pred, resolve, reject };
    });
  }

  /** Frames received so far and not taken. */
  pending(): readonly Frame[] {
    return this.inbox;
  }

  /** Decoded headers of a HEADERS frame (no padding or priority from our server). */
  headersOf(f: Frame): Map<string, string> {
    const list = this.hpack.decode(f.payload) ?? [];
    const m = new Map<string, string>();
    for (let i = 0; i < list.length; i += 2) m.set(list[i]!, list[i + 1]!);
    return m;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(c: Buffer): void {
    this.buf = Buffer.concat([this.buf, c]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: Frame = { type: this.buf[3]!, flags: this.buf[4]!, id: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
      this.buf = this.buf.subarray(9 + len);
      const w = this.waiter;
      if (w !== null && w.pred(f)) {
        this.waiter = null;
        w.resolve(f);
      } else {
        this.inbox.push(f);
      }
    }
  }
}
