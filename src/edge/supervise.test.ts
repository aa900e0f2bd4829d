import { describe, expect, it } from "vitest";
import {
  decideEdge,
  edgeUp,
  initialWatch,
  respawnDelay,
  respawnFailed,
  type EdgeBackoff,
} from "./supervise.js";

const policy: EdgeBackoff = { initialMs: 250, maxMs: 2_000, resetAfterMs: 30_000 };

describe("the edge respawn decision", () => {
  it("does nothing while the edge lives", () => {
    const watch = initialWatch(0);
    expect(decideEdge(watch, { alive: true }, 1_000, policy)).toEqual({ next: watch, action: "none" });
  });

  it("respawns at once when a long-lived edge dies", () => {
    const { next, action } = decideEdge(initialWatch(0), { alive: false }, 60_000, policy);
    expect(action).toBe("respawn");
    expect(next).toMatchObject({ phase: "down", failures: 0, retryAt: 60_000 });
  });

  it("backs off when edges die young, one after another", () => {
    let watch = initialWatch(0);
    const delays: number[] = [];
    let now = 1_000;
    for (let i = 0; i < 5; i++) {
      const died = decideEdge(watch, { alive: false }, now, policy);
      delays.push(died.next.retryAt - now);
      watch = edgeUp(died.next, died.next.retryAt);
      now = watch.upSince + 100;
    }
    expect(delays).toEqual([0, 250, 500, 1_000, 2_000]);
  });

  it("waits for the retry time after a failed respawn, then tries again", () => {
    const down = respawnFailed({ phase: "down", failures: 0, upSince: 0, retryAt: 0 }, 5_000, policy);
    expect(down.retryAt).toBe(5_250);
    expect(decideEdge(down, { alive: false }, 5_100, policy).action).toBe("none");
    expect(decideEdge(down, { alive: false }, 5_250, policy).action).toBe("respawn");
  });

  it("forgets past failures once an edge has lasted", () => {
    const watch = { phase: "up" as const, failures: 3, upSince: 0, retryAt: 0 };
    expect(decideEdge(watch, { alive: true }, 29_999, policy).next.failures).toBe(3);
    expect(decideEdge(watch, { alive: true }, 30_000, policy).next.failures).toBe(0);
  });

  it("caps the delay", () => {
    expect([0, 1, 2, 10, 50].map((n) => respawnDelay(n, policy))).toEqual([0, 250, 500, 2_000, 2_000]);
  });
});
