/**
 * The node agent is the data plane: it must start without loading the control plane (the config loader
 * and its YAML parser, the store and its database drivers, the API server and its OpenAPI plugin, the
 * rollout controller, pipelines, the scheduler). Each of those costs memory on every node, and a data
 * plane that imports them can break when they change. This test starts the built agent under an ESM
 * loader hook that records every module it resolves, plus the CommonJS modules in `require.cache` at
 * exit, and checks the list. It also prints the module count, for the footprint notes.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { startModuleTrace } from "../test-support/loaded-modules.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import { createAgentClient } from "./client.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = join(ROOT, "dist/agent/main.js");

const CONTROL_PLANE_PACKAGES = ["@fastify/swagger", "kysely", "better-sqlite3", "pg", "croner", "yaml"];
const CONTROL_PLANE_DIRS = [
  "store",
  "api",
  "rollout",
  "pipeline",
  "config",
  "server",
  "cli",
  "release",
  "secrets",
];

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("the node agent's footprint", () => {
  it("starts, serves and stops without loading any control-plane module or package", async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-agent-loads-"));
    const trace = startModuleTrace();
    onTestFinished(() => {
      trace.dispose();
    });

    const child = spawn(process.execPath, [...trace.nodeArgs, MAIN, "--data-dir", join(dir, "data")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once("exit", done));
    try {
      await waitFor(() => output.includes("slipway agent listening on") || child.exitCode !== null, {
        what: "the agent to listen",
        timeoutMs: 20_000,
      });
      expect(child.exitCode, output).toBeNull();
      // Exercise the API and a router listener, so modules loaded on first use are in the trace too.
      const agentDir = join(dir, "data", "agent");
      const token = readFileSync(join(agentDir, "agent.token"), "utf8").trim();
      const client = createAgentClient({ socketPath: join(agentDir, "agent.sock"), token });
      try {
        const listen = `127.0.0.1:${await findFreePort()}`;
        expect(await client.checkListen(listen)).toMatchObject({ available: true });
        await client.putEnvironment("staging", { listen, routes: { services: [] } });
        expect((await client.state()).environments.map((e) => e.name)).toEqual(["staging"]);
      } finally {
        await client.close();
      }
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited, output).toBe(0);

    const { files } = trace.loaded();
    const ours = files.filter((path) => path.startsWith(join(ROOT, "dist") + "/"));
    const packages = files.filter((path) => path.includes("/node_modules/"));
    console.log(
      `node agent: ${files.length} modules loaded (${ours.length} of Slipway's, ${packages.length} from packages)`,
    );
    expect(ours).toContain(MAIN);

    const controlPlane = ours.filter((path) =>
      CONTROL_PLANE_DIRS.some((name) => path.startsWith(join(ROOT, "dist", name) + "/")),
    );
    expect(controlPlane).toEqual([]);
    const heavy = packages.filter((path) =>
      CONTROL_PLANE_PACKAGES.some((name) => path.includes(`/node_modules/${name}/`)),
    );
    expect(heavy).toEqual([]);
  }, 30_000);
});
