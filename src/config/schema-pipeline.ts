/**
 * `pipelines.<name>`: what starts a pipeline, its jobs (a graph by `needs`) and their steps
 * (schema-pipeline-step.ts). Checks across jobs — the `needs` graph, artifacts, what expressions may
 * read — are in pipeline-checks.ts; references to services and environments are checked with the whole
 * config in schema.ts. Messages follow the convention in names.ts.
 */
import { z } from "zod";
import { cronExpression } from "./cron.js";
import { MAPPING, envVarName, label, labelRecord, text, type IssueParams } from "./names.js";
import { checkPipeline } from "./pipeline-checks.js";
import {
  condition,
  envVars,
  globList,
  identifier,
  identifierRecord,
  template,
  timeZone,
  workspacePath,
} from "./pipeline-fields.js";
import { retrySchema, stepSchema } from "./schema-pipeline-step.js";
import { duration } from "./units.js";

export const INPUT_TYPES = ["string", "boolean", "choice"] as const;

const pushSchema = z
  .strictObject(
    {
      branches: globList("branch", '[main, "release/*"]')
        .optional()
        .describe("Branches whose pushes start the pipeline. Without branches and tags: every push."),
      tags: globList("tag", '["v*"]')
        .optional()
        .describe("Tags whose pushes start the pipeline. With only tags, branch pushes do not start it."),
      paths: globList("path", '["src/**", "!docs/**"]')
        .optional()
        .describe("Start only when a changed file matches; `!` excludes, the last matching pattern decides."),
    },
    MAPPING,
  )
  .describe(
    "Start on a push of a matching branch or tag (`push: {}`: every push). Patterns are globs: `*` stays " +
      "within one `/` level, `**` crosses them, a leading `!` excludes.",
  );

const scheduleSchema = z
  .strictObject(
    {
      cron: cronExpression().describe(
        "Standard 5-field cron: minute hour day-of-month month day-of-week, e.g. `0 3 * * 1-5`.",
      ),
      timezone: timeZone()
        .default("UTC")
        .describe("IANA time zone the cron reads its wall-clock time in, e.g. Europe/Berlin."),
    },
    MAPPING,
  )
  .describe("A time to start the pipeline on the default branch.");

const inputSchema = z
  .strictObject(
    {
      type: z
        .enum(INPUT_TYPES, { error: `expected one of ${INPUT_TYPES.join(", ")}` })
        .default("string")
        .describe("string, boolean or choice (one of `options`)."),
      description: text("a description").optional().describe("Shown when someone starts the run."),
      required: z
        .boolean({ error: "expected true or false" })
        .default(false)
        .describe("Whether a run started by hand must give a value."),
      default: z
        .union([z.string(), z.boolean()], { error: "expected text, or true or false for a boolean input" })
        .optional()
        .describe("The value when none is given, also in runs not started by hand."),
      options: z
        .array(text("an option"), { error: "expected a list of options" })
        .min(1, { error: "a choice input needs at least one option" })
        .optional()
        .describe("The values a choice input may take."),
    },
    MAPPING,
  )
  .superRefine((input, ctx) => {
    const add = (message: string, path: PropertyKey[]) => {
      ctx.addIssue({ code: "custom", message, path });
    };
    if (input.type === "choice" && input.options === undefined) {
      add("a choice input needs options, e.g. options: [staging, production]", []);
    }
    if (input.type !== "choice" && input.options !== undefined) {
      add(`options apply only to type choice; this input is a ${input.type}`, ["options"]);
    }
    input.options?.forEach((option, index) => {
      if (input.options?.indexOf(option) !== index)
        add(`option "${option}" is listed twice`, ["options", index]);
    });
    const fallback = input.default;
    if (fallback === undefined) return;
    if (input.type === "boolean" && typeof fallback !== "boolean") {
      add(`expected true or false for a boolean input`, ["default"]);
    } else if (input.type !== "boolean" && typeof fallback !== "string") {
      add(`expected text for a ${input.type} input (quote "${String(fallback)}")`, ["default"]);
    } else if (input.options !== undefined && !input.options.includes(String(fallback))) {
      const message = `default "${String(fallback)}" is not one of the options: ${input.options.join(", ")}`;
      add(message, ["default"]);
    }
  })
  .describe("A value asked for when the run is started by hand, read as `inputs.NAME`.");

