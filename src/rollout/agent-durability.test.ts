/**
 * The node agent dies or restarts while a canary rollout runs, under a steady keep-alive load through
 * the router (issue 10, "Bad input and faults"): real processes (the built agent, its edge, the
 * control plane, the instances), as in durability.test.ts, which does the same to the control plane.
 *
 * What must hold: not one request fails (the edge holding the listeners and the instances outlive the
 * agent), the next agent adopts the instances (same pids), the control plane carries the rollout on
 * and it succeeds, and no analysis verdict fails: a window that spans the restart is set aside, never
 * scored as the release's. One world serves every case, one rollout after another (a world per case
 * would double the file's time on a 2-core machine); each case waits for the last rollout to end.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Rollout } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import type { SlotView } from "./controller.js";
import { ensureBuilt, ProcessWorld, type Behaviour, type LiveInstance } from "./process-fixtures.js";
import { startLoad, type LoadResult } from "./test-fixtures.js";
import { decodeStored, RolloutStateCodec } from "./codecs.js";
import type { RolloutState } from "./types.js";

/** Two 2 s steps judged every second, then a 4 s watch: every phase lasts long enough to be caught. */
const ROLLOUT =
  "{ strategy: canary, steps: [{ weight: 20, pause: 2s }, { weight: 50, pause: 2s }], " +
  "analysis: { interval: 1s, minSamples: 10, checks: [{ metric: error-rate, max: 1% }] }, watch: 4s }";
/** The scenario: how long no agent runs after a kill (longer than a window, so one spans it). */
const DOWN_MS = 1_000;
const ENDED: Rollout["status"][] = ["succeeded", "rolled-back", "failed", "aborted"];

type Fault = "kill -9" | "restart (SIGUSR2)";

interface Case {
  name: string;
  fault: Fault;
  /** True while the rollout is in the phase to disrupt the agent in. */
  during: (r: Rollout, s: RolloutState, slot: SlotView, version: string) => boolean;
  canary?: Behaviour;
  /** Deploy the live release's own artifact under the new version: a release identical to the live one. */
  identical?: boolean;
  /** Releases whose instances may be stopped by the control plane once the new agent answers. */
  mayGo?: (stable: string) => string[];
  /** Whether a window must have been set aside (the kill fell inside a step's analysis window). */
  setAside: boolean;
}

const inStep = (r: Rollout, s: RolloutState) => r.status === "progressing" && s.phase === "step";

const CASES: Case[] = [
  {
    name: "kill -9 while the canary's instances start (scaling)",
    fault: "kill -9",
    // A slow start keeps the canary's instance running but not ready for 2.5 s.
    during: (r, s, slot, version) =>
      r.status === "progressing" &&
      s.phase === "scaling" &&
      ProcessWorld.running(slot, version).some((i) => i.pid !== undefined && !i.ready),
    canary: { startDelayMs: 2_500 },
    setAside: false,
  },
  { name: "kill -9 during a canary step", fault: "kill -9", during: inStep, setAside: true },
  {
    name: "kill -9 during the watch",
    fault: "kill -9",
    // Both the store and the controller's view say the watch has begun (see durability.test.ts).
    during: (r, _s, slot, version) => r.status === "watching" && slot.stable === version,
    // The previous stable release is warm until the watch ends, then stopped.
    mayGo: (stable) => [stable],
    setAside: false,
  },
  {
    name: "kill -9 mid-step, a canary identical to the live release: promoted, not rolled back",
    fault: "kill -9",
    during: inStep,
    identical: true,
    setAside: true,
  },
  {
    name: "planned restart (SIGUSR2, new agent) mid-step",
    fault: "restart (SIGUSR2)",
    during: inStep,
    setAside: false,
  },
];

let world: ProcessWorld | undefined;
let load: ReturnType<typeof startLoad> | undefined;
/** The last release deployed and the last rollout started, carried from one case to the next. */
let live = "v1";
let lastRollout = 0;

function stateOf(r: Rollout): RolloutState {
  return decodeStored(RolloutStateCodec, r.state, `rollout ${r.id}`);
}

function ok(seen: LoadResult): void {
  expect(seen.socketErrors).toBe(0);
  expect(Object.keys(seen.byStatus)).toEqual(["200"]);
}

