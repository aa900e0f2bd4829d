import { describe, expect, it } from "vitest";
import { HealthTracker } from "./tracker.js";

function feed(tracker: HealthTracker, results: string): (string | undefined)[] {
  return results.split("").map((r) => tracker.record(r === "+")?.to);
}

describe("HealthTracker", () => {
  it("starts unknown and becomes healthy after healthyAfter passes in a row", () => {
    const tracker = new HealthTracker({ healthyAfter: 2, unhealthyAfter: 3 });
    expect(tracker.state).toBe("unknown");
    expect(feed(tracker, "+")).toEqual([undefined]);
    expect(tracker.state).toBe("unknown");
    expect(tracker.record(true)).toEqual({ from: "unknown", to: "healthy", streak: 2 });
    expect(tracker.state).toBe("healthy");
  });

  it("becomes unhealthy from unknown after unhealthyAfter failures, without ever passing", () => {
    const tracker = new HealthTracker({ healthyAfter: 1, unhealthyAfter: 2 });
    expect(feed(tracker, "--")).toEqual([undefined, "unhealthy"]);
  });

  it("needs unhealthyAfter consecutive failures; a pass in between resets the streak", () => {
    const tracker = new HealthTracker({ healthyAfter: 1, unhealthyAfter: 3 });
    expect(feed(tracker, "+--+--")).toEqual([
      "healthy",
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(tracker.state).toBe("healthy");
    expect(tracker.failures).toBe(2);
    expect(tracker.record(false)).toEqual({ from: "healthy", to: "unhealthy", streak: 3 });
  });

  it("recovers after healthyAfter passes and reports each transition once", () => {
    const tracker = new HealthTracker({ healthyAfter: 2, unhealthyAfter: 1 });
    expect(feed(tracker, "++-+-++++")).toEqual([
      undefined,
      "healthy",
      "unhealthy",
      undefined,
      undefined,
      undefined,
      "healthy",
      undefined,
      undefined,
    ]);
  });

  it("counts streaks and forgets everything on reset", () => {
    const tracker = new HealthTracker({ healthyAfter: 1, unhealthyAfter: 1 });
    feed(tracker, "+++");
    expect(tracker.successes).toBe(3);
    tracker.reset();
    expect([tracker.state, tracker.successes, tracker.failures]).toEqual(["unknown", 0, 0]);
  });

  it("refuses thresholds below one", () => {
    expect(() => new HealthTracker({ healthyAfter: 0, unhealthyAfter: 1 })).toThrow(/healthyAfter/);
    expect(() => new HealthTracker({ healthyAfter: 1, unhealthyAfter: 1.5 })).toThrow(/unhealthyAfter/);
  });
});
