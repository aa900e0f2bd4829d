/**
 * Rollouts when something goes wrong: a missing artifact, a release that cannot start, one that never
 * becomes healthy, one that ignores SIGTERM, one that hangs, commands at the wrong time, two deploys at
 * once, an agent that goes away, bad request bodies. Each must end in one clear outcome with nothing
 * left half-done. Nothing here asserts on timing; waits are bounded only to fail with a state.
 */
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { Agent as HttpAgent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Rollout } from "../store/index.js";
import {
  agentInstances,
  DeliveryWorld,
  deployments,
  eventsOf,
  isAlive,
  startLoad,
  waitUntil,
  type LoadResult,
} from "./test-fixtures.js";

const RPS = 100;
const SLOT = "/api/v1/services/web/environments/production";

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { path: string; message: string; keys?: string[] }[];
}

interface HangProofResult {
  sent: number;
  byStatus: Record<string, number>;
  byRelease: Record<string, number>;
  /** Connection errors other than our own timeout. */
  socketErrors: number;
  /** Requests the client gave up on after `timeoutMs` without response headers. */
  timedOut: number;
  inFlight: number;
  /** Still waiting when the load was stopped (aborted then, so the stop never waits). */
  abandoned: number;
}

/**
 * Like `startLoad`, for targets that hang: each request on its own connection if need be (a hanging
 * request never queues another behind it), a client-side timeout, and a stop that aborts what is
 * still waiting instead of draining it.
 */
