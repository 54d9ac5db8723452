/**
 * The multi-version key space over a Backend, as etcd's mvcc store.
 *
 * - The backend's `key` bucket holds every retained change under its revision (revision.ts),
 *   the value being the encoded mvccpb.KeyValue (kv-codec.ts); a deletion is a tombstone.
 * - The tree index (tree-index.ts) maps each key to the revisions of its history; it is the
 *   only thing in memory and is rebuilt from the `key` bucket when the store opens.
 * - The `meta` bucket holds the consistent index (last applied log index) and the compaction
 *   revisions, committed in the same backend batch as the changes they describe.
 *
 * Writes go through a write transaction (`write()`), one per client request: all its changes
 * share one main revision, with sub revisions in order. The changes of many transactions
 * accumulate in one pending backend batch that `commit(consistentIndex)` writes atomically,
 * together with the consistent index. Until then, values written in the batch are read from an
 * in-memory overlay, so a later request in the same batch sees the earlier ones.
 *
 * Everything here is synchronous and deterministic; the applier is the only writer.
 */
import type { Bytes, Event, KeyValue, RangeRequest } from '../api/kv.js';
import { EMPTY, EventType, SortOrder, SortTarget } from '../api/kv.js';
import { assert } from '../assert.js';
import { CompactedError, FutureRevisionError } from '../errors.js';
import type { Backend, BackendOp } from '../ports/storage-driver.js';
import { bytesToLatin1, compareBytes, latin1ToBytes } from './bytes.js';
import { crc32c } from './crc32c.js';
import { decodeKeyValue, encodeKeyValue } from './kv-codec.js';
import { decodeRevision, encodeRevision, readUint64BE, revisionMainOf, writeUint64BE } from './revision.js';
import type { RangeEnd } from './tree-index.js';
import { TreeIndex } from './tree-index.js';

/** Meta bucket keys, named as etcd names them. */
const META_CONSISTENT_INDEX = latin1ToBytes('consistent_index');
const META_SCHEDULED_COMPACT = latin1ToBytes('scheduledCompactRev');
const META_FINISHED_COMPACT = latin1ToBytes('finishedCompactRev');
const KEY_BUCKET_NAME = latin1ToBytes('key');

/** What a Range returns besides the header (whose revision the caller fills). */
export interface RangeResult {
  kvs: KeyValue[];
  /** True iff `limit` truncated the (filtered, sorted) result. */
  more: boolean;
  /** Keys in the range at the read revision, before limit and before min/max filters. */
  count: number;
}

/** A checksum of the key space's history, for members to compare (etcd's HashKV). */
export interface HashKvResult {
  /** CRC-32C over the bucket name and every retained (revision key, value) <= `revision`. */
  hash: number;
  compactRevision: number;
  /** The revision hashed (the current one when 0 was asked). */
  revision: number;
}

/** The outcome of a put inside a write transaction. */
export interface PutResult {
  /** The stored KeyValue (immutable: it is shared with events and the pending batch). */
  kv: KeyValue;
  /** The key's previous KeyValue, if it existed. */
  prevKv: KeyValue | undefined;
}

/**
 * The changes of one revision, in sub-revision order, for watchers. Every event carries
 * `prevKv` when the key existed before (the watch layer strips it for watchers that did not
 * ask). A DELETE event's kv holds only the key and the deletion revision as modRevision.
 */
export interface RevisionChanges {
  readonly revision: number;
  readonly events: Event[];
}

/**
 * One write transaction: the changes of one client request, sharing main revision
 * `beginRevision + 1`. Reads inside it see its own earlier writes. It must be ended with
 * `end()` before the next one starts, and nothing else touches the store meanwhile.
 */
export interface KvWriteTxn {
  /** The store revision when the transaction started. */
  readonly beginRevision: number;
  /** The revision reads see: `beginRevision`, or `beginRevision + 1` once something changed. */
  readonly readRevision: number;
  /** True once the transaction changed a key. */
  readonly changed: boolean;
  /**
   * A Range with every rule of the KV API (revision checks relative to `readRevision`, filters,
   * sort, limit, keys_only, count_only). Throws CompactedError / FutureRevisionError.
   */
  range(req: RangeRequest): RangeResult;
  /** Every KeyValue in the range at `readRevision`, in key order (range_end as in Range). */
  kvs(key: Bytes, rangeEnd?: Bytes | null): KeyValue[];
  /** The key's current KeyValue, own writes included. */
  get(key: Bytes): KeyValue | undefined;
  /** True when the key currently exists (index only, no backend read). */
  exists(key: Bytes): boolean;
  /**
   * Puts `key`: version + 1 (or 1 on creation), create_revision kept (or this revision).
   * `ignoreValue` / `ignoreLease` keep the current value / lease: the key must exist (asserted;
   * the applier checks it first).
   */
  put(key: Bytes, value: Bytes, lease: number, ignoreValue?: boolean, ignoreLease?: boolean): PutResult;
  /** Deletes every live key in the range; returns their last KeyValues in key order. */
  deleteRange(key: Bytes, rangeEnd?: Bytes | null): KeyValue[];
  /** Ends the transaction: the revision's changes, or undefined when nothing changed. */
  end(): RevisionChanges | undefined;
}

