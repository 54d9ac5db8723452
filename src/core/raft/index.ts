/**
 * The raft core's public surface, for the host (src/server/raft-host.ts) and tests. See
 * raw-node.ts for the API and ready.ts for the Ready-handling contract.
 */
export { RawNode } from './raw-node.js';
export type { BasicStatus, BootstrapPeer, ProgressStatus, RaftStatus } from './raw-node.js';
export type { Ready, ReadState, SoftState } from './ready.js';
export { Role, roleName } from './ready.js';
export type { RaftConfig, RaftFaults } from './config.js';
export { validateRaftConfig } from './config.js';
export type { Message, Snapshot } from './messages.js';
export { MessageType, canSendBeforePersist, message, messageTypeName } from './messages.js';
export type { RaftStorage, RaftStorageUpdate } from './storage.js';
export { MemoryRaftStorage } from './storage.js';
export type { ConfChange, ConfState } from './confchange/conf-change.js';
export { ConfChangeType, changeConfState, decodeConfChange, encodeConfChange } from './confchange/conf-change.js';
export { ProgressState, progressStateName } from './tracker/progress.js';
export { SeededRandom } from './seeded-random.js';
