import { Cron } from "croner";
import { describe, expect, test } from "vitest";
import { cronExpression, parseCron, tryParseCron } from "./cron.js";

const VALID = [
  "0 3 * * 1-5",
  "*/15 * * * *",
  "5/15 * * * *",
  "0 9-17/2 * * mon-fri",
  "0 0 1,15 * *",
  "30 4 * jan,JUL *",
  "0 0 * * 7",
  "0 0 * * fri-sun",
  "0 0 29 2 *",
  "0 0 31 * 1",
  "0 0 31 2 1",
  "0  3  *  *  *",
  "@hourly",
  "@daily",
  "@weekly",
  "@monthly",
  "@yearly",
  "@annually",
];

describe("parseCron", () => {
  test("lists the values each field allows", () => {
    expect(parseCron("0 9-17/2 1,15 * mon-fri")).toEqual({
      minutes: [0],
      hours: [9, 11, 13, 15, 17],
      daysOfMonth: [1, 15],
      months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      daysOfWeek: [1, 2, 3, 4, 5],
      restrictsDayOfMonth: true,
      restrictsDayOfWeek: true,
    });
  });

  test("a step from a single value runs to the end of the field", () => {
    expect(parseCron("50/5 * * * *").minutes).toEqual([50, 55]);
  });

  test("Sunday is 0 or 7, and ends a range as 7", () => {
    expect(parseCron("0 0 * * 7").daysOfWeek).toEqual([0]);
    expect(parseCron("0 0 * * sun").daysOfWeek).toEqual([0]);
    expect(parseCron("0 0 * * fri-sun").daysOfWeek).toEqual([0, 5, 6]);
    expect(parseCron("0 0 * * 5-7").daysOfWeek).toEqual([0, 5, 6]);
  });

  test("macros expand to their five fields", () => {
    expect(parseCron("@daily")).toEqual(parseCron("0 0 * * *"));
    expect(parseCron("@weekly")).toEqual(parseCron("0 0 * * 0"));
    expect(parseCron("@YEARLY")).toEqual(parseCron("0 0 1 1 *"));
  });

  test.each([
    [
      "0 3 * *",
      'expected 5 fields (minute hour day-of-month month day-of-week) such as "0 3 * * 1-5", found 4',
    ],
    ["", 'expected 5 fields (minute hour day-of-month month day-of-week) such as "0 3 * * 1-5", found 0'],
    [
      "0 0 3 * * *",
      'expected 5 fields (minute hour day-of-month month day-of-week) such as "0 3 * * 1-5", found 6; schedules run to the minute, so leave out the seconds field',
    ],
    ["60 * * * *", "minute 60 is out of range (0 to 59)"],
    ["0 24 * * *", "hour 24 is out of range (0 to 23)"],
    ["0 0 0 * *", "day of month 0 is out of range (1 to 31)"],
    ["0 0 * 13 *", "month 13 is out of range (1 to 12, or jan to dec)"],
    ["0 3 * * 1-8", "day of week 8 is out of range (0 to 7, or sun to sat)"],
    ["0 0 * * funday", 'day of week "funday" is not a number (0 to 7, or sun to sat)'],
    ["x * * * *", 'minute "x" is not a number (0 to 59)'],
    ["30-10 * * * *", 'minute range "30-10" runs backwards; write the smaller value first'],
    ["*/0 * * * *", 'minute "*/0" has a step of 0; a step is at least 1'],
    ["*/x * * * *", 'minute "*/x" has a step that is not a number'],
    ["1/2/3 * * * *", 'minute "1/2/3" has more than one "/"'],
    ["1,,2 * * * *", "the minute field has an empty item (two commas in a row?)"],
    [
      "0 0 L * *",
      'day of month "L" uses a non-standard extension (L, W, # or ?); only standard cron is accepted',
    ],
    [
      "0 0 ? * *",
      'day of month "?" uses a non-standard extension (L, W, # or ?); only standard cron is accepted',
    ],
    [
      "0 0 * * 1#2",
      'day of week "1#2" uses a non-standard extension (L, W, # or ?); only standard cron is accepted',
    ],
    [
      "0 0 15W * *",
      'day of month "15W" uses a non-standard extension (L, W, # or ?); only standard cron is accepted',
    ],
    ["0 0 31 2 *", "it never runs: none of its months has that day"],
    ["0 0 31 4,6 *", "it never runs: none of its months has that day"],
    [
      "@reboot",
      'unknown macro "@reboot" (expected one of @yearly, @annually, @monthly, @weekly, @daily, @hourly)',
    ],
    [" 0 3 * * *", "remove the spaces at the start or end"],
  ])("refuses %j: %s", (text, problem) => {
    expect(tryParseCron(text)).toEqual({ error: `cron "${text}": ${problem}` });
    expect(() => parseCron(text)).toThrow(`cron "${text}": ${problem}`);
  });

  test("31 February never runs, but with a day of week the schedule runs on those days", () => {
    expect(tryParseCron("0 0 31 2 1")).toHaveProperty("schedule");
  });

  // croner schedules the runs; nothing that validates here may be refused there.
  test.each(VALID)("croner accepts %j too", (text) => {
    expect(tryParseCron(text)).toHaveProperty("schedule");
    const cron = new Cron(text, { paused: true, timezone: "Europe/Berlin" });
    expect(cron.nextRun(new Date("2026-03-01T00:00:00Z"))).toBeInstanceOf(Date);
  });
});

describe("cronExpression", () => {
  test("keeps the text as written and reports the problem", () => {
    expect(cronExpression().parse("@daily")).toBe("@daily");
    expect(cronExpression().safeParse("0 0 * * 8").error?.issues[0]?.message).toBe(
      'cron "0 0 * * 8": day of week 8 is out of range (0 to 7, or sun to sat)',
    );
  });
});
