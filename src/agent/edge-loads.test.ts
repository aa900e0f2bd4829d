/**
 * The edge is the one process every request depends on, and it runs on every node: it must load the
 * router and Node's builtins, not the agent's API server (fastify), its schemas (zod), the stores'
 * drivers or any control-plane domain. Traces every module `dist/edge/main.js` resolves while it
 * serves a listener, checks the list, and prints its module count and idle RSS for the footprint notes.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { startModuleTrace } from "../test-support/loaded-modules.js";
import { createEdgeClient, edgePaths } from "../edge/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import { tableTo, startUpstream } from "./edge-fixtures.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = join(ROOT, "dist/edge/main.js");

const FORBIDDEN_PACKAGES = ["fastify", "zod", "kysely", "better-sqlite3", "pg", "undici", "pino", "yaml"];
const FORBIDDEN_DIRS = [
  "store",
  "api",
  "rollout",
  "pipeline",
  "agent",
  "config",
  "server",
  "cli",
  "runtime",
  "judge",
];

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return Math.round(kb / 102.4) / 10;
}

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("the edge's footprint", () => {
  it("serves a listener loading only the router and builtins, and reports its idle RSS", async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-edge-loads-"));
    const dataDir = join(dir, "data");
    const paths = edgePaths(dataDir);
    const trace = startModuleTrace();
    onTestFinished(() => {
      trace.dispose();
    });
    mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    const token = "slw_edge_test_token_of_enough_length_0123456789";
    writeFileSync(paths.token, `${token}\n`, { mode: 0o600 });

    const child = spawn(process.execPath, [...trace.nodeArgs, MAIN, "--data-dir", dataDir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once("exit", done));
    const upstream = await startUpstream();
    let idle = 0;
    try {
      await waitFor(() => output.includes("slipway edge listening") || child.exitCode !== null, {
        what: "the edge to listen",
        timeoutMs: 20_000,
      });
      expect(child.exitCode, output).toBeNull();
      // Exercise every endpoint and a proxied request, so modules loaded on first use are traced too.
      const client = createEdgeClient({ socketPath: paths.socket, token });
      const port = await findFreePort();
      expect(await client.checkListen(`127.0.0.1:${port}`)).toMatchObject({ available: true });
      await client.put("staging", { listen: `127.0.0.1:${port}`, routes: tableTo(upstream.port) });
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain("ok");
      expect((await client.stats("staging", "web", "v1")).requests).toBe(1);
      expect(await client.metrics()).toContain("slipway_router_requests_total");
      expect((await client.state()).envs).toHaveLength(1);
      idle = rssMb(child.pid!);
    } finally {
      child.kill("SIGTERM");
      upstream.server.close();
    }
    expect(await exited, output).toBe(0);

    const { files } = trace.loaded();
    const ours = files.filter((path) => path.startsWith(join(ROOT, "dist") + "/"));
    const packages = files.filter((path) => path.includes("/node_modules/"));
    console.log(
      `edge: ${files.length} modules loaded (${ours.length} of Slipway's, ${packages.length} from packages); RSS ${idle} MB with one listener (under the tracing loader)`,
    );
    expect(ours).toContain(MAIN);
    const wrongDomains = ours.filter((path) =>
      FORBIDDEN_DIRS.some((name) => path.startsWith(join(ROOT, "dist", name) + "/")),
    );
    expect(wrongDomains).toEqual([]);
    const heavy = packages.filter((path) =>
      FORBIDDEN_PACKAGES.some((name) => path.includes(`/node_modules/${name}/`)),
    );
    expect(heavy).toEqual([]);
  }, 30_000);
});
