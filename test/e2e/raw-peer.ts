// A raw client of the framed protocol for end-to-end tests of bad input: sends arbitrary bytes
// over tcp or ws and collects the frames the server answers with, decoded just enough to check
// kinds, ids and error replies.
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { codecOf } from '../../src/codec/messages.js';
import { FrameDecoder } from '../../src/transports/codec/frame-decoder.js';
import { FrameKind, HEADER_BYTES } from '../../src/transports/codec/frame.js';

export interface Reply {
  kind: number;
  id: number;
  /** For ERROR frames. */
  status?: number;
  message?: string;
  payload: Buffer;
}

export interface RawPeer {
  send(bytes: Uint8Array): void;
  /** Resolves with the next reply whose id is `id` (or any reply when undefined). */
  next(id?: number): Promise<Reply>;
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
}

function parse(frame: Buffer): Reply {
  const kind = frame[0]!;
  const id = frame.readUInt32BE(1);
  const payload = frame.subarray(HEADER_BYTES);
  if (kind === FrameKind.ERROR) {
    const e = codecOf('etcetera.ErrorReply').decode(payload);
    return { kind, id, status: e.status, message: e.message, payload };
  }
  return { kind, id, payload };
}

function makePeer(sendImpl: (b: Uint8Array) => void, closeImpl: () => void): {
  peer: RawPeer;
  push(r: Reply): void;
  end(): void;
} {
  const replies: Reply[] = [];
  const waiters: { id: number | undefined; resolve(r: Reply): void; reject(e: Error): void }[] = [];
  let closed = false;
  let onClosed!: () => void;
  const closedP = new Promise<void>((r) => (onClosed = r));
  const deliver = (): void => {
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      const j = replies.findIndex((r) => w.id === undefined || r.id === w.id);
      if (j >= 0) {
        waiters.splice(i--, 1);
        w.resolve(replies.splice(j, 1)[0]!);
      }
    }
    if (closed) for (const w of waiters.splice(0)) w.reject(new Error('connection closed'));
  };
  return {
    peer: {
      send: sendImpl,
      next(id?: number) {
        return new Promise<Reply>((resolve, reject) => {
          waiters.push({ id, resolve, reject });
          deliver();
        });
      },
      closed: closedP,
      isClosed: () => closed,
      close: closeImpl,
    },
    push(r) {
      replies.push(r);
      deliver();
    },
    end() {
      closed = true;
      onClosed();
      deliver();
    },
  };
}

/** Opens a raw tcp connection to `url` (tcp://host:port). */
export async function rawTcp(url: string, maxFrameBytes = 64 * 1024 * 1024): Promise<RawPeer> {
  const u = new URL(url);
  const socket: Socket = connect(Number(u.port), u.hostname);
  await new Promise<void>((res, rej) => {
    socket.once('connect', res);
    socket.once('error', rej);
  });
  const p = makePeer(
    (b) => {
      if (!socket.destroyed) socket.write(b);
    },
    () => socket.destroy(),
  );
  const decoder = new FrameDecoder(
    { onFrame: (f) => p.push(parse(f)), onOversized: () => socket.destroy() },
    maxFrameBytes,
  );
  socket.on('data', (d: Buffer) => decoder.push(d));
  socket.on('error', () => {});
  socket.on('close', () => p.end());
  return p.peer;
}

/** Opens a raw ws connection to `url` (ws://host:port). Each send is one ws message. */
export async function rawWs(url: string): Promise<RawPeer> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  const p = makePeer(
    (b) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(b);
    },
    () => ws.terminate(),
  );
  ws.on('message', (d: Buffer) => p.push(parse(d)));
  ws.on('error', () => {});
  ws.on('close', () => p.end());
  return p.peer;
}
