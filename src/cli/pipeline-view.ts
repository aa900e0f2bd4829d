/**
 * How the CLI shows pipelines, runs, jobs, steps and log lines: the shapes the pipeline API answers
 * with, and pure functions from those to text. Nothing here talks to the server, so `pipeline show`,
 * `pipeline run --wait` and `pipeline run --local` print a run the same way.
 */
import type { RunLogLine } from "../pipeline/index.js";
import type { JobState, RunState, StepState, WorkStatus } from "../pipeline/index.js";
import { FINAL_RUN_STATUSES, type PipelineRun, type PipelineRunStatus } from "../store/index.js";
import { shortTime, table, type Output } from "./output.js";
import { formatBytes, formatDuration, shortHash } from "./rollout-view.js";

/** A run as the API answers: the store's run with its `state` typed. */
export type RunView = Omit<PipelineRun, "state"> & { state: RunState };

/** A run in a list (GET /api/v1/pipeline-runs): without spec and state, with each job's status. */
export type RunSummary = Omit<PipelineRun, "spec" | "state"> & {
  jobs: { name: string; status: WorkStatus }[];
};

/** GET /api/v1/pipelines. `triggers` is the pipeline's `on:` block (push, schedule, manual). */
export interface PipelineSummary {
  name: string;
  triggers: unknown;
  jobs?: string[];
  nextScheduledAt?: string | null;
  lastRun: RunSummary | null;
}

export function isFinalRun(status: PipelineRunStatus): boolean {
  return FINAL_RUN_STATUSES.includes(status);
}

/** Lists come as a bare array or wrapped (`{ runs: [...] }`); accept both. */
export function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  const inner = (body as Record<string, unknown> | null)?.[key];
  return Array.isArray(inner) ? (inner as T[]) : [];
}

// ---- statuses ------------------------------------------------------------------------------------

export function colorRunStatus(output: Output, status: PipelineRunStatus | WorkStatus): string {
  const { c } = output;
  switch (status) {
    case "succeeded":
      return c.green(status);
    case "failed":
      return c.red(status);
    case "running":
      return c.cyan(status);
    case "waiting":
    case "interrupted":
      return c.yellow(status);
    case "queued":
    case "pending":
    case "skipped":
    case "cancelled":
      return c.dim(status);
    default: {
      const unknown: never = status;
      return String(unknown);
    }
  }
}

const SYMBOLS: Record<WorkStatus, string> = {
  pending: "○",
  running: "▶",
  waiting: "⏸",
  succeeded: "✓",
  failed: "✗",
  skipped: "–",
  cancelled: "⊘",
  interrupted: "!",
};

/** A job's or step's status at a glance: a coloured symbol on a terminal, the word otherwise. */
export function mark(output: Output, status: WorkStatus): string {
  if (!output.tty) return status.padEnd(11);
  const symbol = SYMBOLS[status];
  switch (status) {
    case "succeeded":
      return output.c.green(symbol);
    case "failed":
      return output.c.red(symbol);
    case "running":
      return output.c.cyan(symbol);
    case "waiting":
    case "interrupted":
      return output.c.yellow(symbol);
    case "pending":
    case "skipped":
    case "cancelled":
      return output.c.dim(symbol);
    default: {
      const unknown: never = status;
      return String(unknown);
    }
  }
}

// ---- small pieces --------------------------------------------------------------------------------

/** `release #3`. */
export function runName(run: Pick<RunView, "pipeline" | "number">): string {
  return `${run.pipeline} #${run.number}`;
}

/** Milliseconds between two ISO times (to `now` while unfinished); undefined before it started. */
export function elapsed(
  startedAt: string | null | undefined,
  finishedAt: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (startedAt === null || startedAt === undefined) return undefined;
  const end = finishedAt === null || finishedAt === undefined ? now : Date.parse(finishedAt);
  return Math.max(0, end - Date.parse(startedAt));
}

function durationText(startedAt: string | null | undefined, finishedAt: string | null | undefined): string {
  const ms = elapsed(startedAt, finishedAt);
  return ms === undefined ? "-" : formatDuration(ms);
}

/** `push by token:ci`, `rerun of run 4 by token:bob`. */
export function triggerText(run: Pick<RunSummary, "trigger">): string {
  const t = run.trigger;
  const rerun = t.rerunOf === undefined ? "" : ` of run ${t.rerunOf}`;
  return `${t.kind}${rerun} by ${t.actor}`;
}

