import { afterEach, describe, expect, it } from "vitest";
import { DeliveryWorld, startLoad } from "./test-fixtures.js";

describe("rollouts end to end (agent + control plane in process, SQLite)", () => {
  let world: DeliveryWorld | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it("deploys a first release, then canaries a good one to 100% with verdicts", async () => {
    world = await new DeliveryWorld().start({
      rollout:
        "{ strategy: canary, steps: [{ weight: 20, pause: 1s }, { weight: 50, pause: 1s }], analysis: { interval: 1s, minSamples: 10, checks: [{ metric: error-rate, max: 5% }] } }",
    });
    const first = await world.deploy("v1");
    expect(first.strategy).toBe("initial");
    await world.waitFor(first.id, ["succeeded"]);
    expect((await world.hit()).body).toBe("v1");

    const load = startLoad(world.routerUrl, 100);
    const second = await world.deploy("v2");
    expect(second.strategy).toBe("canary");
    const done = await world.waitFor(second.id, ["succeeded", "watching"]);
    const seen = await load.stop();
    expect(done.status).toBe("succeeded");
    expect(seen.socketErrors).toBe(0);
    expect(Object.keys(seen.byStatus)).toEqual(["200"]);
    expect(seen.byRelease.v2).toBeGreaterThan(0);
    expect((await world.hit()).body).toBe("v2");
    const detail = await world.api<{ verdicts: { result: string }[] }>(
      "GET",
      `/api/v1/rollouts/${second.id}`,
    );
    expect(detail.verdicts.some((v) => v.result === "pass")).toBe(true);
    // The control plane's /metrics carries the data plane's figures: the routers' per release, the agent's.
    const metrics = await (await fetch(`${world.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^slipway_agent_scrape_success 1$/m);
    expect(metrics).toMatch(
      /^slipway_router_requests_total\{[^}]*release="v2"[^}]*code_class="2xx"[^}]*\} [1-9]\d*$/m,
    );
    expect(metrics).toContain(
      'slipway_agent_instances{service="web",env="production",release="v2",phase="ready"} 2',
    );
    expect(metrics).toMatch(/^slipway_loop_ticks_total\{loop="rollouts"\} \d+$/m);
  }, 60_000);

  it("rolls a failing canary back on its own", async () => {
    world = await new DeliveryWorld().start({
      rollout:
        "{ strategy: canary, steps: [{ weight: 30, pause: 20s }], analysis: { interval: 1s, minSamples: 20, checks: [{ metric: error-rate, max: 1%, vsBaseline: +0.5pp }] } }",
    });
    await world.waitFor((await world.deploy("v1")).id, ["succeeded"]);
    const load = startLoad(world.routerUrl, 100);
    const bad = await world.deploy("v2", { failRate: 0.3 });
    const done = await world.waitFor(bad.id, ["rolled-back"], 20_000);
    const seen = await load.stop();
    expect(done.reason).toMatch(/analysis failed at step 1/);
    expect((await world.hit()).body).toBe("v1");
    expect(seen.socketErrors).toBe(0);
    const releases = await world.api<{ version: string; environments: { state: string }[] }[]>(
      "GET",
      "/api/v1/services/web/releases",
    );
    expect(releases.find((r) => r.version === "v2")?.environments[0]?.state).toBe("rolled-back");
  }, 60_000);
});
