/**
 * Output printers of etceteractl, one per `-w/--write-out` format, reproducing etcdctl 3.4's
 * output byte for byte (observed against etcdctl 3.4.23; see test/cli/printer.test.ts):
 *
 * - simple: `OK`, key and value lines, deleted counts, `SUCCESS`/`FAILURE`, comma rows;
 * - json:   Go `json.Marshal` of the response (snake_case, 64-bit numbers unquoted, bytes in
 *           base64, zero fields omitted);
 * - fields: `"Name" : value` lines, byte strings quoted like Go's `%q`;
 * - table:  ASCII tables (endpoint status/health only; other commands fail with
 *           `table not supported as output format`, exit 4, after the request has run, as
 *           etcdctl does).
 */
import type {
  DeleteRangeResponse,
  KeyValue,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  StatusResponse,
  TxnResponse,
} from '../core/api/kv.js';
import { hexEscape } from './bytes.js';
import { CliError, ExitCode } from './cli-error.js';
import { goJson, goQuote, humanizeBytes, type JsonValue } from './go-format.js';

/** The formats `-w` accepts. etcdctl's `protobuf` is not offered. */
export const OUTPUT_FORMATS = ['simple', 'json', 'fields', 'table'] as const;
/** A `-w` format name. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Where a printer writes: raw bytes or text (UTF-8). */
export interface Sink {
  write(chunk: string | Uint8Array): unknown;
}

/** One endpoint's answer to `endpoint status`. */
export interface EndpointStatusRow {
  endpoint: string;
  status: StatusResponse;
}

/** One endpoint's result of `endpoint health`; `error` is empty when healthy. */
export interface EndpointHealthRow {
  endpoint: string;
  health: boolean;
  /** Go duration text, e.g. `1.032717ms`. */
  took: string;
  error: string;
}

/** Prints each command's response in one format. Each call writes its whole output at once. */
export interface Printer {
  get(resp: RangeResponse): void;
  put(resp: PutResponse): void;
  del(resp: DeleteRangeResponse): void;
  txn(resp: TxnResponse): void;
  endpointStatus(rows: EndpointStatusRow[]): void;
  /** NB: the simple format writes these lines to stderr, as etcdctl does. */
  endpointHealth(rows: EndpointHealthRow[]): void;
}

/** Options of the printers: `hex` and `valueOnly` affect the simple format only. */
export interface PrinterOptions {
  hex?: boolean;
  /** `get --print-value-only`: print values without their keys. */
  valueOnly?: boolean;
}

/**
 * The printer for `format`. Throws `CliError` exit 4 `unsupported output format` for a name
 * that is not one of `OUTPUT_FORMATS` (etcdctl checks this before any request is sent).
 */
export function createPrinter(format: string, out: Sink, err: Sink, options: PrinterOptions = {}): Printer {
  switch (format) {
    case 'simple':
      return new SimplePrinter(out, err, options);
    case 'json':
      return new JsonPrinter(out);
    case 'fields':
      return new FieldsPrinter(out);
    case 'table':
      return new TablePrinter(out, err, options);
    case 'protobuf':
      throw new CliError(ExitCode.BadFeature, 'protobuf not supported as output format');
    default:
      throw new CliError(ExitCode.BadFeature, 'unsupported output format');
  }
}

/** Collects one command's output so it is written with a single `write`. */
class Chunks {
  private readonly parts: Uint8Array[] = [];
  private static readonly enc = new TextEncoder();
  text(s: string): this {
    this.parts.push(Chunks.enc.encode(s));
    return this;
  }
  bytes(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  flush(sink: Sink): void {
    if (this.parts.length === 0) return;
    sink.write(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts));
    this.parts.length = 0;
  }
}

const ZERO_HEADER: ResponseHeader = { clusterId: 0, memberId: 0, revision: 0, raftTerm: 0 };

/** Hex of a member id as Go's `%x` prints a uint64 (no padding). */
function hexId(id: number | bigint): string {
  return BigInt(id).toString(16);
}

// ---------------------------------------------------------------------------------------
// simple

class SimplePrinter implements Printer {
  constructor(
    private readonly out: Sink,
    private readonly err: Sink,
    private readonly options: PrinterOptions,
  ) {}

