/**
 * What a request costs against the backend space quota, as etcd 3.4's backendQuota estimates
 * it (etcdserver/quota.go). The member checks `backend size + cost < quota` before proposing a
 * request with a cost; the applier refuses every request with a cost while a NOSPACE alarm is
 * active. A request with no cost (a read, a delete, a compaction) is never refused for space.
 */
import type { PutRequest, RequestOp, TxnRequest } from '../api/kv.js';

/** etcd's estimate of the space a key's metadata takes (kvOverhead). */
export const KV_OVERHEAD_BYTES = 256;
/** etcd's estimate of the space a lease takes (leaseOverhead). */
export const LEASE_OVERHEAD_BYTES = 64;

/** A put: its key and value plus the metadata estimate. */
export function putCost(req: PutRequest): number {
  return KV_OVERHEAD_BYTES + (req.key?.length ?? 0) + (req.value?.length ?? 0);
}

function opCost(op: RequestOp): number {
  const p = op.requestPut;
  return p === null || p === undefined ? 0 : putCost(p);
}

/**
 * A txn: the dearer of its two branches, counting only their top-level puts. NB: as in etcd
 * 3.4, puts inside a nested txn cost nothing, so such a txn passes the quota and the NOSPACE
 * alarm; kept so, for the same answers as etcd.
 */
export function txnCost(req: TxnRequest): number {
  let success = 0;
  for (const op of req.success ?? []) success += opCost(op);
  let failure = 0;
  for (const op of req.failure ?? []) failure += opCost(op);
  return Math.max(success, failure);
}

/**
 * Whether a txn only reads (etcd's isTxnReadonly): no put and no delete in any branch, nested
 * txns included. etcd serves such a txn without the log, so no alarm refuses it.
 */
export function txnIsReadOnly(req: TxnRequest): boolean {
  for (const ops of [req.success ?? [], req.failure ?? []]) {
    for (const op of ops) {
      if (op.requestPut !== null && op.requestPut !== undefined) return false;
      if (op.requestDeleteRange !== null && op.requestDeleteRange !== undefined) return false;
      if (op.requestTxn !== null && op.requestTxn !== undefined && !txnIsReadOnly(op.requestTxn)) return false;
    }
  }
  return true;
}
