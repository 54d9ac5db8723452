/**
 * The KV and Maintenance API services: validate, propose writes through the consensus host or
 * read the projection, and fill response headers. Every transport calls these; none contains
 * business logic of its own.
 *
 * Puts and txns with puts are checked against the backend space quota before they are
 * proposed (backend-quota.ts); alarms are raised and cleared through the log and listed from
 * the replicated alarm table (Maintenance.Alarm, Status.errors).
 */
import { inject, injectable, optional } from 'inversify';
import type { AlarmRequest, AlarmResponse, HashRequest, HashResponse } from '../core/api/alarm.js';

/** etcdserverpb.DefragmentRequest (no fields). */
export type DefragmentRequest = Record<string, never>;
/** etcdserverpb.DefragmentResponse: no header in etcd 3.4. */
export type DefragmentResponse = Record<string, never>;
import { AlarmAction, alarmText } from '../core/api/alarm.js';
import type { AlarmStore } from '../core/apply/alarm-store.js';
import { putCost, txnCost } from '../core/apply/quota-cost.js';
import { crc32c } from '../core/mvcc/crc32c.js';
import { BUCKETS } from '../core/ports/storage-driver.js';
import type {
  HashKVRequest,
  HashKVResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  InternalRequest,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  SnapshotRequest,
  SnapshotResponse,
  StatusRequest,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../core/api/kv.js';
import {
  validateAlarm,
  validateCompaction,
  validateDeleteRange,
  validatePut,
  validateRange,
  validateTxn,
} from '../core/apply/validate.js';
import { assert } from '../core/assert.js';
import { ERRORS, KvError } from '../core/errors.js';
import type {
  CallContext,
  KvService,
  MaintenanceService,
  StreamHandlers,
  StreamSink,
} from '../core/ports/services.js';
import { encodeBackendSnapshot } from './backend-snapshot.js';
import { Config } from './config.js';
import { ConsensusHost } from './host.js';
import { snapshotChunks } from './snapshot-file.js';
import { BackendQuota } from './backend-quota.js';
import { AlarmStoreToken, StorageHandlesToken, type StorageHandlesT } from './tokens.js';

/** The etcd API version this server speaks, reported by Status. */
export const API_VERSION = '3.4.0';

type WriteResponse = { header: ResponseHeader };

/** The progress of one Snapshot stream. */
interface SnapshotPump {
  started: boolean;
  canceled: boolean;
  /** Ends the pump's current wait early (set while it waits). */
  wake: (() => void) | null;
}

@injectable()
export class KvServiceImpl implements KvService {
  constructor(
    @inject(ConsensusHost) private readonly host: ConsensusHost,
    @inject(Config) private readonly config: Config,
    /** The space quota writes are checked against (absent in tests of the service alone). */
    @inject(BackendQuota) @optional() private readonly quota?: BackendQuota,
  ) {}

  async range(req: RangeRequest, ctx?: CallContext): Promise<RangeResponse> {
    validateRange(req);
    // NB: ctx.signal is created lazily by the transports and costs ~1.5 µs, so it is read
    // only where a call may wait (a multi-member read barrier); one member never waits here.
    if (!req.serializable) await this.host.readBarrier(ctx);
    const store = this.host.store;
    const r = store.range(req);
    return { header: this.header(store.currentRevision), kvs: r.kvs, more: r.more, count: r.count };
  }

  put(req: PutRequest, ctx?: CallContext): Promise<PutResponse> {
    validatePut(req);
    this.quota?.check(putCost(req));
    return this.write<PutResponse>({ put: req }, ctx);
  }

  deleteRange(req: DeleteRangeRequest, ctx?: CallContext): Promise<DeleteRangeResponse> {
    validateDeleteRange(req);
    return this.write<DeleteRangeResponse>({ deleteRange: req }, ctx);
  }

  async txn(req: TxnRequest, ctx?: CallContext): Promise<TxnResponse> {
    validateTxn(req, this.config.maxTxnOps);
    this.quota?.check(txnCost(req));
    return this.write<TxnResponse>({ txn: req }, ctx);
  }

  compact(req: CompactionRequest, ctx?: CallContext): Promise<CompactionResponse> {
    validateCompaction(req);
    return this.write<CompactionResponse>({ compaction: req }, ctx);
  }

  private async write<R extends WriteResponse>(request: Omit<InternalRequest, 'id'>, ctx?: CallContext): Promise<R> {
    // A proposal is not withdrawn once queued (it may already be committed), so the call's
    // signal is not needed here: the transport drops the answer of a cancelled call.
    void ctx;
    const result = await this.host.propose(request);
    if (result.error !== undefined) throw result.error;
    assert(result.response !== undefined, 'an applied write has a response or an error');
    const response = result.response as R;
    response.header = this.header(response.header.revision);
    return response;
  }

  /** A full response header at `revision`. */
  header(revision: number): ResponseHeader {
    const s = this.host.status();
    return { clusterId: s.clusterId, memberId: s.memberId, revision, raftTerm: s.term };
  }
}

@injectable()
export class MaintenanceServiceImpl implements MaintenanceService {
  constructor(
    @inject(ConsensusHost) private readonly host: ConsensusHost,
    @inject(StorageHandlesToken) private readonly storage: StorageHandlesT,
    /** The replicated alarm table (absent in tests of the service alone: no alarms then). */
    @inject(AlarmStoreToken) @optional() private readonly alarms?: AlarmStore,
  ) {}

  /**
   * Maintenance.Alarm. ACTIVATE and DEACTIVATE go through the log (every member applies them
   * to its alarm table); GET reads this member's table after a read barrier, which is as
   * linearizable as etcd's GET through the log without adding an entry. GET filters by type
   * only (NONE: all), as etcd 3.4. No header, as etcd 3.4.
   */
  async alarm(req: AlarmRequest, ctx?: CallContext): Promise<AlarmResponse> {
    validateAlarm(req);
    const action = req.action ?? AlarmAction.GET;
    if (action === AlarmAction.GET) {
      await this.host.readBarrier(ctx);
      return { alarms: this.alarms?.list(req.alarm ?? 0) ?? [] };
    }
    const result = await this.host.propose({
      alarm: { action, memberID: req.memberID ?? 0, alarm: req.alarm ?? 0 },
    });
    if (result.error !== undefined) throw result.error;
    assert(result.response !== undefined, 'an applied alarm has a response or an error');
    return result.response as AlarmResponse;
  }

  /**
   * Maintenance.Hash: etcd's backend hash, a CRC-32C (Castagnoli) over every bucket in the
   * order of their names, each contributing its name and then its keys and values in key
   * order; the consistent index is left out (it is the one thing members may legitimately
   * differ in at the same revision, as in etcd). Equal on members that applied the same log.
   * NB: one synchronous pass over the backend, like Snapshot's encoding.
   */
  async hash(_req: HashRequest, _ctx?: CallContext): Promise<HashResponse> {
    const s = this.host.status();
    const backend = this.storage.backend;
    let h = 0;
    for (const bucket of [...BUCKETS].sort()) {
      h = crc32c(h, Buffer.from(bucket, 'latin1'));
      for (const [k, v] of backend.range(bucket)) {
        if (bucket === 'meta' && Buffer.from(k).toString('latin1') === 'consistent_index') continue;
        h = crc32c(h, k);
        h = crc32c(h, v);
      }
    }
    return {
      header: { clusterId: s.clusterId, memberId: s.memberId, revision: this.host.store.currentRevision, raftTerm: s.term },
      hash: h,
    };
  }

  async hashKV(req: HashKVRequest, _ctx?: CallContext): Promise<HashKVResponse> {
    const s = this.host.status();
    const store = this.host.store;
    const h = store.hashKV(req.revision ?? 0);
    return {
      header: { clusterId: s.clusterId, memberId: s.memberId, revision: store.currentRevision, raftTerm: s.term },
      hash: h.hash,
      compactRevision: h.compactRevision,
    };
  }

  /**
   * Maintenance.Snapshot. The backend is encoded in one synchronous pass, so the snapshot is
   * of one applied index (the applier commits whole batches between event-loop turns); the
   * chunks then go out one per turn, or as the client drains them, so streaming a large
   * snapshot to a slow client never holds the event loop or the applier.
   *
   * NB: the encoding pass itself holds the event loop for as long as it takes to copy the
   * backend (time proportional to its size), and the encoded backend stays in memory while it
   * streams (as etcd holds a read transaction open). A backend near the size of memory would
   * need an incremental encoder over a read snapshot, which the Backend port does not offer.
   */
  readonly snapshot = (sink: StreamSink<SnapshotResponse>, _ctx: CallContext): StreamHandlers<SnapshotRequest> => {
    const state: SnapshotPump = { started: false, canceled: false, wake: null };
    const start = (): void => {
      if (state.started) return;
      state.started = true;
      void this.pumpSnapshot(sink, state);
    };
    return {
      message: start,
      // A client that half-closes without a request (the JSON gateway with an empty body)
      // asks for the same thing.
      end: start,
      cancel: () => {
        state.canceled = true;
        // A pump waiting for a drain that will never come (the stream is gone) lets go now.
        state.wake?.();
      },
    };
  };

  private async pumpSnapshot(sink: StreamSink<SnapshotResponse>, state: SnapshotPump): Promise<void> {
    let chunks: Generator<SnapshotResponse>;
    try {
      chunks = snapshotChunks(encodeBackendSnapshot(this.storage.backend));
    } catch (err) {
      sink.close(new KvError('Storage', undefined, { cause: err }));
      return;
    }
    for (const chunk of chunks) {
      if (state.canceled) return;
      const below = sink.send(chunk);
      await new Promise<void>((resolve) => {
        state.wake = resolve;
        if (below) setImmediate(resolve);
        else sink.onDrain(resolve);
      });
      state.wake = null;
    }
    if (!state.canceled) sink.close();
  }

  async status(_req: StatusRequest, _ctx?: CallContext): Promise<StatusResponse> {
    const s = this.host.status();
    const dbSize = this.storage.backend.sizeBytes();
    return {
      header: { clusterId: s.clusterId, memberId: s.memberId, revision: this.host.store.currentRevision, raftTerm: s.term },
      version: API_VERSION,
      dbSize,
      leader: s.leader,
      raftIndex: s.commitIndex,
      raftTerm: s.term,
      raftAppliedIndex: s.appliedIndex,
      errors: this.statusErrors(s.leader),
      dbSizeInUse: dbSize,
      isLearner: false,
    };
  }

  /**
   * Maintenance.Defragment: the driver's defragmentation where it has one (SQLite: VACUUM,
   * which holds the event loop for the rewrite, as etcd's Defrag holds its backend's writes;
   * LMDB: a compacting copy on a worker thread, then a swap, while commits go on); elsewhere
   * nothing to do (the memory driver's size is its live data). No header, as etcd 3.4.
   */
  async defragment(_req: DefragmentRequest, _ctx?: CallContext): Promise<DefragmentResponse> {
    try {
      await this.storage.backend.defragment?.();
    } catch (err) {
      throw new KvError('Storage', 'defragment failed', { cause: err });
    }
    return {};
  }

  /** etcd's Status.errors: "no leader" when there is none, then each active alarm as text. */
  private statusErrors(leader: number): string[] {
    const errors: string[] = [];
    if (leader === 0) errors.push(ERRORS.NoLeader.message);
    for (const a of this.alarms?.list() ?? []) errors.push(alarmText(a));
    return errors;
  }
}
