// etceteractl watch, run in-process against an in-process member over real tcp sockets (the
// real client library): etcdctl's simple output (PUT/DELETE, prev kv, key and value lines),
// -w json (clientv3's WatchResponse marshalled), --rev from history, --prefix and range_end,
// --progress-notify lines, the compaction cancel (stderr line, exit 5), argument errors, and
// interactive mode (`watch …` lines, `progress`, exit 3 at end of input). The test ends a watch
// by completing its Observable, which the command reports as a cancel by the server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Subject, takeUntil } from 'rxjs';
import { Client } from '../../src/client/client.js';
import { run } from '../../src/cli/main.js';
import type { CliClient } from '../../src/cli/context.js';
import { startMember, type Member } from '../helpers/watch-member.js';

const b = (s: string): Buffer => Buffer.from(s);

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One CLI run in the background: its output so far, a way to end its watches, its exit. */
interface Running {
  out(): string;
  err(): string;
  /** Ends every watch of the run (as if the server cancelled them). */
  stop(): void;
  /** Feeds one stdin line; `endInput()` closes stdin. */
  line(s: string): void;
  endInput(): void;
  code: Promise<number>;
}

function start(member: Member, argv: string[]): Running {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stop$ = new Subject<void>();
  const lines: (string | null)[] = [];
  let wake: (() => void) | null = null;
  async function* stdin(): AsyncGenerator<string> {
    for (;;) {
      while (lines.length === 0) await new Promise<void>((r) => (wake = r));
      const l = lines.shift()!;
      if (l === null) return;
      yield l;
    }
  }
  const push = (l: string | null): void => {
    lines.push(l);
    wake?.();
  };
  const code = run(
    ['--endpoints', member.url, ...argv],
    {
      stdout: { write: (c: string | Uint8Array) => out.push(Buffer.from(c)) },
      stderr: { write: (c: string | Uint8Array) => err.push(Buffer.from(c)) },
      stdin: stdin(),
      env: {},
    },
    {
      clientFactory: (o) => {
        const real = new Client(o);
        const watch = real.watch.bind(real);
        return Object.assign(real, {
          watch: (...a: Parameters<Client['watch']>) => watch(...a).pipe(takeUntil(stop$)),
        }) as unknown as CliClient;
      },
    },
  );
  return {
    out: () => Buffer.concat(out).toString(),
    err: () => Buffer.concat(err).toString(),
    stop: () => stop$.next(),
    line: (s) => push(s + '\n'),
    endInput: () => push(null),
    code,
  };
}

describe('etceteractl watch', () => {
  let member: Member;
  let client: Client;
  before(async () => {
    member = await startMember({ transport: 'tcp', hub: { progressNotifyIntervalMs: 50 } });
    client = new Client({ endpoints: [member.url] });
  });
  after(async () => {
    await client.close();
    await member.close();
  });

  it('prints events as etcdctl: type, prev kv, key, value', async () => {
    await client.put({ key: b('w/a'), value: b('0') });
    const r = start(member, ['watch', 'w/', '--prefix', '--prev-kv']);
    await until(() => member.hub.stats().synced === 1, 'watch created');
    await client.put({ key: b('w/a'), value: b('1') });
    await client.put({ key: b('w/b'), value: b('new') });
    await client.delete('w/a');
    await until(() => r.out().split('\n').length >= 14, 'three events');
    assert.equal(r.out(), 'PUT\nw/a\n0\nw/a\n1\nPUT\nw/b\nnew\nDELETE\nw/a\n1\nw/a\n\n');
    r.stop();
    assert.equal(await r.code, 5);
    assert.equal(r.err(), 'Error: watch is canceled by the server\n');
    await until(() => member.hub.stats().synced === 0, 'watcher cancelled on exit');
  });

  it('replays history with --rev and a range end, and prints -w json', async () => {
    const first = (await client.put({ key: b('j/1'), value: b('x') })).header.revision;
    await client.put({ key: b('j/2'), value: b('y') });
    await client.put({ key: b('j/9'), value: b('out of range') });
    const r = start(member, ['-w', 'json', 'watch', 'j/1', 'j/5', '--rev', String(first)]);
    await until(() => r.out().split('\n').length >= 2, 'the catch-up reply');
    r.stop();
    assert.equal(await r.code, 5);
    const lines = r.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 1, 'one catch-up reply with both revisions');
    const reply = lines[0]!;
    assert.deepEqual(Object.keys(reply), ['Header', 'Events', 'CompactRevision', 'Canceled', 'Created']);
    const events = reply['Events'] as { kv: Record<string, unknown> }[];
    assert.deepEqual(
      events.map((e) => Buffer.from(e.kv['key'] as string, 'base64').toString()),
      ['j/1', 'j/2'],
    );
    assert.equal(events[0]!.kv['mod_revision'], first);
    assert.equal((reply['Header'] as Record<string, number>)['member_id'], 11);
  });

  it('prints progress notifications with --progress-notify', async () => {
    const r = start(member, ['watch', 'idle/key', '--progress-notify']);
    await until(() => /progress notify: \d+\n/.test(r.out()), 'a progress line');
    r.stop();
    assert.equal(await r.code, 5);
  });

  it('reports a compacted start revision as etcdctl does', async () => {
    const old = (await client.put({ key: b('c/k'), value: b('1') })).header.revision;
    await client.put({ key: b('c/k'), value: b('2') });
    const now = (await client.put({ key: b('c/k'), value: b('3') })).header.revision;
    await client.compact({ revision: now });
    const r = start(member, ['watch', 'c/k', '--rev', String(old)]);
    assert.equal(await r.code, 5);
    assert.equal(
      r.err(),
      'watch was canceled (etcdserver: mvcc: required revision has been compacted)\nError: watch is canceled by the server\n',
    );
  });

  it('refuses bad arguments', async () => {
    const none = start(member, ['watch']);
    assert.equal(await none.code, 128);
    assert.equal(none.err(), 'Error: bad number of arguments\n');
    const both = start(member, ['watch', 'a', 'b', '--prefix']);
    assert.equal(await both.code, 128);
    assert.equal(both.err(), 'Error: `range_end` and `--prefix` are mutually exclusive\n');
  });

  it('runs watch and progress lines in interactive mode until end of input', async () => {
    const r = start(member, ['watch', '-i']);
    r.line('watch i/a');
    r.line('watch --prefix i/p');
    r.line('bogus');
    await until(() => member.hub.stats().synced === 2, 'two watches');
    await client.put({ key: b('i/a'), value: b('A') });
    await client.put({ key: b('i/p1'), value: b('P') });
    await until(() => r.out().split('\n').length >= 7, 'two events');
    r.line('progress');
    await until(() => (r.out().match(/progress notify: \d+/g) ?? []).length === 2, 'one progress line per watch');
    r.endInput();
    assert.equal(await r.code, 3);
    assert.match(r.out(), /^PUT\ni\/a\nA\nPUT\ni\/p1\nP\n/);
    assert.equal(r.err(), 'Invalid command bogus (only support watch)\nError: Error reading watch request line: EOF\n');
  });
});
