/**
 * `kill -9` of the edge: the agent's watch sees its pid gone, starts a new edge at once and puts every
 * table again. Requests fail only in the gap, which the test measures and prints.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import { SteadyLoad, startUpstream, tableTo } from "./edge-fixtures.js";
import { Environments } from "./environments.js";
import { isProcessAlive } from "./test-fixtures.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe("edge kill -9", () => {
  it("is respawned by the agent with every table put again; requests fail only in the gap", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "slipway-edge-respawn-"));
    const upstream = await startUpstream();
    const environments = new Environments({
      dataDir,
      logger: createSilentLogger(),
      now: Date.now,
      drainMs: 200,
      isOutOfRotation: () => false,
    });
    cleanup.push(async () => {
      await environments.stopAll({ leaveRunning: false });
      upstream.server.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const port = await findFreePort();
    await environments.put("production", { listen: `127.0.0.1:${port}`, routes: tableTo(upstream.port) });
    await environments.put("staging", {
      listen: `127.0.0.1:${await findFreePort()}`,
      routes: tableTo(upstream.port),
    });
    const first = environments.edgeInfo();
    expect(first).toBeDefined();

    const load = new SteadyLoad(port);
    await waitFor(() => load.ok >= 100, { what: "load before the kill" });
    const killedAt = performance.now();
    process.kill(first!.pid, "SIGKILL");
    await waitFor(() => !isProcessAlive(first!.pid), { what: "the edge to die" });
    const second = await waitFor(
      () => environments.edgeInfo()?.pid !== first!.pid && environments.edgeInfo(),
      {
        what: "a new edge",
      },
    );
    const okAtRespawn = load.ok;
    await waitFor(() => load.ok >= okAtRespawn + 100, { what: "requests through the new edge" });
    // Failures only in the gap: none once the new edge serves.
    const failedInGap = load.failed;
    const okAfterGap = load.ok;
    await waitFor(() => load.ok >= okAfterGap + 100, { what: "more requests through the new edge" });
    await load.stop();
    expect(load.failed).toBe(failedInGap);

    expect(second.generation).toBe(1);
    expect(environments.list().map((e) => [e.name, e.address?.port !== undefined])).toEqual([
      ["production", true],
      ["staging", true],
    ]);
    expect(environments.list()[0]?.address?.port).toBe(port);
    const lastFailure = load.failures.at(-1)?.at ?? killedAt;
    console.log(
      `edge kill -9: ${load.failed} failed requests over ${Math.round(load.gapMs())} ms (first to last failure); ` +
        `service back ${Math.round(lastFailure - killedAt)} ms after the kill; ${load.ok} ok`,
    );
  }, 60_000);
});
