// Runs the client-transport conformance suite (test/conformance/transport.suite.ts) against
// TcpTransport on 127.0.0.1, port 0.
import { TcpTransport } from '../../src/transports/tcp/tcp-transport.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_QUEUED_BYTES } from '../../src/transports/codec/options.js';
import { transportSuite } from '../conformance/transport.suite.js';

transportSuite({
  name: 'tcp',
  resyncsAfterOversized: false,
  async start(services, logger, limits) {
    const t = new TcpTransport(
      services,
      { address: '127.0.0.1:0', maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES, ...limits },
      logger,
    );
    const { port } = await t.listen();
    return { url: `tcp://127.0.0.1:${port}`, stats: () => t.stats(), close: () => t.close() };
  },
});
