// Watch streams over the real ws and tcp listeners on 127.0.0.1 (in-process member: memory
// driver, real host, hub and services). Checks the stream frames on the wire with a raw
// client (ids from 0, created replies in request order, events after created, cancel, progress
// request, an undecodable message ending the stream), many watchers multiplexed on one
// connection through the Client, unsubscribe cancelling on the server, catch-up from history
// while writes go on, and a client that stops reading: with 1,000 live watchers on another
// connection under write load, the live ones get every event in time, the stalled
// connection's watchers fall behind without holding memory beyond the configured bounds, and
// once it reads again it gets every event, none twice. Waits are on conditions, never sleeps.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Client } from '../../src/client/client.js';
import { codecOf } from '../../src/codec/messages.js';
import type { WatchResponse } from '../../src/core/api/watch.js';
import { encodeFrame, encodeRawFrame, FrameKind } from '../../src/transports/codec/frame.js';
import { FrameDecoder } from '../../src/transports/codec/frame-decoder.js';
import { Methods } from '../../src/transports/codec/methods.js';
import { startMember, type Member } from '../helpers/watch-member.js';

const b = (s: string): Buffer => Buffer.from(s);
const watchReq = codecOf('etcdserverpb.WatchRequest');
const watchRes = codecOf('etcdserverpb.WatchResponse');
const errorReply = codecOf('etcetera.ErrorReply');

/** Polls `cond` on timer turns until it holds (bounded, so a bug fails instead of hanging). */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw tcp client of the framed protocol that speaks one Watch stream. */
class RawWatch {
  readonly replies: WatchResponse[] = [];
  readonly errors: string[] = [];
  closed = false;
  private readonly decoder: FrameDecoder;
  private constructor(readonly socket: net.Socket, readonly streamId: number) {
    this.decoder = new FrameDecoder(
      {
        onFrame: (f: Buffer) => {
          const kind = f[0];
          if (kind === FrameKind.STREAM_MESSAGE) this.replies.push(watchRes.decode(f.subarray(5)));
          else if (kind === FrameKind.ERROR) this.errors.push(errorReply.decode(f.subarray(5)).message);
          else if (kind === FrameKind.STREAM_CLOSE) this.closed = true;
        },
        onOversized: () => assert.fail('oversized'),
      },
      64 * 1024 * 1024,
    );
    socket.on('data', (c: Buffer) => this.decoder.push(c));
  }
  static async open(url: string, streamId = 1): Promise<RawWatch> {
    const port = Number(new URL(url).port);
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => socket.once('connect', r));
    const raw = new RawWatch(socket, streamId);
    socket.write(encodeRawFrame(FrameKind.STREAM_OPEN, streamId, Methods.Watch.id, null));
    return raw;
  }
  send(req: Parameters<typeof watchReq.encode>[0]): void {
    this.socket.write(encodeFrame(FrameKind.STREAM_MESSAGE, this.streamId, 0, watchReq, req));
  }
  end(): void {
    this.socket.destroy();
  }
}

