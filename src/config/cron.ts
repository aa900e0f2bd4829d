/**
 * Standard five-field cron expressions for `pipelines.<name>.on.schedule`, checked with messages that
 * name the field and the text found in it.
 *
 *   ┌ minute (0-59)
 *   │ ┌ hour (0-23)
 *   │ │ ┌ day of month (1-31)
 *   │ │ │ ┌ month (1-12 or jan-dec)
 *   │ │ │ │ ┌ day of week (0-7 or sun-sat; 0 and 7 are Sunday)
 *   0 3 * * 1-5
 *
 * Each field is `*`, a value, a range `a-b`, any of those with a step (`*\/15`, `1-30/5`, `5/15` = from 5
 * to the end), or a comma-separated list of them. The macros @yearly, @annually, @monthly, @weekly,
 * @daily and @hourly are accepted too. As in Vixie cron, when both day fields are restricted a day matches
 * if either matches.
 *
 * This is deliberately the common subset of cron dialects: it rejects seconds fields and the Quartz
 * extensions (L, W, #, ?), so what validates here means the same in croner, which schedules runs.
 */
import { z } from "zod";
import { SlipwayError } from "../util/index.js";

export const CRON_EXAMPLE = "0 3 * * 1-5";

/** The times a cron expression fires, as sorted lists of the values each field allows. */
export interface CronSchedule {
  minutes: readonly number[];
  hours: readonly number[];
  daysOfMonth: readonly number[];
  months: readonly number[];
  /** 0 = Sunday … 6 = Saturday (a written 7 is folded into 0). */
  daysOfWeek: readonly number[];
  /** Whether the day-of-month field is not `*`; with both day fields restricted, either may match. */
  restrictsDayOfMonth: boolean;
  restrictsDayOfWeek: boolean;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  /** Three-letter names, the first standing for `min`. */
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** Longest day of each month, counting 29 February: a schedule is refused only if it can never run. */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

function fail<T>(problem: string): Parsed<T> {
  return { ok: false, problem };
}

function rangeText(spec: FieldSpec): string {
  const names = spec.names;
  const last = spec.name === "day of week" ? "sat" : names?.at(-1);
  return names
    ? `${spec.min} to ${spec.max}, or ${names[0] ?? ""} to ${last ?? ""}`
    : `${spec.min} to ${spec.max}`;
}

function parseValue(text: string, spec: FieldSpec): Parsed<number> {
  const byName = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (byName >= 0) return { ok: true, value: spec.min + byName };
  if (!/^\d+$/.test(text)) {
    if (/^[LW#?]|[LW#?]$|#/i.test(text)) {
      return fail(
        `${spec.name} "${text}" uses a non-standard extension (L, W, # or ?); only standard cron is accepted`,
      );
    }
    return fail(`${spec.name} "${text}" is not a number (${rangeText(spec)})`);
  }
  const value = Number(text);
  if (value < spec.min || value > spec.max) {
    return fail(`${spec.name} ${text} is out of range (${rangeText(spec)})`);
  }
  return { ok: true, value };
}

/** One comma-separated item: `*`, `a`, `a-b`, each with an optional `/step`. */
function parseItem(item: string, spec: FieldSpec): Parsed<number[]> {
  if (item === "") return fail(`the ${spec.name} field has an empty item (two commas in a row?)`);
  const [base = "", step, extra] = item.split("/");
  if (extra !== undefined) return fail(`${spec.name} "${item}" has more than one "/"`);
  let every = 1;
  if (step !== undefined) {
    if (!/^\d+$/.test(step)) return fail(`${spec.name} "${item}" has a step that is not a number`);
    every = Number(step);
    if (every < 1) return fail(`${spec.name} "${item}" has a step of 0; a step is at least 1`);
  }
  let from = spec.min;
  let to = spec.max;
  if (base !== "*") {
    const dash = base.indexOf("-", 1);
    const first = parseValue(dash < 0 ? base : base.slice(0, dash), spec);
    if (!first.ok) return first;
    from = first.value;
    // "5/15" runs from 5 to the end of the field; a bare "5" is just 5.
    to = dash < 0 ? (step === undefined ? from : spec.max) : to;
    if (dash >= 0) {
      const end = base.slice(dash + 1);
      const last = parseValue(end, spec);
      if (!last.ok) return last;
      // Sunday is both 0 and 7; as the end of a range ("fri-sun") it is the 7.
      to = spec.name === "day of week" && end.toLowerCase() === "sun" ? 7 : last.value;
      if (to < from)
        return fail(`${spec.name} range "${base}" runs backwards; write the smaller value first`);
    }
  }
  const values: number[] = [];
  for (let value = from; value <= to; value += every) values.push(value);
  return { ok: true, value: values };
}

function parseField(text: string, spec: FieldSpec): Parsed<number[]> {
  const values = new Set<number>();
  for (const item of text.split(",")) {
    const parsed = parseItem(item, spec);
    if (!parsed.ok) return parsed;
    for (const value of parsed.value) values.add(spec.name === "day of week" && value === 7 ? 0 : value);
  }
  return { ok: true, value: [...values].sort((a, b) => a - b) };
}

/** Whether a day-of-month-only schedule names a day that exists in one of its months (31 February does not). */
function canRun(schedule: CronSchedule): boolean {
  if (!schedule.restrictsDayOfMonth || schedule.restrictsDayOfWeek) return true;
  const firstDay = schedule.daysOfMonth[0] ?? 1;
  return schedule.months.some((month) => firstDay <= (MONTH_DAYS[month - 1] ?? 31));
}

function parseFields(text: string): Parsed<CronSchedule> {
  const trimmed = text.trim();
  if (trimmed !== text) return fail("remove the spaces at the start or end");
  if (trimmed.startsWith("@")) {
    const expansion = MACROS[trimmed.toLowerCase()];
    if (expansion === undefined) {
      return fail(`unknown macro "${trimmed}" (expected one of ${Object.keys(MACROS).join(", ")})`);
    }
    return parseFields(expansion);
  }
  const parts = trimmed === "" ? [] : trimmed.split(/\s+/);
  if (parts.length !== FIELDS.length) {
    const hint = parts.length === 6 ? "; schedules run to the minute, so leave out the seconds field" : "";
    return fail(
      `expected 5 fields (minute hour day-of-month month day-of-week) such as "${CRON_EXAMPLE}", ` +
        `found ${parts.length}${hint}`,
    );
  }
  const fields: number[][] = [];
  for (const [index, spec] of FIELDS.entries()) {
    const parsed = parseField(parts[index] ?? "", spec);
    if (!parsed.ok) return parsed;
    fields.push(parsed.value);
  }
  const [minutes = [], hours = [], daysOfMonth = [], months = [], daysOfWeek = []] = fields;
  const schedule: CronSchedule = {
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    restrictsDayOfMonth: parts[2] !== "*",
    restrictsDayOfWeek: parts[4] !== "*",
  };
  if (!canRun(schedule)) return fail("it never runs: none of its months has that day");
  return { ok: true, value: schedule };
}

/** The schedule, or a message that quotes the expression and says what is wrong with which field. */
export function tryParseCron(text: string): { schedule: CronSchedule } | { error: string } {
  const parsed = parseFields(text);
  return parsed.ok ? { schedule: parsed.value } : { error: `cron "${text}": ${parsed.problem}` };
}

/**
 * @example
 *   parseCron("0 3 * * 1-5").daysOfWeek; // [1, 2, 3, 4, 5]
 *   parseCron("0 3 * * 1-8"); // throws: cron "0 3 * * 1-8": day of week 8 is out of range (0 to 7, or sun to sat)
 */
export function parseCron(text: string): CronSchedule {
  const result = tryParseCron(text);
  if ("error" in result) throw new SlipwayError("invalid_config", result.error);
  return result.schedule;
}

/** A cron expression string, kept as written; the issue message quotes it and names the bad field. */
export function cronExpression() {
  return z
    .string({ error: `expected a cron expression such as "${CRON_EXAMPLE}"` })
    .superRefine((text, ctx) => {
      const result = tryParseCron(text);
      if ("error" in result) ctx.addIssue({ code: "custom", message: result.error });
    });
}