  private kv(c: Chunks, kv: KeyValue, valueOnly: boolean): void {
    const field = (b: Uint8Array): void => {
      if (this.options.hex) c.text(hexEscape(b));
      else c.bytes(b);
      c.text('\n');
    };
    if (!valueOnly) field(kv.key);
    field(kv.value ?? new Uint8Array(0));
  }

  private getInto(c: Chunks, resp: RangeResponse, valueOnly: boolean): void {
    for (const kv of resp.kvs ?? []) this.kv(c, kv, valueOnly);
  }
  private putInto(c: Chunks, resp: PutResponse, valueOnly: boolean): void {
    c.text('OK\n');
    if (resp.prevKv) this.kv(c, resp.prevKv, valueOnly);
  }
  private delInto(c: Chunks, resp: DeleteRangeResponse, valueOnly: boolean): void {
    c.text(`${resp.deleted ?? 0}\n`);
    for (const kv of resp.prevKvs ?? []) this.kv(c, kv, valueOnly);
  }
  private txnInto(c: Chunks, resp: TxnResponse): void {
    c.text(resp.succeeded ? 'SUCCESS\n' : 'FAILURE\n');
    for (const op of resp.responses ?? []) {
      c.text('\n');
      // NB: inside a txn etcdctl ignores --print-value-only: its flag reaches only `get`.
      if (op.responseDeleteRange) this.delInto(c, op.responseDeleteRange, false);
      else if (op.responsePut) this.putInto(c, op.responsePut, false);
      else if (op.responseRange) this.getInto(c, op.responseRange, false);
      else if (op.responseTxn) this.txnInto(c, op.responseTxn);
      else c.text('unexpected response\n');
    }
  }

  get(resp: RangeResponse): void {
    const c = new Chunks();
    this.getInto(c, resp, this.options.valueOnly ?? false);
    c.flush(this.out);
  }
  put(resp: PutResponse): void {
    const c = new Chunks();
    this.putInto(c, resp, this.options.valueOnly ?? false);
    c.flush(this.out);
  }
  del(resp: DeleteRangeResponse): void {
    const c = new Chunks();
    this.delInto(c, resp, this.options.valueOnly ?? false);
    c.flush(this.out);
  }
  txn(resp: TxnResponse): void {
    const c = new Chunks();
    this.txnInto(c, resp);
    c.flush(this.out);
  }
  endpointStatus(rows: EndpointStatusRow[]): void {
    const c = new Chunks();
    for (const row of statusTableRows(rows)) c.text(row.join(', ') + '\n');
    c.flush(this.out);
  }
  endpointHealth(rows: EndpointHealthRow[]): void {
    const c = new Chunks();
    for (const h of rows) {
      if (h.error === '') c.text(`${h.endpoint} is healthy: successfully committed proposal: took = ${h.took}\n`);
      else c.text(`${h.endpoint} is unhealthy: failed to commit proposal: ${h.error}\n`);
    }
    c.flush(this.err);
  }
}

// ---------------------------------------------------------------------------------------
// json

function b64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** Builds a JSON object leaving out zero values, as Go's `omitempty` does. */
function omitEmpty(entries: [string, JsonValue | undefined][]): { [key: string]: JsonValue } {
  const o: { [key: string]: JsonValue } = {};
  for (const [k, v] of entries) {
    if (v === undefined || v === null || v === false || v === 0 || v === 0n || v === '') continue;
    if (Array.isArray(v) && v.length === 0) continue;
    o[k] = v;
  }
  return o;
}

function num(n: number | bigint | undefined | null): number | bigint {
  return n ?? 0;
}

function headerJson(h: ResponseHeader | undefined | null): JsonValue {
  const x = h ?? ZERO_HEADER;
  return omitEmpty([
    ['cluster_id', num(x.clusterId)],
    ['member_id', num(x.memberId)],
    ['revision', num(x.revision)],
    ['raft_term', num(x.raftTerm)],
  ]);
}

function kvJson(kv: KeyValue): JsonValue {
  return omitEmpty([
    ['key', kv.key && kv.key.length > 0 ? b64(kv.key) : undefined],
    ['create_revision', num(kv.createRevision)],
    ['mod_revision', num(kv.modRevision)],
    ['version', num(kv.version)],
    ['value', kv.value && kv.value.length > 0 ? b64(kv.value) : undefined],
    ['lease', num(kv.lease)],
  ]);
}

