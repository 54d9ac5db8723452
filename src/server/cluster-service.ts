/**
 * The Cluster service (member list / add / remove / update / promote) and MoveLeader, over the
 * consensus host. Headers of member responses carry no revision, as etcd's do.
 */
import { inject, injectable } from 'inversify';
import type {
  MemberAddRequest,
  MemberAddResponse,
  MemberInfo,
  MemberListRequest,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MembersResponse,
  MemberUpdateRequest,
  MoveLeaderRequest,
  MoveLeaderResponse,
} from '../core/api/cluster.js';
import type { ResponseHeader } from '../core/api/kv.js';
import { invalidArgument, KvError } from '../core/errors.js';
import type { CallContext, ClusterService } from '../core/ports/services.js';
import { ConsensusHost } from './host.js';
import type { Member } from './membership.js';
import { LeaderForwarder } from './leader-forwarder.js';

function info(m: Member): MemberInfo {
  return { ID: m.id, name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs], isLearner: m.isLearner };
}

function checkId(id: unknown): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) throw invalidArgument('member ID must be a positive integer');
  return id;
}

@injectable()
export class ClusterServiceImpl implements ClusterService {
  private readonly forwarder: LeaderForwarder;

  constructor(@inject(ConsensusHost) private readonly host: ConsensusHost) {
    this.forwarder = new LeaderForwarder(host);
  }

  private header(): ResponseHeader {
    const s = this.host.status();
    return { clusterId: s.clusterId, memberId: s.memberId, revision: 0, raftTerm: s.term };
  }

  private reconfigure(): NonNullable<ConsensusHost['reconfigure']> {
    const r = this.host.reconfigure;
    if (r === undefined) throw new KvError('NotCapable', 'this member runs alone (no initial-cluster): membership cannot change');
    return r;
  }

  private list(): MembersResponse {
    return { header: this.header(), members: this.host.members().map(info) };
  }

  async memberList(_req: MemberListRequest, _ctx?: CallContext): Promise<MembersResponse> {
    return this.list();
  }

  async memberAdd(req: MemberAddRequest, _ctx?: CallContext): Promise<MemberAddResponse> {
    const peerURLs = req.peerURLs ?? [];
    const m = await this.reconfigure().addMember(peerURLs, req.isLearner === true);
    return { header: this.header(), member: info(m), members: this.host.members().map(info) };
  }

  async memberRemove(req: MemberRemoveRequest, _ctx?: CallContext): Promise<MembersResponse> {
    await this.reconfigure().removeMember(checkId(req.ID));
    return this.list();
  }

  async memberUpdate(req: MemberUpdateRequest, _ctx?: CallContext): Promise<MembersResponse> {
    await this.reconfigure().updateMember(checkId(req.ID), req.peerURLs ?? []);
    return this.list();
  }

  async memberPromote(req: MemberPromoteRequest, _ctx?: CallContext): Promise<MembersResponse> {
    const id = checkId(req.ID);
    // Only the leader knows whether the learner caught up: a follower forwards, as etcd does.
    const fwd = this.forwarder.client();
    if (fwd !== undefined) {
      await fwd.memberPromote({ ID: id });
      return this.list();
    }
    await this.reconfigure().promoteMember(id);
    return this.list();
  }

  /** Closes the connection used for forwarding (at shutdown). */
  close(): Promise<void> {
    return this.forwarder.close();
  }

  async moveLeader(req: MoveLeaderRequest, _ctx?: CallContext): Promise<MoveLeaderResponse> {
    const to = checkId(req.targetID);
    if (this.host.reconfigure === undefined) {
      // A lone member is always the leader: moving leadership to itself succeeds (as in etcd
      // 3.4); there is no one else to hand it to.
      if (to === this.host.status().memberId) return { header: { ...this.header(), revision: this.host.store.currentRevision } };
      throw new KvError('BadLeaderTransferee');
    }
    await this.host.reconfigure.moveLeader(to);
    return { header: { ...this.header(), revision: this.host.store.currentRevision } };
  }
}
