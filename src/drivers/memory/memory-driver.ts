/**
 * The memory driver: both ports in process memory, for tests and the simulation. It ignores the
 * data directory; one driver instance is one "disk", so closing and reopening it finds the same
 * data, as a persistent driver would.
 */
import type { StorageDriver, StorageHandles } from '../../core/ports/storage-driver.js';
import { MemoryBackend } from './memory-backend.js';
import { MemoryLogStore } from './memory-log-store.js';

/** See the file comment. `open()` returns the same backend and log store instances every time. */
export class MemoryDriver implements StorageDriver {
  readonly kind = 'memory' as const;
  private handles: { readonly backend: MemoryBackend; readonly logStore: MemoryLogStore } | undefined;

  async open(_dataDir: string): Promise<StorageHandles> {
    if (this.handles === undefined) {
      this.handles = { backend: new MemoryBackend(), logStore: new MemoryLogStore() };
    } else {
      this.handles.backend.reopen();
      this.handles.logStore.reopen();
    }
    return this.handles;
  }
}
