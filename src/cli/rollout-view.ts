/**
 * How the CLI shows releases, rollouts and verdicts: the shapes the delivery API answers with, and
 * pure functions from those to text. Nothing here talks to the server, so `deploy --wait`,
 * `rollback --wait` and `rollout status` print a rollout the same way.
 */
import type { CheckResult } from "../judge/index.js";
import { decodeStored, RolloutStateCodec, VerdictCodec, type RolloutState } from "../rollout/index.js";
import type { Release, Rollout, RolloutStatus, StoredVerdict } from "../store/index.js";
import { shortTime, table, type Output } from "./output.js";

/** One instance as the agent reports it (the fields the CLI shows). */
export interface InstanceView {
  id: string;
  release: string;
  phase: string;
  ready: boolean;
  restarts: number;
  message?: string;
}

/** What one service runs in one environment now (GET /api/v1/deployments, `live` of a rollout). */
export interface SlotView {
  service: string;
  env: string;
  stable: string | null;
  releases: {
    version: string;
    role: "stable" | "canary" | "previous" | "warm";
    /** Instances wanted. */
    instances: number;
    weight: number;
    ready: number;
    running: InstanceView[];
  }[];
}

/** GET /api/v1/rollouts/:id and GET …/environments/:env/rollout. */
export interface RolloutDetail {
  rollout: Rollout;
  /** Newest first, as the API lists them. */
  verdicts: StoredVerdict[];
  live: SlotView | null;
}

export interface DeployResponse {
  release: Release;
  rollout: Rollout;
  createdRelease: boolean;
}

export type ReleaseState = "live" | "canary" | "warm" | "previous" | "rolled-back" | "failed" | "retired";

export interface ReleaseWithState extends Release {
  environments: { env: string; state: ReleaseState }[];
}

/** The engine's state is opaque JSON to the API; rollout/types.ts documents it. */
export function stateOf(rollout: Rollout): RolloutState {
  return decodeStored(RolloutStateCodec, rollout.state, `rollout ${rollout.id}`);
}

/** Whether a `--wait` is over: a final status, or promoted and now only watched. */
export function isSettled(status: RolloutStatus): boolean {
  return status !== "progressing" && status !== "paused";
}

export function isFailure(status: RolloutStatus): boolean {
  return status === "rolled-back" || status === "aborted" || status === "failed";
}

export function colorStatus(output: Output, status: RolloutStatus): string {
  const { c } = output;
  switch (status) {
    case "progressing":
    case "watching":
      return c.cyan(status);
    case "paused":
      return c.yellow(status);
    case "succeeded":
      return c.green(status);
    case "rolled-back":
    case "aborted":
    case "failed":
      return c.red(status);
    default: {
      const unknown: never = status;
      return String(unknown);
    }
  }
}

export function colorReleaseState(output: Output, state: ReleaseState): string {
  const { c } = output;
  switch (state) {
    case "live":
      return c.green(state);
    case "canary":
      return c.yellow(state);
    case "warm":
      return c.cyan(state);
    case "rolled-back":
    case "failed":
      return c.red(state);
    case "previous":
    case "retired":
      return c.dim(state);
    default: {
      const unknown: never = state;
      return String(unknown);
    }
  }
}

function significant(value: number, digits = 3): string {
  return String(Number(value.toPrecision(digits)));
}

/** 1500 → "1.5s", 90000 → "1m30s", 250 → "250ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${significant(ms / 1000)}s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h > 0 ? `${h}h` : "", m > 0 ? `${m}m` : "", s > 0 ? `${s}s` : ""].join("");
}

/** 1234567 → "1.2 MB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit] ?? ""}`;
}

/** `sha256:9f86d081884c7d65…` → `9f86d081884c`. */
export function shortHash(hash: string): string {
  return hash.replace(/^sha256:/, "").slice(0, 12);
}

/** The time of day of an ISO time (UTC, as stored). */
export function clock(iso: string): string {
  return iso.slice(11, 19);
}

function pauseText(pause: RolloutState["spec"]["steps"][number]["pauseMs"]): string {
  if (pause === null) return "no hold";
  if (pause === "until-promote") return "until promote";
  return `hold ${formatDuration(pause)}`;
}

/** Canary steps; the spec carries the service's steps whatever strategy this rollout uses. */
function stepsOf(rollout: Rollout): RolloutState["spec"]["steps"] {
  return rollout.strategy === "canary" ? stateOf(rollout).spec.steps : [];
}

/** "step 1/2" (0 before the first step) or "" for rollouts without steps. */
function stepText(rollout: Rollout): string {
  const state = stateOf(rollout);
  const n = stepsOf(rollout).length;
  if (n === 0) return "";
  return `step ${Math.min(Math.max(state.step + 1, 0), n)}/${n}`;
}

