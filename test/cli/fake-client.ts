// A test double of the client library for the etceteractl tests: a tiny in-memory key
// space (a Map plus a revision counter) behind the calls the CLI makes, and a member list
// for the membership calls. It is not a model of etcd: only what the CLI's tests need
// (ranges, prefix ends, sorting, limits, prev kvs, simple compares, member add / remove /
// update / promote, leader moves), with every request recorded for inspection.
import type {
  Compare,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../../src/core/api/kv.js';
import { CompareResult, CompareTarget, SortOrder, SortTarget } from '../../src/core/api/kv.js';
import { CompactedError, FutureRevisionError, KvError } from '../../src/core/errors.js';
import type {
  MemberAddRequest,
  MemberAddResponse,
  MemberInfo,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MembersResponse,
  MemberUpdateRequest,
  MoveLeaderRequest,
  MoveLeaderResponse,
} from '../../src/core/api/cluster.js';
import type { AlarmMember, AlarmResponse } from '../../src/core/api/alarm.js';
import type { CliCallOptions, CliClient, CliClientOptions } from '../../src/cli/context.js';

const bin = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** One recorded call: method name, request, call options, and the client's endpoints. */
export interface Call {
  method: string;
  req: unknown;
  options: CliCallOptions | undefined;
  endpoints: string[];
}

/** The shared state of every FakeClient made by one FakeCluster. */
export class FakeCluster {
  clusterId = 1484163906896517;
  memberId = 1027665774393297;
  raftTerm = 2;
  revision = 1;
  compacted = 0;
  readonly kvs = new Map<string, KeyValue>();
  readonly calls: Call[] = [];
  readonly made: CliClientOptions[] = [];
  closed = 0;
  /** Errors to throw, per method name, consumed one per call. */
  readonly failures = new Map<string, Error[]>();
  /** Per endpoint: an error its status/range calls throw (an unreachable member). */
  readonly downEndpoints = new Map<string, Error>();
  /** Makes the factory itself throw (bad endpoint). */
  factoryError: Error | undefined;
  /** The members, in ID order (as etcd lists them); the first is the one `memberId` names. */
  members: MemberInfo[] = [
    { ID: this.memberId, name: 'node1', peerURLs: ['tcp://127.0.0.1:12380'], clientURLs: ['ws://127.0.0.1:12381'], isLearner: false },
  ];
  /** The leader Status reports; `undefined` means `memberId`. */
  leaderId: number | undefined;
  /** Per endpoint: the member whose Status it answers with (default `memberId`). */
  readonly endpointMembers = new Map<string, number>();
  /** The active alarms (alarm list / disarm). */
  alarms: AlarmMember[] = [];
  /** The ID the next added member gets (then counts up). */
  nextMemberId = 0x8e6bd1b93988;

  /** The client factory to hand to `run()`. */
  factory = (options: CliClientOptions): CliClient => {
    if (this.factoryError) throw this.factoryError;
    this.made.push(options);
    return new FakeClient(this, options.endpoints);
  };

  failNext(method: string, error: Error): void {
    const list = this.failures.get(method) ?? [];
    list.push(error);
    this.failures.set(method, list);
  }

  header(): ResponseHeader {
    return { clusterId: this.clusterId, memberId: this.memberId, revision: this.revision, raftTerm: this.raftTerm };
  }

  /** Seeds a key directly (one revision per key, as separate puts would). */
  seed(key: string, value: string, lease = 0): void {
    this.putKv(new TextEncoder().encode(key), new TextEncoder().encode(value), lease, ++this.revision);
  }

  putKv(key: Uint8Array, value: Uint8Array, lease: number, rev: number): KeyValue | undefined {
    const prev = this.kvs.get(bin(key));
    const kv: KeyValue = {
      key,
      value,
      lease,
      createRevision: prev ? prev.createRevision : rev,
      modRevision: rev,
      version: prev ? prev.version + 1 : 1,
    };
    this.kvs.set(bin(key), kv);
    return prev;
  }

  keysIn(key: Uint8Array, rangeEnd: Uint8Array | null | undefined): KeyValue[] {
    const k = bin(key);
    const end = rangeEnd ? bin(rangeEnd) : '';
    const all = [...this.kvs.values()].sort((a, b) => (bin(a.key) < bin(b.key) ? -1 : 1));
    if (end === '') return all.filter((kv) => bin(kv.key) === k);
    if (end === '\x00') return all.filter((kv) => bin(kv.key) >= k);
    return all.filter((kv) => bin(kv.key) >= k && bin(kv.key) < end);
  }

  range(req: RangeRequest): RangeResponse {
    if ((req.revision ?? 0) > this.revision) throw new FutureRevisionError(this.revision);
    let kvs = this.keysIn(req.key, req.rangeEnd);
    const count = kvs.length;
    if (req.countOnly) return { header: this.header(), kvs: [], more: false, count };
    const target = req.sortTarget ?? SortTarget.KEY;
    const order = req.sortOrder ?? (target === SortTarget.KEY ? SortOrder.NONE : SortOrder.ASCEND);
    if (order !== SortOrder.NONE) {
      const field = (kv: KeyValue): string | number =>
        target === SortTarget.VALUE ? bin(kv.value) : target === SortTarget.KEY ? bin(kv.key)
        : target === SortTarget.CREATE ? kv.createRevision : target === SortTarget.MOD ? kv.modRevision : kv.version;
      kvs = [...kvs].sort((a, b) => (field(a) < field(b) ? -1 : field(a) > field(b) ? 1 : 0));
      if (order === SortOrder.DESCEND) kvs.reverse();
    }
    const limit = req.limit ?? 0;
    const more = limit > 0 && kvs.length > limit;
    if (more) kvs = kvs.slice(0, limit);
    if (req.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
    return { header: this.header(), kvs, more, count };
  }

  put(req: PutRequest, rev: number): PutResponse {
    const prev = this.kvs.get(bin(req.key));
    if ((req.ignoreValue || req.ignoreLease) && !prev) throw new KvError('KeyNotFound');
    const value = req.ignoreValue ? prev!.value : (req.value ?? new Uint8Array(0));
    const lease = req.ignoreLease ? prev!.lease : (req.lease ?? 0);
    this.putKv(req.key, value, lease, rev);
    return { header: this.header(), ...(req.prevKv && prev ? { prevKv: prev } : {}) };
  }

  deleteRange(req: DeleteRangeRequest, rev: () => number): DeleteRangeResponse {
    const gone = this.keysIn(req.key, req.rangeEnd);
    if (gone.length > 0) rev();
    for (const kv of gone) this.kvs.delete(bin(kv.key));
    return { header: this.header(), deleted: gone.length, prevKvs: req.prevKv ? gone : [] };
  }

  compare(c: Compare): boolean {
    const kv = this.kvs.get(bin(c.key));
    const target = c.target ?? CompareTarget.VERSION;
    let diff: number;
    if (target === CompareTarget.VALUE) {
      if (!kv) return false;
      const a = bin(kv.value);
      const b = bin(c.value ?? new Uint8Array(0));
      diff = a < b ? -1 : a > b ? 1 : 0;
    } else {
      const have = target === CompareTarget.VERSION ? (kv?.version ?? 0)
        : target === CompareTarget.CREATE ? (kv?.createRevision ?? 0)
        : target === CompareTarget.MOD ? (kv?.modRevision ?? 0) : (kv?.lease ?? 0);
      const want = target === CompareTarget.VERSION ? c.version : target === CompareTarget.CREATE ? c.createRevision
        : target === CompareTarget.MOD ? c.modRevision : c.lease;
      diff = Math.sign(have - (want ?? 0));
    }
    switch (c.result ?? CompareResult.EQUAL) {
      case CompareResult.EQUAL: return diff === 0;
      case CompareResult.NOT_EQUAL: return diff !== 0;
      case CompareResult.GREATER: return diff > 0;
      case CompareResult.LESS: return diff < 0;
    }
  }

  txn(req: TxnRequest): TxnResponse {
    const succeeded = (req.compare ?? []).every((c) => this.compare(c));
    const ops: RequestOp[] = (succeeded ? req.success : req.failure) ?? [];
    let rev = this.revision;
    const bump = (): number => (rev = this.revision + 1);
    const nested = (h: ResponseHeader): ResponseHeader => ({ clusterId: 0, memberId: 0, raftTerm: 0, revision: h.revision });
    const responses: ResponseOp[] = [];
    for (const op of ops) {
      if (op.requestRange) {
        const r = this.range(op.requestRange);
        responses.push({ responseRange: { ...r, header: nested({ ...r.header, revision: rev }) } });
      } else if (op.requestPut) {
        const r = this.put(op.requestPut, bump());
        responses.push({ responsePut: { ...r, header: nested({ ...r.header, revision: rev }) } });
      } else if (op.requestDeleteRange) {
        const r = this.deleteRange(op.requestDeleteRange, bump);
        responses.push({ responseDeleteRange: { ...r, header: nested({ ...r.header, revision: rev }) } });
      }
    }
    this.revision = rev;
    return { header: this.header(), succeeded, responses };
  }

  /** A membership answer: etcd's member headers carry no revision. */
  membersResponse(): MembersResponse {
    return { header: { ...this.header(), revision: 0 }, members: this.members.map((m) => ({ ...m })) };
  }

  member(id: number): MemberInfo {
    const m = this.members.find((x) => x.ID === id);
    if (!m) throw new KvError('MemberNotFound');
    return m;
  }

  memberAdd(req: MemberAddRequest): MemberAddResponse {
    const taken = new Set(this.members.flatMap((m) => m.peerURLs));
    if (req.peerURLs.some((u) => taken.has(u))) throw new KvError('PeerURLExist');
    const m: MemberInfo = { ID: this.nextMemberId++, name: '', peerURLs: [...req.peerURLs], clientURLs: [], isLearner: req.isLearner === true };
    this.members = [...this.members, m].sort((a, b) => a.ID - b.ID);
    const r = this.membersResponse();
    return { header: r.header, member: { ...m }, members: r.members };
  }

  memberRemove(req: MemberRemoveRequest): MembersResponse {
    this.member(req.ID);
    this.members = this.members.filter((m) => m.ID !== req.ID);
    return this.membersResponse();
  }

  memberUpdate(req: MemberUpdateRequest): MembersResponse {
    this.member(req.ID).peerURLs = [...req.peerURLs];
    return this.membersResponse();
  }

  memberPromote(req: MemberPromoteRequest): MembersResponse {
    const m = this.member(req.ID);
    if (!m.isLearner) throw new KvError('MemberNotLearner');
    m.isLearner = false;
    return this.membersResponse();
  }

  /** `from`: the member the request reached. Only the leader may move leadership. */
  moveLeader(req: MoveLeaderRequest, from: number): MoveLeaderResponse {
    if (from !== (this.leaderId ?? this.memberId)) throw new KvError('NotLeader');
    const to = this.members.find((m) => m.ID === req.targetID);
    if (!to || to.isLearner) throw new KvError('BadLeaderTransferee');
    this.leaderId = to.ID;
    this.raftTerm++;
    return { header: { ...this.header(), memberId: from } };
  }

  status(endpoint?: string): StatusResponse {
    const memberId = (endpoint === undefined ? undefined : this.endpointMembers.get(endpoint)) ?? this.memberId;
    return {
      header: { ...this.header(), memberId },
      version: '3.4.23',
      dbSize: 24576,
      leader: this.leaderId ?? this.memberId,
      raftIndex: 68,
      raftTerm: this.raftTerm,
      raftAppliedIndex: 68,
      errors: [],
      dbSizeInUse: 24576,
      isLearner: false,
    };
  }
}

/** One client of a FakeCluster. */
export class FakeClient implements CliClient {
  constructor(
    private readonly cluster: FakeCluster,
    private readonly endpoints: string[],
  ) {}

  private async call<T>(method: string, req: unknown, options: CliCallOptions | undefined, fn: () => T): Promise<T> {
    const c = this.cluster;
    c.calls.push({ method, req, options, endpoints: this.endpoints });
    const down = this.endpoints.length === 1 ? c.downEndpoints.get(this.endpoints[0]!) : undefined;
    if (down) throw down;
    const failure = c.failures.get(method)?.shift();
    if (failure) throw failure;
    return fn();
  }

  range(req: RangeRequest, o?: CliCallOptions): Promise<RangeResponse> {
    return this.call('range', req, o, () => this.cluster.range(req));
  }
  put(req: PutRequest, o?: CliCallOptions): Promise<PutResponse> {
    return this.call('put', req, o, () => {
      const rev = ++this.cluster.revision;
      return this.cluster.put(req, rev);
    });
  }
  deleteRange(req: DeleteRangeRequest, o?: CliCallOptions): Promise<DeleteRangeResponse> {
    return this.call('deleteRange', req, o, () => this.cluster.deleteRange(req, () => ++this.cluster.revision));
  }
  txnRaw(req: TxnRequest, o?: CliCallOptions): Promise<TxnResponse> {
    return this.call('txnRaw', req, o, () => this.cluster.txn(req));
  }
  compact(req: CompactionRequest, o?: CliCallOptions): Promise<CompactionResponse> {
    return this.call('compact', req, o, () => {
      const c = this.cluster;
      if (req.revision <= c.compacted) throw new CompactedError(c.compacted);
      if (req.revision > c.revision) throw new FutureRevisionError(c.revision);
      c.compacted = req.revision;
      return { header: c.header() };
    });
  }
  status(o?: CliCallOptions): Promise<StatusResponse> {
    return this.call('status', {}, o, () => this.cluster.status(this.singleEndpoint()));
  }
  /** The endpoint of a one-endpoint client (as `endpoint status` and `move-leader` make). */
  private singleEndpoint(): string | undefined {
    return this.endpoints.length === 1 ? this.endpoints[0] : undefined;
  }
  memberList(o?: CliCallOptions): Promise<MembersResponse> {
    return this.call('memberList', {}, o, () => this.cluster.membersResponse());
  }
  memberAdd(req: MemberAddRequest, o?: CliCallOptions): Promise<MemberAddResponse> {
    return this.call('memberAdd', req, o, () => this.cluster.memberAdd(req));
  }
  memberRemove(req: MemberRemoveRequest, o?: CliCallOptions): Promise<MembersResponse> {
    return this.call('memberRemove', req, o, () => this.cluster.memberRemove(req));
  }
  memberUpdate(req: MemberUpdateRequest, o?: CliCallOptions): Promise<MembersResponse> {
    return this.call('memberUpdate', req, o, () => this.cluster.memberUpdate(req));
  }
  memberPromote(req: MemberPromoteRequest, o?: CliCallOptions): Promise<MembersResponse> {
    return this.call('memberPromote', req, o, () => this.cluster.memberPromote(req));
  }
  moveLeader(req: MoveLeaderRequest, o?: CliCallOptions): Promise<MoveLeaderResponse> {
    return this.call('moveLeader', req, o, () => {
      const ep = this.singleEndpoint();
      return this.cluster.moveLeader(req, (ep === undefined ? undefined : this.cluster.endpointMembers.get(ep)) ?? this.cluster.memberId);
    });
  }
  alarmList(type?: number, o?: CliCallOptions): Promise<AlarmResponse> {
    return this.call('alarmList', { type }, o, () => ({ alarms: [...this.cluster.alarms] }));
  }
  alarmDisarm(m?: Partial<AlarmMember>, o?: CliCallOptions): Promise<AlarmResponse> {
    return this.call('alarmDisarm', m, o, () => {
      const cleared = this.cluster.alarms;
      this.cluster.alarms = [];
      return { alarms: cleared };
    });
  }
  defragment(o?: CliCallOptions): Promise<void> {
    return this.call('defragment', {}, o, () => undefined);
  }
  async close(): Promise<void> {
    this.cluster.closed++;
  }
}
