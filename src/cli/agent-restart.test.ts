/**
 * `slipway agent restart` with no supervisor around (the `up` that started the agent is gone): the
 * command starts the new agent itself, which adopts the instance. Real processes: the built agent,
 * started detached as `up` starts it, and the built CLI.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentClient, type AgentState } from "../agent/index.js";
import { runCli } from "../test-support/cli.js";
import { waitFor } from "../test-support/wait-for.js";

const AGENT_MAIN = fileURLToPath(new URL("../../dist/agent/main.js", import.meta.url));

describe("slipway agent restart without a supervisor", () => {
  let dir: string;
  let dataDir: string;

  async function agentState(): Promise<AgentState | undefined> {
    try {
      const token = readFileSync(join(dataDir, "agent", "agent.token"), "utf8").trim();
      const client = createAgentClient({ socketPath: join(dataDir, "agent", "agent.sock"), token });
      try {
        return await client.state();
      } finally {
        await client.close();
      }
    } catch {
      return undefined;
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-agent-restart-"));
    dataDir = join(dir, ".slipway");
    spawn(process.execPath, [AGENT_MAIN, "--data-dir", dataDir], { detached: true, stdio: "ignore" }).unref();
    const state = await waitFor(agentState, { what: "the agent to answer" });
    const token = readFileSync(join(dataDir, "agent", "agent.token"), "utf8").trim();
    const client = createAgentClient({ socketPath: join(dataDir, "agent", "agent.sock"), token });
    await client.startInstance({
      id: "idle-1",
      service: "idle",
      env: "test",
      release: "v1",
      command: `${process.execPath} -e "setInterval(() => {}, 1000)"`,
      cwd: dir,
    });
    await client.close();
    await waitFor(async () => (await agentState())?.instances[0]?.pid, { what: "the instance's process" });
    expect(state.agent.pid).toBeGreaterThan(0);
  }, 30_000);

  afterAll(async () => {
    const state = await agentState();
    if (state !== undefined) process.kill(state.agent.pid, "SIGTERM");
    await waitFor(async () => (await agentState()) === undefined, { what: "the agent to stop" }).catch(
      () => undefined,
    );
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("starts the new agent itself, which adopts the instance (same pid)", async () => {
    const before = await agentState();
    const res = await runCli(["--data-dir", dataDir, "agent", "restart"], { cwd: dir, timeoutMs: 60_000 });
    expect(res.code, res.stderr).toBe(0);
    const after = await agentState();
    expect(after?.agent.pid).not.toBe(before?.agent.pid);
    expect(res.stdout).toContain(
      `Agent pid ${String(before?.agent.pid)} exited for a restart; pid ${String(after?.agent.pid)} answers (started by this command).`,
    );
    expect(res.stdout).toContain("adopted 1 instance (same pids)");
    expect(after?.instances[0]?.pid).toBe(before?.instances[0]?.pid);
  }, 60_000);

  it("says no agent answers when none does, exit 1", async () => {
    const empty = join(dir, "empty");
    const res = await runCli(["--data-dir", empty, "agent", "restart"], { cwd: dir });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`error: no node agent answers on ${join(empty, "agent", "agent.sock")}`);
  });
});
