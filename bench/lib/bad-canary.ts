/**
 * Bad-canary benchmark, run by bench/bad-canary.ts (`npm run bench:bad-canary`).
 *
 * How fast a bad canary is rolled back with the example's own analysis (the `rollout:` block of
 * examples/shop/slipway.yaml, read at run time and applied verbatim), and what clients saw meanwhile.
 * The node agent and the control plane run as their own processes (src/rollout/process-world-fixtures.ts); a fixed-rate
 * load (not a throughput test) runs here through the router on 127.0.0.1. Two scenarios, each in a
 * fresh world: a canary that fails 30 % of its requests, and one whose latency doubles (stable 10 ms,
 * canary 20 ms). Target: traffic back on stable ≤ 10 s after the canary's first response.
 *
 * There is no same-run baseline for a duration, so the figures are also given relative to what the
 * config predicts: time to rollback ÷ the analysis interval, and the share of failed requests ÷
 * (fail rate × the first step's weight).
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { parseDuration } from "../../src/config/index.js";
import {
  ProcessWorld,
  REPO_ROOT,
  type Behaviour,
  type RolloutEvent,
} from "../../src/rollout/process-world-fixtures.js";
import type { RolloutStatus } from "../../src/store/index.js";
import { fixedRateLoad, type Sample } from "./fixed-rate-load.js";

export interface BadCanaryOptions {
  rps: number;
  /** Stable-only traffic before the canary is deployed. */
  warmupSeconds: number;
}

export const DEFAULT_BAD_CANARY_OPTIONS: BadCanaryOptions = { rps: 100, warmupSeconds: 3 };

export const EXAMPLE_CONFIG = join(REPO_ROOT, "examples/shop/slipway.yaml");
const FINAL: RolloutStatus[] = ["succeeded", "rolled-back", "aborted", "failed"];
const TARGET_S = 10;

/**
 * The `rollout:` block of the first service in the example, as written (comments included): the
 * lines after `    rollout:` that are indented deeper than it.
 */
export function exampleRolloutBlock(path = EXAMPLE_CONFIG): string {
  const lines = readFileSync(path, "utf8").split("\n");
  const start = lines.findIndex((l) => /^ {4}rollout:\s*(#.*)?$/.test(l));
  if (start < 0) throw new Error(`no block "rollout:" under a service in ${path}`);
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() !== "" && !line.startsWith("     ")) break;
    block.push(line);
  }
  return block.join("\n");
}

interface Scenario {
  name: string;
  stable: Behaviour;
  canary: Behaviour;
  /** Failures clients should see, as a share of the canary's requests. */
  canaryFailRate: number;
}

const SCENARIOS: Scenario[] = [
  { name: "canary failing 30 % of requests", stable: {}, canary: { failRate: 0.3 }, canaryFailRate: 0.3 },
  {
    name: "canary latency doubled (10 ms → 20 ms)",
    stable: { delayMs: 10 },
    canary: { delayMs: 20 },
    canaryFailRate: 0,
  },
];

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function pct(part: number, whole: number, digits = 2): string {
  return whole === 0 ? "n/a" : `${fmt((100 * part) / whole, digits)} %`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface Spec {
  intervalMs: number;
  firstWeight: number;
}

async function runScenario(
  scenario: Scenario,
  block: string,
  spec: Spec,
  options: BadCanaryOptions,
): Promise<{ seconds: number }> {
  const world = new ProcessWorld();
  const onSignal = () => void world.stop().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await world.start({ rollout: block });
    await world.waitFor((await world.deploy("v1", scenario.stable)).id, ["succeeded"]);
    const load = fixedRateLoad(world.routerUrl, options.rps);
    let samples: Sample[];
    let events: RolloutEvent[];
    let deployedAt: number;
    let status: string;
    let reason: string;
    try {
      await sleep(options.warmupSeconds * 1000);
      deployedAt = Date.now();
      const started = await world.deploy("v2", scenario.canary);
      const done = await world.waitFor(started.id, FINAL, 180_000);
      status = done.status;
      reason = done.reason ?? "";
      // Requests sent before the switch may still be in flight: let them end, and show stable alone.
      await sleep(2_000);
      events = await world.rolloutEvents(started.id);
    } finally {
      samples = await load.stop();
    }
    return report(scenario, spec, options, { samples, events, deployedAt, status, reason });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await world.stop();
  }
}

