/**
 * Freeze windows: times when deploys to a protected environment are refused.
 *
 * Two forms, both read as wall-clock time in an IANA time zone:
 *   weekly   "fri 16:00 - mon 08:00 Europe/Berlin"              (may wrap over the week end)
 *   one-off  "2026-12-24 00:00 - 2026-12-27 00:00 Europe/Berlin"
 *
 * Windows are half-open: frozen from the start minute up to, not including, the end minute. Wall time is
 * what people mean ("after 16:00 on Friday, Berlin time"), so a window follows DST shifts; instants are
 * computed with Intl.DateTimeFormat only, no date library.
 */
import { z } from "zod";
import { SlipwayError } from "../util/index.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const MINUTE = 60_000;
const DAY = 86_400_000;
const WEEK_MINUTES = 7 * 24 * 60;

export const FREEZE_EXAMPLE = "fri 16:00 - mon 08:00 Europe/Berlin";

export type FreezeWindow =
  | {
      kind: "weekly";
      text: string;
      timeZone: string;
      /** Minutes since Monday 00:00 local time. */
      startMinute: number;
      endMinute: number;
    }
  | {
      kind: "once";
      text: string;
      timeZone: string;
      /** Wall-clock time encoded as if it were UTC milliseconds (Date.UTC of the local fields). */
      startWall: number;
      endWall: number;
    };