/** Turns a request's range_end into the index's RangeEnd (spec 9.2; etcd's mkGteRange). */
export function toRangeEnd(rangeEnd: Bytes | null | undefined): RangeEnd {
  if (rangeEnd === null || rangeEnd === undefined || rangeEnd.length === 0) return undefined;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return '';
  return bytesToLatin1(rangeEnd);
}

type KvCompare = (a: KeyValue, b: KeyValue) => number;

const SORTERS: Record<SortTarget, KvCompare> = {
  [SortTarget.KEY]: (a, b) => compareBytes(a.key, b.key),
  [SortTarget.VERSION]: (a, b) => a.version - b.version,
  [SortTarget.CREATE]: (a, b) => a.createRevision - b.createRevision,
  [SortTarget.MOD]: (a, b) => a.modRevision - b.modRevision,
  [SortTarget.VALUE]: (a, b) => compareBytes(a.value, b.value),
};

/** The store's state, shared by KvStore and its write transactions. */
class MvccState {
  readonly index = new TreeIndex();
  /** Invariant: compactRev <= currentRev; currentRev >= 1. */
  currentRev = 1;
  compactRev = 0;
  consistentIndex = 0;
  /** Revisions above this exist only in `pending` and `ops` (not committed yet). */
  committedRev = 1;
  /** The open backend batch. */
  ops: BackendOp[] = [];
  /** Values written since the last commit: pending[main - committedRev - 1][sub]; null = tombstone. */
  pending: Array<Array<KeyValue | null>> = [];
  txnOpen = false;

  constructor(readonly backend: Backend) {}

  stage(main: number, sub: number, kv: KeyValue | null): void {
    const i = main - this.committedRev - 1;
    let subs = this.pending[i];
    if (subs === undefined) {
      assert(i === this.pending.length, 'pending revisions must be consecutive');
      subs = [];
      this.pending.push(subs);
    }
    assert(subs.length === sub, 'pending sub revisions must be consecutive');
    subs.push(kv);
  }

  /** The value stored at (main, sub), which the index says exists (else: corruption). */
  readKv(main: number, sub: number): KeyValue {
    if (main > this.committedRev) {
      const kv = this.pending[main - this.committedRev - 1]?.[sub];
      assert(kv !== undefined && kv !== null, `no pending value at ${main}.${sub}`);
      return kv;
    }
    const v = this.backend.get('key', encodeRevision(main, sub));
    assert(v !== undefined, `index points at missing revision ${main}.${sub}`);
    return decodeKeyValue(v);
  }

  /** Key indexes and revisions of the keys in a range at `atRev`, up to `limit` (0 = all). */
  collect(start: string, end: RangeEnd, atRev: number, limit: number, revs: number[]): number {
    return this.index.range(start, end, atRev, limit, (_ki, main, sub) => {
      revs.push(main, sub);
    });
  }

