/**
 * Properties of what a run stores: wherever a step's text puts a secret in a run's state (any text
 * field, any depth of a step's details, a field the tables do not know) and in whatever form the masker
 * knows, no string of the masked state or events holds it; and the structure the engine reads back
 * (names, statuses, times, counts) is untouched.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EventInput, JsonValue } from "../../store/index.js";
import type { JobState, RunState, StepState } from "../types.js";
import { createMasker } from "./masker.js";
import { maskEvents, maskRunState } from "./redact.js";

const RUNS = { numRuns: 200, interruptAfterTimeLimit: 5_000 };

// No `*`: a masked form next to `***` must not be able to spell a secret again.
const SECRET_CHARS =
  "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789-_!@#$%&+=/?é密🔑".match(/./gsu) ?? [];
const secret = fc
  .array(fc.constantFrom(...SECRET_CHARS), { minLength: 8, maxLength: 24 })
  .map((chars) => `Sx${chars.join("")}`);

/** The forms a step may print a secret in, as forms.ts derives them. */
function encodings(s: string): string[] {
  const bytes = Buffer.from(s);
  return [
    s,
    bytes.toString("base64"),
    bytes.toString("base64url"),
    encodeURIComponent(s),
    JSON.stringify(s).slice(1, -1),
    bytes.toString("hex"),
  ];
}

/** What must never be found after masking. */
function clearForms(s: string): string[] {
  const bytes = Buffer.from(s);
  return [s, bytes.toString("base64").replace(/=+$/, ""), bytes.toString("hex")];
}

/** Text a step could produce: noise, maybe with the secret in one of its forms somewhere inside. */
function text(s: string): fc.Arbitrary<string> {
  const noise = fc.string({ maxLength: 12 });
  return fc.oneof(
    noise,
    fc
      .tuple(noise, fc.constantFrom(...encodings(s)), noise)
      .map(([before, form, after]) => `${before}${form}${after}`),
  );
}

function json(s: string): fc.Arbitrary<JsonValue> {
  return fc.letrec<{ value: JsonValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      text(s),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie("value"), { maxLength: 3 }),
      fc.dictionary(text(s), tie("value"), { maxKeys: 3 }),
    ),
  })).value;
}

// Structure: from an alphabet the secret's prefix `Sx` cannot come from.
const word = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const status = fc.constantFrom("pending", "running", "succeeded", "failed", "skipped") as fc.Arbitrary<
  StepState["status"]
>;

function step(s: string): fc.Arbitrary<StepState> {
  return fc.record(
    {
      index: fc.nat(20),
      name: word,
      kind: fc.constantFrom("run", "gate", "deploy"),
      status,
      attempt: fc.nat(3),
      startedAt: fc.constant("2025-01-01T00:00:00.000Z"),
      exitCode: fc.option(fc.integer({ min: 0, max: 255 }), { nil: null }),
      summary: text(s),
      details: json(s),
      logBytes: fc.nat(),
    },
    { requiredKeys: ["index", "name", "kind", "status", "attempt"] },
  );
}

function job(s: string): fc.Arbitrary<JobState & { unknownField?: string }> {
  return fc.record(
    {
      name: word,
      needs: fc.array(word, { maxLength: 2 }),
      status,
      attempt: fc.nat(3),
      outputs: fc.dictionary(text(s), text(s), { maxKeys: 3 }),
      skippedOutputs: fc.array(text(s), { maxLength: 2 }),
      artifacts: fc.constant([]),
      steps: fc.array(step(s), { maxLength: 3 }),
      reason: text(s),
      tail: fc.array(text(s), { maxLength: 3 }),
      approvals: fc.array(fc.record({ by: word, at: fc.constant("2025-01-01T00:00:00.000Z") }), {
        maxLength: 2,
      }),
      // A field an older or newer engine wrote: unknown fields are masked.
      unknownField: text(s),
    },
    { requiredKeys: ["name", "needs", "status", "attempt", "outputs", "artifacts", "steps"] },
  );
}

function state(s: string): fc.Arbitrary<RunState> {
  return fc.record(
    {
      v: fc.constant(1 as const),
      jobs: fc.array(job(s), { maxLength: 3 }),
      workspace: fc.constant("/data/pipelines/runs/1/workspace"),
      error: text(s),
    },
    { requiredKeys: ["v", "jobs"] },
  );
}

/** Every string in a value, object keys included. */
function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]);
  return [];
}

/** The structure the engine reads back, which masking must leave as it was. */
function structure(s: RunState): unknown {
  return s.jobs.map((j) => ({
    name: j.name,
    needs: j.needs,
    status: j.status,
    attempt: j.attempt,
    approvals: j.approvals,
    steps: j.steps.map((st) => [st.index, st.name, st.kind, st.status, st.attempt, st.exitCode, st.logBytes]),
  }));
}

describe("maskRunState and maskEvents (fuzzed)", () => {
  it("leave no form of the secret in any string of the state, and the structure as it was", () => {
    fc.assert(
      fc.property(
        secret.chain((s) => fc.tuple(fc.constant(s), state(s))),
        ([s, run]) => {
          const before = structuredClone(run);
          maskRunState(run, createMasker([s]).mask);
          const leaked = strings(run).filter((t) => clearForms(s).some((form) => t.includes(form)));
          expect(leaked).toEqual([]);
          expect(structure(run)).toEqual(structure(before));
          expect(run.workspace).toBe(before.workspace);
        },
      ),
      RUNS,
    );
  });

  it("leave no form of the secret in any event payload", () => {
    fc.assert(
      fc.property(
        secret.chain((s) => fc.tuple(fc.constant(s), fc.array(json(s), { maxLength: 4 }))),
        ([s, payloads]) => {
          const events: EventInput[] = payloads.map((payload) => ({
            type: "pipeline.job.failed",
            actor: "system:pipeline",
            payload,
          }));
          const masked = maskEvents(events, createMasker([s]).mask);
          expect(masked.map((e) => e.type)).toEqual(events.map((e) => e.type));
          const leaked = strings(masked.map((e) => e.payload)).filter((t) =>
            clearForms(s).some((form) => t.includes(form)),
          );
          expect(leaked).toEqual([]);
        },
      ),
      RUNS,
    );
  });

  it("is idempotent: masking a masked state changes nothing", () => {
    fc.assert(
      fc.property(
        secret.chain((s) => fc.tuple(fc.constant(s), state(s))),
        ([s, run]) => {
          const { mask } = createMasker([s]);
          maskRunState(run, mask);
          const once = structuredClone(run);
          maskRunState(run, mask);
          expect(run).toEqual(once);
        },
      ),
      RUNS,
    );
  });
});