/** `main @ 1a2b3c4d5e6f`, `v1.2.0 @ …`, or `-`. */
export function commitText(run: Pick<RunSummary, "trigger">): string {
  const t = run.trigger;
  const where = t.branch ?? t.tag ?? t.ref?.replace(/^refs\/(heads|tags)\//, "") ?? null;
  const sha = t.sha === null ? null : t.sha.slice(0, 12);
  if (where === null && sha === null) return "-";
  if (where === null) return sha ?? "-";
  return sha === null ? where : `${where} @ ${sha}`;
}

function failedJobs<J extends { status: WorkStatus }>(jobs: J[]): J[] {
  return jobs.filter((j) => j.status === "failed");
}

/** Everyone who approved, with the job: `bob (production)`. */
export function approvalsText(run: RunView): string | undefined {
  const given = run.state.jobs.flatMap((j) => (j.approvals ?? []).map((a) => `${a.by} (${j.name})`));
  return given.length === 0 ? undefined : given.join(", ");
}

// ---- lists ---------------------------------------------------------------------------------------

/** `pipeline list`: newest first, as the API lists them. */
export function renderRunTable(output: Output, runs: RunSummary[]): string {
  const rows = runs.map((r) => [
    String(r.id),
    `#${r.number}`,
    r.pipeline,
    colorRunStatus(output, r.status),
    `${r.trigger.kind} ${output.c.dim(r.trigger.actor)}`,
    commitText(r),
    shortTime(r.startedAt ?? r.createdAt),
    durationText(r.startedAt, r.finishedAt),
    failedJobs(r.jobs)
      .map((j) => j.name)
      .join(", ") || "-",
  ]);
  return table(
    output,
    ["ID", "RUN", "PIPELINE", "STATUS", "TRIGGER", "COMMIT", "STARTED", "DURATION", "FAILING"],
    rows,
  );
}

/** `push (branches main)`, `schedule (0 3 * * *)`, `manual (inputs target)`. */
export function triggersText(triggers: unknown): string {
  if (Array.isArray(triggers)) return triggers.map((t) => triggersText(t)).join(", ") || "-";
  if (typeof triggers === "string") return triggers;
  if (typeof triggers !== "object" || triggers === null) return "-";
  const on = triggers as Record<string, unknown>;
  if (typeof on.kind === "string") {
    const rest = Object.entries(on)
      .filter(([k]) => k !== "kind")
      .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(" ") : JSON.stringify(v)}`);
    return rest.length === 0 ? on.kind : `${on.kind} (${rest.join(", ")})`;
  }
  const parts: string[] = [];
  for (const [kind, value] of Object.entries(on)) {
    if (kind === "push" && typeof value === "object" && value !== null) {
      const filters = Object.entries(value as Record<string, unknown>).map(
        ([k, v]) => `${k} ${Array.isArray(v) ? v.join(" ") : String(v)}`,
      );
      parts.push(filters.length === 0 ? "push" : `push (${filters.join("; ")})`);
    } else if (kind === "schedule" && Array.isArray(value)) {
      const crons = value.map((s) => (s as { cron?: string }).cron ?? "?");
      parts.push(`schedule (${crons.join("; ")})`);
    } else if (kind === "manual") {
      const inputs = Object.keys((value as { inputs?: object } | null)?.inputs ?? {});
      parts.push(inputs.length === 0 ? "manual" : `manual (inputs ${inputs.join(", ")})`);
    } else {
      parts.push(kind);
    }
  }
  return parts.join(", ") || "-";
}

/** `pipeline list` before any run: what is declared and how it starts. */
export function renderPipelineTable(output: Output, pipelines: PipelineSummary[]): string {
  const rows = pipelines.map((p) => {
    const last = p.lastRun;
    const lastText = last === null ? "-" : `#${last.number} ${colorRunStatus(output, last.status)}`;
    const next =
      p.nextScheduledAt === undefined || p.nextScheduledAt === null ? "-" : shortTime(p.nextScheduledAt);
    return [p.name, triggersText(p.triggers), (p.jobs ?? []).join(", ") || "-", lastText, next];
  });
  return table(output, ["PIPELINE", "TRIGGERS", "JOBS", "LAST RUN", "NEXT SCHEDULED"], rows);
}

// ---- one run -------------------------------------------------------------------------------------

