/**
 * `services.<name>.rollout`: how a new release replaces the old one and how a canary is judged.
 * Messages follow the convention in names.ts ("expected …" gets the found value appended).
 */
import { z } from "zod";
import { MAPPING, intRange } from "./names.js";
import {
  DURATION_PATTERN,
  PERCENT_PATTERN,
  duration,
  percent,
  percentagePoints,
  ratio,
  tryParseDuration,
  tryParsePercent,
} from "./units.js";

export const STRATEGIES = ["rolling", "blue-green", "canary"] as const;
export const METRICS = ["error-rate", "latency-p50", "latency-p95", "latency-p99"] as const;
export const ON_INCONCLUSIVE = ["extend", "pause", "fail"] as const;
export const UNTIL_PROMOTE = "until-promote";
export const PAUSE_PATTERN = `^(?:${UNTIL_PROMOTE}|${DURATION_PATTERN.slice(1, -1)})$`;

/** An instance count or a percentage of `instances`, as Kubernetes Deployments take it. */
function countOrPercent() {
  const expected = "expected an integer of at least 0 or a percentage from 0% to 100% such as 25%";
  const asPercent = z
    .string()
    .refine((text) => (tryParsePercent(text) ?? 2) <= 1, { error: expected })
    .meta({ pattern: PERCENT_PATTERN });
  return z.union([z.int().min(0, { error: expected }), asPercent], { error: expected });
}

function isZero(value: number | string): boolean {
  return value === 0 || (typeof value === "string" && tryParsePercent(value) === 0);
}

const stepSchema = z
  .strictObject(
    {
      weight: intRange(0, 100).describe(
        "Percent of requests sent to the new release during this step (0 to 100).",
      ),
      pause: z
        .string({ error: `expected a duration such as 30s or "${UNTIL_PROMOTE}"` })
        .refine((text) => text === UNTIL_PROMOTE || tryParseDuration(text) !== undefined, {
          error: `expected a duration such as 30s or "${UNTIL_PROMOTE}"`,
        })
        .meta({ pattern: PAUSE_PATTERN })
        .optional()
        .describe(
          `How long to hold this weight while the canary is judged, or "${UNTIL_PROMOTE}" to wait for ` +
            "`slipway rollout promote`. Without it the rollout goes on to the next step without holding.",
        ),
    },
    MAPPING,
  )
  .describe("One canary step: shift traffic to a weight, then hold.");

const checkSchema = z
  .strictObject(
    {
      metric: z
        .enum(METRICS, { error: `expected one of ${METRICS.join(", ")}` })
        .describe("The golden signal to compare, measured per release by Slipway's router."),
      max: z
        .string({ error: "expected a percentage such as 1% or a duration such as 300ms" })
        .optional()
        .describe(
          "Absolute limit for the canary: a percentage such as `1%` for error-rate, a duration such as " +
            "`300ms` for latencies.",
        ),
      vsBaseline: z
        .string({ error: "expected a limit relative to the stable release such as +0.5pp or x1.25" })
        .optional()
        .describe(
          "Limit relative to the stable release: percentage points such as `+0.5pp` for error-rate, a ratio " +
            "such as `x1.25` for latencies.",
        ),
    },
    MAPPING,
  )
  .superRefine((check, ctx) => {
    if (check.max === undefined && check.vsBaseline === undefined) {
      ctx.addIssue({ code: "custom", message: `check "${check.metric}" needs max, vsBaseline or both` });
    }
    // The unit of a limit depends on the metric, so it is checked here rather than by the field's schema.
    const isRate = check.metric === "error-rate";
    const [maxSchema, baselineSchema] = isRate ? [percent(), percentagePoints()] : [duration(), ratio()];
    for (const [key, schema] of [
      ["max", maxSchema],
      ["vsBaseline", baselineSchema],
    ] as const) {
      const value = check[key];
      const result = value === undefined ? undefined : schema.safeParse(value);
      if (result && !result.success) {
        const message = `${result.error.issues[0]?.message ?? "expected a valid limit"} for ${check.metric}`;
        ctx.addIssue({ code: "custom", message, path: [key], input: value });
      }
    }
  })
  .describe("A limit the canary must stay within; a check fails when either limit is exceeded.");

