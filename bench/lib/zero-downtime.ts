/**
 * Zero-downtime benchmark, run by bench/zero-downtime.ts (`npm run bench:zero-downtime`).
 *
 * The node agent, its edge (the router listeners) and the control plane run as their own processes
 * (src/rollout/process-world-fixtures.ts); autocannon runs here, at fixed concurrency, through the
 * router on 127.0.0.1, without pause while, in turn, a rolling rollout, a blue-green rollout, a canary
 * rollout with analysis, a rollback, a canary during which the control plane is killed with SIGKILL and
 * started again, then the node agent's own faults: a kill -9 under steady load, a planned restart
 * (SIGUSR2, what an upgrade does) under steady load, and a canary of a release identical to the live
 * one (the same artifact) with the agent killed mid-step. Each phase lasts until its rollout (or its
 * fault) has finished, `settleMs` more (old instances are stopped after the switch), and at least
 * `minRequests` answers. Targets: not one failed request (non-2xx, socket error, timeout); after an
 * agent fault, every instance alive at the fault runs on with the same pid (the new agent adopted it);
 * every rollout succeeds (the identical canary is promoted: a window that spans the restart is set
 * aside, not scored as the release's).
 *
 * Baseline, measured in the same run before the rollouts: the same load straight at one instance, and
 * through the router while nothing changes. The ratios are what to compare across machines.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ProcessWorld, type LiveInstance } from "../../src/rollout/process-world-fixtures.js";
import { decodeStored, RolloutStateCodec } from "../../src/rollout/codecs.js";
import type { RolloutState } from "../../src/rollout/types.js";
import type { Rollout, RolloutStatus } from "../../src/store/index.js";
import { startLoad, type LoadResult } from "./zero-downtime-load.js";

export interface ZeroDowntimeOptions {
  connections: number;
  /** Answers each phase must see at least. */
  minRequests: number;
  baselineSeconds: number;
  /** Load kept on after a rollout ends (the old instances stop then). */
  settleMs: number;
  /** How long the control plane, or the node agent, stays dead in a kill -9 phase. */
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

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The instances alive at an agent fault and after the next agent started (it must adopt them all). */
interface PidCheck {
  before: LiveInstance[];
  after: LiveInstance[];
}

interface PhaseReport extends LoadResult {
  name: string;
  /** The phase's rollout as it ended; undefined for a fault under steady load. */
  rollout: Rollout | undefined;
  /** From the trigger to the rollout's end, or to the end of the fault when there is no rollout. */
  phaseSeconds: number;
  pids: PidCheck | undefined;
}

interface Phase {
  name: string;
  /** Config to apply before (the strategy), if it changes. */
  rollout?: string;
  /** Starts the phase's rollout; undefined for a phase without one (a fault under steady load). */
  trigger: (world: ProcessWorld) => Promise<Rollout | undefined>;
  /** The fault, run after the trigger; an agent fault answers the instances before and after it. */
  during?: (
    world: ProcessWorld,
    rollout: Rollout | undefined,
    options: ZeroDowntimeOptions,
  ) => Promise<PidCheck | undefined>;
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
    const pids = phase.during === undefined ? undefined : await phase.during(world, started, options);
    const rollout = started === undefined ? undefined : await world.waitFor(started.id, FINAL, 180_000);
    const phaseSeconds = (Date.now() - origin) / 1000;
    await sleep(options.settleMs);
    while (load.answered() < options.minRequests) await sleep(100);
    return { name: phase.name, rollout, phaseSeconds, pids, ...(await load.stop()) };
  } catch (err) {
    await load.stop().catch(() => undefined);
    throw err;
  }
}

/** Instances alive at the fault whose pid changed or that are gone after it ("id pid→pid"). */
function changedPids({ before, after }: PidCheck): string[] {
  const now = new Map(after.map((i) => [i.id, i.pid]));
  return before
    .filter((i) => now.get(i.id) !== i.pid)
    .map((i) => `${i.id} ${i.pid}→${now.get(i.id) ?? "gone"}`);
}