/** `[██████░░░░░░░░░░░░░░] 30% v2 / 70% v1`. */
export function weightBar(output: Output, rollout: Rollout, width = 20): string {
  const weight = stateOf(rollout).weight;
  const filled = Math.round((weight / 100) * width);
  const bar = `[${output.c.green("█".repeat(filled))}${output.c.dim("░".repeat(width - filled))}]`;
  const previous = rollout.previous === null ? "" : ` / ${100 - weight}% ${rollout.previous}`;
  return `${bar} ${weight}% ${rollout.release}${previous}`;
}

// ---- verdicts ------------------------------------------------------------------------------------

function metricValue(check: CheckResult, value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  return check.metric === "error-rate" ? `${significant(value * 100)}%` : `${significant(value)}ms`;
}

function formatP(p: number): string {
  if (p === 0) return "p < 1e-300";
  return `p = ${p < 1e-4 ? p.toExponential(1) : significant(p, 2)}`;
}

/** `error-rate 28.6% vs 0.2% baseline, limit 0.7% (max 1%, +0.5pp), p = 1.5e-35`. */
export function checkText(check: CheckResult): string {
  const t = check.threshold;
  const limits: string[] = [];
  if (t.max !== undefined) limits.push(`max ${metricValue(check, t.max)}`);
  if (t.vsBaseline !== undefined) {
    const v = t.vsBaseline.value;
    limits.push(t.vsBaseline.kind === "pp" ? `+${significant(v * 100)}pp` : `x${significant(v, 4)}`);
  }
  const limit = t.limit === null ? "no limit yet" : `limit ${metricValue(check, t.limit)}`;
  const p = check.test === undefined ? "" : `, ${formatP(check.test.pValue)}`;
  return (
    `${check.metric} ${metricValue(check, check.canary)} vs ${metricValue(check, check.baseline)} baseline, ` +
    `${limit} (${limits.join(", ")})${p}`
  );
}

function resultText(output: Output, result: StoredVerdict["result"]): string {
  const { c } = output;
  const padded = result.padEnd(13);
  switch (result) {
    case "pass":
      return c.green(padded);
    case "fail":
      return c.red(padded);
    case "inconclusive":
      return c.yellow(padded);
    default: {
      const unknown: never = result;
      return String(unknown);
    }
  }
}

/**
 * One verdict on one line: when, result, where, the deciding check (every check when all passed) with
 * its values, limits and p-value, and the samples each release served.
 */
export function verdictLine(output: Output, stored: StoredVerdict): string {
  const v = decodeStored(VerdictCodec, stored.verdict, `verdict ${stored.id}`);
  const where = stored.step === null ? stored.phase : `step ${stored.step + 1}`;
  const deciding = v.decidedBy === undefined ? undefined : v.checks[v.decidedBy];
  const checks =
    v.reason === "set-aside"
      ? output.c.dim(v.message)
      : v.reason === "not-enough-traffic"
        ? `not enough traffic (min ${v.minSamples} requests each)`
        : (deciding === undefined ? v.checks : [deciding]).map(checkText).join("; ");
  const samples = output.c.dim(
    `samples ${v.samples.canary.requests} canary / ${v.samples.baseline.requests} baseline`,
  );
  return `${clock(stored.at)}  ${resultText(output, stored.result)}${where.padEnd(8)}  ${checks}  ${samples}`;
}

/** `3 pass, 0 fail, 1 inconclusive` (`, 1 set aside` when a window was the data plane's). */
function verdictCounts(n: RolloutState["verdicts"]): string {
  const aside = n.setAside > 0 ? `, ${n.setAside} set aside` : "";
  return `${n.pass} pass, ${n.fail} fail, ${n.inconclusive} inconclusive${aside}`;
}

/** Verdicts oldest first (the API lists newest first). */
export function chronological(verdicts: StoredVerdict[]): StoredVerdict[] {
  return [...verdicts].sort((a, b) => a.id - b.id);
}

// ---- rollouts ------------------------------------------------------------------------------------

/** `rollout 12  canary  web v1 → v2 in production`. */
export function rolloutTitle(output: Output, r: Rollout): string {
  const from = r.previous === null ? "" : `${r.previous} → `;
  return `${output.c.bold(`rollout ${r.id}`)}  ${r.strategy}  ${r.service} ${from}${r.release} in ${r.env}`;
}

