import { describe, expect, test } from "vitest";
import { freezeWindow, isFrozen, parseFreezeWindow } from "./freeze.js";

const at = (iso: string) => new Date(iso);
const WEEKEND_BERLIN = "fri 16:00 - mon 08:00 Europe/Berlin";

describe("parseFreezeWindow", () => {
  test("reads a weekly window as minutes since Monday 00:00", () => {
    expect(parseFreezeWindow(WEEKEND_BERLIN)).toEqual({
      kind: "weekly",
      text: WEEKEND_BERLIN,
      timeZone: "Europe/Berlin",
      startMinute: 4 * 1440 + 16 * 60,
      endMinute: 8 * 60,
    });
  });

  test("reads a one-off window as wall-clock times", () => {
    const text = "2026-12-24 00:00 - 2026-12-27 00:00 Europe/Berlin";
    expect(parseFreezeWindow(text)).toEqual({
      kind: "once",
      text,
      timeZone: "Europe/Berlin",
      startWall: Date.UTC(2026, 11, 24),
      endWall: Date.UTC(2026, 11, 27),
    });
  });

  test("accepts capitalised day names and no spaces around the dash", () => {
    expect(parseFreezeWindow("Fri 16:00-Mon 08:00 UTC")).toMatchObject({ startMinute: 6720, endMinute: 480 });
  });

  test.each([
    [
      "fri 16:00 - mon 08:00 Mars/Base",
      'unknown time zone "Mars/Base" (expected an IANA name such as Europe/Berlin or UTC)',
    ],
    ["fri 16:00 to mon 08:00 Europe/Berlin", 'expected "DAY HH:MM - DAY HH:MM ZONE"'],
    ["fri 25:00 - mon 08:00 UTC", 'expected a time as HH:MM from 00:00 to 23:59, found "25:00"'],
    ["fri 4pm - mon 08:00 UTC", 'expected a time as HH:MM from 00:00 to 23:59, found "4pm"'],
    ["fry 16:00 - mon 08:00 UTC", 'expected a day (mon, tue, wed, thu, fri, sat, sun), found "fry"'],
    ["2026-02-30 00:00 - 2026-03-02 00:00 UTC", 'expected a date as YYYY-MM-DD, found "2026-02-30"'],
    ["fri 16:00 - 2026-03-02 00:00 UTC", "expected both ends to be weekdays or both to be dates"],
    ["2026-12-27 00:00 - 2026-12-24 00:00 UTC", "the window ends before it starts"],
    ["mon 08:00 - mon 08:00 UTC", "the window starts and ends at the same time"],
  ])("refuses %j, quoting the window", (text, problem) => {
    expect(() => parseFreezeWindow(text)).toThrow(`freeze window ${JSON.stringify(text)}: ${problem}`);
  });

  test("the zod helper keeps the text and reports the parser's message", () => {
    expect(freezeWindow().parse(WEEKEND_BERLIN)).toBe(WEEKEND_BERLIN);
    expect(freezeWindow().safeParse("fri 16:00 - mon 08:00 Nowhere").error?.issues[0]?.message).toBe(
      'freeze window "fri 16:00 - mon 08:00 Nowhere": unknown time zone "Nowhere" ' +
        "(expected an IANA name such as Europe/Berlin or UTC)",
    );
  });
});

describe("isFrozen with a weekly window wrapping over the week end", () => {
  // 2026-03-20 is a Friday; Berlin is on CET (UTC+1) that week.
  test("is open until the start minute", () => {
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-20T14:59:59Z"))).toEqual({ frozen: false });
  });

  test("freezes from the start minute until Monday 08:00 local time", () => {
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-20T15:00:00Z"))).toEqual({
      frozen: true,
      window: WEEKEND_BERLIN,
      until: at("2026-03-23T07:00:00Z"),
    });
  });

  test("stays frozen over Saturday and Sunday", () => {
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-21T12:00:00Z")).frozen).toBe(true);
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-22T23:30:00Z")).frozen).toBe(true);
  });

  test("lifts at the end minute, which is not part of the window", () => {
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-23T06:59:59Z")).frozen).toBe(true);
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-23T07:00:00Z"))).toEqual({ frozen: false });
  });

  test("a window from Sunday night to Monday morning wraps over the week's end", () => {
    const window = "sun 22:00 - mon 02:00 UTC";
    expect(isFrozen([window], at("2026-03-22T21:59:00Z")).frozen).toBe(false);
    expect(isFrozen([window], at("2026-03-22T23:00:00Z"))).toEqual({
      frozen: true,
      window,
      until: at("2026-03-23T02:00:00Z"),
    });
    expect(isFrozen([window], at("2026-03-23T01:59:00Z")).frozen).toBe(true);
    expect(isFrozen([window], at("2026-03-23T02:00:00Z")).frozen).toBe(false);
  });
});

