// A real three-member cluster of server processes on loopback: writes sent to any member
// succeed, linearizable reads are served by any member, serializable reads are local; kill -9
// of the leader under a write load elects a new leader and writes resume, the killed member
// restarts and catches up (from a snapshot, since its log position was compacted away), every
// acknowledged write is on every member and the members' key-space hashes are equal; a
// SIGSTOPped leader steps down after SIGCONT without disturbing the new leader; and the ws
// peer transport works as the tcp one does.
import { eventually } from '../helpers/eventually.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { Cluster } from './cluster-harness.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();


/** Waits until every running member applied the same index; returns it. */
async function converged(c: Cluster): Promise<number> {
  return eventually(async () => {
    const applied = await Promise.all(
      c.members.map(async (m, i) => {
        const cl = c.client(i);
        try {
          return (await cl.status()).raftAppliedIndex;
        } finally {
          await cl.close();
        }
      }),
    );
    assert.ok(applied.every((a) => a === applied[0]), `applied indexes differ: ${applied.join(', ')}`);
    return applied[0]!;
  });
}

async function sameHashes(c: Cluster): Promise<void> {
  await converged(c);
  const hashes = await Promise.all(
    c.members.map(async (_, i) => {
      const cl = c.client(i);
      try {
        const h = await cl.hashKV();
        return `${h.header.revision}:${h.hash}`;
      } finally {
        await cl.close();
      }
    }),
  );
  assert.ok(hashes.every((h) => h === hashes[0]), `hashes differ: ${hashes.join(' ')}`);
}

test('three members: writes via any member, linearizable and serializable reads', { timeout: 60_000 }, async () => {
  const c = await Cluster.start({ driver: 'memory' });
  try {
    const leader = await c.leader();
    for (let i = 0; i < 3; i++) {
      const cl = c.client(i, i % 2 === 0 ? 'ws' : 'tcp');
      try {
        await eventually(() => cl.put({ key: enc(`via/${i}`), value: enc(`m${i + 1}`) }));
      } finally {
        await cl.close();
      }
    }
    for (let i = 0; i < 3; i++) {
      const cl = c.client(i);
      try {
        const r = await cl.range({ key: enc('via/'), rangeEnd: enc('via0') });
        assert.deepEqual(r.kvs.map((kv) => dec(kv.value)), ['m1', 'm2', 'm3'], `linearizable read on member ${i + 1}`);
        const s = await cl.range({ key: enc('via/'), rangeEnd: enc('via0'), serializable: true });
        assert.ok(s.count <= 3);
        const st = await cl.status();
        assert.equal(st.leader !== 0, true);
        assert.equal(st.leader === st.header.memberId, i === leader);
      } finally {
        await cl.close();
      }
    }
    // Many concurrent linearizable reads on every member at once: each member's ReadIndex
    // rounds reach the leader together and must each be answered (their contexts must not clash).
    const readers = [0, 1, 2].map((i) => c.client(i, 'tcp'));
    try {
      await Promise.all(
        readers.flatMap((cl) => Array.from({ length: 200 }, () => cl.range({ key: enc('via/1') }, { timeoutMs: 3000 }))),
      );
    } finally {
      for (const cl of readers) await cl.close();
    }
    await sameHashes(c);
  } finally {
    await c.stop();
  }
});

test('kill -9 the leader under load: failover, catch-up by snapshot, nothing acknowledged lost', { timeout: 120_000 }, async () => {
  const c = await Cluster.start({ driver: 'lmdb', snapshotCount: 50 });
  try {
    const leader = await c.leader();
    const others = [0, 1, 2].filter((i) => i !== leader);
    const acked = new Map<string, string>();
    let stop = false;
    let n = 0;
    // Writers spread over the two members that will survive; each retries through the election.
    const writer = async (w: number): Promise<void> => {
      const cl = new Client({ endpoints: others.map((i) => c.members[i]!.server!.ws), timeoutMs: 3000 });
      try {
        while (!stop) {
          const key = `load/${w}/${n++}`;
          try {
            await cl.put({ key: enc(key), value: enc(key) });
            acked.set(key, key);
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      } finally {
        await cl.close();
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    while (acked.size < 200) await new Promise((r) => setTimeout(r, 10));
    const killedAt = Date.now();
    const before = acked.size;
    await c.members[leader]!.server!.kill();
    c.members[leader]!.server = undefined;
    const newLeader = await c.leader();
    assert.notEqual(newLeader, leader);
    while (acked.size < before + 300) await new Promise((r) => setTimeout(r, 10));
    const resumedMs = Date.now() - killedAt;
    stop = true;
    await Promise.all(writers);
    // The killed member comes back and catches up; 300+ entries later its position is compacted.
    await c.startMember(leader);
    await sameHashes(c);
    for (let i = 0; i < 3; i++) {
      const cl = c.client(i);
      try {
        const r = await cl.range({ key: enc('load/'), rangeEnd: enc('load0'), serializable: true });
        const have = new Set(r.kvs.map((kv) => dec(kv.key)));
        for (const k of acked.keys()) assert.ok(have.has(k), `member ${i + 1} lacks acknowledged ${k}`);
      } finally {
        await cl.close();
      }
    }
    const restarted = c.members[leader]!.server!;
    assert.ok(
      restarted.logs.some((l) => l['msg'] === 'applied a snapshot from the leader'),
      'the restarted member caught up from a snapshot',
    );
    process.stdout.write(`# failover: writes resumed ${resumedMs} ms after kill -9 of the leader\n`);
  } finally {
    await c.stop();
  }
});

test('a SIGSTOPped leader steps down after SIGCONT without disturbing the new leader', { timeout: 60_000 }, async () => {
  const c = await Cluster.start({ driver: 'memory' });
  try {
    const leader = await c.leader();
    const proc = c.members[leader]!.server!.proc;
    proc.kill('SIGSTOP');
    // The other two elect a leader among themselves.
    const others = [0, 1, 2].filter((i) => i !== leader);
    const cl = new Client({ endpoints: others.map((i) => c.members[i]!.server!.ws), timeoutMs: 3000 });
    try {
      await eventually(() => cl.put({ key: enc('during-stop'), value: enc('1') }));
      const st = await cl.status();
      const newLeaderId = st.leader;
      const term = st.raftTerm;
      proc.kill('SIGCONT');
      // The old leader rejoins as a follower of the same leader, same term.
      const back = c.client(leader);
      try {
        await eventually(async () => {
          const s = await back.status();
          assert.equal(s.leader, newLeaderId);
          assert.equal(s.raftTerm, term);
        });
        await eventually(() => cl.put({ key: enc('after-cont'), value: enc('2') }));
        const s2 = await cl.status();
        assert.equal(s2.leader, newLeaderId, 'the new leader kept its leadership');
        assert.equal(s2.raftTerm, term, 'no new election was forced');
        const r = await back.range({ key: enc('after-cont') });
        assert.equal(r.count, 1);
      } finally {
        await back.close();
      }
    } finally {
      await cl.close();
    }
  } finally {
    await c.stop();
  }
});

test('members talk over the ws peer transport too', { timeout: 60_000 }, async () => {
  const c = await Cluster.start({ driver: 'sqlite', peerTransport: 'ws' });
  try {
    await c.leader();
    const cl = new Client({ endpoints: c.urls('tcp'), timeoutMs: 5000 });
    try {
      for (let i = 0; i < 20; i++) await eventually(() => cl.put({ key: enc(`ws/${i}`), value: enc(String(i)) }));
    } finally {
      await cl.close();
    }
    await sameHashes(c);
  } finally {
    await c.stop();
  }
});