function rangeJson(r: RangeResponse): JsonValue {
  return omitEmpty([
    ['header', headerJson(r.header)],
    ['kvs', (r.kvs ?? []).map(kvJson)],
    ['more', r.more ?? false],
    ['count', num(r.count)],
  ]);
}

function putJson(r: PutResponse): JsonValue {
  return omitEmpty([
    ['header', headerJson(r.header)],
    ['prev_kv', r.prevKv ? kvJson(r.prevKv) : undefined],
  ]);
}

function delJson(r: DeleteRangeResponse): JsonValue {
  return omitEmpty([
    ['header', headerJson(r.header)],
    ['deleted', num(r.deleted)],
    ['prev_kvs', (r.prevKvs ?? []).map(kvJson)],
  ]);
}

/** A txn response op as Go marshals the protobuf oneof wrapper: `{"Response":{"ResponsePut":…}}`. */
function responseOpJson(op: ResponseOp): JsonValue {
  let inner: { [key: string]: JsonValue } | null = null;
  if (op.responseRange) inner = { ResponseRange: rangeJson(op.responseRange) };
  else if (op.responsePut) inner = { ResponsePut: putJson(op.responsePut) };
  else if (op.responseDeleteRange) inner = { ResponseDeleteRange: delJson(op.responseDeleteRange) };
  else if (op.responseTxn) inner = { ResponseTxn: txnJson(op.responseTxn) };
  return inner === null ? {} : { Response: inner };
}

function txnJson(r: TxnResponse): JsonValue {
  return omitEmpty([
    ['header', headerJson(r.header)],
    ['succeeded', r.succeeded ?? false],
    ['responses', (r.responses ?? []).map(responseOpJson)],
  ]);
}

function statusJson(s: StatusResponse): JsonValue {
  return omitEmpty([
    ['header', headerJson(s.header)],
    ['version', s.version ?? ''],
    ['dbSize', num(s.dbSize)],
    ['leader', num(s.leader)],
    ['raftIndex', num(s.raftIndex)],
    ['raftTerm', num(s.raftTerm)],
    ['raftAppliedIndex', num(s.raftAppliedIndex)],
    ['errors', s.errors ?? []],
    ['dbSizeInUse', num(s.dbSizeInUse)],
    ['isLearner', s.isLearner ?? false],
  ]);
}

