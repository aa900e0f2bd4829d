/**
 * Zero-downtime benchmark, run by bench/zero-downtime.ts (`npm run bench:zero-downtime`).
 *
 * The node agent and the control plane run as their own processes (src/rollout/process-world-fixtures.ts); autocannon runs
 * here, at fixed concurrency, through the agent's router on 127.0.0.1, without pause while, in turn, a
 * rolling rollout, a blue-green rollout, a canary rollout with analysis, a rollback, and a canary
 * during which the control plane is killed with SIGKILL and started again run to their end. Each phase
 * lasts until its rollout has finished, `settleMs` more (old instances are stopped after the switch),
 * and at least `minRequests` answers. Target: not one failed request (non-2xx, socket error, timeout).
 *
 * Baseline, measured in the same run before the rollouts: the same load straight at one instance, and
 * through the router while nothing changes. The ratios are what to compare across machines.
 */
import autocannon from "autocannon";
import { setTimeout as sleep } from "node:timers/promises";
import { ProcessWorld } from "../../src/rollout/process-world-fixtures.js";
import type { RolloutState } from "../../src/rollout/types.js";
import type { Rollout, RolloutStatus } from "../../src/store/index.js";

export interface ZeroDowntimeOptions {
  connections: number;
  /** Answers each phase must see at least. */
  minRequests: number;
  baselineSeconds: number;
  /** Load kept on after a rollout ends (the old instances stop then). */
  settleMs: number;
  /** How long the control plane stays dead in the last phase. */
  downMs: number;
}

export const DEFAULT_ZERO_DOWNTIME_OPTIONS: ZeroDowntimeOptions = {
  connections: 20,
  minRequests: 12_000,
  baselineSeconds: 5,
  settleMs: 1_500,
  downMs: 2_000,
};

const WARMUP_MS = 2_000;
const FINAL: RolloutStatus[] = ["succeeded", "rolled-back", "aborted", "failed"];

const ROLLING = "{ strategy: rolling, maxSurge: 1, maxUnavailable: 0 }";
const BLUE_GREEN = "{ strategy: blue-green, keepWarm: 30s }";
/**
 * Error rate only: under a load that saturates the machine, latency comparisons measure the machine;
 * a latency verdict that rolls back would end the phase early but drop nothing.
 */
const CANARY =
  "{ strategy: canary, steps: [{ weight: 20, pause: 2s }, { weight: 50, pause: 2s }], " +
  "analysis: { interval: 1s, minSamples: 50, checks: [{ metric: error-rate, max: 1% }] }, watch: 3s }";

interface Load {
  /** Answers so far (any status). */
  answered(): number;
  stop(): Promise<LoadResult>;
}

interface Failure {
  /** Milliseconds since the phase's trigger (negative: before it). */
  atMs: number;
  what: string;
}

interface LoadResult {
  sent: number;
  completed: number;
  non2xx: number;
  /** autocannon's `errors` (socket errors, timeouts included) and `timeouts`. */
  errors: number;
  timeouts: number;
  seconds: number;
  rps: number;
  failures: Failure[];
}

