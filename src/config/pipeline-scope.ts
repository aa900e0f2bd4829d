/**
 * What each expression in a pipeline may read. Parsing already proved every name has a known form
 * (expression.ts); this checks it names something that exists where the expression is evaluated:
 *
 *   needs.JOB      only inside a job, and only jobs listed in its `needs` (their results are final)
 *   outputs        only keys the needed job declares in `outputs`
 *   inputs.NAME    only inputs declared under on.manual.inputs
 *   env.NAME       only variables declared further out (pipeline, then job, then a run step's own);
 *                  never a secret, which would put it in a command line unmasked
 *   success() …    only in `if`, the one place the run's status means something
 *   hashFiles()    only in steps, which run in a workspace
 */
import {
  parseCondition,
  parseTemplate,
  visitExpression,
  STATUS_FUNCTIONS,
  type Expression,
} from "./expression.js";
import type { NameHint } from "./names.js";
import type { Report } from "./pipeline-checks.js";
import { record, type JobView, type PipelineView } from "./pipeline-view.js";

/**
 * Variables visible at one level (pipeline, job, step), over those further out. Lookups go through the
 * levels, so a step's scope costs its own variables only, however many the pipeline declares.
 */
class Variables {
  private readonly own: ReadonlySet<string>;

  constructor(
    names: readonly string[],
    private readonly outer?: Variables,
  ) {
    this.own = new Set(names);
  }

  has(name: string): boolean {
    return this.own.has(name) || (this.outer?.has(name) ?? false);
  }

  all(): string[] {
    return [...(this.outer?.all() ?? []), ...this.own];
  }
}

const NONE = new Variables([]);

interface Problem {
  message: string;
  names?: NameHint;
}

interface Scope {
  /** Variables visible to the expression. */
  env: Variables;
  /** The job the expression belongs to; undefined at the pipeline level. */
  job?: JobView;
  /** Whether success(), failure(), always() and cancelled() may be used (in `if`). */
  status: boolean;
  hashFiles: boolean;
}

/** The expressions in a written value; nothing when it does not parse (its own issue says so). */
function expressionsIn(value: unknown, asCondition: boolean): Expression[] {
  if (typeof value !== "string") return [];
  try {
    if (asCondition) return [parseCondition(value)];
    return parseTemplate(value).flatMap((part) => (part.type === "expression" ? [part.expression] : []));
  } catch {
    return [];
  }
}

function needsProblem(path: readonly string[], scope: Scope, pipeline: PipelineView): Problem | undefined {
  const [, jobName = "", field, output = ""] = path;
  const written = `needs.${jobName}`;
  const job = scope.job;
  if (job === undefined) return { message: `${written}: needs can only be read inside a job` };
  if (jobName === job.name) return { message: `${written}: a job cannot read its own result` };
  const needed = pipeline.jobs.get(jobName);
  if (needed === undefined) {
    const names = { name: jobName, among: () => [...pipeline.jobs.keys()] };
    return { message: `${written}: no job named "${jobName}"`, names };
  }
  if (!job.needs.some(({ name }) => name === jobName)) {
    return { message: `${written} is not available: job ${job.name} does not list ${jobName} in needs` };
  }
  if (field !== "outputs" || needed.outputSet.has(output)) return undefined;
  if (needed.outputs.length === 0) {
    return {
      message: `${written}.outputs.${output}: job ${jobName} declares no outputs; list ${output} in its outputs`,
    };
  }
  const names = { name: output, among: () => needed.outputs };
  return { message: `${written}.outputs.${output}: job ${jobName} has no output ${output}`, names };
}

