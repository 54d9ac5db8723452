/**
 * Alarm and backend-hash messages of etcdserverpb.Maintenance, as plain data with the field
 * names protobufjs gives them (etcd spells `memberID`), so a decoded message fits without a copy.
 *
 * An alarm is replicated state: a (member, alarm type) pair raised and cleared through the log,
 * kept in the backend's `alarm` bucket. While one is active some writes are refused on every
 * member (see src/core/apply/alarm-store.ts and the applier).
 */
import type { ResponseHeader } from './kv.js';

/** etcdserverpb.AlarmType. `NONE` as a query means "any type". */
export const AlarmType = { NONE: 0, NOSPACE: 1, CORRUPT: 2 } as const;
export type AlarmType = (typeof AlarmType)[keyof typeof AlarmType];

/** etcdserverpb.AlarmRequest.AlarmAction. */
export const AlarmAction = { GET: 0, ACTIVATE: 1, DEACTIVATE: 2 } as const;
export type AlarmAction = (typeof AlarmAction)[keyof typeof AlarmAction];

/** etcd's names of the alarm types, as its proto text form prints them. */
export const ALARM_TYPE_NAMES: Readonly<Record<number, string>> = { 0: 'NONE', 1: 'NOSPACE', 2: 'CORRUPT' };

/** etcdserverpb.AlarmRequest. Absent fields are proto3 zeros (GET, member 0, NONE). */
export interface AlarmRequest {
  action?: number;
  /** The member the alarm is about; GET ignores it, as etcd 3.4 does. */
  memberID?: number;
  /** The alarm type; on GET, NONE lists every type. Any int32 value is kept, as etcd keeps it. */
  alarm?: number;
}

/** etcdserverpb.AlarmMember: one active alarm. */
export interface AlarmMember {
  memberID: number;
  alarm: number;
}

/**
 * etcdserverpb.AlarmResponse: the alarms listed (GET) or changed (ACTIVATE, DEACTIVATE: the
 * one alarm, or none when nothing changed). etcd 3.4 sends no header.
 */
export interface AlarmResponse {
  header?: ResponseHeader;
  alarms: AlarmMember[];
}

/** etcdserverpb.HashRequest (no fields). */
export type HashRequest = Record<string, never>;

/** etcdserverpb.HashResponse: a CRC-32C over the whole backend, see MaintenanceService.hash. */
export interface HashResponse {
  header: ResponseHeader;
  hash: number;
}

/**
 * etcd's proto text form of an AlarmMember, as etcdctl `alarm list` and Status.errors print it:
 * `memberID:<decimal> alarm:<NAME> ` (NB: each field is followed by a space, the last one
 * too). As in Go's proto3 text form, a zero field is left out and an unknown type prints as its
 * number.
 */
export function alarmText(a: AlarmMember): string {
  let s = '';
  if (a.memberID !== 0) s += `memberID:${a.memberID} `;
  if (a.alarm !== 0) s += `alarm:${ALARM_TYPE_NAMES[a.alarm] ?? String(a.alarm)} `;
  return s;
}
