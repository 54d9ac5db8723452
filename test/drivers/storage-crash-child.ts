// Not a test: the child process of the storage conformance suite's crash test. It opens the
// driver named in argv[2] on the directory argv[3], then loops forever: commit a backend batch
// (a pair of keys 'a'+n and 'b'+n, and meta 'last_batch' = n), save one log entry with its hard
// state, and print "ack <index>" once that save has resolved. The parent SIGKILLs it at some
// point and checks that every acknowledged entry survived and no batch is half-applied.
import type { StorageDriver } from '../../src/core/ports/storage-driver.js';
import { EntryType } from '../../src/core/ports/storage-driver.js';
import { LmdbDriver } from '../../src/drivers/lmdb/lmdb-driver.js';
import { SqliteDriver } from '../../src/drivers/sqlite/sqlite-driver.js';

const [kind, dir] = process.argv.slice(2);
const drivers: Record<string, () => StorageDriver> = { lmdb: () => new LmdbDriver(), sqlite: () => new SqliteDriver() };
const make = drivers[kind ?? ''];
if (make === undefined || dir === undefined) throw new Error(`usage: storage-crash-child <lmdb|sqlite> <dir>`);

const u64 = (n: number): Uint8Array => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const key = (prefix: string, n: number): Uint8Array => Buffer.concat([Buffer.from(prefix), u64(n)]);

const { backend, logStore } = await make().open(dir);
const last = backend.get('meta', Buffer.from('last_batch'));
let batch = last === undefined ? 0 : Number(Buffer.from(last).readBigUInt64BE()) + 1;
let index = logStore.lastIndex() + 1;
const value = Buffer.alloc(8192, 0x5a);
for (;;) {
  backend.commit([
    { type: 'put', bucket: 'key', key: key('a', batch), value },
    { type: 'put', bucket: 'key', key: key('b', batch), value },
    { type: 'put', bucket: 'meta', key: Buffer.from('last_batch'), value: u64(batch) },
  ]);
  const i = index++;
  const saved = logStore
    .save({
      entries: [{ index: i, term: 1, type: EntryType.Normal, data: Buffer.from(`entry ${i}`) }],
      hardState: { term: 1, vote: 0, commit: i },
    })
    .then(() => {
      process.stdout.write(`ack ${i}\n`);
    });
  // Up to 8 saves in flight, so that group commits happen, then let the loop turn.
  if (++batch % 8 === 0) await saved;
  if (batch % 64 === 0) await backend.sync();
}
