/**
 * Splits a tcp byte stream into frames (see frame.ts for the layout). A state machine fed
 * chunks of any size, split anywhere:
 *
 * ```
 *        ┌────────── frame complete ◀───────────┐
 *        ▼                                       │
 *   ┌─────────┐  4 bytes, length ≤ max   ┌──────┴──┐
 *   │ LENGTH  │ ───────────────────────▶ │  BODY   │   (whole frame already in the chunk:
 *   └─────────┘                          └─────────┘    emitted as a view, no copy)
 *        │ length > max
 *        ▼
 *   ┌──────────┐  kind + id read   ┌──────┐
 *   │ OVERSIZE │ ────────────────▶ │ DEAD │  everything after is discarded: the stream
 *   └──────────┘   onOversized()   └──────┘  cannot be trusted past a length it refused
 * ```
 *
 * A frame that sits wholly inside one chunk is handed on as a view into that chunk; a frame
 * that spans chunks is gathered into a buffer of exactly its size. Nothing is buffered beyond
 * one frame of at most `maxFrameBytes`.
 */

/** Receives what a `FrameDecoder` finds. */
export interface FrameSink {
  /** One frame, without its length prefix. The buffer is not reused by the decoder. */
  onFrame(frame: Buffer): void;
  /**
   * A frame announced `length` > maxFrameBytes. `kind` and `id` are its first header fields
   * (read so the peer can be told which call failed). The decoder is dead afterwards.
   */
  onOversized(length: number, kind: number, id: number): void;
}

const LENGTH = 0;
const BODY = 1;
const OVERSIZE = 2;
const DEAD = 3;

/** The tcp frame decoder: push chunks in, get whole frames out (see the module comment). */
export class FrameDecoder {
  private state = LENGTH;
  // LENGTH: how many length bytes were seen so far, and their value.
  private lengthBytes = 0;
  private length = 0;
  // BODY: the frame being gathered. OVERSIZE: the header bytes being gathered.
  private body: Buffer | null = null;
  private have = 0;

  constructor(
    private readonly sink: FrameSink,
    /** Largest frame accepted (without length prefix). */
    readonly maxFrameBytes: number,
  ) {}

  /** Whether the decoder stopped for good (after an oversized frame, or `stop()`). */
  get dead(): boolean {
    return this.state === DEAD;
  }

  /** Stops decoding; later chunks are ignored. */
  stop(): void {
    this.state = DEAD;
    this.body = null;
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      switch (this.state) {
        case LENGTH: {
          if (this.lengthBytes === 0 && n - pos >= 4) {
            this.length = chunk.readUInt32BE(pos);
            pos += 4;
          } else {
            this.length = this.length * 256 + chunk[pos++]!;
            if (++this.lengthBytes < 4) continue;
          }
          this.lengthBytes = 0;
          const len = this.length;
          this.length = 0;
          if (len > this.maxFrameBytes) {
            this.length = len;
            this.state = OVERSIZE;
            this.body = Buffer.alloc(5);
            this.have = 0;
            continue;
          }
          if (n - pos >= len) {
            // Fast path: the whole frame is in this chunk.
            const frame = chunk.subarray(pos, pos + len);
            pos += len;
            this.sink.onFrame(frame);
          } else {
            this.body = Buffer.allocUnsafe(len);
            this.have = 0;
            this.state = BODY;
          }
          continue;
        }
        case BODY: {
          const body = this.body!;
          const take = Math.min(body.length - this.have, n - pos);
          chunk.copy(body, this.have, pos, pos + take);
          this.have += take;
          pos += take;
          if (this.have === body.length) {
            this.body = null;
            this.state = LENGTH;
            this.sink.onFrame(body);
          }
          continue;
        }
        case OVERSIZE: {
          const head = this.body!;
          const take = Math.min(5 - this.have, n - pos);
          chunk.copy(head, this.have, pos, pos + take);
          this.have += take;
          pos += take;
          if (this.have === 5) {
            this.stop();
            this.sink.onOversized(this.length, head[0]!, head.readUInt32BE(1));
          }
          continue;
        }
        default:
          return;
      }
    }
  }
}
