// Runs the storage driver conformance suite against the LMDB driver on temporary directories,
// including the SIGKILL crash test.
import { storageDriverSuite } from '../conformance/storage-driver.suite.js';
import { LmdbDriver } from '../../src/drivers/lmdb/lmdb-driver.js';

storageDriverSuite({ name: 'lmdb', factory: () => new LmdbDriver(), persistent: true });
