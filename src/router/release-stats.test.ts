import { describe, expect, it } from "vitest";

import { createSeededRandom } from "../util/index.js";
import { RETENTION_MS, ReleaseStatsImpl, WINDOW_SAMPLES } from "./release-stats.js";
import { ABANDONED, ABORTED, mergeSamples } from "./window-bucket.js";

function statsAt(start: number) {
  const clock = { now: start };
  const stats = new ReleaseStatsImpl("web", "v2", () => clock.now, createSeededRandom(1));
  return { clock, stats };
}

describe("release stats windows", () => {
  it("counts requests, errors, status classes, aborts and abandons in the window", () => {
    const { clock, stats } = statsAt(1_000_000);
    stats.record(200, 10, false);
    stats.record(302, 10, false);
    stats.record(404, 10, false);
    stats.record(503, 10, false);
    stats.record(ABORTED, 10, false); // client went away early: apart, no latency
    stats.record(ABANDONED, 3_000, false); // client gave up on a release that held it: an error
    stats.record(101, 10, false); // upgrade
    stats.record(200, 10, true); // broke off mid-body
    clock.now += 500;
    const w = stats.window(0);
    expect(w).toMatchObject({ requests: 7, errors: 3, aborted: 1, abandoned: 1, upgrades: 1 });
    expect(w.statusClasses).toEqual({ "2xx": 2, "3xx": 1, "4xx": 1, "5xx": 1 });
    expect(w.latenciesMs.length).toBe(7);
    expect(stats.durationCounts.reduce((a, b) => a + b, 0)).toBe(7);
  });

  it("keeps only what happened since the given time, to the second", () => {
    const { clock, stats } = statsAt(5_000_000);
    for (let s = 0; s < 90; s++) {
      stats.record(s < 60 ? 500 : 200, 5, false);
      clock.now += 1_000;
    }
    const last30 = stats.window(clock.now - 30_000);
    expect(last30.requests).toBe(30);
    expect(last30.errors).toBe(0);
    const all = stats.window(0);
    expect(all.requests).toBe(90);
    expect(all.errors).toBe(60);
  });

  it("folds minute-old seconds into 10 s buckets without losing or double-counting them", () => {
    const { clock, stats } = statsAt(10_000_000);
    for (let s = 0; s < 300; s++) {
      for (let i = 0; i < 10; i++) stats.record(i === 0 ? 500 : 200, 1 + (s % 7), false);
      clock.now += 1_000;
    }
    const all = stats.window(0);
    expect(all.requests).toBe(3_000);
    expect(all.errors).toBe(300);
    // Older than a minute: rounded out to 10 s buckets, never less than asked for.
    const since = clock.now - 125_000;
    const w = stats.window(since);
    expect(w.requests).toBeGreaterThanOrEqual(1_250);
    expect(w.requests).toBeLessThanOrEqual(1_350);
  });

  it("forgets what is older than the retention", () => {
    const { clock, stats } = statsAt(20_000_000);
    stats.record(200, 1, false);
    clock.now += RETENTION_MS + 10_000;
    stats.record(200, 1, false);
    expect(stats.window(0).requests).toBe(1);
  });

  it("reports percentiles over every request and a bounded uniform sample", () => {
    const { clock, stats } = statsAt(30_000_000);
    // 10,000 requests over 10 s: latency i % 100 + 1 ms, so p50 ≈ 50, p95 ≈ 95, p99 ≈ 99.
    for (let i = 0; i < 10_000; i++) {
      stats.record(200, (i % 100) + 1, false);
      if (i % 1_000 === 999) clock.now += 1_000;
    }
    const w = stats.window(0);
    expect(w.p50).toBeCloseTo(50, -0.5);
    expect(w.p95).toBeCloseTo(95, -0.5);
    expect(w.p99).toBeCloseTo(99, -0.5);
    expect(w.latenciesMs.length).toBeLessThanOrEqual(WINDOW_SAMPLES);
    expect(w.latenciesMs.length).toBeGreaterThan(4_000);
    const mean = w.latenciesMs.reduce((sum, v) => sum + v, 0) / w.latenciesMs.length;
    expect(mean).toBeGreaterThan(48);
    expect(mean).toBeLessThan(53);
  });

  it("answers NaN percentiles for an empty window", () => {
    const { stats } = statsAt(1_000);
    const w = stats.window(0);
    expect(w.requests).toBe(0);
    expect(Number.isNaN(w.p99)).toBe(true);
    expect(w.latenciesMs.length).toBe(0);
  });
});

describe("mergeSamples", () => {
  it("takes every part at the same rate, so a busy part is not under-represented", () => {
    const random = createSeededRandom(3);
    const busy = { seen: 10_000, size: 512, samples: new Float64Array(512).fill(1) };
    const quiet = { seen: 100, size: 100, samples: new Float64Array(100).fill(2) };
    const merged = mergeSamples([busy, quiet], 4_096, random);
    const fromQuiet = merged.filter((v) => v === 2).length;
    const fromBusy = merged.filter((v) => v === 1).length;
    // Rate capped by the busy part's reservoir: 512 / 10,000 ≈ 5 %.
    expect(fromBusy).toBe(512);
    expect(fromQuiet).toBeGreaterThanOrEqual(4);
    expect(fromQuiet).toBeLessThanOrEqual(6);
  });

  it("returns everything when all parts are complete and fit", () => {
    const a = { seen: 3, size: 3, samples: Float64Array.from([1, 2, 3]) };
    const b = { seen: 2, size: 2, samples: Float64Array.from([4, 5]) };
    expect([...mergeSamples([a, b], 10, createSeededRandom(1))].sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
