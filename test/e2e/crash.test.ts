// Crash safety end to end: for each persistent driver, runs the real server process, writes
// under concurrency (32 in flight) over ws and tcp, kill -9s it mid-load at seeded points,
// restarts it on the same data dir and checks that every acknowledged write is there at its
// revision, that revisions never go backwards, and that each key's current value agrees with
// the model: its last acknowledged write, or a write that was in flight when the server died.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { startServer, tempDir } from './harness.js';
import { join } from 'node:path';
import { mulberry32 } from '../helpers/random.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();

interface Acked {
  key: string;
  value: string;
  revision: number;
}

for (const driver of ['lmdb', 'sqlite'] as const) {
  test(`kill -9 mid-load loses no acknowledged write (${driver})`, { timeout: 120_000 }, async () => {
    const seed = Number(process.env['SEED'] ?? 20261124);
    const rand = mulberry32(seed + (driver === 'lmdb' ? 0 : 1));
    const dataDir = join(tempDir(`crash-${driver}`), 'member');
    const acked: Acked[] = [];
    const lastAcked = new Map<string, Acked>();
    // Values sent but never acknowledged, per key: each may or may not have happened.
    const unknown = new Map<string, Set<string>>();
    let maxRevision = 0;
    const keys = Array.from({ length: 16 }, (_, i) => `k${i}`);

    for (let round = 0; round < 3; round++) {
      const server = await startServer({ driver, dataDir });
      const client = new Client({ endpoints: [round % 2 === 0 ? server.tcp : server.ws], timeoutMs: 10_000 });
      try {
        // Everything acknowledged before is still there, at its revision.
        const first = await client.range({ key: enc('k0') });
        assert.ok(first.header.revision >= maxRevision, `revision went back: ${first.header.revision} < ${maxRevision}`);
        await verify(client, acked, lastAcked, unknown, keys);
        const target = 100 + Math.floor(rand() * 300);
        let ackedThisRound = 0;
        let killed = false;
        let counter = 0;
        let reached!: () => void;
        const killedP = new Promise<void>((r) => (reached = r)).then(async () => {
          killed = true;
          await server.kill();
        });
        const writer = async (): Promise<void> => {
          while (!killed) {
            const key = keys[Math.floor(rand() * keys.length)]!;
            const value = `v${round}.${counter++}`;
            let set = unknown.get(key);
            if (set === undefined) unknown.set(key, (set = new Set()));
            set.add(value);
            try {
              const r = await client.put({ key: enc(key), value: enc(value) });
              set.delete(value);
              const a = { key, value, revision: r.header.revision };
              assert.ok(a.revision > (lastAcked.get(key)?.revision ?? 0));
              acked.push(a);
              lastAcked.set(key, a);
              maxRevision = Math.max(maxRevision, a.revision);
              if (++ackedThisRound === target) reached();
            } catch {
              return; // the server died: this write's outcome is unknown
            }
          }
        };
        await Promise.all([...Array.from({ length: 32 }, writer), killedP]);
      } finally {
        await client.close();
        await server.kill().catch(() => {});
      }
    }
    const server = await startServer({ driver, dataDir });
    const client = new Client({ endpoints: [server.ws] });
    try {
      await verify(client, acked, lastAcked, unknown, keys);
      const s = await client.status();
      assert.ok(s.header.revision >= maxRevision);
    } finally {
      await client.close();
      assert.equal(await server.stop(), 0);
    }
    assert.ok(acked.length >= 300, `only ${acked.length} writes were acknowledged`);
  });
}

async function verify(
  client: Client,
  acked: readonly Acked[],
  lastAcked: ReadonlyMap<string, Acked>,
  unknown: ReadonlyMap<string, ReadonlySet<string>>,
  keys: readonly string[],
): Promise<void> {
  // Every acknowledged write, read at its own revision.
  for (let i = 0; i < acked.length; i += 64) {
    await Promise.all(
      acked.slice(i, i + 64).map(async (a) => {
        const r = await client.range({ key: enc(a.key), revision: a.revision });
        assert.equal(r.kvs.length, 1, `${a.key}@${a.revision} is missing`);
        assert.equal(dec(r.kvs[0]!.value), a.value, `${a.key}@${a.revision}`);
        assert.equal(r.kvs[0]!.modRevision, a.revision);
      }),
    );
  }
  // Current values agree with the model.
  for (const key of keys) {
    const r = await client.range({ key: enc(key) });
    const last = lastAcked.get(key);
    if (r.kvs.length === 0) {
      assert.equal(last, undefined, `${key} vanished`);
      continue;
    }
    const kv = r.kvs[0]!;
    const value = dec(kv.value);
    if (last !== undefined && kv.modRevision === last.revision) {
      assert.equal(value, last.value);
    } else {
      assert.ok(kv.modRevision > (last?.revision ?? 0), `${key} is older than its last acknowledged write`);
      assert.ok(unknown.get(key)?.has(value), `${key}=${value} was never written`);
    }
  }
}
