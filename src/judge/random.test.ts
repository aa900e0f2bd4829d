import { describe, expect, test } from "vitest";
import { lognormalLatencies, createSeededRandom } from "./random.js";

describe("createSeededRandom", () => {
  test("repeats its sequence for a seed and stays in [0, 1)", () => {
    const a = createSeededRandom(42);
    const b = createSeededRandom(42);
    const draws = Array.from({ length: 1_000 }, () => a());
    expect(Array.from({ length: 1_000 }, () => b())).toEqual(draws);
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(createSeededRandom(43)()).not.toBe(draws[0]);
  });
});

describe("lognormalLatencies", () => {
  test("has roughly the median asked for", () => {
    const sample = lognormalLatencies(createSeededRandom(1), 10_000, 100, 0.5).sort();
    expect(sample[5_000]).toBeGreaterThan(95);
    expect(sample[5_000]).toBeLessThan(105);
  });
});
