/**
 * The leader's (and a candidate's) view of the membership: the current configuration, one
 * Progress per member, and the votes of the election in progress.
 *
 * Invariant: `progress` has exactly one entry per voter and learner; `voters` and `learners`
 * are sorted and disjoint.
 */
import type { ConfState } from '../confchange/conf-change.js';
import { committedIndex, quorumSize, voteResult, type VoteResult } from '../quorum/majority.js';
import { Progress } from './progress.js';

/** See the file comment. */
export class ProgressTracker {
  voters: readonly number[] = [];
  learners: readonly number[] = [];
  readonly progress = new Map<number, Progress>();
  readonly votes = new Map<number, boolean>();

  constructor(
    private readonly maxInflightMsgs: number,
    private readonly maxInflightBytes: number,
  ) {}

  isVoter(id: number): boolean {
    return this.voters.includes(id);
  }

  confState(): ConfState {
    return { voters: this.voters.slice(), learners: this.learners.slice() };
  }

  /**
   * Switches to `cs`: members that stay keep their progress (a learner promoted to voter keeps
   * its match); new members start probing at `nextIndex`; removed ones are forgotten.
   */
  setConfState(cs: ConfState, nextIndex: number): void {
    this.voters = cs.voters.slice();
    this.learners = cs.learners.slice();
    for (const id of [...this.progress.keys()]) {
      if (!this.voters.includes(id) && !this.learners.includes(id)) this.progress.delete(id);
    }
    const add = (id: number, isLearner: boolean): void => {
      const pr = this.progress.get(id);
      if (pr !== undefined) {
        pr.isLearner = isLearner;
        return;
      }
      const p = new Progress(nextIndex, this.maxInflightMsgs, this.maxInflightBytes, isLearner);
      // A new member is presumed active, or check-quorum could depose the leader right away.
      p.recentActive = true;
      this.progress.set(id, p);
    };
    for (const id of this.voters) add(id, false);
    for (const id of this.learners) add(id, true);
  }

  /** The highest index replicated on a majority of voters (by their acknowledged match). */
  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  /** Whether a majority of voters was heard from recently (`self` always counts). */
  quorumActive(self: number): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive === true) active++;
    }
    return active >= quorumSize(this.voters.length);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a vote; a member's first answer in an election is the one that counts. */
  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters, this.votes) };
  }
}
