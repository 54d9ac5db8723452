/**
 * Operating errors: typed, handled, sent to clients with etcd's gRPC status code and its exact
 * message (clients match the message text, so the text is part of the API).
 *
 * `ERRORS` is the one table from an error code to its wire form. Servers send
 * `{ status, message }`; clients map the message back with `errorFromWire`.
 */

/** gRPC status codes used on every transport. */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const S = Status;

/** Error code → wire status and message. Messages are etcd 3.4's, byte for byte. */
export const ERRORS = {
  KeyNotProvided: { status: S.INVALID_ARGUMENT, message: 'etcdserver: key is not provided' },
  KeyNotFound: { status: S.INVALID_ARGUMENT, message: 'etcdserver: key not found' },
  ValueProvided: { status: S.INVALID_ARGUMENT, message: 'etcdserver: value is provided' },
  LeaseProvided: { status: S.INVALID_ARGUMENT, message: 'etcdserver: lease is provided' },
  TooManyOps: { status: S.INVALID_ARGUMENT, message: 'etcdserver: too many operations in txn request' },
  DuplicateKey: { status: S.INVALID_ARGUMENT, message: 'etcdserver: duplicate key given in txn request' },
  Compacted: { status: S.OUT_OF_RANGE, message: 'etcdserver: mvcc: required revision has been compacted' },
  FutureRev: { status: S.OUT_OF_RANGE, message: 'etcdserver: mvcc: required revision is a future revision' },
  NoSpace: { status: S.RESOURCE_EXHAUSTED, message: 'etcdserver: mvcc: database space exceeded' },
  RequestTooLarge: { status: S.INVALID_ARGUMENT, message: 'etcdserver: request is too large' },
  TooManyRequests: { status: S.RESOURCE_EXHAUSTED, message: 'etcdserver: too many requests' },
  LeaseNotFound: { status: S.NOT_FOUND, message: 'etcdserver: requested lease not found' },
  LeaseExist: { status: S.FAILED_PRECONDITION, message: 'etcdserver: lease already exists' },
  LeaseTTLTooLarge: { status: S.OUT_OF_RANGE, message: 'etcdserver: too large lease TTL' },
  WatchCanceled: { status: S.CANCELLED, message: 'etcdserver: watch canceled' },
  NoLeader: { status: S.UNAVAILABLE, message: 'etcdserver: no leader' },
  NotLeader: { status: S.FAILED_PRECONDITION, message: 'etcdserver: not leader' },
  LeaderChanged: { status: S.UNAVAILABLE, message: 'etcdserver: leader changed' },
  Stopped: { status: S.UNAVAILABLE, message: 'etcdserver: server stopped' },
  Timeout: { status: S.UNAVAILABLE, message: 'etcdserver: request timed out' },
  Unhealthy: { status: S.UNAVAILABLE, message: 'etcdserver: unhealthy cluster' },
  Corrupt: { status: S.DATA_LOSS, message: 'etcdserver: corrupt cluster' },
  BadLeaderTransferee: { status: S.FAILED_PRECONDITION, message: 'etcdserver: bad leader transferee' },
  NotCapable: { status: S.UNAVAILABLE, message: 'etcdserver: not capable' },
  MemberExist: { status: S.FAILED_PRECONDITION, message: 'etcdserver: member ID already exist' },
  PeerURLExist: { status: S.FAILED_PRECONDITION, message: 'etcdserver: Peer URLs already exists' },
  MemberBadURLs: { status: S.INVALID_ARGUMENT, message: 'etcdserver: given member URLs are invalid' },
  MemberNotFound: { status: S.NOT_FOUND, message: 'etcdserver: member not found' },
  MemberNotLearner: { status: S.FAILED_PRECONDITION, message: 'etcdserver: can only promote a learner member' },
  LearnerNotReady: { status: S.FAILED_PRECONDITION, message: 'etcdserver: can only promote a learner member which is in sync with leader' },
  TooManyLearners: { status: S.FAILED_PRECONDITION, message: 'etcdserver: too many learner members in cluster' },
  ReconfigFailed: { status: S.FAILED_PRECONDITION, message: 'etcdserver: re-configuration failed due to not enough started members' },
  // Errors of etcetera's own transports (no etcd equivalent string).
  InvalidArgument: { status: S.INVALID_ARGUMENT, message: 'etcetera: invalid argument' },
  UnknownMethod: { status: S.UNIMPLEMENTED, message: 'etcetera: unknown method' },
  MalformedRequest: { status: S.INVALID_ARGUMENT, message: 'etcetera: malformed request' },
  FrameTooLarge: { status: S.RESOURCE_EXHAUSTED, message: 'etcetera: frame too large' },
  TransportClosed: { status: S.UNAVAILABLE, message: 'etcetera: connection closed' },
  Canceled: { status: S.CANCELLED, message: 'etcetera: request canceled' },
  DeadlineExceeded: { status: S.DEADLINE_EXCEEDED, message: 'etcetera: deadline exceeded' },
  Storage: { status: S.INTERNAL, message: 'etcetera: storage error' },
  Internal: { status: S.INTERNAL, message: 'etcetera: internal error' },
} as const satisfies Record<string, { status: Status; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * The base of every operating error. `message` is the wire message: etcd's exact string, or
 * for etcetera's own codes the table's prefix plus a detail (`etcetera: invalid argument:
 * limit must be >= 0`).
 */
export class KvError extends Error {
  readonly status: Status;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    const base = ERRORS[code].message;
    super(detail === undefined ? base : `${base}: ${detail}`, options);
    this.name = 'KvError';
    this.status = ERRORS[code].status;
  }
}

/** A read or compaction below the compacted revision. */
export class CompactedError extends KvError {
  constructor(readonly compactRevision: number) {
    super('Compacted');
    this.name = 'CompactedError';
  }
}

/** A read or compaction above the current revision. */
export class FutureRevisionError extends KvError {
  constructor(readonly currentRevision: number) {
    super('FutureRev');
    this.name = 'FutureRevisionError';
  }
}

/** Sent to a client for a request a follower cannot serve; `leaderHint` is a member id or 0. */
export class NotLeaderError extends KvError {
  constructor(readonly leaderHint: number) {
    super('NotLeader');
    this.name = 'NotLeaderError';
  }
}

/** Shorthand for `new KvError('InvalidArgument', detail)`. */
export function invalidArgument(detail: string): KvError {
  return new KvError('InvalidArgument', detail);
}

const byMessage = new Map<string, ErrorCode>(
  (Object.keys(ERRORS) as ErrorCode[]).map((code) => [ERRORS[code].message, code]),
);

/**
 * Rebuilds a typed error from what a transport carried: `status` and `message`. Messages with
 * a detail after an etcetera prefix map to that prefix's code. Unknown messages become
 * `Internal` with the text kept.
 */
export function errorFromWire(status: number, message: string): KvError {
  let code = byMessage.get(message);
  let detail: string | undefined;
  if (code === undefined) {
    const cut = message.indexOf(': ', 'etcetera: '.length);
    if (message.startsWith('etcetera: ') && cut > 0) {
      code = byMessage.get(message.slice(0, cut));
      detail = message.slice(cut + 2);
    }
  }
  if (code === undefined) {
    const e = new KvError('Internal', `status ${status}: ${message}`);
    return e;
  }
  if (code === 'Compacted') return new CompactedError(0);
  if (code === 'FutureRev') return new FutureRevisionError(0);
  if (code === 'NotLeader') return new NotLeaderError(0);
  return new KvError(code, detail);
}