for (const transport of ['tcp', 'ws'] as const) {
  describe(`watch over ${transport}`, () => {
    let member: Member;
    before(async () => {
      member = await startMember({ transport, hub: { progressNotifyIntervalMs: 60_000 } });
    });
    after(async () => {
      await member.close();
    });

    it('multiplexes many watchers on one connection, each getting its own events', async () => {
      const client = new Client({ endpoints: [member.url] });
      try {
        const n = 50;
        const got: WatchResponse[][] = Array.from({ length: n }, () => []);
        const subs = got.map((list, i) => client.watch(`mx/${i}`).subscribe((r) => list.push(r)));
        await until(() => got.every((l) => l.length === 1), 'created replies');
        assert.ok(got.every((l) => l[0]!.created === true));
        assert.deepEqual(
          got.map((l) => l[0]!.watchId),
          Array.from({ length: n }, (_, i) => i),
          'ids from 0, in create order',
        );
        for (let i = 0; i < n; i++) await client.put({ key: b(`mx/${i}`), value: b(`v${i}`) });
        await until(() => got.every((l) => l.length === 2), 'one event each');
        for (let i = 0; i < n; i++) assert.equal(Buffer.from(got[i]![1]!.events[0]!.kv.value).toString(), `v${i}`);
        assert.equal(member.hub.stats().synced, n);
        for (const s of subs) s.unsubscribe();
        await until(() => member.hub.stats().synced === 0, 'server-side cancel on unsubscribe');
      } finally {
        await client.close();
      }
    });

    if (transport === 'tcp') {
      it('speaks the stream protocol: created in order, events after, cancel, progress, bad message', async () => {
        const raw = await RawWatch.open(member.url);
        try {
          const rev0 = member.host.store.currentRevision;
          raw.send({ createRequest: { key: b('raw/a') } });
          raw.send({ createRequest: { key: b('raw/b'), watchId: 100 } });
          raw.send({ createRequest: { key: b('raw/c'), startRevision: 1 } });
          raw.send({ createRequest: { key: b('raw/d'), watchId: 100 } });
          await until(() => raw.replies.length >= 4, 'four created replies');
          assert.deepEqual(
            raw.replies.slice(0, 4).map((r) => [r.watchId, r.created, r.canceled ?? false]),
            [
              [0, true, false],
              [100, true, false],
              [1, true, false],
              [-1, true, true],
            ],
          );
          assert.ok(raw.replies.every((r) => r.header.revision >= rev0 && r.header.memberId === 11));
          const client = new Client({ endpoints: [member.url] });
          await client.put({ key: b('raw/a'), value: b('x') });
          await until(() => raw.replies.some((r) => r.events.length > 0), 'an event');
          const ev = raw.replies.find((r) => r.events.length > 0)!;
          assert.equal(ev.watchId, 0);
          raw.send({ cancelRequest: { watchId: 0 } });
          raw.send({ progressRequest: {} });
          await until(() => raw.replies.some((r) => r.watchId === -1 && !r.created), 'progress reply');
          const cancel = raw.replies.find((r) => r.watchId === 0 && r.canceled)!;
          assert.ok(cancel !== undefined);
          const progress = raw.replies.find((r) => r.watchId === -1 && !r.created)!;
          assert.equal(progress.header.revision, member.hub.revision);
          // An undecodable message ends the stream with an error; the connection lives on.
          raw.socket.write(encodeRawFrame(FrameKind.STREAM_MESSAGE, 1, 0, Buffer.from([0xff, 0xff, 0xff])));
          await until(() => raw.errors.length === 1, 'stream error');
          assert.match(raw.errors[0]!, /^etcetera: malformed request/);
          await client.close();
        } finally {
          raw.end();
        }
      });
    }

    it('catches a watcher up from history while writes continue, then goes live', async () => {
      const client = new Client({ endpoints: [member.url] });
      try {
        const first = (await client.put({ key: b('cu/0'), value: b('0') })).header.revision;
        for (let i = 1; i < 1500; i++) void client.put({ key: b(`cu/${i % 10}`), value: b(`${i}`) });
        await client.put({ key: b('cu/x'), value: b('mid') });
        const seen: number[] = [];
        const sub = client.watchEvents('cu/', { prefix: true, startRevision: first }).subscribe((e) => seen.push(e.kv.modRevision));
        const writes: Promise<unknown>[] = [];
        for (let i = 0; i < 500; i++) writes.push(client.put({ key: b(`cu/${i % 10}`), value: b(`live${i}`) }));
        const last = Math.max(...(await Promise.all(writes)).map((r) => (r as { header: { revision: number } }).header.revision));
        await until(() => seen.length > 0 && seen[seen.length - 1]! >= last, 'caught up with the last write');
        // Every revision from `first` to `last` touched the prefix exactly once.
        assert.deepEqual(seen, Array.from({ length: last - first + 1 }, (_, i) => first + i));
        sub.unsubscribe();
      } finally {
        await client.close();
      }
    });
  });
}