export interface FreezeStatus {
  frozen: boolean;
  /** The window's text as written, when frozen. */
  window?: string;
  /** When the freeze lifts, when frozen. */
  until?: Date;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

function fail<T>(problem: string): Parsed<T> {
  return { ok: false, problem };
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function parseClock(text: string): Parsed<number> {
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  if (!match || hours > 23 || minutes > 59) {
    return fail(`expected a time as HH:MM from 00:00 to 23:59, found ${JSON.stringify(text)}`);
  }
  return { ok: true, value: hours * 60 + minutes };
}

function parseDay(text: string): Parsed<number> {
  const index = DAYS.indexOf(text.toLowerCase() as (typeof DAYS)[number]);
  if (index < 0) return fail(`expected a day (${DAYS.join(", ")}), found ${JSON.stringify(text)}`);
  return { ok: true, value: index };
}

function parseDate(text: string): Parsed<number> {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const [year, month, day] = [Number(match?.[1]), Number(match?.[2]), Number(match?.[3])];
  const wall = Date.UTC(year, month - 1, day);
  // Date.UTC rolls 2026-02-30 over into March; a real date survives the round trip.
  const real = new Date(wall);
  if (!match || real.getUTCMonth() !== month - 1 || real.getUTCDate() !== day) {
    return fail(`expected a date as YYYY-MM-DD, found ${JSON.stringify(text)}`);
  }
  return { ok: true, value: wall };
}

/** One side of a window: a weekday or a date, then a time. */
function parsePoint(dayOrDate: string, clock: string): Parsed<{ kind: "weekly" | "once"; value: number }> {
  const time = parseClock(clock);
  if (!time.ok) return time;
  if (/^\d/.test(dayOrDate)) {
    const date = parseDate(dayOrDate);
    return date.ok ? { ok: true, value: { kind: "once", value: date.value + time.value * MINUTE } } : date;
  }
  const day = parseDay(dayOrDate);
  return day.ok ? { ok: true, value: { kind: "weekly", value: day.value * 24 * 60 + time.value } } : day;
}

function parseParts(text: string): Parsed<FreezeWindow> {
  const match = /^(\S+)\s+(\S+)\s*-\s*(\S+)\s+(\S+)\s+(\S+)$/.exec(text.trim());
  if (!match) {
    return fail(
      `expected "DAY HH:MM - DAY HH:MM ZONE" such as "${FREEZE_EXAMPLE}", ` +
        `or "YYYY-MM-DD HH:MM - YYYY-MM-DD HH:MM ZONE"`,
    );
  }
  const [, startDay = "", startClock = "", endDay = "", endClock = "", timeZone = ""] = match;
  const start = parsePoint(startDay, startClock);
  if (!start.ok) return start;
  const end = parsePoint(endDay, endClock);
  if (!end.ok) return end;
  if (!isTimeZone(timeZone)) {
    return fail(
      `unknown time zone ${JSON.stringify(timeZone)} (expected an IANA name such as Europe/Berlin or UTC)`,
    );
  }
  if (start.value.kind !== end.value.kind)
    return fail("expected both ends to be weekdays or both to be dates");
  if (start.value.kind === "weekly") {
    if (start.value.value === end.value.value) return fail("the window starts and ends at the same time");
    return {
      ok: true,
      value: { kind: "weekly", text, timeZone, startMinute: start.value.value, endMinute: end.value.value },
    };
  }
  if (end.value.value <= start.value.value) return fail("the window ends before it starts");
  return {
    ok: true,
    value: { kind: "once", text, timeZone, startWall: start.value.value, endWall: end.value.value },
  };
}

/** The window, or a message that quotes it and says what is wrong. */
export function tryParseFreezeWindow(text: string): { window: FreezeWindow } | { error: string } {
  const parsed = parseParts(text);
  return parsed.ok
    ? { window: parsed.value }
    : { error: `freeze window ${JSON.stringify(text)}: ${parsed.problem}` };
}

/**
 * @example
 *   parseFreezeWindow("fri 16:00 - mon 08:00 Europe/Berlin");
 *   // { kind: "weekly", timeZone: "Europe/Berlin", startMinute: 6720, endMinute: 480, text: "…" }
 */
export function parseFreezeWindow(text: string): FreezeWindow {
  const result = tryParseFreezeWindow(text);
  if ("error" in result) throw new SlipwayError("invalid_config", result.error);
  return result.window;
}

/** The zone's wall clock at `instant`, encoded as if it were UTC milliseconds. */
function wallClock(instant: number, formatter: Intl.DateTimeFormat): number {
  const fields: Record<string, number> = {};
  for (const part of formatter.formatToParts(new Date(instant))) fields[part.type] = Number(part.value);
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = fields;
  return Date.UTC(year, month - 1, day, hour, minute, second) + (((instant % 1000) + 1000) % 1000);
}

function zoneFormatter(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
}

/**
 * The first instant after `after` at which the zone's clocks show `wall` or later. A wall time that
 * happens twice (clocks going back) resolves to its first occurrence after `after`; one skipped by clocks
 * going forward resolves to the moment of the jump, which is when such a window really starts or ends.
 */
function instantOfWall(wall: number, formatter: Intl.DateTimeFormat, after = -Infinity): number {
  // Offsets a day either side bracket any single transition near `wall`.
  const offsetBefore = wallClock(wall - DAY, formatter) - (wall - DAY);
  const offsetAfter = wallClock(wall + DAY, formatter) - (wall + DAY);
  const candidates = [wall - offsetBefore, wall - offsetAfter].filter(
    (t) => t > after && wallClock(t, formatter) === wall,
  );
  if (candidates.length > 0) return Math.min(...candidates);
  let low = Math.min(wall - offsetBefore, wall - offsetAfter);
  let high = Math.max(wall - offsetBefore, wall - offsetAfter);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (wallClock(mid, formatter) >= wall) high = mid;
    else low = mid;
  }
  return high;
}

/** When the window lifts if it covers `now`, else undefined. */
function activeUntil(window: FreezeWindow, now: number): number | undefined {
  const formatter = zoneFormatter(window.timeZone);
  const nowWall = wallClock(now, formatter);
  if (window.kind === "once") {
    const start = instantOfWall(window.startWall, formatter);
    const end = instantOfWall(window.endWall, formatter);
    return now >= start && now < end ? end : undefined;
  }
  const minuteOfDay = Math.floor((nowWall % DAY) / MINUTE);
  const weekday = (new Date(nowWall).getUTCDay() + 6) % 7; // Monday = 0
  const minuteOfWeek = weekday * 24 * 60 + minuteOfDay;
  const { startMinute: start, endMinute: end } = window;
  const inside =
    start < end ? minuteOfWeek >= start && minuteOfWeek < end : minuteOfWeek >= start || minuteOfWeek < end;
  if (!inside) return undefined;
  // Count forward in wall minutes, then convert: the window ends at its wall time even if DST moved in between.
  const minutesLeft = (end - minuteOfWeek + WEEK_MINUTES) % WEEK_MINUTES;
  const endWall = Math.floor(nowWall / MINUTE) * MINUTE + minutesLeft * MINUTE;
  // During the second pass through a repeated hour the first occurrence of the end is already past.
  return instantOfWall(endWall, formatter, now);
}

/**
 * Whether `now` falls inside any window. When several windows are active, reports the one that lifts last.
 * Strings are parsed first and throw `invalid_config` when malformed (config is validated before this).
 *
 * @example
 *   isFrozen(["fri 16:00 - mon 08:00 Europe/Berlin"], new Date("2026-03-28T12:00:00Z"));
 *   // { frozen: true, window: "fri 16:00 - mon 08:00 Europe/Berlin", until: 2026-03-30T06:00:00.000Z }
 */
export function isFrozen(windows: readonly (string | FreezeWindow)[], now: Date): FreezeStatus {
  let best: { window: string; until: number } | undefined;
  for (const entry of windows) {
    const window = typeof entry === "string" ? parseFreezeWindow(entry) : entry;
    const until = activeUntil(window, now.getTime());
    if (until !== undefined && (best === undefined || until > best.until))
      best = { window: window.text, until };
  }
  return best ? { frozen: true, window: best.window, until: new Date(best.until) } : { frozen: false };
}

/** A freeze window string, kept as written; the issue message quotes the window and names the problem. */
export function freezeWindow() {
  return z
    .string({ error: `expected a freeze window such as "${FREEZE_EXAMPLE}"` })
    .superRefine((text, ctx) => {
      const result = tryParseFreezeWindow(text);
      if ("error" in result) ctx.addIssue({ code: "custom", message: result.error });
    });
}