/** Polls the rollout and the slot until `during` holds; fails if the rollout ends first. */
async function waitForPhase(w: ProcessWorld, id: number, version: string, c: Case): Promise<SlotView> {
  const seen = await waitFor(
    async () => {
      const [rollout, slot] = await Promise.all([w.rollout(id), w.slot()]);
      const caught = c.during(rollout, stateOf(rollout), slot, version);
      if (caught || ENDED.includes(rollout.status)) return { rollout, slot, caught };
      throw new Error(`rollout ${id} is ${rollout.status} ${JSON.stringify(rollout.state)}`);
    },
    { what: `rollout ${id}: ${c.name}`, timeoutMs: 60_000, intervalMs: 50 },
  );
  if (!seen.caught) {
    throw new Error(
      `never caught rollout ${id} (${c.name}): ${seen.rollout.status} ${seen.rollout.reason ?? ""}`,
    );
  }
  return seen.slot;
}

/** Every instance alive at the fault is alive after it with the same pid (or, for `mayGo`, gone). */
function expectAdopted(before: LiveInstance[], after: LiveInstance[], mayGo: string[]): void {
  const now = new Map(after.map((i) => [i.id, i.pid]));
  expect(before.length).toBeGreaterThan(0);
  for (const i of before) {
    if (mayGo.includes(i.release) && !now.has(i.id)) continue;
    expect(now.get(i.id), `${i.id} (${i.release})`).toBe(i.pid);
  }
}

describe("agent kill -9 and restart mid-rollout (agent, edge, control plane and instances as processes)", () => {
  beforeAll(async () => {
    ensureBuilt();
    world = await new ProcessWorld().start({ rollout: ROLLOUT });
    lastRollout = (await world.deploy("v1")).id;
    await world.waitFor(lastRollout, ["succeeded"]);
  }, 180_000);

  afterEach(async () => {
    await load?.stop();
    load = undefined;
  });

  afterAll(async () => {
    await world?.stop();
    world = undefined;
  });

  it.each(CASES.map((c, i) => ({ ...c, version: `v${i + 2}` })))(
    "$name: 0 failed requests, same instance pids, the rollout succeeds with no failed verdict",
    async (c) => {
      if (world === undefined) throw new Error("no world");
      const w = world;
      // A case that failed may have left its rollout running: the next deploy would be refused.
      await w.waitFor(lastRollout, ENDED, 60_000);
      load = startLoad(w.routerUrl, 80);
      const rollout =
        c.identical === true
          ? await w.deploy(c.version, {}, join(w.root, "artifacts", live))
          : await w.deploy(c.version, c.canary ?? {});
      const id = (lastRollout = rollout.id);
      const stable = live;
      await waitForPhase(w, id, c.version, c);
      const edge = w.edgePid();
      expect(edge).toBeDefined();

      let before: LiveInstance[];
      if (c.fault === "kill -9") {
        await w.killAgent();
        // Read with no agent running: exactly what the next agent finds and must adopt.
        before = w.liveInstances();
        const atKill = load.snapshot();
        // The scenario itself, not a wait for something: no agent runs for this long.
        await sleep(DOWN_MS);
        const whileDown = load.snapshot();
        expect((whileDown.byStatus["200"] ?? 0) - (atKill.byStatus["200"] ?? 0)).toBeGreaterThan(20);
        ok(whileDown);
        await w.startAgent();
      } else {
        before = w.liveInstances();
        await w.restartAgent();
      }
      const after = w.liveInstances();
      expectAdopted(before, after, c.mayGo?.(stable) ?? []);
      expect(w.edgePid(), "the edge outlived the agent").toBe(edge);

      const done = await w.waitFor(id, ENDED, 60_000);
      const state = stateOf(done);
      console.log(
        `${c.name}: ${done.status}, verdicts ${JSON.stringify(state.verdicts)}, ` +
          `instances at the fault ${before.map((i) => `${i.id}:${i.pid}`).join(" ")}`,
      );
      expect(done.status, done.reason ?? "").toBe("succeeded");
      expect(state.verdicts.fail).toBe(0);
      expect(state.verdicts.setAside).toBeGreaterThanOrEqual(c.setAside ? 1 : 0);
      const verdicts = await w.verdicts(id);
      expect(verdicts.filter((v) => v.result === "fail")).toEqual([]);
      if (c.setAside) {
        const reasons = verdicts.map((v) => (v.verdict as { reason?: string } | null)?.reason);
        expect(reasons).toContain("set-aside");
      }
      const events = (await w.rolloutEvents(id)).map((e) => e.type);
      expect(events.filter((t) => t === "rollout.promoted")).toHaveLength(1);
      expect(events).not.toContain("rollout.rolled-back");

      // The canary's instances the new agent adopted are the ones serving now: never restarted since.
      const canaryAtFault = before.filter((i) => i.release === c.version);
      expectAdopted(canaryAtFault, w.liveInstances(), []);
      expect((await w.hit()).body).toBe(c.version);
      const seen = await load.stop();
      load = undefined;
      ok(seen);
      live = c.version;
    },
    120_000,
  );
});