function phaseLine(r: PhaseReport): string {
  const failed = r.errors + r.non2xx;
  return (
    `  ${r.name.padEnd(58)} sent ${fmt(r.sent).padStart(7)}  answered ${fmt(r.completed).padStart(7)}  ` +
    `non-2xx ${fmt(r.non2xx)}  errors ${fmt(r.errors)} (timeouts ${fmt(r.timeouts)})  failed ${fmt(failed)}  ` +
    `${fmt(r.rps).padStart(6)} req/s over ${fmt(r.seconds, 1)} s  ` +
    (r.rollout === undefined
      ? `no rollout, fault over after ${fmt(r.phaseSeconds, 1)} s`
      : `rollout ${r.rollout.id} ${r.rollout.status} after ${fmt(r.phaseSeconds, 1)} s${verdictsOf(r.rollout)}`) +
    (r.pids === undefined ? "" : `  ${pidLine(r.pids)}`)
  );
}

/** The analysis verdicts of a rollout that had any: pass, fail, inconclusive and set aside. */
function verdictsOf(r: Rollout): string {
  const { spec, verdicts: v } = decodeStored(RolloutStateCodec, r.state, `rollout ${r.id}`);
  if (spec.analysis === null) return "";
  return ` (verdicts: ${v.pass} pass, ${v.fail} fail, ${v.inconclusive} inconclusive, ${v.setAside} set aside)`;
}

function pidLine(pids: PidCheck): string {
  const changed = changedPids(pids);
  return changed.length === 0
    ? `instance pids unchanged (${pids.before.length}) ✓`
    : `instance pids CHANGED: ${changed.join(", ")} ✗`;
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
      await waitInStep(w, r);
      await w.killControlPlane();
      await sleep(options.downMs);
      await w.startControlPlane();
      return undefined;
    },
  },
  {
    name: "agent kill -9 (steady)",
    trigger: () => Promise.resolve(undefined),
    during: (w, _r, options) => killAgent(w, options),
  },
  {
    name: "agent upgrade (SIGUSR2 restart, steady)",
    trigger: () => Promise.resolve(undefined),
    during: (w) => restartAgent(w),
  },
  {
    name: "canary + agent kill -9 mid-step (→ v6, identical release)",
    // v6 is v5's own artifact: any verdict but a pass would be the infrastructure's.
    trigger: (w) => w.deploy("v6", {}, join(w.root, "artifacts", "v5")),
    during: async (w, r, options) => {
      await waitInStep(w, r);
      return killAgent(w, options);
    },
  },
];

async function waitInStep(w: ProcessWorld, r: Rollout | undefined): Promise<void> {
  if (r === undefined) throw new Error("the phase started no rollout");
  await w.waitUntil(
    r.id,
    (x, s: RolloutState) => x.status === "progressing" && s.phase === "step",
    "in a canary step",
  );
}

/**
 * SIGKILL to the agent; the edge (router listeners) and the instances run on while no agent does, for
 * `downMs`; then a new agent, which adopts them.
 */
async function killAgent(w: ProcessWorld, options: ZeroDowntimeOptions): Promise<PidCheck> {
  await w.killAgent();
  const before = w.liveInstances();
  await sleep(options.downMs);
  await w.startAgent();
  return { before, after: w.liveInstances() };
}

/** A planned restart, as an upgrade does it: SIGUSR2 (the agent exits leaving all running), a new agent. */
async function restartAgent(w: ProcessWorld): Promise<PidCheck> {
  const before = w.liveInstances();
  await w.restartAgent();
  return { before, after: w.liveInstances() };
}

export async function runZeroDowntimeBenchmark(
  options: ZeroDowntimeOptions = DEFAULT_ZERO_DOWNTIME_OPTIONS,
): Promise<{ failed: number; total: number; pidsChanged: number; notSucceeded: number }> {
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

    console.log("During rollouts and agent faults (load never stops within a phase):");
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
    const notSucceeded = reports.flatMap((r) =>
      r.rollout === undefined || r.rollout.status === "succeeded"
        ? []
        : [`${r.name}: ${r.rollout.status} (${r.rollout.reason ?? ""})`],
    );
    if (notSucceeded.length > 0) console.log(`  Rollouts that did not succeed: ${notSucceeded.join("; ")}`);
    const pidsChanged = reports.filter((r) => r.pids !== undefined && changedPids(r.pids).length > 0);
    console.log(
      `  Agent faults: instance pids unchanged in ${reports.filter((r) => r.pids !== undefined).length - pidsChanged.length} ` +
        `of ${reports.filter((r) => r.pids !== undefined).length} phases ` +
        (pidsChanged.length === 0 ? "✓" : `✗ (${pidsChanged.map((r) => r.name).join("; ")})`),
    );
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
    return { failed, total, pidsChanged: pidsChanged.length, notSucceeded: notSucceeded.length };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await world.stop();
  }
}
