/**
 * Cluster service messages (etcdserverpb Member*, MoveLeader) as plain data. Field names are
 * etcd's as protobufjs reads them (`ID`, `peerURLs`, `clientURLs`, `isLearner`).
 */
import type { ResponseHeader } from './kv.js';

export interface MemberInfo {
  ID: number;
  /** Empty until the member has started and published its name. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface MemberAddRequest {
  peerURLs: string[];
  isLearner?: boolean;
}
export interface MemberAddResponse {
  header: ResponseHeader;
  member: MemberInfo;
  members: MemberInfo[];
}
export interface MemberRemoveRequest {
  ID: number;
}
export interface MemberUpdateRequest {
  ID: number;
  peerURLs: string[];
}
export interface MemberPromoteRequest {
  ID: number;
}
export type MemberListRequest = { linearizable?: boolean };
/** The answer of MemberRemove, MemberUpdate, MemberPromote and MemberList. */
export interface MembersResponse {
  header: ResponseHeader;
  members: MemberInfo[];
}
export interface MoveLeaderRequest {
  targetID: number;
}
export interface MoveLeaderResponse {
  header: ResponseHeader;
}
