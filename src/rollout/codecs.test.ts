import { z } from "zod";
import { describe, expect, it } from "vitest";
import { defineCodec } from "../store/index.js";
import { decodeStored, toStored } from "./codecs.js";

const v1 = defineCodec({
  name: "thing",
  version: 1,
  schema: z.strictObject({ b: z.number(), a: z.number() }),
});
const v2 = defineCodec({
  name: "thing",
  version: 2,
  schema: z.strictObject({ b: z.number(), a: z.number(), c: z.number() }),
  migrations: { 2: (old) => ({ ...(old as object), c: 0 }) },
});

describe("rollout codecs' stored form", () => {
  it("writes version 1 bare and reads it back with the stored key order", () => {
    const stored = toStored(v1, { b: 1, a: 2 }, "row 1");
    expect(stored).toEqual({ b: 1, a: 2 });
    expect(Object.keys(decodeStored(v1, { a: 2, b: 1 }, "row 1"))).toEqual(["a", "b"]);
  });

  it("writes a later version with its envelope, so its rows are not migrated again", () => {
    const stored = toStored(v2, { b: 1, a: 2, c: 3 }, "row 1");
    expect(stored).toEqual({ $v: 2, data: { b: 1, a: 2, c: 3 } });
    expect(decodeStored(v2, stored, "row 1")).toEqual({ b: 1, a: 2, c: 3 });
    // A bare row from version 1 is migrated.
    expect(decodeStored(v2, { b: 1, a: 2 }, "row 1")).toEqual({ b: 1, a: 2, c: 0 });
  });

  it("refuses to write what it could not read back", () => {
    expect(() => toStored(v1, { b: 1 } as { b: number; a: number }, "row 1")).toThrow(/row 1/);
  });
});
