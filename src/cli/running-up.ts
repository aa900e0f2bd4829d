/**
 * Whether Slipway already runs on a data directory, asked before `slipway up` starts anything: a second
 * control plane on the same store, or a second agent on the same socket, would fight the first (the
 * port, the socket file, the instances). Two signs, either is enough:
 *
 * - the supervisor record of a live `slipway up` (supervise-record.ts), which names its URL;
 * - the control plane named in `client.json` (what `up` and `server` leave for the CLI) answering an
 *   authenticated `/api/v1/status` with that file's token: a server on this data directory's store,
 *   maybe a `slipway server` with no `up` around it.
 */
import { readClientFile } from "./client-file.js";
import { probeAgent } from "./agent-process.js";
import { liveSupervisor } from "./supervise-record.js";

export interface RunningSlipway {
  /** The `up` process (it runs the control plane in it); undefined when only the URL answered. */
  controlPlanePid: number | undefined;
  url: string;
  /** The agent answering on the data directory's socket, if any. */
  agentPid: number | undefined;
}

const ASK_TIMEOUT_MS = 2_000;

async function answersForThisStore(url: string, token: string | undefined): Promise<boolean> {
  if (token === undefined) return false;
  try {
    const res = await fetch(new URL("/api/v1/status", url), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * @example
 *   const running = await findRunningSlipway(settings.dataDir);
 *   if (running !== undefined) output.out(describeRunning(running));
 */
export async function findRunningSlipway(dataDir: string): Promise<RunningSlipway | undefined> {
  const supervisor = liveSupervisor(dataDir);
  let found: Omit<RunningSlipway, "agentPid"> | undefined;
  if (supervisor?.kind === "up" && supervisor.url !== undefined) {
    found = { controlPlanePid: supervisor.pid, url: supervisor.url };
  } else {
    const client = readClientFile(dataDir);
    if (client !== undefined && (await answersForThisStore(client.server, client.token)))
      found = { controlPlanePid: undefined, url: client.server };
  }
  if (found === undefined) return undefined;
  return { ...found, agentPid: (await probeAgent(dataDir))?.agent.pid };
}

export function describeRunning(running: RunningSlipway): string {
  const plane =
    running.controlPlanePid === undefined
      ? `control plane at ${running.url}`
      : `control plane pid ${running.controlPlanePid} at ${running.url}`;
  const agent = running.agentPid === undefined ? "no agent answering" : `agent pid ${running.agentPid}`;
  return `Slipway is already running on this data dir (${plane}, ${agent}); \`slipway status\` shows it.`;
}
