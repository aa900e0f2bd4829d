/**
 * The rollout domain's JSON columns, read through codecs (store/codec.ts): a rollout's state, the
 * verdicts it recorded, a release's service config (and the applied config's service and environment
 * objects). Each is checked where it enters the process, so a row from another version or edited by
 * hand is refused with its row named instead of failing later inside a decision.
 *
 * The API and the CLI show these columns as they are stored, so none is written in an envelope: the
 * version-1 codecs write the value bare, and the rollout state carries its version in its own `v` field
 * (version 2 renamed its fields and resolved its analysis to numbers; version-1 rows are migrated on
 * read). Values go back to the store through `toStored`, which checks them with the same schema
 * instead of casting.
 */
import { z } from "zod";
import { serviceSchema, type ServiceConfig } from "../config/index.js";
import type { Verdict } from "../judge/index.js";
import { CHECK_REASONS, TEST_NAMES, VERDICT_REASONS, VERDICT_RESULTS } from "../judge/index.js";
import { defineCodec, type JsonCodec, type JsonValue } from "../store/index.js";
import { resolveAnalysis } from "./analysis-spec.js";
import type { RolloutState } from "./types.js";

const writtenAnalysisSchema = serviceSchema.shape.rollout.unwrap().shape.analysis.unwrap();

/** The analysis as a rollout's spec keeps it since state version 2: numbers (analysis-spec.ts). */
const resolvedAnalysisSchema = z.strictObject({
  intervalMs: z.number(),
  minSamples: z.number(),
  confidence: z.number(),
  checks: z.array(
    z.strictObject({
      metric: z.enum(["error-rate", "latency-p50", "latency-p95", "latency-p99"]),
      max: z.number().optional(),
      vsBaseline: z.number().optional(),
    }),
  ),
  onInconclusive: z.enum(["extend", "pause", "fail"]),
});

const planSpecSchema = z.strictObject({
  instances: z.number().int(),
  maxSurge: z.number().int(),
  maxUnavailable: z.number().int(),
  steps: z.array(
    z.strictObject({
      weight: z.number(),
      pauseMs: z.union([z.number(), z.literal("until-promote"), z.null()]),
    }),
  ),
  analysis: resolvedAnalysisSchema.nullable(),
  watchMs: z.number(),
  keepWarmMs: z.number(),
  progressDeadlineMs: z.number(),
});

const windowSchema = z.strictObject({
  requests: z.number(),
  errors: z.number(),
  latenciesMs: z.array(z.number()),
});

const rolloutStateSchema = z.strictObject({
  v: z.literal(2),
  spec: planSpecSchema,
  phase: z.enum(["starting", "scaling", "step", "preview", "rolling", "promoting", "watching", "done"]),
  step: z.number().int(),
  weight: z.number(),
  canaryInstances: z.number().int(),
  stableInstances: z.number().int(),
  phaseSince: z.number(),
  progressAt: z.number(),
  canaryReady: z.number().int(),
  windowStart: z.number().optional(),
  stepPassed: z.boolean(),
  pausedBy: z.enum(["user", "inconclusive"]).optional(),
  pausedAt: z.number().optional(),
  promote: z.enum(["step", "full"]).optional(),
  watchUntil: z.number().optional(),
  baseline: windowSchema.optional(),
  lastVerdict: z
    .strictObject({
      at: z.number(),
      result: z.enum(VERDICT_RESULTS),
      message: z.string(),
      setAside: z.boolean().optional(),
    })
    .optional(),
  // setAside: since version 2 (a version-1 row had none).
  verdicts: z.strictObject({
    pass: z.number(),
    fail: z.number(),
    inconclusive: z.number(),
    setAside: z.number().default(0),
  }),
});

const sampleCountsSchema = z.strictObject({
  requests: z.number(),
  errors: z.number(),
  latencySamples: z.number(),
});

const checkResultSchema = z.strictObject({
  metric: z.enum(["error-rate", "latency-p50", "latency-p95", "latency-p99"]),
  result: z.enum(VERDICT_RESULTS),
  reason: z.enum(CHECK_REASONS),
  canary: z.number().nullable(),
  baseline: z.number().nullable(),
  threshold: z.strictObject({
    max: z.number().optional(),
    vsBaseline: z.strictObject({ kind: z.enum(["pp", "ratio"]), value: z.number() }).optional(),
    limit: z.number().nullable(),
    bound: z.enum(["max", "vsBaseline"]).optional(),
  }),
  test: z
    .strictObject({
      name: z.enum(TEST_NAMES),
      statistic: z.number(),
      pValue: z.number(),
      distribution: z.enum(["exact", "normal"]),
    })
    .optional(),
  message: z.string(),
});

