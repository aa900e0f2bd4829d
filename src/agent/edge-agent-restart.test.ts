/**
 * The router listeners live in the edge, not in the agent: `kill -9` of the agent under a steady load
 * fails no request, and the next agent adopts the same edge (same pid) and puts its tables again.
 * A full stop of the agent (SIGTERM) stops the edge with it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAgentClient, type AgentClient } from "./client.js";
import { SteadyLoad, startUpstream, tableTo } from "./edge-fixtures.js";
import { ensureBuilt, isProcessAlive, TestWorld, type RunningAgent } from "./test-fixtures.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";

let world: TestWorld | undefined;
const clients: AgentClient[] = [];
beforeAll(() => {
  ensureBuilt();
});
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await world?.cleanup();
  world = undefined;
});

function clientFor(agent: RunningAgent): AgentClient {
  const client = createAgentClient({ socketPath: agent.socketPath, token: agent.token });
  clients.push(client);
  return client;
}

function edgePid(dataDir: string): number {
  return (JSON.parse(readFileSync(join(dataDir, "agent", "edge.pid"), "utf8")) as { pid: number }).pid;
}

describe("agent kill -9 with the edge serving", () => {
  it("fails no request, and the next agent adopts the same edge", async () => {
    world = new TestWorld();
    const upstream = await startUpstream();
    try {
      const port = await findFreePort();
      let agent = await world.startAgent();
      await clientFor(agent).putEnvironment("production", {
        listen: `127.0.0.1:${port}`,
        routes: tableTo(upstream.port),
      });
      const before = await clientFor(agent).state();
      expect(before.edge).toMatchObject({ generation: 1 });
      const pid = edgePid(world.dataDir);
      expect(before.edge?.pid).toBe(pid);

      const load = new SteadyLoad(port);
      await waitFor(() => load.ok >= 100, { what: "load before the kill" });
      agent.child.kill("SIGKILL");
      await agent.exited;
      const okAtKill = load.ok;
      await waitFor(() => load.ok >= okAtKill + 100, { what: "requests served with no agent" });

      agent = await world.startAgent();
      const after = await waitFor(
        async () => {
          const state = await clientFor(agent).state();
          return state.environments[0]?.address !== undefined && state;
        },
        { what: "the new agent to restore its environment" },
      );
      expect(after.edge).toMatchObject({ pid, generation: 1, startedAt: before.edge?.startedAt });
      const okAtRestart = load.ok;
      await waitFor(() => load.ok >= okAtRestart + 100, { what: "requests after the restart" });
      await load.stop();
      console.log(`agent kill -9 under load: ${load.ok} ok, ${load.failed} failed, ${load.retried} retried`);
      expect(load.failures).toEqual([]);
      expect(load.retried).toBe(0);

      // A full stop takes the edge down with the agent.
      agent.child.kill("SIGTERM");
      expect((await agent.exited).code).toBe(0);
      expect(isProcessAlive(pid)).toBe(false);
    } finally {
      upstream.server.close();
    }
  }, 90_000);
});
