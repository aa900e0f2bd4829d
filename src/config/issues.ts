/**
 * Turning schema issues into located {@link ConfigIssue}s, and printing them.
 *
 * Schema messages that start with "expected" describe the valid values; here the value actually written
 * is appended, so every message says both what was expected and what was found.
 */
import pc from "picocolors";
import type { LineCounter } from "yaml";
import type { z } from "zod";
import { ConfigError, MAX_REPORTED_ISSUES, type ConfigIssue } from "../util/index.js";
import type { Anchor, Locator } from "./locate.js";
import type { IssueParams, NameHint } from "./names.js";
import { namesHint } from "./pipeline-view.js";
import { NOT_YET_SUPPORTED } from "./schema.js";
import { suggestKey, validKeysAt } from "./suggest.js";

export interface IssueContext {
  file: string;
  locator: Locator;
  lineCounter: LineCounter;
  /** The document as plain data, as the schema saw it. */
  data: unknown;
  schema: z.ZodType;
}

type Path = readonly PropertyKey[];

/** `services.web.rollout.steps[1].weight` */
export function formatPath(path: Path): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function valueAt(data: unknown, path: Path): { present: boolean; value: unknown } {
  let current: unknown = data;
  for (const segment of path) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, segment)) {
      return { present: false, value: undefined };
    }
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return { present: true, value: current };
}

/** How a found value reads in a message: strings quoted, long ones shortened, structures named. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `a ${typeof value}`;
}

/** "expected X" + the found value. A semicolon separates them when X itself lists examples with commas. */
export function withFound(message: string, found: unknown): string {
  if (!message.startsWith("expected")) return message;
  return `${message}${message.includes(",") ? ";" : ","} found ${describeValue(found)}`;
}

/**
 * An issue before it is reported. Its "did you mean" is worked out only if it is listed: a file may
 * hold 50,000 unknown keys, and each suggestion compares the key with every valid one.
 */
interface PendingIssue extends ConfigIssue {
  complete?: (issue: ConfigIssue) => ConfigIssue;
}

function located(ctx: IssueContext, path: Path, anchor: Anchor, message: string): PendingIssue {
  const { line, col } = ctx.lineCounter.linePos(ctx.locator.offsetOf(path, anchor));
  return { file: ctx.file, line, column: col, path: formatPath(path), message };
}

function unknownKeyIssue(ctx: IssueContext, parent: Path, key: string): PendingIssue {
  const path = [...parent, key];
  const notYet = parent.length === 0 ? NOT_YET_SUPPORTED[key] : undefined;
  if (notYet !== undefined) return located(ctx, path, "key", notYet);
  const complete = (issue: ConfigIssue): ConfigIssue => {
    const validKeys = validKeysAt(ctx.schema, parent);
    const suggestion = suggestKey(key, validKeys);
    const hint =
      suggestion !== undefined
        ? ` (did you mean "${suggestion}"?)`
        : validKeys.length > 0
          ? `; expected one of: ${validKeys.join(", ")}`
          : "";
    return { ...issue, message: issue.message + hint, suggestion };
  };
  return { ...located(ctx, path, "key", `unknown key ${JSON.stringify(key)}`), complete };
}

function withNames(names: NameHint) {
  return (issue: ConfigIssue): ConfigIssue => ({
    ...issue,
    message: issue.message + namesHint(names.name, names.among()),
  });
}

function schemaIssue(ctx: IssueContext, issue: z.core.$ZodIssue): PendingIssue[] {
  if (issue.code === "unrecognized_keys")
    return issue.keys.map((key) => unknownKeyIssue(ctx, issue.path, key));
  const params = (issue as { params?: IssueParams }).params;
  if (issue.code === "custom" && params?.at === "key") {
    return [located(ctx, issue.path, "key", withFound(issue.message, issue.path.at(-1)))];
  }
  if (issue.code === "custom" && params?.names !== undefined) {
    return [{ ...located(ctx, issue.path, "value", issue.message), complete: withNames(params.names) }];
  }
  const { present, value } = valueAt(ctx.data, issue.path);
  const key = issue.path.at(-1);
  // Cross-field issues may sit on a key that was left to its default; only schema issues mean "missing".
  if (!present && issue.code !== "custom" && typeof key === "string") {
    return [located(ctx, issue.path, "parent", `missing required key ${JSON.stringify(key)}`)];
  }
  return [located(ctx, issue.path, "value", withFound(issue.message, value))];
}

function reported({ complete, ...issue }: PendingIssue): ConfigIssue {
  return complete === undefined ? issue : complete(issue);
}

/**
 * The schema's issues as one ConfigError: located, in file order, each once. Only the issues listed get
 * their "did you mean": finding the closest of n names for each of m issues would be m × n.
 */
export function schemaError(ctx: IssueContext, issues: readonly z.core.$ZodIssue[]): ConfigError {
  const all = sortIssues(issues.flatMap((issue) => schemaIssue(ctx, issue)));
  return new ConfigError(all.slice(0, MAX_REPORTED_ISSUES).map(reported), all.length);
}

/** In file order, equal issues once. */
export function sortIssues<T extends ConfigIssue>(issues: readonly T[]): T[] {
  const seen = new Set<string>();
  return [...issues]
    .sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path))
    .filter((issue) => {
      const id = `${issue.line}:${issue.column}:${issue.path}:${issue.message}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
}

export interface FormatIssuesOptions {
  color: boolean;
  /** Issues found in all (a ConfigError's `total`); a last line counts those not listed. */
  total?: number | undefined;
}

/**
 * One line per issue, in the `file:line:column` form editors and terminals turn into links.
 *
 * @example
 *   formatIssues(err.issues, { color: false });
 *   // slipway.yaml:12:7  services.web.run.instances  expected an integer from 1 to 100, found "two"
 */
export function formatIssues(issues: readonly ConfigIssue[], options: FormatIssuesOptions): string {
  const c = pc.createColors(options.color);
  const lines = issues.map((issue) => {
    const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
    const parts = [c.cyan(where)];
    if (issue.path !== "") parts.push(c.bold(issue.path));
    parts.push(issue.message);
    return parts.join("  ");
  });
  const hidden = (options.total ?? issues.length) - issues.length;
  if (hidden > 0) lines.push(c.dim(`… and ${hidden} more problem(s) not listed; fix these first`));
  return lines.join("\n");
}
