// The applier under test, as the server builds it: a KvStore, a lessor and an alarm table over
// one memory backend, fed one entry at a time, with every backend commit recorded.
import assert from 'node:assert/strict';
import type { InternalRequest } from '../../../src/core/api/kv.js';
import { AlarmStore } from '../../../src/core/apply/alarm-store.js';
import { Applier, type ApplyResult, type RevisionChanges } from '../../../src/core/apply/applier.js';
import { Lessor } from '../../../src/core/lease/lessor.js';
import { KvStore } from '../../../src/core/mvcc/kv-store.js';
import type { BackendOp } from '../../../src/core/ports/storage-driver.js';
import { MemoryBackend } from '../../../src/drivers/memory/memory-backend.js';

export type Req = Omit<InternalRequest, 'id'>;

/** See the file comment. `reopen()` rebuilds everything from the backend, as a restart does. */
export class ApplyHarness {
  readonly backend = new MemoryBackend();
  store!: KvStore;
  lessor!: Lessor;
  alarms!: AlarmStore;
  applier!: Applier;
  index = 0;
  readonly commits: BackendOp[][] = [];

  constructor() {
    const commit = this.backend.commit.bind(this.backend);
    this.backend.commit = (ops) => {
      this.commits.push([...ops]);
      commit(ops);
    };
    this.open();
  }

  open(): void {
    this.store = new KvStore(this.backend);
    this.lessor = new Lessor();
    this.lessor.recover(this.backend, this.store);
    this.alarms = new AlarmStore(this.backend);
    this.applier = new Applier(this.store, { lessor: this.lessor, alarms: this.alarms });
  }

  async reopen(): Promise<void> {
    await this.backend.close();
    this.backend.reopen();
    this.open();
  }

  /** Applies `req` as the next entry: its result and the revisions it made. */
  applyWithChanges(req: Req): { result: ApplyResult; changes: RevisionChanges[] } {
    const index = ++this.index;
    const { results, changes } = this.applier.applyBatch([{ index, request: { id: index, ...req } }]);
    return { result: results[0]!, changes };
  }

  apply(req: Req): ApplyResult {
    return this.applyWithChanges(req).result;
  }

  /** Applies `req`, which must succeed, and returns its response. */
  ok<T>(req: Req): T {
    const r = this.apply(req);
    assert.equal(r.error, undefined, `unexpected error ${r.error?.message}`);
    return r.response as T;
  }
}
