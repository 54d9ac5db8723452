/**
 * What a leader knows about one member's log, and how it sends to it.
 *
 *   Probe:     the leader does not know where the follower's log ends; it sends one append at
 *              a time (then waits for a response or the next heartbeat response) and backs
 *              `next` off on each rejection.
 *   Replicate: the follower's log matched; the leader streams appends optimistically
 *              (`next` moves ahead as it sends) within the inflights window.
 *   Snapshot:  the follower needs entries the leader has compacted; the leader sent a snapshot
 *              and sends nothing else until it is acknowledged or reported failed.
 *
 *   Probe --match found--> Replicate --reject / unreachable--> Probe
 *   Probe/Replicate --needs compacted entries--> Snapshot --ack / report--> Probe
 *
 * Invariant: match < next.
 */
import { assert } from '../../assert.js';
import { Inflights } from './inflights.js';

/** How a leader sends to one member (see the file comment). */
export const ProgressState = { Probe: 0, Replicate: 1, Snapshot: 2 } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

const stateNames = ['Probe', 'Replicate', 'Snapshot'] as const;

/** "Probe" / "Replicate" / "Snapshot". */
export function progressStateName(s: ProgressState): string {
  return stateNames[s];
}

/** See the file comment. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In Snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round (a leader always counts itself active). */
  recentActive = false;
  /**
   * Sending is paused: in Probe after one append until a response or heartbeat response; in
   * Replicate while the inflights window is full (a heartbeat response lets one empty append
   * through, so a window filled by dropped messages cannot stall replication forever).
   */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, maxInflightMsgs: number, maxInflightBytes: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot's index.
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * The follower acknowledged entries up to `index`. Returns whether `match` moved (a stale
   * acknowledgement changes nothing).
   */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected an append after `rejected`; `matchHint` is where the leader's log
   * says the two may agree (fast backtracking). Returns false for a stale rejection (one that
   * does not answer the latest probe / is at or below match).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Bookkeeping after sending an append with `entries` entries of `bytes` data. */
  sentEntries(entries: number, bytes: number): void {
    switch (this.state) {
      case ProgressState.Replicate:
        if (entries > 0) {
          this.next += entries;
          this.inflights.add(this.next - 1, bytes);
        }
        this.msgAppFlowPaused = this.inflights.full();
        return;
      case ProgressState.Probe:
        if (entries > 0) this.msgAppFlowPaused = true;
        return;
      case ProgressState.Snapshot:
        assert(false, 'sending entries in snapshot state');
    }
  }

  /** Whether the leader should hold back appends to this member. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
      case ProgressState.Replicate:
        return this.msgAppFlowPaused;
      case ProgressState.Snapshot:
        return true;
    }
  }
}
