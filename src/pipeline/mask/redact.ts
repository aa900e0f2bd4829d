/**
 * Masking what a run stores: its state (jobs, steps) and the events it appends. The engine calls these
 * in its one write path, right before the store, so every text a step produced — an output, a failure
 * reason quoting stderr or a file name, a gate's test names and messages, a deploy's rollout reason, a
 * checkout error — is masked wherever in the state it was put, and whoever reads the store (the API,
 * `pipeline show`, `--wait`, the event log) only ever sees it masked.
 *
 * Deny by default: every field of the state is masked (deeply) unless the tables below mark it as
 * structure the engine reads back — names, statuses, times, counts, paths from the config. A field
 * added to the state types must be classified here, or the build fails; a field the tables do not
 * know at run time (an older or newer state) is masked.
 */
import type { EventInput, JsonValue } from "../../store/index.js";
import type { JobState, RunState, StepState } from "../types.js";

type Mask = (text: string) => string;

/** `text`: may hold what a step produced, masked; `kept`: structure, never step text; `nested`: walked. */
type Treatment = "text" | "kept" | "nested";

const RUN_FIELDS = {
  v: "kept",
  jobs: "nested",
  workspace: "kept",
  error: "text",
} as const satisfies Record<keyof RunState, Treatment>;

const JOB_FIELDS = {
  name: "kept",
  needs: "kept",
  status: "kept",
  attempt: "kept",
  startedAt: "kept",
  finishedAt: "kept",
  outputs: "text",
  skippedOutputs: "text",
  // Names and paths come from the config, hashes and sizes are ours.
  artifacts: "kept",
  steps: "nested",
  reason: "text",
  tail: "text",
  carriedFrom: "kept",
  // Who approved (token names) and when: people, not steps, write these.
  approvals: "kept",
  // The approval step's settings (from the config) and times.
  waiting: "kept",
} as const satisfies Record<keyof JobState, Treatment>;

const STEP_FIELDS = {
  index: "kept",
  name: "kept",
  kind: "kept",
  status: "kept",
  attempt: "kept",
  startedAt: "kept",
  finishedAt: "kept",
  exitCode: "kept",
  pgid: "kept",
  summary: "text",
  details: "text",
  logBytes: "kept",
  truncated: "kept",
  continueOnError: "kept",
} as const satisfies Record<keyof StepState, Treatment>;

/**
 * Masks every text field of a run's state in place (so what the engine holds is what it stores).
 * Masking is idempotent in practice: `***` contains no secret, so masking again changes nothing.
 *
 * @example
 *   maskRunState(state, createMasker([token]).mask); // job reasons, outputs, step summaries… masked
 */
export function maskRunState(state: RunState, mask: Mask): void {
  maskFields(state, RUN_FIELDS, mask);
  for (const job of state.jobs) {
    maskFields(job, JOB_FIELDS, mask);
    for (const step of job.steps) maskFields(step, STEP_FIELDS, mask);
  }
}

/** The events with every string of their payloads (keys too) masked. */
export function maskEvents(events: readonly EventInput[], mask: Mask): EventInput[] {
  return events.map((event) =>
    event.payload === undefined ? event : { ...event, payload: maskJson(event.payload, mask) },
  );
}

/**
 * An error as the log should see it: its message and stack masked (a failure while running a step can
 * quote what the step wrote: a file name, a line of output). For pino's `err` key.
 */
export function maskError(err: unknown, mask: Mask): { type: string; message: string; stack?: string } {
  if (!(err instanceof Error)) return { type: typeof err, message: mask(String(err)) };
  return {
    type: err.name,
    message: mask(err.message),
    ...(err.stack === undefined ? {} : { stack: mask(err.stack) }),
  };
}

/** Every string in a JSON value, object keys included, masked; numbers, booleans and null as they are. */
export function maskJson(value: JsonValue, mask: Mask): JsonValue {
  if (typeof value === "string") return mask(value);
  if (Array.isArray(value)) return value.map((item) => maskJson(item, mask));
  if (value !== null && typeof value === "object") {
    const out: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value)) out[mask(key)] = maskJson(item, mask);
    return out;
  }
  return value;
}

function maskFields<T extends object>(target: T, table: Record<keyof T, Treatment>, mask: Mask): void {
  const record = target as Record<string, unknown>;
  const treatments = table as Record<string, Treatment | undefined>;
  for (const [key, value] of Object.entries(record)) {
    const treatment = treatments[key] ?? "text";
    if (treatment === "text" && value !== undefined) record[key] = maskJson(value as JsonValue, mask);
  }
}
