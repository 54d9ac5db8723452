/**
 * Output of the `lease` commands in each `-w` format, as etcdctl 3.4 prints them (observed
 * against etcdctl 3.4.23 with etcd 3.4.23):
 *
 * - simple: `lease 694d71ddacfda227 granted with TTL(5s)`, `… revoked`, `… granted with TTL(30s),
 *   remaining(29s), attached keys([lk1 lk2])`, `… already expired`, `found 2 leases` + one ID a
 *   line, `… keepalived with TTL(5)`; IDs as `%016x`;
 * - json: Go's `json.Marshal` of clientv3's response structs: the header is embedded (its
 *   fields flattened, each omitted when zero), with their own field names (`ID`/`TTL`/`Error`
 *   for grant, `id`/`ttl`/`granted-ttl`/`keys` for time-to-live, `leases: [{id}]` for the
 *   list); revoke prints the protobuf response, `{"header":{…}}`;
 * - fields: the header lines, then `"ID" : n`, `"TTL" : n`, …, one `"Key" : "k"` per key;
 * - table: not supported by these commands (exit 4, after the request ran, as etcdctl).
 */
import type { ResponseHeader } from '../core/api/kv.js';
import type {
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
} from '../core/api/lease.js';
import { CliError, ExitCode } from './cli-error.js';
import { goJson, goQuote, type JsonValue } from './go-format.js';
import type { Sink } from './printer.js';

/** A lease ID as etcdctl prints it: `%016x`. */
export function leaseHex(id: number): string {
  return id.toString(16).padStart(16, '0');
}

/** Prints the answers of the lease commands in one `-w` format. */
export interface LeasePrinter {
  grant(r: LeaseGrantResponse): void;
  revoke(id: number, r: LeaseRevokeResponse): void;
  timeToLive(r: LeaseTimeToLiveResponse, withKeys: boolean): void;
  leases(r: LeaseLeasesResponse): void;
  keepAlive(r: LeaseKeepAliveResponse): void;
}

/**
 * The printer for `format` (already checked by `CommandContext.printer()`). Table and the
 * rest fail with exit 4 when called, after the request, as etcdctl's unsupported printers do.
 */
export function leasePrinter(format: string, out: Sink): LeasePrinter {
  switch (format) {
    case 'simple':
      return new SimpleLeasePrinter(out);
    case 'json':
      return new JsonLeasePrinter(out);
    case 'fields':
      return new FieldsLeasePrinter(out);
    default: {
      const fail = (): never => {
        throw new CliError(ExitCode.BadFeature, `${format} not supported as output format`);
      };
      return { grant: fail, revoke: fail, timeToLive: fail, leases: fail, keepAlive: fail };
    }
  }
}

const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

class SimpleLeasePrinter implements LeasePrinter {
  constructor(private readonly out: Sink) {}
  private line(s: string): void {
    // NB: attached keys are raw bytes, printed as they are (latin1 keeps each byte).
    this.out.write(Buffer.from(s + '\n', 'latin1'));
  }
  grant(r: LeaseGrantResponse): void {
    this.line(`lease ${leaseHex(r.ID ?? 0)} granted with TTL(${r.TTL ?? 0}s)`);
  }
  revoke(id: number): void {
    this.line(`lease ${leaseHex(id)} revoked`);
  }
  timeToLive(r: LeaseTimeToLiveResponse, withKeys: boolean): void {
    const id = leaseHex(r.ID ?? 0);
    if ((r.grantedTTL ?? 0) === 0 && (r.TTL ?? 0) === -1) {
      this.line(`lease ${id} already expired`);
      return;
    }
    let s = `lease ${id} granted with TTL(${r.grantedTTL ?? 0}s), remaining(${r.TTL ?? 0}s)`;
    if (withKeys) s += `, attached keys([${(r.keys ?? []).map(text).join(' ')}])`;
    this.line(s);
  }
  leases(r: LeaseLeasesResponse): void {
    const ls = r.leases ?? [];
    this.line([`found ${ls.length} leases`, ...ls.map((l) => leaseHex(l.ID ?? 0))].join('\n'));
  }
  keepAlive(r: LeaseKeepAliveResponse): void {
    this.line(`lease ${leaseHex(r.ID ?? 0)} keepalived with TTL(${r.TTL ?? 0})`);
  }
}

