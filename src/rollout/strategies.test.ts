/**
 * Each rollout strategy end to end under steady client load (about 100 requests per second through
 * the environment's router): where the strategy promises zero downtime, clients must see only 200s
 * and no socket errors. Nothing here asserts on timing; waits are bounded only to fail with a state.
 */
import { afterEach, describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import type { Rollout } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import {
  agentInstances,
  DeliveryWorld,
  deployments,
  eventsOf,
  startLoad,
  waitUntil,
  type LoadResult,
} from "./test-fixtures.js";
import type { RolloutState } from "./types.js";

const RPS = 100;
const SLOT = "/api/v1/services/web/environments/production";

const stateOf = (r: Rollout): RolloutState => r.state as unknown as RolloutState;

interface StoredVerdictJson {
  phase: string;
  step: number | null;
  result: "pass" | "fail" | "inconclusive";
  verdict: { samples: { canary: { requests: number }; baseline: { requests: number } } };
}

describe("rollout strategies under load (agent + control plane in process, SQLite)", () => {
  let world: DeliveryWorld | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  afterEach(async () => {
    await load?.stop();
    load = undefined;
    await world?.stop();
    world = undefined;
  });

  /** Starts a world with `rollout`, deploys v1 (optionally with a behaviour) and waits until it is live. */
  async function liveWorld(
    rollout: string,
    options: { instances?: number; v1?: Parameters<DeliveryWorld["deploy"]>[1] } = {},
  ): Promise<DeliveryWorld> {
    world = await new DeliveryWorld().start({ rollout, instances: options.instances ?? 2 });
    const first = await world.deploy("v1", options.v1 ?? {});
    expect(first.strategy).toBe("initial");
    await world.waitFor(first.id, ["succeeded"]);
    expect((await world.hit()).body).toBe("v1");
    return world;
  }

  /** Several answers through the router, by body. */
  async function answers(w: DeliveryWorld, n = 20): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i += 1) {
      const res = await w.hit();
      const key = `${res.status} ${res.body}`;
      seen[key] = (seen[key] ?? 0) + 1;
    }
    return seen;
  }

  function expectZeroDowntime(seen: LoadResult): void {
    expect(seen.socketErrors).toBe(0);
    expect(Object.keys(seen.byStatus)).toEqual(["200"]);
    expect(seen.sent).toBeGreaterThan(0);
  }

  /** Waits until the agent runs exactly `count` instances of web, all of `release` and ready. */
  async function expectOnly(w: DeliveryWorld, release: string, count: number): Promise<void> {
    const instances = await waitUntil(`only ${count} ready ${release} instances`, async () => {
      const all = await agentInstances(w);
      return all.length === count && all.every((i) => i.release === release && i.ready) ? all : undefined;
    });
    expect(instances.map((i) => i.release)).toEqual(Array(count).fill(release));
  }

  async function pidsOf(w: DeliveryWorld, release: string): Promise<number[]> {
    return (await agentInstances(w))
      .filter((i) => i.release === release)
      .map((i) => i.pid ?? -1)
      .sort((a, b) => a - b);
  }

  async function command(w: DeliveryWorld, name: string, body?: unknown) {
    return w.call("POST", `${SLOT}/rollout/${name}`, body);
  }

  it("rolling (maxSurge 1, maxUnavailable 0): every request 200, ends with 3 v2 instances", async () => {
    const w = await liveWorld("{ strategy: rolling, maxSurge: 1, maxUnavailable: 0 }", { instances: 3 });
    load = startLoad(w.routerUrl, RPS);
    const second = await w.deploy("v2");
    expect(second.strategy).toBe("rolling");
    const done = await w.waitFor(second.id, ["succeeded", "rolled-back", "failed"]);
    expect(done.status).toBe("succeeded");
    expect(await answers(w)).toEqual({ "200 v2": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
    expect(seen.byRelease.v1).toBeGreaterThan(0);
    expect(seen.byRelease.v2).toBeGreaterThan(0);

    await expectOnly(w, "v2", 3);
    const view = await deployments(w);
    const slot = view.slots.find((s) => s.service === "web" && s.env === "production");
    expect(slot?.stable).toBe("v2");
    expect(slot?.releases.map((r) => [r.version, r.role, r.instances, r.ready])).toEqual([
      ["v2", "stable", 3, 3],
    ]);
    const promoted = await eventsOf(w, "rollout.promoted");
    expect(promoted.map((e) => e.payload.release)).toEqual(["v1", "v2"]);
  }, 90_000);

  it("rolling (maxSurge 0, maxUnavailable 1): every request 200, ends with 3 v2 instances", async () => {
    const w = await liveWorld("{ strategy: rolling, maxSurge: 0, maxUnavailable: 1 }", { instances: 3 });
    load = startLoad(w.routerUrl, RPS);
    const second = await w.deploy("v2");
    const done = await w.waitFor(second.id, ["succeeded", "rolled-back", "failed"]);
    expect(done.status).toBe("succeeded");
    expect(stateOf(done).spec).toMatchObject({ maxSurge: 0, maxUnavailable: 1 });
    expect(await answers(w)).toEqual({ "200 v2": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
    await expectOnly(w, "v2", 3);
    expect((await eventsOf(w, "rollout.promoted")).map((e) => e.payload.release)).toEqual(["v1", "v2"]);
  }, 90_000);

  it("blue-green without analysis: switches, keeps v1 warm, and a rollback is instant", async () => {
    const w = await liveWorld("{ strategy: blue-green }");
    load = startLoad(w.routerUrl, RPS);
    const v1Pids = await pidsOf(w, "v1");
    expect(v1Pids).toHaveLength(2);

    const second = await w.deploy("v2");
    expect(second.strategy).toBe("blue-green");
    const done = await w.waitFor(second.id, ["succeeded", "rolled-back", "failed"]);
    expect(done.status).toBe("succeeded");
    expect(await answers(w)).toEqual({ "200 v2": 20 });
    const releases = await w.api<{ version: string; environments: { state: string }[] }[]>(
      "GET",
      "/api/v1/services/web/releases",
    );
    const stateOfRelease = (v: string) => releases.find((r) => r.version === v)?.environments[0]?.state;
    expect(stateOfRelease("v2")).toBe("live");
    expect(stateOfRelease("v1")).toBe("warm");
    // Warm means still running: the very same processes as before the switch.
    expect(await pidsOf(w, "v1")).toEqual(v1Pids);

    const started = Date.now();
    const res = await w.call("POST", `${SLOT}/rollback`, {});
    expect(res.status).toBe(200);
    const back = res.body as Rollout;
    expect(back).toMatchObject({ strategy: "rollback", release: "v1", previous: "v2" });
    const finished = await w.waitFor(back.id, ["succeeded", "rolled-back", "failed"]);
    const tookMs = Date.now() - started;
    expect(finished.status).toBe("succeeded");
    // Instant: nothing was started for it; the warm processes took the traffic back.
    expect(await pidsOf(w, "v1")).toEqual(v1Pids);
    expect(await answers(w)).toEqual({ "200 v1": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
    console.info(`blue-green rollback to warm v1 finished ${tookMs} ms after the request`);
  }, 90_000);

  it("blue-green with analysis: judged in preview on the controller's test traffic, then switched", async () => {
    const w = await liveWorld(
      "{ strategy: blue-green, analysis: { interval: 1s, minSamples: 20, checks: [{ metric: error-rate, max: 5% }] } }",
    );
    load = startLoad(w.routerUrl, RPS);
    const second = await w.deploy("v2");
    // While the rollout is still in preview, no user has been answered by v2.
    // Watched at every poll until the rollout leaves progressing; what was seen is asserted after the
    // wait (an assertion failing inside the condition would only count as "not yet").
    const clients = load;
    let previewSeen = false;
    let v2AnswersInPreview: number | undefined;
    await waitFor(
      async () => {
        const before = clients.snapshot();
        const r = await w.rollout(second.id);
        if (r.status !== "progressing") return true;
        if (stateOf(r).phase === "preview") {
          previewSeen = true;
          v2AnswersInPreview ??= before.byRelease.v2;
        }
        return false;
      },
      { what: `rollout ${second.id} to leave progressing`, timeoutMs: 60_000, intervalMs: 50 },
    );
    expect(v2AnswersInPreview).toBeUndefined();
    const done = await w.waitFor(second.id, ["succeeded", "rolled-back", "failed"]);
    expect(done.status).toBe("succeeded");
    expect(await answers(w)).toEqual({ "200 v2": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);

    const detail = await w.api<{ verdicts: StoredVerdictJson[] }>("GET", `/api/v1/rollouts/${second.id}`);
    const preview = detail.verdicts.filter((v) => v.phase === "preview");
    expect(preview.some((v) => v.result === "pass")).toBe(true);
    // v2 served requests before the switch although users got none from it: the preview traffic.
    expect(Math.max(...preview.map((v) => v.verdict.samples.canary.requests))).toBeGreaterThanOrEqual(20);
    const events = await eventsOf(w, "rollout.preview,rollout.promoted");
    expect(events.filter((e) => e.payload.release === "v2").map((e) => e.type)).toEqual([
      "rollout.preview",
      "rollout.promoted",
    ]);
    console.info(`blue-green preview phase observed by polling: ${previewSeen}`);
  }, 90_000);

  it("blue-green with analysis: a bad release is rolled back before the switch; users saw only v1", async () => {
    const w = await liveWorld(
      "{ strategy: blue-green, analysis: { interval: 1s, minSamples: 20, checks: [{ metric: error-rate, max: 5% }] } }",
    );
    load = startLoad(w.routerUrl, RPS);
    const bad = await w.deploy("v2", { failRate: 0.5 });
    const done = await w.waitFor(bad.id, ["succeeded", "rolled-back", "failed"]);
    expect(done.status).toBe("rolled-back");
    expect(done.reason).toMatch(/analysis failed before the switch/);
    expect(await answers(w)).toEqual({ "200 v1": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
    expect(Object.keys(seen.byRelease)).toEqual(["v1"]);
    await expectOnly(w, "v1", 2);
  }, 90_000);

  it("canary until-promote: holds, pause/resume/promote through the API, abort goes back", async () => {
    const w = await liveWorld("{ strategy: canary, steps: [{ weight: 50, pause: until-promote }] }");
    load = startLoad(w.routerUrl, RPS);
    const second = await w.deploy("v2");
    expect(second.strategy).toBe("canary");
    const atStep = await waitUntil("the canary to reach its step", async () => {
      const r = await w.rollout(second.id);
      return stateOf(r).phase === "step" ? r : undefined;
    });
    expect(atStep.status).toBe("progressing");
    // Holds: a while later it is still there, with both releases answering. The sleep is the scenario
    // (nothing may happen during it), not a wait for something.
    await sleep(1500);
    const held = await w.rollout(second.id);
    expect(held.status).toBe("progressing");
    expect(stateOf(held)).toMatchObject({ phase: "step", step: 0, weight: 50 });
    const during = load.snapshot();
    expect(during.byRelease.v1).toBeGreaterThan(0);
    expect(during.byRelease.v2).toBeGreaterThan(0);

    const paused = await command(w, "pause");
    expect(paused.status).toBe(200);
    expect((paused.body as Rollout).status).toBe("paused");
    expect((await w.rollout(second.id)).status).toBe("paused");
    const resumed = await command(w, "resume");
    expect(resumed.status).toBe(200);
    expect((resumed.body as Rollout).status).toBe("progressing");
    const promoted = await command(w, "promote", {});
    expect(promoted.status).toBe(200);
    const done = await w.waitFor(second.id, ["succeeded", "rolled-back", "failed", "aborted"]);
    expect(done.status).toBe("succeeded");
    expect(await answers(w)).toEqual({ "200 v2": 20 });

    // Abort: a third release held at its step goes away and all traffic is back on v2.
    const third = await w.deploy("v3");
    await waitUntil("v3 to reach its step", async () => {
      const r = await w.rollout(third.id);
      return stateOf(r).phase === "step" ? r : undefined;
    });
    const aborted = await command(w, "abort");
    expect(aborted.status).toBe(200);
    expect((aborted.body as Rollout).status).toBe("aborted");
    expect((await w.rollout(third.id)).status).toBe("aborted");
    await expectOnly(w, "v2", 2);
    expect(await answers(w)).toEqual({ "200 v2": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
    expect(seen.byRelease.v3).toBeGreaterThan(0);
    const releases = await w.api<{ version: string; environments: { state: string }[] }[]>(
      "GET",
      "/api/v1/services/web/releases",
    );
    expect(releases.find((r) => r.version === "v3")?.environments[0]?.state).toBe("rolled-back");
  }, 90_000);

  it("canary with watch: watching after promotion, then succeeded; rollback while watching is instant", async () => {
    const w = await liveWorld(
      "{ strategy: canary, steps: [{ weight: 50, pause: 2s }], watch: 3s, analysis: { interval: 1s, minSamples: 20, checks: [{ metric: error-rate, max: 5% }] } }",
    );
    load = startLoad(w.routerUrl, RPS);
    const v1Pids = await pidsOf(w, "v1");

    // v2: promoted, watched, then undone by a rollback while watching.
    const second = await w.deploy("v2");
    const watching = await w.waitFor(second.id, ["watching", "succeeded", "rolled-back", "failed"]);
    expect(watching.status).toBe("watching");
    expect(watching.reason).toMatch(/watching for 3s/);
    const res = await w.call("POST", `${SLOT}/rollback`, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: second.id, status: "rolled-back" });
    // The previous release was warm: the same processes answer again, nothing restarted.
    expect(await pidsOf(w, "v1")).toEqual(v1Pids);
    expect(await answers(w)).toEqual({ "200 v1": 20 });
    await expectOnly(w, "v1", 2);

    // v3: promoted, watched for 3 s, then succeeded.
    const third = await w.deploy("v3");
    expect(third.previous).toBe("v1");
    const watched = await w.waitFor(third.id, ["watching", "succeeded", "rolled-back", "failed"]);
    expect(watched.status).toBe("watching");
    const done = await w.waitFor(third.id, ["succeeded", "rolled-back", "failed"]);
    expect(done.status).toBe("succeeded");
    expect(done.reason).toMatch(/watched for 3s without a failed verdict/);
    expect(await answers(w)).toEqual({ "200 v3": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
    const detail = await w.api<{ verdicts: StoredVerdictJson[] }>("GET", `/api/v1/rollouts/${third.id}`);
    expect(detail.verdicts.some((v) => v.phase === "watching")).toBe(true);
  }, 90_000);

  it("latency: a canary slower than x1.25 the stable's p95 is rolled back", async () => {
    const w = await liveWorld(
      "{ strategy: canary, steps: [{ weight: 50, pause: 30s }], analysis: { interval: 1s, minSamples: 20, checks: [{ metric: latency-p95, vsBaseline: x1.25 }] } }",
      { v1: { delayMs: 10 } },
    );
    load = startLoad(w.routerUrl, RPS);
    const slow = await w.deploy("v2", { delayMs: 40 });
    const done = await w.waitFor(slow.id, ["succeeded", "rolled-back", "failed"]);
    expect(done.status).toBe("rolled-back");
    expect(done.reason).toMatch(/analysis failed at step 1/);
    expect(done.reason).toMatch(/p95/i);
    expect(await answers(w)).toEqual({ "200 v1": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
  }, 90_000);
});
