import { describe, expect, test } from "vitest";
import {
  ExpressionError,
  evaluate,
  interpolate,
  isTruthy,
  parseCondition,
  parseExpression,
  parseTemplate,
  readsStatus,
  type Expression,
  type ExpressionContext,
} from "./expression.js";

/** The expression written back with full parentheses, to check how it was grouped. */
function show(expression: Expression): string {
  switch (expression.type) {
    case "literal":
      return typeof expression.value === "string" ? `'${expression.value}'` : String(expression.value);
    case "reference":
      return expression.path.join(".");
    case "call":
      return `${expression.name}(${expression.args.map(show).join(", ")})`;
    case "not":
      return `!${show(expression.operand)}`;
    case "binary":
      return `(${show(expression.left)} ${expression.operator} ${show(expression.right)})`;
  }
}

function errorOf(parse: () => unknown): { problem: string; position: number; message: string } {
  try {
    parse();
  } catch (error) {
    if (error instanceof ExpressionError) {
      return { problem: error.problem, position: error.position, message: error.message };
    }
    throw error;
  }
  throw new Error("expected an ExpressionError");
}

const value = (text: string, context: ExpressionContext = {}) => evaluate(parseExpression(text), context);

const CONTEXT: ExpressionContext = {
  branch: "main",
  tag: null,
  ref: "refs/heads/main",
  event: "push",
  sha: "9f1c2e",
  run: { number: 42 },
  inputs: { target: "production", dryRun: false, note: "" },
  env: { NODE_ENV: "test" },
  needs: {
    build: { result: "success", outputs: { version: "1.4.0" } },
    lint: { result: "failure", outputs: {} },
  },
};

describe("parseExpression", () => {
  test.each([
    ["success() && branch == 'main'", "(success() && (branch == 'main'))"],
    ["a || b && c".replace(/a|b|c/g, (n) => `inputs.${n}`), "(inputs.a || (inputs.b && inputs.c))"],
    ["!failure() || always()", "(!failure() || always())"],
    ["!(tag == 'v1')", "!(tag == 'v1')"],
    [
      "(branch == 'main' || startsWith(ref, 'refs/tags/')) && !cancelled()",
      "(((branch == 'main') || startsWith(ref, 'refs/tags/')) && !cancelled())",
    ],
    [
      "event != 'schedule' && needs.build.result == 'success'",
      "((event != 'schedule') && (needs.build.result == 'success'))",
    ],
    ["contains(needs.build.outputs.version, '-rc')", "contains(needs.build.outputs.version, '-rc')"],
    ["run.number == 7 && env.NODE_ENV != ''", "((run.number == 7) && (env.NODE_ENV != ''))"],
    ["hashFiles('a', 'b/**')", "hashFiles('a', 'b/**')"],
    ["needs.security-scan.result", "needs.security-scan.result"],
  ])("groups %s as %s", (text, grouped) => {
    expect(show(parseExpression(text))).toBe(grouped);
  });

  test("reads literals: single-quoted text with '' for a quote, numbers, booleans", () => {
    expect(parseExpression("'it''s'")).toEqual({ type: "literal", value: "it's", position: 0 });
    expect(parseExpression("  -1.5")).toEqual({ type: "literal", value: -1.5, position: 2 });
    expect(parseExpression("true")).toEqual({ type: "literal", value: true, position: 0 });
    expect(parseExpression("false")).toEqual({ type: "literal", value: false, position: 0 });
  });

  test("records where each part starts", () => {
    expect(parseExpression("sha == 'x'")).toEqual({
      type: "binary",
      operator: "==",
      left: { type: "reference", path: ["sha"], position: 0 },
      right: { type: "literal", value: "x", position: 7 },
      position: 4,
    });
  });

  test.each([
    ["", "expected an expression, found nothing", 0],
    ["success() &&", 'expected a value after "&&"', 12],
    ["branch = 'main'", 'unexpected "="; compare with ==', 7],
    ['branch == "main"', "text is written in single quotes, e.g. 'main'", 10],
    ["branch & tag", 'unexpected "&"; write && for "and"', 7],
    ["branch | tag", 'unexpected "|"; write || for "or"', 7],
    ["run.number > 5", 'unsupported operator ">"; expressions compare with == and != only', 11],
    ["'open", "text started with ' is never closed", 0],
    ["(branch == 'main'", 'expected ")" to close the "(" at character 1, found the end', 17],
    ["branch tag", 'unexpected "tag"; join conditions with && or ||', 7],
    ["branch)", 'unexpected ")"', 6],
    ["== 'x'", 'expected a value, found "=="', 0],
    ["brnch == 'x'", 'unknown name "brnch" (did you mean "branch"?)', 0],
    [
      "commit",
      'unknown name "commit"; expected branch, tag, ref, event, sha, run.number, inputs.NAME, env.NAME, needs.JOB.result or needs.JOB.outputs.NAME',
      0,
    ],
    ["needs.build", 'unknown name "needs.build"; expected needs.JOB.result or needs.JOB.outputs.NAME', 0],
    [
      "needs.build.status",
      'unknown name "needs.build.status"; expected needs.JOB.result or needs.JOB.outputs.NAME',
      0,
    ],
    ["run.id", 'unknown name "run.id"; expected run.number', 0],
    ["inputs.a.b", 'unknown name "inputs.a.b"; expected inputs.NAME', 0],
    ["branch.name", 'unknown name "branch.name"; expected branch', 0],
    ["inputs.", 'expected a name after "."', 6],
    ["sucess()", 'unknown function "sucess" (did you mean "success"?)', 0],
    ["StartsWith(ref, 'x')", 'unknown function "StartsWith" (did you mean "startsWith"?)', 0],
    [
      "format('x')",
      'unknown function "format"; expected one of success, failure, always, cancelled, startsWith, contains, hashFiles',
      0,
    ],
    ["success(1)", "success() takes no arguments, found 1", 0],
    ["startsWith(ref)", "startsWith() takes 2 arguments, found 1", 0],
    ["hashFiles()", "hashFiles() takes at least 1 argument, found 0", 0],
    ["contains(ref, 'x',)", 'expected a value, found ")"', 18],
    ["contains(ref 'x')", 'expected "," or ")" in contains(), found \'x\'', 13],
    ["branch == 'a' $", 'unexpected "$"', 14],
  ])("refuses %j: %s at %d", (text, problem, position) => {
    expect(errorOf(() => parseExpression(text))).toEqual({
      problem,
      position,
      message: `${problem} at character ${position + 1}`,
    });
  });

  test("an ExpressionError is an invalid_config SlipwayError", () => {
    try {
      parseExpression("(");
    } catch (error) {
      expect(error).toBeInstanceOf(ExpressionError);
      expect((error as ExpressionError).code).toBe("invalid_config");
    }
  });
});