function report(
  scenario: Scenario,
  spec: Spec,
  options: BadCanaryOptions,
  run: { samples: Sample[]; events: RolloutEvent[]; deployedAt: number; status: string; reason: string },
): { seconds: number } {
  const { samples, events, deployedAt } = run;
  const rel = (t: number) => `+${fmt((t - deployedAt) / 1000, 2)} s`;
  // Only the canary fails, and it answers "fail"; the router's own errors would be 502/503 problems.
  const fromCanary = (s: Sample) => s.body === "v2" || (s.status === 500 && s.body === "fail");
  const canary = samples.filter(fromCanary);
  const first = Math.min(...canary.filter((s) => s.body === "v2").map((s) => s.doneAt));
  const firstAny = Math.min(...canary.map((s) => s.doneAt));
  const last = Math.max(...canary.map((s) => s.doneAt));
  const stepAt = events.find((e) => e.type === "rollout.step");
  const endEvent = events.find((e) => e.type === `rollout.${run.status}`);
  const endAt = endEvent === undefined ? Number.NaN : Date.parse(endEvent.at);
  const from = Math.min(first, firstAny);
  const to = Math.max(last, endAt);
  const window = samples.filter((s) => s.doneAt >= from && s.doneAt <= to);
  const failed = window.filter((s) => s.status !== 200);
  const socketErrors = window.filter((s) => s.status === 0).length;
  const allFailed = samples.filter((s) => s.status !== 200).length;
  const canaryInWindow = window.filter(fromCanary).length;
  const byEvent = (endAt - from) / 1000;
  const byTraffic = (last - from) / 1000;
  const seconds = Math.max(byEvent, byTraffic);

  console.log(`${scenario.name}:`);
  console.log(
    `  rollout ${run.status} (${run.reason})`.slice(0, 400) +
      (run.status === "rolled-back" ? "" : "   ✗ expected rolled-back"),
  );
  console.log(
    `  timeline from the deploy: step 1 (weight ${spec.firstWeight} %) ${stepAt === undefined ? "never" : rel(Date.parse(stepAt.at))}, ` +
      `first canary response ${rel(from)}, ${run.status} event ${rel(endAt)}, last canary response ${rel(last)}`,
  );
  for (const e of events.filter((x) => x.type === "rollout.analysis")) {
    console.log(
      `    ${rel(Date.parse(e.at))} analysis ${String(e.payload.result)}: ${String(e.payload.message).slice(0, 160)}`,
    );
  }
  console.log(
    `  time from the canary's first response to traffic back on stable: ${fmt(byEvent, 2)} s by the ` +
      `${run.status} event, ${fmt(byTraffic, 2)} s by the last canary response (target ≤ ${TARGET_S} s) ` +
      (seconds <= TARGET_S && run.status === "rolled-back" ? "✓" : "✗"),
  );
  console.log(
    `  requests during the canary: ${fmt(window.length)}, ${fmt(canaryInWindow)} answered by it ` +
      `(${pct(canaryInWindow, window.length, 1)} of traffic, step weight ${spec.firstWeight} %); ` +
      `failed as clients saw them: ${fmt(failed.length)} = ${pct(failed.length, window.length)} ` +
      `(socket errors ${socketErrors}); whole run: ${fmt(allFailed)} failed of ${fmt(samples.length)}`,
  );
  if (scenario.canaryFailRate === 0) {
    const windowStable = window.filter((s) => s.body === "v1").map((s) => s.doneAt - s.sentAt);
    const windowCanary = window.filter((s) => s.body === "v2").map((s) => s.doneAt - s.sentAt);
    console.log(
      `  client-side median latency during the canary: stable ${fmt(median(windowStable), 1)} ms, ` +
        `canary ${fmt(median(windowCanary), 1)} ms`,
    );
  }
  const expectedShare = scenario.canaryFailRate * (spec.firstWeight / 100);
  console.log(
    `  relative: time to rollback / analysis interval (${fmt(spec.intervalMs / 1000, 1)} s) = ` +
      fmt(seconds / (spec.intervalMs / 1000), 2) +
      (expectedShare > 0
        ? `;  failed share / (fail rate ${fmt(scenario.canaryFailRate * 100)} % × weight ${spec.firstWeight} % = ` +
          `${pct(expectedShare, 1)}) = ${fmt(failed.length / window.length / expectedShare, 2)}`
        : `;  failed share ${pct(failed.length, window.length)} (expected 0: nothing fails, only slower)`),
  );
  return { seconds };
}

export async function runBadCanaryBenchmark(options: BadCanaryOptions = DEFAULT_BAD_CANARY_OPTIONS): Promise<{
  worstSeconds: number;
}> {
  const block = exampleRolloutBlock();
  const parsed = parse(block) as {
    steps?: { weight: number }[];
    analysis?: { interval?: string };
  };
  const spec: Spec = {
    intervalMs: parseDuration(parsed.analysis?.interval ?? "5s"),
    firstWeight: parsed.steps?.[0]?.weight ?? 100,
  };
  console.log(
    `Bad-canary benchmark: ${options.rps} requests/s at a fixed rate through the router on 127.0.0.1, ` +
      `2 instances per release, Node ${process.version}; the rollout block of ${EXAMPLE_CONFIG}:`,
  );
  console.log(block.replace(/^ {6}/gm, "    "));
  let worstSeconds = 0;
  for (const scenario of SCENARIOS) {
    const { seconds } = await runScenario(scenario, block, spec, options);
    worstSeconds = Math.max(worstSeconds, seconds);
  }
  return { worstSeconds };
}
