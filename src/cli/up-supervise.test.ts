/**
 * `slipway up` keeps its agent running and stays out of the way of what runs: real processes (the built
 * CLI, a detached agent, the example's instances), a temporary data directory and free ports.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentClient, type AgentState } from "../agent/index.js";
import { runCli, startCli, type BackgroundCli } from "../test-support/cli.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/shop/", import.meta.url));

/** A zombie is not alive: an adopted instance's parent is PID 1, which does not reap in some sandboxes. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("slipway up supervises its agent", () => {
  let dir: string;
  let dataDir: string;
  let up: BackgroundCli;
  const cli = (...args: string[]) => runCli(args, { cwd: dir, timeoutMs: 60_000 });

  async function agentState(): Promise<AgentState | undefined> {
    const token = readFileSync(join(dataDir, "agent", "agent.token"), "utf8").trim();
    const client = createAgentClient({ socketPath: join(dataDir, "agent", "agent.sock"), token });
    try {
      return await client.state();
    } catch {
      return undefined;
    } finally {
      await client.close();
    }
  }
  const pids = (state: AgentState | undefined) =>
    Object.fromEntries((state?.instances ?? []).map((i) => [i.id, i.pid]));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-up-supervise-"));
    dataDir = join(dir, ".slipway");
    const [production, staging] = [await findFreePort(), await findFreePort()];
    writeFileSync(
      join(dir, "slipway.yaml"),
      readFileSync(join(EXAMPLE, "slipway.yaml"), "utf8")
        .replace(":8080", `:${production}`)
        .replace(":8081", `:${staging}`),
    );
    cpSync(join(EXAMPLE, "web"), join(dir, "web"), { recursive: true });
    up = await startCli(["up", "--listen", "127.0.0.1:0"], {
      cwd: dir,
      ready: (out) => out.includes("Try:"),
    });
    const deployed = await cli(
      "deploy",
      "web",
      "-e",
      "staging",
      "--version",
      "v1",
      "--artifact",
      "web",
      "--wait",
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    await waitFor(async () => (await agentState())?.instances.filter((i) => i.ready).length === 2, {
      what: "two ready instances",
    });
  }, 90_000);

  afterAll(async () => {
    await up.stop("SIGKILL");
    const state = await agentState();
    if (state !== undefined) process.kill(state.agent.pid, "SIGTERM");
    await waitFor(async () => (await agentState()) === undefined, { what: "the agent to stop" }).catch(
      () => undefined,
    );
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("restarts an agent killed with SIGKILL, which adopts the instances; status works after", async () => {
    const before = await agentState();
    if (before === undefined) throw new Error("no agent");
    process.kill(before.agent.pid, "SIGKILL");
    const line = await waitFor(
      () =>
        new RegExp(`agent pid ${before.agent.pid} exited \\(signal SIGKILL\\); restarted as pid (\\d+)`).exec(
          up.output(),
        ),
      { what: "up to restart the agent", timeoutMs: 20_000 },
    );
    const after = await agentState();
    expect(after?.agent.pid).toBe(Number(line[1]));
    expect(pids(after)).toEqual(pids(before));
    // The control plane reads the agent on its own tick: it sees the new one soon, not at once.
    await waitFor(
      async () => {
        const status = await cli("status");
        return status.code === 0 && /staging\s+web\s+v1\s+stable\s+100%\s+2\/2/.test(status.stdout);
      },
      { what: "status to show the agent's two ready instances", timeoutMs: 15_000, intervalMs: 250 },
    );
  }, 40_000);

  it("a second up on the same data dir says so, exits 0 and leaves everything running", async () => {
    const before = await agentState();
    const second = await cli("up", "--listen", "127.0.0.1:0");
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(
      `Slipway is already running on this data dir (control plane pid ${String(up.child.pid)} at `,
    );
    expect(second.stdout).toContain(`agent pid ${String(before?.agent.pid)}); \`slipway status\` shows it.`);
    expect(second.stdout).toContain("slipway.yaml was not applied");
    const after = await agentState();
    expect(after?.agent.pid).toBe(before?.agent.pid);
    expect(pids(after)).toEqual(pids(before));
    expect(up.child.exitCode).toBeNull();
  }, 40_000);

  it("agent restart lets up start the new agent; Ctrl-C of up then stops that new agent", async () => {
    const before = await agentState();
    if (before === undefined) throw new Error("no agent");
    const restart = await cli("agent", "restart");
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stdout).toContain(`Agent pid ${before.agent.pid} exited for a restart`);
    expect(restart.stdout).toContain(`started by slipway up (pid ${String(up.child.pid)})`);
    expect(restart.stdout).toContain("adopted 2 instances (same pids)");
    const after = await agentState();
    if (after === undefined) throw new Error("no agent after the restart");
    expect(after.agent.pid).not.toBe(before.agent.pid);
    expect(pids(after)).toEqual(pids(before));

    expect(await up.stop("SIGINT")).toBe(0);
    expect(up.output()).toContain("Stopped.");
    expect(alive(after.agent.pid)).toBe(false);
    expect(await agentState()).toBeUndefined();
    for (const pid of Object.values(pids(after))) if (pid !== undefined) expect(alive(pid)).toBe(false);
    expect(existsSync(join(dataDir, "agent", "supervisor.json"))).toBe(false);
  }, 60_000);
});
