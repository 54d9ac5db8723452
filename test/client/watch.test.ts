// The client's watch Observables against an in-process member over real tcp sockets:
// resumption after the connection drops while writes go on (no gap, no duplicate), fragments
// of a large catch-up reply joined into one emission, a refused create (empty range) as an
// error, unsubscribe before the created reply still cancelling on the server, and closing the
// client ending its watches with TransportClosed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import type { WatchResponse } from '../../src/core/api/watch.js';
import { KvError } from '../../src/core/errors.js';
import { startMember, type Member } from '../helpers/watch-member.js';

const b = (s: string): Buffer => Buffer.from(s);

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Drops the client's connection as a network failure would. */
function dropConnection(client: Client): void {
  const conn = (client as unknown as { conn: { socket: { destroy(): void } } | null }).conn;
  assert.ok(conn !== null);
  conn.socket.destroy();
}

describe('Client.watch', () => {
  let member: Member;
  before(async () => {
    member = await startMember({ transport: 'tcp' });
  });
  after(async () => {
    await member.close();
  });

  it('resumes after the connection drops, from the last revision seen + 1', async () => {
    const client = new Client({ endpoints: [member.url] });
    const writer = new Client({ endpoints: [member.url] });
    try {
      const start = (await writer.put({ key: b('res/0'), value: b('0') })).header.revision;
      const revs: number[] = [];
      const sub = client.watchEvents('res/', { prefix: true, startRevision: start }).subscribe((e) => revs.push(e.kv.modRevision));
      let last = start;
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 50; i++) last = (await writer.put({ key: b(`res/${i % 5}`), value: b(`${round}.${i}`) })).header.revision;
        await until(() => revs.length > 0 && revs[revs.length - 1]! >= last - 10, 'events flowing');
        dropConnection(client);
      }
      for (let i = 0; i < 20; i++) last = (await writer.put({ key: b('res/x'), value: b(`${i}`) })).header.revision;
      await until(() => revs[revs.length - 1] === last, 'the last write');
      assert.deepEqual(revs, Array.from({ length: last - start + 1 }, (_, i) => start + i));
      sub.unsubscribe();
    } finally {
      await client.close();
      await writer.close();
    }
  });

  it('joins the fragments of a large reply into one emission', async () => {
    const client = new Client({ endpoints: [member.url] });
    try {
      const big = Buffer.alloc(700 * 1024, 0x61);
      const first = (await client.put({ key: b('frag/1'), value: big })).header.revision;
      await client.put({ key: b('frag/2'), value: big });
      await client.put({ key: b('frag/3'), value: big });
      const replies: WatchResponse[] = [];
      const sub = client.watch('frag/', { prefix: true, startRevision: first, fragment: true }).subscribe((r) => replies.push(r));
      await until(() => replies.length === 2, 'created + one joined reply');
      assert.deepEqual(replies[1]!.events.map((e) => e.kv.modRevision), [first, first + 1, first + 2]);
      assert.notEqual(replies[1]!.fragment, true);
      sub.unsubscribe();
    } finally {
      await client.close();
    }
  });

  it('errors on a refused create, and cancels on the server even before the created reply', async () => {
    const client = new Client({ endpoints: [member.url] });
    try {
      let err: unknown;
      client.watch('z', { rangeEnd: 'a' }).subscribe({ error: (e) => (err = e) });
      await until(() => err !== undefined, 'refusal');
      assert.ok(err instanceof KvError && err.message.endsWith('mvcc: watcher range is empty'));
      const keep = client.watch('keep').subscribe();
      const gone = client.watch('gone').subscribe();
      gone.unsubscribe(); // its create is still in flight
      await until(() => member.hub.stats().synced === 1, 'only one watcher left on the server');
      keep.unsubscribe();
      await until(() => member.hub.stats().synced === 0, 'none left');
    } finally {
      await client.close();
    }
  });

  it('ends its watches with TransportClosed when the client closes', async () => {
    const client = new Client({ endpoints: [member.url] });
    let err: unknown;
    const created: WatchResponse[] = [];
    client.watch('c').subscribe({ next: (r) => created.push(r), error: (e) => (err = e) });
    await until(() => created.length === 1, 'created');
    await client.close();
    assert.ok(err instanceof KvError && err.code === 'TransportClosed');
  });
});