describe("evaluate", () => {
  test.each([
    ["branch", "main"],
    ["tag", null],
    ["ref", "refs/heads/main"],
    ["event", "push"],
    ["sha", "9f1c2e"],
    ["run.number", 42],
    ["inputs.target", "production"],
    ["inputs.dryRun", false],
    ["inputs.missing", null],
    ["env.NODE_ENV", "test"],
    ["env.HOME", null],
    ["needs.build.result", "success"],
    ["needs.build.outputs.version", "1.4.0"],
    ["needs.build.outputs.other", null],
    ["needs.deploy.result", null],
    ["inputs.constructor", null],
    ["needs.__proto__.result", null],
  ])("reads %s as %j", (text, expected) => {
    expect(value(text, CONTEXT)).toEqual(expected);
  });

  test("a context left empty reads every name as null", () => {
    expect(value("branch")).toBeNull();
    expect(value("run.number")).toBeNull();
    expect(value("needs.a.outputs.b")).toBeNull();
  });

  test.each([
    ["branch == 'main'", true],
    ["branch != 'main'", false],
    ["branch == 'Main'", false],
    ["run.number == 42", true],
    ["run.number == '42'", true],
    ["1 == 1.0", true],
    ["'1.0' == 1", false],
    ["inputs.dryRun == 'false'", true],
    ["inputs.dryRun == false", true],
    ["tag == ''", true],
    ["needs.lint.result == 'failure'", true],
  ])("compares %s as %j", (text, expected) => {
    expect(value(text, CONTEXT)).toBe(expected);
  });

  test("&& and || return an operand, so || gives a fallback", () => {
    expect(value("inputs.note || 'none'", CONTEXT)).toBe("none");
    expect(value("inputs.target || 'staging'", CONTEXT)).toBe("production");
    expect(value("inputs.target && run.number", CONTEXT)).toBe(42);
    expect(value("inputs.note && run.number", CONTEXT)).toBe("");
    expect(value("!inputs.note", CONTEXT)).toBe(true);
  });

  test("&& and || stop at the first operand that decides", () => {
    let calls = 0;
    const hashFiles = () => {
      calls++;
      return "h";
    };
    expect(value("false && hashFiles('a')", { hashFiles })).toBe(false);
    expect(value("true || hashFiles('a')", { hashFiles })).toBe(true);
    expect(calls).toBe(0);
    expect(value("true && hashFiles('a')", { hashFiles })).toBe("h");
    expect(calls).toBe(1);
  });

  test.each([
    [undefined, { success: true, failure: false, cancelled: false, always: true }],
    ["success", { success: true, failure: false, cancelled: false, always: true }],
    ["failure", { success: false, failure: true, cancelled: false, always: true }],
    ["cancelled", { success: false, failure: false, cancelled: true, always: true }],
  ] as const)("status %s answers the status functions", (status, answers) => {
    const context: ExpressionContext = status === undefined ? {} : { status };
    for (const [name, answer] of Object.entries(answers)) expect(value(`${name}()`, context)).toBe(answer);
  });

  test("startsWith and contains compare text, case-sensitively", () => {
    expect(value("startsWith(ref, 'refs/heads/')", CONTEXT)).toBe(true);
    expect(value("startsWith(ref, 'REFS')", CONTEXT)).toBe(false);
    expect(value("contains(needs.build.outputs.version, '.4.')", CONTEXT)).toBe(true);
    expect(value("contains(run.number, 4)", CONTEXT)).toBe(true);
    expect(value("contains(tag, '')", CONTEXT)).toBe(true);
  });

  test("hashFiles asks the context with every pattern, and fails without it", () => {
    const seen: (readonly string[])[] = [];
    const context: ExpressionContext = {
      hashFiles: (patterns) => {
        seen.push(patterns);
        return "3f2a";
      },
    };
    expect(value("hashFiles('package-lock.json', 'web/*.lock')", context)).toBe("3f2a");
    expect(seen).toEqual([["package-lock.json", "web/*.lock"]]);
    expect(() => value("hashFiles('x')")).toThrow("hashFiles() can only be evaluated inside a step");
  });

  test("is pure: the same expression and context give the same value, the context is not changed", () => {
    const expression = parseExpression("needs.build.outputs.version || 'x'");
    const context = structuredClone(CONTEXT);
    expect(evaluate(expression, context)).toBe(evaluate(expression, context));
    expect(context).toEqual(CONTEXT);
  });

  test.each([
    [null, false],
    ["", false],
    [0, false],
    [false, false],
    [Number.NaN, false],
    ["0", true],
    ["false", true],
    [-1, true],
    [true, true],
  ])("truthiness of %j is %j", (input, expected) => {
    expect(isTruthy(input)).toBe(expected);
  });
});

