// Checks listener option handling: listen-address parsing (IPv4, bracketed IPv6, empty host,
// tolerated scheme) and the validation of every limit, with the defaults filled in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_CALLS_PER_CONNECTION,
  DEFAULT_MAX_FRAME_BYTES,
  limitsOf,
  parseAddress,
} from '../../src/transports/codec/options.js';

test('parseAddress accepts host:port forms and refuses the rest', () => {
  const cases: [string, { host: string; port: number }][] = [
    ['127.0.0.1:2381', { host: '127.0.0.1', port: 2381 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    [':2379', { host: '', port: 2379 }],
    ['tcp://127.0.0.1:2382', { host: '127.0.0.1', port: 2382 }],
    ['ws://0.0.0.0:2381/', { host: '0.0.0.0', port: 2381 }],
  ];
  for (const [address, want] of cases) assert.deepEqual(parseAddress(address), want, address);
  for (const bad of ['127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '::1:80', 'host:port', '']) {
    assert.throws(() => parseAddress(bad), RangeError, bad);
  }
});

test('limitsOf validates every limit and fills in the default call limit', () => {
  assert.equal(DEFAULT_MAX_FRAME_BYTES, 2 * 1024 * 1024);
  assert.deepEqual(limitsOf({ address: ':0', maxFrameBytes: 1000, maxQueuedBytes: 1 }), {
    maxFrameBytes: 1000,
    maxQueuedBytes: 1,
    maxCallsPerConnection: DEFAULT_MAX_CALLS_PER_CONNECTION,
  });
  assert.throws(() => limitsOf({ address: ':0', maxFrameBytes: 10, maxQueuedBytes: 1 }), /maxFrameBytes/);
  assert.throws(() => limitsOf({ address: ':0', maxFrameBytes: 1.5, maxQueuedBytes: 1 }), /maxFrameBytes/);
  assert.throws(() => limitsOf({ address: ':0', maxFrameBytes: 1000, maxQueuedBytes: 0 }), /maxQueuedBytes/);
  assert.throws(
    () => limitsOf({ address: ':0', maxFrameBytes: 1000, maxQueuedBytes: 1, maxCallsPerConnection: 0 }),
    /maxCallsPerConnection/,
  );
});