const triggersSchema = z
  .strictObject(
    {
      push: pushSchema.optional(),
      schedule: z
        .array(scheduleSchema, { error: "expected a list of schedules" })
        .min(1, { error: "a schedule list needs at least one entry" })
        .optional()
        .describe("Times to start the pipeline."),
      manual: z
        .strictObject(
          {
            inputs: identifierRecord(inputSchema)
              .optional()
              .describe("Inputs by name; names are letters, digits, `_` and `-`."),
          },
          MAPPING,
        )
        .optional()
        .describe("Lets people start the pipeline by hand (`slipway pipeline run`, the API), with inputs."),
    },
    MAPPING,
  )
  .superRefine((on, ctx) => {
    if (on.push === undefined && on.schedule === undefined && on.manual === undefined) {
      ctx.addIssue({ code: "custom", message: "a pipeline needs a trigger: push, schedule or manual" });
    }
  })
  .describe("What starts the pipeline.");

const concurrencySchema = z
  .strictObject(
    {
      group: template("a group name").describe(
        "Runs in the same group (across pipelines) never run at once; may hold expressions such as " +
          "`deploy-${{ branch }}`.",
      ),
      cancelInProgress: z
        .boolean({ error: "expected true or false" })
        .default(false)
        .describe("When true, a new run cancels the group's running one; when false, runs queue."),
    },
    MAPPING,
  )
  .describe("Keeps runs of a group from overlapping.");

const jobSchema = z
  .strictObject(
    {
      needs: z
        .array(label(), { error: "expected a list of job names such as [build]" })
        .optional()
        .describe("Jobs that must finish first; their results and outputs become readable as `needs.JOB`."),
      if: condition().optional(),
      env: envVars().optional().describe("Environment variables for every step, over the pipeline's."),
      timeout: duration({ positive: true }).default("30m").describe("The job fails when it runs longer."),
      retry: retrySchema.optional(),
      continueOnError: z
        .boolean({ error: "expected true or false" })
        .default(false)
        .describe("When true, a failure of this job does not fail the run."),
      environment: label()
        .optional()
        .describe(
          "A declared environment the job works on: its protection applies, and approval steps take their " +
            "defaults from it.",
        ),
      outputs: z
        .array(identifier(), { error: "expected a list of output names" })
        .optional()
        .describe(
          "Keys the job's steps write as `key=value` lines to the file in $SLIPWAY_OUTPUT; later jobs read " +
            "them as `needs.JOB.outputs.KEY`.",
        ),
      artifacts: z
        .array(workspacePath(), { error: "expected a list of paths" })
        .min(1, { error: "artifacts needs at least one path" })
        .optional()
        .describe("Paths saved after the job succeeds, as an artifact named after the job."),
      steps: z
        .array(stepSchema, { error: "expected a list of steps" })
        .min(1, { error: "a job needs at least one step" })
        .describe("What the job does, in order; a failing step ends the job."),
    },
    MAPPING,
  )
  .describe("A job: steps run in order in a fresh checkout of the commit.");

export const pipelineSchema = z
  .strictObject(
    {
      on: triggersSchema,
      concurrency: concurrencySchema.optional(),
      env: envVars().optional().describe("Environment variables for every job."),
      secrets: z
        .array(envVarName(), { error: "expected a list of environment variable names" })
        .optional()
        .describe("Names of secrets passed to every step as variables of the same name; masked in logs."),
      jobs: labelRecord(jobSchema).describe(
        "Jobs by name. Jobs run in parallel unless ordered by `needs`, which must not form a cycle.",
      ),
    },
    MAPPING,
  )
  .superRefine(
    (pipeline, ctx) => {
      checkPipeline(pipeline, (path, message, options = {}) => {
        const params: IssueParams = options;
        ctx.addIssue({ code: "custom", message, path: [...path], params });
      });
    },
    { when: (payload) => typeof payload.value === "object" && payload.value !== null },
  )
  .describe("A pipeline: jobs started by a push, a schedule or a person.");

export type PipelineConfig = z.output<typeof pipelineSchema>;
export type JobConfig = PipelineConfig["jobs"][string];
export type PipelineTriggers = PipelineConfig["on"];
export type InputConfig = NonNullable<NonNullable<PipelineTriggers["manual"]>["inputs"]>[string];
