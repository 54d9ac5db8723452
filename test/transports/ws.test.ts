// Runs the client-transport conformance suite (test/conformance/transport.suite.ts) against
// WsTransport on 127.0.0.1, port 0.
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
