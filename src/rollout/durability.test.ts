import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Rollout } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import type { SlotView } from "./controller.js";
import { ensureBuilt, ProcessWorld, type Behaviour } from "./process-fixtures.js";
import { startLoad, type LoadResult } from "./test-fixtures.js";
import type { RolloutState } from "./types.js";

/** Two 2 s steps judged every second, then a 5 s watch: every phase lasts long enough to be caught. */
const ROLLOUT =
  "{ strategy: canary, steps: [{ weight: 20, pause: 2s }, { weight: 50, pause: 2s }], " +
  "analysis: { interval: 1s, minSamples: 10, checks: [{ metric: error-rate, max: 5% }] }, watch: 5s }";
const DOWN_MS = 2_000;

interface Case {
  name: string;
  /** True while the rollout is in the phase to kill the control plane in. */
  during: (r: Rollout, s: RolloutState, slot: SlotView) => boolean;
  canary: Behaviour;
  /** Releases whose instances must all run on, with the same pids, after the restart (more may start). */
  keeps: string[];
}

const CASES: Case[] = [
  {
    name: "instances starting (scaling)",
    // Once the canary's instance runs but is not ready yet: a slow start keeps it so for 2.5 s.
    during: (r, s, slot) =>
      r.status === "progressing" &&
      s.phase === "scaling" &&
      ProcessWorld.running(slot, "v2").some((i) => i.pid !== undefined && !i.ready),
    canary: { startDelayMs: 2_500 },
    keeps: ["v1", "v2"],
  },
  {
    name: "during a canary step (phase step)",
    during: (r, s) => r.status === "progressing" && s.phase === "step",
    canary: {},
    keeps: ["v1", "v2"],
  },
  {
    name: "during the watch (status watching)",
    // The slot view comes from the controller's last tick, the status from the store: on a loaded
    // machine the view can still say v1 is stable just after the promotion was stored. Wait until both
    // say the watch has begun, so the pids compared below are v2's.
    during: (r, _s, slot) => r.status === "watching" && slot.stable === "v2",
    canary: {},
    // v1 is warm until the watch ends; it may expire before the restarted control plane reports.
    keeps: ["v2"],
  },
];

const ENDED: Rollout["status"][] = ["succeeded", "rolled-back", "failed", "aborted"];

/** Polls the rollout and the slot until `during` holds; returns both as they were then. */
async function waitForPhase(
  w: ProcessWorld,
  id: number,
  { during, name }: Case,
): Promise<{ rollout: Rollout; slot: SlotView }> {
  const seen = await waitFor(
    async () => {
      const [rollout, slot] = await Promise.all([w.rollout(id), w.slot()]);
      const caught = during(rollout, rollout.state as unknown as RolloutState, slot);
      // An ended rollout stops the wait at once: the phase can no longer come.
      if (caught || ENDED.includes(rollout.status)) return { rollout, slot, caught };
      throw new Error(`rollout ${id} is ${rollout.status} ${JSON.stringify(rollout.state)}`);
    },
    { what: `rollout ${id} ${name}`, timeoutMs: 60_000, intervalMs: 50 },
  );
  if (!seen.caught) {
    throw new Error(
      `never saw rollout ${id} ${name}: ${seen.rollout.status} ${JSON.stringify(seen.rollout.state)}`,
    );
  }
  return { rollout: seen.rollout, slot: seen.slot };
}

function ok(seen: LoadResult): void {
  expect(seen.socketErrors).toBe(0);
  expect(Object.keys(seen.byStatus)).toEqual(["200"]);
}

describe("control-plane kill -9 mid-rollout (agent and control plane as processes)", () => {
  let world: ProcessWorld | undefined;
  let load: ReturnType<typeof startLoad> | undefined;

  beforeAll(() => {
    ensureBuilt();
  }, 180_000);

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    await world?.stop();
    world = undefined;
  });

  it.each(CASES)(
    "$name: the agent keeps serving, the rollout resumes from its stored state and succeeds",
    async (c) => {
      const w = (world = await new ProcessWorld().start({ rollout: ROLLOUT }));
      await w.waitFor((await w.deploy("v1")).id, ["succeeded"]);
      load = startLoad(w.routerUrl, 80);
      const { id } = await w.deploy("v2", c.canary);
      const { rollout: before, slot: slotBefore } = await waitForPhase(w, id, c);

      await w.killControlPlane();
      const atKill = load.snapshot();
      // The scenario itself, not a wait for something: the control plane stays down this long.
      await sleep(DOWN_MS);
      // The agent keeps serving with the last route table while nobody drives it.
      const hits = await Promise.all(Array.from({ length: 5 }, () => w.hit()));
      expect(hits.map((h) => h.status)).toEqual([200, 200, 200, 200, 200]);
      const whileDown = load.snapshot();
      expect((whileDown.byStatus["200"] ?? 0) - (atKill.byStatus["200"] ?? 0)).toBeGreaterThan(40);
      ok(whileDown);

      await w.startControlPlane();
      const resumed = await w.rollout(id);
      expect(resumed.revision).toBeGreaterThanOrEqual(before.revision);
      const s0 = before.state as unknown as RolloutState;
      const s1 = resumed.state as unknown as RolloutState;
      // Still in the phase it was killed in: it carries on with that phase's clock, not a new one.
      if (s1.phase === s0.phase && s1.step === s0.step) expect(s1.phaseSince).toBe(s0.phaseSince);
      expect(s1.step).toBeGreaterThanOrEqual(s0.step);

      // Same instances, same processes: the restart neither restarted nor replaced anything.
      const slotAfter = await w.slot();
      const stable = slotBefore.stable;
      expect(stable).not.toBeNull();
      const pids = (view: typeof slotBefore, version: string) =>
        ProcessWorld.running(view, version)
          .map((i) => `${i.id}:${i.pid ?? "-"}`)
          .sort();
      expect(pids(slotBefore, stable ?? "")).toHaveLength(2);
      expect(pids(slotAfter, stable ?? "")).toEqual(pids(slotBefore, stable ?? ""));
      for (const version of c.keeps) {
        expect(pids(slotBefore, version).length, version).toBeGreaterThan(0);
        expect(pids(slotAfter, version), version).toEqual(expect.arrayContaining(pids(slotBefore, version)));
      }
      const after = new Map(slotAfter.releases.flatMap((r) => r.running.map((i) => [i.id, i.pid])));
      for (const i of slotBefore.releases.flatMap((r) => r.running)) {
        if (after.has(i.id)) expect(after.get(i.id), i.id).toBe(i.pid);
      }

      const done = await w.waitFor(id, ["succeeded", "rolled-back", "failed", "aborted"], 60_000);
      expect(done.status, done.reason ?? "").toBe("succeeded");
      expect((await w.hit()).body).toBe("v2");
      const seen = await load.stop();
      load = undefined;
      ok(seen);
      expect(seen.byRelease.v2).toBeGreaterThan(0);

      // One rollout, each transition once: the restarted control plane did not start it over.
      const events = await w.rolloutEvents(id);
      const count = (type: string, step?: number) =>
        events.filter((e) => e.type === type && (step === undefined || e.payload.step === step)).length;
      expect(count("rollout.step", 1)).toBe(1);
      expect(count("rollout.step", 2)).toBe(1);
      expect(count("rollout.promoted")).toBe(1);
      expect(count("rollout.succeeded")).toBe(1);
      const rollouts = await w.api<Rollout[]>("GET", "/api/v1/rollouts?service=web");
      expect(rollouts.map((r) => r.release).sort()).toEqual(["v1", "v2"]);
    },
    150_000,
  );
});