function indent(lines: string[], by: number): string[] {
  return lines.map((line) => " ".repeat(by) + line);
}

/** Coverage and test figures a gate step left in its details. */
export function gateText(step: StepState): string | undefined {
  if (step.kind !== "gate" || typeof step.details !== "object" || step.details === null) return undefined;
  const d = step.details as {
    coverage?: Record<string, { pct?: number } | undefined>;
    tests?: { tests?: number; failed?: number };
  };
  const parts: string[] = [];
  if (d.coverage !== undefined) {
    const metrics = Object.entries(d.coverage)
      .filter(([, v]) => typeof v?.pct === "number")
      .map(([k, v]) => `${k} ${(v?.pct ?? 0).toFixed(1)}%`);
    if (metrics.length > 0) parts.push(`coverage ${metrics.join(", ")}`);
  }
  if (d.tests !== undefined) parts.push(`tests ${d.tests.tests ?? 0}, ${d.tests.failed ?? 0} failed`);
  return parts.length === 0 ? undefined : parts.join("; ");
}

function stepLine(output: Output, step: StepState): string {
  const { c } = output;
  const attempt = step.attempt > 1 ? c.yellow(` attempt ${step.attempt}`) : "";
  const time =
    step.startedAt === undefined ? "" : c.dim(`  ${durationText(step.startedAt, step.finishedAt)}`);
  const summary = step.summary === undefined ? "" : `  ${c.dim(step.summary)}`;
  const allowed =
    step.continueOnError === true && step.status === "failed" ? c.dim(" (allowed to fail)") : "";
  return `${mark(output, step.status)} ${step.index + 1}. ${step.name}${summary}${allowed}${time}${attempt}`;
}

function jobLines(output: Output, run: RunView, job: JobState, width: number): string[] {
  const { c } = output;
  const status = colorRunStatus(output, job.status);
  const took = job.startedAt === undefined ? "" : `  ${durationText(job.startedAt, job.finishedAt)}`;
  const attempt = job.attempt > 1 ? c.yellow(`  attempt ${job.attempt}`) : "";
  const carried = job.carriedFrom === undefined ? "" : c.dim(`  (kept from run ${job.carriedFrom})`);
  const sym = output.tty ? `${mark(output, job.status)} ` : "";
  const lines = [`${sym}${c.bold(job.name.padEnd(width))}  ${status}${took}${attempt}${carried}`];
  const body = job.steps.map((s) => stepLine(output, s));
  if (job.reason !== undefined && job.status !== "succeeded") body.push(c.dim(`reason: ${job.reason}`));
  else if (job.reason !== undefined) body.push(c.dim(job.reason));
  if (job.waiting !== undefined) {
    const w = job.waiting;
    const who = w.approvers === null ? "" : ` from ${w.approvers.join(", ")}`;
    const until = w.until === null ? "" : `, until ${shortTime(w.until)}`;
    body.push(
      c.yellow(
        `waiting for ${w.count} approval${w.count === 1 ? "" : "s"}${who} (${job.approvals?.length ?? 0} given${until}): ` +
          `slipway pipeline approve ${run.id} --job ${job.name}`,
      ),
    );
  }
  if (job.status === "failed" && job.tail !== undefined && job.tail.length > 0) {
    body.push(c.dim("last lines of the failing step:"));
    body.push(...job.tail.map((t) => `${c.dim("│")} ${t}`));
  }
  return [...lines, ...indent(body, 4)];
}

/**
 * `pipeline show`: the header (run, status, trigger, commit, approvals, duration), then every job in
 * order with its steps; a failed job's reason and the failing step's last lines; gate figures,
 * outputs and artifacts.
 */
