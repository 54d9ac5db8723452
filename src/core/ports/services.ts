/**
 * The API services every client transport calls. Transports decode a request, call one of
 * these, and encode the answer or the `KvError` it throws; they hold no business logic.
 * Later issues add watch, lease, cluster and auth services here.
 */
import type { ServiceIdentifier } from 'inversify';
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  StatusRequest,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../api/kv.js';

/** Per-call context a transport passes along. */
export interface CallContext {
  /** Aborted when the client cancels the call or its connection closes. */
  readonly signal?: AbortSignal;
}

export interface KvService {
  range(req: RangeRequest, ctx?: CallContext): Promise<RangeResponse>;
  put(req: PutRequest, ctx?: CallContext): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest, ctx?: CallContext): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest, ctx?: CallContext): Promise<TxnResponse>;
  compact(req: CompactionRequest, ctx?: CallContext): Promise<CompactionResponse>;
}

export interface MaintenanceService {
  status(req: StatusRequest, ctx?: CallContext): Promise<StatusResponse>;
}

export interface Services {
  readonly kv: KvService;
  readonly maintenance: MaintenanceService;
}

export const Services: ServiceIdentifier<Services> = Symbol.for('etcetera.Services');