  /** Range at view revision `viewRev` (the latest state a reader may see). Spec 9.3. */
  rangeKvs(req: RangeRequest, viewRev: number): RangeResult {
    let rev = req.revision ?? 0;
    if (rev > viewRev) throw new FutureRevisionError(viewRev);
    if (rev <= 0) rev = viewRev;
    if (rev < this.compactRev) throw new CompactedError(this.compactRev);

    const start = bytesToLatin1(req.key);
    const end = toRangeEnd(req.rangeEnd);
    if (req.countOnly) {
      return { kvs: [], more: false, count: this.index.range(start, end, rev, 0, noop) };
    }
    const limit = req.limit ?? 0;
    const maxMod = req.maxModRevision ?? 0;
    const minMod = req.minModRevision ?? 0;
    const maxCreate = req.maxCreateRevision ?? 0;
    const minCreate = req.minCreateRevision ?? 0;
    const sortTarget = req.sortTarget ?? SortTarget.KEY;
    let sortOrder = req.sortOrder ?? SortOrder.NONE;
    // As etcd: sorting or filtering needs the whole range; otherwise fetch one more than the
    // limit, to know whether there is more.
    let fetch = limit;
    if (sortOrder !== SortOrder.NONE || maxMod !== 0 || minMod !== 0 || maxCreate !== 0 || minCreate !== 0) {
      fetch = 0;
    }
    if (fetch > 0) fetch++;

    const revs: number[] = [];
    const count = this.collect(start, end, rev, fetch, revs);
    let kvs: KeyValue[] = new Array<KeyValue>(revs.length / 2);
    for (let i = 0; i < revs.length; i += 2) kvs[i / 2] = this.readKv(revs[i]!, revs[i + 1]!);

    if (maxMod !== 0 || minMod !== 0 || maxCreate !== 0 || minCreate !== 0) {
      kvs = kvs.filter(
        (kv) =>
          !(maxMod !== 0 && kv.modRevision > maxMod) &&
          !(minMod !== 0 && kv.modRevision < minMod) &&
          !(maxCreate !== 0 && kv.createRevision > maxCreate) &&
          !(minCreate !== 0 && kv.createRevision < minCreate),
      );
    }
    // The index yields key order; any other target is sorted ASCEND when no order is given.
    if (sortTarget !== SortTarget.KEY && sortOrder === SortOrder.NONE) sortOrder = SortOrder.ASCEND;
    if (sortOrder !== SortOrder.NONE) {
      const cmp = SORTERS[sortTarget] ?? SORTERS[SortTarget.KEY];
      // Array.prototype.sort is stable: ties keep key order, in both directions.
      if (sortOrder === SortOrder.DESCEND) kvs.sort((a, b) => cmp(b, a));
      else kvs.sort(cmp);
    }
    let more = false;
    if (limit > 0 && kvs.length > limit) {
      kvs.length = limit;
      more = true;
    }
    if (req.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
    return { kvs, more, count };
  }
}

function noop(): void {}

class WriteTxn implements KvWriteTxn {
  readonly beginRevision: number;
  private sub = 0;
  private readonly events: Event[] = [];
  private ended = false;

  constructor(private readonly st: MvccState) {
    this.beginRevision = st.currentRev;
  }

  get changed(): boolean {
    return this.sub > 0;
  }

  get readRevision(): number {
    return this.sub > 0 ? this.beginRevision + 1 : this.beginRevision;
  }

  private checkOpen(): void {
    assert(!this.ended, 'write txn used after end()');
  }

  range(req: RangeRequest): RangeResult {
    this.checkOpen();
    return this.st.rangeKvs(req, this.readRevision);
  }

  kvs(key: Bytes, rangeEnd?: Bytes | null): KeyValue[] {
    this.checkOpen();
    const revs: number[] = [];
    this.st.collect(bytesToLatin1(key), toRangeEnd(rangeEnd), this.readRevision, 0, revs);
    const out = new Array<KeyValue>(revs.length / 2);
    for (let i = 0; i < revs.length; i += 2) out[i / 2] = this.st.readKv(revs[i]!, revs[i + 1]!);
    return out;
  }

  get(key: Bytes): KeyValue | undefined {
    this.checkOpen();
    const ki = this.st.index.get(bytesToLatin1(key));
    if (ki === undefined || !ki.isLive()) return undefined;
    return this.st.readKv(ki.modMain, ki.modSub);
  }

  exists(key: Bytes): boolean {
    this.checkOpen();
    const ki = this.st.index.get(bytesToLatin1(key));
    return ki !== undefined && ki.isLive();
  }

  put(key: Bytes, value: Bytes, lease: number, ignoreValue = false, ignoreLease = false): PutResult {
    this.checkOpen();
    const st = this.st;
    const rev = this.beginRevision + 1;
    const sub = this.sub;
    const k = bytesToLatin1(key);
    const ki = st.index.get(k);
    let prevKv: KeyValue | undefined;
    let created = rev;
    let version = 1;
    if (ki !== undefined && ki.isLive()) {
      prevKv = st.readKv(ki.modMain, ki.modSub);
      created = ki.created;
      version = ki.version + 1;
    }
    if (ignoreValue || ignoreLease) {
      assert(prevKv !== undefined, 'ignore_value/ignore_lease put on a missing key');
      if (ignoreValue) value = prevKv.value;
      if (ignoreLease) lease = prevKv.lease;
    }
    const kv: KeyValue = { key, createRevision: created, modRevision: rev, version, value, lease };
    st.ops.push({ type: 'put', bucket: 'key', key: encodeRevision(rev, sub), value: encodeKeyValue(kv) });
    st.stage(rev, sub, kv);
    st.index.put(k, rev, sub);
    this.events.push({ type: EventType.PUT, kv, prevKv: prevKv ?? null });
    this.sub = sub + 1;
    return { kv, prevKv };
  }

