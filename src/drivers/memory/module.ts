/** The memory driver's container module (STYLE §3: one ContainerModule per driver folder). */
import { ContainerModule } from 'inversify';
import { StorageDriver } from '../../core/ports/storage-driver.js';
import { MemoryDriver } from './memory-driver.js';

/** Binds `StorageDriver` to one `MemoryDriver` per container (a singleton: it is the "disk"). */
export const memoryDriverModule = new ContainerModule(({ bind }) => {
  bind(StorageDriver).toDynamicValue(() => new MemoryDriver()).inSingletonScope();
});