describe("isFrozen across DST changes in Europe/Berlin", () => {
  // Clocks go forward on Sunday 2026-03-29 at 02:00 CET (01:00 UTC) and back on Sunday 2026-10-25 at
  // 03:00 CEST (01:00 UTC).
  test("a weekend window that spans the spring change starts on CET and ends on CEST", () => {
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-27T14:59:00Z")).frozen).toBe(false);
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-27T15:00:00Z")).frozen).toBe(true);
    // Monday 08:00 CEST is 06:00 UTC, an hour earlier in UTC than the week before.
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-28T12:00:00Z")).until).toEqual(at("2026-03-30T06:00:00Z"));
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-30T05:59:00Z")).frozen).toBe(true);
    expect(isFrozen([WEEKEND_BERLIN], at("2026-03-30T06:00:00Z")).frozen).toBe(false);
  });

  test("reads the local time after the change, not a fixed offset", () => {
    const window = "sun 03:00 - sun 06:00 Europe/Berlin";
    // 04:30 UTC is 06:30 CEST: past the window, though it would be 05:30 on CET.
    expect(isFrozen([window], at("2026-03-29T04:30:00Z")).frozen).toBe(false);
    expect(isFrozen([window], at("2026-03-29T03:30:00Z"))).toEqual({
      frozen: true,
      window,
      until: at("2026-03-29T04:00:00Z"),
    });
  });

  test("a window ending in the skipped hour ends at the jump", () => {
    const window = "sat 22:00 - sun 02:30 Europe/Berlin";
    expect(isFrozen([window], at("2026-03-29T00:30:00Z")).until).toEqual(at("2026-03-29T01:00:00Z"));
    expect(isFrozen([window], at("2026-03-29T01:00:00Z")).frozen).toBe(false);
  });

  test("a window in the repeated autumn hour applies on both passes, each ending at its own 02:30", () => {
    const window = "sun 02:00 - sun 02:30 Europe/Berlin";
    expect(isFrozen([window], at("2026-10-25T00:15:00Z")).until).toEqual(at("2026-10-25T00:30:00Z"));
    expect(isFrozen([window], at("2026-10-25T00:45:00Z")).frozen).toBe(false);
    expect(isFrozen([window], at("2026-10-25T01:15:00Z")).until).toEqual(at("2026-10-25T01:30:00Z"));
  });

  test("a one-off window across the spring change ends at its local wall time", () => {
    const window = "2026-03-28 12:00 - 2026-03-30 12:00 Europe/Berlin";
    expect(isFrozen([window], at("2026-03-28T10:59:00Z")).frozen).toBe(false);
    expect(isFrozen([window], at("2026-03-28T11:00:00Z")).until).toEqual(at("2026-03-30T10:00:00Z"));
    expect(isFrozen([window], at("2026-03-30T10:00:00Z")).frozen).toBe(false);
  });
});

describe("isFrozen across time zones", () => {
  test("one instant is inside a New York window and outside the same Tokyo window", () => {
    const now = at("2026-03-23T14:00:00Z"); // Monday 10:00 EDT, Monday 23:00 JST
    expect(isFrozen(["mon 09:00 - mon 17:00 America/New_York"], now)).toEqual({
      frozen: true,
      window: "mon 09:00 - mon 17:00 America/New_York",
      until: at("2026-03-23T21:00:00Z"),
    });
    expect(isFrozen(["mon 09:00 - mon 17:00 Asia/Tokyo"], now).frozen).toBe(false);
  });

  test("a one-off holiday window in Berlin", () => {
    const window = "2026-12-24 00:00 - 2026-12-27 00:00 Europe/Berlin";
    expect(isFrozen([window], at("2026-12-23T22:59:00Z")).frozen).toBe(false);
    expect(isFrozen([window], at("2026-12-23T23:00:00Z"))).toEqual({
      frozen: true,
      window,
      until: at("2026-12-26T23:00:00Z"),
    });
  });

  test("when several windows apply, reports the one that lifts last", () => {
    const windows = ["2026-03-20 00:00 - 2026-03-30 00:00 UTC", WEEKEND_BERLIN, "sat 00:00 - sat 12:00 UTC"];
    expect(isFrozen(windows, at("2026-03-21T06:00:00Z"))).toEqual({
      frozen: true,
      window: windows[0],
      until: at("2026-03-30T00:00:00Z"),
    });
  });

  test("takes parsed windows as well as strings", () => {
    expect(isFrozen([parseFreezeWindow(WEEKEND_BERLIN)], at("2026-03-21T12:00:00Z")).frozen).toBe(true);
    expect(isFrozen([], at("2026-03-21T12:00:00Z"))).toEqual({ frozen: false });
  });
});
