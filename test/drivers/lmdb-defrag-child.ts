// Not a test: the child process of lmdb-defrag.test.ts's crash test. On the fresh directory
// argv[2] it fills an LMDB backend (fillBackend), starts a defragmentation, commits one more
// batch once the copy is made (so that only the journal carries it over), and SIGKILLs itself
// at the defragmentation step argv[3] ('none': it lets the defragmentation finish, exits 0).
import { LmdbBackend, type DefragStep } from '../../src/drivers/lmdb/lmdb-backend.js';
import { DURING_COPY, fillBackend } from './lmdb-defrag-fixture.js';

const [dir, killAt] = process.argv.slice(2);
if (dir === undefined || killAt === undefined) throw new Error('usage: lmdb-defrag-child <dir> <step|none>');

const backend: LmdbBackend = LmdbBackend.open(dir, {
  onDefragStep: (step: DefragStep) => {
    // Committed once the copy is complete, so only the journal can carry it over.
    if (step === 'copied') backend.commit(DURING_COPY);
    if (step === killAt) process.kill(process.pid, 'SIGKILL');
  },
});
fillBackend(backend);
await backend.defragment();
await backend.close();
process.stdout.write('done\n');