describe("templates", () => {
  test("interpolate replaces each ${{ … }} with its value as text", () => {
    expect(interpolate("v${{ needs.build.outputs.version }}-${{ run.number }}", CONTEXT)).toBe("v1.4.0-42");
    expect(interpolate("[${{ tag }}] [${{ inputs.dryRun }}] [${{ branch == 'main' }}]", CONTEXT)).toBe(
      "[] [false] [true]",
    );
    expect(interpolate("no expressions, ${HOME} stays", CONTEXT)).toBe("no expressions, ${HOME} stays");
    expect(interpolate("npm-${{ hashFiles('package-lock.json') }}", { hashFiles: () => "3f2a" })).toBe(
      "npm-3f2a",
    );
  });

  test("interpolate takes parts already parsed", () => {
    const parts = parseTemplate("release-${{ run.number }}");
    expect(interpolate(parts, { run: { number: 7 } })).toBe("release-7");
    expect(interpolate(parts, { run: { number: 8 } })).toBe("release-8");
  });

  test("parseTemplate splits text and expressions, and }} inside quotes does not close", () => {
    const parts = parseTemplate("a${{ 'x}}y' }}b${{branch}}");
    expect(parts.map((part) => (part.type === "text" ? part.text : show(part.expression)))).toEqual([
      "a",
      "'x}}y'",
      "b",
      "branch",
    ]);
    expect(parts[1]).toMatchObject({ type: "expression", position: 1 });
    expect(parseTemplate("")).toEqual([]);
  });

  test.each([
    ["echo ${{ branch", '"${{" is never closed with "}}"', 5],
    ["echo ${{ 'open }}", "text started with ' is never closed", 9],
    ["echo ${{ }}", "expected an expression, found nothing", 9],
    ["echo ${{ branch = 'main' }}", 'unexpected "="; compare with ==', 16],
    [
      "ok ${{ branch }} then ${{ nope }}",
      'unknown name "nope"; expected branch, tag, ref, event, sha, run.number, inputs.NAME, env.NAME, needs.JOB.result or needs.JOB.outputs.NAME',
      26,
    ],
  ])("refuses %j with a position in the whole string", (text, problem, position) => {
    expect(errorOf(() => parseTemplate(text))).toMatchObject({ problem, position });
  });
});

describe("conditions", () => {
  test("may be written bare or as one ${{ … }}", () => {
    expect(show(parseCondition("failure()"))).toBe("failure()");
    expect(show(parseCondition(" ${{ failure() && branch == 'main' }} "))).toBe(
      "(failure() && (branch == 'main'))",
    );
  });

  test("two ${{ }} parts, or text around one, are not a condition", () => {
    expect(errorOf(() => parseCondition("${{ success() }} && ${{ always() }}")).problem).toBe(
      "a condition is one expression; write it without ${{ }} or as a single ${{ … }}",
    );
    expect(errorOf(() => parseCondition("${{ success() }} extra")).problem).toMatch(/^a condition is one/);
  });

  test("readsStatus tells whether a condition already decides on the run's status", () => {
    expect(readsStatus(parseCondition("branch == 'main'"))).toBe(false);
    expect(readsStatus(parseCondition("always()"))).toBe(true);
    expect(readsStatus(parseCondition("branch == 'main' && !cancelled()"))).toBe(true);
    expect(readsStatus(parseCondition("startsWith(ref, 'x')"))).toBe(false);
  });
});
