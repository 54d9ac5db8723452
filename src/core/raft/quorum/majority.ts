/**
 * Majority quorums over one voter set (this core changes membership one voter at a time, so
 * there is never a joint configuration). Pure functions over ids and per-id facts.
 */

/** Outcome of an election so far. */
export const VoteResult = { Pending: 0, Lost: 1, Won: 2 } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/** Size of a majority of `n` voters (n >= 1). */
export function quorumSize(n: number): number {
  return (n >> 1) + 1;
}

/**
 * The largest index that a majority of `voters` has reached, given each voter's acknowledged
 * index (0 when unknown). With no voters, Infinity: an empty configuration constrains nothing
 * (the caller never commits through it, as only a voter leads).
 */
export function committedIndex(voters: readonly number[], acked: (id: number) => number): number {
  const n = voters.length;
  if (n === 0) return Infinity;
  if (n === 1) return acked(voters[0]!);
  const idx = new Array<number>(n);
  for (let i = 0; i < n; i++) idx[i] = acked(voters[i]!);
  idx.sort((a, b) => b - a);
  // The quorumSize-th largest value is held by at least a majority.
  return idx[quorumSize(n) - 1]!;
}

/** Whether the votes (true = granted, false = rejected, absent = not yet) decide an election. */
export function voteResult(voters: readonly number[], votes: ReadonlyMap<number, boolean>): VoteResult {
  if (voters.length === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
