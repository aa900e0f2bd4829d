import { randomBytes } from "node:crypto";

/**
 * Just enough WebSocket framing (RFC 6455 §5.2) to find frame boundaries in a byte stream we pipe
 * as is. We never decode payloads; we only need to know where a frame ends so a drain can slip a
 * close frame in without cutting a frame in half (which the peer would take as a protocol error).
 */
export class FrameTracker {
  /** Payload bytes still to pass in the current frame. */
  private remaining = 0;
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;

  atBoundary(): boolean {
    return this.remaining === 0 && this.headerLength === 0;
  }

  /**
   * Walks `chunk`, keeping track across calls. With `stopAtBoundary`, returns the offset just after
   * the first frame that ends in this chunk (0 when already between frames) and stops tracking there;
   * otherwise, and when no frame ends in the chunk, returns -1.
   */
  advance(chunk: Uint8Array, stopAtBoundary: boolean): number {
    if (stopAtBoundary && this.atBoundary()) return 0;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0 && stopAtBoundary) return i;
        continue;
      }
      this.header[this.headerLength++] = chunk[i++] ?? 0;
      const size = this.headerSize();
      if (size > 0 && this.headerLength === size) {
        this.remaining = this.payloadLength();
        this.headerLength = 0;
        if (this.remaining === 0 && stopAtBoundary) return i;
      }
    }
    return -1;
  }

  private headerSize(): number {
    if (this.headerLength < 2) return -1;
    const b1 = this.header[1] ?? 0;
    const len7 = b1 & 0x7f;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
  }

  private payloadLength(): number {
    const len7 = (this.header[1] ?? 0) & 0x7f;
    if (len7 === 126) return this.header.readUInt16BE(2);
    if (len7 === 127) return this.header.readUInt32BE(2) * 2 ** 32 + this.header.readUInt32BE(6);
    return len7;
  }
}

/** Close frame with status 1001 "going away", as a server sends it (unmasked). */
export const CLOSE_GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

/** The same close frame as a client must send it: masked with a fresh key. */
export function maskedCloseGoingAway(): Buffer {
  const key = randomBytes(4);
  const frame = Buffer.alloc(8);
  frame[0] = 0x88;
  frame[1] = 0x82;
  key.copy(frame, 2);
  frame[6] = 0x03 ^ (key[0] ?? 0);
  frame[7] = 0xe9 ^ (key[1] ?? 0);
  return frame;
}
