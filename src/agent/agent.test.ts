import { readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RouteTable } from "../router/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort, SlipwayError } from "../util/index.js";
import { createAgentClient, type AgentClient } from "./client.js";
import { ensureBuilt, isProcessAlive, rawRequest, TestWorld, type RunningAgent } from "./test-fixtures.js";
import type { InstanceEvent } from "./events.js";
import type { AgentSnapshot } from "./types.js";

let world: TestWorld;
const clients: AgentClient[] = [];

beforeAll(() => {
  ensureBuilt();
}, 120_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await world.cleanup();
});

function clientFor(agent: RunningAgent, token = agent.token): AgentClient {
  const client = createAgentClient({ socketPath: agent.socketPath, token });
  clients.push(client);
  return client;
}

function instanceSpec(id: string) {
  return {
    id,
    service: "web",
    env: "production",
    release: "v1",
    command: "exec node app.mjs",
    cwd: world.appDir,
    stopTimeoutMs: 5_000,
    health: { readiness: { http: "/healthz", interval: "100ms" } },
  };
}

function routesTo(targets: { id: string; port: number }[]): RouteTable {
  return {
    services: [
      {
        name: "web",
        pathPrefix: "/",
        releases: [{ name: "v1", weight: 100, targets: targets.map((t) => ({ ...t, host: "127.0.0.1" })) }],
      },
    ],
  };
}

async function startTwoInstances(client: AgentClient, routerPort: number) {
  const a = await client.startInstance(instanceSpec("web-v1-a"));
  const b = await client.startInstance(instanceSpec("web-v1-b"));
  await client.putEnvironment("production", {
    listen: `127.0.0.1:${routerPort}`,
    routes: routesTo([
      { id: a.id, port: a.port },
      { id: b.id, port: b.port },
    ]),
  });
  return waitForReady(client);
}

async function waitForReady(client: AgentClient) {
  const state = await waitFor(
    async () => {
      const s = await client.state();
      return s.instances.length === 2 && s.instances.every((i) => i.ready) ? s : undefined;
    },
    { what: "two ready instances", timeoutMs: 30_000 },
  );
  for (const i of state.instances) world.instancePids.add(i.pid!);
  return state;
}

/** 20 requests through the router; returns the instance ids that answered. */
async function requestThroughRouter(port: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let n = 0; n < 20; n++) {
    const response = await fetch(`http://127.0.0.1:${port}/hello`);
    expect(response.status).toBe(200);
    seen.add((await response.text()).split(" ")[0]!);
  }
  return seen;
}

