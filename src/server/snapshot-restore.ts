/**
 * Builds a member's data dir from a snapshot file (`etceteractl snapshot restore`), as etcdctl
 * `snapshot restore` does for etcd:
 *
 * 1. check the file (size 512·k + 32, SHA-256, length field: snapshot-file.ts);
 * 2. open the chosen storage driver on a fresh directory beside the target and commit the
 *    backend content (every bucket) in batches;
 * 3. rewrite the membership: for a cluster (`initialCluster` given) the `members` bucket holds
 *    exactly the members named there, with the ids the server derives from their peer URLs and
 *    the cluster token; for a single member it is emptied (a lone member knows only itself);
 * 4. set the log so that the member starts at the snapshot's consistent index: a snapshot
 *    point (index = consistent index, term 1, voters = the members) and a hard state
 *    (term 1, no vote, commit = consistent index), no entries. The member then replays nothing,
 *    and appends its first entry after that index;
 * 5. close everything and rename the directory into place, so that an interrupted restore
 *    never leaves a data dir that looks usable.
 *
 * Every member of a cluster is restored from the same file with its own `name`; they then
 * agree on the log up to the consistent index, and elect a leader in term 2.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Container } from 'inversify';
import { assert } from '../core/assert.js';
import { KvStore } from '../core/mvcc/kv-store.js';
import { StorageDriver, type BackendOp, type StorageKind } from '../core/ports/storage-driver.js';
import { decodeBackendSnapshot } from './backend-snapshot.js';
import { driverModules } from './container.js';
import { memberIdFor } from './ids.js';
import { encodeMember, type Member } from './membership.js';
import { parseSnapshotFile } from './snapshot-file.js';

/** What `restoreSnapshot` needs besides the file. */
export interface RestoreOptions {
  /** The data dir to create. It must not exist, or be an empty directory. */
  readonly dataDir: string;
  /** Storage driver of the new data dir. */
  readonly driver: Exclude<StorageKind, 'memory'>;
  /** This member's name (must appear in `initialCluster` when that is given). */
  readonly name: string;
  /** The cluster's members (`name=peerURL` pairs); empty or absent = a single member. */
  readonly initialCluster?: readonly { readonly name: string; readonly peerUrl: string }[];
  /** Feeds member ids, as the server's `initial-cluster-token` does. */
  readonly initialClusterToken: string;
  /** This member's peer URL; when given it must be the one `initialCluster` lists for `name`. */
  readonly initialAdvertisePeerUrl?: string;
  /** Do not verify the SHA-256 (etcdctl's `--skip-hash-check`). */
  readonly skipHashCheck?: boolean;
  /** Progress: bytes hashed, then backend records written, out of their totals. */
  readonly onProgress?: (phase: 'verify' | 'write', done: number, total: number) => void;
}

/** What the restore produced. */
export interface RestoreResult {
  /** The log index the member starts after (the snapshot's consistent index). */
  readonly consistentIndex: number;
  /** The key space's revision in the snapshot. */
  readonly revision: number;
  /** Keys with history in the snapshot. */
  readonly keys: number;
  /** The members written (empty for a single member). */
  readonly members: readonly Member[];
  /** The SHA-256 of the file's payload, hex. */
  readonly sha256: string;
}

/** A restore that cannot be done as asked (bad flags, existing data dir, bad file). */
export class RestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreError';
  }
}

/** Backend records committed per batch (bounds one transaction; drives the progress bar). */
const BATCH_OPS = 10_000;

function memberKey(id: number): Uint8Array {
  const k = Buffer.alloc(8);
  k.writeUIntBE(id, 2, 6);
  return k;
}