export function renderRun(output: Output, run: RunView): string {
  const { c } = output;
  const label = (text: string): string => c.bold(text.padEnd(10));
  const lines = [
    `${c.bold(runName(run))}  ${colorRunStatus(output, run.status)}  ${c.dim(`(run ${run.id})`)}`,
    `${label("Trigger")} ${triggerText(run)}`,
    `${label("Commit")} ${commitText(run)}`,
  ];
  const inputs = Object.entries(run.trigger.inputs);
  if (inputs.length > 0)
    lines.push(`${label("Inputs")} ${inputs.map(([k, v]) => `${k}=${String(v)}`).join(" ")}`);
  const approved = approvalsText(run);
  if (approved !== undefined) lines.push(`${label("Approved")} ${approved}`);
  const finished = run.finishedAt === null ? "" : `, took ${durationText(run.startedAt, run.finishedAt)}`;
  const started =
    run.startedAt === null ? `created ${shortTime(run.createdAt)}` : `started ${shortTime(run.startedAt)}`;
  lines.push(`${label("Time")} ${started}${finished}`);
  if (run.state.error !== undefined) lines.push(`${label("Error")} ${c.red(run.state.error)}`);

  const width = Math.max(0, ...run.state.jobs.map((j) => j.name.length));
  lines.push("", c.bold("Jobs"));
  for (const job of run.state.jobs) lines.push(...indent(jobLines(output, run, job, width), 2));

  const gates = run.state.jobs.flatMap((j) =>
    j.steps.flatMap((s) => {
      const text = gateText(s);
      return text === undefined
        ? []
        : [`${j.name} › ${s.index + 1}. ${text}  ${colorRunStatus(output, s.status)}`];
    }),
  );
  if (gates.length > 0) lines.push("", c.bold("Gates"), ...indent(gates, 2));

  const outputs = run.state.jobs.flatMap((j) => [
    ...Object.entries(j.outputs).map(([k, v]) => `${j.name}.${k} = ${v}`),
    ...(j.skippedOutputs ?? []).map((k) =>
      c.yellow(`${j.name}.${k} skipped: it may contain a secret (the run's log says which step)`),
    ),
  ]);
  if (outputs.length > 0) lines.push("", c.bold("Outputs"), ...indent(outputs, 2));

  const artifacts = run.state.jobs.flatMap((j) =>
    j.artifacts.map(
      (a) =>
        `${a.name}  ${a.paths.join(" ")}  ${a.files} files, ${formatBytes(a.bytes)}  ${c.dim(shortHash(a.hash))}` +
        (a.name === j.name ? "" : c.dim(`  (job ${j.name})`)),
    ),
  );
  if (artifacts.length > 0) lines.push("", c.bold("Artifacts"), ...indent(artifacts, 2));
  return lines.join("\n");
}

/** The last line of a followed run: what became of it, and what failed. */
export function outcomeLine(output: Output, run: RunView): string {
  const { c } = output;
  const took = run.startedAt === null ? "" : ` in ${durationText(run.startedAt, run.finishedAt)}`;
  if (run.status === "succeeded") return c.green(`✓ ${runName(run)} passed${took}`);
  const failed = failedJobs(run.state.jobs).map((j) => j.name);
  const jobs = failed.length === 0 ? "" : `: ${failed.join(", ")} failed`;
  const error = run.state.error === undefined ? "" : `: ${run.state.error}`;
  return c.red(`✗ ${runName(run)} ${run.status}${took}${jobs}${error}`);
}

// ---- log lines -----------------------------------------------------------------------------------

/** Names of steps by (job, 0-based index), and the width their prefix takes, for aligned log lines. */
export class StepNames {
  readonly #names = new Map<string, string>();
  #width = 0;

  constructor(run?: Pick<RunView, "state">) {
    for (const job of run?.state.jobs ?? []) {
      for (const step of job.steps) {
        const name = `${job.name} › ${shortName(step.name)}`;
        this.#names.set(`${job.name}\u0000${step.index}`, name);
        this.#width = Math.max(this.#width, name.length);
      }
    }
  }

  prefix(job: string, step: number): string {
    const name = this.#names.get(`${job}\u0000${step}`) ?? `${job} › step ${step + 1}`;
    return name.padEnd(this.#width);
  }
}

function shortName(name: string): string {
  return name.length > 24 ? `${name.slice(0, 23)}…` : name;
}

/**
 * `12:00:01.123 build › npm run build  text`; a stderr line is marked `!`, Slipway's own lines `»`
 * (time of day in UTC, as stored).
 */
export function logLineText(output: Output, names: StepNames, line: RunLogLine): string {
  const { c } = output;
  const time = c.dim(line.at.slice(11, 23));
  const prefix = c.cyan(names.prefix(line.job, line.step));
  switch (line.stream) {
    case "out":
      return `${time} ${prefix}  ${line.text}`;
    case "err":
      return `${time} ${prefix} ${c.red("!")} ${c.red(line.text)}`;
    case "system":
      return `${time} ${prefix} ${c.yellow("»")} ${c.dim(line.text)}`;
    default: {
      const unknown: never = line.stream;
      return String(unknown);
    }
  }
}
