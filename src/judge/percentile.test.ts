import { describe, expect, test } from "vitest";
import { countAbove, nearestRankPercentile, sortedCopy } from "./percentile.js";

describe("nearestRankPercentile", () => {
  const hundred = sortedCopy(Array.from({ length: 100 }, (_, i) => 100 - i)); // 1…100, given in reverse

  test.each([
    [50, 50],
    [95, 95],
    [99, 99],
  ])("p%d of 1…100 is %d", (percent, expected) => {
    expect(nearestRankPercentile(hundred, percent)).toBe(expected);
  });

  test("takes rank ⌈p·n/100⌉, a value that was really observed", () => {
    const four = Float64Array.of(10, 20, 30, 40);
    expect(nearestRankPercentile(four, 50)).toBe(20);
    expect(nearestRankPercentile(four, 95)).toBe(40);
    expect(nearestRankPercentile(Float64Array.of(7), 99)).toBe(7);
  });

  test("is null for an empty sample", () => {
    expect(nearestRankPercentile(new Float64Array(0), 95)).toBeNull();
  });
});

describe("countAbove", () => {
  test("counts values strictly above the limit", () => {
    const values = Float64Array.of(1, 2, 2, 3, 5);
    expect(countAbove(values, 2)).toBe(2);
    expect(countAbove(values, 0)).toBe(5);
    expect(countAbove(values, 5)).toBe(0);
    expect(countAbove(new Float64Array(0), 1)).toBe(0);
  });
});

describe("sortedCopy", () => {
  test("sorts numerically without touching its input", () => {
    const input = [10, 9, 100, 1];
    expect(Array.from(sortedCopy(input))).toEqual([1, 9, 10, 100]);
    expect(input).toEqual([10, 9, 100, 1]);
  });
});