  deleteRange(key: Bytes, rangeEnd?: Bytes | null): KeyValue[] {
    this.checkOpen();
    const st = this.st;
    const rev = this.beginRevision + 1;
    const found: string[] = [];
    const revs: number[] = [];
    // Reading at rev (not readRevision) is the same thing: nothing exists at rev unless this
    // txn wrote it.
    st.index.range(bytesToLatin1(key), toRangeEnd(rangeEnd), rev, 0, (k, main, sub) => {
      found.push(k);
      revs.push(main, sub);
    });
    const prevs = new Array<KeyValue>(found.length);
    for (let i = 0; i < found.length; i++) {
      const prevKv = st.readKv(revs[2 * i]!, revs[2 * i + 1]!);
      const sub = this.sub++;
      const tomb: KeyValue = { key: prevKv.key, createRevision: 0, modRevision: rev, version: 0, value: EMPTY, lease: 0 };
      // The stored tombstone is a KeyValue with only the key, as etcd stores it.
      st.ops.push({
        type: 'put',
        bucket: 'key',
        key: encodeRevision(rev, sub, true),
        value: encodeKeyValue({ key: prevKv.key, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0 }),
      });
      st.stage(rev, sub, null);
      st.index.tombstone(found[i]!, rev, sub);
      this.events.push({ type: EventType.DELETE, kv: tomb, prevKv });
      prevs[i] = prevKv;
    }
    return prevs;
  }

  end(): RevisionChanges | undefined {
    this.checkOpen();
    this.ended = true;
    this.st.txnOpen = false;
    if (this.sub === 0) return undefined;
    this.st.currentRev = this.beginRevision + 1;
    return { revision: this.st.currentRev, events: this.events };
  }
}

/**
 * The MVCC key space. Construct it over an opened Backend: it restores its state from it.
 * A fresh store is at revision 1 with compact revision 0 (etcd's first header revision is 1).
 */
export class KvStore {
  private st!: MvccState;

  constructor(private readonly backend: Backend) {
    this.load();
  }

  /**
   * Rebuilds everything kept in memory from the backend, after its content was replaced (a
   * Raft snapshot from the leader was restored into it).
   */
  reload(): void {
    this.load();
  }

  private load(): void {
    const backend = this.backend;
    const st = (this.st = new MvccState(backend));
    const ci = backend.get('meta', META_CONSISTENT_INDEX);
    if (ci !== undefined) {
      assert(ci.length === 8, 'bad consistent_index');
      st.consistentIndex = readUint64BE(ci, 0);
    }
    const finished = backend.get('meta', META_FINISHED_COMPACT);
    const scheduled = backend.get('meta', META_SCHEDULED_COMPACT);
    const finishedRev = finished === undefined ? 0 : decodeRevision(finished).main;
    const scheduledRev = scheduled === undefined ? 0 : decodeRevision(scheduled).main;
    st.compactRev = finishedRev;

    // Rebuild the index from the history, in revision order.
    let lastMain = 0;
    for (const [k, v] of backend.range('key')) {
      const rev = decodeRevision(k);
      const kv = decodeKeyValue(v);
      const key = bytesToLatin1(kv.key);
      assert(rev.main >= lastMain, 'key bucket out of revision order');
      lastMain = rev.main;
      const ki = st.index.get(key);
      if (rev.tombstone) {
        // A tombstone whose put is gone can only be left by an interrupted compaction; etcd
        // skips it too. (Compaction here is atomic, so this does not happen today.)
        if (ki !== undefined && ki.isLive()) st.index.tombstone(key, rev.main, rev.sub);
      } else if (ki === undefined) {
        st.index.restore(key, kv.createRevision, kv.version, rev.main, rev.sub);
      } else {
        st.index.put(key, rev.main, rev.sub);
        const now = st.index.get(key)!;
        assert(now.created === kv.createRevision && now.version === kv.version, `restored history of key disagrees with its value at ${rev.main}.${rev.sub}`);
      }
    }
    st.currentRev = Math.max(1, lastMain, finishedRev, scheduledRev);
    st.committedRev = st.currentRev;
    if (scheduledRev > finishedRev) {
      // NB: only reachable once compaction moves to background batches: finish it now.
      this.compact(scheduledRev);
      this.commit(st.consistentIndex);
    }
  }

