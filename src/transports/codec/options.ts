/**
 * Options and limits shared by the ws and tcp listeners. Every limit has a name, a default
 * and a check where data enters (see server-session.ts and frame-decoder.ts).
 */

/** What the composition root passes to a client listener. */
export interface ListenerOptions {
  /** `host:port` to listen on, e.g. `127.0.0.1:2381` or `[::1]:0`; port 0 picks a free port. */
  address: string;
  /**
   * Largest frame accepted from a client (kind + id + method + payload, without the tcp length
   * prefix). A larger one is refused with `RequestTooLarge`; on tcp the connection is then
   * closed, because the stream cannot be trusted past a length it refused.
   */
  maxFrameBytes: number;
  /**
   * Outbound bytes queued to one connection above which the server stops reading requests
   * from it (pauses the socket) until the queue drains. Bounds the memory a client that does
   * not read its answers can make the server hold.
   */
  maxQueuedBytes: number;
  /** Calls in flight per connection; one more is refused with `TooManyRequests`. */
  maxCallsPerConnection?: number;
}

/** etcd's default max-request-bytes (1.5 MiB) plus the 512 KiB it allows gRPC for framing. */
export const DEFAULT_MAX_FRAME_BYTES = 1.5 * 1024 * 1024 + 512 * 1024;
/** Default `maxQueuedBytes`. */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** Default `maxCallsPerConnection`. */
export const DEFAULT_MAX_CALLS_PER_CONNECTION = 1024;

/** Validated limits of one listener. */
export interface Limits {
  readonly maxFrameBytes: number;
  readonly maxQueuedBytes: number;
  readonly maxCallsPerConnection: number;
}

function positiveInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

/** Checks the options' limits; throws a RangeError naming the bad one. */
export function limitsOf(o: ListenerOptions): Limits {
  return Object.freeze({
    // At least room for a header and a small payload; at most what a u32 length and a Buffer hold.
    maxFrameBytes: positiveInt('maxFrameBytes', o.maxFrameBytes, 64, 0x7fffffff),
    maxQueuedBytes: positiveInt('maxQueuedBytes', o.maxQueuedBytes, 1, Number.MAX_SAFE_INTEGER),
    maxCallsPerConnection: positiveInt(
      'maxCallsPerConnection',
      o.maxCallsPerConnection ?? DEFAULT_MAX_CALLS_PER_CONNECTION,
      1,
      0xffffffff,
    ),
  });
}

/**
 * Splits a listen address into host and port: `127.0.0.1:2381`, `[::1]:2381`, `localhost:0`.
 * A leading scheme (`tcp://`, `ws://`) is tolerated and ignored; an empty host means all
 * interfaces. Throws a RangeError for anything else.
 */
export function parseAddress(address: string): { host: string; port: number } {
  const rest = address.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '');
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(rest);
  if (m === null) throw new RangeError(`bad listen address "${address}": want host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new RangeError(`bad listen address "${address}": port out of range`);
  return { host: m[1] ?? m[2] ?? '', port };
}
