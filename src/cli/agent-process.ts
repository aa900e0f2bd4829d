/**
 * The node agent as its own process, seen from the CLI (`up`, `demo`, `agent restart`): so the control
 * plane can be restarted (or killed) without dropping a request or stopping an instance. The agent is
 * started detached, in its own session, with its output in `<dataDir>/agent/agent.out`; its pid goes to
 * `<dataDir>/agent/agent.pid`. An agent that already answers on the data directory's socket (left by
 * an `up` that was killed) is reused, with everything it runs.
 *
 * Which agent is "the" agent is always asked of the socket (`/v1/state`), never remembered: after a
 * restart by a supervisor or by `slipway agent restart`, the pid a caller started with is stale.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createAgentClient, type AgentState } from "../agent/index.js";
import { SlipwayError } from "../util/index.js";

const AGENT_MAIN = fileURLToPath(new URL("../agent/main.js", import.meta.url));
const START_TIMEOUT_MS = 15_000;
/** A probe that gets no answer in this time counts as "not answering" (a hung agent must not hang `up`). */
const PROBE_TIMEOUT_MS = 2_000;

export interface AgentProcess {
  pid: number;
  /** True when an agent was already running and is reused. */
  reused: boolean;
  socketPath: string;
  /**
   * How it ended (`signal SIGKILL`, `code 0`), when this process started it (only a parent hears the
   * signal); undefined for a reused agent.
   */
  exit: Promise<string> | undefined;
  /** SIGTERM, then wait for it to exit (it drains routers and stops instances first). */
  stop(timeoutMs?: number): Promise<void>;
}

export function agentSocketPath(dataDir: string): string {
  return join(resolve(dataDir), "agent", "agent.sock");
}

/** The agent answering on the data directory's socket, or undefined (none, or no answer in time). */
export async function probeAgent(
  dataDir: string,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<AgentState | undefined> {
  const dir = join(dataDir, "agent");
  let token: string;
  try {
    token = readFileSync(join(dir, "agent.token"), "utf8").trim();
  } catch {
    return undefined;
  }
  const client = createAgentClient({ socketPath: join(dir, "agent.sock"), token });
  const timer = new AbortController();
  try {
    return await Promise.race([
      client.state().catch(() => undefined),
      sleep(timeoutMs, undefined, { signal: timer.signal }).catch(() => undefined),
    ]);
  } finally {
    timer.abort();
    client.close().catch(() => undefined);
  }
}

/** Whether `pid` exists (EPERM: it exists but belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether `pid` looks like a node agent (`…/agent/main.js` or `slipway agent` in its command line), so
 * a remembered pid that the system gave to another program since is never signalled. Where /proc
 * cannot be read (not Linux), a live pid is believed.
 */
export function runsAgent(pid: number): boolean {
  if (!isAlive(pid)) return false;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return !existsSync("/proc/self/cmdline");
  }
  return args.slice(1).some((a) => a === "agent" || a.endsWith(`agent${sep}main.js`));
}

/** Resolves true once `pid` is gone, false at the deadline. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** A full stop of the agent `pid`: SIGTERM (it drains routers and stops instances), SIGKILL at the deadline. */
export async function stopAgentPid(pid: number, timeoutMs = 45_000): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  if (!(await waitForExit(pid, timeoutMs))) process.kill(pid, "SIGKILL");
}

function handle(
  pid: number,
  reused: boolean,
  socketPath: string,
  exit: Promise<string> | undefined,
): AgentProcess {
  return {
    pid,
    reused,
    socketPath,
    exit,
    stop: (timeoutMs) => stopAgentPid(pid, timeoutMs),
  };
}

/**
 * Starts a new agent, detached, and resolves once it answers on its socket (its pid is then written to
 * `agent.pid`). Throws with the tail of `agent.out` if it exits or does not answer in time.
 */
export async function startAgent(dataDirArg: string, logLevel = "info"): Promise<AgentProcess> {
  const dataDir = resolve(dataDirArg);
  const dir = join(dataDir, "agent");
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
  const exit = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = signal === null ? `code ${String(code)}` : `signal ${signal}`;
      resolve(exited);
    });
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new SlipwayError("internal", "could not start the node agent");
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const state = await probeAgent(dataDir);
    if (state?.agent.pid === pid) break;
    if (exited !== undefined || Date.now() > deadline) {
      const tail = readFileSync(outPath, "utf8").trim().split("\n").slice(-5).join("\n  ");
      if (exited === undefined) process.kill(pid, "SIGKILL");
      throw new SlipwayError(
        "internal",
        `the node agent did not start (${exited === undefined ? "timed out" : `exited with ${exited}`}):\n  ${tail}`,
        { hint: `see ${outPath} and ${join(dir, "logs")}` },
      );
    }
    await sleep(50);
  }
  writeFileSync(join(dir, "agent.pid"), `${pid}\n`, { mode: 0o600 });
  return handle(pid, false, join(dir, "agent.sock"), exit);
}

/** The agent answering on the data directory's socket, or a new one started detached. */
export async function ensureAgent(dataDirArg: string, logLevel = "info"): Promise<AgentProcess> {
  const dataDir = resolve(dataDirArg);
  const running = await probeAgent(dataDir);
  if (running !== undefined) return handle(running.agent.pid, true, agentSocketPath(dataDir), undefined);
  return startAgent(dataDir, logLevel);
}
