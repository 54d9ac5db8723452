/**
 * The client end of one connection to one endpoint, over tcp or ws: sends request frames,
 * matches answers to calls by id, and reports its own death. Which calls exist and what to do
 * when a connection dies is the Client's business (client.ts); this file is only the wire.
 */
import net from 'node:net';
import WebSocket from 'ws';
import { errorFromWire, KvError } from '../core/errors.js';
import { codecOf } from '../codec/messages.js';
import {
  encodeFrame,
  encodeRawFrame,
  FrameKind,
  HEADER_BYTES,
  ID_OFFSET,
  LENGTH_BYTES,
  MAX_CALL_ID,
} from '../transports/codec/frame.js';
import { FrameDecoder, type FrameSink } from '../transports/codec/frame-decoder.js';
import type { StreamMethod, UnaryMethod } from '../transports/codec/methods.js';

const errorReplyCodec = codecOf('etcetera.ErrorReply');

/** A parsed endpoint URL. */
export interface Endpoint {
  readonly url: string;
  readonly scheme: 'tcp' | 'ws';
  readonly host: string;
  readonly port: number;
}

/** Parses `tcp://host:port` or `ws://host:port[/path]` (also `wss://`). Throws a TypeError otherwise. */
export function parseEndpoint(url: string): Endpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`bad endpoint "${url}": want tcp://host:port or ws://host:port`);
  }
  const scheme = u.protocol === 'tcp:' ? 'tcp' : u.protocol === 'ws:' || u.protocol === 'wss:' ? 'ws' : null;
  if (scheme === null) throw new TypeError(`bad endpoint "${url}": scheme must be tcp:// or ws://`);
  if (u.port === '' && scheme === 'tcp') throw new TypeError(`bad endpoint "${url}": no port`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { url, scheme, host, port: u.port === '' ? (u.protocol === 'wss:' ? 443 : 80) : Number(u.port) };
}

/** One call in flight, as the connection sees it. The Client implements the callbacks. */
export interface CallSlot {
  /** Set by the connection when the call is sent on it. */
  id: number;
  conn: ClientConnection | null;
  readonly method: UnaryMethod<any, any>;
  /** The encoded request frame (with its length slot); the id is patched in per send. */
  readonly frame: Buffer;
}

/**
 * One open stream, as the connection sees it. The connection calls `message` for every
 * STREAM_MESSAGE, then `ended` exactly once: null for the server's STREAM_CLOSE, the error of
 * an ERROR frame, or the connection's loss. It is not called after the owner cancelled it.
 */
export interface StreamSlot {
  /** Set by the connection when the stream is opened on it. */
  id: number;
  readonly method: StreamMethod<any, any>;
  message(msg: unknown): void;
  ended(error: KvError | null): void;
}

/** What a connection tells its owner. */
export interface ConnectionOwner {
  /** An answer for `slot` arrived (already removed from the connection). */
  answered(slot: CallSlot, result: unknown, error: KvError | null): void;
  /** The connection is gone; `inFlight` are the calls it had not answered. */
  lost(conn: ClientConnection, inFlight: CallSlot[], reason: KvError): void;
}

function uncork(conn: ClientConnection): void {
  conn.corked = false;
  conn.socket.uncork();
}

/** A connected endpoint. Created by `dial`. */
export class ClientConnection implements FrameSink {
  /** Calls sent and not answered, by id. */
  readonly pending = new Map<number, CallSlot>();
  /** Open streams, by id (ids are unique across calls and streams). */
  private readonly streams = new Map<number, StreamSlot>();
  corked = false;
  private nextId = 1;
  private isOpen = true;
  private readonly decoder: FrameDecoder | null;
  private readonly closed: Promise<void>;

