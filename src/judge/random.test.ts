import { describe, expect, test } from "vitest";
import { lognormalLatencies, mulberry32 } from "./random.js";

describe("mulberry32", () => {
  test("repeats its sequence for a seed and stays in [0, 1)", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const draws = Array.from({ length: 1_000 }, () => a());
    expect(Array.from({ length: 1_000 }, () => b())).toEqual(draws);
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mulberry32(43)()).not.toBe(draws[0]);
  });
});

describe("lognormalLatencies", () => {
  test("has roughly the median asked for", () => {
    const sample = lognormalLatencies(mulberry32(1), 10_000, 100, 0.5).sort();
    expect(sample[5_000]).toBeGreaterThan(95);
    expect(sample[5_000]).toBeLessThan(105);
  });
});
