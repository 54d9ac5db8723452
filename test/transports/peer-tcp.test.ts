// Runs the peer-transport conformance suite (test/conformance/peer-transport.suite.ts) against
// TcpPeerTransport over real sockets on 127.0.0.1, port 0; the raw connection it uses for
// garbage is a plain TCP socket reading length-prefixed frames.
import net from 'node:net';
import { TcpPeerTransport } from '../../src/transports/peer/tcp-peer-transport.js';
import { PeerFrameDecoder } from '../../src/transports/peer/peer-frame.js';
import { Inbox, peerTransportSuite, type RawPeer } from '../conformance/peer-transport.suite.js';

peerTransportSuite({
  name: 'tcp',
  create: (options, logger) => new TcpPeerTransport(options, logger),
  url: (port) => `tcp://127.0.0.1:${port}`,
  async raw(port): Promise<RawPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const frames = new Inbox<Buffer>();
    const decoder = new PeerFrameDecoder({ onFrame: (f) => frames.push(Buffer.from(f)), onFrameError: () => socket.destroy() }, 1 << 20);
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    return {
      sendFrame: (frame) => socket.write(frame),
      // A length prefix of 4 GiB - 1: far beyond any limit.
      sendJunk: () => socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5])),
      frames,
      closed,
      destroy: () => socket.destroy(),
    };
  },
});
