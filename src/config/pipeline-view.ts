/**
 * A typed, forgiving view of one pipeline as the schema has seen it so far, for the checks across jobs
 * (pipeline-checks.ts, pipeline-scope.ts). Those run even when some fields have issues of their own, so
 * the view keeps only values of the expected type and skips the rest.
 */
import { kindsOf, type StepKind } from "./schema-pipeline-step.js";
import { MAX_SUGGESTED_LENGTH, editDistance } from "./suggest.js";
import { tryParseDuration } from "./units.js";

type Raw = Record<string, unknown>;

export interface StepView {
  index: number;
  kinds: StepKind[];
  /** The name an artifact step saves under. */
  savesArtifact?: string;
  /** The artifact a deploy step deploys. */
  deploysArtifact?: string;
  timeoutMs?: number;
  /** Variables the step declares (run steps). */
  env: string[];
  raw: Raw;
}

export interface JobView {
  name: string;
  needs: { name: string; index: number }[];
  outputs: string[];
  outputSet: ReadonlySet<string>;
  hasArtifacts: boolean;
  timeoutMs?: number;
  env: string[];
  steps: StepView[];
  raw: Raw;
}

export interface PipelineView {
  /** Whether `jobs` is written as a mapping (an empty one is an issue; a missing one is zod's). */
  jobsWritten: boolean;
  jobs: Map<string, JobView>;
  env: string[];
  secrets: ReadonlySet<string>;
  inputs: string[];
  inputSet: ReadonlySet<string>;
  /** Every job `job` needs, directly or through others; worked out on first use. */
  ancestors: (job: JobView) => ReadonlySet<string>;
  raw: Raw;
}

export function record(value: unknown): Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Raw) : {};
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function durationOf(value: unknown): number | undefined {
  return typeof value === "string" ? tryParseDuration(value) : undefined;
}

function viewStep(value: unknown, index: number): StepView {
  const raw = record(value);
  const kinds = kindsOf(raw);
  const artifact = raw.artifact;
  const view: StepView = { index, kinds, env: Object.keys(record(raw.env)), raw };
  const saved = record(artifact).name;
  if (kinds.includes("artifact") && typeof saved === "string") view.savesArtifact = saved;
  if (kinds.includes("deploy") && typeof artifact === "string") view.deploysArtifact = artifact;
  const timeoutMs = durationOf(raw.timeout);
  if (timeoutMs !== undefined) view.timeoutMs = timeoutMs;
  return view;
}

function viewJob(name: string, value: unknown): JobView {
  const raw = record(value);
  const needs = Array.isArray(raw.needs)
    ? raw.needs.flatMap((need: unknown, index) => (typeof need === "string" ? [{ name: need, index }] : []))
    : [];
  const outputs = strings(raw.outputs);
  const job: JobView = {
    name,
    needs,
    outputs,
    outputSet: new Set(outputs),
    hasArtifacts: Array.isArray(raw.artifacts) && raw.artifacts.length > 0,
    env: Object.keys(record(raw.env)),
    steps: Array.isArray(raw.steps) ? raw.steps.map(viewStep) : [],
    raw,
  };
  const timeoutMs = durationOf(raw.timeout);
  if (timeoutMs !== undefined) job.timeoutMs = timeoutMs;
  return job;
}

/** Every job reachable through needs; safe on cycles. */
function ancestorsOf(job: JobView, jobs: ReadonlyMap<string, JobView>): Set<string> {
  const found = new Set<string>();
  const queue = job.needs.map(({ name }) => name);
  // The loop also visits the names pushed while it runs: a queue without the cost of shift().
  for (const name of queue) {
    if (found.has(name)) continue;
    found.add(name);
    for (const need of jobs.get(name)?.needs ?? []) queue.push(need.name);
  }
  return found;
}

export function viewPipeline(value: unknown): PipelineView {
  const raw = record(value);
  const jobs = new Map(Object.entries(record(raw.jobs)).map(([name, job]) => [name, viewJob(name, job)]));
  const inputs = Object.keys(record(record(record(raw.on).manual).inputs));
  // Only the checks that need them ask, and only for jobs with a deploy step: a chain of n jobs would
  // otherwise hold n²/2 names.
  const ancestors = new Map<JobView, Set<string>>();
  return {
    jobsWritten: typeof raw.jobs === "object" && raw.jobs !== null && !Array.isArray(raw.jobs),
    jobs,
    env: Object.keys(record(raw.env)),
    secrets: new Set(strings(raw.secrets)),
    inputs,
    inputSet: new Set(inputs),
    ancestors: (job) => {
      let found = ancestors.get(job);
      if (found === undefined) ancestors.set(job, (found = ancestorsOf(job, jobs)));
      return found;
    },
    raw,
  };
}

/**
 * The candidate most likely meant by `name` (about one edit per three letters), if any. A name must keep
 * at least one letter: "B" is not a typo of "A".
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  if (name.length > MAX_SUGGESTED_LENGTH) return undefined;
  const limit = Math.min(Math.max(1, Math.floor(name.length / 3)), name.length - 1);
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    // The distance is at least the difference in length: most candidates need no table at all.
    if (Math.abs(candidate.length - name.length) > limit) continue;
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase(), limit);
    if (distance <= limit && (best === undefined || distance < best.distance))
      best = { name: candidate, distance };
  }
  return best?.name;
}

/** Declared names listed when none is close; a long list ends with how many more there are. */
const LISTED_NAMES = 20;

/** ` (did you mean "build"?)`, or the declared names when none is close. */
export function namesHint(name: string, declared: readonly string[]): string {
  const suggestion = closestName(name, declared);
  if (suggestion !== undefined) return ` (did you mean "${suggestion}"?)`;
  if (declared.length === 0) return "";
  const more = declared.length > LISTED_NAMES ? `, … (${declared.length} in all)` : "";
  return `; declared: ${declared.slice(0, LISTED_NAMES).join(", ")}${more}`;
}
