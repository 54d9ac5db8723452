/**
 * Output of `alarm list` and `alarm disarm` in each `-w` format, as etcdctl 3.4 prints them
 * (observed against etcdctl 3.4.23 with etcd 3.4.23 and a tiny --quota-backend-bytes):
 *
 * - simple: one line per alarm, Go's `%+v` of the AlarmMember: `memberID:<dec> alarm:NOSPACE `
 *   (each field followed by a space); nothing when there is none;
 * - json:   `json.Marshal` of the AlarmResponse: `{"alarms":[{"memberID":n,"alarm":1}]}`, `{}`
 *   when there is none (etcd 3.4 sends no header; one is printed when present);
 * - fields: `"MemberID" : n`, `"AlarmType" : NOSPACE` and an empty line per alarm. NB: etcdctl
 *   first prints the header and, the response having none, panics; etceteractl prints the
 *   header lines only when there is a header;
 * - table:  `table not supported as output format`, exit 4, after the request ran.
 */
import { ALARM_TYPE_NAMES, alarmText, type AlarmResponse } from '../core/api/alarm.js';
import type { ResponseHeader } from '../core/api/kv.js';
import { CliError, ExitCode } from './cli-error.js';
import { goJson, type JsonValue } from './go-format.js';
import type { Sink } from './printer.js';

/** Prints an AlarmResponse in one `-w` format. */
export type AlarmPrinter = (r: AlarmResponse) => void;

/** Go's JSON of an etcdserverpb.ResponseHeader: snake_case fields, zeros omitted. */
function headerJson(h: ResponseHeader): JsonValue {
  const o: Record<string, JsonValue> = {};
  if (h.clusterId) o['cluster_id'] = h.clusterId;
  if (h.memberId) o['member_id'] = h.memberId;
  if (h.revision) o['revision'] = h.revision;
  if (h.raftTerm) o['raft_term'] = h.raftTerm;
  return o;
}

/**
 * The printer for `format` (already checked by `CommandContext.printer()`); formats without
 * one fail with exit 4 when called, after the request, as etcdctl's unsupported printers do.
 */
export function alarmPrinter(format: string, out: Sink): AlarmPrinter {
  switch (format) {
    case 'simple':
      return (r) => {
        const s = (r.alarms ?? []).map((a) => alarmText(a) + '\n').join('');
        if (s !== '') out.write(s);
      };
    case 'json':
      return (r) => {
        const o: Record<string, JsonValue> = {};
        if (r.header) o['header'] = headerJson(r.header);
        const alarms = r.alarms ?? [];
        if (alarms.length > 0) {
          o['alarms'] = alarms.map((a) => {
            const m: Record<string, JsonValue> = {};
            if (a.memberID) m['memberID'] = a.memberID;
            if (a.alarm) m['alarm'] = a.alarm;
            return m;
          });
        }
        out.write(goJson(o) + '\n');
      };
    case 'fields':
      return (r) => {
        let s = '';
        const h = r.header;
        if (h) {
          s += `"ClusterID" : ${h.clusterId}\n"MemberID" : ${h.memberId}\n"Revision" : ${h.revision}\n"RaftTerm" : ${h.raftTerm}\n`;
        }
        for (const a of r.alarms ?? []) {
          s += `"MemberID" : ${a.memberID}\n"AlarmType" : ${ALARM_TYPE_NAMES[a.alarm] ?? String(a.alarm)}\n\n`;
        }
        if (s !== '') out.write(s);
      };
    default:
      return () => {
        throw new CliError(ExitCode.BadFeature, `${format} not supported as output format`);
      };
  }
}