  /** The revision of the newest committed change (1 on a fresh store). */
  get currentRevision(): number {
    return this.st.currentRev;
  }

  /** Reads below this revision fail with CompactedError; 0 when never compacted. */
  get compactRevision(): number {
    return this.st.compactRev;
  }

  /** The log index of the last applied entry, as recorded with the last commit. */
  get consistentIndex(): number {
    return this.st.consistentIndex;
  }

  /** Number of keys with retained history in the index (metrics, tests). */
  get indexedKeys(): number {
    return this.st.index.size;
  }

  /**
   * Range over the latest state (spec 9.2, 9.3); the response header's revision is
   * `currentRevision`. Throws CompactedError / FutureRevisionError for the revision asked.
   * Returned KeyValues may share buffers with the backend: treat them as immutable.
   */
  range(req: RangeRequest): RangeResult {
    assert(!this.st.txnOpen, 'range on the store while a write txn is open');
    return this.st.rangeKvs(req, this.st.currentRev);
  }

  /**
   * Opens the write transaction of one request. Its changes join the pending batch that the
   * next `commit` writes. One at a time.
   */
  write(): KvWriteTxn {
    assert(!this.st.txnOpen, 'a write txn is already open');
    this.st.txnOpen = true;
    return new WriteTxn(this.st);
  }

  /**
   * Compacts the history at `revision` (spec 9.7): for each key, revisions <= `revision` go
   * except the newest one that is not a tombstone; reads below `revision` then fail. Throws
   * CompactedError when `revision <= compactRevision`, FutureRevisionError when above the
   * current revision.
   *
   * NB: the physical deletion joins the pending batch, so it is atomic with the rest of the
   * apply batch. With a large history a later change may move it to bounded background
   * batches (etcd's scheduledCompactRev / finishedCompactRev pair is already written for that).
   */
  compact(revision: number): void {
    const st = this.st;
    assert(!st.txnOpen, 'compaction while a write txn is open');
    if (revision <= st.compactRev) throw new CompactedError(st.compactRev);
    if (revision > st.currentRev) throw new FutureRevisionError(st.currentRev);
    const compactBytes = encodeRevision(revision, 0);
    st.ops.push({ type: 'put', bucket: 'meta', key: META_SCHEDULED_COMPACT, value: compactBytes });
    st.index.compact(revision, (main, sub, tombstone) => {
      st.ops.push({ type: 'del', bucket: 'key', key: encodeRevision(main, sub, tombstone) });
    });
    st.ops.push({ type: 'put', bucket: 'meta', key: META_FINISHED_COMPACT, value: compactBytes });
    st.compactRev = revision;
  }

  /**
   * Visits the current KeyValue of every live key, in key order, one at a time (nothing is
   * accumulated, so it suits a key space of any size): for projections rebuilt from the key
   * space when the store opens (lease attachments). `visit` must not write to the store.
   */
  forEachLive(visit: (kv: KeyValue) => void): void {
    const st = this.st;
    assert(!st.txnOpen, 'forEachLive while a write txn is open');
    st.index.range('', '', st.currentRev, 0, (_ki, main, sub) => visit(st.readKv(main, sub)));
  }

  /**
   * Adds a write of another projection (the lease table) to the pending batch, so that it
   * commits atomically with the KV changes and the consistent index of the same apply batch:
   * replay after a crash then finds both or neither. The `key` and `meta` buckets belong to
   * the store and may not be written this way.
   */
  stageOp(op: BackendOp): void {
    assert(op.bucket !== 'key' && op.bucket !== 'meta', `stageOp on the store's own bucket ${op.bucket}`);
    this.st.ops.push(op);
  }

  /**
   * Writes the pending batch and `consistentIndex` (the log index of the last applied entry) in
   * one atomic backend commit. Recovery replays the log after the recorded index, so a batch
   * must hold every change of the entries up to it and none after.
   */
  commit(consistentIndex: number): void {
    const st = this.st;
    assert(!st.txnOpen, 'commit while a write txn is open');
    assert(Number.isSafeInteger(consistentIndex) && consistentIndex >= st.consistentIndex, `consistent index ${consistentIndex} goes back from ${st.consistentIndex}`);
    const ci = new Uint8Array(8);
    writeUint64BE(ci, 0, consistentIndex);
    st.ops.push({ type: 'put', bucket: 'meta', key: META_CONSISTENT_INDEX, value: ci });
    st.backend.commit(st.ops);
    st.ops = [];
    st.pending = [];
    st.committedRev = st.currentRev;
    st.consistentIndex = consistentIndex;
  }

