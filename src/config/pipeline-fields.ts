/**
 * Value types of `pipelines:` shared by its schema files: expressions, paths in the workspace, glob
 * lists, time zones, variables. Messages follow the convention in names.ts.
 */
import { z } from "zod";
import { ExpressionError, parseCondition, parseTemplate } from "./expression.js";
import { isTimeZone } from "./freeze.js";
import { ENV_VAR_PATTERN, isEnvVarName, namedRecord, text, type IssueParams } from "./names.js";

/** Names of manual inputs and job outputs: they are read in expressions as `inputs.NAME`. */
export const IDENTIFIER_PATTERN = "^[A-Za-z_][A-Za-z0-9_-]{0,62}$";
const IDENTIFIER_EXPECTED = 'expected a name of letters, digits, "_" and "-", starting with a letter or "_"';
const PATH_EXPECTED = 'expected a path relative to the repository root, without ".."';
const RESERVED_PREFIX = "SLIPWAY_";

export function isIdentifier(name: string): boolean {
  return new RegExp(IDENTIFIER_PATTERN).test(name);
}

export function identifier() {
  return z
    .string({ error: IDENTIFIER_EXPECTED })
    .regex(new RegExp(IDENTIFIER_PATTERN), { error: IDENTIFIER_EXPECTED });
}

/** A map keyed by {@link identifier} names. */
export function identifierRecord<T extends z.ZodType>(value: T) {
  return namedRecord(value, {
    pattern: IDENTIFIER_PATTERN,
    isValidKey: isIdentifier,
    expected: IDENTIFIER_EXPECTED,
  });
}

function expressionIssue(ctx: z.RefinementCtx, error: unknown): void {
  if (!(error instanceof ExpressionError)) throw error;
  ctx.addIssue({ code: "custom", message: `cannot read the expression: ${error.message}` });
}

/** Text that may hold `${{ … }}` expressions, checked when the config is read. */
export function template(what: string) {
  return text(what).superRefine((value, ctx) => {
    try {
      parseTemplate(value);
    } catch (error) {
      expressionIssue(ctx, error);
    }
  });
}

/** An `if:` condition (see expression.ts). */
export function condition() {
  return text(`a condition as text such as "success() && branch == 'main'" (quote true and false)`)
    .superRefine((value, ctx) => {
      try {
        parseCondition(value);
      } catch (error) {
        expressionIssue(ctx, error);
      }
    })
    .describe(
      "Runs this only when the condition holds. Names: branch, tag, ref, event (push, schedule or manual), " +
        "sha, run.number, inputs.NAME, env.NAME, needs.JOB.result, needs.JOB.outputs.NAME; functions " +
        "success(), failure(), always(), cancelled(), startsWith(a, b), contains(a, b); operators ! == != " +
        "&& || and parentheses; text in single quotes. Without success(), failure(), always() or " +
        "cancelled() the condition means `success() && …`. May be written as `${{ … }}`.",
    );
}

/** A relative path or glob inside the checked-out repository; `..` could reach outside the workspace. */
export function workspacePath(what = "a path relative to the repository root") {
  return text(what).refine(
    (path) => !path.startsWith("/") && !path.startsWith("~") && !path.split(/[\\/]/).includes(".."),
    { error: PATH_EXPECTED },
  );
}

/**
 * Glob patterns matched in order; `!` before a pattern excludes what it matches, and the last matching
 * pattern decides. `*` does not cross a `/`, `**` does.
 */
export function globList(what: string, example: string) {
  return z
    .array(text(`a ${what} pattern`), { error: `expected a list of ${what} patterns such as ${example}` })
    .superRefine((patterns, ctx) => {
      patterns.forEach((pattern, index) => {
        if (pattern === "!") {
          ctx.addIssue({ code: "custom", message: `expected a ${what} pattern after "!"`, path: [index] });
        }
      });
      if (patterns.length > 0 && patterns.every((pattern) => pattern.startsWith("!"))) {
        const message =
          'every pattern starts with "!", so nothing matches; put "**" first to mean everything but these';
        ctx.addIssue({ code: "custom", message });
      }
    });
}

export function timeZone() {
  return z
    .string({ error: "expected an IANA time zone such as Europe/Berlin or UTC" })
    .superRefine((zone, ctx) => {
      if (!isTimeZone(zone)) {
        const message = `unknown time zone ${JSON.stringify(zone)} (expected an IANA name such as Europe/Berlin or UTC)`;
        ctx.addIssue({ code: "custom", message });
      }
    });
}

/** Environment variables of a pipeline, job or step; values may hold `${{ … }}`. */
export function envVars() {
  return namedRecord(
    z
      .string({ error: 'expected a string (quote numbers and booleans, e.g. "3000")' })
      .superRefine((value, ctx) => {
        try {
          parseTemplate(value);
        } catch (error) {
          expressionIssue(ctx, error);
        }
      })
      .describe("Variable value; may hold `${{ … }}` expressions."),
    {
      pattern: ENV_VAR_PATTERN,
      isValidKey: isEnvVarName,
      expected: "expected an environment variable name such as NODE_ENV (letters, digits, _)",
    },
  ).superRefine(
    (vars, ctx) => {
      for (const name of Object.keys(vars)) {
        if (!name.startsWith(RESERVED_PREFIX)) continue;
        const message = `names starting with ${RESERVED_PREFIX} are set by Slipway; rename ${name}`;
        const params: IssueParams = { at: "key" };
        ctx.addIssue({ code: "custom", message, path: [name], params });
      }
    },
    { when: (payload) => typeof payload.value === "object" && payload.value !== null },
  );
}

/** JSON Schema of a zod schema as a person writes it, to embed where zod cannot describe a shape itself. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input" }) as Record<string, unknown>;
  return rest;
}
