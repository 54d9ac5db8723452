// Runs the peer-transport conformance suite (test/conformance/peer-transport.suite.ts) against
// WsPeerTransport over real sockets on 127.0.0.1, port 0; the raw connection it uses for
// garbage is a plain `ws` client sending one frame per binary message.
import WebSocket from 'ws';
import { WsPeerTransport } from '../../src/transports/peer/ws-peer-transport.js';
import { LENGTH_BYTES } from '../../src/transports/peer/peer-frame.js';
import { Inbox, peerTransportSuite, type RawPeer } from '../conformance/peer-transport.suite.js';

peerTransportSuite({
  name: 'ws',
  create: (options, logger) => new WsPeerTransport(options, logger),
  url: (port) => `ws://127.0.0.1:${port}`,
  async raw(port): Promise<RawPeer> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/raft`, { perMessageDeflate: false });
    ws.on('error', () => {});
    const frames = new Inbox<Buffer>();
    ws.on('message', (data: Buffer) => frames.push(data));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    return {
      sendFrame: (frame) => ws.send(frame.subarray(LENGTH_BYTES)),
      // Frames are binary messages; a text message is not one.
      sendJunk: () => ws.send('hello'),
      frames,
      closed,
      destroy: () => ws.terminate(),
    };
  },
});
