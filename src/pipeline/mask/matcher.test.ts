import { describe, expect, test } from "vitest";
import { createMatcher, type Range } from "./matcher.js";

/** The union of all occurrences, found the slow obvious way. */
function naiveRanges(patterns: readonly string[], text: string): Range[] {
  const matches: Range[] = [];
  for (const p of patterns) {
    if (p === "") continue;
    for (let i = text.indexOf(p); i !== -1; i = text.indexOf(p, i + 1))
      matches.push({ start: i, end: i + p.length });
  }
  matches.sort((a, b) => a.start - b.start || a.end - b.end);
  // Overlapping matches join; touching ones stay apart, as the matcher does.
  const merged: Range[] = [];
  for (const m of matches) {
    const last = merged.at(-1);
    if (last && m.start < last.end) last.end = Math.max(last.end, m.end);
    else merged.push({ ...m });
  }
  return merged;
}

function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe("createMatcher", () => {
  test("finds the classic he/she/his/hers overlaps through failure links", () => {
    const matcher = createMatcher(["he", "she", "his", "hers"]);
    expect(matcher.find("ushers")).toEqual([{ start: 1, end: 6 }]);
    expect(matcher.find("ahishe")).toEqual([{ start: 1, end: 6 }]);
    expect(matcher.find("xx")).toEqual([]);
    expect(matcher.longest).toBe(4);
  });

  test("merges overlapping matches, keeps touching ones apart, and swallows contained ones", () => {
    expect(createMatcher(["abcdef", "defgh"]).find("xxabcdefghxx")).toEqual([{ start: 2, end: 10 }]);
    expect(createMatcher(["abc", "def"]).find("abcdef")).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 6 },
    ]);
    expect(createMatcher(["b", "c", "abcd"]).find("abcd")).toEqual([{ start: 0, end: 4 }]);
  });

  test("treats patterns as literal text, surrogate pairs included", () => {
    expect(createMatcher(["a.b*", "🔑"]).find("axb a.b* 🔑")).toEqual([
      { start: 4, end: 8 },
      { start: 9, end: 11 },
    ]);
  });

  test("ignores empty patterns and finds nothing with none", () => {
    expect(createMatcher([""]).find("abc")).toEqual([]);
    expect(createMatcher([]).longest).toBe(0);
  });

  test("agrees with a naive search on random texts over a small alphabet", () => {
    const next = random(7);
    const word = (max: number) =>
      Array.from({ length: 1 + Math.floor(next() * max) }, () => "abc"[Math.floor(next() * 3)]).join("");
    for (let round = 0; round < 300; round++) {
      const patterns = Array.from({ length: 1 + Math.floor(next() * 5) }, () => word(5));
      const text = word(40);
      expect(createMatcher(patterns).find(text), `${JSON.stringify(patterns)} in ${text}`).toEqual(
        naiveRanges(patterns, text),
      );
    }
  });

  test("stays linear on input built to make a backtracking search slow", () => {
    const matcher = createMatcher(["a".repeat(50) + "b", "a".repeat(30) + "c"]);
    const text = "a".repeat(1_000_000);
    const started = performance.now();
    expect(matcher.find(text)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
