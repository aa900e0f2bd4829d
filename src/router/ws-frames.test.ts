import { describe, expect, it } from "vitest";

import { CLOSE_GOING_AWAY, FrameTracker, maskedCloseGoingAway } from "./ws-frames.js";

/** A frame as RFC 6455 lays it out, masked when a key is given. */
function frame(payloadLength: number, mask?: Buffer): Buffer {
  const ext = payloadLength < 126 ? 0 : payloadLength < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = 0x82;
  const len7 = ext === 0 ? payloadLength : ext === 2 ? 126 : 127;
  head[1] = len7 | (mask ? 0x80 : 0);
  if (ext === 2) head.writeUInt16BE(payloadLength, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(payloadLength), 2);
  if (mask) mask.copy(head, 2 + ext);
  return Buffer.concat([head, Buffer.alloc(payloadLength, 7)]);
}

describe("FrameTracker", () => {
  it("finds the next frame end from any point of the stream, however it was cut", () => {
    const stream = Buffer.concat([frame(5), frame(300, Buffer.from([1, 2, 3, 4])), frame(70_000), frame(0)]);
    const ends = [7, 7 + 308, 7 + 308 + 70_010, 7 + 308 + 70_010 + 2];
    for (const position of [0, 1, 6, 7, 8, 9, 200, 315, 316, 40_000, ends[2]! - 1, ends[2]!, ends[3]! - 1]) {
      for (const cut of position < 400 ? [1, 3, 1000] : [997, 65_536]) {
        const tracker = new FrameTracker();
        // Walk up to `position` in chunks of `cut` bytes, as a drain would find the stream.
        for (let at = 0; at < position; at += cut) {
          expect(tracker.advance(stream.subarray(at, Math.min(position, at + cut)), false)).toBe(-1);
        }
        // Already between frames (start, or just after one): 0, the close frame can go right away.
        const next = position === 0 ? 0 : ends.find((e) => e >= position)!;
        const found = tracker.advance(stream.subarray(position), true);
        expect(position + found).toBe(next);
      }
    }
  });

  it("reports -1 while a frame is still in progress", () => {
    const tracker = new FrameTracker();
    const f = frame(10);
    expect(tracker.advance(f.subarray(0, 5), false)).toBe(-1);
    expect(tracker.atBoundary()).toBe(false);
    expect(tracker.advance(f.subarray(5, 8), true)).toBe(-1);
    expect(tracker.advance(f.subarray(8), true)).toBe(4);
    expect(tracker.atBoundary()).toBe(true);
  });
});

describe("close frames", () => {
  it("say 1001 going away, masked when sent to the target", () => {
    expect([...CLOSE_GOING_AWAY]).toEqual([0x88, 0x02, 0x03, 0xe9]);
    const masked = maskedCloseGoingAway();
    expect(masked[1]).toBe(0x82);
    const code = ((masked[6]! ^ masked[2]!) << 8) | (masked[7]! ^ masked[3]!);
    expect(code).toBe(1001);
  });
});
