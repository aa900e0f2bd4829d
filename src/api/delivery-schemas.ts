import { z } from "zod";
import { LABEL_PATTERN } from "../config/index.js";
import { ROLLOUT_STATUSES, ROLLOUT_STRATEGIES } from "../store/index.js";
import { VERSION_PATTERN } from "../rollout/index.js";

/** Request and response shapes of releases, deploys and rollouts (see schemas.ts for the conventions). */

const json = z.unknown().describe("any JSON value");
const label = z.string().regex(new RegExp(LABEL_PATTERN), { error: "expected a lowercase name such as web" });
const version = z.string().regex(new RegExp(VERSION_PATTERN), {
  error: "expected a version of letters, digits and ._- (at most 64), starting with a letter or digit",
});

export const DeployBody = z.strictObject({
  service: label.describe("The service to deploy, as declared in slipway.yaml."),
  env: label.describe("The environment to deploy to."),
  version: version.describe("The release's version; unique per service."),
  artifact: z
    .string()
    .startsWith("/", { error: "expected an absolute path on the control plane's machine" })
    .max(4096)
    .optional()
    .describe(
      "Absolute path of the directory to release; copied into the release store. Omit to deploy an existing release.",
    ),
  commit: z
    .string()
    .regex(/^[0-9a-f]{7,64}$/, "expected a git commit hash (hex)")
    .optional()
    .describe("The commit the artifact was built from."),
  overrideFreeze: z
    .boolean()
    .optional()
    .describe("Deploy inside one of the environment's freeze windows; recorded as deploy.freeze-overridden."),
});

export const SlotParams = z.strictObject({ service: label, env: label });
export const ServiceParams = z.strictObject({ service: label });
export const RolloutIdParams = z.strictObject({ id: z.coerce.number().int().min(1) });

export const PromoteBody = z
  .strictObject({
    full: z.boolean().default(false).describe("Skip the remaining steps and promote fully now."),
  })
  // Nullish: fastify hands a POST without a body to the validator as null.
  .nullish();

export const RollbackBody = z
  .strictObject({
    to: version.optional().describe("The release to go back to; default the one the live release replaced."),
  })
  .nullish();

export const ReleasesQuery = z.strictObject({ env: label.optional() });
export const RolloutsQuery = z.strictObject({
  service: label.optional(),
  env: label.optional(),
  active: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(20),
});
export const RolloutDetailQuery = z.strictObject({
  verdicts: z.coerce.number().int().min(0).max(1000).default(20),
});
export const LogsQuery = z.strictObject({
  tail: z.coerce.number().int().min(1).max(10_000).default(100),
  instance: z.string().min(1).max(256).optional(),
});

export const Release = z.object({
  service: z.string(),
  version: z.string(),
  artifactDir: z.string(),
  artifactHash: z.string(),
  artifactBytes: z.int(),
  artifactFiles: z.int(),
  commit: z.string().nullable(),
  config: json,
  configRevision: z.int(),
  createdBy: z.string(),
  createdAt: z.string(),
});

export const ReleaseWithState = Release.extend({
  environments: z.array(
    z.object({
      env: z.string(),
      state: z.enum(["live", "canary", "warm", "previous", "rolled-back", "failed", "retired"]),
    }),
  ),
});

export const Rollout = z.object({
  id: z.int(),
  service: z.string(),
  env: z.string(),
  release: z.string(),
  previous: z.string().nullable(),
  strategy: z.enum(ROLLOUT_STRATEGIES),
  status: z.enum(ROLLOUT_STATUSES),
  state: json.describe("The engine's state: phase, step, weight, instances, the last verdict."),
  reason: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
  revision: z.int(),
});

export const Verdict = z.object({
  id: z.int(),
  rolloutId: z.int(),
  at: z.string(),
  step: z.int().nullable(),
  phase: z.string(),
  result: z.enum(["pass", "fail", "inconclusive"]),
  windowStart: z.string(),
  windowEnd: z.string(),
  verdict: json.describe("The judge's verdict: values, limits, sample counts, p-values, the deciding check."),
});

export const SlotView = z.object({
  service: z.string(),
  env: z.string(),
  stable: z.string().nullable(),
  releases: z.array(
    z.object({
      version: z.string(),
      role: z.enum(["stable", "canary", "previous", "warm"]),
      instances: z.int(),
      weight: z.number(),
      ready: z.int(),
      running: z.array(json),
    }),
  ),
});

export const DeployResponse = z.object({ release: Release, rollout: Rollout, createdRelease: z.boolean() });
export const RolloutDetail = z.object({
  rollout: Rollout,
  verdicts: z.array(Verdict),
  live: SlotView.nullable(),
});
export const DeploymentsResponse = z.object({
  agent: z.object({
    reachable: z.boolean(),
    error: z.string().optional(),
    lastSeenAt: z.string().nullable(),
  }),
  environmentErrors: z.record(z.string(), z.string()),
  slots: z.array(SlotView),
});
export const LogsResponse = z.object({
  instances: z.array(z.object({ id: z.string(), release: z.string(), lines: z.array(z.string()) })),
});
