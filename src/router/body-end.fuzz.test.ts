import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { BodyEnd, type BodyFraming } from "./body-end.js";

/** Feeds `bytes` in `cuts` pieces; returns the offset in `bytes` where the tracker saw the end, or -1. */
function endOf(framing: BodyFraming, bytes: Buffer, cuts: number[]): number {
  const tracker = new BodyEnd(framing);
  if (tracker.done) return 0;
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, bytes.length]) {
    const piece = bytes.subarray(start, point);
    const end = tracker.advance(piece);
    expect(end === -1 || (end >= 0 && end <= piece.length)).toBe(true);
    if (end >= 0) return start + end;
    start = point;
  }
  return -1;
}

const chunkedBody = fc.record({
  chunks: fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 6 }),
  extensions: fc.array(fc.constantFrom("", ";a=b", ";x", ' ;q="1"'), { minLength: 6, maxLength: 6 }),
  upper: fc.boolean(),
  trailers: fc.array(fc.constantFrom("x-t: 1", "expires: 0"), { maxLength: 2 }),
});

function encode(body: {
  chunks: Uint8Array[];
  extensions: string[];
  upper: boolean;
  trailers: string[];
}): Buffer {
  const parts: Buffer[] = [];
  body.chunks.forEach((chunk, i) => {
    const size = chunk.length.toString(16);
    parts.push(
      Buffer.from(`${body.upper ? size.toUpperCase() : size}${body.extensions[i] ?? ""}\r\n`, "latin1"),
    );
    parts.push(Buffer.from(chunk), Buffer.from("\r\n"));
  });
  parts.push(Buffer.from(`0\r\n${body.trailers.map((t) => `${t}\r\n`).join("")}\r\n`, "latin1"));
  return Buffer.concat(parts);
}

const RUNS = { numRuns: 300, interruptAfterTimeLimit: 4_000 };

describe("BodyEnd (fuzz)", () => {
  it("finds the exact end of any chunked body, however the bytes are split", () => {
    fc.assert(
      fc.property(
        chunkedBody,
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (body, after, cuts) => {
          const encoded = encode(body);
          const bytes = Buffer.concat([encoded, Buffer.from(after)]);
          expect(endOf({ kind: "chunked" }, bytes, cuts)).toBe(encoded.length);
        },
      ),
      RUNS,
    );
  });

  it("never reports an end inside a chunked body that is not complete", () => {
    fc.assert(
      fc.property(chunkedBody, fc.nat(), fc.array(fc.nat(), { maxLength: 8 }), (body, cut, cuts) => {
        const encoded = encode(body);
        const partial = encoded.subarray(0, cut % encoded.length);
        expect(endOf({ kind: "chunked" }, partial, cuts)).toBe(-1);
      }),
      RUNS,
    );
  });

  it("finds the end of a Content-Length body and never one for a close-delimited body", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 500 }),
        fc.nat(600),
        fc.array(fc.nat(), { maxLength: 8 }),
        (bytes, length, cuts) => {
          const buffer = Buffer.from(bytes);
          expect(endOf({ kind: "length", length }, buffer, cuts)).toBe(length <= buffer.length ? length : -1);
          expect(endOf({ kind: "close" }, buffer, cuts)).toBe(-1);
        },
      ),
      RUNS,
    );
  });

  it("stops at the first malformed byte of random framing, never past the bytes it was given", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const end = endOf({ kind: "chunked" }, Buffer.from(bytes), cuts);
        expect(end).toBeGreaterThanOrEqual(-1);
        expect(end).toBeLessThanOrEqual(bytes.length);
      }),
      RUNS,
    );
  });
});

describe("BodyEnd", () => {
  it("ends at once without a body", () => {
    expect(new BodyEnd({ kind: "none" }).done).toBe(true);
    expect(new BodyEnd({ kind: "length", length: 0 }).done).toBe(true);
    expect(new BodyEnd({ kind: "none" }).advance(Buffer.from("next"))).toBe(0);
  });

  it("ends a chunked body at a malformed size", () => {
    const end = new BodyEnd({ kind: "chunked" });
    expect(end.advance(Buffer.from("3\r\nabc\r\nzz\r\n"))).toBe(8);
  });
});
