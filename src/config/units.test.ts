import { describe, expect, test } from "vitest";
import { z } from "zod";
import { SlipwayError } from "../util/index.js";
import {
  duration,
  formatDuration,
  parseDuration,
  parsePercent,
  parsePercentagePoints,
  parseRatio,
  parseSize,
  percent,
  percentagePoints,
  ratio,
  size,
} from "./units.js";

describe("parseDuration", () => {
  test.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["2d", 172_800_000],
    ["1d2h3m4s5ms", 93_784_005],
    ["1.5h", 5_400_000],
    ["0s", 0],
  ])("reads %s as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(["5 minutes", "", "-5s", "30", "5", "1h 30m", "30s5m", "5m5m", "1w", "s", "1.s"])(
    "refuses %j with the expected form and what was found",
    (text) => {
      expect(() => parseDuration(text)).toThrow(
        `expected a duration such as 500ms, 30s, 5m, 1h30m; found ${JSON.stringify(text)}`,
      );
    },
  );

  test("throws a SlipwayError coded invalid_config", () => {
    expect(() => parseDuration("5 minutes")).toThrow(SlipwayError);
    expect(() => parseDuration("5 minutes")).toThrow(
      expect.objectContaining({ code: "invalid_config" }) as Error,
    );
  });
});

describe("formatDuration", () => {
  test.each([
    [0, "0s"],
    [500, "500ms"],
    [30_000, "30s"],
    [5_400_000, "1h30m"],
    [93_784_005, "1d2h3m4s5ms"],
    [-1_500, "-1s500ms"],
  ])("writes %i ms as %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test("round-trips through parseDuration", () => {
    for (const ms of [1, 999, 1_000, 61_001, 86_399_999, 90_061_001]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});

describe("percentages, percentage points and ratios", () => {
  test("parsePercent returns a fraction", () => {
    expect(parsePercent("1%")).toBe(0.01);
    expect(parsePercent("0.5%")).toBe(0.005);
    expect(parsePercent("100%")).toBe(1);
  });

  test("parsePercent refuses numbers without a percent sign", () => {
    expect(() => parsePercent("1")).toThrow('expected a percentage such as 1% or 0.5%; found "1"');
    expect(() => parsePercent("-1%")).toThrow(/found "-1%"/);
  });

  test("parsePercentagePoints returns a signed fraction of the whole", () => {
    expect(parsePercentagePoints("+0.5pp")).toBe(0.005);
    expect(parsePercentagePoints("2pp")).toBe(0.02);
    expect(parsePercentagePoints("-1pp")).toBe(-0.01);
    expect(() => parsePercentagePoints("0.5%")).toThrow(/expected a change in percentage points/);
  });

  test("parseRatio reads a leading x", () => {
    expect(parseRatio("x1.25")).toBe(1.25);
    expect(parseRatio("x2")).toBe(2);
    expect(() => parseRatio("1.25")).toThrow('expected a ratio such as x1.25; found "1.25"');
  });
});

describe("parseSize", () => {
  test.each([
    ["10MB", 10_000_000],
    ["512KiB", 524_288],
    ["1GiB", 1_073_741_824],
    ["1.5kB", 1_500],
    ["7B", 7],
  ])("reads %s as %i bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each(["10", "10 MB", "10mb", "1XB", "MB"])("refuses %j", (text) => {
    expect(() => parseSize(text)).toThrow(
      `expected a size such as 512KiB, 10MB, 1GiB; found ${JSON.stringify(text)}`,
    );
  });
});

describe("zod helpers", () => {
  test("keep the string as written", () => {
    expect(duration().parse("1h30m")).toBe("1h30m");
    expect(percent().parse("0.5%")).toBe("0.5%");
    expect(percentagePoints().parse("+0.5pp")).toBe("+0.5pp");
    expect(ratio().parse("x1.25")).toBe("x1.25");
    expect(size().parse("512KiB")).toBe("512KiB");
  });

  test("report one issue per bad value, saying what is expected", () => {
    const issues = duration().safeParse("5 minutes").error?.issues;
    expect(issues).toHaveLength(1);
    expect(issues?.[0]?.message).toBe("expected a duration such as 500ms, 30s, 5m, 1h30m");
  });

  test("a positive duration refuses zero", () => {
    expect(duration({ positive: true }).safeParse("0s").success).toBe(false);
    expect(duration().safeParse("0s").success).toBe(true);
  });

  test("a percentage outside its bounds is refused", () => {
    expect(percent().safeParse("150%").error?.issues[0]?.message).toBe(
      "expected a percentage from 0% to 100%",
    );
    expect(percent({ min: 1, max: 50 }).safeParse("0.5%").success).toBe(false);
  });

  test("percentage points must not be negative in config", () => {
    expect(percentagePoints().safeParse("-0.5pp").success).toBe(false);
  });

  test("publish their pattern to JSON Schema", () => {
    const schema = z.toJSONSchema(z.object({ d: duration() })) as unknown as {
      properties: { d: { pattern: string } };
    };
    expect(new RegExp(schema.properties.d.pattern).test("1h30m")).toBe(true);
    expect(new RegExp(schema.properties.d.pattern).test("5 minutes")).toBe(false);
  });
});