  private constructor(
    readonly endpoint: Endpoint,
    /** The TCP socket (under the WebSocket for ws). */
    readonly socket: net.Socket,
    private readonly ws: WebSocket | null,
    private readonly owner: ConnectionOwner,
    maxResponseBytes: number,
  ) {
    socket.setNoDelay(true);
    if (ws === null) {
      this.decoder = new FrameDecoder(this, maxResponseBytes);
      socket.on('data', (chunk: Buffer) => this.decoder!.push(chunk));
      socket.on('error', () => {}); // reported by 'close'
      this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
      socket.once('close', () => this.die(new KvError('TransportClosed', `connection to ${endpoint.url} closed`)));
    } else {
      this.decoder = null;
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) this.onFrame(data);
      });
      ws.on('error', () => {}); // reported by 'close'
      this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
      ws.once('close', (code: number) =>
        this.die(new KvError('TransportClosed', `connection to ${endpoint.url} closed (ws code ${code})`)),
      );
    }
  }

  /** Connects to `endpoint` within `dialTimeoutMs`. Rejects with the underlying error. */
  static dial(
    endpoint: Endpoint,
    owner: ConnectionOwner,
    dialTimeoutMs: number,
    maxResponseBytes: number,
  ): Promise<ClientConnection> {
    return endpoint.scheme === 'tcp'
      ? dialTcp(endpoint, owner, dialTimeoutMs, maxResponseBytes)
      : dialWs(endpoint, owner, dialTimeoutMs, maxResponseBytes);
  }

  /** @internal */
  static create(endpoint: Endpoint, socket: net.Socket, ws: WebSocket | null, owner: ConnectionOwner, max: number): ClientConnection {
    return new ClientConnection(endpoint, socket, ws, owner, max);
  }

  /** Whether calls can still be sent. */
  get open(): boolean {
    return this.isOpen;
  }

  private freshId(): number {
    let id = this.nextId;
    while (this.pending.has(id) || this.streams.has(id)) id = id === MAX_CALL_ID ? 1 : id + 1;
    this.nextId = id === MAX_CALL_ID ? 1 : id + 1;
    return id;
  }

  /**
   * Opens a stream for `slot` under a fresh id (STREAM_OPEN). On a closed connection the slot
   * is ended at once with TransportClosed.
   */
  openStream(slot: StreamSlot): void {
    if (!this.isOpen) {
      slot.ended(new KvError('TransportClosed', `connection to ${this.endpoint.url} closed`));
      return;
    }
    const id = this.freshId();
    slot.id = id;
    this.streams.set(id, slot);
    this.send(encodeRawFrame(FrameKind.STREAM_OPEN, id, slot.method.id, null));
  }

  /** Sends one message on an open stream; a no-op once it ended. */
  streamSend(slot: StreamSlot, msg: unknown): void {
    if (this.streams.get(slot.id) !== slot || !this.isOpen) return;
    this.send(encodeFrame(FrameKind.STREAM_MESSAGE, slot.id, 0, slot.method.request, msg));
  }

  /** Cancels an open stream (CANCEL); the slot is not told (its owner asked). */
  cancelStream(slot: StreamSlot): void {
    if (this.streams.get(slot.id) !== slot) return;
    this.streams.delete(slot.id);
    if (this.isOpen) this.send(encodeRawFrame(FrameKind.CANCEL, slot.id, 0, null));
  }

  /** Sends `slot` under a fresh id. */
  start(slot: CallSlot): void {
    const id = this.freshId();
    slot.id = id;
    slot.conn = this;
    slot.frame.writeUInt32BE(id, ID_OFFSET);
    this.pending.set(id, slot);
    this.send(slot.frame);
  }

  /** Forgets `slot` and tells the server to stop working on it. */
  cancel(slot: CallSlot): void {
    if (this.pending.get(slot.id) !== slot) return;
    this.pending.delete(slot.id);
    if (this.isOpen) this.send(encodeRawFrame(FrameKind.CANCEL, slot.id, 0, null));
  }

  /** Closes the connection; calls in flight are reported lost. Resolves once the socket closed. */
  close(): Promise<void> {
    if (this.ws !== null) this.ws.terminate();
    else this.socket.destroy();
    return this.closed;
  }

  // FrameSink ------------------------------------------------------------------------------

  /** One frame from the server, without length prefix. */
  onFrame(frame: Buffer): void {
    if (frame.length < HEADER_BYTES) return;
    const id = frame.readUInt32BE(1);
    const stream = this.streams.get(id);
    if (stream !== undefined) {
      this.onStreamFrame(stream, frame);
      return;
    }
    const slot = this.pending.get(id);
    if (slot === undefined) return; // id 0 (a diagnostic), or a call we gave up on
    this.pending.delete(id);
    const kind = frame[0];
    if (kind === FrameKind.RESPONSE) {
      let res: unknown;
      try {
        res = slot.method.response.decode(frame.subarray(HEADER_BYTES));
      } catch (err) {
        this.owner.answered(slot, null, new KvError('Internal', `malformed answer: ${(err as Error).message}`));
        return;
      }
      this.owner.answered(slot, res, null);
    } else if (kind === FrameKind.ERROR) {
      let error: KvError;
      try {
        const reply = errorReplyCodec.decode(frame.subarray(HEADER_BYTES));
        error = errorFromWire(reply.status, reply.message);
      } catch (err) {
        error = new KvError('Internal', `malformed error answer: ${(err as Error).message}`);
      }
      this.owner.answered(slot, null, error);
    } else {
      this.owner.answered(slot, null, new KvError('Internal', `unexpected frame kind ${kind} in answer`));
    }
  }

  private onStreamFrame(stream: StreamSlot, frame: Buffer): void {
    const kind = frame[0];
    if (kind === FrameKind.STREAM_MESSAGE) {
      let msg: unknown;
      try {
        msg = stream.method.response.decode(frame.subarray(HEADER_BYTES));
      } catch (err) {
        this.streams.delete(stream.id);
        this.send(encodeRawFrame(FrameKind.CANCEL, stream.id, 0, null));
        stream.ended(new KvError('Internal', `malformed stream message: ${(err as Error).message}`));
        return;
      }
      stream.message(msg);
      return;
    }
    this.streams.delete(stream.id);
    if (kind === FrameKind.STREAM_CLOSE) {
      stream.ended(null);
    } else if (kind === FrameKind.ERROR) {
      let error: KvError;
      try {
        const reply = errorReplyCodec.decode(frame.subarray(HEADER_BYTES));
        error = errorFromWire(reply.status, reply.message);
      } catch (err) {
        error = new KvError('Internal', `malformed error answer: ${(err as Error).message}`);
      }
      stream.ended(error);
    } else {
      stream.ended(new KvError('Internal', `unexpected frame kind ${kind} on a stream`));
    }
  }

  /** An answer larger than maxResponseBytes: fail that call, drop the connection. */
  onOversized(length: number, _kind: number, id: number): void {
    const stream = this.streams.get(id);
    if (stream !== undefined) {
      this.streams.delete(id);
      stream.ended(new KvError('FrameTooLarge', `stream message of ${length} bytes`));
    }
    const slot = this.pending.get(id);
    if (slot !== undefined) {
      this.pending.delete(id);
      this.owner.answered(slot, null, new KvError('FrameTooLarge', `answer of ${length} bytes`));
    }
    this.socket.destroy();
  }

  private send(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    if (this.ws === null) this.socket.write(frame);
    else this.ws.send(frame.subarray(LENGTH_BYTES), WS_SEND_OPTIONS);
  }

  private die(reason: KvError): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.decoder?.stop();
    const inFlight = [...this.pending.values()];
    this.pending.clear();
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.owner.lost(this, inFlight, reason);
    for (const s of streams) s.ended(reason);
  }
}

const WS_SEND_OPTIONS = Object.freeze({ binary: true, compress: false });

function dialTcp(e: Endpoint, owner: ConnectionOwner, timeoutMs: number, max: number): Promise<ClientConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: e.host, port: e.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(ClientConnection.create(e, socket, null, owner, max));
    });
  });
}

function dialWs(e: Endpoint, owner: ConnectionOwner, timeoutMs: number, max: number): Promise<ClientConnection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(e.url, { perMessageDeflate: false, maxPayload: max, handshakeTimeout: timeoutMs });
    let socket: net.Socket | null = null;
    ws.once('upgrade', (res) => {
      socket = res.socket as net.Socket;
    });
    const onError = (err: Error): void => reject(err);
    ws.once('error', onError);
    ws.once('open', () => {
      ws.off('error', onError);
      if (socket === null) {
        ws.terminate();
        reject(new Error('no socket under the WebSocket'));
        return;
      }
      resolve(ClientConnection.create(e, socket, ws, owner, max));
    });
  });
}