const analysisSchema = z
  .strictObject(
    {
      interval: duration({ positive: true }).default("5s").describe("How often the canary is judged."),
      minSamples: intRange(1)
        .default(100)
        .describe("Requests each release must have served before a verdict other than inconclusive."),
      confidence: z
        .number({ error: "expected a number from 0.5 to 0.999" })
        .min(0.5, { error: "expected a number from 0.5 to 0.999" })
        .max(0.999, { error: "expected a number from 0.5 to 0.999" })
        .default(0.95)
        .describe("Statistical confidence required before the canary is declared worse than the baseline."),
      checks: z
        .array(checkSchema, { error: "expected a list of checks" })
        .min(1, { error: "expected at least one check" })
        .describe("The limits the canary is judged against."),
      onInconclusive: z
        .enum(ON_INCONCLUSIVE, { error: `expected one of ${ON_INCONCLUSIVE.join(", ")}` })
        .default("extend")
        .describe(
          "What to do when a step ends without enough samples: extend the step, pause for a person, or fail " +
            "and roll back.",
        ),
    },
    MAPPING,
  )
  .describe("How the new release is compared with the stable one while traffic shifts.");

export const rolloutSchema = z
  .strictObject(
    {
      strategy: z
        .enum(STRATEGIES, { error: `expected one of ${STRATEGIES.join(", ")}` })
        .default("rolling")
        .describe(
          "rolling replaces instances a few at a time; blue-green starts a full new set and switches all " +
            "traffic at once; canary shifts traffic step by step while judging the new release.",
        ),
      maxSurge: countOrPercent()
        .default(1)
        .describe(
          "Instances (or a percentage of `run.instances`) started above the desired count during a rollout.",
        ),
      maxUnavailable: countOrPercent()
        .default(0)
        .describe(
          "Instances (or a percentage of `run.instances`) that may be out of service during a rollout.",
        ),
      steps: z
        .array(stepSchema, { error: "expected a list of steps" })
        .optional()
        .describe(
          "Canary steps, with strictly increasing weights. Required for, and only allowed with, canary.",
        ),
      analysis: analysisSchema.optional(),
      watch: duration()
        .optional()
        .describe(
          "How long to keep judging the new release after promotion; a failure then still rolls back.",
        ),
      keepWarm: duration()
        .default("5m")
        .describe(
          "How long the previous release's instances keep running after a blue-green switch, so a rollback is instant.",
        ),
      progressDeadline: duration({ positive: true })
        .default("10m")
        .describe("A rollout that makes no progress for this long fails and rolls back."),
    },
    MAPPING,
  )
  .superRefine((rollout, ctx) => {
    const steps = rollout.steps;
    if (rollout.strategy === "canary" && (steps === undefined || steps.length === 0)) {
      ctx.addIssue({
        code: "custom",
        message: "strategy canary needs steps, e.g. steps: [{ weight: 10, pause: 1m }]",
      });
    }
    if (rollout.strategy !== "canary" && steps !== undefined) {
      const message = `steps apply only to strategy canary; this rollout uses ${rollout.strategy}`;
      ctx.addIssue({ code: "custom", message, path: ["steps"] });
    }
    steps?.forEach((step, index) => {
      const previous = steps[index - 1];
      if (previous !== undefined && step.weight <= previous.weight) {
        const message = `step weights must increase; step ${index + 1} has weight ${step.weight} after ${previous.weight}`;
        ctx.addIssue({ code: "custom", message, path: ["steps", index, "weight"] });
      }
    });
    if (isZero(rollout.maxSurge) && isZero(rollout.maxUnavailable)) {
      const message =
        "maxSurge and maxUnavailable cannot both be 0: the rollout could never replace an instance";
      ctx.addIssue({ code: "custom", message, path: ["maxSurge"] });
    }
  })
  .describe("How a new release replaces the running one.");
