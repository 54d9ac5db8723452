/**
 * Output of `member …` and `move-leader` in each `-w` format, as etcdctl 3.4 prints them
 * (observed with etcdctl 3.4.23 against etcd 3.4.23):
 *
 * - simple: `member list` one `ID, started|unstarted, name, peerURLs, clientURLs, isLearner`
 *   line per member (ID `%x`, URLs comma-joined without spaces, `unstarted` when the name is
 *   empty); `Member %16x added to cluster %16x` (space-padded to 16 columns, as Go's `%16x`
 *   pads) followed by a blank line and the `ETCD_*` lines for the new member; `… removed from
 *   cluster …`, `… updated in cluster …`, `… promoted in cluster …`; `Leadership transferred
 *   from <%x> to <%x>`;
 * - json: Go's `json.Marshal` of the protobuf response (`header`, `member`, `members`, each
 *   member's `ID`/`name`/`peerURLs`/`clientURLs`/`isLearner` left out when empty);
 * - fields: `member list` only: the header lines, then per member `"ID"`, `"Name"`, one
 *   `"PeerURL"` and one `"ClientURL"` line per URL, `"IsLearner"` and a blank line;
 * - table: `member list` only, columns ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER.
 *
 * Where a format is not supported the call fails with `<format> not supported as output
 * format` (exit 4) after the request ran, as in etcdctl. NB: etcdctl 3.4 crashes (nil
 * pointer) on `member promote` with json, fields or table; etceteractl prints json like
 * `member update` and refuses fields and table like the other membership changes.
 */
import type { MemberAddResponse, MemberInfo, MembersResponse, MoveLeaderResponse } from '../core/api/cluster.js';
import type { ResponseHeader } from '../core/api/kv.js';
import { CliError, ExitCode } from './cli-error.js';
import { goJson, goQuote, type JsonValue } from './go-format.js';
import { renderTable, type Sink } from './printer.js';

/** An ID as Go's `%x` prints a uint64: lower-case hex, no padding. */
export function memberHex(id: number): string {
  return id.toString(16);
}

/** An ID as Go's `%16x` prints it: hex right-aligned in 16 columns, padded with spaces. */
function hex16(id: number): string {
  return memberHex(id).padStart(16, ' ');
}

/** Prints the answers of the membership commands in one `-w` format. */
export interface MemberPrinter {
  list(r: MembersResponse): void;
  /**
   * `name` and `peerUrlsFlag` are the command line's NAME and `--peer-urls` text, which the
   * simple format writes back as `ETCD_NAME` and `ETCD_INITIAL_ADVERTISE_PEER_URLS`.
   */
  add(r: MemberAddResponse, name: string, peerUrlsFlag: string): void;
  remove(id: number, r: MembersResponse): void;
  update(id: number, r: MembersResponse): void;
  promote(id: number, r: MembersResponse): void;
  moveLeader(leaderId: number, targetId: number, r: MoveLeaderResponse): void;
}

/**
 * The printer for `format` (already checked by `CommandContext.printer()`, so only the four
 * known formats reach here).
 */
export function memberPrinter(format: string, out: Sink): MemberPrinter {
  switch (format) {
    case 'simple':
      return new SimpleMemberPrinter(out);
    case 'json':
      return new JsonMemberPrinter(out);
    default:
      return new ListOnlyMemberPrinter(format, out);
  }
}

/** The cells of `member list`, shared by the simple (comma-joined) and table formats. */
function memberRows(r: MembersResponse): string[][] {
  return (r.members ?? []).map((m) => [
    memberHex(m.ID),
    m.name === '' ? 'unstarted' : 'started',
    m.name,
    (m.peerURLs ?? []).join(','),
    (m.clientURLs ?? []).join(','),
    String(m.isLearner === true),
  ]);
}

const MEMBER_HEADER = ['ID', 'STATUS', 'NAME', 'PEER ADDRS', 'CLIENT ADDRS', 'IS LEARNER'];

/**
 * The `ETCD_INITIAL_CLUSTER` value for a member just added: `name=peerURL` for every peer
 * URL of every member, in the response's order. The new member has no name yet, so it is
 * written with the NAME given on the command line (etcdctl matches it by ID; other members
 * that never started keep their empty name, as in etcdctl).
 */
export function initialCluster(members: readonly MemberInfo[], newId: number, newName: string): string {
  const parts: string[] = [];
  for (const m of members) {
    const name = m.ID === newId ? newName : m.name;
    for (const u of m.peerURLs ?? []) parts.push(`${name}=${u}`);
  }
  return parts.join(',');
}

