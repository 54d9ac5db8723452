/**
 * Raft messages: the only input (besides `tick()`) and, with the Ready, the only output of the
 * core. One flat record shape for every type, as etcd's raftpb.Message, so that a transport can
 * encode it with one schema and V8 sees one object shape on the hot path.
 *
 * Field use by type (unused fields are 0 / false / empty / undefined):
 *
 *   type            index                 logTerm              entries  commit   other
 *   App             index before entries  term at index        yes      leader's
 *   AppResp         last index matched    hint term (reject)   -        -        reject, rejectHint
 *   Vote/PreVote    candidate last index  candidate last term  -        -        context = transfer
 *   Vote*Resp       -                     -                    -        -        reject
 *   Snap            -                     -                    -        -        snapshot
 *   Heartbeat       -                     -                    -        min(match, commit)  context
 *   HeartbeatResp   -                     -                    -        -        context (echoed)
 *   ReadIndex       -                     -                    -        -        context
 *   ReadIndexResp   read index            -                    -        -        context
 *   Prop            -                     -                    yes (term/index 0)
 *   TransferLeader  -                     -                    -        -        from = transferee
 *
 * Message numbering follows etcd's raftpb.MessageType, which makes traces easy to compare.
 */
import type { Entry, SnapshotMeta } from '../ports/storage-driver.js';

/** Every raft message type; a role's step function switches over all of them. */
export const MessageType = {
  /** Local: start an election (tick timeout or `campaign()`). */
  Hup: 0,
  /** Local: the leader should send heartbeats. */
  Beat: 1,
  /** A proposal: local, or forwarded by a follower to its leader. */
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  Snap: 7,
  Heartbeat: 8,
  HeartbeatResp: 9,
  /** Local: the host could not reach `from`. */
  Unreachable: 10,
  /** Local: the host reports whether a snapshot to `from` was delivered (`reject` = failed). */
  SnapStatus: 11,
  /** Local: the leader should check that a quorum is still active. */
  CheckQuorum: 12,
  /** Ask the leader to hand leadership to `from`: local or forwarded. */
  TransferLeader: 13,
  /** Leader to transferee: campaign now, skipping pre-vote and the leader lease. */
  TimeoutNow: 14,
  /** A linearizable read request: local, or forwarded by a follower to its leader. */
  ReadIndex: 15,
  ReadIndexResp: 16,
  PreVote: 17,
  PreVoteResp: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const typeNames: readonly string[] = Object.keys(MessageType);

/** The name of a message type ("App", "VoteResp", ...), for traces and errors. */
export function messageTypeName(t: MessageType): string {
  return typeNames[t] ?? `Unknown(${t})`;
}

/** A snapshot as the raft core passes it around: metadata plus the host's opaque data. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** One raft message. See the file comment for which fields each type uses. */
export interface Message {
  readonly type: MessageType;
  readonly to: number;
  readonly from: number;
  /** 0 for local messages and for forwarded Prop / ReadIndex (they carry no term). */
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot: Snapshot | undefined;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly context: Uint8Array | undefined;
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

/**
 * Builds a message with every field present (missing ones default to zero values), so that all
 * messages share one object shape. `from` and `term` override the fields of `m`.
 */
export function message(m: Partial<Message> & Pick<Message, 'type'>, from: number = m.from ?? 0, term: number = m.term ?? 0): Message {
  return {
    type: m.type,
    to: m.to ?? 0,
    from,
    term,
    logTerm: m.logTerm ?? 0,
    index: m.index ?? 0,
    entries: m.entries ?? NO_ENTRIES,
    commit: m.commit ?? 0,
    snapshot: m.snapshot,
    reject: m.reject ?? false,
    rejectHint: m.rejectHint ?? 0,
    context: m.context,
  };
}

/** Types that only the host creates locally; `RawNode.step` refuses them from the network. */
export function isLocalMessage(t: MessageType): boolean {
  return (
    t === MessageType.Hup ||
    t === MessageType.Beat ||
    t === MessageType.Unreachable ||
    t === MessageType.SnapStatus ||
    t === MessageType.CheckQuorum
  );
}

/**
 * Whether a message of this type can leave BEFORE the host has persisted the Ready that
 * carries it (the "parallel leader append" of DESIGN.md), provided its term was already
 * durable before that Ready: `RawNode.ready()` applies both conditions and puts such messages
 * in `Ready.earlyMessages`. True for what only a leader sends (appends, snapshots, heartbeats,
 * TimeoutNow, read-index answers) and for term-less forwards (Prop, ReadIndex, TransferLeader):
 *
 * - a leader's term and vote were persisted before it sent its vote requests and do not change
 *   while it leads (the term condition covers a single voter that elects itself in one Ready);
 * - entries a leader sends ahead of its own fsync may be lost by the leader in a crash, but it
 *   cannot lead that term again after a restart, and it counts its own copy towards a commit
 *   only after `advance()` reported it persisted, so the commit index always stands on a
 *   durable majority.
 *
 * Everything else (votes, vote requests, append and heartbeat responses) acknowledges state
 * that must be durable first.
 */
export function canSendBeforePersist(m: Message): boolean {
  switch (m.type) {
    case MessageType.App:
    case MessageType.Snap:
    case MessageType.Heartbeat:
    case MessageType.TimeoutNow:
    case MessageType.ReadIndexResp:
      return true;
    case MessageType.Prop:
    case MessageType.ReadIndex:
    case MessageType.TransferLeader:
      return m.term === 0;
    default:
      return false;
  }
}

/** Marks a vote request made because the leader asked for a transfer: voters skip the lease check. */
export const CAMPAIGN_TRANSFER: Uint8Array = new Uint8Array([0x43, 0x61, 0x6d, 0x70, 0x61, 0x69, 0x67, 0x6e, 0x54, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "CampaignTransfer"

/** Byte equality of two optional byte strings. */
export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
