/**
 * Container tokens for objects of the shell that have no port of their own: the opened storage
 * handles, the projection and the applier (core classes carry no decorators, so the composition
 * root builds them with toDynamicValue).
 */
import type { ServiceIdentifier } from 'inversify';
import type { AlarmStore } from '../core/apply/alarm-store.js';
import type { Applier } from '../core/apply/applier.js';
import type { Lessor } from '../core/lease/lessor.js';
import type { KvStore } from '../core/mvcc/kv-store.js';
import type { StorageHandles } from '../core/ports/storage-driver.js';

export type StorageHandlesT = StorageHandles;
export const StorageHandlesToken: ServiceIdentifier<StorageHandles> = Symbol.for('etcetera.StorageHandles');
export const KvStoreToken: ServiceIdentifier<KvStore> = Symbol.for('etcetera.KvStore');
export const ApplierToken: ServiceIdentifier<Applier> = Symbol.for('etcetera.Applier');
/** The lease table: recovered from the backend, written by the applier, read by the lease service. */
export const LessorToken: ServiceIdentifier<Lessor> = Symbol.for('etcetera.Lessor');
/** The alarm table: loaded from the backend, written by the applier, read by the services. */
export const AlarmStoreToken: ServiceIdentifier<AlarmStore> = Symbol.for('etcetera.AlarmStore');
/** Called when the member must stop at once (a storage failure on the log path). */
export const FatalHandler: ServiceIdentifier<(err: unknown) => void> = Symbol.for('etcetera.FatalHandler');
