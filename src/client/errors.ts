/**
 * The errors a client call rejects with. Every one is a `KvError` whose `code` names it;
 * errors from a server are rebuilt from the wire with `errorFromWire`, so they compare equal
 * by `code` and `message` to what the server threw.
 *
 * Transport failures: `TransportClosed` (status UNAVAILABLE) when no endpoint answers or the
 * connection dropped with the call in flight — a write may or may not have happened then;
 * `DeadlineExceeded` after the call's timeout; `Canceled` when its AbortSignal fired;
 * `RequestTooLarge` when the request exceeds the client's `maxFrameBytes` (never sent).
 */
export {
  CompactedError,
  ERRORS,
  FutureRevisionError,
  KvError,
  NotLeaderError,
  Status,
  errorFromWire,
  type ErrorCode,
} from '../core/errors.js';
