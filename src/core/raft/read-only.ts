/**
 * The leader's queue of ReadIndex requests waiting for a heartbeat round to confirm that it
 * still leads (Raft thesis §6.4).
 *
 * A request records the commit index when it arrived. A heartbeat carries the context of the
 * newest pending request; once a quorum of voters echoes a context, every request queued up to
 * and including it is confirmed: each was queued before that heartbeat went out, so a quorum
 * still followed this leader after the request arrived. Requests that arrive while a round is
 * in flight wait and share the next round, so one round serves many reads. Periodic heartbeats
 * carry the newest context too, so a lost round is retried.
 */
import type { Message } from './messages.js';

/** One pending request and who acknowledged its round. */
export interface ReadIndexStatus {
  /** The ReadIndex message (`from` = requester; the leader itself for a local read). */
  readonly req: Message;
  /** Commit index when the request arrived. */
  readonly index: number;
  readonly acks: Set<number>;
}

/** A byte string as a Map key (contexts are short request ids). */
export function contextKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.byteLength; i++) s += String.fromCharCode(ctx[i]!);
  return s;
}

/** See the file comment. */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  // Keys in arrival order. Invariant: same key set as `pending`.
  private queue: string[] = [];
  /** A heartbeat round for a pending context is in flight. */
  roundInFlight = false;

  /** Queues a request; false when a request with the same context is already pending. */
  addRequest(index: number, req: Message, ctx: Uint8Array): boolean {
    const key = contextKey(ctx);
    if (this.pending.has(key)) return false;
    this.pending.set(key, { req, index, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records that `id` echoed `ctx`; returns the acks for it, or undefined if it is not pending. */
  recvAck(id: number, ctx: Uint8Array): ReadonlySet<number> | undefined {
    const rs = this.pending.get(contextKey(ctx));
    if (rs === undefined) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Removes and returns every request up to and including the one with `ctx`. */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      out.push(this.pending.get(k)!);
      this.pending.delete(k);
    }
    return out;
  }

  /** The context of the newest pending request, for the next heartbeat. */
  lastPendingContext(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1]!)!.req.context;
  }

  pendingCount(): number {
    return this.queue.length;
  }
}
