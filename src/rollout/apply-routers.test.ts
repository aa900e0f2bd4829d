/**
 * `apply` and the environments' routers, on a real agent and control plane with a real port held by a
 * real listener: an address another process holds refuses the apply before anything is written; what
 * only the real bind can tell (the address taken between the check and the bind) is in the apply's
 * answer, in the event log, and in the CLI's exit code.
 */
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { AgentClient } from "../agent/index.js";
import type { Problem } from "../api/index.js";
import { createSilentLogger } from "../log/index.js";
import { startServer } from "../server/index.js";
import { runCli } from "../test-support/cli.js";
import { findFreePort } from "../util/index.js";
import { agentLinkFor, type AgentLink } from "./agent-link.js";
import { deployments, DeliveryWorld, eventsOf, waitUntil } from "./test-fixtures.js";

interface ApplyAnswer {
  applied: boolean;
  revision: number;
  problems: { env: string; listen: string; code: string; message: string }[];
}

const squatters: Server[] = [];

async function squat(port: number): Promise<Server> {
  const server = createServer((socket) => socket.end("not slipway\n"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  squatters.push(server);
  return server;
}

function release(server: Server): Promise<void> {
  return new Promise((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

const yaml = (envs: Record<string, number>) =>
  [
    "project: shop",
    "environments:",
    ...Object.entries(envs).map(([name, port]) => `  ${name}: { router: { listen: 127.0.0.1:${port} } }`),
    "services:",
    "  web: { route: { path: / }, run: { command: node app.mjs } }",
    "",
  ].join("\n");

/**
 * The agent's own link, but another process takes the address right after the agent said it was
 * free: the race the check cannot close, made to happen every time.
 */
function racingLink(dataDir: string): AgentLink {
  const real = agentLinkFor(dataDir);
  return {
    socketPath: real.socketPath,
    reset: () => {
      real.reset();
    },
    close: () => real.close(),
    async client(): Promise<AgentClient> {
      const client = await real.client();
      return {
        ...client,
        async checkListen(listen: string) {
          const answer = await client.checkListen(listen);
          await squat(Number(listen.split(":")[1]));
          return answer;
        },
      };
    },
  };
}

async function startWorld(link?: (dataDir: string) => AgentLink): Promise<DeliveryWorld> {
  const w = new DeliveryWorld();
  await w.startAgent();
  w.server = await startServer({
    settings: {
      listen: { host: "127.0.0.1", port: 0 },
      dataDir: w.dataDir,
      databaseUrl: undefined,
      logLevel: "silent",
    },
    logger: createSilentLogger(),
    tickMs: 100,
    ...(link === undefined ? {} : { agent: link(w.dataDir) }),
  });
  return w;
}

async function apply(w: DeliveryWorld, source: string): Promise<{ status: number; body: unknown }> {
  const plan = await w.api<{ baseRevision: number }>("POST", "/api/v1/config/plan", {
    source,
    file: "slipway.yaml",
  });
  return w.call("POST", "/api/v1/config/apply", {
    source,
    file: "slipway.yaml",
    baseRevision: plan.baseRevision,
  });
}

describe("apply and the routers' addresses (agent + control plane in process, SQLite)", () => {
  let world: DeliveryWorld | undefined;
  afterEach(async () => {
    await Promise.all(squatters.splice(0).map(release));
    await world?.stop();
    world = undefined;
  });

  it("refuses an apply whose router address another process holds, before anything is written", async () => {
    const w = (world = await startWorld());
    const free = await findFreePort();
    expect((await apply(w, yaml({ production: free }))).status).toBe(200);
    const taken = await findFreePort();
    await squat(taken);
    const before = await eventsOf(w, "config.,environment.");

    const res = await apply(w, yaml({ production: taken, staging: await findFreePort() }));
    expect(res.status).toBe(409);
    const problem = res.body as Problem;
    expect(problem.code).toBe("address_in_use");
    expect(problem.detail).toBe(
      `environment production: router: 127.0.0.1:${taken} is already in use; nothing was applied`,
    );
    expect(problem.errors).toEqual([
      {
        env: "production",
        listen: `127.0.0.1:${taken}`,
        code: "address_in_use",
        message: `router: 127.0.0.1:${taken} is already in use`,
      },
    ]);
    expect(await w.api<{ revisions: unknown[] }>("GET", "/api/v1/config/revisions")).toMatchObject({
      revisions: [{ revision: 1 }],
    });
    expect(await eventsOf(w, "config.,environment.")).toEqual(before);
    // The router still serves where it was.
    const agent = await (await w.server.controller.agentClient()).state();
    expect(agent.environments.map((e) => [e.name, e.address?.port])).toEqual([["production", free]]);
  });

  it("reports an address taken after the check in the answer and as an event, and its recovery", async () => {
    const w = (world = await startWorld(racingLink));
    const port = await findFreePort();
    const res = await apply(w, yaml({ staging: port }));
    expect(res.status).toBe(200);
    const answer = res.body as ApplyAnswer;
    expect(answer.applied).toBe(true);
    expect(answer.problems).toEqual([
      expect.objectContaining({
        env: "staging",
        listen: `127.0.0.1:${port}`,
        code: "address_in_use",
        message: `router: 127.0.0.1:${port} is already in use`,
      }),
    ]);
    const [failed] = await eventsOf(w, "environment.router-");
    expect(failed).toMatchObject({
      type: "environment.router-failed",
      payload: {
        listen: `127.0.0.1:${port}`,
        code: "address_in_use",
        message: expect.stringContaining("in use"),
      },
    });
    expect((await deployments(w)).environmentErrors.staging).toContain("in use");

    await Promise.all(squatters.splice(0).map(release));
    const recovered = await waitUntil("the router-recovered event", async () => {
      const events = await eventsOf(w, "environment.router-");
      return events.find((e) => e.type === "environment.router-recovered");
    });
    expect(recovered.payload).toMatchObject({ listen: `127.0.0.1:${port}` });
    expect((await deployments(w)).environmentErrors).toEqual({});
    // Said once each: not one event per tick while the address was taken.
    expect((await eventsOf(w, "environment.router-")).map((e) => e.type)).toEqual([
      "environment.router-failed",
      "environment.router-recovered",
    ]);
  });

  describe("the CLI", () => {
    const cli = (w: DeliveryWorld, args: string[]) =>
      runCli([...args, "--server", w.server.url, "--token", w.server.localToken], { cwd: w.root });

    it("exits 1 with the address and the cause when the apply is refused", async () => {
      const w = (world = await startWorld());
      const taken = await findFreePort();
      await squat(taken);
      writeFileSync(join(w.root, "slipway.yaml"), yaml({ production: taken }));
      const res = await cli(w, ["apply", "-y"]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(
        `error: environment production: router: 127.0.0.1:${taken} is already in use; nothing was applied`,
      );
      expect(res.stdout).not.toContain("Apply complete");
    });

    it("exits 1 naming the environment when its router is not listening after the apply", async () => {
      const w = (world = await startWorld(racingLink));
      const port = await findFreePort();
      writeFileSync(join(w.root, "slipway.yaml"), yaml({ staging: port }));
      const res = await cli(w, ["apply", "-y"]);
      expect(res.code).toBe(1);
      expect(res.stdout).toContain("Apply complete: revision 1");
      expect(res.stderr).toContain(
        `error: environment staging: its router is not listening on 127.0.0.1:${port}: router: 127.0.0.1:${port} is already in use`,
      );
      // Applying again changes nothing, and still says the router is not listening.
      const again = await cli(w, ["apply", "-y", "--json"]);
      expect(again.code).toBe(1);
      expect((JSON.parse(again.stdout) as ApplyAnswer).problems).toMatchObject([{ env: "staging" }]);
    });
  });
});
