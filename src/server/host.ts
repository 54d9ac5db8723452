/**
 * The consensus host: what the API services see of replication. A write is proposed; the host
 * makes it an entry of the Raft log, makes it durable on a quorum, applies it to the MVCC
 * projection and resolves the proposal with the applied result. A linearizable read first
 * waits on a read barrier.
 *
 * `SingleMemberHost` implements it for a cluster of one (commit = own fsync); the Raft issue
 * plugs a multi-member host in behind the same interface.
 */
import type { ServiceIdentifier } from 'inversify';
import type { InternalRequest } from '../core/api/kv.js';
import type { ApplyResult, RevisionChanges } from '../core/apply/applier.js';
import type { KvStore } from '../core/mvcc/kv-store.js';
import type { CallContext } from '../core/ports/services.js';
import type { Member } from './membership.js';

export interface HostStatus {
  readonly memberId: number;
  readonly clusterId: number;
  /** Member id of the leader, 0 when unknown. */
  readonly leader: number;
  readonly term: number;
  /** Index of the last entry in the log. */
  readonly lastIndex: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface ConsensusHost {
  /** The projection this member applies to. Read it only after `readBarrier()` for linearizable reads. */
  readonly store: KvStore;
  /** Opens the log, replays entries after the consistent index, and starts accepting proposals. */
  start(): Promise<void>;
  /**
   * Proposes one write. Resolves once the entry is in a quorum's fsync'd log and applied here,
   * with the applier's result (which may carry a KvError decided at apply time). Rejects with
   * a KvError when it cannot be proposed (too large, stopped, overloaded).
   */
  propose(request: Omit<InternalRequest, 'id'>, signal?: AbortSignal): Promise<ApplyResult>;
  /**
   * Resolves when everything committed before the call has been applied on this member.
   * Reads `ctx.signal` only if it has to wait (creating the signal has a cost).
   */
  readBarrier(ctx?: CallContext): Promise<void>;
  status(): HostStatus;
  /** Called when a Raft snapshot replaced the projection wholesale, with its new revision. */
  onRestored?(listener: (revision: number) => void): () => void;
  /** Called after each applied batch with its revision changes, in order (the watch hub subscribes). */
  onApplied(listener: (changes: readonly RevisionChanges[]) => void): () => void;
  /** The members as the projection records them (a lone member: itself). */
  members(): readonly Member[];
  /** After the listeners are up: makes this member's name and client URLs known to the cluster. */
  publish(name: string, clientURLs: readonly string[]): void;
  /**
   * Membership changes and leadership transfer; only a Raft host has them (the service answers
   * `etcdserver: not capable` otherwise). Each resolves once the change is applied here.
   */
  readonly reconfigure?: {
    addMember(peerURLs: readonly string[], isLearner: boolean): Promise<Member>;
    removeMember(id: number): Promise<void>;
    updateMember(id: number, peerURLs: readonly string[]): Promise<void>;
    promoteMember(id: number): Promise<void>;
    moveLeader(to: number): Promise<void>;
  };
  /** Stops accepting proposals, finishes the write in flight, closes the storage. */
  stop(): Promise<void>;
}

export const ConsensusHost: ServiceIdentifier<ConsensusHost> = Symbol.for('etcetera.ConsensusHost');
