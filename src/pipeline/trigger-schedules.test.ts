import { Cron } from "croner";
import { describe, expect, it } from "vitest";
import { waitFor } from "../test-support/wait-for.js";
import { createScheduleJob } from "./trigger-schedules.js";

describe("schedules", () => {
  it("creates croner jobs honouring the time zone, and fires a seconds pattern with its planned time", async () => {
    const berlin = createScheduleJob(
      { cron: "0 3 * * 1-5", timezone: "Europe/Berlin" },
      () => undefined,
      () => undefined,
    );
    try {
      const next = berlin.nextRun(new Date("2025-01-04T12:00:00Z")); // a Saturday
      // Monday 03:00 in Berlin (CET, UTC+1) is 02:00 UTC.
      expect(next?.toISOString()).toBe("2025-01-06T02:00:00.000Z");
      const summer = berlin.nextRun(new Date("2025-07-01T12:00:00Z"));
      expect(summer?.toISOString()).toBe("2025-07-02T01:00:00.000Z");
    } finally {
      berlin.stop();
    }
    // Vixie cron: with both day fields restricted, either matches (the 13th, or any Friday).
    const either = new Cron("0 0 13 * 5", { timezone: "UTC", legacyMode: true, paused: true });
    expect(either.nextRun(new Date("2025-06-01T00:00:00Z"))?.toISOString()).toBe("2025-06-06T00:00:00.000Z");
    either.stop();

    const fired: Date[] = [];
    const everySecond = createScheduleJob(
      { cron: "* * * * * *" },
      (at) => fired.push(at),
      () => undefined,
    );
    await waitFor(() => fired.length >= 2, {
      what: "two fires of an every-second schedule",
      timeoutMs: 5_000,
    });
    everySecond.stop();
    expect(fired.length).toBeGreaterThanOrEqual(2);
    for (const at of fired) expect(at.getMilliseconds()).toBe(0);
  });
});
