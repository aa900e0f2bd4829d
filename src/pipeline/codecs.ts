/**
 * The JSON columns the pipeline domain reads, each through one codec (src/store/codec.ts): a run's
 * state, a pipeline's spec (the applied config object, copied into each run), and the protection of
 * an environment an approval step reads. Decoding checks the shape where it enters the process, so a
 * row an older or newer version wrote fails with the row named, not somewhere inside a job.
 *
 * Stored form: version 1 is written bare, as before codecs (the codec reads a row without its
 * envelope as version 1). The API and the CLI hand `run.state` and `run.spec` out as stored, so this
 * keeps their answers unchanged; a version 2 will be the first written with the envelope, and its
 * migration will start from these bare rows.
 *
 * Objects are loose (unknown keys are kept): a field added by a newer minor version survives a save by
 * this one instead of being dropped.
 */
import { z } from "zod";
import { defineCodec, type JsonCodec, type JsonValue } from "../store/index.js";
import type { PipelineSpec } from "./spec.js";
import { WORK_STATUSES, type RunState } from "./types.js";

// ---- run state ----------------------------------------------------------------------------------

const workStatus = z.enum(WORK_STATUSES);

const stepState = z.looseObject({
  index: z.number(),
  name: z.string(),
  kind: z.enum(["run", "gate", "deploy", "approval", "artifact", "cache"]),
  status: workStatus,
  attempt: z.number(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  exitCode: z.number().nullable().optional(),
  pgid: z.number().optional(),
  summary: z.string().optional(),
  details: z.json().optional(),
  logBytes: z.number().optional(),
  truncated: z.boolean().optional(),
  continueOnError: z.boolean().optional(),
});

const artifactRef = z.looseObject({
  name: z.string(),
  hash: z.string(),
  dir: z.string(),
  files: z.number(),
  bytes: z.number(),
  paths: z.array(z.string()),
});

const jobState = z.looseObject({
  name: z.string(),
  needs: z.array(z.string()),
  status: workStatus,
  attempt: z.number(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  outputs: z.record(z.string(), z.string()),
  skippedOutputs: z.array(z.string()).optional(),
  artifacts: z.array(artifactRef),
  steps: z.array(stepState),
  reason: z.string().optional(),
  tail: z.array(z.string()).optional(),
  carriedFrom: z.number().optional(),
  approvals: z.array(z.looseObject({ by: z.string(), at: z.string() })).optional(),
  waiting: z
    .looseObject({
      step: z.number(),
      since: z.string(),
      until: z.string().nullable(),
      count: z.number(),
      approvers: z.array(z.string()).nullable(),
      allowSelfApproval: z.boolean(),
    })
    .optional(),
});

const runStateSchema = z.looseObject({
  v: z.literal(1),
  jobs: z.array(jobState),
  workspace: z.string().optional(),
  error: z.string().optional(),
});

export const RunStateCodec: JsonCodec<RunState> = defineCodec({
  name: "pipeline run state",
  version: 1,
  schema: runStateSchema,
});

// ---- pipeline spec ------------------------------------------------------------------------------

const stringMap = z.record(z.string(), z.string());
const retry = z.looseObject({ attempts: z.number(), backoff: z.string() });
const stepCommon = {
  name: z.string().optional(),
  if: z.string().optional(),
  timeout: z.string().optional(),
  retry: retry.optional(),
  continueOnError: z.boolean().optional(),
};
const paths = z.array(z.string());

const stepSpec = z.union([
  z.looseObject({
    ...stepCommon,
    run: z.string(),
    shell: z.enum(["sh", "bash"]).optional(),
    workingDirectory: z.string().optional(),
    env: stringMap.optional(),
  }),
  z.looseObject({
    ...stepCommon,
    gate: z.looseObject({
      coverage: z
        .looseObject({
          file: z.string(),
          format: z.enum(["lcov", "cobertura", "istanbul"]).optional(),
          min: z.number(),
        })
        .optional(),
      junit: z.string().optional(),
    }),
  }),
  z.looseObject({
    ...stepCommon,
    deploy: z.string(),
    env: z.string(),
    version: z.string().optional(),
    artifact: z.string().optional(),
  }),
  z.looseObject({
    ...stepCommon,
    approval: z.looseObject({
      count: z.number().optional(),
      approvers: z.array(z.string()).optional(),
      allowSelfApproval: z.boolean().optional(),
      timeout: z.string().optional(),
    }),
  }),
  z.looseObject({ ...stepCommon, artifact: z.looseObject({ name: z.string(), paths }) }),
  z.looseObject({ ...stepCommon, cache: z.looseObject({ key: z.string(), paths }) }),
]);

const jobSpec = z.looseObject({
  needs: z.array(z.string()).optional(),
  if: z.string().optional(),
  env: stringMap.optional(),
  timeout: z.string().optional(),
  retry: retry.optional(),
  continueOnError: z.boolean().optional(),
  environment: z.string().optional(),
  outputs: z.array(z.string()).optional(),
  artifacts: z.array(z.string()).optional(),
  steps: z.array(stepSpec),
});

const pipelineSpecSchema = z.looseObject({
  on: z
    .looseObject({
      push: z
        .looseObject({ branches: paths.optional(), tags: paths.optional(), paths: paths.optional() })
        .optional(),
      schedule: z.array(z.looseObject({ cron: z.string(), timezone: z.string().optional() })).optional(),
      manual: z
        .looseObject({
          inputs: z
            .record(
              z.string(),
              z.looseObject({
                type: z.string(),
                default: z.unknown().optional(),
                required: z.boolean().optional(),
                options: z.array(z.string()).optional(),
              }),
            )
            .optional(),
        })
        .optional(),
    })
    .optional(),
  concurrency: z.looseObject({ group: z.string(), cancelInProgress: z.boolean().optional() }).optional(),
  env: stringMap.optional(),
  secrets: z.array(z.string()).optional(),
  jobs: z.record(z.string(), jobSpec),
});

/** A pipeline's applied spec (config object `pipeline`), and the copy a run keeps in `run.spec`. */
export const PipelineSpecCodec: JsonCodec<PipelineSpec> = defineCodec({
  name: "pipeline spec",
  version: 1,
  schema: pipelineSpecSchema,
});

// ---- environment protection ---------------------------------------------------------------------

export interface EnvironmentProtection {
  protection?: { approvals?: number; approvers?: string[] };
}

/** The part of an environment's applied spec an approval step reads (the rest is the config's). */
export const EnvironmentProtectionCodec: JsonCodec<EnvironmentProtection> = defineCodec({
  name: "environment protection",
  version: 1,
  schema: z.looseObject({
    protection: z
      .looseObject({ approvals: z.number().optional(), approvers: z.array(z.string()).optional() })
      .optional(),
  }),
});

// ---- stored form --------------------------------------------------------------------------------

/**
 * The stored form of a version-1 value: bare, as before codecs (see the header). `codec.encode` gives
 * the envelope; its `data` is what is written.
 */
export function storedForm<T>(codec: JsonCodec<T>, value: T): JsonValue {
  const stored = codec.encode(value);
  if (codec.version === 1 && stored !== null && typeof stored === "object" && !Array.isArray(stored)) {
    return stored.data ?? null;
  }
  return stored;
}
