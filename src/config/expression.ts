/**
 * Pipeline expressions: the conditions in `if:` and the `${{ … }}` parts of strings such as
 * `version: "${{ run.number }}"`. Parsed once when the config is validated; evaluated by a pure function
 * when a run needs the value.
 *
 * A deliberately small language:
 *   literals   'text' (a quote inside is written ''), 42, -1.5, true, false
 *   names      branch, tag, ref, event, sha, run.number, inputs.NAME, env.NAME, needs.JOB.result,
 *              needs.JOB.outputs.NAME
 *   functions  success(), failure(), always(), cancelled(), startsWith(a, b), contains(a, b),
 *              hashFiles('glob', …)
 *   operators  ! binds tightest, then == and !=, then &&, then ||; parentheses group
 *
 * Values are text, numbers, booleans or null (a name with no value, such as `tag` on a branch push).
 * `==` compares two numbers as numbers and anything else as text, so `inputs.dryRun == 'true'` works for
 * a boolean input. `&&` and `||` return one of their operands, as in JavaScript, so
 * `inputs.target || 'staging'` gives a fallback. Comparisons are case-sensitive.
 */
import { SlipwayError } from "../util/index.js";
import {
  STATUS_FUNCTIONS,
  parseTemplate,
  type Expression,
  type ExpressionValue,
  type TemplatePart,
} from "./expression-parse.js";

export {
  ExpressionError,
  FUNCTIONS,
  STATUS_FUNCTIONS,
  parseCondition,
  parseExpression,
  parseTemplate,
  type BinaryOperator,
  type Expression,
  type ExpressionValue,
  type FunctionName,
  type TemplatePart,
} from "./expression-parse.js";

/** Calls `visit` on every node, parents before children. */
export function visitExpression(expression: Expression, visit: (node: Expression) => void): void {
  visit(expression);
  switch (expression.type) {
    case "call":
      for (const arg of expression.args) visitExpression(arg, visit);
      return;
    case "not":
      visitExpression(expression.operand, visit);
      return;
    case "binary":
      visitExpression(expression.left, visit);
      visitExpression(expression.right, visit);
      return;
    case "literal":
    case "reference":
      return;
  }
}

/** Whether the expression reads the run's status; a job or step `if` without one means `success() && …`. */
export function readsStatus(expression: Expression): boolean {
  let found = false;
  visitExpression(expression, (node) => {
    if (node.type === "call" && STATUS_FUNCTIONS.includes(node.name)) found = true;
  });
  return found;
}

export type JobResult = "success" | "failure" | "cancelled" | "skipped";

export interface JobOutcome {
  result: JobResult;
  outputs: Readonly<Record<string, string>>;
}

/** What a run knows when it evaluates an expression. Anything left out reads as null. */
export interface ExpressionContext {
  branch?: string | null;
  tag?: string | null;
  /** The full ref, e.g. refs/heads/main. */
  ref?: string | null;
  /** What started the run: push, schedule or manual. */
  event?: string | null;
  sha?: string | null;
  run?: { number: number };
  inputs?: Readonly<Record<string, ExpressionValue>>;
  env?: Readonly<Record<string, string>>;
  needs?: Readonly<Record<string, JobOutcome>>;
  /** How the run is going, for success(), failure() and cancelled(); default "success". */
  status?: "success" | "failure" | "cancelled";
  /**
   * A digest of the files matching the globs, for hashFiles(). The runner supplies it, which keeps
   * evaluation itself free of I/O; without it hashFiles() throws.
   */
  hashFiles?: (patterns: readonly string[]) => string;
}

function own<T>(record: Readonly<Record<string, T>> | undefined, key: string | undefined): T | undefined {
  return record !== undefined && key !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

function lookup(path: readonly string[], context: ExpressionContext): ExpressionValue {
  const [root, first, second, third] = path;
  switch (root) {
    case "branch":
    case "tag":
    case "ref":
    case "event":
    case "sha":
      return context[root] ?? null;
    case "run":
      return context.run?.number ?? null;
    case "inputs":
      return own(context.inputs, first) ?? null;
    case "env":
      return own(context.env, first) ?? null;
    case "needs": {
      const outcome = own(context.needs, first);
      return (second === "result" ? outcome?.result : own(outcome?.outputs, third)) ?? null;
    }
    default:
      return null;
  }
}

/** How a value reads as text: null is empty, booleans are true and false. */
export function toText(value: ExpressionValue): string {
  return value === null ? "" : String(value);
}

export function isTruthy(value: ExpressionValue): boolean {
  return value !== null && value !== false && value !== "" && value !== 0 && !Number.isNaN(value);
}

function equal(a: ExpressionValue, b: ExpressionValue): boolean {
  return typeof a === "number" && typeof b === "number" ? a === b : toText(a) === toText(b);
}

function call(node: Extract<Expression, { type: "call" }>, context: ExpressionContext): ExpressionValue {
  const args = node.args.map((arg) => evaluate(arg, context));
  const status = context.status ?? "success";
  switch (node.name) {
    case "success":
      return status === "success";
    case "failure":
      return status === "failure";
    case "cancelled":
      return status === "cancelled";
    case "always":
      return true;
    case "startsWith":
      return toText(args[0] ?? null).startsWith(toText(args[1] ?? null));
    case "contains":
      return toText(args[0] ?? null).includes(toText(args[1] ?? null));
    case "hashFiles":
      if (context.hashFiles === undefined) {
        throw new SlipwayError("invalid_request", "hashFiles() can only be evaluated inside a step");
      }
      return context.hashFiles(args.map(toText));
  }
}

/**
 * The value of a parsed expression. Pure: everything it reads comes from `context`.
 *
 * @example
 *   evaluate(parseExpression("success() && branch == 'main'"), { branch: "main" }); // true
 *   evaluate(parseExpression("needs.build.outputs.version"), {
 *     needs: { build: { result: "success", outputs: { version: "1.4.0" } } },
 *   }); // "1.4.0"
 */
export function evaluate(expression: Expression, context: ExpressionContext): ExpressionValue {
  switch (expression.type) {
    case "literal":
      return expression.value;
    case "reference":
      return lookup(expression.path, context);
    case "call":
      return call(expression, context);
    case "not":
      return !isTruthy(evaluate(expression.operand, context));
    case "binary": {
      const left = evaluate(expression.left, context);
      switch (expression.operator) {
        case "&&":
          return isTruthy(left) ? evaluate(expression.right, context) : left;
        case "||":
          return isTruthy(left) ? left : evaluate(expression.right, context);
        case "==":
          return equal(left, evaluate(expression.right, context));
        case "!=":
          return !equal(left, evaluate(expression.right, context));
      }
    }
  }
}

/**
 * Replaces every `${{ … }}` in `text` with its value as text. Accepts a string or parts already parsed
 * with {@link parseTemplate}.
 *
 * @example
 *   interpolate("npm-${{ hashFiles('package-lock.json') }}", { hashFiles: () => "3f2a" }); // "npm-3f2a"
 *   interpolate("release-${{ run.number }}", { run: { number: 42 } }); // "release-42"
 */
export function interpolate(text: string | readonly TemplatePart[], context: ExpressionContext): string {
  const parts = typeof text === "string" ? parseTemplate(text) : text;
  return parts
    .map((part) => (part.type === "text" ? part.text : toText(evaluate(part.expression, context))))
    .join("");
}
