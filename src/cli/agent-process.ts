/**
 * `slipway up` runs the node agent as its own process, so the control plane can be restarted (or
 * killed) without dropping a request or stopping an instance. The agent is started detached, in its
 * own session, with its output in `<dataDir>/agent/agent.out`; its pid goes to
 * `<dataDir>/agent/agent.pid`. An agent that already answers on the data directory's socket (left by
 * an `up` that was killed) is reused, with everything it runs.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createAgentClient, type AgentState } from "../agent/index.js";
import { SlipwayError } from "../util/index.js";

const AGENT_MAIN = fileURLToPath(new URL("../agent/main.js", import.meta.url));
const START_TIMEOUT_MS = 15_000;

export interface AgentProcess {
  pid: number;
  /** True when an agent was already running and is reused. */
  reused: boolean;
  socketPath: string;
  /** SIGTERM, then wait for it to exit (it drains routers and stops instances first). */
  stop(timeoutMs?: number): Promise<void>;
}

async function probe(dataDir: string): Promise<AgentState | undefined> {
  const dir = join(dataDir, "agent");
  let token: string;
  try {
    token = readFileSync(join(dir, "agent.token"), "utf8").trim();
  } catch {
    return undefined;
  }
  const client = createAgentClient({ socketPath: join(dir, "agent.sock"), token });
  try {
    return await client.state();
  } catch {
    return undefined;
  } finally {
    await client.close().catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function handle(pid: number, reused: boolean, socketPath: string): AgentProcess {
  return {
    pid,
    reused,
    socketPath,
    async stop(timeoutMs = 45_000) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        return;
      }
      const deadline = Date.now() + timeoutMs;
      while (isAlive(pid) && Date.now() < deadline) await sleep(50);
      if (isAlive(pid)) process.kill(pid, "SIGKILL");
    },
  };
}

export async function ensureAgent(dataDirArg: string, logLevel = "info"): Promise<AgentProcess> {
  const dataDir = resolve(dataDirArg);
  const dir = join(dataDir, "agent");
  const socketPath = join(dir, "agent.sock");
  const running = await probe(dataDir);
  if (running !== undefined) return handle(running.agent.pid, true, socketPath);

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const outPath = join(dir, "agent.out");
  const out = openSync(outPath, "a", 0o600);
  const child = spawn(process.execPath, [AGENT_MAIN, "--data-dir", dataDir, "--log-level", logLevel], {
    detached: true,
    stdio: ["ignore", out, out],
    env: { ...process.env, SLIPWAY_TOKEN: undefined },
  });
  closeSync(out);
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `exited with ${signal ?? String(code)}`;
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new SlipwayError("internal", "could not start the node agent");
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const state = await probe(dataDir);
    if (state !== undefined) break;
    if (exited !== undefined || Date.now() > deadline) {
      const tail = readFileSync(outPath, "utf8").trim().split("\n").slice(-5).join("\n  ");
      if (exited === undefined) process.kill(pid, "SIGKILL");
      throw new SlipwayError(
        "internal",
        `the node agent did not start (${exited ?? "timed out"}):\n  ${tail}`,
        {
          hint: `see ${outPath} and ${join(dir, "logs")}`,
        },
      );
    }
    await sleep(50);
  }
  writeFileSync(join(dir, "agent.pid"), `${pid}\n`, { mode: 0o600 });
  return handle(pid, false, socketPath);
}
