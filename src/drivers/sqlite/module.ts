/** The SQLite driver's container module (STYLE §3: one ContainerModule per driver folder). */
import { ContainerModule } from 'inversify';
import { StorageDriver } from '../../core/ports/storage-driver.js';
import { SqliteDriver } from './sqlite-driver.js';

/** Binds `StorageDriver` to a singleton `SqliteDriver`. */
export const sqliteDriverModule = new ContainerModule(({ bind }) => {
  bind(StorageDriver).toDynamicValue(() => new SqliteDriver()).inSingletonScope();
});