/** autocannon until stopped; failures are kept with their time for the report. */
function startLoad(url: string, connections: number, origin: () => number): Load {
  let answered = 0;
  const failures: Failure[] = [];
  const started = performance.now();
  let resolveResult: (r: autocannon.Result) => void = () => undefined;
  let rejectResult: (e: unknown) => void = () => undefined;
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  const instance = autocannon(
    { url, connections, pipelining: 1, duration: 3_600, timeout: 10 },
    (err: unknown, r: autocannon.Result) => {
      if (err === null || err === undefined) resolveResult(r);
      else rejectResult(err);
    },
  );
  instance.on("response", (_client, status) => {
    answered += 1;
    if (status < 200 || status > 299) failures.push({ atMs: Date.now() - origin(), what: `HTTP ${status}` });
  });
  instance.on("reqError", (err: unknown) => {
    failures.push({ atMs: Date.now() - origin(), what: err instanceof Error ? err.message : String(err) });
  });
  return {
    answered: () => answered,
    async stop() {
      instance.stop();
      const r = await result;
      const seconds = (performance.now() - started) / 1000;
      return {
        sent: r.requests.sent,
        completed: r.requests.total,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        seconds,
        rps: r.requests.total / seconds,
        failures,
      };
    },
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

interface PhaseReport extends LoadResult {
  name: string;
  rollout: Rollout;
  rolloutSeconds: number;
}

interface Phase {
  name: string;
  /** Config to apply before (the strategy), if it changes. */
  rollout?: string;
  /** Starts the rollout. */
  trigger: (world: ProcessWorld) => Promise<Rollout>;
  /** Runs while the rollout is on (the kill -9 phase). */
  during?: (world: ProcessWorld, rollout: Rollout, options: ZeroDowntimeOptions) => Promise<void>;
}

async function runPhase(
  world: ProcessWorld,
  phase: Phase,
  options: ZeroDowntimeOptions,
): Promise<PhaseReport> {
  if (phase.rollout !== undefined) await world.applyConfig({ rollout: phase.rollout });
  let origin = Date.now() + 1e9;
  const load = startLoad(world.routerUrl, options.connections, () => origin);
  try {
    await sleep(500);
    origin = Date.now();
    const started = await phase.trigger(world);
    if (phase.during !== undefined) await phase.during(world, started, options);
    const rollout = await world.waitFor(started.id, FINAL, 180_000);
    const rolloutSeconds = (Date.now() - origin) / 1000;
    await sleep(options.settleMs);
    while (load.answered() < options.minRequests) await sleep(100);
    return { name: phase.name, rollout, rolloutSeconds, ...(await load.stop()) };
  } catch (err) {
    await load.stop().catch(() => undefined);
    throw err;
  }
}

function phaseLine(r: PhaseReport): string {
  const failed = r.errors + r.non2xx;
  return (
    `  ${r.name.padEnd(38)} sent ${fmt(r.sent).padStart(7)}  answered ${fmt(r.completed).padStart(7)}  ` +
    `non-2xx ${fmt(r.non2xx)}  errors ${fmt(r.errors)} (timeouts ${fmt(r.timeouts)})  failed ${fmt(failed)}  ` +
    `${fmt(r.rps).padStart(6)} req/s over ${fmt(r.seconds, 1)} s  ` +
    `rollout ${r.rollout.id} ${r.rollout.status} after ${fmt(r.rolloutSeconds, 1)} s`
  );
}

function printFailures(r: PhaseReport): void {
  if (r.failures.length === 0) return;
  const byWhat = new Map<string, number>();
  for (const f of r.failures) byWhat.set(f.what, (byWhat.get(f.what) ?? 0) + 1);
  console.log(
    `    failures: ${[...byWhat].map(([w, n]) => `${n}× ${w}`).join(", ")}; first at ` +
      r.failures
        .slice(0, 5)
        .map((f) => `${fmt(f.atMs / 1000, 2)} s`)
        .join(", ") +
      ` after the trigger`,
  );
}

const PHASES: Phase[] = [
  {
    name: "rolling rollout (v1 → v2)",
    rollout: ROLLING,
    trigger: (w) => w.deploy("v2"),
  },
  {
    name: "blue-green rollout (v2 → v3)",
    rollout: BLUE_GREEN,
    trigger: (w) => w.deploy("v3"),
  },
  {
    name: "canary with analysis (v3 → v4)",
    rollout: CANARY,
    trigger: (w) => w.deploy("v4"),
  },
  {
    name: "rollback (v4 → v3)",
    trigger: (w) => w.rollback(),
  },
  {
    name: "canary + kill -9 control plane (→ v5)",
    trigger: (w) => w.deploy("v5"),
    during: async (w, r, options) => {
      await w.waitUntil(
        r.id,
        (x, s: RolloutState) => x.status === "progressing" && s.phase === "step",
        "in a canary step",
      );
      await w.killControlPlane();
      await sleep(options.downMs);
      await w.startControlPlane();
    },
  },
];

export async function runZeroDowntimeBenchmark(
  options: ZeroDowntimeOptions = DEFAULT_ZERO_DOWNTIME_OPTIONS,
): Promise<{ failed: number; total: number }> {
  const world = new ProcessWorld();
  const onSignal = () => void world.stop().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await world.start({ rollout: ROLLING });
    await world.waitFor((await world.deploy("v1")).id, ["succeeded"]);
    console.log(
      `Zero-downtime benchmark: autocannon, ${options.connections} connections, pipelining 1, through the ` +
        `router on 127.0.0.1; 2 instances per release; Node ${process.version}`,
    );

    const slot = await world.slot();
    const instance = ProcessWorld.running(slot, "v1").find((i) => i.ready);
    if (instance === undefined) throw new Error("v1 has no ready instance");
    console.log(`Baseline (${options.baselineSeconds} s each after a 2 s warm-up, no rollout):`);
    const baselines: [string, string][] = [
      ["direct (1 instance)", `http://127.0.0.1:${instance.port}/`],
      ["router (steady, 2 instances)", world.routerUrl],
    ];
    const base = new Map<string, LoadResult>();
    // Warm-up, not counted: the first seconds through a fresh router run unoptimised code.
    for (const [, url] of baselines) {
      const warm = startLoad(url, options.connections, Date.now);
      await sleep(WARMUP_MS);
      await warm.stop();
    }
    for (const [name, url] of baselines) {
      const load = startLoad(url, options.connections, Date.now);
      await sleep(options.baselineSeconds * 1000);
      const r = await load.stop();
      base.set(name, r);
      console.log(
        `  ${name.padEnd(38)} ${fmt(r.rps).padStart(6)} req/s  (${fmt(r.completed)} answered, failed ${fmt(r.errors + r.non2xx)})`,
      );
    }

    console.log("During rollouts (load never stops within a phase):");
    const reports: PhaseReport[] = [];
    for (const phase of PHASES) {
      const report = await runPhase(world, phase, options);
      reports.push(report);
      console.log(phaseLine(report));
      printFailures(report);
    }

    const total = reports.reduce((n, r) => n + r.completed + r.errors, 0);
    const sent = reports.reduce((n, r) => n + r.sent, 0);
    const non2xx = reports.reduce((n, r) => n + r.non2xx, 0);
    const errors = reports.reduce((n, r) => n + r.errors, 0);
    const timeouts = reports.reduce((n, r) => n + r.timeouts, 0);
    const seconds = reports.reduce((n, r) => n + r.seconds, 0);
    const completed = reports.reduce((n, r) => n + r.completed, 0);
    const failed = non2xx + errors;
    console.log(
      `Overall: sent ${fmt(sent)}, answered ${fmt(completed)}, non-2xx ${fmt(non2xx)}, errors ${fmt(errors)} ` +
        `(timeouts ${fmt(timeouts)}): failed ${fmt(failed)} of ${fmt(total)} (target 0 of ≥ 50,000) ` +
        (failed === 0 && total >= 50_000 ? "✓" : "✗"),
    );
    const notSucceeded = reports.filter((r) => r.rollout.status !== "succeeded");
    if (notSucceeded.length > 0) {
      console.log(
        `  Rollouts that did not succeed: ${notSucceeded.map((r) => `${r.name}: ${r.rollout.status} (${r.rollout.reason ?? ""})`).join("; ")}`,
      );
    }
    const direct = base.get("direct (1 instance)");
    const steady = base.get("router (steady, 2 instances)");
    const during = completed / seconds;
    if (direct !== undefined && steady !== undefined) {
      console.log(
        `  req/s through the router during rollouts ${fmt(during)}; ` +
          `during rollouts / direct ${fmt(during / direct.rps, 2)}   ` +
          `router steady / direct ${fmt(steady.rps / direct.rps, 2)}   ` +
          `during rollouts / router steady ${fmt(during / steady.rps, 2)}`,
      );
    }
    return { failed, total };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await world.stop();
  }
}