function referenceProblem(
  path: readonly string[],
  scope: Scope,
  pipeline: PipelineView,
): Problem | undefined {
  const [root, name = ""] = path;
  switch (root) {
    case "needs":
      return needsProblem(path, scope, pipeline);
    case "inputs":
      if (pipeline.inputSet.has(name)) return undefined;
      if (pipeline.inputs.length === 0)
        return { message: `inputs.${name}: the pipeline declares no inputs (on.manual.inputs)` };
      return {
        message: `inputs.${name}: no input named ${name}`,
        names: { name, among: () => pipeline.inputs },
      };
    case "env":
      if (pipeline.secrets.has(name)) {
        return {
          message: `env.${name} is a secret, and secrets are kept out of expressions; read $${name} in the command`,
        };
      }
      if (scope.env.has(name)) return undefined;
      return {
        message: `env.${name}: no variable ${name} is declared in env here`,
        names: { name, among: () => scope.env.all() },
      };
    default:
      return undefined;
  }
}

function problemsOf(expression: Expression, scope: Scope, pipeline: PipelineView): Problem[] {
  const problems = new Map<string, Problem>();
  visitExpression(expression, (node) => {
    let problem: Problem | undefined;
    if (node.type === "reference") problem = referenceProblem(node.path, scope, pipeline);
    else if (node.type === "call" && STATUS_FUNCTIONS.includes(node.name) && !scope.status) {
      problem = { message: `${node.name}() can only be used in if` };
    } else if (node.type === "call" && node.name === "hashFiles" && !scope.hashFiles) {
      problem = { message: "hashFiles() can only be used in steps" };
    }
    if (problem !== undefined && !problems.has(problem.message)) problems.set(problem.message, problem);
  });
  return [...problems.values()];
}

function check(
  value: unknown,
  path: readonly PropertyKey[],
  scope: Scope,
  pipeline: PipelineView,
  report: Report,
  asCondition = false,
): void {
  for (const expression of expressionsIn(value, asCondition)) {
    for (const { message, names } of problemsOf(expression, scope, pipeline)) {
      report(path, message, names && { names });
    }
  }
}

function checkEnvValues(
  values: unknown,
  path: readonly PropertyKey[],
  scope: Scope,
  pipeline: PipelineView,
  report: Report,
): void {
  for (const [name, value] of Object.entries(record(values)))
    check(value, [...path, name], scope, pipeline, report);
}

function checkJob(job: JobView, outer: Variables, pipeline: PipelineView, report: Report): void {
  const jobEnv = new Variables(job.env, outer);
  const at = ["jobs", job.name];
  const inJob = { job, hashFiles: false };
  check(job.raw.if, [...at, "if"], { ...inJob, env: jobEnv, status: true }, pipeline, report, true);
  checkEnvValues(job.raw.env, [...at, "env"], { ...inJob, env: outer, status: false }, pipeline, report);
  for (const step of job.steps) {
    const stepAt = [...at, "steps", step.index];
    const inStep = { job, env: jobEnv, status: false, hashFiles: true };
    const withOwnEnv = { ...inStep, env: new Variables(step.env, jobEnv) };
    check(step.raw.if, [...stepAt, "if"], { ...withOwnEnv, status: true }, pipeline, report, true);
    if (step.kinds.includes("run"))
      checkEnvValues(step.raw.env, [...stepAt, "env"], inStep, pipeline, report);
    check(step.raw.run, [...stepAt, "run"], withOwnEnv, pipeline, report);
    check(step.raw.version, [...stepAt, "version"], inStep, pipeline, report);
    check(record(step.raw.cache).key, [...stepAt, "cache", "key"], inStep, pipeline, report);
  }
}

/** Reports every expression in the pipeline that reads something not available where it is evaluated. */
export function checkExpressions(pipeline: PipelineView, report: Report): void {
  const top: Scope = { env: NONE, status: false, hashFiles: false };
  const pipelineEnv = new Variables(pipeline.env);
  checkEnvValues(pipeline.raw.env, ["env"], top, pipeline, report);
  const group = record(pipeline.raw.concurrency).group;
  check(group, ["concurrency", "group"], { ...top, env: pipelineEnv }, pipeline, report);
  for (const job of pipeline.jobs.values()) checkJob(job, pipelineEnv, pipeline, report);
}