describe('a client that stops reading', () => {
  it('does not hold up 1,000 live watchers, stays bounded, and catches up when it reads again', async () => {
    const maxQueuedBytes = 256 * 1024;
    const queueEventsMax = 64;
    const member = await startMember({ transport: 'tcp', maxQueuedBytes, hub: { queueEventsMax } });
    const client = new Client({ endpoints: [member.url] });
    const writer = new Client({ endpoints: [member.url] });
    const raw = await RawWatch.open(member.url);
    try {
      const stalledWatchers = 20;
      for (let i = 0; i < stalledWatchers; i++) raw.send({ createRequest: { key: b('big/'), rangeEnd: b('big0') } });
      await until(() => raw.replies.length === stalledWatchers, 'stalled watchers created');
      raw.socket.pause(); // stop reading: the kernel buffers fill, then the server's queue

      const live = 1000;
      const counts = new Array<number>(live).fill(0);
      const subs = counts.map((_, i) => client.watchEvents('small/', { prefix: true }).subscribe(() => counts[i]!++));
      await until(() => member.hub.stats().synced >= live + stalledWatchers, 'live watchers created');

      const puts = 200;
      const big = Buffer.alloc(8 * 1024, 0x62);
      let maxQueued = 0;
      let maxQueuedEvents = 0;
      for (let i = 0; i < puts; i++) {
        await Promise.all([
          writer.put({ key: b(`small/${i % 10}`), value: b(`${i}`) }),
          writer.put({ key: b(`big/${i % 10}`), value: big }),
        ]);
        maxQueued = Math.max(maxQueued, member.stats().queuedBytes);
        maxQueuedEvents = Math.max(maxQueuedEvents, member.hub.queuedEvents());
      }
      if (process.env['WATCH_DEBUG']) console.log({ maxQueued, maxQueuedEvents, stats: member.hub.stats() });
      // The live watchers keep up: every event reaches every one of them.
      await until(() => counts.every((c) => c === puts), 'live watchers got every event');
      const stats = member.hub.stats();
      assert.ok(stats.victims > 0, 'the stalled watchers fell behind');
      assert.ok(stats.victims <= stalledWatchers, 'only the stalled ones');
      // Bounded: the connection's outbound queue stays near its cap (one reply over at most per
      // watcher, and the frames of one revision's fan-out), and watcher queues near their limit.
      assert.ok(maxQueued <= maxQueuedBytes + stalledWatchers * (big.length + 1024), `outbound queue reached ${maxQueued} bytes`);
      assert.ok(maxQueuedEvents <= (live + stalledWatchers) * queueEventsMax, `queued events reached ${maxQueuedEvents}`);

      // Read again: every stalled watcher catches up from history, no gap, no duplicate.
      raw.socket.resume();
      await until(
        () => raw.replies.filter((r) => r.events.length > 0).flatMap((r) => r.events).length === stalledWatchers * puts,
        'stalled watchers caught up',
        20_000,
      );
      const byWatcher = new Map<number, number[]>();
      for (const r of raw.replies) {
        if (r.events.length === 0) continue;
        const list = byWatcher.get(r.watchId) ?? [];
        list.push(...r.events.map((e) => e.kv.modRevision));
        byWatcher.set(r.watchId, list);
      }
      assert.equal(byWatcher.size, stalledWatchers);
      const bigRevs = byWatcher.get(0)!;
      for (const revs of byWatcher.values()) {
        assert.deepEqual(revs, bigRevs, 'every stalled watcher saw the same events');
        for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, 'strictly increasing');
      }
      assert.equal(new Set(bigRevs).size, puts);
      await until(() => member.hub.stats().victims === 0, 'all synced again');
      for (const s of subs) s.unsubscribe();
    } finally {
      raw.end();
      await client.close();
      await writer.close();
      await member.close();
    }
  });
});
