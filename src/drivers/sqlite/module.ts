/** The SQLite driver's container module (STYLE §3: one ContainerModule per driver folder). */
import { ContainerModule } from 'inversify';
import { StorageDriver } from '../../core/ports/storage-driver.js';
import { SqliteDriver } from './sqlite-driver.js';
import { WalOptionsToken } from '../wal/wal-log-store.js';

/** Binds `StorageDriver` to a singleton `SqliteDriver`. */
export const sqliteDriverModule = new ContainerModule(({ bind }) => {
  bind(StorageDriver).toDynamicValue((ctx) => new SqliteDriver(ctx.get(WalOptionsToken, { optional: true }) ?? {})).inSingletonScope();
});
