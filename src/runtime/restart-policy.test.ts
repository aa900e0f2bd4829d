import { describe, expect, it } from "vitest";
import { backoffDelay, decideRestart, DEFAULT_RESTART_POLICY } from "./restart-policy.js";
import type { RestartPolicy } from "./types.js";

const policy: RestartPolicy = { initialDelayMs: 1_000, maxDelayMs: 5_000, maxRestarts: 3, windowMs: 60_000 };
const middle = () => 0.5;

describe("backoffDelay", () => {
  it("doubles from the initial delay up to the cap", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, middle))).toEqual([
      1_000, 2_000, 4_000, 5_000, 5_000,
    ]);
  });

  it("jitters by at most a fifth either way, never above the cap", () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(800);
    expect(backoffDelay(1, policy, () => 0.999_999)).toBe(1_200);
    expect(backoffDelay(10, policy, () => 0.999_999)).toBe(5_000);
  });

  it("stays finite for an instance that crashed a thousand times", () => {
    expect(backoffDelay(1_000, DEFAULT_RESTART_POLICY, middle)).toBe(30_000);
  });
});

describe("decideRestart", () => {
  it("restarts with growing delays, then gives up after maxRestarts inside the window", () => {
    let crashes: number[] = [];
    const kinds: string[] = [];
    for (const at of [0, 1_000, 3_000, 7_000]) {
      const decision = decideRestart(crashes, at, policy, middle);
      crashes = decision.crashes;
      kinds.push(decision.kind === "restart" ? `restart ${decision.delayMs}` : decision.kind);
    }
    expect(kinds).toEqual(["restart 1000", "restart 2000", "restart 4000", "give-up"]);
  });

  it("forgets crashes older than the window, so a long quiet run starts over at the initial delay", () => {
    const decision = decideRestart([0, 1_000, 3_000], 3_000 + 60_000, policy, middle);
    expect(decision).toEqual({ kind: "restart", delayMs: 1_000, crashes: [63_000] });
  });
});
