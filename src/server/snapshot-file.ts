/**
 * The snapshot file: what Maintenance.Snapshot streams, what `etcdctl snapshot save` and
 * `etceteractl snapshot save` write, and what `etceteractl snapshot restore` reads.
 *
 * Layout:
 *
 *   ┌─────────────────────────────── payload: a multiple of 512 bytes ─────────────────────┐
 *   │ backend snapshot (backend-snapshot.ts)  │ zero padding, 0–511 bytes │ u64 BE length L │ SHA-256 of the
 *   │ "ETCS" v1 · records · 0xff   (L bytes)  │                           │ of the backend  │ payload (32 bytes)
 *   │                                         │                           │ snapshot        │
 *   └──────────────────────────────────────────────────────────────────────────────────────┘
 *
 * Why the padding: etcdctl 3.4 `snapshot save` takes the last 32 bytes of what the server
 * streams as a SHA-256 only when `size % 512 == 32` (etcd streams a bbolt file, whose size is a
 * multiple of its page size), and otherwise fails with `sha256 checksum not found`. Padding
 * the payload to a multiple of 512 makes every etcetera snapshot pass that check; the length
 * field tells the reader where the backend snapshot ends inside it. (etcdctl `snapshot status`
 * and `snapshot restore` still cannot read the file: they expect a bbolt database.)
 *
 * The stream: the payload in chunks of at most `SNAPSHOT_CHUNK_BYTES`, each with
 * `remainingBytes` = payload bytes still to come after it, then one message whose blob is the
 * digest (remainingBytes 0), as etcd's server sends them.
 */
import { createHash } from 'node:crypto';
import type { SnapshotResponse } from '../core/api/kv.js';

/** Largest blob of one stream message (etcd's 32 KiB). */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;
/** Bytes of the trailing digest. */
export const SNAPSHOT_DIGEST_BYTES = 32;
/** The payload is padded to a multiple of this (etcdctl's check). */
export const SNAPSHOT_ALIGN_BYTES = 512;
const LENGTH_BYTES = 8;

/** A snapshot file that cannot be used: truncated, altered, or not a snapshot at all. */
export class SnapshotFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFileError';
  }
}

/** The bytes that follow a backend snapshot of `length` bytes in the payload: padding + length. */
function trailer(length: number): Buffer {
  const pad = (SNAPSHOT_ALIGN_BYTES - ((length + LENGTH_BYTES) % SNAPSHOT_ALIGN_BYTES)) % SNAPSHOT_ALIGN_BYTES;
  const t = Buffer.alloc(pad + LENGTH_BYTES);
  t.writeBigUInt64BE(BigInt(length), pad);
  return t;
}

/** Bytes of the payload (without the digest) that wraps a backend snapshot of `length` bytes. */
export function snapshotPayloadBytes(length: number): number {
  return length + trailer(length).length;
}

/**
 * The stream messages of `backendSnapshot` (an encoded backend, see backend-snapshot.ts): the
 * payload in chunks, then the digest. Chunks are views of the input, not copies. Lazy: the
 * digest is computed as the chunks are pulled.
 */
export function* snapshotChunks(backendSnapshot: Uint8Array, chunkBytes = SNAPSHOT_CHUNK_BYTES): Generator<SnapshotResponse> {
  const body = Buffer.from(backendSnapshot.buffer, backendSnapshot.byteOffset, backendSnapshot.byteLength);
  const tail = trailer(body.length);
  const total = body.length + tail.length;
  const hash = createHash('sha256');
  let sent = 0;
  for (let at = 0; at < body.length; at += chunkBytes) {
    const blob = body.subarray(at, Math.min(body.length, at + chunkBytes));
    hash.update(blob);
    sent += blob.length;
    yield { remainingBytes: total - sent, blob };
  }
  hash.update(tail);
  sent += tail.length;
  yield { remainingBytes: total - sent, blob: tail };
  yield { remainingBytes: 0, blob: hash.digest() };
}

/** A whole snapshot file for `backendSnapshot` (tests and tools; the server streams instead). */
export function encodeSnapshotFile(backendSnapshot: Uint8Array): Buffer {
  return Buffer.concat([...snapshotChunks(backendSnapshot)].map((c) => c.blob));
}

/** What `parseSnapshotFile` found. */
export interface ParsedSnapshotFile {
  /** The encoded backend (a view into the file). */
  readonly backendSnapshot: Uint8Array;
  /** The SHA-256 the file ends with, hex. */
  readonly sha256: string;
}

/**
 * Checks a snapshot file and returns the backend snapshot inside it. Throws
 * `SnapshotFileError` when the size is not 512·k + 32, the digest does not match (unless
 * `skipHashCheck`), or the length field or the padding is inconsistent. `onHashed` reports
 * progress of the digest check in bytes (for a progress bar).
 */
export function parseSnapshotFile(
  file: Uint8Array,
  options: { skipHashCheck?: boolean; onHashed?: (bytes: number) => void } = {},
): ParsedSnapshotFile {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (b.length < SNAPSHOT_ALIGN_BYTES + SNAPSHOT_DIGEST_BYTES || b.length % SNAPSHOT_ALIGN_BYTES !== SNAPSHOT_DIGEST_BYTES) {
    throw new SnapshotFileError(`not a snapshot file: size ${b.length} is not a multiple of ${SNAPSHOT_ALIGN_BYTES} plus ${SNAPSHOT_DIGEST_BYTES}`);
  }
  const payloadBytes = b.length - SNAPSHOT_DIGEST_BYTES;
  const payload = b.subarray(0, payloadBytes);
  const digest = b.subarray(payloadBytes);
  if (options.skipHashCheck !== true) {
    const hash = createHash('sha256');
    const step = 4 * 1024 * 1024;
    for (let at = 0; at < payloadBytes; at += step) {
      const end = Math.min(payloadBytes, at + step);
      hash.update(payload.subarray(at, end));
      options.onHashed?.(end);
    }
    if (!hash.digest().equals(digest)) throw new SnapshotFileError('snapshot file integrity check failed: SHA-256 mismatch');
  }
  const length = payload.readBigUInt64BE(payloadBytes - LENGTH_BYTES);
  if (length > BigInt(payloadBytes - LENGTH_BYTES) || snapshotPayloadBytes(Number(length)) !== payloadBytes) {
    throw new SnapshotFileError('not a snapshot file: bad length field');
  }
  const n = Number(length);
  for (let i = n; i < payloadBytes - LENGTH_BYTES; i++) {
    if (payload[i] !== 0) throw new SnapshotFileError('not a snapshot file: bad padding');
  }
  return { backendSnapshot: payload.subarray(0, n), sha256: digest.toString('hex') };
}
