// A toy `Services` for transport and client tests: a Map of keys to values with a revision
// counter, obviously not the product (no MVCC history, no real txn semantics). Test hooks:
// calls on keys starting with "hold/" wait until the test releases them (and expose their
// CallContext), "throw/..." keys make the call fail in chosen ways, and the toy records how
// many calls it received.
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../../src/core/api/kv.js';
import { CompactedError, invalidArgument } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/ports/logger.js';
import type { CallContext, Services } from '../../src/core/ports/services.js';

const text = (b: Uint8Array | null | undefined): string => (b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1') : '');

/** A call parked on a "hold/" key. */
export interface HeldCall {
  readonly key: string;
  readonly ctx: CallContext | undefined;
  release(): void;
  fail(err: unknown): void;
}

export class FakeServices implements Services {
  private readonly data = new Map<string, KeyValue>();
  private revision = 1;
  /** Calls received, by method. */
  readonly calls = { range: 0, put: 0, deleteRange: 0, txn: 0, compact: 0, status: 0 };
  /** Calls waiting on "hold/" keys, in arrival order. */
  readonly held: HeldCall[] = [];
  /** When false, "hold/" keys are served at once like any other key. */
  holding = true;
  /** Bytes of the prevKv value a put on a "big/" key answers with. */
  bigValueBytes = 64 * 1024;
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(readonly memberId = 1) {}

  /** Resolves once at least `n` calls are held. */
  whenHeld(n: number): Promise<void> {
    if (this.held.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  private header(): ResponseHeader {
    return { clusterId: 77, memberId: this.memberId, revision: this.revision, raftTerm: 2 };
  }

  private async gate(key: string, ctx: CallContext | undefined): Promise<void> {
    if (key.startsWith('throw/kv')) throw new CompactedError(5);
    if (key.startsWith('throw/arg')) throw invalidArgument('limit must be >= 0');
    if (key.startsWith('throw/internal')) throw new Error('boom: a bug in the service');
    if (!key.startsWith('hold/') || !this.holding) return;
    await new Promise<void>((resolve, reject) => {
      this.held.push({ key, ctx, release: resolve, fail: reject });
      this.waiters = this.waiters.filter((w) => (w.n <= this.held.length ? (w.resolve(), false) : true));
    });
  }

  readonly kv = {
    range: async (req: RangeRequest, ctx?: CallContext): Promise<RangeResponse> => {
      this.calls.range++;
      const key = text(req.key);
      await this.gate(key, ctx);
      const end = req.rangeEnd && req.rangeEnd.length > 0 ? text(req.rangeEnd) : null;
      let kvs = [...this.data.values()]
        .filter((kv) => {
          const k = text(kv.key);
          if (end === null) return k === key;
          return k >= key && (end === '\0' || k < end);
        })
        .sort((a, b) => (text(a.key) < text(b.key) ? -1 : 1));
      const count = kvs.length;
      const limit = req.limit ?? 0;
      const more = limit > 0 && kvs.length > limit;
      if (more) kvs = kvs.slice(0, limit);
      return { header: this.header(), kvs: req.countOnly ? [] : kvs, more, count };
    },
    put: async (req: PutRequest, ctx?: CallContext): Promise<PutResponse> => {
      this.calls.put++;
      const key = text(req.key);
      await this.gate(key, ctx);
      const prev = this.data.get(key) ?? null;
      this.revision++;
      this.data.set(key, {
        key: Buffer.from(req.key),
        value: Buffer.from(req.value ?? new Uint8Array(0)),
        createRevision: prev?.createRevision ?? this.revision,
        modRevision: this.revision,
        version: (prev?.version ?? 0) + 1,
        lease: req.lease ?? 0,
      });
      if (key.startsWith('big/')) {
        const big = { key: req.key, value: Buffer.alloc(this.bigValueBytes, 7), createRevision: 1, modRevision: 1, version: 1, lease: 0 };
        return { header: this.header(), prevKv: big };
      }
      return { header: this.header(), prevKv: req.prevKv ? prev : null };
    },
    deleteRange: async (req: DeleteRangeRequest, ctx?: CallContext): Promise<DeleteRangeResponse> => {
      this.calls.deleteRange++;
      const key = text(req.key);
      await this.gate(key, ctx);
      const end = req.rangeEnd && req.rangeEnd.length > 0 ? text(req.rangeEnd) : null;
      const gone: KeyValue[] = [];
      for (const [k, kv] of this.data) {
        if (end === null ? k === key : k >= key && (end === '\0' || k < end)) gone.push(kv);
      }
      if (gone.length > 0) this.revision++;
      for (const kv of gone) this.data.delete(text(kv.key));
      return { header: this.header(), deleted: gone.length, prevKvs: req.prevKv ? gone : [] };
    },
    txn: async (req: TxnRequest, ctx?: CallContext): Promise<TxnResponse> => {
      this.calls.txn++;
      // Toy semantics: a compare holds iff its key exists; then run the branch's puts only.
      const ok = (req.compare ?? []).every((c) => this.data.has(text(c.key)));
      for (const c of req.compare ?? []) await this.gate(text(c.key), ctx);
      const responses = [];
      for (const op of (ok ? req.success : req.failure) ?? []) {
        if (op.requestPut) responses.push({ responsePut: await this.kv.put(op.requestPut) });
        else if (op.requestRange) responses.push({ responseRange: await this.kv.range(op.requestRange) });
      }
      return { header: this.header(), succeeded: ok, responses };
    },
    compact: async (req: CompactionRequest): Promise<CompactionResponse> => {
      this.calls.compact++;
      if (req.revision > this.revision) throw new CompactedError(0);
      return { header: this.header() };
    },
  };

  readonly maintenance = {
    status: async (): Promise<StatusResponse> => {
      this.calls.status++;
      return {
        header: this.header(),
        version: '3.4.0-toy',
        dbSize: 2 ** 40,
        leader: this.memberId,
        raftIndex: this.revision,
        raftTerm: 2,
        raftAppliedIndex: this.revision,
        errors: [],
        dbSizeInUse: 1,
        isLearner: false,
      };
    },
  };
}

/** A logger that keeps what it is given, for assertions. */
export class MemoryLogger implements Logger {
  readonly entries: { level: string; obj: object; msg?: string }[] = [];
  debug(obj: object, msg?: string): void {
    this.entries.push({ level: 'debug', obj, msg });
  }
  info(obj: object, msg?: string): void {
    this.entries.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg?: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg?: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
}
