// Runs the client-transport conformance suite (test/conformance/transport.suite.ts) against
// WsTransport on 127.0.0.1, port 0, plus one ws-only check: a text message (not a frame) is
// answered with an error on id 0 and the connection keeps being served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { codecOf } from '../../src/codec/messages.js';
import { Status } from '../../src/core/errors.js';
import { encodeFrame, FrameKind, LENGTH_BYTES } from '../../src/transports/codec/frame.js';
import { Methods } from '../../src/transports/codec/methods.js';
import { FakeServices, MemoryLogger } from '../helpers/fake-services.js';
import { WsTransport } from '../../src/transports/ws/ws-transport.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_QUEUED_BYTES } from '../../src/transports/codec/options.js';
import { transportSuite } from '../conformance/transport.suite.js';

transportSuite({
  name: 'ws',
  resyncsAfterOversized: true,
  async start(services, logger, limits) {
    const t = new WsTransport(
      services,
      { address: '127.0.0.1:0', maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES, ...limits },
      logger,
    );
    const { port } = await t.listen();
    return { url: `ws://127.0.0.1:${port}`, stats: () => t.stats(), close: () => t.close() };
  },
});

test('ws: a text message gets a malformed-request error on id 0, the connection stays', async (t) => {
  const server = new WsTransport(new FakeServices(), { address: '127.0.0.1:0', maxFrameBytes: 4096, maxQueuedBytes: 1 << 20 }, new MemoryLogger());
  const { port } = await server.listen();
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  t.after(async () => {
    ws.terminate();
    await server.close();
  });
  await new Promise((r) => ws.once('open', r));
  const frames: Buffer[] = [];
  let wake: () => void = () => {};
  ws.on('message', (d: Buffer) => {
    frames.push(d);
    wake();
  });
  const next = async (): Promise<Buffer> => {
    while (frames.length === 0) await new Promise<void>((r) => (wake = r));
    return frames.shift()!;
  };
  ws.send('hello', { binary: false });
  const e = await next();
  assert.equal(e[0], FrameKind.ERROR);
  assert.equal(e.readUInt32BE(1), 0);
  const reply = codecOf('etcetera.ErrorReply').decode(e.subarray(5));
  assert.equal(reply.status, Status.INVALID_ARGUMENT);
  assert.ok(reply.message.startsWith('etcetera: malformed request'));
  const put = encodeFrame(FrameKind.REQUEST, 1, Methods.Put.id, Methods.Put.request, { key: Buffer.from('k') });
  ws.send(put.subarray(LENGTH_BYTES));
  const ok = await next();
  assert.equal(ok[0], FrameKind.RESPONSE);
  assert.equal(ok.readUInt32BE(1), 1);
});
