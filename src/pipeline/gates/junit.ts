/**
 * JUnit XML test reports — the de-facto format every runner can write (Surefire, pytest `--junitxml`,
 * go-junit-report, jest-junit, vitest's `junit` reporter, gotestsum, …) — read into counts and the list
 * of failed cases, and summarised in one line for the run page.
 *
 * Rules:
 * - The root is `<testsuites>` or a lone `<testsuite>`; suites may nest. Counts come from the
 *   `<testcase>` elements themselves, not from the suites' `tests=`/`failures=` attributes, which
 *   writers disagree about (Surefire counts errors inside failures in some versions; pytest's
 *   `skipped` includes xfail) and which cannot be reconciled with the list of failures.
 * - A case with a `<failure>` or `<error>` child failed; the first of them in document order decides
 *   which (pytest writes a `<failure>` and then an `<error>` when teardown also breaks: the failure is
 *   the cause). Otherwise a `<skipped>` child makes it skipped. Surefire's `<flakyFailure>` and
 *   `<rerunFailure>` record attempts of a case that finally passed, so they are not failures.
 * - Time: the root's `time`, else the sum of its top-level suites' `time`, else the sum of the cases'
 *   — the root's is the only one that is the wall time of a parallel run. A `time` that is not a plain
 *   decimal number of seconds (Surefire once wrote "1,234.5") is ignored rather than guessed at.
 */
import { reportError } from "./count.js";
import type { JUnitFailure, JUnitFailureKind, JUnitResult } from "./types.js";
import { childElements, parseXml, textContent, type XmlElement } from "./xml.js";

export interface ParseJUnitOptions {
  /** The report's path, for error messages. Default "JUnit report". */
  file?: string;
  /** How many lines of each failure's text to keep in `details`. Default 20. */
  detailLines?: number;
}

const MESSAGE_CHARS = 300;
const DETAIL_LINE_CHARS = 500;

/**
 * Reads a JUnit XML report.
 *
 * @throws SlipwayError("invalid_request") for XML that is not well-formed (`file:line:column: …`) or
 *   whose root is not `<testsuites>`/`<testsuite>`.
 * @example
 *   parseJUnit('<testsuite name="math"><testcase name="adds"><failure message="1 != 2"/></testcase></testsuite>');
 *   // { tests: 1, failures: 1, errors: 0, skipped: 0, timeMs: 0,
 *   //   failed: [{ suite: "math", classname: "", name: "adds", kind: "failure", message: "1 != 2", details: "" }] }
 */
export function parseJUnit(text: string, options: ParseJUnitOptions = {}): JUnitResult {
  const file = options.file ?? "JUnit report";
  const detailLines = options.detailLines ?? 20;
  const root = parseXml(text, file);
  if (root.name !== "testsuites" && root.name !== "testsuite") {
    throw reportError(file, `expected <testsuites> or <testsuite> as the root element, found <${root.name}>`);
  }
  const result: JUnitResult = { tests: 0, failures: 0, errors: 0, skipped: 0, timeMs: 0, failed: [] };
  let caseSeconds = 0;
  // Depth-first in document order with an explicit stack of (suite, next child index).
  const stack = [{ element: root, suite: suiteName(root, ""), next: 0 }];
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    const child = frame.element.children[frame.next++];
    if (child === undefined) {
      stack.pop();
    } else if (typeof child === "string") {
      continue;
    } else if (child.name === "testsuite" || child.name === "testsuites") {
      stack.push({ element: child, suite: suiteName(child, frame.suite), next: 0 });
    } else if (child.name === "testcase") {
      caseSeconds += seconds(child) ?? 0;
      readCase(child, frame.suite, result, detailLines);
    }
  }
  result.timeMs = Math.round(1000 * (seconds(root) ?? suiteSeconds(root) ?? caseSeconds));
  return result;
}

function suiteName(suite: XmlElement, outer: string): string {
  return suite.name === "testsuite" ? (suite.attributes.get("name") ?? outer) : outer;
}

function readCase(testcase: XmlElement, suite: string, result: JUnitResult, detailLines: number): void {
  result.tests++;
  const outcome = testcase.children.find(
    (c): c is XmlElement => typeof c !== "string" && (c.name === "failure" || c.name === "error"),
  );
  if (!outcome) {
    if (childElements(testcase, "skipped").length > 0) result.skipped++;
    return;
  }
  const kind: JUnitFailureKind = outcome.name === "error" ? "error" : "failure";
  if (kind === "error") result.errors++;
  else result.failures++;
  const body = textContent(outcome);
  const failure: JUnitFailure = {
    suite,
    classname: testcase.attributes.get("classname") ?? "",
    name: testcase.attributes.get("name") ?? "(unnamed)",
    kind,
    message: oneLine(outcome.attributes.get("message"), body, outcome.attributes.get("type"), kind),
    details: firstLines(body, detailLines),
  };
  result.failed.push(failure);
}

/** The first non-blank line of the first source that has one, shortened. */
function oneLine(...sources: (string | undefined)[]): string {
  for (const source of sources) {
    const line = source?.split("\n").find((l) => l.trim() !== "");
    if (line !== undefined) return shorten(line.trim(), MESSAGE_CHARS);
  }
  return "";
}

function firstLines(text: string, count: number): string {
  const lines = text
    .replace(/^\s*\n/, "")
    .trimEnd()
    .split("\n");
  if (lines.length === 1 && lines[0]?.trim() === "") return "";
  const kept = lines.slice(0, count).map((l) => shorten(l.trimEnd(), DETAIL_LINE_CHARS));
  if (lines.length > count) kept.push(`… (${lines.length - count} more lines)`);
  return kept.join("\n");
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function seconds(element: XmlElement): number | undefined {
  const text = element.attributes.get("time")?.trim();
  if (text === undefined || !/^\d+(\.\d+)?([eE][-+]?\d+)?$|^\.\d+$/.test(text)) return undefined;
  return Number(text);
}

function suiteSeconds(root: XmlElement): number | undefined {
  let total: number | undefined;
  for (const suite of childElements(root, "testsuite")) {
    const s = seconds(suite);
    if (s !== undefined) total = (total ?? 0) + s;
  }
  return total;
}

/**
 * One line for the run page: "212 tests, 2 failed: api › rejects bad tokens: expected 401, got 200;
 * … (and 1 more)". "Failed" counts failures and errors. Each failed case is located by its class
 * name when that adds something (pytest's `tests.test_auth.TestLogin`), else by its suite.
 *
 * @example
 *   summarizeJUnit({ tests: 3, failures: 0, errors: 0, skipped: 1, timeMs: 5, failed: [] });
 *   // "2 tests passed, 1 skipped"
 */
export function summarizeJUnit(result: JUnitResult, listed = 3): string {
  const failed = result.failures + result.errors;
  const skipped = result.skipped > 0 ? `, ${result.skipped} skipped` : "";
  if (result.tests === 0) return "no tests";
  if (failed === 0) return `${plural(result.tests - result.skipped, "test")} passed${skipped}`;
  const names = result.failed.slice(0, listed).map((f) => {
    const where =
      f.classname !== "" && !f.name.startsWith(f.classname) ? f.classname : f.suite || f.classname;
    const label = where === "" ? f.name : `${where} › ${f.name}`;
    return f.message === "" ? label : `${label}: ${shorten(f.message, 120)}`;
  });
  const more = result.failed.length > listed ? ` (and ${result.failed.length - listed} more)` : "";
  return `${plural(result.tests, "test")}, ${failed} failed${skipped}: ${names.join("; ")}${more}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
