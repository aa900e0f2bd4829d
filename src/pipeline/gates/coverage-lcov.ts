/**
 * LCOV tracefiles (`lcov.info`, written by lcov/geninfo, c8, nyc, jest, llvm-cov, grcov, …).
 *
 * A tracefile is a list of records, one per source file: `SF:<path>` … `end_of_record`. Inside, the
 * summary lines `LF`/`LH` (lines found/hit), `BRF`/`BRH` (branches) and `FNF`/`FNH` (functions) give
 * the totals; the detail lines `DA`, `BRDA`, `FN`/`FNDA` (and lcov 2's `FNL`/`FNA`) list each line,
 * branch and function. Totals are the sum over records of the summary lines, falling back to counting
 * the detail lines where a record has no summary.
 *
 * Trap: lcov writes one record per source file *per test name* (`TN:`) when tests are named, so the
 * same `SF` can appear several times. Summing those would count a line once per test; records for the
 * same file are therefore merged line by line (a line is covered when any record hit it) when they
 * carry detail lines, and only summed when they carry summaries alone.
 *
 * Strictness: a line that is not `KEY:value`, a non-numeric count, detail outside a record, or a record
 * not closed by `end_of_record` (a truncated upload) is an error naming the line. Unknown keys (`TN`,
 * `VER`, future ones) are ignored.
 */
import { coverageCount, parseCount, reportError } from "./count.js";
import type { CoverageSummary } from "./types.js";

type Pair = { covered: number; total: number };

/** Everything learned about one source file, over all its records. */
interface FileTally {
  records: number;
  lines: Map<string, number>;
  branches: Map<string, number>;
  functions: Map<string, number>;
  /** Summary lines, summed over the file's records; undefined when a record lacked them. */
  summary: { lines?: Pair | undefined; branches?: Pair | undefined; functions?: Pair | undefined };
}

interface OpenRecord {
  file: string;
  line: number;
  lines: Map<string, number>;
  branches: Map<string, number>;
  functions: Map<string, number>;
  /** The record's summary lines (`LF:12` → LF → 12). */
  fields: Map<string, number>;
}

const SUMMARY_KEYS = {
  LF: ["lines", "total"],
  LH: ["lines", "covered"],
  BRF: ["branches", "total"],
  BRH: ["branches", "covered"],
  FNF: ["functions", "total"],
  FNH: ["functions", "covered"],
} as const;

type SummaryKey = keyof typeof SUMMARY_KEYS;

function isSummaryKey(key: string): key is SummaryKey {
  return Object.hasOwn(SUMMARY_KEYS, key);
}

/**
 * Totals of an LCOV tracefile.
 *
 * @example
 *   parseLcov("SF:a.ts\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n", "lcov.info").lines;
 *   // { covered: 1, total: 2, pct: 50 }
 */
export function parseLcov(text: string, file: string): CoverageSummary {
  const files = new Map<string, FileTally>();
  const lines = text.split(/\r?\n/);
  let record: OpenRecord | undefined;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    const fail = (message: string) => reportError(file, `line ${lineNo}: ${message}`, { line: lineNo });
    if (line === "end_of_record") {
      if (!record) throw fail("end_of_record without a record (no SF line before it)");
      closeRecord(record, files, fail);
      record = undefined;
      continue;
    }
    const colon = line.indexOf(":");
    const key = line.slice(0, colon);
    if (colon < 1 || !/^[A-Z]+$/.test(key)) throw fail(`expected KEY:value, found ${quote(line)}`);
    const value = line.slice(colon + 1);
    if (key === "SF") {
      if (record) throw fail(`SF:${value} starts a record, but the record for ${record.file} is not closed`);
      if (value === "") throw fail("SF has no file name");
      record = openRecord(value, lineNo);
    } else if (key === "TN" || key === "VER") {
      // Test name and format version: nothing to count.
    } else if (!record) {
      if (isKnownKey(key)) throw fail(`${key} outside a record (no SF line before it)`);
    } else {
      readRecordLine(record, key, value, fail);
    }
  }
  if (record) {
    throw reportError(
      file,
      `the record for ${record.file} (line ${record.line}) is not closed by end_of_record — is the file truncated?`,
      { line: record.line },
    );
  }
  if (files.size === 0) throw reportError(file, "no coverage records (no SF lines)");
  return summarize(files);
}

function openRecord(file: string, line: number): OpenRecord {
  return { file, line, lines: new Map(), branches: new Map(), functions: new Map(), fields: new Map() };
}

function isKnownKey(key: string): boolean {
  return isSummaryKey(key) || ["DA", "BRDA", "FN", "FNDA", "FNL", "FNA"].includes(key);
}

type Fail = (message: string) => Error;

