import { z } from "zod";
import { LABEL_PATTERN } from "../config/index.js";
import { PIPELINE_RUN_STATUSES } from "../store/index.js";

/**
 * Request and response shapes of pipelines, their runs and watched repositories (see schemas.ts).
 * Optional bodies are `nullish`: fastify hands a POST without a body to the validator as null.
 */

const json = z.unknown().describe("any JSON value");
const label = z.string().regex(new RegExp(LABEL_PATTERN), {
  error: "expected a lowercase name such as release",
});
const inputValue = z.union([z.string().max(4096), z.number(), z.boolean()]);

export const TRIGGER_KINDS = ["push", "schedule", "manual", "api", "rerun", "local"] as const;

// ---- requests ---------------------------------------------------------------------------------------

export const PipelineParams = z.strictObject({ name: label });
export const RunIdParams = z.strictObject({ id: z.coerce.number().int().min(1) });

export const StartRunBody = z
  .strictObject({
    ref: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe("refs/heads/NAME, refs/tags/NAME, or a bare branch name. Default: the default branch."),
    sha: z
      .string()
      .regex(/^[0-9a-fA-F]{7,64}$/, { error: "expected a commit id: 7 to 64 hex digits" })
      .optional()
      .describe("The commit to build; default the commit `ref` names."),
    repository: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe("A watched repository's id or name; needed when several are watched."),
    inputs: z
      .record(z.string(), inputValue)
      .default({})
      .describe("Values of the pipeline's `on.manual.inputs`; defaults fill the rest."),
  })
  .nullish();

const statusList = z
  .string()
  .transform((text, ctx) => {
    const statuses = text.split(",").filter((s) => s !== "");
    for (const s of statuses) {
      if (!(PIPELINE_RUN_STATUSES as readonly string[]).includes(s)) {
        ctx.addIssue({
          code: "custom",
          message: `unknown status ${s}; expected some of ${PIPELINE_RUN_STATUSES.join(", ")}`,
        });
        return z.NEVER;
      }
    }
    return statuses as (typeof PIPELINE_RUN_STATUSES)[number][];
  })
  .describe(`Comma-separated: ${PIPELINE_RUN_STATUSES.join(", ")}.`);

export const RunsQuery = z.strictObject({
  pipeline: label.optional(),
  status: statusList.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  before: z.coerce.number().int().min(1).optional().describe("Only runs with a smaller id (paging back)."),
});

export const LogsQuery = z.strictObject({
  job: label.optional(),
  step: z.coerce.number().int().min(0).optional().describe("0-based step index."),
  follow: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .describe("Stream as Server-Sent Events, like Accept: text/event-stream."),
});

export const ApproveBody = z
  .strictObject({ job: label.optional().describe("The waiting job, when several wait.") })
  .nullish();

export const RerunBody = z
  .strictObject({
    failedOnly: z
      .boolean()
      .default(true)
      .describe("Keep the jobs that succeeded (with their outputs and artifacts); run the rest."),
  })
  .nullish();

export const AddRepositoryBody = z.strictObject({
  name: label.describe("A label for the repository, unique."),
  location: z
    .string()
    .min(1)
    .max(4096)
    .describe("An absolute path of a git repository on the control plane's machine, or a clone URL."),
  secret: z
    .string()
    .min(16, { error: "a webhook secret needs at least 16 characters" })
    .max(256)
    .optional()
    .describe("The webhook secret; generated when absent. Stored only sealed under the data key."),
});

export const RepositoryParams = z.strictObject({ idOrName: z.string().min(1).max(128) });

export const HookParams = z.strictObject({
  provider: z.enum(["github", "gitlab", "gitea", "local"]),
  repository: z.string().min(1).max(128).describe("The repository's id."),
});

/** What the local git hooks send. */
export const LocalHookBody = z.strictObject({
  hook: z.enum(["post-receive", "post-commit"]).default("post-receive"),
  pusher: z.string().min(1).max(256).optional(),
  updates: z
    .array(
      z.strictObject({
        before: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, { error: "expected a commit id" }),
        after: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, { error: "expected a commit id" }),
        ref: z.string().min(1).max(1024),
      }),
    )
    .min(1)
    .max(1000),
});

// ---- responses --------------------------------------------------------------------------------------

export const Trigger = z.object({
  kind: z.enum(TRIGGER_KINDS),
  actor: z.string(),
  ref: z.string().nullable(),
  sha: z.string().nullable(),
  branch: z.string().nullable(),
  tag: z.string().nullable(),
  repository: z.string().nullable(),
  inputs: z.record(z.string(), inputValue),
  deliveryId: z.string().optional(),
  scheduledAt: z.string().optional(),
  rerunOf: z.int().optional(),
  changedPaths: z.array(z.string()).optional(),
});

const runFields = {
  id: z.int(),
  pipeline: z.string(),
  number: z.int(),
  status: z.enum(PIPELINE_RUN_STATUSES),
  trigger: Trigger,
  configRevision: z.int(),
  concurrencyGroup: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  revision: z.int(),
};

export const PipelineRun = z.object({
  ...runFields,
  spec: json.describe("The pipeline's config as applied when the run was created."),
  state: json.describe("Jobs and their steps: status, attempts, times, summaries, outputs, artifacts."),
});

export const RunSummary = z.object({
  ...runFields,
  jobs: z.array(z.object({ name: z.string(), status: z.string() })),
});

export const PipelineListItem = z.object({
  name: z.string(),
  triggers: z.object({
    push: json.optional(),
    schedule: json.optional(),
    manual: json.optional(),
  }),
  jobs: z.array(z.string()),
  nextScheduledAt: z.string().nullable().describe("The next time a schedule starts it, if any."),
  lastRun: RunSummary.nullable(),
});

export const RunLogLine = z.object({
  job: z.string(),
  step: z.int(),
  attempt: z.int(),
  seq: z.int().describe("1-based position in its step attempt's log."),
  at: z.string(),
  stream: z.enum(["out", "err", "system"]),
  text: z.string(),
});

export const LogsResponse = z.object({ lines: z.array(RunLogLine) });

const webhookUrls = z.object({ github: z.string(), gitlab: z.string(), gitea: z.string() });

export const Repository = z.object({
  id: z.string(),
  name: z.string(),
  location: z.string(),
  kind: z.enum(["path", "url"]),
  createdBy: z.string(),
  createdAt: z.string(),
  webhooks: webhookUrls,
});

export const AddRepositoryResponse = z.object({
  repository: Repository,
  webhookSecret: z
    .string()
    .describe(
      "Shown once (the server keeps it only sealed, and never returns it again): set it as the secret of the provider's webhook.",
    ),
  webhooks: webhookUrls,
  hook: z
    .string()
    .nullable()
    .describe("The local git hook installed (post-commit, or post-receive when bare)."),
  hooks: z.array(z.string()).describe("Every hook file written."),
  hookError: z.string().optional().describe("Why no hook could be installed."),
});

export const HookResponse = z.object({
  runs: z.array(z.object({ id: z.int(), pipeline: z.string(), number: z.int() })),
  reason: z.string().optional().describe("Why nothing started."),
  skipped: z.array(z.object({ pipeline: z.string(), reason: z.string() })).optional(),
});