class JsonPrinter implements Printer {
  constructor(private readonly out: Sink) {}
  private print(v: JsonValue): void {
    this.out.write(goJson(v) + '\n');
  }
  get(resp: RangeResponse): void {
    this.print(rangeJson(resp));
  }
  put(resp: PutResponse): void {
    this.print(putJson(resp));
  }
  del(resp: DeleteRangeResponse): void {
    this.print(delJson(resp));
  }
  txn(resp: TxnResponse): void {
    this.print(txnJson(resp));
  }
  endpointStatus(rows: EndpointStatusRow[]): void {
    this.print(rows.map((r) => ({ Endpoint: r.endpoint, Status: statusJson(r.status) })));
  }
  endpointHealth(rows: EndpointHealthRow[]): void {
    this.print(
      rows.map((h) => {
        const o: { [key: string]: JsonValue } = { endpoint: h.endpoint, health: h.health, took: h.took };
        if (h.error !== '') o['error'] = h.error;
        return o;
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------
// fields

class FieldsPrinter implements Printer {
  constructor(private readonly out: Sink) {}

  private hdr(c: Chunks, h: ResponseHeader | undefined | null): void {
    const x = h ?? ZERO_HEADER;
    c.text(`"ClusterID" : ${num(x.clusterId)}\n`);
    c.text(`"MemberID" : ${num(x.memberId)}\n`);
    c.text(`"Revision" : ${num(x.revision)}\n`);
    c.text(`"RaftTerm" : ${num(x.raftTerm)}\n`);
  }
  private kv(c: Chunks, prefix: string, kv: KeyValue): void {
    c.text(`"${prefix}Key" : ${goQuote(kv.key ?? new Uint8Array(0))}\n`);
    c.text(`"${prefix}CreateRevision" : ${num(kv.createRevision)}\n`);
    c.text(`"${prefix}ModRevision" : ${num(kv.modRevision)}\n`);
    c.text(`"${prefix}Version" : ${num(kv.version)}\n`);
    c.text(`"${prefix}Value" : ${goQuote(kv.value ?? new Uint8Array(0))}\n`);
    c.text(`"${prefix}Lease" : ${num(kv.lease)}\n`);
  }
  private getInto(c: Chunks, r: RangeResponse): void {
    this.hdr(c, r.header);
    for (const kv of r.kvs ?? []) this.kv(c, '', kv);
    c.text(`"More" : ${r.more ?? false}\n`);
    c.text(`"Count" : ${num(r.count)}\n`);
  }
  private putInto(c: Chunks, r: PutResponse): void {
    this.hdr(c, r.header);
    if (r.prevKv) this.kv(c, 'Prev', r.prevKv);
  }
  private delInto(c: Chunks, r: DeleteRangeResponse): void {
    this.hdr(c, r.header);
    c.text(`"Deleted" : ${num(r.deleted)}\n`);
    for (const kv of r.prevKvs ?? []) this.kv(c, 'Prev', kv);
  }
  private txnInto(c: Chunks, r: TxnResponse): void {
    this.hdr(c, r.header);
    c.text(`"Succeeded" : ${r.succeeded ?? false}\n`);
    for (const op of r.responses ?? []) {
      if (op.responseDeleteRange) this.delInto(c, op.responseDeleteRange);
      else if (op.responsePut) this.putInto(c, op.responsePut);
      else if (op.responseRange) this.getInto(c, op.responseRange);
      else if (op.responseTxn) this.txnInto(c, op.responseTxn);
      else c.text('"Unknown" : ""\n');
    }
  }
  private run(fill: (c: Chunks) => void): void {
    const c = new Chunks();
    fill(c);
    c.flush(this.out);
  }

  get(resp: RangeResponse): void {
    this.run((c) => this.getInto(c, resp));
  }
  put(resp: PutResponse): void {
    this.run((c) => this.putInto(c, resp));
  }
  del(resp: DeleteRangeResponse): void {
    this.run((c) => this.delInto(c, resp));
  }
  txn(resp: TxnResponse): void {
    this.run((c) => this.txnInto(c, resp));
  }
  endpointStatus(rows: EndpointStatusRow[]): void {
    this.run((c) => {
      for (const { endpoint, status: s } of rows) {
        this.hdr(c, s.header);
        c.text(`"Version" : ${goQuote(s.version ?? '')}\n`);
        c.text(`"DBSize" : ${num(s.dbSize)}\n`);
        c.text(`"Leader" : ${num(s.leader)}\n`);
        c.text(`"IsLearner" : ${s.isLearner ?? false}\n`);
        c.text(`"RaftIndex" : ${num(s.raftIndex)}\n`);
        c.text(`"RaftTerm" : ${num(s.raftTerm)}\n`);
        c.text(`"RaftAppliedIndex" : ${num(s.raftAppliedIndex)}\n`);
        c.text(`"Errors" : [${(s.errors ?? []).join(' ')}]\n`);
        c.text(`"Endpoint" : ${goQuote(endpoint)}\n`);
        c.text('\n');
      }
    });
  }
  endpointHealth(rows: EndpointHealthRow[]): void {
    this.run((c) => {
      for (const h of rows) {
        c.text(`"Endpoint" : ${goQuote(h.endpoint)}\n`);
        c.text(`"Health" : ${h.health}\n`);
        c.text(`"Took" : ${h.took}\n`);
        c.text(`"Error" : ${h.error}\n`);
        c.text('\n');
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// table

const STATUS_HEADER = [
  'ENDPOINT',
  'ID',
  'VERSION',
  'DB SIZE',
  'IS LEADER',
  'IS LEARNER',
  'RAFT TERM',
  'RAFT INDEX',
  'RAFT APPLIED INDEX',
  'ERRORS',
];
const HEALTH_HEADER = ['ENDPOINT', 'HEALTH', 'TOOK', 'ERROR'];

/** The cells of `endpoint status`, shared by the simple (comma-joined) and table formats. */
function statusTableRows(rows: EndpointStatusRow[]): string[][] {
  return rows.map(({ endpoint, status: s }) => {
    const memberId = num(s.header?.memberId);
    return [
      endpoint,
      hexId(memberId),
      s.version ?? '',
      humanizeBytes(Number(num(s.dbSize))),
      String(BigInt(num(s.leader)) === BigInt(memberId)),
      String(s.isLearner ?? false),
      String(num(s.raftTerm)),
      String(num(s.raftIndex)),
      String(num(s.raftAppliedIndex)),
      (s.errors ?? []).join(', '),
    ];
  });
}

/** Display width of a cell: one column per code point (no East Asian wide characters). */
function width(s: string): number {
  return [...s].length;
}

/** The longest a cell line may be before tablewriter wraps it at spaces. */
const MAX_CELL_WIDTH = 30;

/** The cost tablewriter adds for a line that is too long even alone (a single long word). */
const OVERLONG_PENALTY = 100_000;

/**
 * Splits a cell wider than MAX_CELL_WIDTH into lines at spaces the way tablewriter does:
 * with minimal raggedness (the sum over all lines but the last of the squared room left),
 * the limit raised to the longest word.
 */
function wrapCell(s: string): string[] {
  if (width(s) <= MAX_CELL_WIDTH) return [s];
  const words = s.split(' ');
  const lim = Math.max(MAX_CELL_WIDTH, ...words.map(width));
  const n = words.length;
  // cost[i]: least raggedness of words[i..]; next[i]: where the line starting at i ends.
  const cost = new Array<number>(n + 1).fill(0);
  const next = new Array<number>(n).fill(n);
  for (let i = n - 1; i >= 0; i--) {
    let len = -1;
    for (let j = i; j < n; j++) len += 1 + width(words[j]!);
    if (len <= lim) {
      cost[i] = 0;
      next[i] = n;
      continue;
    }
    cost[i] = Number.MAX_SAFE_INTEGER;
    len = -1;
    for (let j = i + 1; j < n; j++) {
      len += 1 + width(words[j - 1]!);
      const c = (lim - len) ** 2 + cost[j]! + (len > lim ? OVERLONG_PENALTY : 0);
      if (c < cost[i]!) {
        cost[i] = c;
        next[i] = j;
      }
    }
  }
  const lines: string[] = [];
  for (let i = 0; i < n; i = next[i]!) lines.push(words.slice(i, next[i]).join(' '));
  return lines;
}

/**
 * Renders a table the way etcdctl's tablewriter does: `+---+` borders, headers centred
 * (extra space on the right), cells right-aligned, one space of margin in each cell.
 */
export function renderTable(header: string[], rows: string[][]): string {
  const wrapped = rows.map((r) => r.map(wrapCell));
  const widths = header.map((h, i) => Math.max(width(h), ...wrapped.map((r) => Math.max(...(r[i] ?? ['']).map(width)))));
  const border = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+\n';
  const centre = (s: string, w: number): string => {
    const gap = w - width(s);
    const left = Math.floor(gap / 2);
    return ' '.repeat(left) + s + ' '.repeat(gap - left);
  };
  let out = border;
  out += '| ' + header.map((h, i) => centre(h, widths[i]!)).join(' | ') + ' |\n';
  out += border;
  for (const row of wrapped) {
    const height = Math.max(1, ...row.map((cell) => cell.length));
    for (let l = 0; l < height; l++) {
      out += '| ' + widths.map((w, i) => {
        const s = row[i]?.[l] ?? '';
        return ' '.repeat(w - width(s)) + s;
      }).join(' | ') + ' |\n';
    }
  }
  // NB: with no rows tablewriter still closes the table, so the border shows twice.
  out += border;
  return out;
}

class TablePrinter implements Printer {
  constructor(
    private readonly out: Sink,
    _err: Sink,
    _options: PrinterOptions,
  ) {}
  private unsupported(): never {
    throw new CliError(ExitCode.BadFeature, 'table not supported as output format');
  }
  get(): void {
    this.unsupported();
  }
  put(): void {
    this.unsupported();
  }
  del(): void {
    this.unsupported();
  }
  txn(): void {
    this.unsupported();
  }
  endpointStatus(rows: EndpointStatusRow[]): void {
    this.out.write(renderTable(STATUS_HEADER, statusTableRows(rows)));
  }
  endpointHealth(rows: EndpointHealthRow[]): void {
    this.out.write(
      renderTable(
        HEALTH_HEADER,
        rows.map((h) => [h.endpoint, String(h.health), h.took, h.error]),
      ),
    );
  }
}
