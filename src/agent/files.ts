/**
 * The agent's files under `<dataDir>/agent/`: the bearer token, the state snapshot and the socket.
 * All of them are private to the user running the agent (directory 0700, files 0600): whoever can
 * talk to the socket can run commands as that user.
 */
import { chmod, mkdir, readFile, rm, stat } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { loadOrCreateSecret, SlipwayError } from "../util/index.js";
import type { AgentSnapshot } from "./types.js";

export interface AgentPaths {
  dir: string;
  socket: string;
  token: string;
  state: string;
  /** The supervisor's logs and pid files. */
  instances: string;
}

export function agentPaths(dataDir: string): AgentPaths {
  const dir = join(dataDir, "agent");
  return {
    dir,
    socket: join(dir, "agent.sock"),
    token: join(dir, "agent.token"),
    state: join(dir, "state.json"),
    instances: join(dir, "instances"),
  };
}

export async function ensureAgentDir(paths: AgentPaths): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await chmod(paths.dir, 0o700);
}

/** Reads the token, or creates it on first start. */
export function loadOrCreateToken(path: string): Promise<string> {
  return loadOrCreateSecret(path, "slw_agent_");
}

export { writeFileAtomic } from "../util/index.js";

export const EMPTY_SNAPSHOT: AgentSnapshot = { version: 1, environments: {}, instances: [] };

export async function readSnapshot(path: string): Promise<AgentSnapshot> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_SNAPSHOT;
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<AgentSnapshot>;
  if (parsed.version !== 1 || typeof parsed.environments !== "object" || !Array.isArray(parsed.instances)) {
    // Refuse rather than start empty: starting empty would tear down what the file describes.
    throw new SlipwayError("invalid_request", `${path} is not an agent snapshot (version 1)`, {
      hint: "move it away to start the agent with no environments and no instances",
    });
  }
  return parsed as AgentSnapshot;
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      resolve(false);
    });
  });
}

/** A socket file left by an agent that died is removed; one that answers means another agent runs. */
export async function claimSocket(socketPath: string): Promise<void> {
  const exists = await stat(socketPath).then(
    () => true,
    () => false,
  );
  if (!exists) return;
  if (await answers(socketPath)) {
    throw new SlipwayError("already_running", `another agent is running (it answers on ${socketPath})`, {
      hint: "stop it first, or give this one another --data-dir",
    });
  }
  await rm(socketPath, { force: true });
}