/** The members the flags describe, checked as etcd checks its bootstrap flags. */
function membersOf(o: RestoreOptions): Member[] {
  const cluster = o.initialCluster ?? [];
  if (cluster.length === 0) {
    if (o.initialAdvertisePeerUrl !== undefined) {
      throw new RestoreError('--initial-advertise-peer-urls needs --initial-cluster (a lone member has no peers)');
    }
    return [];
  }
  const names = new Set<string>();
  const ids = new Set<number>();
  const members: Member[] = [];
  for (const m of cluster) {
    if (names.has(m.name)) throw new RestoreError(`member name ${m.name} appears twice in --initial-cluster`);
    names.add(m.name);
    const id = memberIdFor(m.peerUrl, o.initialClusterToken);
    if (ids.has(id)) throw new RestoreError(`peer URL ${m.peerUrl} appears twice in --initial-cluster`);
    ids.add(id);
    members.push({ id, name: m.name, peerURLs: [m.peerUrl], clientURLs: [], isLearner: false });
  }
  const self = cluster.find((m) => m.name === o.name);
  if (self === undefined) throw new RestoreError(`couldn't find local name "${o.name}" in the initial cluster configuration`);
  if (o.initialAdvertisePeerUrl !== undefined && o.initialAdvertisePeerUrl !== self.peerUrl) {
    throw new RestoreError(
      `--initial-advertise-peer-urls ${o.initialAdvertisePeerUrl} does not match the URL of "${o.name}" in --initial-cluster (${self.peerUrl})`,
    );
  }
  return members;
}

/**
 * Restores `file` (a snapshot file's bytes) into a new data dir. See the module comment.
 * Throws `RestoreError` for bad options, an existing data dir, or an unusable file.
 */
export async function restoreSnapshot(file: Uint8Array, o: RestoreOptions): Promise<RestoreResult> {
  const members = membersOf(o);
  const dataDir = resolve(o.dataDir);
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new RestoreError(`data-dir "${o.dataDir}" exists`);

  let parsed;
  try {
    parsed = parseSnapshotFile(file, {
      ...(o.skipHashCheck === true ? { skipHashCheck: true } : {}),
      onHashed: (n) => o.onProgress?.('verify', n, file.byteLength - 32),
    });
  } catch (err) {
    throw new RestoreError((err as Error).message);
  }
  let puts: BackendOp[];
  try {
    puts = decodeBackendSnapshot(parsed.backendSnapshot);
  } catch (err) {
    throw new RestoreError(`not a snapshot file: ${(err as Error).message}`);
  }

  const tmp = join(dirname(dataDir), `.${basename(dataDir)}.restore-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const container = new Container({ defaultScope: 'Singleton' });
  await container.load(driverModules[o.driver]);
  const handles = await container.get(StorageDriver).open(tmp);
  let result: RestoreResult;
  try {
    const { backend, logStore } = handles;
    // The membership of the new cluster replaces whatever the snapshot's member recorded.
    const ops = puts.filter((op) => op.bucket !== 'members');
    for (const m of members) ops.push({ type: 'put', bucket: 'members', key: memberKey(m.id), value: encodeMember(m) });
    for (let at = 0; at < ops.length; at += BATCH_OPS) {
      backend.commit(ops.slice(at, at + BATCH_OPS));
      o.onProgress?.('write', Math.min(ops.length, at + BATCH_OPS), ops.length);
    }
    await backend.sync();
    // Rebuilding the key index checks the history is consistent, and gives the start point.
    const store = new KvStore(backend);
    const consistentIndex = store.consistentIndex;
    if (consistentIndex > 0) {
      const voters = members.length > 0 ? members.map((m) => m.id) : [memberIdFor(o.name, o.initialClusterToken)];
      await logStore.save({
        snapshot: { index: consistentIndex, term: 1, voters, learners: [] },
        hardState: { term: 1, vote: 0, commit: consistentIndex },
      });
      assert(logStore.lastIndex() === consistentIndex, 'the restored log starts after the consistent index');
    }
    result = {
      consistentIndex,
      revision: store.currentRevision,
      keys: store.indexedKeys,
      members,
      sha256: parsed.sha256,
    };
  } catch (err) {
    await handles.backend.close().catch(() => {});
    await handles.logStore.close().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  await handles.backend.close();
  await handles.logStore.close();
  if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true }); // empty, checked above
  renameSync(tmp, dataDir);
  return result;
}