/** The header's fields, each left out when zero (`omitempty` on etcd's ResponseHeader). */
function headerEntries(h: ResponseHeader | null | undefined): [string, JsonValue][] {
  const out: [string, JsonValue][] = [];
  const add = (k: string, v: number | undefined): void => {
    if (v !== undefined && v !== 0) out.push([k, v]);
  };
  add('cluster_id', h?.clusterId);
  add('member_id', h?.memberId);
  add('revision', h?.revision);
  add('raft_term', h?.raftTerm);
  return out;
}

function obj(entries: [string, JsonValue][]): JsonValue {
  return Object.fromEntries(entries) as JsonValue;
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

class JsonLeasePrinter implements LeasePrinter {
  constructor(private readonly out: Sink) {}
  private print(v: JsonValue): void {
    this.out.write(goJson(v) + '\n');
  }
  grant(r: LeaseGrantResponse): void {
    this.print(obj([...headerEntries(r.header), ['ID', r.ID ?? 0], ['TTL', r.TTL ?? 0], ['Error', r.error ?? '']]));
  }
  revoke(_id: number, r: LeaseRevokeResponse): void {
    this.print({ header: obj(headerEntries(r.header)) });
  }
  timeToLive(r: LeaseTimeToLiveResponse): void {
    const keys = r.keys ?? [];
    this.print(
      obj([
        ...headerEntries(r.header),
        ['id', r.ID ?? 0],
        ['ttl', r.TTL ?? 0],
        ['granted-ttl', r.grantedTTL ?? 0],
        ['keys', keys.length === 0 ? null : keys.map(b64)],
      ]),
    );
  }
  leases(r: LeaseLeasesResponse): void {
    this.print(obj([...headerEntries(r.header), ['leases', (r.leases ?? []).map((l) => ({ id: l.ID ?? 0 }))]]));
  }
  keepAlive(r: LeaseKeepAliveResponse): void {
    this.print(obj([...headerEntries(r.header), ['ID', r.ID ?? 0], ['TTL', r.TTL ?? 0]]));
  }
}

class FieldsLeasePrinter implements LeasePrinter {
  constructor(private readonly out: Sink) {}
  private print(h: ResponseHeader | null | undefined, lines: string[]): void {
    const head = [
      `"ClusterID" : ${h?.clusterId ?? 0}`,
      `"MemberID" : ${h?.memberId ?? 0}`,
      `"Revision" : ${h?.revision ?? 0}`,
      `"RaftTerm" : ${h?.raftTerm ?? 0}`,
    ];
    this.out.write([...head, ...lines].join('\n') + '\n');
  }
  grant(r: LeaseGrantResponse): void {
    this.print(r.header, [`"ID" : ${r.ID ?? 0}`, `"TTL" : ${r.TTL ?? 0}`]);
  }
  revoke(_id: number, r: LeaseRevokeResponse): void {
    this.print(r.header, []);
  }
  timeToLive(r: LeaseTimeToLiveResponse): void {
    this.print(r.header, [
      `"ID" : ${r.ID ?? 0}`,
      `"TTL" : ${r.TTL ?? 0}`,
      `"GrantedTTL" : ${r.grantedTTL ?? 0}`,
      ...(r.keys ?? []).map((k) => `"Key" : ${goQuote(k)}`),
    ]);
  }
  leases(r: LeaseLeasesResponse): void {
    this.print(r.header, (r.leases ?? []).map((l) => `"ID" : ${l.ID ?? 0}`));
  }
  keepAlive(r: LeaseKeepAliveResponse): void {
    this.print(r.header, [`"ID" : ${r.ID ?? 0}`, `"TTL" : ${r.TTL ?? 0}`]);
  }
}
