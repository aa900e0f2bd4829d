/**
 * The edge hands its listening sockets to a new edge process (an upgrade) while a steady load runs
 * through it: no request fails, the new edge has another pid and serves the same port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connectEdge, isSameProcess, stopEdgeProcess, type EdgeConnection } from "../edge/index.js";
import { createSilentLogger } from "../log/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import { SteadyLoad, startUpstream, tableTo } from "./edge-fixtures.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function startEdge(): Promise<{ edge: EdgeConnection; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "slipway-edge-"));
  const edge = await connectEdge({ dataDir, logger: createSilentLogger(), drainMs: 500 });
  cleanup.push(async () => {
    const last = await connectEdge({ dataDir, logger: createSilentLogger() }).catch(() => undefined);
    if (last !== undefined) await stopEdgeProcess(last.record, 5_000);
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { edge, dataDir };
}

describe("edge upgrade", () => {
  it("hands every listener to a new edge under load without a failed request", async () => {
    const upstream = await startUpstream();
    cleanup.push(
      () =>
        new Promise((resolve) =>
          upstream.server.close(() => {
            resolve();
          }),
        ),
    );
    const { edge, dataDir } = await startEdge();
    const port = await findFreePort();
    await edge.client.put("production", { listen: `127.0.0.1:${port}`, routes: tableTo(upstream.port) });
    await edge.client.put("staging", {
      listen: `127.0.0.1:${await findFreePort()}`,
      routes: tableTo(upstream.port),
    });

    const load = new SteadyLoad(port);
    await waitFor(() => load.ok >= 100, { what: "load before the upgrade" });
    const upgraded = await edge.client.upgrade();
    expect(upgraded).toMatchObject({ generation: 2 });
    expect(upgraded.pid).not.toBe(edge.state.pid);
    await waitFor(async () => !(await isSameProcess(edge.record)), { what: "the old edge to exit" });
    const okAfterOldExit = load.ok;
    await waitFor(() => load.ok >= okAfterOldExit + 100, { what: "load after the upgrade" });
    await load.stop();

    const adopted = await connectEdge({ dataDir, logger: createSilentLogger() });
    expect(adopted.adopted).toBe(true);
    expect(adopted.state).toMatchObject({ pid: upgraded.pid, generation: 2 });
    expect(adopted.state.envs.map((e) => [e.name, e.address.port])).toEqual(
      expect.arrayContaining([["production", port]]),
    );
    expect(adopted.state.envs).toHaveLength(2);
    console.log(
      `edge upgrade under load: ${load.ok} ok, ${load.failed} failed, ${load.retried} retried on a keep-alive connection the old edge closed`,
    );
    expect(load.failures).toEqual([]);
  }, 60_000);
});
