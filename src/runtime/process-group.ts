/**
 * Process groups: every instance is the leader of its own group (spawned detached, i.e. setsid), so one
 * `kill(-pgid)` reaches the shell, the app and anything they forked.
 *
 * Traps:
 * - A zombie still answers `kill(-pgid, 0)`. Orphaned grandchildren are reparented to PID 1, and a PID 1
 *   that does not reap (some containers, this CI sandbox) leaves them as zombies forever. They hold no
 *   port, memory or file; "gone" here means no member that is not a zombie (read from /proc on Linux).
 * - A process that calls setsid() itself leaves the group and escapes this; only cgroups would catch it.
 * - A stopped (SIGSTOP) process does not act on SIGTERM until continued, so SIGCONT follows SIGTERM.
 */
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { readProcStat, type ProcStat } from "../util/index.js";

const POLL_MS = 25;
/** After SIGKILL a process can still take a moment (uninterruptible I/O); past this, report and move on. */
const AFTER_KILL_MS = 10_000;

/** Sends `signal` to every process in the group; false when no process is left to receive it. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    // EPERM: members exist but are not ours to signal; treat as present rather than gone.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Live (non-zombie) members of a group; undefined where /proc is not available. */
export async function groupMembers(pgid: number): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return undefined;
  }
  const pids = entries.filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map(readProcStat));
  return stats
    .filter((s): s is ProcStat => s?.pgrp === pgid && s.state !== "Z" && s.state !== "X")
    .map((s) => s.pid);
}

/** Whether any process of the group is still alive (zombies do not count, see above). */
export async function isGroupAlive(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  const members = await groupMembers(pgid);
  return members === undefined || members.length > 0;
}

/** Polls until the group is gone; false if it is still alive after `timeoutMs`. */
export async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!(await isGroupAlive(pgid))) return true;
    if (performance.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * SIGTERM (and SIGCONT) to the group, up to `timeoutMs` for it to exit, then SIGKILL. Resolves once no
 * member is left: "exited" if SIGTERM was enough, "killed" if SIGKILL was needed.
 */
export async function terminateGroup(pgid: number, timeoutMs: number): Promise<"exited" | "killed"> {
  if (!signalGroup(pgid, "SIGTERM")) return "exited";
  signalGroup(pgid, "SIGCONT");
  if (await waitForGroupExit(pgid, timeoutMs)) return "exited";
  signalGroup(pgid, "SIGKILL");
  if (!(await waitForGroupExit(pgid, AFTER_KILL_MS))) {
    throw new Error(`process group ${pgid} survived SIGKILL for ${AFTER_KILL_MS}ms`);
  }
  return "killed";
}

/**
 * The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the boot id, it
 * tells a live instance from an unrelated process that reused its pid. Undefined off Linux.
 */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  const stat = await readProcStat(pid);
  return stat?.startTicks;
}

/**
 * Whether `pid` is still the process that started at `startTicks` and is not a zombie: what an adopted
 * leader is polled with (it is not our child, so there is no exit event). Off Linux (no /proc, no start
 * time) it falls back to "a process with that pid exists".
 */
export async function isProcessRunning(pid: number, startTicks: number | undefined): Promise<boolean> {
  const stat = await readProcStat(pid);
  if (stat === undefined) {
    if (startTicks !== undefined) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM";
    }
  }
  if (stat.state === "Z" || stat.state === "X") return false;
  return startTicks === undefined || stat.startTicks === startTicks;
}

/** Changes at every boot; a pid file from before a reboot is stale whatever its pid. */
export async function bootId(): Promise<string | undefined> {
  try {
    return (await readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim();
  } catch {
    return undefined;
  }
}
