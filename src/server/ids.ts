/**
 * Member and cluster ids. Like etcd, a member id is derived from what identifies the member
 * (its name and the cluster token), so that restarting with the same config gives the same id.
 * Ids are kept below 2^48 so that they are safe integers everywhere in JavaScript.
 */
import { createHash } from 'node:crypto';

function id48(text: string): number {
  const h = createHash('sha256').update(text).digest();
  const n = h.readUIntBE(0, 6);
  return n === 0 ? 1 : n;
}

/** The id of member `name` in the cluster named by `clusterToken`. */
export function memberIdFor(name: string, clusterToken: string): number {
  return id48(`member\0${clusterToken}\0${name}`);
}

/** The cluster id: a function of the initial member ids and the token. */
export function clusterIdFor(memberIds: readonly number[], clusterToken: string): number {
  return id48(`cluster\0${clusterToken}\0${[...memberIds].sort((a, b) => a - b).join(',')}`);
}
