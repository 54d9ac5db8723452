// Runs the storage driver conformance suite against the SQLite driver on temporary directories,
// including the SIGKILL crash test.
import { storageDriverSuite } from '../conformance/storage-driver.suite.js';
import { SqliteDriver } from '../../src/drivers/sqlite/sqlite-driver.js';

storageDriverSuite({ name: 'sqlite', factory: () => new SqliteDriver(), persistent: true });
