/**
 * The raft core's configuration: timing in ticks, flow-control limits, feature switches, and
 * test-only fault switches. Parsed once by the shell and checked with `validateRaftConfig`,
 * like etcd raft's Config.validate; the RawNode refuses an invalid one.
 */
import { assert } from '../assert.js';

/**
 * TEST ONLY. Deliberately broken variants of the protocol, so that the deterministic
 * simulation can prove it notices each one. Never set in production; `validateRaftConfig`
 * does not reject them only because the simulation builds RawNodes through the same path.
 */
export interface RaftFaults {
  /**
   * (a) The Ready's hard state carries vote 0 instead of the vote cast, so a crash-restart
   * forgets the vote and the member can vote twice in one term (two leaders in a term).
   */
  readonly forgetVote?: boolean;
  /**
   * (b) The leader counts its own new entries towards the commit quorum when it appends them,
   * before the host persisted them. With a host that sends appends before its own fsync, the
   * commit index (status(), later Readies) can cover an entry that a crash then loses.
   */
  readonly countSelfBeforePersist?: boolean;
  /**
   * (c) The leader commits any index a quorum has replicated, even one of an earlier term
   * (the Figure 8 bug of the Raft paper): a committed entry can later be overwritten.
   */
  readonly commitEarlierTerm?: boolean;
  /**
   * (d) The leader answers ReadIndex with its commit index without a heartbeat round that
   * confirms it still leads: a deposed leader serves stale reads.
   */
  readonly unconfirmedReadIndex?: boolean;
}

/** One member's raft settings; see `validateRaftConfig` for the limits. */
export interface RaftConfig {
  /** This member's id: a positive safe integer. */
  readonly id: number;
  /**
   * Ticks without hearing from a leader before a follower campaigns (randomized per term in
   * [electionTicks, 2 * electionTicks)); also the check-quorum period and the leader lease.
   */
  readonly electionTicks: number;
  /** Ticks between a leader's heartbeats. Must be < electionTicks. */
  readonly heartbeatTicks: number;
  /** A leader steps down when it has not heard from a quorum in an election timeout; followers then ignore vote requests while they hear from a leader. */
  readonly checkQuorum: boolean;
  /** Run a pre-vote round before bumping the term (Raft thesis §9.6), so a partitioned member cannot disrupt a healthy cluster when it returns. */
  readonly preVote: boolean;
  /** Entry data bytes in one append message (at least one entry is always sent). */
  readonly maxMsgBytes: number;
  /** Appends in flight to one follower in replicate state. */
  readonly maxInflightMsgs: number;
  /** Entry data bytes in flight to one follower; 0 = no byte limit. */
  readonly maxInflightBytes?: number;
  /** Committed entry bytes handed out in one Ready (at least one entry); default unlimited. */
  readonly maxCommittedBytesPerReady?: number;
  /** When true, a follower drops proposals instead of forwarding them to the leader. */
  readonly disableProposalForwarding?: boolean;
  /** TEST ONLY: see `RaftFaults`. */
  readonly faults?: RaftFaults;
}

/** Returns the first problem with `c`, or undefined when it is valid. */
export function validateRaftConfig(c: RaftConfig): string | undefined {
  if (!Number.isSafeInteger(c.id) || c.id <= 0) return `raft: id must be a positive integer, got ${c.id}`;
  if (!Number.isSafeInteger(c.heartbeatTicks) || c.heartbeatTicks <= 0) return 'raft: heartbeatTicks must be > 0';
  if (!Number.isSafeInteger(c.electionTicks) || c.electionTicks <= c.heartbeatTicks) return 'raft: electionTicks must be > heartbeatTicks';
  if (!Number.isSafeInteger(c.maxMsgBytes) || c.maxMsgBytes <= 0) return 'raft: maxMsgBytes must be > 0';
  if (!Number.isSafeInteger(c.maxInflightMsgs) || c.maxInflightMsgs <= 0) return 'raft: maxInflightMsgs must be > 0';
  if (c.maxInflightBytes !== undefined && (!Number.isSafeInteger(c.maxInflightBytes) || c.maxInflightBytes < 0)) return 'raft: maxInflightBytes must be >= 0';
  if (c.maxInflightBytes !== undefined && c.maxInflightBytes > 0 && c.maxInflightBytes < c.maxMsgBytes) return 'raft: maxInflightBytes must be >= maxMsgBytes';
  if (c.maxCommittedBytesPerReady !== undefined && !(c.maxCommittedBytesPerReady > 0)) return 'raft: maxCommittedBytesPerReady must be > 0';
  return undefined;
}

/** Asserts `validateRaftConfig(c)` found nothing (the RawNode's guard). */
export function assertValidRaftConfig(c: RaftConfig): void {
  const problem = validateRaftConfig(c);
  assert(problem === undefined, problem ?? '');
}
