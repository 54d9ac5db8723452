/**
 * A Backend that times its commits into `etcd_disk_backend_commit_duration_seconds` and
 * forwards everything else unchanged. The composition root wraps the driver's backend with it,
 * so neither the MVCC core nor the drivers know about metrics. One commit is one apply batch
 * (not one request), so the two clock reads cost nothing measurable.
 */
import type { Histogram } from '../../core/ports/metrics.js';
import type { Backend, BackendOp, Bucket, RangeOptions } from '../../core/ports/storage-driver.js';

/** Wraps `inner`; `commitSeconds` observes each commit's duration. */
export class TimedBackend implements Backend {
  constructor(
    private readonly inner: Backend,
    private readonly commitSeconds: Histogram,
  ) {}

  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined {
    return this.inner.get(bucket, key);
  }

  range(bucket: Bucket, options?: RangeOptions): IterableIterator<[Uint8Array, Uint8Array]> {
    return this.inner.range(bucket, options);
  }

  commit(ops: readonly BackendOp[]): void {
    const t0 = performance.now();
    this.inner.commit(ops);
    this.commitSeconds.observe((performance.now() - t0) / 1000);
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  sizeBytes(): number {
    return this.inner.sizeBytes();
  }

  defragment(): void | Promise<void> {
    return this.inner.defragment?.();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
