/** The LMDB driver's container module (STYLE §3: one ContainerModule per driver folder). */
import { ContainerModule } from 'inversify';
import { StorageDriver } from '../../core/ports/storage-driver.js';
import { LmdbDriver } from './lmdb-driver.js';
import { WalOptionsToken } from '../wal/wal-log-store.js';

/** Binds `StorageDriver` to a singleton `LmdbDriver`. */
export const lmdbDriverModule = new ContainerModule(({ bind }) => {
  bind(StorageDriver).toDynamicValue((ctx) => new LmdbDriver(ctx.get(WalOptionsToken, { optional: true }) ?? {})).inSingletonScope();
});