function instancesText(output: Output, detail: RolloutDetail): string {
  const { rollout, live } = detail;
  const state = stateOf(rollout);
  const mine = (live?.releases ?? []).filter(
    (r) => r.version === rollout.release || r.version === rollout.previous,
  );
  if (mine.length === 0) {
    return output.c.dim(`${rollout.release} ${state.canaryInstances} wanted`);
  }
  return mine.map((r) => `${r.version} ${r.ready}/${r.instances} ready (${r.role})`).join("   ");
}

/** The few lines `deploy --wait` redraws on a terminal. */
export function progressBlock(output: Output, detail: RolloutDetail): string[] {
  const { rollout } = detail;
  const state = stateOf(rollout);
  const step = stepText(rollout);
  const lines = [
    `${rolloutTitle(output, rollout)}  ${colorStatus(output, rollout.status)}`,
    `  phase ${state.phase}${step === "" ? "" : `  ${step}`}  ${weightBar(output, rollout)}`,
    `  instances ${instancesText(output, detail)}`,
  ];
  if (state.spec.analysis !== null) {
    const n = state.verdicts;
    lines.push(`  verdicts ${verdictCounts(n)}`);
  }
  if (rollout.reason !== null && rollout.status === "paused")
    lines.push(`  ${output.c.yellow(rollout.reason)}`);
  return lines;
}

/** What one line per change says without a terminal: status, phase, step and weight. */
export function changeLine(rollout: Rollout): string {
  const state = stateOf(rollout);
  const step = stepText(rollout);
  const reason = rollout.reason === null ? "" : ` (${rollout.reason})`;
  return `${clock(rollout.updatedAt)}  ${rollout.status}  phase ${state.phase}${step === "" ? "" : `  ${step}`}  weight ${state.weight}%${reason}`;
}

function phasesOf(running: InstanceView[]): string {
  const counts = new Map<string, number>();
  for (const i of running) counts.set(i.phase, (counts.get(i.phase) ?? 0) + 1);
  return [...counts].map(([phase, n]) => `${n} ${phase}`).join(", ") || "none running";
}

/** `slipway rollout status`: everything a person needs to decide to promote, wait or abort. */
export function renderRolloutStatus(output: Output, detail: RolloutDetail): string {
  const { c } = output;
  const { rollout: r, live } = detail;
  const state = stateOf(r);
  const label = (text: string): string => c.bold(text.padEnd(10));
  const finished = r.finishedAt === null ? "" : `, finished ${shortTime(r.finishedAt)}`;
  const lines = [
    `${label("Rollout")} ${r.id}  ${r.strategy}, started ${shortTime(r.createdAt)} by ${r.createdBy}${finished}`,
    `${label("Release")} ${r.service} ${r.release} in ${r.env}  (replaces ${r.previous ?? "nothing: first release"})`,
    `${label("Status")} ${colorStatus(output, r.status)}${r.reason === null ? "" : ` — ${r.reason}`}`,
    `${label("Phase")} ${state.phase}  ${weightBar(output, r)}`,
  ];
  const steps = stepsOf(r);
  if (steps.length === 0) {
    lines.push(`${label("Steps")} ${c.dim(`none (${r.strategy})`)}`);
  } else {
    steps.forEach((step, i) => {
      const current = i === state.step;
      const mark = current ? c.cyan(isSettled(r.status) ? "  ← last" : "  ← current") : "";
      const text = `${current ? "▶" : " "} ${i + 1}. ${`${step.weight}%`.padStart(4)}  ${pauseText(step.pauseMs)}${mark}`;
      lines.push(`${label(i === 0 ? "Steps" : "")} ${current ? c.bold(text) : text}`);
    });
  }
  lines.push(
    `${label("Instances")} wanted: ${state.canaryInstances} ${r.release}, ${state.stableInstances} ${r.previous ?? "-"}`,
  );
  const releases = live?.releases ?? [];
  if (releases.length > 0) {
    const rows = releases.map((rel) => [
      rel.version,
      rel.role,
      `${rel.weight}%`,
      `${rel.ready}/${rel.instances}`,
      phasesOf(rel.running),
    ]);
    lines.push(indent(table(output, ["RELEASE", "ROLE", "WEIGHT", "READY", "INSTANCES"], rows), 11));
  }
  if (state.spec.analysis !== null) {
    const n = state.verdicts;
    lines.push(
      `${label("Verdicts")} ${verdictCounts(n)}` +
        (detail.verdicts.length > 0 ? c.dim("  (latest, newest last)") : ""),
    );
    for (const v of chronological(detail.verdicts)) lines.push(`  ${verdictLine(output, v)}`);
  }
  return lines.join("\n");
}

function indent(text: string, by: number): string {
  return text
    .split("\n")
    .map((line) => " ".repeat(by) + line)
    .join("\n");
}
