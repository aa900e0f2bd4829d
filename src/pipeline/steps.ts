/**
 * The six step kinds. Each returns an outcome for the job runner; none throws for a failure a person
 * caused (a failing command, a coverage below the minimum): those are failed outcomes with a summary.
 */
import { mkdir, readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { parseDuration } from "../config/index.js";
import type { JsonValue } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { artifactPath, restoreCache, saveArtifact } from "./artifacts.js";
import { runStepProcess } from "./exec/step-process.js";
import { interpolateText } from "./expressions.js";
import {
  checkCoverage,
  detectCoverageFormat,
  parseCoverage,
  parseJUnit,
  summarizeJUnit,
  type CoverageSummary,
} from "./gates/index.js";
import type { StepRuntime } from "./job-runner.js";
import type {
  ApprovalStepSpec,
  ArtifactStepSpec,
  CacheStepSpec,
  DeployStepSpec,
  GateStepSpec,
  RunStepSpec,
} from "./spec.js";
import { matchesGlob } from "./webhooks/glob.js";

export interface StepOutcome {
  status: "succeeded" | "failed" | "stopped";
  summary: string;
  exitCode?: number | null;
  details?: JsonValue;
}

/** What a deploy step needs from the control plane. */
export interface Deployer {
  deploy(input: {
    service: string;
    env: string;
    version: string;
    artifact: string;
    commit: string | null;
    actor: string;
  }): Promise<{ rolloutId: number; release: string }>;
  /** Until the rollout is final or watching; progress lines go to the step's log. */
  wait(
    rolloutId: number,
    signal: AbortSignal,
    progress: (line: string) => void,
  ): Promise<{ status: string; reason: string | null }>;
  abort(service: string, env: string, actor: string): Promise<void>;
  /** The service's `build.artifact` path (relative to the repository root), if it declares one. */
  buildArtifact(service: string): Promise<string | undefined>;
  /** The environment's router, for `$SLIPWAY_ENV_URL`. */
  envUrl(env: string): Promise<string | undefined>;
}

export async function runStep(rt: StepRuntime): Promise<StepOutcome> {
  const s = rt.stepSpec;
  if ("run" in s) return runCommand(rt, s);
  if ("gate" in s) return runGate(rt, s);
  if ("deploy" in s) return runDeploy(rt, s);
  if ("approval" in s) return runApproval(rt, s);
  if ("artifact" in s) return runArtifact(rt, s);
  return runCache(rt, s);
}

function ctx(rt: StepRuntime) {
  return { ...rt.context(rt.job), workspace: rt.workspace };
}

function stepEnv(rt: StepRuntime, extra: Record<string, string> | undefined): Record<string, string> {
  const c = ctx(rt);
  const interpolated = (env: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, interpolateText(v, c)]));
  const t = rt.run.trigger;
  return {
    ...rt.baseEnv,
    CI: "true",
    ...interpolated(rt.spec.env),
    ...interpolated(rt.jobSpec.env),
    ...rt.jobEnv,
    ...interpolated(extra),
    ...rt.secrets,
    SLIPWAY: "true",
    SLIPWAY_PIPELINE: rt.run.pipeline,
    SLIPWAY_RUN_ID: String(rt.run.id),
    SLIPWAY_RUN_NUMBER: String(rt.run.number),
    SLIPWAY_JOB: rt.job.name,
    SLIPWAY_EVENT: t.kind,
    SLIPWAY_SHA: t.sha ?? "",
    SLIPWAY_REF: t.ref ?? "",
    SLIPWAY_BRANCH: t.branch ?? "",
    SLIPWAY_WORKSPACE: rt.workspace,
    SLIPWAY_OUTPUT: rt.outputFile,
  };
}

function inWorkspace(rt: StepRuntime, path: string): string {
  const full = resolve(rt.workspace, path);
  const rel = relative(rt.workspace, full);
  if (rel.startsWith("..")) throw new SlipwayError("invalid_request", `${path} is outside the workspace`);
  return full;
}

async function runCommand(rt: StepRuntime, s: RunStepSpec): Promise<StepOutcome> {
  const command = interpolateText(s.run, ctx(rt));
  const cwd = s.workingDirectory === undefined ? rt.workspace : inWorkspace(rt, s.workingDirectory);
  await mkdir(dirname(rt.outputFile), { recursive: true, mode: 0o700 });
  const result = await runStepProcess({
    command,
    shell: s.shell ?? "sh",
    cwd,
    env: stepEnv(rt, s.env),
    timeoutMs: 24 * 3600_000,
    signal: rt.stepSignal,
    onLine: (line) => {
      rt.log.line(line);
    },
    onStart: (pgid) => {
      rt.step.pgid = pgid;
      void rt.save();
    },
    now: rt.now,
  });
  if (result.spawnError !== undefined)
    return { status: "failed", summary: `could not start: ${result.spawnError}` };
  if (result.cancelled || result.timedOut)
    return { status: "stopped", summary: "stopped", exitCode: result.exitCode };
  if (result.exitCode === 0) return { status: "succeeded", summary: "exit 0", exitCode: 0 };
  if (result.exitCode === 127) {
    return { status: "failed", summary: "command not found (exit 127)", exitCode: 127 };
  }
  const how = result.signal !== null ? `killed by ${result.signal}` : `exit ${String(result.exitCode)}`;
  return { status: "failed", summary: how, exitCode: result.exitCode };
}

