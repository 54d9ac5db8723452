/**
 * The Ready: everything the core wants the host to do, as data. One cycle, always in order:
 *
 *   rd = node.ready()
 *   0. (optional) send rd.earlyMessages now, while step 1 runs
 *   1. persist   rd.snapshot, rd.entries, rd.hardState — one atomic, durable write
 *                (LogStore.save); skip the fsync only when !rd.mustSync
 *   2. send      rd.messages, strictly after step 1 completed (and rd.earlyMessages, if
 *                step 0 did not)
 *   3. apply     rd.snapshot (if any) to the state machine, then rd.committedEntries in order;
 *                for a ConfChange entry call node.applyConfChange(decodeConfChange(e.data))
 *   4. answer    rd.readStates: a read may be served once this member applied >= its index
 *   5. advance   node.advance(rd)
 *
 * No second ready() before advance(); step()/tick()/propose() may run in between, and what they
 * produce comes in the next Ready.
 */
import type { Entry, HardState } from '../ports/storage-driver.js';
import type { Message, Snapshot } from './messages.js';

/** Member roles. */
export const Role = { Follower: 0, PreCandidate: 1, Candidate: 2, Leader: 3 } as const;
export type Role = (typeof Role)[keyof typeof Role];

const roleNames = ['Follower', 'PreCandidate', 'Candidate', 'Leader'] as const;

/** "Follower" / "PreCandidate" / "Candidate" / "Leader". */
export function roleName(r: Role): string {
  return roleNames[r];
}

/** Volatile state the host may want to watch (not persisted). */
export interface SoftState {
  /** The known leader's id, 0 when unknown. */
  readonly lead: number;
  readonly role: Role;
}

/**
 * The answer to a `readIndex(context)`: once this member has applied `index`, a read issued
 * before the request is linearizable when served from local state.
 */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/** See the file comment. */
export interface Ready {
  /** Present when the leader or role changed since the last Ready. */
  readonly softState: SoftState | undefined;
  /** Present when term, vote or commit changed: persist it. */
  readonly hardState: HardState | undefined;
  /** Entries to persist; they replace any stored entry at or after entries[0].index. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: persist it (the log restarts after it) and apply it. */
  readonly snapshot: Snapshot | undefined;
  /** Entries to apply, in order. They are durable once step 1 completed. */
  readonly committedEntries: readonly Entry[];
  /**
   * Messages that do not depend on this Ready being persisted (a leader's appends, heartbeats,
   * snapshots... of an already durable term; see canSendBeforePersist): the host may send them
   * before or while it persists, so a leader's fsync overlaps its followers'. They must be sent
   * in any case.
   */
  readonly earlyMessages: readonly Message[];
  /** Messages to send only after this Ready's persist completed (votes, acknowledgements...). */
  readonly messages: readonly Message[];
  /** Answers to local readIndex() calls. */
  readonly readStates: readonly ReadState[];
  /** Whether step 1 needs an fsync: false when only the commit index changed. */
  readonly mustSync: boolean;
}