  /**
   * A checksum of every retained change up to `revision` (0 = current), comparable across
   * members that applied the same log (etcd's HashKV). Reads committed state only.
   * Throws CompactedError below the compact revision, FutureRevisionError above the current one.
   */
  hashKV(revision = 0): HashKvResult {
    const st = this.st;
    assert(!st.txnOpen && st.ops.length === 0, 'hashKV with uncommitted changes');
    if (revision > 0 && revision < st.compactRev) throw new CompactedError(st.compactRev);
    if (revision > st.currentRev) throw new FutureRevisionError(st.currentRev);
    const rev = revision <= 0 ? st.currentRev : revision;
    let hash = crc32c(0, KEY_BUCKET_NAME);
    for (const [k, v] of st.backend.range('key', { end: encodeRevision(rev + 1, 0) })) {
      assert(revisionMainOf(k) <= rev, 'hash range overran');
      hash = crc32c(hash, k);
      hash = crc32c(hash, v);
    }
    return { hash, compactRevision: st.compactRev, revision: rev };
  }

  /**
   * The committed changes of revisions `fromRevision..toRevision` (inclusive), in order, as the
   * applier reported them: for watchers catching up from history in bounded chunks. At most
   * `maxRevisions` revisions are returned (the caller asks again from the next one); revisions
   * that changed nothing do not exist and are not returned.
   *
   * Every event carries `prevKv` when the previous value is still retained; it is not for a
   * change at exactly the compact revision (its predecessor was compacted). NB: as in etcd, a
   * deletion at exactly the compact revision is gone from the history, so reading from the
   * compact revision itself can miss DELETE events of that revision. Throws CompactedError
   * when `fromRevision < compactRevision`. Reads committed state only.
   */
  changes(fromRevision: number, toRevision: number, maxRevisions = Infinity): RevisionChanges[] {
    const st = this.st;
    assert(!st.txnOpen && st.ops.length === 0, 'history read with uncommitted changes');
    assert(Number.isSafeInteger(fromRevision) && Number.isSafeInteger(toRevision), 'revisions must be safe integers');
    if (fromRevision < st.compactRev) throw new CompactedError(st.compactRev);
    const from = Math.max(fromRevision, 1);
    const to = Math.min(toRevision, st.currentRev);
    const out: RevisionChanges[] = [];
    if (from > to || maxRevisions <= 0) return out;
    // Collect first, then resolve prevKvs: no backend reads while its iterator is open.
    const entries: Array<{ main: number; sub: number; tombstone: boolean; kv: KeyValue }> = [];
    let revisions = 0;
    let lastMain = 0;
    for (const [k, v] of st.backend.range('key', { start: encodeRevision(from, 0), end: encodeRevision(to + 1, 0) })) {
      const rev = decodeRevision(k);
      if (rev.main !== lastMain) {
        if (revisions === maxRevisions) break;
        revisions++;
        lastMain = rev.main;
      }
      entries.push({ main: rev.main, sub: rev.sub, tombstone: rev.tombstone, kv: decodeKeyValue(v) });
    }
    const slot = { main: 0, sub: 0 };
    let current: RevisionChanges | undefined;
    for (const e of entries) {
      if (current === undefined || current.revision !== e.main) {
        current = { revision: e.main, events: [] };
        out.push(current);
      }
      const ki = st.index.get(bytesToLatin1(e.kv.key));
      assert(ki !== undefined, `history entry ${e.main}.${e.sub} of a key absent from the index`);
      const prevKv = ki.findBefore(e.main, e.sub, slot) ? st.readKv(slot.main, slot.sub) : null;
      const kv: KeyValue = e.tombstone
        ? { key: e.kv.key, createRevision: 0, modRevision: e.main, version: 0, value: EMPTY, lease: 0 }
        : e.kv;
      current.events.push({ type: e.tombstone ? EventType.DELETE : EventType.PUT, kv, prevKv });
    }
    return out;
  }

  /** The index entry of a key (tests and debugging): its revisions as [main, sub, tombstone]. */
  keyHistory(key: Bytes): Array<[number, number, boolean]> | undefined {
    return this.st.index.get(bytesToLatin1(key))?.revisions();
  }
}