class SimpleMemberPrinter implements MemberPrinter {
  constructor(private readonly out: Sink) {}
  private lines(ls: string[]): void {
    this.out.write(ls.join('\n') + '\n');
  }
  list(r: MembersResponse): void {
    const rows = memberRows(r);
    if (rows.length > 0) this.lines(rows.map((row) => row.join(', ')));
  }
  add(r: MemberAddResponse, name: string, peerUrlsFlag: string): void {
    const id = r.member?.ID ?? 0;
    this.lines([
      `Member ${hex16(id)} added to cluster ${hex16(r.header?.clusterId ?? 0)}`,
      '',
      `ETCD_NAME=${goQuote(name)}`,
      `ETCD_INITIAL_CLUSTER=${goQuote(initialCluster(r.members ?? [], id, name))}`,
      `ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerUrlsFlag)}`,
      'ETCD_INITIAL_CLUSTER_STATE="existing"',
    ]);
  }
  remove(id: number, r: MembersResponse): void {
    this.lines([`Member ${hex16(id)} removed from cluster ${hex16(r.header?.clusterId ?? 0)}`]);
  }
  update(id: number, r: MembersResponse): void {
    this.lines([`Member ${hex16(id)} updated in cluster ${hex16(r.header?.clusterId ?? 0)}`]);
  }
  promote(id: number, r: MembersResponse): void {
    this.lines([`Member ${hex16(id)} promoted in cluster ${hex16(r.header?.clusterId ?? 0)}`]);
  }
  moveLeader(leaderId: number, targetId: number): void {
    this.lines([`Leadership transferred from ${memberHex(leaderId)} to ${memberHex(targetId)}`]);
  }
}

/** Keeps the entries whose value is not Go's zero value (`omitempty`). */
function omitEmpty(entries: [string, JsonValue | undefined][]): { [key: string]: JsonValue } {
  const o: { [key: string]: JsonValue } = {};
  for (const [k, v] of entries) {
    if (v === undefined || v === null || v === false || v === 0 || v === '') continue;
    if (Array.isArray(v) && v.length === 0) continue;
    o[k] = v;
  }
  return o;
}

/** A header as `*pb.ResponseHeader`: absent when nil, its zero fields left out. */
function headerJson(h: ResponseHeader | null | undefined): JsonValue | undefined {
  if (h === undefined || h === null) return undefined;
  return omitEmpty([
    ['cluster_id', h.clusterId],
    ['member_id', h.memberId],
    ['revision', h.revision],
    ['raft_term', h.raftTerm],
  ]);
}

function memberJson(m: MemberInfo): JsonValue {
  return omitEmpty([
    ['ID', m.ID],
    ['name', m.name],
    ['peerURLs', m.peerURLs ?? []],
    ['clientURLs', m.clientURLs ?? []],
    ['isLearner', m.isLearner === true],
  ]);
}

/** Like omitEmpty, but a present header is kept even when all its fields are zero (`{}`). */
function withHeader(h: ResponseHeader | null | undefined, rest: [string, JsonValue | undefined][]): JsonValue {
  const header = headerJson(h);
  return { ...(header === undefined ? {} : { header }), ...omitEmpty(rest) };
}

class JsonMemberPrinter implements MemberPrinter {
  constructor(private readonly out: Sink) {}
  private print(v: JsonValue): void {
    this.out.write(goJson(v) + '\n');
  }
  private members(r: MembersResponse): void {
    this.print(withHeader(r.header, [['members', (r.members ?? []).map(memberJson)]]));
  }
  list(r: MembersResponse): void {
    this.members(r);
  }
  add(r: MemberAddResponse): void {
    this.print(
      withHeader(r.header, [
        ['member', r.member ? memberJson(r.member) : undefined],
        ['members', (r.members ?? []).map(memberJson)],
      ]),
    );
  }
  remove(_id: number, r: MembersResponse): void {
    this.members(r);
  }
  update(_id: number, r: MembersResponse): void {
    this.members(r);
  }
  promote(_id: number, r: MembersResponse): void {
    this.members(r);
  }
  moveLeader(_leaderId: number, _targetId: number, r: MoveLeaderResponse): void {
    this.print(withHeader(r.header, []));
  }
}

/** fields and table: `member list` only; everything else is refused after the request. */
class ListOnlyMemberPrinter implements MemberPrinter {
  constructor(
    private readonly format: string,
    private readonly out: Sink,
  ) {}
  private unsupported(): never {
    throw new CliError(ExitCode.BadFeature, `${this.format} not supported as output format`);
  }
  list(r: MembersResponse): void {
    if (this.format === 'table') {
      this.out.write(renderTable(MEMBER_HEADER, memberRows(r)));
      return;
    }
    if (this.format !== 'fields') this.unsupported();
    const h = r.header;
    const ls = [
      `"ClusterID" : ${h?.clusterId ?? 0}`,
      `"MemberID" : ${h?.memberId ?? 0}`,
      `"Revision" : ${h?.revision ?? 0}`,
      `"RaftTerm" : ${h?.raftTerm ?? 0}`,
    ];
    for (const m of r.members ?? []) {
      ls.push(`"ID" : ${m.ID}`, `"Name" : ${goQuote(m.name)}`);
      for (const u of m.peerURLs ?? []) ls.push(`"PeerURL" : ${goQuote(u)}`);
      for (const u of m.clientURLs ?? []) ls.push(`"ClientURL" : ${goQuote(u)}`);
      ls.push(`"IsLearner" : ${m.isLearner === true}`, '');
    }
    this.out.write(ls.join('\n') + '\n');
  }
  add(): void {
    this.unsupported();
  }
  remove(): void {
    this.unsupported();
  }
  update(): void {
    this.unsupported();
  }
  promote(): void {
    this.unsupported();
  }
  moveLeader(): void {
    this.unsupported();
  }
}
