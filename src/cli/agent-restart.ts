/**
 * `slipway agent restart`: a planned restart or upgrade of the node agent without stopping what it
 * runs. The running agent gets SIGUSR2 ("exit for a restart": instances and the edge are left running
 * for the next agent to adopt), and once it has exited a new agent is started and asked what it adopted.
 *
 * Exactly one party starts the new agent, or two would race for the socket:
 * - a live `slipway up` supervises this data directory (supervise-record.ts): it sees the exit and
 *   starts the new agent itself; this command only waits for it;
 * - the agent ran in the foreground (`slipway agent`, as the systemd unit runs it): its supervisor
 *   (systemd, `Restart=always`) starts the new one; this command waits for it;
 * - otherwise (a detached agent whose `up` is gone): this command starts it, as `up` would.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { AgentState } from "../agent/index.js";
import { SlipwayError } from "../util/index.js";
import { agentSocketPath, probeAgent, startAgent, waitForExit } from "./agent-process.js";
import { liveSupervisor } from "./supervise-record.js";

const EXIT_TIMEOUT_MS = 45_000;
const SUPERVISOR_TIMEOUT_MS = 30_000;

export interface AgentRestartResult {
  oldPid: number;
  newPid: number;
  /** Who started the new agent. */
  startedBy: string;
  /** Instances the old agent ran (with a process). */
  instances: number;
  /** Of those, how many the new agent runs with the same pid. */
  adopted: number;
}

/**
 * @example
 *   const r = await restartAgent(".slipway", "info");
 *   console.log(`adopted ${r.adopted} of ${r.instances} instances`);
 */
export async function restartAgent(dataDir: string, logLevel: string): Promise<AgentRestartResult> {
  const before = await probeAgent(dataDir);
  if (before === undefined) {
    throw new SlipwayError("not_running", `no node agent answers on ${agentSocketPath(dataDir)}`, {
      hint: "start one with `slipway up` (or `slipway agent`, or `systemctl start slipway-agent`)",
    });
  }
  const oldPid = before.agent.pid;
  const supervisor = liveSupervisor(dataDir);
  const startedBy =
    supervisor?.kind === "up"
      ? `slipway up (pid ${supervisor.pid})`
      : supervisor?.kind === "foreground" && supervisor.pid === oldPid
        ? "its supervisor (it ran in the foreground, e.g. under systemd)"
        : undefined;
  try {
    process.kill(oldPid, "SIGUSR2");
  } catch (err) {
    throw new SlipwayError("not_running", `cannot signal the node agent pid ${oldPid}`, { cause: err });
  }
  if (!(await waitForExit(oldPid, EXIT_TIMEOUT_MS))) {
    throw new SlipwayError("internal", `the node agent pid ${oldPid} did not exit within 45 s of SIGUSR2`, {
      hint: "see its log in <data-dir>/agent/logs; nothing else was changed",
    });
  }
  let newPid: number;
  if (startedBy === undefined) {
    newPid = (await startAgent(dataDir, logLevel)).pid;
  } else {
    newPid = await waitForNewAgent(dataDir, oldPid, startedBy);
  }
  const after = await settledState(dataDir, newPid, before);
  return {
    oldPid,
    newPid,
    startedBy: startedBy ?? "this command",
    ...countAdopted(before, after),
  };
}

async function waitForNewAgent(dataDir: string, oldPid: number, startedBy: string): Promise<number> {
  const deadline = Date.now() + SUPERVISOR_TIMEOUT_MS;
  for (;;) {
    const state = await probeAgent(dataDir);
    if (state !== undefined && state.agent.pid !== oldPid) return state.agent.pid;
    if (Date.now() > deadline) {
      throw new SlipwayError(
        "not_running",
        `the node agent pid ${oldPid} exited for a restart, but no new agent answered within 30 s (expected from ${startedBy}); its instances run on`,
        { hint: "start it again: `slipway up`, `systemctl start slipway-agent` or `slipway agent`" },
      );
    }
    await sleep(100);
  }
}

/** The new agent's state once it lists at least the instances the old one ran (or after 5 s). */
async function settledState(
  dataDir: string,
  pid: number,
  before: AgentState,
): Promise<AgentState | undefined> {
  const deadline = Date.now() + 5_000;
  let last: AgentState | undefined;
  for (;;) {
    const state = await probeAgent(dataDir);
    if (state?.agent.pid === pid) last = state;
    if ((last !== undefined && last.instances.length >= before.instances.length) || Date.now() > deadline)
      return last;
    await sleep(100);
  }
}

/** Instances with a process before, and how many of them the new agent runs with the same pid. */
export function countAdopted(
  before: AgentState,
  after: AgentState | undefined,
): { instances: number; adopted: number } {
  const running = before.instances.filter((i) => i.pid !== undefined);
  const now = new Map((after?.instances ?? []).map((i) => [i.id, i.pid]));
  return { instances: running.length, adopted: running.filter((i) => now.get(i.id) === i.pid).length };
}