function readRecordLine(record: OpenRecord, key: string, value: string, fail: Fail): void {
  const line = `${key}:${value}`;
  const parts = value.split(",");
  const number = (text: string | undefined, what: string): number => {
    if (text === undefined) throw fail(`${key} has no ${what} (found ${quote(line)})`);
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n))
      throw fail(`${key} ${what} must be a number, found ${quote(text)}`);
    return n;
  };
  switch (key) {
    case "DA": {
      // DA:<line>,<hits>[,<checksum>]
      const lineNo = String(number(parts[0], "line"));
      record.lines.set(lineNo, Math.max(record.lines.get(lineNo) ?? 0, number(parts[1], "hits")));
      return;
    }
    case "BRDA": {
      // BRDA:<line>,<block>,<branch>,<taken>; taken is "-" when the branch was never reached. lcov 2
      // allows commas in <branch>, so the count is the last field.
      if (parts.length < 4) throw fail(`BRDA needs line,block,branch,taken, found ${quote(value)}`);
      const taken = parts.at(-1) ?? "";
      const hits = taken === "-" ? 0 : number(taken, "taken");
      const id = parts.slice(0, -1).join(",");
      record.branches.set(id, Math.max(record.branches.get(id) ?? 0, hits));
      return;
    }
    case "FN": {
      // FN:<line>,<name> or lcov 2's FN:<line>,<end line>,<name>; a name may contain commas (C++).
      number(parts[0], "line");
      const named = parts.length >= 3 && /^\d+$/.test(parts[1] ?? "") ? parts.slice(2) : parts.slice(1);
      const name = named.join(",");
      if (!record.functions.has(name)) record.functions.set(name, 0);
      return;
    }
    case "FNDA": {
      const name = parts.slice(1).join(",");
      record.functions.set(name, Math.max(record.functions.get(name) ?? 0, number(parts[0], "hits")));
      return;
    }
    case "FNA": {
      // FNA:<index>,<hits>,<name>
      const name = parts.slice(2).join(",");
      record.functions.set(name, Math.max(record.functions.get(name) ?? 0, number(parts[1], "hits")));
      return;
    }
    default:
      if (isSummaryKey(key)) {
        const count = parseCount(value);
        if (count === undefined) throw fail(`${key} must be a whole number, found ${quote(value)}`);
        record.fields.set(key, count);
      }
  }
}

function closeRecord(record: OpenRecord, files: Map<string, FileTally>, fail: Fail): void {
  const summary = {
    lines: summaryPair(record, "LF", "LH", fail),
    branches: summaryPair(record, "BRF", "BRH", fail),
    functions: summaryPair(record, "FNF", "FNH", fail),
  };
  const tally = files.get(record.file);
  if (!tally) {
    const { lines, branches, functions } = record;
    files.set(record.file, { records: 1, lines, branches, functions, summary });
    return;
  }
  tally.records++;
  mergeMax(tally.lines, record.lines);
  mergeMax(tally.branches, record.branches);
  mergeMax(tally.functions, record.functions);
  for (const metric of ["lines", "branches", "functions"] as const) {
    const a = tally.summary[metric];
    const b = summary[metric];
    tally.summary[metric] = a && b ? { covered: a.covered + b.covered, total: a.total + b.total } : undefined;
  }
}

function summaryPair(record: OpenRecord, totalKey: SummaryKey, hitKey: SummaryKey, fail: Fail) {
  const total = record.fields.get(totalKey);
  const covered = record.fields.get(hitKey);
  if (total === undefined && covered === undefined) return undefined;
  if (total === undefined || covered === undefined) {
    const [has, lacks] = total === undefined ? [hitKey, totalKey] : [totalKey, hitKey];
    throw fail(`the record for ${record.file} has ${has} but no ${lacks}`);
  }
  if (covered > total)
    throw fail(`the record for ${record.file} has ${hitKey}:${covered} > ${totalKey}:${total}`);
  return { covered, total };
}

function mergeMax(into: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [key, hits] of from) into.set(key, Math.max(into.get(key) ?? 0, hits));
}

function summarize(files: ReadonlyMap<string, FileTally>): CoverageSummary {
  const sums = {
    lines: { covered: 0, total: 0 },
    branches: { covered: 0, total: 0 },
    functions: { covered: 0, total: 0 },
  };
  for (const tally of files.values()) {
    for (const metric of ["lines", "branches", "functions"] as const) {
      const detail = tally[metric];
      const summary = tally.summary[metric];
      // One record: its summary is authoritative. Several: the merged detail, which counts each line
      // once; their summed summaries only when no record listed detail.
      const useSummary = summary !== undefined && (tally.records === 1 || detail.size === 0);
      const pair = useSummary ? summary : countHits(detail);
      sums[metric].covered += pair.covered;
      sums[metric].total += pair.total;
    }
  }
  const result: CoverageSummary = { lines: coverageCount(sums.lines.covered, sums.lines.total) };
  if (sums.branches.total > 0) result.branches = coverageCount(sums.branches.covered, sums.branches.total);
  if (sums.functions.total > 0)
    result.functions = coverageCount(sums.functions.covered, sums.functions.total);
  return result;
}

function countHits(detail: ReadonlyMap<string, number>): Pair {
  let covered = 0;
  for (const hits of detail.values()) if (hits > 0) covered++;
  return { covered, total: detail.size };
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