async function glob(root: string, pattern: string): Promise<string[]> {
  if (!/[*?[]/.test(pattern)) return [pattern];
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.name === ".git" || entry.name === "node_modules") continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (matchesGlob(pattern, relative(root, full).split(sep).join("/")))
        out.push(relative(root, full));
    }
  };
  await walk(root);
  return out.sort();
}

async function runGate(rt: StepRuntime, s: GateStepSpec): Promise<StepOutcome> {
  const details: Record<string, JsonValue> = {};
  const failures: string[] = [];
  const notes: string[] = [];
  if (s.gate.coverage !== undefined) {
    const c = s.gate.coverage;
    const path = inWorkspace(rt, c.file);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch {
      return { status: "failed", summary: `coverage report ${c.file} not found` };
    }
    const summary = parseCoverage(text, c.format ?? detectCoverageFormat(c.file, text), { file: c.file });
    const verdict = checkCoverage(summary, c.min);
    details.coverage = coverageJson(summary);
    rt.log.system(verdict.message);
    (verdict.passed ? notes : failures).push(verdict.message);
  }
  if (s.gate.junit !== undefined) {
    const files = await glob(rt.workspace, s.gate.junit);
    if (files.length === 0) return { status: "failed", summary: `no JUnit report matches ${s.gate.junit}` };
    let tests = 0;
    let failed = 0;
    const all = [];
    for (const file of files) {
      const result = parseJUnit(await readFile(inWorkspace(rt, file), "utf8"), { file });
      all.push(result);
      tests += result.tests;
      failed += result.failures + result.errors;
      rt.log.system(`${file}: ${summarizeJUnit(result)}`);
    }
    details.tests = {
      files: files.length,
      tests,
      failed,
      reports: all.map((r) => ({ ...r, failed: r.failed.map((f) => ({ ...f })) })),
    };
    const line = `${tests} tests, ${failed} failed`;
    (failed === 0 ? notes : failures).push(line);
  }
  if (failures.length > 0) return { status: "failed", summary: failures.join("; "), details };
  return { status: "succeeded", summary: notes.join("; "), details };
}

async function runDeploy(rt: StepRuntime, s: DeployStepSpec): Promise<StepOutcome> {
  if (rt.deployer === undefined) {
    return {
      status: "failed",
      summary: "deploy steps need a Slipway server with its node agent (not available here)",
    };
  }
  const c = ctx(rt);
  const version = interpolateText(s.version ?? `${rt.run.pipeline}-${rt.run.number}`, c);
  const artifact = await deployArtifact(rt, s);
  rt.log.system(`deploying ${s.deploy} ${version} to ${s.env} from ${artifact}`);
  const started = await rt.deployer.deploy({
    service: s.deploy,
    env: s.env,
    version,
    artifact,
    commit: rt.run.trigger.sha,
    actor: `pipeline:${rt.run.pipeline}#${rt.run.number}`,
  });
  rt.log.system(`rollout ${started.rolloutId} started`);
  const onAbort = () => {
    void rt.deployer
      ?.abort(s.deploy, s.env, `pipeline:${rt.run.pipeline}#${rt.run.number}`)
      .catch(() => undefined);
  };
  rt.stepSignal.addEventListener("abort", onAbort, { once: true });
  let end: { status: string; reason: string | null };
  try {
    end = await rt.deployer.wait(started.rolloutId, rt.stepSignal, (line) => {
      rt.log.system(line);
    });
  } finally {
    rt.stepSignal.removeEventListener("abort", onAbort);
  }
  const url = await rt.deployer.envUrl(s.env);
  if (url !== undefined) rt.jobEnv.SLIPWAY_ENV_URL = url;
  const details = { rollout: started.rolloutId, release: version, status: end.status, env: s.env };
  if (rt.stepSignal.aborted)
    return { status: "stopped", summary: `rollout ${started.rolloutId} aborted`, details };
  if (end.status === "succeeded" || end.status === "watching") {
    return {
      status: "succeeded",
      summary: `deployed ${s.deploy} ${version} to ${s.env}: rollout ${started.rolloutId} ${end.status}`,
      details,
    };
  }
  return {
    status: "failed",
    summary: `rollout ${started.rolloutId} of ${s.deploy} ${version} to ${s.env} ${end.status}: ${end.reason ?? ""}`,
    details,
  };
}

