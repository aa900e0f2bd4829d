/**
 * `pipelines.<name>.jobs.<job>.steps[]`: one step is exactly one of run, gate, deploy, approval, artifact
 * or cache, with the options of that kind. Messages follow the convention in names.ts.
 *
 * Two keys mean different things by kind, as the product contract writes them: `env` is a mapping of
 * variables in a run step but the name of the environment in a deploy step, and `artifact` is a step kind
 * (`artifact: { name, paths }`) but, in a deploy step, the name of the artifact to deploy. zod's union
 * would report a mistake inside such a mapping only as "found a mapping", so those keys accept either
 * shape and the step's refinement checks the value against what its kind needs, at the value's own path.
 */
import { z } from "zod";
import { MAPPING, intRange, label, text, type IssueParams } from "./names.js";
import { condition, envVars, jsonSchemaOf, template, workspacePath } from "./pipeline-fields.js";
import { suggestKey } from "./suggest.js";
import { duration } from "./units.js";

export const STEP_KINDS = ["run", "gate", "deploy", "approval", "artifact", "cache"] as const;
export type StepKind = (typeof STEP_KINDS)[number];
export const SHELLS = ["sh", "bash"] as const;
export const COVERAGE_FORMATS = ["lcov", "cobertura", "istanbul"] as const;
export type CoverageFormat = (typeof COVERAGE_FORMATS)[number];

/** Where each coverage format's tools write their report by default. */
export const COVERAGE_FILES: Readonly<Record<CoverageFormat, string>> = {
  lcov: "coverage/lcov.info",
  cobertura: "coverage/cobertura-coverage.xml",
  istanbul: "coverage/coverage-summary.json",
};

const FORMAT_BY_EXTENSION: Readonly<Record<string, CoverageFormat>> = {
  ".info": "lcov",
  ".xml": "cobertura",
  ".json": "istanbul",
};

function formatOfFile(file: string): CoverageFormat | undefined {
  const extension = /\.[^./]+$/.exec(file)?.[0].toLowerCase() ?? "";
  return Object.hasOwn(FORMAT_BY_EXTENSION, extension) ? FORMAT_BY_EXTENSION[extension] : undefined;
}

export const retrySchema = z
  .strictObject(
    {
      attempts: intRange(1, 10).describe("How many times to try in all (1 to 10); 1 means no retry."),
      backoff: duration()
        .default("5s")
        .describe("Wait before the first retry; the wait doubles before each further retry."),
    },
    MAPPING,
  )
  .describe("Try again after a failure.");

const coverageSchema = z
  .strictObject(
    {
      file: workspacePath()
        .optional()
        .describe(
          `The coverage report. Default by format: ${Object.entries(COVERAGE_FILES)
            .map(([format, file]) => `${file} (${format})`)
            .join(", ")}.`,
        ),
      format: z
        .enum(COVERAGE_FORMATS, { error: `expected one of ${COVERAGE_FORMATS.join(", ")}` })
        .optional()
        .describe(
          "lcov (lcov.info), cobertura (XML) or istanbul (json-summary). Default: from the file's extension " +
            "(.info, .xml, .json), else lcov.",
        ),
      min: z
        .number({ error: "expected a percentage of lines from 0 to 100 such as 80" })
        .min(0, { error: "expected a percentage of lines from 0 to 100 such as 80" })
        .max(100, { error: "expected a percentage of lines from 0 to 100 such as 80" })
        .describe("The lowest line coverage, in percent, that passes."),
    },
    MAPPING,
  )
  .superRefine((coverage, ctx) => {
    if (coverage.format === undefined && coverage.file !== undefined && !formatOfFile(coverage.file)) {
      const message = `cannot tell the coverage format of ${JSON.stringify(coverage.file)}; add format: ${COVERAGE_FORMATS.join(", ")}`;
      ctx.addIssue({ code: "custom", message, path: ["file"] });
    }
  })
  .transform(({ file, format, min }) => {
    const resolved = format ?? (file === undefined ? undefined : formatOfFile(file)) ?? "lcov";
    return { file: file ?? COVERAGE_FILES[resolved], format: resolved, min };
  })
  .describe("Fails the step when line coverage is below `min`.");

const gateSchema = z
  .strictObject(
    {
      coverage: coverageSchema.optional(),
      junit: workspacePath("a glob of JUnit XML reports")
        .optional()
        .describe("Glob of JUnit XML reports; fails the step when no file matches or any test failed."),
    },
    MAPPING,
  )
  .superRefine((gate, ctx) => {
    if (gate.coverage === undefined && gate.junit === undefined) {
      ctx.addIssue({ code: "custom", message: "a gate needs coverage, junit or both" });
    }
  })
  .describe("Checks reports written by earlier steps; the step fails when a check fails.");

