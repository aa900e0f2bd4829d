import { z } from "zod";
import { describe, expect, it } from "vitest";
import { defineCodec } from "../store/index.js";
import { decodeStored, RolloutStateCodec, toStored } from "./codecs.js";

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

describe("the rollout state codec", () => {
  /** A state as version 1 stored it: new/old instance counts, the analysis with its units as written. */
  const V1_STATE = {
    v: 1,
    spec: {
      instances: 2,
      maxSurge: 1,
      maxUnavailable: 0,
      steps: [{ weight: 10, pauseMs: 10_000 }],
      analysis: {
        interval: "2s",
        minSamples: 30,
        confidence: 0.95,
        checks: [
          { metric: "error-rate", max: "1%", vsBaseline: "+0.5pp" },
          { metric: "latency-p95", max: "1.5s", vsBaseline: "x1.25" },
        ],
        onInconclusive: "extend",
        intervalMs: 2_000,
      },
      watchMs: 60_000,
      keepWarmMs: 600_000,
      progressDeadlineMs: 600_000,
    },
    phase: "step",
    step: 0,
    weight: 10,
    newInstances: 1,
    oldInstances: 2,
    phaseSince: 1,
    progressAt: 2,
    newReady: 1,
    stepPassed: false,
    verdicts: { pass: 1, fail: 0, inconclusive: 0 },
  };

  it("migrates a version-1 row: canary/stable names, the analysis in numbers", () => {
    const state = decodeStored(RolloutStateCodec, V1_STATE, "rollout 7");
    expect(state).toMatchObject({ v: 2, canaryInstances: 1, stableInstances: 2, canaryReady: 1 });
    expect(state).not.toHaveProperty("newInstances");
    expect(state.spec.analysis).toEqual({
      intervalMs: 2_000,
      minSamples: 30,
      confidence: 0.95,
      checks: [
        { metric: "error-rate", max: 0.01, vsBaseline: 0.005 },
        { metric: "latency-p95", max: 1_500, vsBaseline: 1.25 },
      ],
      onInconclusive: "extend",
    });
    // Written back bare, with its version in its own field: what the API shows has no envelope.
    const stored = toStored(RolloutStateCodec, state, "rollout 7");
    expect(stored).toMatchObject({ v: 2, canaryInstances: 1 });
    expect(stored).not.toHaveProperty("$v");
    expect(decodeStored(RolloutStateCodec, stored, "rollout 7")).toEqual(state);
  });

  it("refuses a version-1 row whose analysis does not parse, naming the row", () => {
    const broken = {
      ...V1_STATE,
      spec: { ...V1_STATE.spec, analysis: { ...V1_STATE.spec.analysis, interval: "soon" } },
    };
    expect(() => decodeStored(RolloutStateCodec, broken, "rollout 8")).toThrow(/rollout 8: .*spec\.analysis/);
  });
});
