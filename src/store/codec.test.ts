import { z } from "zod";
import { describe, expect, it } from "vitest";
import { SlipwayError } from "../util/index.js";
import { defineCodec } from "./codec.js";

const V1 = z.strictObject({ phase: z.string(), step: z.number().int() });
const V2 = z.strictObject({ phase: z.string(), steps: z.object({ at: z.number().int() }) });

const codecV1 = defineCodec({ name: "thing state", version: 1, schema: V1 });
const codecV2 = defineCodec({
  name: "thing state",
  version: 2,
  schema: V2,
  migrations: {
    2: (previous) => {
      const old = previous as { phase: string; step: number };
      return { phase: old.phase, steps: { at: old.step } };
    },
  },
});

function refusal(run: () => unknown): SlipwayError {
  try {
    run();
  } catch (error) {
    if (error instanceof SlipwayError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("defineCodec", () => {
  it("writes an envelope with its version and reads it back", () => {
    const stored = codecV1.encode({ phase: "canary", step: 2 });
    expect(stored).toEqual({ $v: 1, data: { phase: "canary", step: 2 } });
    expect(codecV1.decode(stored, "rollout 7")).toEqual({ phase: "canary", step: 2 });
  });

  it("reads a row from before codecs (no envelope) as version 1", () => {
    expect(codecV1.decode({ phase: "canary", step: 2 }, "rollout 7")).toEqual({ phase: "canary", step: 2 });
  });

  it("migrates old rows, enveloped or not, to the current version", () => {
    const want = { phase: "canary", steps: { at: 2 } };
    expect(codecV2.decode({ phase: "canary", step: 2 }, "rollout 7")).toEqual(want);
    expect(codecV2.decode(codecV1.encode({ phase: "canary", step: 2 }), "rollout 7")).toEqual(want);
    expect(codecV2.decode(codecV2.encode(want), "rollout 7")).toEqual(want);
  });

  it.each([
    ["a wrong type", { phase: "canary", step: "two" }, /rollout 7: its stored thing state .* at step/],
    ["a missing field", { phase: "canary" }, /at step/],
    ["an unknown field", { phase: "canary", step: 1, extra: true }, /not what this version expects/],
    ["not an object", "canary", /not what this version expects/],
    ["null", null, /not what this version expects/],
  ])("refuses %s, naming the row and the field", (_name, stored, message) => {
    const error = refusal(() => codecV1.decode(stored, "rollout 7"));
    expect(error.code).toBe("state_unreadable");
    expect(error.message).toMatch(message);
  });

  it("refuses a row written by a newer version, saying so", () => {
    const error = refusal(() => codecV1.decode(codecV2.encode({ phase: "x", steps: { at: 1 } }), "run 3"));
    expect(error.code).toBe("state_unreadable");
    expect(error.message).toMatch(
      /run 3: .* written by a newer Slipway \(version 2; this one reads up to 1\)/,
    );
  });

  it("a codec whose migrations have a gap is a programming error, found at definition", () => {
    expect(() => defineCodec({ name: "x", version: 3, schema: V1, migrations: { 2: (v) => v } })).toThrow(
      /no migration to version 3/,
    );
  });

  it("a value carrying its own version field is stored bare and read by that field", () => {
    const inline = defineCodec({
      name: "thing state",
      version: 2,
      schema: z.strictObject({ v: z.literal(2), steps: z.number().int() }),
      migrations: {
        2: (previous) => {
          const old = previous as { v: 1; step: number };
          return { v: 2, steps: old.step };
        },
      },
      versionField: "v",
    });
    expect(inline.encode({ v: 2, steps: 3 })).toEqual({ v: 2, steps: 3 });
    expect(inline.decode({ v: 2, steps: 3 }, "row 1")).toEqual({ v: 2, steps: 3 });
    // Version 1 rows: by their field, or without one.
    expect(inline.decode({ v: 1, step: 4 }, "row 1")).toEqual({ v: 2, steps: 4 });
    expect(inline.decode({ step: 5 }, "row 1")).toEqual({ v: 2, steps: 5 });
    expect(refusal(() => inline.decode({ v: 3, steps: 1 }, "row 2")).message).toMatch(/version 3/);
  });
});
