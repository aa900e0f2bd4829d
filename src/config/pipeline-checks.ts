/**
 * Checks across the jobs of one pipeline — the `needs` graph, artifact names, timeouts, secrets — and
 * against the rest of the config: the services and environments that deploy steps and jobs name.
 *
 * They run even when some fields have issues of their own, so one pass reports everything; they
 * therefore read their input defensively, through {@link viewPipeline}.
 */
import { checkExpressions } from "./pipeline-scope.js";
import { namesHint, record, viewPipeline, type JobView, type PipelineView } from "./pipeline-view.js";
import { kindsOf } from "./schema-pipeline-step.js";
import { formatDuration } from "./units.js";

/** Reports an issue at `path` (relative to the schema being checked); `at: "key"` underlines the key. */
export type Report = (path: readonly PropertyKey[], message: string, at?: "key") => void;

function checkNeeds(pipeline: PipelineView, report: Report): void {
  for (const job of pipeline.jobs.values()) {
    const seen = new Set<string>();
    for (const { name, index } of job.needs) {
      const path = ["jobs", job.name, "needs", index];
      if (seen.has(name)) report(path, `${name} is listed twice in needs`);
      seen.add(name);
      if (pipeline.jobs.has(name)) continue;
      report(path, `no job named "${name}" in this pipeline${namesHint(name, [...pipeline.jobs.keys()])}`);
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
  const visit = (name: string): void => {
    index.set(name, index.size);
    low.set(name, index.get(name) ?? 0);
    stack.push(name);
    for (const { name: need } of pipeline.jobs.get(name)?.needs ?? []) {
      if (!pipeline.jobs.has(need)) continue;
      if (!index.has(need)) {
        visit(need);
        low.set(name, Math.min(low.get(name) ?? 0, low.get(need) ?? 0));
      } else if (stack.includes(need)) {
        low.set(name, Math.min(low.get(name) ?? 0, index.get(need) ?? 0));
      }
    }
    if (low.get(name) !== index.get(name)) return;
    const group = new Set<string>();
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      group.add(member);
      if (member === name) break;
    }
    groups.push(group);
  };
  for (const name of pipeline.jobs.keys()) if (!index.has(name)) visit(name);
  return groups;
}

/** Reports each cycle once, named from its first-declared job: "test → build → test". */
function checkCycles(pipeline: PipelineView, report: Report): void {
  for (const group of stronglyConnected(pipeline)) {
    const start = [...pipeline.jobs.values()].find((job) => group.has(job.name));
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
    job.outputs.forEach((output, index) => {
      if (job.outputs.indexOf(output) !== index) {
        report(["jobs", job.name, "outputs", index], `output ${output} is listed twice`);
      }
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
        report(
          path,
          `no artifact named "${name}" is saved in this pipeline${namesHint(name, [...producers.keys()])}`,
        );
      } else if (producer.job === job.name) {
        if (producer.step === undefined || producer.step > index) {
          report(path, `artifact "${name}" is saved by ${describeProducer(producer)}, after this step runs`);
        }
      } else if (!job.ancestors.has(producer.job)) {
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
  pipeline.secrets.forEach((name, index) => {
    if (pipeline.env.includes(name))
      report(["secrets", index], `${name} is both a secret and in env; keep one`);
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
  checkNeeds(view, report);
  checkCycles(view, report);
  checkOutputs(view, report);
  checkArtifacts(view, report);
  checkTimeouts(view, report);
  checkSecrets(view, report);
  checkExpressions(view, report);
}

function missing(kind: string, name: string, declared: readonly string[]): string {
  if (declared.length === 0) return `no ${kind} named "${name}"; none are declared`;
  return `no ${kind} named "${name}"${namesHint(name, declared)}`;
}

/**
 * Checks that the pipelines of a whole config name declared services and environments. Paths are from
 * the config's root.
 */
export function checkPipelineReferences(config: unknown, report: Report): void {
  const root = record(config);
  const services = Object.keys(record(root.services));
  const environments = Object.keys(record(root.environments));
  for (const [pipelineName, pipeline] of Object.entries(record(root.pipelines))) {
    for (const [jobName, job] of Object.entries(record(record(pipeline).jobs))) {
      const jobPath = ["pipelines", pipelineName, "jobs", jobName];
      const { environment, steps } = record(job);
      if (typeof environment === "string" && !environments.includes(environment)) {
        report([...jobPath, "environment"], missing("environment", environment, environments));
      }
      (Array.isArray(steps) ? steps : []).forEach((value: unknown, index) => {
        const step = record(value);
        if (!kindsOf(step).includes("deploy")) return;
        const { deploy, env } = step;
        const path = [...jobPath, "steps", index];
        if (typeof deploy === "string" && !services.includes(deploy)) {
          report([...path, "deploy"], missing("service", deploy, services));
        }
        if (typeof env === "string" && !environments.includes(env)) {
          report([...path, "env"], missing("environment", env, environments));
        }
      });
    }
  }
}