const approvalSchema = z
  .strictObject(
    {
      count: intRange(1, 100)
        .optional()
        .describe(
          "How many people must approve. Default: the job environment's protection.approvals, at least 1.",
        ),
      approvers: z
        .array(text("a user name"), { error: "expected a list of user names" })
        .optional()
        .describe("Who may approve. Default: the job environment's protection.approvers, else any operator."),
      allowSelfApproval: z
        .boolean({ error: "expected true or false" })
        .default(false)
        .describe("Whether the person who started the run may approve it."),
      timeout: duration({ positive: true })
        .default("24h")
        .describe("The step fails when it is not approved within this time."),
    },
    MAPPING,
  )
  .superRefine((approval, ctx) => {
    const { count, approvers } = approval;
    if (count !== undefined && approvers !== undefined && approvers.length < count) {
      const message = `count is ${count} but only ${approvers.length} approvers are listed`;
      ctx.addIssue({ code: "custom", message, path: ["count"] });
    }
  })
  .describe("Waits until enough people approve (`slipway pipeline approve RUN`).");

const artifactSchema = z
  .strictObject(
    {
      name: label().describe("The artifact's name, unique in the pipeline; a deploy step may name it."),
      paths: z
        .array(workspacePath(), { error: "expected a list of paths" })
        .min(1, { error: "an artifact needs at least one path" })
        .describe("Files and directories to save."),
    },
    MAPPING,
  )
  .describe("Saves files for later jobs of the run.");

const cacheSchema = z
  .strictObject(
    {
      key: template("a cache key").describe(
        "Identifies the cached content, e.g. `npm-${{ hashFiles('package-lock.json') }}`. A hit restores the " +
          "paths; a miss saves them after the job succeeds.",
      ),
      paths: z
        .array(workspacePath(), { error: "expected a list of paths" })
        .min(1, { error: "a cache needs at least one path" })
        .describe("Directories to restore and save."),
    },
    MAPPING,
  )
  .describe("Restores directories saved by an earlier run under the same key.");

const envVarsSchema = envVars();

/** Accepts text or a mapping; the step's refinement checks which its kind needs (see the file comment). */
function textOrMapping<Mapping>(expected: string, shapes: readonly z.ZodType[]) {
  return z
    .union([z.string(), z.record(z.string(), z.unknown())], { error: expected })
    .meta({ anyOf: shapes.map(jsonSchemaOf) })
    .transform((value) => value as string | Mapping);
}

type StepEnv = Readonly<Record<string, string>>;
type SavedArtifact = z.output<typeof artifactSchema>;

/** Keys each kind takes besides its own; `name` and `if` go with every kind. */
const OPTIONS: Readonly<Record<StepKind, readonly string[]>> = {
  run: ["env", "shell", "workingDirectory", "timeout", "retry", "continueOnError"],
  gate: ["continueOnError"],
  deploy: ["env", "version", "artifact", "timeout", "continueOnError"],
  approval: [],
  artifact: [],
  cache: [],
};
const COMMON = ["name", "if"];

type Step = Record<string, unknown>;
type Ctx = z.RefinementCtx;

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The kinds a step is written as; `artifact` as text is a deploy option, not a kind. */
export function kindsOf(step: Step): StepKind[] {
  return STEP_KINDS.filter((kind) =>
    kind === "artifact" ? isMapping(step.artifact) : step[kind] !== undefined,
  );
}

