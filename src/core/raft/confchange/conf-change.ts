/**
 * Membership changes, one voter at a time (Raft thesis §4.1 "single-server changes"): any two
 * majorities of configurations that differ by one voter overlap, so no joint consensus is
 * needed as long as at most one change is in flight. The leader enforces that (it refuses a
 * second change until the first is applied) and the new configuration takes effect on each
 * member when the host applies the ConfChange entry, as in etcd.
 *
 * Entry encoding (the data of an entry of type ConfChange; the host decodes it to call
 * `RawNode.applyConfChange`):
 *
 *   byte 0      ConfChangeType
 *   bytes 1..8  node id, unsigned 64-bit big-endian (a safe integer)
 *   bytes 9..   context: opaque to raft (the host's member record, e.g. peer addresses)
 */
import { assert, unreachable } from '../../assert.js';

/** What a membership change does; numbered as etcd's raftpb.ConfChangeType. */
export const ConfChangeType = {
  /** Add a voter, or promote a learner to voter. */
  AddNode: 0,
  RemoveNode: 1,
  // 2 is etcd's UpdateNode: member metadata is the host's business here, not raft's.
  /** Add a learner (receives the log, never votes nor counts), or demote a voter. */
  AddLearnerNode: 3,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** One membership change. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: number;
  /** Opaque to raft; empty when absent. */
  readonly context: Uint8Array;
}

/** A membership: voter and learner ids, each sorted ascending, disjoint. */
export interface ConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

const TWO_32 = 4294967296;

/** Encodes a ConfChange as an entry's data (see the file comment). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  assertNodeId(cc.nodeId);
  const out = new Uint8Array(9 + cc.context.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, cc.type);
  dv.setUint32(1, Math.floor(cc.nodeId / TWO_32));
  dv.setUint32(5, cc.nodeId >>> 0);
  out.set(cc.context, 9);
  return out;
}

/**
 * Decodes a ConfChange entry's data. The data came from this cluster's own log, so malformed
 * bytes are corruption: assert.
 */
export function decodeConfChange(data: Uint8Array): ConfChange {
  assert(data.byteLength >= 9, `conf change entry too short: ${data.byteLength} bytes`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = dv.getUint8(0);
  assert(type === ConfChangeType.AddNode || type === ConfChangeType.RemoveNode || type === ConfChangeType.AddLearnerNode, `bad conf change type ${type}`);
  const nodeId = dv.getUint32(1) * TWO_32 + dv.getUint32(5);
  assertNodeId(nodeId);
  return { type, nodeId, context: data.subarray(9) };
}

/** Node ids are positive safe integers (0 means "none" everywhere in raft). */
export function assertNodeId(id: number): void {
  assert(Number.isSafeInteger(id) && id > 0, `bad node id ${id}`);
}

function without(ids: readonly number[], id: number): number[] {
  return ids.filter((x) => x !== id);
}

function withId(ids: readonly number[], id: number): number[] {
  return [...ids, id].sort((a, b) => a - b);
}

/**
 * The configuration after `cc`, or a reason why `cc` is refused. Every accepted change moves
 * at most one voter. Refused: removing or demoting the last voter. Re-adding a member in its
 * current role is accepted and changes nothing.
 */
export function changeConfState(cs: ConfState, cc: ConfChange): ConfState | string {
  assertNodeId(cc.nodeId);
  const id = cc.nodeId;
  const isVoter = cs.voters.includes(id);
  const isLearner = cs.learners.includes(id);
  switch (cc.type) {
    case ConfChangeType.AddNode:
      if (isVoter) return cs;
      return { voters: withId(cs.voters, id), learners: isLearner ? without(cs.learners, id) : cs.learners };
    case ConfChangeType.AddLearnerNode:
      if (isLearner) return cs;
      if (isVoter && cs.voters.length === 1) return `cannot demote the last voter ${id}`;
      return { voters: isVoter ? without(cs.voters, id) : cs.voters, learners: withId(cs.learners, id) };
    case ConfChangeType.RemoveNode:
      if (isVoter && cs.voters.length === 1) return `cannot remove the last voter ${id}`;
      if (!isVoter && !isLearner) return cs;
      return { voters: without(cs.voters, id), learners: without(cs.learners, id) };
    default:
      return unreachable(cc.type);
  }
}
