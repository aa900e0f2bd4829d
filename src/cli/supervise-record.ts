/**
 * `<dataDir>/agent/supervisor.json`: who restarts this data directory's agent when it exits. Written by
 * `slipway up` (kind `up`: its own pid and the control plane's URL) and by `slipway agent` run in the
 * foreground (kind `foreground`: systemd or a terminal decides). Two readers need it:
 *
 * - `slipway agent restart` must not start an agent itself when a supervisor will (two agents started
 *   at once would fight over the socket);
 * - a second `slipway up` must find the first one and leave it alone.
 *
 * A record is believed only while its pid is alive and is that slipway verb (/proc cmdline, so a pid
 * reused by another program after a `kill -9` is not taken for a supervisor).
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "./agent-process.js";

export interface SupervisorRecord {
  kind: "up" | "foreground";
  pid: number;
  /** `up` only: the control plane it runs. */
  url?: string | undefined;
}

export function supervisorRecordPath(dataDir: string): string {
  return join(dataDir, "agent", "supervisor.json");
}

function parse(text: string): SupervisorRecord | undefined {
  const value = JSON.parse(text) as Partial<SupervisorRecord> | null;
  if (value === null || typeof value !== "object") return undefined;
  if (value.kind !== "up" && value.kind !== "foreground") return undefined;
  if (typeof value.pid !== "number" || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
  return { kind: value.kind, pid: value.pid, url: typeof value.url === "string" ? value.url : undefined };
}

/** The record as written, whether or not its writer still runs; undefined when absent or unreadable. */
export function readSupervisorRecord(dataDir: string): SupervisorRecord | undefined {
  try {
    return parse(readFileSync(supervisorRecordPath(dataDir), "utf8"));
  } catch {
    return undefined;
  }
}

/** Written atomically (temp file, rename), owner-only. */
export function writeSupervisorRecord(dataDir: string, record: SupervisorRecord): void {
  const path = supervisorRecordPath(dataDir);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

/** Removes the record only if it is still `pid`'s (a newer supervisor's record stays). */
export function removeSupervisorRecord(dataDir: string, pid: number): void {
  if (readSupervisorRecord(dataDir)?.pid !== pid) return;
  rmSync(supervisorRecordPath(dataDir), { force: true });
}

/**
 * Whether `pid` runs the slipway verb `verb` (the word is in its command line after the program: the
 * CLI runs as `node …/main.js up` or through a `slipway` link). Where /proc cannot be read (not
 * Linux), a live pid is believed.
 */
export function runsSlipwayVerb(pid: number, verb: string): boolean {
  if (!isAlive(pid)) return false;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ENOENT" || !readable("/proc/self/cmdline");
  }
  return args.slice(1).includes(verb);
}

function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The record if its writer is alive and is what the record says it is, else undefined. */
export function liveSupervisor(dataDir: string): SupervisorRecord | undefined {
  const record = readSupervisorRecord(dataDir);
  if (record === undefined) return undefined;
  return runsSlipwayVerb(record.pid, record.kind === "up" ? "up" : "agent") ? record : undefined;
}