function listing(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} and ${words.at(-1) ?? ""}`;
}

/** Reports the issues of `schema` for `value` as issues at `path` of the step. */
function forward(ctx: Ctx, schema: z.ZodType, value: unknown, path: readonly PropertyKey[]): void {
  const result = schema.safeParse(value);
  if (result.success) return;
  for (const issue of result.error.issues) {
    if (issue.code !== "unrecognized_keys") {
      ctx.addIssue({ ...issue, path: [...path, ...issue.path] });
      continue;
    }
    // The loader cannot see through these keys to suggest a spelling, so the message carries it.
    const valid = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
    for (const key of issue.keys) {
      const suggestion = suggestKey(key, valid);
      const hint =
        suggestion === undefined
          ? `; expected one of: ${valid.join(", ")}`
          : ` (did you mean "${suggestion}"?)`;
      const params: IssueParams = { at: "key" };
      ctx.addIssue({
        code: "custom",
        message: `unknown key "${key}"${hint}`,
        path: [...path, ...issue.path, key],
        params,
      });
    }
  }
}

function checkEnv(step: Step, kind: StepKind, ctx: Ctx): void {
  const env = step.env;
  if (kind === "deploy") {
    if (env === undefined)
      ctx.addIssue({ code: "custom", message: "a deploy step needs env: the environment to deploy to" });
    else if (typeof env !== "string") {
      const message = "in a deploy step, env names the environment to deploy to, e.g. env: staging";
      ctx.addIssue({ code: "custom", message, path: ["env"] });
    } else forward(ctx, label(), env, ["env"]);
    return;
  }
  if (typeof env === "string") {
    const message =
      'env here is a mapping of variables such as { CI: "true" }; only a deploy step names an environment';
    ctx.addIssue({ code: "custom", message, path: ["env"] });
  } else if (env !== undefined) forward(ctx, envVarsSchema, env, ["env"]);
}

function checkStep(step: Step, ctx: Ctx): void {
  const kinds = kindsOf(step);
  const [kind] = kinds;
  if (kind === undefined || kinds.length > 1) {
    const found = kinds.length === 0 ? "none" : listing(kinds);
    const textArtifact =
      kinds.length === 0 && typeof step.artifact === "string"
        ? "; artifact as text names what a deploy step deploys, to save files write artifact: { name, paths }"
        : "";
    const message = `a step needs exactly one of ${STEP_KINDS.join(", ")}; found ${found}${textArtifact}`;
    ctx.addIssue({ code: "custom", message });
    return;
  }
  const allowed = new Set([kind, ...COMMON, ...OPTIONS[kind]]);
  for (const key of Object.keys(step)) {
    if (step[key] === undefined || allowed.has(key) || (STEP_KINDS as readonly string[]).includes(key))
      continue;
    const params: IssueParams = { at: "key" };
    const message = `${key} does not apply to ${kind} steps`;
    ctx.addIssue({ code: "custom", message, path: [key], params });
  }
  if (kind === "deploy" || (kind === "run" && step.env !== undefined)) checkEnv(step, kind, ctx);
  if (kind === "artifact") forward(ctx, artifactSchema, step.artifact, ["artifact"]);
  else if (kind === "deploy" && step.artifact !== undefined)
    forward(ctx, label(), step.artifact, ["artifact"]);
}

export const stepSchema = z
  .strictObject(
    {
      run: template("a shell command")
        .optional()
        .describe("Shell command to run in the workspace; may hold `${{ … }}` expressions."),
      gate: gateSchema.optional(),
      deploy: label()
        .optional()
        .describe(
          "Deploys this service to the environment in `env` through its rollout, and waits for the verdict.",
        ),
      approval: approvalSchema.optional(),
      artifact: textOrMapping<SavedArtifact>(
        "expected a mapping with name and paths (to save files), or in a deploy step an artifact's name",
        [artifactSchema, label()],
      )
        .optional()
        .describe(
          "As a step: `{ name, paths }` saves files for later jobs of the run. In a deploy step: the name of " +
            "an artifact saved earlier in the run to deploy (default: the service's build.artifact path from " +
            "the job that built it).",
        ),
      cache: cacheSchema.optional(),
      name: text("a step name").optional().describe("Shown in logs; default: the command or the step kind."),
      if: condition().optional(),
      env: textOrMapping<StepEnv>(
        "expected a mapping of variables, or in a deploy step the name of an environment",
        [envVarsSchema, label()],
      )
        .optional()
        .describe(
          "In a run step: environment variables for the command, over the job's and the pipeline's. In a " +
            "deploy step: the environment to deploy to.",
        ),
      shell: z
        .enum(SHELLS, { error: `expected one of ${SHELLS.join(", ")}` })
        .optional()
        .describe("The shell that runs the command (default sh); bash runs with -eo pipefail."),
      workingDirectory: workspacePath()
        .optional()
        .describe("Directory the command runs in, relative to the repository root."),
      timeout: duration({ positive: true })
        .optional()
        .describe("The step fails when it runs longer; default: what is left of the job's timeout."),
      retry: retrySchema.optional(),
      continueOnError: z
        .boolean({ error: "expected true or false" })
        .optional()
        .describe(
          "When true, a failure of this step is shown but the job goes on as if it passed (default false).",
        ),
      version: template("a version")
        .optional()
        .describe(
          "In a deploy step: the release's version, e.g. `${{ run.number }}`; default: the commit's sha.",
        ),
    },
    { error: "expected a step such as { run: npm test }" },
  )
  .superRefine(
    (step, ctx) => {
      checkStep(step, ctx);
    },
    { when: (payload) => isMapping(payload.value) },
  )
  .describe("One step: exactly one of run, gate, deploy, approval, artifact or cache.");

export type StepConfig = z.output<typeof stepSchema>;

/**
 * The kind of a validated step.
 *
 * @example
 *   stepKind({ deploy: "web", env: "staging" }); // "deploy"
 */
export function stepKind(step: StepConfig): StepKind {
  const [kind] = kindsOf(step);
  if (kind === undefined) throw new TypeError("a validated step has a kind");
  return kind;
}