function hangProofLoad(url: string, rps: number, timeoutMs: number) {
  const result: HangProofResult = {
    sent: 0,
    byStatus: {},
    byRelease: {},
    socketErrors: 0,
    timedOut: 0,
    inFlight: 0,
    abandoned: 0,
  };
  const dispatcher = new HttpAgent({ connections: 1024 });
  const inflight = new Map<Promise<void>, AbortController>();
  let stopping = false;
  const timer = setInterval(() => {
    result.sent += 1;
    result.inFlight += 1;
    const abort = new AbortController();
    const p = request(url, {
      dispatcher,
      signal: abort.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    })
      .then(async (res) => {
        const body = await res.body.text();
        result.byStatus[res.statusCode] = (result.byStatus[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200) result.byRelease[body] = (result.byRelease[body] ?? 0) + 1;
      })
      .catch((err: unknown) => {
        const code = (err as { code?: string }).code;
        if (stopping && abort.signal.aborted) result.abandoned += 1;
        else if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") result.timedOut += 1;
        else result.socketErrors += 1;
      })
      .finally(() => {
        result.inFlight -= 1;
        inflight.delete(p);
      });
    inflight.set(p, abort);
  }, 1000 / rps);
  return {
    snapshot: (): HangProofResult => structuredClone(result),
    stop: async (): Promise<HangProofResult> => {
      clearInterval(timer);
      stopping = true;
      for (const abort of inflight.values()) abort.abort();
      await Promise.all([...inflight.keys()]);
      await dispatcher.close();
      return structuredClone(result);
    },
  };
}

describe("rollout faults (agent + control plane in process, SQLite)", () => {
  let world: DeliveryWorld | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  let stopClients: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await load?.stop();
    load = undefined;
    await stopClients?.();
    stopClients = undefined;
    await world?.stop();
    world = undefined;
  });

  async function started(rollout: string, extra: { run?: string; instances?: number } = {}) {
    world = await new DeliveryWorld().start({ rollout, ...extra });
    return world;
  }

  async function liveV1(w: DeliveryWorld, behaviour: Parameters<DeliveryWorld["deploy"]>[1] = {}) {
    const first = await w.deploy("v1", behaviour);
    const done = await w.waitFor(first.id, ["succeeded", "failed"]);
    expect(done.status).toBe("succeeded");
    expect((await w.hit()).body).toBe("v1");
    return done;
  }

  const rollouts = (w: DeliveryWorld) => w.api<Rollout[]>("GET", "/api/v1/rollouts?limit=1000");
  const releases = (w: DeliveryWorld) =>
    w.api<{ version: string; environments: { state: string }[] }[]>("GET", "/api/v1/services/web/releases");

  /** What the release store holds for web (it is written before the release row). */
  function storedArtifacts(w: DeliveryWorld): string[] {
    const dir = join(w.dataDir, "releases");
    return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
  }

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
  }

  /** Waits until the agent runs only ready instances of `release` (`count` of them). */
  async function expectOnly(w: DeliveryWorld, release: string, count: number): Promise<void> {
    await waitUntil(`only ${count} ready ${release} instances`, async () => {
      const all = await agentInstances(w);
      return all.length === count && all.every((i) => i.release === release && i.ready);
    });
  }

  it("an artifact directory that does not exist: 400 naming the path, nothing created", async () => {
    const w = await started("{ strategy: rolling }");
    const missing = join(w.root, "no-such-build", "dist");
    const res = await w.call("POST", "/api/v1/deploys", {
      service: "web",
      env: "production",
      version: "v1",
      artifact: missing,
    });
    expect(res.status).toBe(400);
    const problem = res.body as Problem;
    expect(problem.code).toBe("artifact_invalid");
    expect(problem.detail).toContain(missing);
    expect(await rollouts(w)).toEqual([]);
    expect(await releases(w)).toEqual([]);
    expect(await eventsOf(w, "release.,rollout.")).toEqual([]);
    expect(storedArtifacts(w)).toEqual([]);
    expect(await agentInstances(w)).toEqual([]);
  });

  it("a crash loop rolls back with the instance's last log line as the reason", async () => {
    const w = await started("{ strategy: rolling }");
    await liveV1(w);
    load = startLoad(w.routerUrl, 20);
    const startedAt = Date.now();
    const bad = await w.deploy("v2", { crash: true });
    const done = await w.waitFor(bad.id, ["succeeded", "rolled-back", "failed"], 120_000);
    const tookMs = Date.now() - startedAt;
    console.info(`crash loop: rollout ${done.status} ${tookMs} ms after the deploy; reason: ${done.reason}`);
    expect(done.status).toBe("rolled-back");
    expect(done.reason).toContain("boom: this release cannot start");
    expect(done.reason).toMatch(/^instance web\.production\.v2\.\d+ failed/);
    await expectOnly(w, "v1", 2);
    expect(await answers(w)).toEqual({ "200 v1": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
    const view = await deployments(w);
    expect(view.slots[0]?.stable).toBe("v1");
    expect((await releases(w)).find((r) => r.version === "v2")?.environments[0]?.state).toBe("rolled-back");
  }, 150_000);

  it("a health path that answers 500 forever is rolled back at the progress deadline", async () => {
    const w = await started("{ strategy: rolling, progressDeadline: 3s }");
    await liveV1(w);
    load = startLoad(w.routerUrl, RPS);
    const bad = await w.deploy("v2", { unhealthy: true });
    const done = await w.waitFor(bad.id, ["succeeded", "rolled-back", "failed"]);
    expect(done.status).toBe("rolled-back");
    expect(done.reason).toMatch(/no progress for 3s \(progress deadline\)/);
    await expectOnly(w, "v1", 2);
    expect(await answers(w)).toEqual({ "200 v1": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
    expect(Object.keys(seen.byRelease)).toEqual(["v1"]);
  }, 60_000);

  it("instances that ignore SIGTERM are killed after stopTimeout; replacing them works", async () => {
    const w = await started("{ strategy: rolling }", { run: "stopTimeout: 1s" });
    await liveV1(w, { ignoreTerm: true });
    load = startLoad(w.routerUrl, RPS);
    const pidsOf = async (release: string) =>
      (await deployments(w)).slots[0]?.releases
        .filter((r) => r.version === release)
        .flatMap((r) => r.running.map((i) => i.pid ?? -1)) ?? [];

    const v1Pids = await pidsOf("v1");
    expect(v1Pids).toHaveLength(2);
    expect(v1Pids.every((pid) => pid > 0 && isAlive(pid))).toBe(true);
    const second = await w.deploy("v2", { ignoreTerm: true });
    expect((await w.waitFor(second.id, ["succeeded", "rolled-back", "failed"])).status).toBe("succeeded");
    await waitUntil("the v1 processes to be gone", () => v1Pids.every((pid) => !isAlive(pid)));

    const v2Pids = await pidsOf("v2");
    expect(v2Pids).toHaveLength(2);
    const third = await w.deploy("v3");
    expect((await w.waitFor(third.id, ["succeeded", "rolled-back", "failed"])).status).toBe("succeeded");
    await waitUntil("the v2 processes to be gone", () => v2Pids.every((pid) => !isAlive(pid)));
    await expectOnly(w, "v3", 2);
    expect(await answers(w)).toEqual({ "200 v3": 20 });
    const seen = await load.stop();
    load = undefined;
    expectZeroDowntime(seen);
  }, 60_000);

  it("a canary that hangs requests is rolled back at the deadline and the stable keeps answering", async () => {
    const w = await started(
      "{ strategy: canary, steps: [{ weight: 20, pause: 30s }], progressDeadline: 3s, analysis: { interval: 1s, minSamples: 20, checks: [{ metric: error-rate, max: 5% }] } }",
      { run: "stopTimeout: 1s" },
    );
    await liveV1(w);
    // Clients wait longer than the router's 30 s headers timeout, on enough connections that the
    // hanging ones never hold up the others.
    const clients = hangProofLoad(w.routerUrl, RPS, 40_000);
    stopClients = () => clients.stop();
    const startedAt = Date.now();
    const bad = await w.deploy("v2", { hang: true });
    const atDeploy = clients.snapshot();
    const done = await w.waitFor(bad.id, ["succeeded", "rolled-back", "failed"]);
    const rolledBackMs = Date.now() - startedAt;
    const atRollback = clients.snapshot();
    expect(done.status).toBe("rolled-back");
    expect(done.reason).toMatch(/analysis failed|progress deadline/);
    // The stable answered users all along, while the canary's share hung.
    expect(atRollback.byRelease.v1 ?? 0).toBeGreaterThan(atDeploy.byRelease.v1 ?? 0);
    expect(await answers(w)).toEqual({ "200 v1": 20 });
    await expectOnly(w, "v1", 2);
    // Every hanging request got an answer once the canary was stopped (none is left for the drain).
    const seen = await waitUntil("the hanging requests to be answered", () => {
      const now = clients.snapshot();
      return now.inFlight === 0 ? now : undefined;
    });
    await clients.stop();
    stopClients = undefined;
    console.info(
      `hanging canary: ${done.status} ${rolledBackMs} ms after the deploy (${done.reason}); ` +
        `all answered ${Date.now() - startedAt} ms after it; clients saw ${JSON.stringify(seen)}`,
    );
    expect(seen.byRelease.v2).toBeUndefined();
    expect(seen.socketErrors).toBe(0);
    expect(seen.timedOut).toBe(0);
    // The canary's share: answered by the router once the instance was killed (no 30 s wait).
    const statuses = Object.keys(seen.byStatus).filter((s) => s !== "200");
    expect(statuses.every((s) => s === "502" || s === "504")).toBe(true);
  }, 90_000);

  it("a canary whose requests hang is not promoted when clients give up before the router does", async () => {
    // Real clients often time out before the router's 30 s headers timeout: then the router never
    // answers 504; it records a request the client abandoned. The canary answered nothing at all.
    const w = await started(
      "{ strategy: canary, steps: [{ weight: 20, pause: 5s }], analysis: { interval: 1s, minSamples: 20, checks: [{ metric: error-rate, max: 5% }] } }",
      { run: "stopTimeout: 1s" },
    );
    await liveV1(w);
    const clients = hangProofLoad(w.routerUrl, RPS, 3_000);
    stopClients = () => clients.stop();
    const bad = await w.deploy("v2", { hang: true });
    const done = await w.waitFor(bad.id, ["succeeded", "watching", "rolled-back", "failed"], 60_000);
    const seen = await clients.stop();
    stopClients = undefined;
    console.info(
      `hanging canary, impatient clients: ${done.status} (${done.reason}); clients saw ${JSON.stringify(seen)}`,
    );
    const detail = await w.api<{
      verdicts: { result: string; verdict: { message: string; samples: unknown } }[];
    }>("GET", `/api/v1/rollouts/${bad.id}`);
    const passed = detail.verdicts.find((v) => v.result === "pass");
    console.info(
      `its passing verdict: ${JSON.stringify(passed?.verdict.samples)} ${passed?.verdict.message}`,
    );
    expect(seen.byRelease.v2).toBeUndefined();
    expect(seen.timedOut).toBeGreaterThan(0);
    expect(done.status).toBe("rolled-back");
    expect(done.reason).toMatch(/analysis failed at step 1/);
  }, 90_000);

  it("promote on a finished rollout: 409 naming the status, the rollout unchanged", async () => {
    const w = await started("{ strategy: canary, steps: [{ weight: 50, pause: until-promote }] }");
    const first = await liveV1(w);
    const res = await w.call("POST", `${SLOT}/rollout/promote`, {});
    expect(res.status).toBe(409);
    const problem = res.body as Problem;
    expect(problem.code).toBe("rollout_not_active");
    expect(problem.detail).toContain("is succeeded");
    const after = await w.rollout(first.id);
    expect(after.revision).toBe(first.revision);
    expect(after.status).toBe("succeeded");
    expect(after.state).toEqual(first.state);
    expect(await eventsOf(w, "rollout.promote-requested")).toEqual([]);
  });

  it("two deploys of one service at once: exactly one 201 and one 409", async () => {
    const w = await started("{ strategy: rolling }");
    const deploy = (version: string) =>
      w.call("POST", "/api/v1/deploys", {
        service: "web",
        env: "production",
        version,
        artifact: w.artifact(version),
      });

    for (const [a, b] of [
      ["v1a", "v1b"],
      ["v2a", "v2b"],
    ] as const) {
      const results = await Promise.all([deploy(a), deploy(b)]);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      const winner = results.find((r) => r.status === 201)?.body as { rollout: Rollout };
      const loser = results.find((r) => r.status === 409)?.body as Problem;
      expect(["rollout_in_progress", "stale_write"]).toContain(loser.code);
      expect(loser.detail).toContain(`already has rollout ${winner.rollout.id}`);
      expect(loser.detail).toContain("nothing was started");
      const done = await w.waitFor(winner.rollout.id, ["succeeded", "rolled-back", "failed"]);
      expect(done.status).toBe("succeeded");
      expect((await w.hit()).body).toBe(winner.rollout.release);
    }
    const all = await rollouts(w);
    expect(all).toHaveLength(2);
    expect(all.every((r) => r.status === "succeeded")).toBe(true);
    // Never interleaved: the second rollout replaced the first winner, not the loser.
    const [second, first] = all;
    expect(second?.previous).toBe(first?.release);
    // The losers' releases: created before the rollout was refused (reported, not asserted).
    console.info(
      `releases after two races: ${JSON.stringify((await releases(w)).map((r) => [r.version, r.environments]))}`,
    );
  }, 60_000);

  it("an unreachable agent is reported, deploys are refused, and the controller reconnects", async () => {
    const w = await started("{ strategy: rolling }");
    await liveV1(w);
    const storedBefore = storedArtifacts(w);
    await w.agent.stop({ stopInstances: false });

    const down = await waitUntil("the agent to be reported unreachable", async () => {
      const view = await deployments(w);
      return view.agent.reachable ? undefined : view;
    });
    expect(down.agent.error).toBeTruthy();
    console.info(`agent down: ${JSON.stringify(down.agent)}`);

    const res = await w.call("POST", "/api/v1/deploys", {
      service: "web",
      env: "production",
      version: "v2",
      artifact: w.artifact("v2"),
    });
    console.info(`deploy while the agent is down: ${res.status} ${JSON.stringify(res.body)}`);
    expect(res.status).toBe(502);
    const problem = res.body as Problem;
    expect(problem.code).toBe("server_unreachable");
    expect(problem.detail).toMatch(/agent unreachable/);
    expect((await rollouts(w)).map((r) => r.release)).toEqual(["v1"]);
    expect((await releases(w)).map((r) => r.version)).toEqual(["v1"]);
    expect(storedArtifacts(w)).toHaveLength(storedBefore.length);

    await w.startAgent();
    const up = await waitUntil("the agent to be reachable again", async () => {
      const view = await deployments(w);
      return view.agent.reachable ? view : undefined;
    });
    expect(up.agent.error).toBeUndefined();
    await waitUntil("v1 to answer again", async () => (await w.hit().catch(() => undefined))?.body === "v1");
    const second = await w.deploy("v2");
    expect((await w.waitFor(second.id, ["succeeded", "rolled-back", "failed"])).status).toBe("succeeded");
    expect((await w.hit()).body).toBe("v2");
  }, 90_000);

  // An apply refuses an address another process holds (apply-routers.test.ts); here the port is taken
  // while the agent is down, so its restart cannot restore the listener.
  it("a router port taken by another process is reported, and the listener comes up once it is free", async () => {
    const w = await started("{ strategy: rolling }");
    await w.agent.stop({ stopInstances: true });
    const port = w.routerPort;
    const squatter = createServer((_req, res) => res.end("not slipway"));
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    try {
      await w.startAgent();
      const reported = await waitUntil("the environment error", async () => {
        const d = await deployments(w);
        return d.environmentErrors.production;
      });
      expect(reported).toContain(`127.0.0.1:${port}`);
      expect(reported).toMatch(/in use/);
      const [failed] = await eventsOf(w, "environment.router-failed");
      expect(failed?.payload).toMatchObject({ listen: `127.0.0.1:${port}`, code: "address_in_use" });
      // Instances still run; the service answers once the port is free.
      const first = await w.deploy("v1");
      await w.waitFor(first.id, ["succeeded"]);
    } finally {
      await new Promise<void>((resolve) =>
        squatter.close(() => {
          resolve();
        }),
      );
    }
    await waitUntil("the environment error to clear", async () => {
      const d = await deployments(w);
      return d.environmentErrors.production === undefined ? true : undefined;
    });
    expect((await w.hit()).body).toBe("v1");
  }, 60_000);

  it("a deploy inside a freeze window is refused unless overridden, and the override is recorded", async () => {
    world = await new DeliveryWorld().start({
      rollout: "{ strategy: rolling }",
      freeze: ["mon 00:00 - sun 23:59 UTC"],
    });
    const refused = await world.call("POST", "/api/v1/deploys", {
      service: "web",
      env: "production",
      version: "v1",
      artifact: world.artifact("v1"),
    });
    expect(refused.status).toBe(409);
    expect((refused.body as Problem).detail).toMatch(
      /production is frozen \(mon 00:00 - sun 23:59 UTC\) until/,
    );
    expect(await world.api("GET", "/api/v1/rollouts")).toEqual([]);
    const forced = await world.api<{ rollout: Rollout }>("POST", "/api/v1/deploys", {
      service: "web",
      env: "production",
      version: "v1",
      artifact: world.artifact("v1"),
      overrideFreeze: true,
    });
    await world.waitFor(forced.rollout.id, ["succeeded"]);
    const events = await world.api<{ events: { type: string }[] }>("GET", "/api/v1/events?type=deploy.");
    expect(events.events.map((e) => e.type)).toEqual(["deploy.freeze-overridden"]);
  }, 60_000);

  it("bad deploy bodies: 400 naming the field, nothing written", async () => {
    const w = await started("{ strategy: rolling }");
    const good = { service: "web", env: "production", version: "v1", artifact: w.artifact("v1") };
    const cases: { body: Record<string, unknown>; field: RegExp }[] = [
      { body: { ...good, extra: true }, field: /extra/ },
      { body: { ...good, version: "v 1" }, field: /^version: / },
      { body: { ...good, artifact: "build/dist" }, field: /^artifact: .*absolute path/ },
    ];
    for (const { body, field } of cases) {
      const res = await w.call("POST", "/api/v1/deploys", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const problem = res.body as Problem;
      expect(problem.code).toBe("invalid_request");
      expect(problem.detail).toMatch(field);
    }
    expect(await rollouts(w)).toEqual([]);
    expect(await releases(w)).toEqual([]);
    expect(await eventsOf(w, "release.,rollout.")).toEqual([]);
    expect(storedArtifacts(w)).toEqual([]);
  });
});
