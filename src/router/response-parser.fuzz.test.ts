import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { REPRESENTATIVE_RESPONSES } from "./raw-target-fixtures.js";
import { FAILED, MORE, ResponseParser, STOPPED, type ResponseSink } from "./response-parser.js";

/**
 * Mutated responses (bytes replaced, inserted, deleted in the representative ones) fed to the parser
 * whole and cut at random points: it never throws, and it reads the same thing however the bytes are
 * cut. A parser whose verdict depends on the split is one a target could smuggle through.
 */
interface Outcome {
  end: number;
  status: number;
  headers: string[];
  body: string;
}

function run(bytes: Buffer, cuts: number[]): Outcome {
  const outcome: Outcome = { end: MORE, status: 0, headers: [], body: "" };
  const sink: ResponseSink = {
    onHead(status, headers) {
      outcome.status = status;
      outcome.headers = headers;
      return true;
    },
    onBody(chunk) {
      outcome.body += chunk.toString("latin1");
      return true;
    },
  };
  const parser = new ResponseParser(sink);
  parser.reset(false);
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1))), bytes.length].sort((a, b) => a - b);
  let start = 0;
  for (const point of points) {
    if (point <= start) continue;
    const result = parser.execute(bytes.subarray(start, point));
    if (result !== MORE) {
      // Where the response ended, counted from the start of all the bytes.
      outcome.end = result >= 0 ? start + result : result;
      return outcome;
    }
    start = point;
  }
  return outcome;
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    byte: fc.constantFrom(0, 9, 10, 13, 32, 44, 58, 59, 48, 102),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), byte: fc.constant(0) }),
);

function mutate(
  text: string,
  mutations: { kind: "set" | "insert" | "delete"; at: number; byte: number }[],
): Buffer {
  const bytes = [...Buffer.from(text, "latin1")];
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    if (m.kind === "set" && at < bytes.length) bytes[at] = m.byte;
    else if (m.kind === "insert") bytes.splice(at, 0, m.byte);
    else if (at < bytes.length) bytes.splice(at, 1);
  }
  return Buffer.from(bytes);
}

describe("response parser under mutation", () => {
  it("reads a mutated response the same whole and cut anywhere, and never throws", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...REPRESENTATIVE_RESPONSES.filter((r) => r.head !== true).map((r) => r.text)),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (text, mutations, cuts) => {
          const bytes = mutate(text, mutations);
          const whole = run(bytes, []);
          const cut = run(bytes, cuts);
          expect(cut).toEqual(whole);
          expect(
            [FAILED, STOPPED].includes(whole.end) || whole.end === MORE || whole.end <= bytes.length,
          ).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
