// Child process of the peer-transport suite's close() check (not a test file itself): runs three
// members of the transport named in argv[2] ("tcp" | "ws") as a mesh, leaves a dial hanging on a
// server that never answers and another in backoff after a refused connection, exchanges
// messages, closes everything, and then simply returns. The parent asserts that the process
// exits on its own: a socket, server or timer left behind by close() would keep it alive.
import net from 'node:net';
import { silentLogger } from '../../src/core/ports/logger.js';
import type { PeerTransport } from '../../src/core/ports/peer-transport.js';
import { message, MessageType, type Message } from '../../src/core/raft/messages.js';
import type { PeerTransportOptions } from '../../src/transports/peer/peer-options.js';
import { TcpPeerTransport } from '../../src/transports/peer/tcp-peer-transport.js';
import { WsPeerTransport } from '../../src/transports/peer/ws-peer-transport.js';

const kind = process.argv[2];
if (kind !== 'tcp' && kind !== 'ws') throw new Error(`usage: peer-exit-child.js tcp|ws (got ${kind})`);
const create = (o: PeerTransportOptions): PeerTransport => (kind === 'tcp' ? new TcpPeerTransport(o, silentLogger) : new WsPeerTransport(o, silentLogger));
const url = (port: number): string => `${kind}://127.0.0.1:${port}`;

// A server that accepts and never says a word: a dial to it stays in its handshake. (It reads
// and discards, so that it sees the hang-up and its close() can complete.)
const silent = net.createServer((socket) => socket.resume());
await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
const silentPort = (silent.address() as net.AddressInfo).port;
// A port nobody listens on (bound, then released): a dial to it is refused.
const refused = net.createServer();
await new Promise<void>((r) => refused.listen(0, '127.0.0.1', r));
const refusedPort = (refused.address() as net.AddressInfo).port;
await new Promise<void>((r) => refused.close(() => r()));

const members = [1, 2, 3].map((id) => ({ id, t: create({ memberId: id, clusterId: 77, listenAddress: '127.0.0.1:0' }), got: [] as Message[] }));
const ports: number[] = [];
for (const m of members) ports.push((await m.t.start()).port);
let wake: () => void = () => {};
for (const m of members) {
  m.t.onMessage((msg) => {
    m.got.push(msg);
    wake();
  });
  members.forEach((o, i) => {
    if (o !== m) m.t.setPeer(o.id, url(ports[i]!));
  });
}
members[0]!.t.setPeer(9, url(silentPort));
members[0]!.t.setPeer(8, url(refusedPort));
let unreachable8 = false;
members[0]!.t.onUnreachable((id) => {
  if (id === 8) unreachable8 = true;
  wake();
});
for (const m of members) {
  m.t.send(members.filter((o) => o !== m).map((o) => message({ type: MessageType.Heartbeat, from: m.id, to: o.id, term: 1, commit: 1 })));
}
members[0]!.t.send([message({ type: MessageType.Heartbeat, from: 1, to: 9, term: 1 }), message({ type: MessageType.Heartbeat, from: 1, to: 8, term: 1 })]);
while (members.some((m) => m.got.length < 2) || !unreachable8) await new Promise<void>((r) => (wake = r));

for (const m of members) await m.t.close();
await new Promise<void>((r) => silent.close(() => r()));
console.log('closed cleanly');
