/**
 * The control plane on a real store and a real listener, started where a later part cannot start (the
 * listen port is taken): what started before it must be stopped, the store closed, and no error left
 * unhandled (vitest fails the run on one). Also: the rollout controller's loop is counted on /metrics.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentLink } from "../rollout/index.js";
import { SQLITE_FILE_NAME } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { startServer, type RunningServer, type ServerSettings } from "./index.js";

/** An agent that is never reachable; it records every use, so a tick after the stop would show. */
function unreachableAgent(calls: string[]): AgentLink {
  return {
    socketPath: "/nonexistent/agent.sock",
    client() {
      calls.push("client");
      return Promise.reject(new Error("no agent in this test"));
    },
    reset() {
      calls.push("reset");
    },
    close() {
      calls.push("close");
      return Promise.resolve();
    },
  };
}

function takePort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") reject(new Error("no port"));
      else resolve({ server, port: address.port });
    });
  });
}

describe("the control plane's start and stop order", () => {
  let root: string;
  let dataDir: string;
  let taken: Server | undefined;
  let running: RunningServer | undefined;
  const settings = (port: number): ServerSettings => ({
    listen: { host: "127.0.0.1", port },
    dataDir,
    databaseUrl: undefined,
    logLevel: "info",
  });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "slipway-start-order-"));
    dataDir = join(root, ".slipway");
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    const port = taken;
    if (port !== undefined) await new Promise((resolve) => port.close(resolve));
    taken = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it("stops the controller and closes the store when the listen port is taken", async () => {
    const port = await takePort();
    taken = port.server;
    const calls: string[] = [];
    await expect(
      startServer({
        settings: settings(port.port),
        agent: unreachableAgent(calls),
        logger: pino({ level: "silent" }),
        tickMs: 10,
      }),
    ).rejects.toMatchObject({ code: "address_in_use" });
    // The controller had started (its first tick asked for the agent) and was stopped (it closed the link).
    expect(calls).toContain("client");
    expect(calls.at(-1)).toBe("close");
    // SQLite removes the write-ahead log when the last connection to the database closes.
    expect(existsSync(join(dataDir, SQLITE_FILE_NAME))).toBe(true);
    expect(existsSync(join(dataDir, `${SQLITE_FILE_NAME}-wal`))).toBe(false);

    // A whole start and stop of another server on the same data directory gives a stray tick of the
    // first controller time to happen: there is none.
    const after = calls.length;
    running = await startServer({ settings: settings(0), logger: pino({ level: "silent" }), tickMs: 10 });
    await running.controller.settle();
    await running.stop();
    running = undefined;
    expect(calls.length).toBe(after);
  });

  it("counts the rollout controller's ticks on /metrics", async () => {
    const calls: string[] = [];
    running = await startServer({
      settings: settings(0),
      agent: unreachableAgent(calls),
      logger: pino({ level: "silent" }),
      tickMs: 10,
    });
    const url = running.url;
    const sample = (text: string, name: string) =>
      Number(new RegExp(`^${name}\\{loop="rollouts"\\} (\\S+)$`, "m").exec(text)?.[1] ?? "NaN");
    const text = await waitFor(
      async () => {
        const body = await (await fetch(`${url}/metrics`)).text();
        return sample(body, "slipway_loop_ticks_total") >= 1 && body;
      },
      { what: "the controller's ticks on /metrics" },
    );
    expect(sample(text, "slipway_loop_tick_errors_total")).toBe(0);
    expect(sample(text, "slipway_loop_tick_seconds_total")).toBeGreaterThanOrEqual(0);
    // The pipeline scheduler is counted beside it.
    expect(text).toMatch(/^slipway_loop_ticks_total\{loop="pipelines"\} \d+$/m);
  });
});
