/**
 * A client connection from a follower to the current leader's first client URL, for the few
 * calls only the leader can answer (lease keep-alive and TTL, promoting a learner), which
 * etcd also forwards to its leader. The connection follows leadership changes.
 */
import { Client } from '../client/client.js';
import type { ConsensusHost } from './host.js';

export class LeaderForwarder {
  private current: { leader: number; client: Client } | undefined;

  constructor(private readonly host: ConsensusHost) {}

  /** A client to the leader, or undefined on the leader itself or while it or its URL is unknown. */
  client(): Client | undefined {
    const s = this.host.status();
    if (s.leader === 0 || s.leader === s.memberId) return undefined;
    if (this.current?.leader === s.leader) return this.current.client;
    const url = this.host.members().find((m) => m.id === s.leader)?.clientURLs[0];
    if (url === undefined) return undefined;
    void this.current?.client.close();
    this.current = { leader: s.leader, client: new Client({ endpoints: [url], timeoutMs: 5000 }) };
    return this.current.client;
  }

  async close(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    await c?.client.close();
  }
}
