/**
 * Checks across the jobs of one pipeline — the `needs` graph, artifact names, timeouts, secrets — and
 * against the rest of the config: the services and environments that deploy steps and jobs name.
 *
 * They run even when some fields have issues of their own, so one pass reports everything; they
 * therefore read their input defensively, through {@link viewPipeline}.
 */
import type { NameHint } from "./names.js";
import { checkExpressions } from "./pipeline-scope.js";
import { record, viewPipeline, type JobView, type PipelineView } from "./pipeline-view.js";
import { kindsOf } from "./schema-pipeline-step.js";
import { formatDuration } from "./units.js";

export interface ReportOptions {
  /** Underline the key rather than the value. */
  at?: "key";
  /** The message names something unknown: "did you mean" is added if the issue is listed. */
  names?: NameHint;
}

/** Reports an issue at `path` (relative to the schema being checked). */
export type Report = (path: readonly PropertyKey[], message: string, options?: ReportOptions) => void;

/**
 * Jobs in one pipeline. Like GitHub Actions' 256 jobs per workflow, the bound keeps the checks across
 * jobs (cycles, what each job needs transitively) small whatever the file holds.
 */
export const MAX_JOBS = 256;

function checkNeeds(pipeline: PipelineView, report: Report): void {
  const among = () => [...pipeline.jobs.keys()];
  for (const job of pipeline.jobs.values()) {
    const seen = new Set<string>();
    for (const { name, index } of job.needs) {
      const path = ["jobs", job.name, "needs", index];
      if (seen.has(name)) report(path, `${name} is listed twice in needs`);
      seen.add(name);
      if (pipeline.jobs.has(name)) continue;
      report(path, `no job named "${name}" in this pipeline`, { names: { name, among } });
    }
  }
}

/** Jobs reachable from `start` by following needs, in declaration order, closing back on `start`. */
function cycleFrom(start: JobView, pipeline: PipelineView, members: ReadonlySet<string>): string[] {
  const path = [start.name];
  const visited = new Set<string>();
  const walk = (job: JobView): boolean => {
    for (const { name } of job.needs) {
      if (name === start.name) return true;
      const next = pipeline.jobs.get(name);
      if (next === undefined || !members.has(name) || visited.has(name)) continue;
      visited.add(name);
      path.push(name);
      if (walk(next)) return true;
      path.pop();
    }
    return false;
  };
  walk(start);
  return [...path, start.name];
}

/** Strongly connected groups of jobs (Tarjan), each a set of job names. */
function stronglyConnected(pipeline: PipelineView): Set<string>[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const groups: Set<string>[] = [];
  const onStack = new Set<string>();
  const visit = (name: string): void => {
    index.set(name, index.size);
    low.set(name, index.get(name) ?? 0);
    stack.push(name);
    onStack.add(name);
    for (const { name: need } of pipeline.jobs.get(name)?.needs ?? []) {
      if (!pipeline.jobs.has(need)) continue;
      if (!index.has(need)) {
        visit(need);
        low.set(name, Math.min(low.get(name) ?? 0, low.get(need) ?? 0));
      } else if (onStack.has(need)) {
        low.set(name, Math.min(low.get(name) ?? 0, index.get(need) ?? 0));
      }
    }
    if (low.get(name) !== index.get(name)) return;
    const group = new Set<string>();
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      group.add(member);
      onStack.delete(member);
      if (member === name) break;
    }
    groups.push(group);
  };
  for (const name of pipeline.jobs.keys()) if (!index.has(name)) visit(name);
  return groups;
}

/** Reports each cycle once, named from its first-declared job: "test → build → test". */
function checkCycles(pipeline: PipelineView, report: Report): void {
  const order = new Map([...pipeline.jobs.keys()].map((name, index) => [name, index]));
  for (const group of stronglyConnected(pipeline)) {
    let first: string | undefined;
    for (const name of group) {
      if (first === undefined || (order.get(name) ?? 0) < (order.get(first) ?? 0)) first = name;
    }
    const start = first === undefined ? undefined : pipeline.jobs.get(first);
    if (start === undefined) continue;
    const selfLoop = start.needs.some(({ name }) => name === start.name);
    if (group.size === 1 && !selfLoop) continue;
    const cycle = selfLoop ? [start.name, start.name] : cycleFrom(start, pipeline, group);
    const next = start.needs.find(({ name }) => name === cycle[1]);
    report(["jobs", start.name, "needs", next?.index ?? 0], `needs form a cycle: ${cycle.join(" → ")}`);
  }
}

function checkOutputs(pipeline: PipelineView, report: Report): void {
  for (const job of pipeline.jobs.values()) {
    const seen = new Set<string>();
    job.outputs.forEach((output, index) => {
      if (seen.has(output)) report(["jobs", job.name, "outputs", index], `output ${output} is listed twice`);
      seen.add(output);
    });
  }
}

interface Producer {
  job: string;
  /** The artifact step's index, or undefined for the job's own `artifacts`. */
  step?: number;
}

function describeProducer(producer: Producer): string {
  return producer.step === undefined
    ? `job ${producer.job}'s artifacts`
    : `step ${producer.step + 1} of job ${producer.job}`;
}