describe("node agent", () => {
  it("routes to its instances and, after kill -9, adopts them (same pids) and brings the routes back", async () => {
    world = new TestWorld();
    const routerPort = await findFreePort();
    let agent = await world.startAgent();
    let client = clientFor(agent);
    const before = await startTwoInstances(client, routerPort);
    expect(await requestThroughRouter(routerPort)).toEqual(new Set(["web-v1-a", "web-v1-b"]));

    agent.child.kill("SIGKILL");
    await agent.exited;
    const snapshot = JSON.parse(
      readFileSync(join(world.dataDir, "agent", "state.json"), "utf8"),
    ) as AgentSnapshot;
    expect(Object.keys(snapshot.environments)).toEqual(["production"]);
    expect(snapshot.instances.map((i) => i.id).sort()).toEqual(["web-v1-a", "web-v1-b"]);

    agent = await world.startAgent();
    client = clientFor(agent);
    const after = await waitForReady(client);
    expect(after.environments[0]).toMatchObject({ name: "production", listen: `127.0.0.1:${routerPort}` });
    expect(after.instances.map((i) => i.port).sort()).toEqual(before.instances.map((i) => i.port).sort());
    // Adopt, not restart: the same processes serve (restart.test.ts has the faults around this).
    const pids = (state: typeof before) => state.instances.map((i) => i.pid).sort();
    expect(pids(after)).toEqual(pids(before));
    for (const old of before.instances) expect(isProcessAlive(old.pid!)).toBe(true);
    expect(await requestThroughRouter(routerPort)).toEqual(new Set(["web-v1-a", "web-v1-b"]));
    expect((await client.stats("production", "web", "v1")).requests).toBeGreaterThanOrEqual(20);
    expect((await client.logs("web-v1-a", { tail: 5 })).length).toBeGreaterThan(0);
  }, 90_000);

  it("exposes its routers' per-release figures and its own health in Prometheus format", async () => {
    world = new TestWorld();
    const routerPort = await findFreePort();
    const agent = await world.startAgent();
    const client = clientFor(agent);
    await startTwoInstances(client, routerPort);
    await requestThroughRouter(routerPort);
    const text = await client.metrics();
    // The routers' counters, from the edge, per release.
    const answered =
      /^slipway_router_requests_total\{[^}]*release="v1"[^}]*code_class="2xx"[^}]*\} (\d+)$/m.exec(text);
    expect(Number(answered?.[1])).toBe(20);
    // The agent's own.
    expect(text).toContain(
      'slipway_agent_instances{service="web",env="production",release="v1",phase="ready"} 2',
    );
    expect(text).toContain('slipway_agent_environments{env="production"} 1');
    expect(text).toMatch(/^slipway_edge_up 1$/m);
    expect(text).toMatch(/^slipway_edge_generation 1$/m);
    // Every sample line is name{labels} value: nothing a Prometheus parser would refuse.
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eE]+|NaN|[+-]Inf$/);
    }
  }, 60_000);

  it("runs the edge with the router workers it is told to (--edge-workers), and refuses a bad count", async () => {
    world = new TestWorld();
    const routerPort = await findFreePort();
    const agent = await world.startAgent(["--edge-workers", "2"]);
    const client = clientFor(agent);
    await startTwoInstances(client, routerPort);
    expect((await client.state()).edge?.routerProcesses).toBe(2);
    expect(await requestThroughRouter(routerPort)).toEqual(new Set(["web-v1-a", "web-v1-b"]));
    expect((await client.stats("production", "web", "v1")).requests).toBe(20);

    const bad = new TestWorld();
    try {
      await expect(bad.startAgent(["--edge-workers", "lots"])).rejects.toThrow(
        /--edge-workers: expected a number of edge workers from 1 to 64, or auto; found "lots"/,
      );
    } finally {
      await bad.cleanup();
    }
  }, 60_000);

  it("refuses bad bodies and bad tokens without changing anything", async () => {
    world = new TestWorld();
    const agent = await world.startAgent();
    const client = clientFor(agent);
    const listen = `127.0.0.1:${await findFreePort()}`;
    await client.putEnvironment("staging", { listen, routes: { services: [] } });
    const before = await client.state();
    const put = (body: unknown) =>
      rawRequest(agent.socketPath, "PUT", "/v1/environments/staging", {
        token: agent.token,
        body: JSON.stringify(body),
      });

    const extra = await put({ listen, routes: { services: [] }, surprise: 1 });
    expect(extra.status).toBe(400);
    expect(extra.body.code).toBe("invalid_request");
    const split = routesTo([{ id: "x", port: 1234 }]);
    split.services[0]!.releases[0]!.weight = 50;
    const weights = await put({ listen, routes: split });
    expect(weights.status).toBe(400);
    expect(String(weights.body.detail)).toMatch(/weights must sum to 100/);
    const notJson = await rawRequest(agent.socketPath, "PUT", "/v1/environments/staging", {
      token: agent.token,
      body: "{",
    });
    expect(notJson.status).toBe(400);
    const { cwd: _cwd, ...noCwd } = instanceSpec("web-v1-x");
    const missingCwd = await rawRequest(agent.socketPath, "POST", "/v1/instances", {
      token: agent.token,
      body: JSON.stringify(noCwd),
    });
    expect(missingCwd.status).toBe(400);
    expect(missingCwd.body.code).toBe("invalid_request");

    expect((await rawRequest(agent.socketPath, "GET", "/v1/state")).status).toBe(401);
    expect((await rawRequest(agent.socketPath, "GET", "/v1/state", { token: "wrong" })).status).toBe(401);
    await expect(clientFor(agent, "nope").state()).rejects.toMatchObject({ code: "unauthorized" });
    expect(await client.state()).toEqual(before);
  }, 60_000);

  it("answers 409 address_in_use for a taken port and keeps nothing of it", async () => {
    world = new TestWorld();
    const agent = await world.startAgent();
    const client = clientFor(agent);
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    try {
      const address = blocker.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      const answer = await rawRequest(agent.socketPath, "PUT", "/v1/environments/production", {
        token: agent.token,
        body: JSON.stringify({ listen: `127.0.0.1:${port}`, routes: { services: [] } }),
      });
      expect(answer.status).toBe(409);
      expect(answer.body.code).toBe("address_in_use");
      expect(String(answer.body.detail)).toContain(`127.0.0.1:${port}`);
      expect((await client.state()).environments).toEqual([]);
    } finally {
      await new Promise<void>((resolve) =>
        blocker.close(() => {
          resolve();
        }),
      );
    }
  }, 60_000);

  it("refuses to start beside a running agent on the same data dir", async () => {
    world = new TestWorld();
    await world.startAgent();
    await expect(world.startAgent()).rejects.toThrow(/another agent is running/);
  }, 60_000);

  it("stops its instances and exits 0 on SIGTERM", async () => {
    world = new TestWorld();
    const agent = await world.startAgent();
    const client = clientFor(agent);
    const state = await startTwoInstances(client, await findFreePort());
    agent.child.kill("SIGTERM");
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    for (const instance of state.instances) expect(isProcessAlive(instance.pid!)).toBe(false);
  }, 60_000);

  it("stops a listener and an instance on DELETE, and keeps its files private", async () => {
    world = new TestWorld();
    const agent = await world.startAgent();
    const client = clientFor(agent);
    const routerPort = await findFreePort();
    const state = await startTwoInstances(client, routerPort);
    const gone = state.instances.find((i) => i.id === "web-v1-a")!;

    await client.stopInstance("web-v1-a");
    expect(isProcessAlive(gone.pid!)).toBe(false);
    await client.deleteEnvironment("production");
    await expect(fetch(`http://127.0.0.1:${routerPort}/`)).rejects.toThrow();
    const after = await client.state();
    expect(after.environments).toEqual([]);
    expect(after.instances.map((i) => i.id)).toEqual(["web-v1-b"]);
    await expect(client.stopInstance("web-v1-a")).rejects.toMatchObject({ code: "not_found" });

    const snapshot = JSON.parse(
      readFileSync(join(world.dataDir, "agent", "state.json"), "utf8"),
    ) as AgentSnapshot;
    expect(snapshot).toMatchObject({ environments: {}, instances: [{ id: "web-v1-b" }] });
    expect(statSync(agent.socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(world.dataDir, "agent", "agent.token")).mode & 0o777).toBe(0o600);
  }, 60_000);

  it("streams instance state changes with increasing ids", async () => {
    world = new TestWorld();
    const agent = await world.startAgent();
    const client = clientFor(agent);
    const status = await client.startInstance(instanceSpec("web-v1-e"));
    world.instancePids.add(status.pid!);
    // From the start of the backlog, so nothing published before the stream opened is missed.
    const seen: InstanceEvent[] = [];
    const abort = new AbortController();
    for await (const event of client.events({ lastEventId: 0, signal: abort.signal })) {
      seen.push(event);
      if (event.instance.ready) abort.abort();
    }
    expect(seen.at(-1)?.instance).toMatchObject({ id: "web-v1-e", phase: "ready" });
    const seqs = seen.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);

    expect(seqs.length).toBeGreaterThan(1);
    // Resuming after the first event replays the rest.
    const replay: number[] = [];
    const again = new AbortController();
    for await (const event of client.events({ lastEventId: seqs[0]!, signal: again.signal })) {
      replay.push(event.seq);
      if (replay.length === seqs.length - 1) again.abort();
    }
    expect(replay).toEqual(seqs.slice(1));
  }, 60_000);

  it("reports an unreachable agent as server_unreachable naming the socket", async () => {
    world = new TestWorld();
    const socketPath = join(world.root, "nobody.sock");
    const client = createAgentClient({ socketPath, token: "x" });
    clients.push(client);
    const error = await client.state().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlipwayError);
    expect(error).toMatchObject({ code: "server_unreachable" });
    expect((error as Error).message).toContain(socketPath);
  });
});