const verdictSchema = z.strictObject({
  result: z.enum(VERDICT_RESULTS),
  reason: z.enum(VERDICT_REASONS),
  message: z.string(),
  decidedBy: z.number().int().optional(),
  confidence: z.number(),
  minSamples: z.number(),
  samples: z.strictObject({ canary: sampleCountsSchema, baseline: sampleCountsSchema }),
  checks: z.array(checkResultSchema),
});

const environmentObjectSchema = z.looseObject({ router: z.looseObject({ listen: z.string() }) });

/**
 * Version 2 (one vocabulary, issue 9): the instance counts are named for the canary (the release being
 * rolled out) and the stable release (the one it replaces), not "new" and "old"; the analysis is kept
 * in numbers instead of the units as written.
 */
export const RolloutStateCodec: JsonCodec<RolloutState> = defineCodec({
  name: "rollout state",
  version: 2,
  schema: rolloutStateSchema,
  migrations: { 2: migrateStateToV2 },
  versionField: "v",
});

function migrateStateToV2(previous: unknown): unknown {
  if (!isRecord(previous)) return previous;
  const { newInstances, oldInstances, newReady, spec, ...rest } = previous;
  return {
    ...rest,
    v: 2,
    spec: isRecord(spec) ? { ...spec, analysis: migrateAnalysis(spec.analysis) } : spec,
    canaryInstances: newInstances,
    stableInstances: oldInstances,
    canaryReady: newReady,
  };
}

/** A version-1 spec's analysis (units as written, plus intervalMs) in numbers; anything else unchanged. */
function migrateAnalysis(analysis: unknown): unknown {
  if (analysis === null || !isRecord(analysis)) return analysis;
  const { intervalMs: _resolvedAlready, ...written } = analysis;
  const parsed = writtenAnalysisSchema.safeParse(written);
  // Left as found: the schema check after the migration names what is wrong with the row.
  return parsed.success ? resolveAnalysis(parsed.data) : analysis;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export const VerdictCodec: JsonCodec<Verdict> = defineCodec({
  name: "verdict",
  version: 1,
  schema: verdictSchema,
});

/** A release's service config as it was applied when the release was created. */
export const ReleaseConfigCodec: JsonCodec<ServiceConfig> = defineCodec({
  name: "service config",
  version: 1,
  schema: serviceSchema,
});

/** The part of an applied environment object the controller reads: where its router listens. */
export const EnvironmentRouterCodec = defineCodec({
  name: "environment config",
  version: 1,
  schema: environmentObjectSchema,
});

/**
 * `codec.decode`, with every object's keys in the order the row stored them. The API and the CLI show
 * these columns as stored, so a value read, changed by a spread and written back must keep its bytes
 * (a schema's output follows the schema's key order instead). Keys the schema added (defaults) follow.
 */
export function decodeStored<T>(codec: JsonCodec<T>, stored: JsonValue, where: string): T {
  const decoded = codec.decode(stored, where);
  // Same value, keys reordered: the type is the decoded one (the cast names what the reorder keeps).
  return inOrderOf(stored, decoded) as T;
}

function inOrderOf(stored: unknown, value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map((item, i) => inOrderOf(Array.isArray(stored) ? stored[i] : undefined, item));
  }
  if (value === null || typeof value !== "object") return value;
  const template = stored !== null && typeof stored === "object" && !Array.isArray(stored) ? stored : {};
  const out: Record<string, unknown> = {};
  const entries = new Map(Object.entries(value));
  for (const [k, v] of Object.entries(template)) {
    if (entries.has(k)) out[k] = inOrderOf(v, entries.get(k));
  }
  for (const [k, v] of entries) if (!Object.hasOwn(out, k)) out[k] = inOrderOf(undefined, v);
  return out;
}

/**
 * A value in the column's stored form, checked against the codec's schema on the way: what is written
 * must be readable by `decode`. A version-1 codec writes the value bare (rows from before codecs are
 * read as version 1 anyway); a later version keeps its envelope (or its version field), or its rows
 * would read back as version 1 and be migrated twice.
 */
export function toStored<T>(codec: JsonCodec<T>, value: T, where: string): JsonValue {
  const encoded = codec.encode(value);
  const stored = codec.version === 1 && isEnvelope(encoded) ? (encoded.data ?? null) : encoded;
  codec.decode(stored, where);
  return stored;
}

function isEnvelope(value: JsonValue): value is { $v: JsonValue; data?: JsonValue } {
  return value !== null && typeof value === "object" && !Array.isArray(value) && "$v" in value;
}