/** Artifact names are unique in a pipeline, and a deploy step names one saved before it runs. */
function checkArtifacts(pipeline: PipelineView, report: Report): void {
  const producers = new Map<string, Producer>();
  const claim = (name: string, producer: Producer, path: PropertyKey[]) => {
    const first = producers.get(name);
    if (first === undefined) producers.set(name, producer);
    else report(path, `artifact name "${name}" is already used by ${describeProducer(first)}`);
  };
  for (const job of pipeline.jobs.values()) {
    if (job.hasArtifacts) claim(job.name, { job: job.name }, ["jobs", job.name, "artifacts"]);
    job.steps.forEach((step, index) => {
      if (step.savesArtifact !== undefined) {
        claim(step.savesArtifact, { job: job.name, step: index }, [
          "jobs",
          job.name,
          "steps",
          index,
          "artifact",
          "name",
        ]);
      }
    });
  }
  for (const job of pipeline.jobs.values()) {
    job.steps.forEach((step, index) => {
      const name = step.deploysArtifact;
      if (name === undefined) return;
      const path = ["jobs", job.name, "steps", index, "artifact"];
      const producer = producers.get(name);
      if (producer === undefined) {
        const names = { name, among: () => [...producers.keys()] };
        report(path, `no artifact named "${name}" is saved in this pipeline`, { names });
      } else if (producer.job === job.name) {
        if (producer.step === undefined || producer.step > index) {
          report(path, `artifact "${name}" is saved by ${describeProducer(producer)}, after this step runs`);
        }
      } else if (!pipeline.ancestors(job).has(producer.job)) {
        report(
          path,
          `artifact "${name}" is saved by job ${producer.job}, which job ${job.name} does not need; add it to needs`,
        );
      }
    });
  }
}

function checkTimeouts(pipeline: PipelineView, report: Report): void {
  for (const job of pipeline.jobs.values()) {
    job.steps.forEach((step, index) => {
      if (step.timeoutMs === undefined || job.timeoutMs === undefined || step.timeoutMs <= job.timeoutMs)
        return;
      const message = `the step's timeout ${formatDuration(step.timeoutMs)} is longer than its job's timeout ${formatDuration(job.timeoutMs)}`;
      report(["jobs", job.name, "steps", index, "timeout"], message);
    });
  }
}

function checkSecrets(pipeline: PipelineView, report: Report): void {
  const env = new Set(pipeline.env);
  [...pipeline.secrets].forEach((name, index) => {
    if (env.has(name)) report(["secrets", index], `${name} is both a secret and in env; keep one`);
  });
}

/**
 * Checks one pipeline as a whole.
 *
 * @example
 *   checkPipeline({ on: { push: {} }, jobs: { a: { needs: ["a"], steps: [{ run: "x" }] } } }, report);
 *   // report(["jobs", "a", "needs", 0], "needs form a cycle: a → a")
 */
export function checkPipeline(pipeline: unknown, report: Report): void {
  const view = viewPipeline(pipeline);
  if (view.jobs.size === 0 && view.jobsWritten) report(["jobs"], "a pipeline needs at least one job");
  if (view.jobs.size > MAX_JOBS) {
    // The checks across jobs wait until the count is fixed: their cost grows with its square.
    report(["jobs"], `a pipeline has at most ${MAX_JOBS} jobs; this one has ${view.jobs.size}`);
    return;
  }
  checkNeeds(view, report);
  checkCycles(view, report);
  checkOutputs(view, report);
  checkArtifacts(view, report);
  checkTimeouts(view, report);
  checkSecrets(view, report);
  checkExpressions(view, report);
}

function reportMissing(
  report: Report,
  path: PropertyKey[],
  kind: string,
  name: string,
  declared: string[],
): void {
  if (declared.length === 0) report(path, `no ${kind} named "${name}"; none are declared`);
  else report(path, `no ${kind} named "${name}"`, { names: { name, among: () => declared } });
}

/**
 * Checks that the pipelines of a whole config name declared services and environments. Paths are from
 * the config's root.
 */
export function checkPipelineReferences(config: unknown, report: Report): void {
  const root = record(config);
  const services = Object.keys(record(root.services));
  const environments = Object.keys(record(root.environments));
  const serviceSet = new Set(services);
  const environmentSet = new Set(environments);
  for (const [pipelineName, pipeline] of Object.entries(record(root.pipelines))) {
    for (const [jobName, job] of Object.entries(record(record(pipeline).jobs))) {
      const jobPath = ["pipelines", pipelineName, "jobs", jobName];
      const { environment, steps } = record(job);
      if (typeof environment === "string" && !environmentSet.has(environment)) {
        reportMissing(report, [...jobPath, "environment"], "environment", environment, environments);
      }
      (Array.isArray(steps) ? steps : []).forEach((value: unknown, index) => {
        const step = record(value);
        if (!kindsOf(step).includes("deploy")) return;
        const { deploy, env } = step;
        const path = [...jobPath, "steps", index];
        if (typeof deploy === "string" && !serviceSet.has(deploy)) {
          reportMissing(report, [...path, "deploy"], "service", deploy, services);
        }
        if (typeof env === "string" && !environmentSet.has(env)) {
          reportMissing(report, [...path, "env"], "environment", env, environments);
        }
      });
    }
  }
}
