/**
 * From a run's state to the context `if:` conditions and `${{ … }}` templates are evaluated in
 * (the language itself is src/config/expression.ts, shared with validation).
 *
 * Conditions follow GitHub Actions: an `if` that does not call success(), failure(), always() or
 * cancelled() means `success() && (…)`. For a job, success means every job it needs succeeded; for a
 * step, that no earlier step of the job failed.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import {
  evaluate,
  interpolate,
  isTruthy,
  parseCondition,
  readsStatus,
  type ExpressionContext as LanguageContext,
  type JobOutcome,
  type JobResult,
} from "../config/index.js";
import type { PipelineTrigger } from "../store/index.js";
import { matchesGlob } from "./webhooks/glob.js";
import type { JobState, WorkStatus } from "./types.js";

export interface ExpressionContext {
  trigger: PipelineTrigger;
  env: Record<string, string>;
  jobs: readonly JobState[];
  /** The job being decided or run; null at run level (the concurrency group). */
  job: JobState | null;
  run: { id: number; number: number };
  /** For step conditions: how the job has gone so far. */
  stepStatus?: "success" | "failure" | "cancelled";
  /** For hashFiles(). */
  workspace?: string;
}

function resultOf(status: WorkStatus): JobResult {
  switch (status) {
    case "succeeded":
      return "success";
    case "failed":
      return "failure";
    case "skipped":
      return "skipped";
    default:
      return "cancelled";
  }
}

function toLanguage(ctx: ExpressionContext, scope: "job" | "step" | "run"): LanguageContext {
  const needs: Record<string, JobOutcome> = {};
  for (const name of ctx.job?.needs ?? []) {
    const job = ctx.jobs.find((j) => j.name === name);
    if (job !== undefined) needs[name] = { result: resultOf(job.status), outputs: job.outputs };
  }
  const results = Object.values(needs).map((n) => n.result);
  const status =
    scope === "step"
      ? (ctx.stepStatus ?? "success")
      : results.includes("cancelled")
        ? "cancelled"
        : results.every((r) => r === "success")
          ? "success"
          : "failure";
  const t = ctx.trigger;
  return {
    branch: t.branch,
    tag: t.tag,
    ref: t.ref,
    event: t.kind,
    sha: t.sha,
    run: { number: ctx.run.number },
    inputs: t.inputs,
    env: ctx.env,
    needs,
    status,
    ...(ctx.workspace === undefined
      ? {}
      : { hashFiles: (patterns) => hashFiles(ctx.workspace ?? ".", patterns) }),
  };
}

/** Whether a job or step runs. */
export function evaluateCondition(
  text: string | undefined,
  ctx: ExpressionContext,
  scope: "job" | "step",
): boolean {
  const language = toLanguage(ctx, scope);
  if (text === undefined) return language.status === "success";
  const expression = parseCondition(text);
  const value = isTruthy(evaluate(expression, language));
  return readsStatus(expression) ? value : language.status === "success" && value;
}

export function interpolateText(text: string, ctx: ExpressionContext): string {
  if (!text.includes("${{")) return text;
  return interpolate(text, toLanguage(ctx, ctx.job === null ? "run" : "step"));
}

/** SHA-256 over the matching files' paths and contents, in path order; empty when nothing matches. */
export function hashFiles(workspace: string, patterns: readonly string[]): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name === ".git" || name === "node_modules") continue;
      const full = join(dir, name);
      const rel = relative(workspace, full).split(sep).join("/");
      const info = statSync(full, { throwIfNoEntry: false });
      if (info?.isDirectory() === true) walk(full);
      else if (info?.isFile() === true && patterns.some((p) => matchesGlob(p, rel))) files.push(rel);
    }
  };
  walk(workspace);
  if (files.length === 0) return "";
  const hash = createHash("sha256");
  for (const rel of files) hash.update(`${rel}\0`).update(readFileSync(join(workspace, rel)));
  return hash.digest("hex");
}
