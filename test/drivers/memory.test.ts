// Runs the storage driver conformance suite against the memory driver (one driver instance is
// one "disk": reopening it finds the same data).
import { storageDriverSuite } from '../conformance/storage-driver.suite.js';
import { MemoryDriver } from '../../src/drivers/memory/memory-driver.js';

storageDriverSuite({ name: 'memory', factory: () => new MemoryDriver(), persistent: false });
