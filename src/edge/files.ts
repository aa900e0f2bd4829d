/**
 * The edge's files, next to the agent's under `<dataDir>/agent/` (directory 0700): the control socket,
 * its bearer token (0600, created by the agent), the pid record and the edge's log. Also how to tell
 * the process a pid record names from a stranger that reused its pid.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadOrCreateSecret, readProcStat } from "../util/index.js";
import type { EdgePidRecord } from "./types.js";

export interface EdgePaths {
  dir: string;
  socket: string;
  token: string;
  pid: string;
  log: string;
}

export function edgePaths(dataDir: string): EdgePaths {
  const dir = join(dataDir, "agent");
  return {
    dir,
    socket: join(dir, "edge.sock"),
    token: join(dir, "edge.token"),
    pid: join(dir, "edge.pid"),
    log: join(dir, "logs", "edge.log"),
  };
}

/** Reads the token, or creates it (the agent does, before it spawns the first edge). */
export function loadOrCreateEdgeToken(path: string): Promise<string> {
  return loadOrCreateSecret(path, "slw_edge_");
}

export async function readPidRecord(path: string): Promise<EdgePidRecord | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined; // missing or torn: no edge to adopt
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const pid: unknown = Reflect.get(parsed, "pid");
  const startTicks: unknown = Reflect.get(parsed, "startTicks");
  const generation: unknown = Reflect.get(parsed, "generation");
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 1) return undefined;
  return {
    pid,
    startTicks: typeof startTicks === "number" ? startTicks : undefined,
    startedAt: String(Reflect.get(parsed, "startedAt")),
    generation: typeof generation === "number" ? generation : 0,
    version: String(Reflect.get(parsed, "version")),
  };
}

/**
 * The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), undefined when the
 * process does not exist or off Linux.
 */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  return (await readProcStat(pid))?.startTicks;
}

/** Whether the record names a live process that is the one that wrote it (not a reused pid). */
export async function isSameProcess(record: EdgePidRecord): Promise<boolean> {
  const ticks = await processStartTicks(record.pid);
  if (ticks === undefined) return false;
  return record.startTicks === undefined || record.startTicks === ticks;
}
