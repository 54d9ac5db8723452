/** The LMDB driver's container module (STYLE §3: one ContainerModule per driver folder). */
import { ContainerModule } from 'inversify';
import { StorageDriver } from '../../core/ports/storage-driver.js';
import { LmdbDriver } from './lmdb-driver.js';

/** Binds `StorageDriver` to a singleton `LmdbDriver`. */
export const lmdbDriverModule = new ContainerModule(({ bind }) => {
  bind(StorageDriver).toDynamicValue(() => new LmdbDriver()).inSingletonScope();
});
