import { mulberry32 } from '../../helpers/random.js';
// Shared helpers of the MVCC and applier tests: byte/string conversion, a normal form of
// KeyValues for deep comparison, a seeded PRNG, and a store + applier harness.
import assert from 'node:assert/strict';
import type { InternalRequest, KeyValue } from '../../../src/core/api/kv.js';
import type { ApplyResult, LeaseLookup, RevisionChanges } from '../../../src/core/apply/applier.js';
import { Applier } from '../../../src/core/apply/applier.js';
import { KvError } from '../../../src/core/errors.js';
import { bytesToLatin1, latin1ToBytes } from '../../../src/core/mvcc/bytes.js';
import { KvStore } from '../../../src/core/mvcc/kv-store.js';
import { MemoryBackend } from '../../../src/drivers/memory/memory-backend.js';

/** Bytes of a latin1 string. */
export const b = (s: string): Uint8Array => latin1ToBytes(s);
/** Latin1 string of bytes. */
export const s = (x: Uint8Array): string => bytesToLatin1(x);

/** A KeyValue with strings for bytes, comparable with deepEqual whatever the buffer classes. */
export interface NKv {
  key: string;
  createRevision: number;
  modRevision: number;
  version: number;
  value: string;
  lease: number;
}

export function norm(kv: KeyValue): NKv;
export function norm(kv: KeyValue | null | undefined): NKv | undefined;
export function norm(kv: KeyValue | null | undefined): NKv | undefined {
  if (kv === null || kv === undefined) return undefined;
  return {
    key: s(kv.key),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    value: s(kv.value),
    lease: kv.lease,
  };
}

/** A KeyValue literal in normal form. */
export function nkv(key: string, value: string, createRevision: number, modRevision: number, version: number, lease = 0): NKv {
  return { key, createRevision, modRevision, version, value, lease };
}

/** Recursively replaces byte arrays by latin1 strings (for comparing whole responses). */
export function deepNorm(x: unknown): unknown {
  if (x instanceof Uint8Array) return s(x);
  if (Array.isArray(x)) return x.map(deepNorm);
  if (x instanceof KvError) return { error: x.message, code: x.code };
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (v !== undefined) out[k] = deepNorm(v);
    return out;
  }
  return x;
}

/** A small seeded PRNG (tests must be reproducible). */
export const prng = mulberry32;

/** Asserts that `fn` throws a KvError with this exact wire message. */
export function throwsKv(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KvError, `expected a KvError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

/** A store over a memory backend and an applier, fed one entry at a time or in batches. */
export class Harness {
  readonly backend = new MemoryBackend();
  store: KvStore;
  applier: Applier;
  index = 0;
  readonly leases = new Set<number>();
  private readonly lookup: LeaseLookup = { exists: (id) => this.leases.has(id) };

  constructor() {
    this.store = new KvStore(this.backend);
    this.applier = new Applier(this.store, { leases: this.lookup });
  }

  /** Applies one request as the next log entry; returns its result and the revision changes. */
  apply(req: Omit<InternalRequest, 'id'>): { result: ApplyResult; changes: RevisionChanges[] } {
    const index = ++this.index;
    const { results, changes } = this.applier.applyBatch([{ index, request: { id: index, ...req } }]);
    assert.equal(results.length, 1);
    return { result: results[0]!, changes };
  }

  /** Applies and expects success; returns the response. */
  ok<T = unknown>(req: Omit<InternalRequest, 'id'>): T {
    const { result } = this.apply(req);
    assert.equal(result.error, undefined, `unexpected error ${result.error?.message}`);
    return result.response as T;
  }

  /** Applies and expects an error with this exact message; checks no revision was made. */
  fails(req: Omit<InternalRequest, 'id'>, message: string): KvError {
    const before = this.store.currentRevision;
    const { result, changes } = this.apply(req);
    assert.ok(result.error instanceof KvError, 'expected an error');
    assert.equal(result.error.message, message);
    assert.equal(result.response, undefined);
    assert.deepEqual(changes, []);
    assert.equal(this.store.currentRevision, before);
    return result.error;
  }

  put(key: string, value = '', extra: Record<string, unknown> = {}): number {
    return this.ok<{ header: { revision: number } }>({ put: { key: b(key), value: b(value), ...extra } }).header.revision;
  }

  /** Closes and reopens the backend, and builds a fresh store and applier over it. */
  async reopen(): Promise<void> {
    await this.backend.close();
    this.backend.reopen();
    this.store = new KvStore(this.backend);
    this.applier = new Applier(this.store, { leases: this.lookup });
  }
}