/** A named artifact of this run, else the service's build output in the workspace. */
async function deployArtifact(rt: StepRuntime, s: DeployStepSpec): Promise<string> {
  if (s.artifact !== undefined) {
    const ref = [...rt.job.artifacts, ...rt.context(rt.job).jobs.flatMap((j) => j.artifacts)].find(
      (a) => a.name === s.artifact,
    );
    if (ref === undefined)
      throw new SlipwayError("not_found", `no artifact ${s.artifact} saved earlier in this run`);
    const first = ref.paths[0];
    return ref.paths.length === 1 && first !== undefined ? artifactPath(ref, first) : ref.dir;
  }
  const path = await rt.deployer?.buildArtifact(s.deploy);
  if (path === undefined) {
    throw new SlipwayError(
      "invalid_request",
      `service ${s.deploy} has no build.artifact; name a saved artifact with artifact: NAME`,
    );
  }
  const saved = await saveArtifact(rt.dataDir, rt.workspace, `deploy-${s.deploy}`, [path]);
  return artifactPath(saved, path);
}

async function runApproval(rt: StepRuntime, s: ApprovalStepSpec): Promise<StepOutcome> {
  const now = rt.now();
  const timeoutMs = s.approval.timeout === undefined ? null : parseDuration(s.approval.timeout);
  const count =
    s.approval.count ??
    (rt.protection !== undefined && rt.protection.approvals > 0 ? rt.protection.approvals : 1);
  const approvers = s.approval.approvers ?? rt.protection?.approvers ?? null;
  rt.job.approvals = [];
  rt.job.waiting = {
    step: rt.step.index,
    since: new Date(now).toISOString(),
    until: timeoutMs === null ? null : new Date(now + timeoutMs).toISOString(),
    count,
    approvers,
    allowSelfApproval: s.approval.allowSelfApproval ?? false,
  };
  rt.job.status = "waiting";
  rt.step.status = "waiting";
  rt.log.system(
    `waiting for ${count} approval${count === 1 ? "" : "s"}` +
      (approvers === null ? "" : ` from ${approvers.join(", ")}`) +
      `: slipway pipeline approve ${rt.run.id}`,
  );
  await rt.save([rt.event("pipeline.approval.requested", { job: rt.job.name, count })]);
  try {
    await rt.waitForApproval(rt.stepSignal);
  } catch (err) {
    rt.job.status = "running";
    delete rt.job.waiting;
    if (rt.stepSignal.aborted) return { status: "stopped", summary: "stopped while waiting for approval" };
    return { status: "failed", summary: err instanceof Error ? err.message : String(err) };
  }
  rt.job.status = "running";
  delete rt.job.waiting;
  const by = (rt.job.approvals ?? []).map((a) => a.by);
  return {
    status: "succeeded",
    summary: `approved by ${by.join(", ")}`,
    details: { approvals: (rt.job.approvals ?? []).map((a) => ({ ...a })) },
  };
}

async function runArtifact(rt: StepRuntime, s: ArtifactStepSpec): Promise<StepOutcome> {
  const ref = await saveArtifact(rt.dataDir, rt.workspace, s.artifact.name, s.artifact.paths);
  rt.job.artifacts = [...rt.job.artifacts.filter((a) => a.name !== ref.name), ref];
  return {
    status: "succeeded",
    summary: `saved ${ref.name}: ${ref.files} files, ${ref.bytes} bytes (${ref.hash.slice(0, 19)}…)`,
    details: { ...ref },
  };
}

async function runCache(rt: StepRuntime, s: CacheStepSpec): Promise<StepOutcome> {
  const key = interpolateText(s.cache.key, ctx(rt));
  const hit = await restoreCache(rt.dataDir, key, rt.workspace);
  if (!hit) rt.pendingCaches.push({ key, paths: s.cache.paths });
  return {
    status: "succeeded",
    summary: hit ? `cache hit: ${key}` : `cache miss: ${key} (saved when the job succeeds)`,
    details: { key, hit },
  };
}

/** A coverage summary as step details (its absent metrics left out, not written as undefined). */
function coverageJson(summary: CoverageSummary): JsonValue {
  const out: Record<string, JsonValue> = { lines: { ...summary.lines } };
  if (summary.branches !== undefined) out.branches = { ...summary.branches };
  if (summary.functions !== undefined) out.functions = { ...summary.functions };
  return out;
}
