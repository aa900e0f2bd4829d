/**
 * An instance's processes tracked as a whole, so that nothing it forked outlives it, whatever killed the
 * agent. Each spawn gets a scope:
 *
 * - **A cgroup** where the kernel lets us (root, cgroup v1 `pids` controller or a v2 hierarchy): the
 *   shell joins `<root>/<token>` before it runs the command, so every descendant is in it, including
 *   one that calls setsid() to leave the process group. Stopping kills every pid in `cgroup.procs`.
 * - **The fallback** (not root, no writable cgroup): the process group, plus a sweep of /proc for
 *   processes whose environment holds `SLIPWAY_SCOPE=<token>`. That token is random per spawn, so a
 *   match is proof the process is ours (a reused pid cannot carry it), and it catches a setsid'd
 *   descendant too, unless it cleared its environment (`env -i`): only the cgroup catches that one.
 *
 * The scope (token and cgroup path) is written to the pid file, so the next agent can clean up after
 * an instance whose leader died while no agent was watching, without trusting a recycled pgid.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { groupMembers, isProcessRunning, signalGroup } from "./process-group.js";

/** The variable that marks every process of one spawn (see above). */
export const SCOPE_VARIABLE = "SLIPWAY_SCOPE";
const POLL_MS = 25;
/** The fallback's sweep reads every process's environ: poll it less often. */
const SWEEP_POLL_MS = 100;
const AFTER_KILL_MS = 10_000;

export interface InstanceScope {
  /** Random per spawn; also in the processes' environment as SLIPWAY_SCOPE. */
  token: string;
  /** The cgroup directory, or undefined in the fallback. */
  cgroup: string | undefined;
}

/** Where scopes are made: the cgroup root found at start, or none (fallback). */
export interface ScopeTracker {
  readonly kind: "cgroup" | "process-group";
  create(): Promise<InstanceScope>;
}

/**
 * Candidate cgroup mounts: v1 `pids` first (where v1 and hybrid systems mount it), then a unified v2
 * hierarchy. A mount is a hierarchy when it has `cgroup.procs` (the v1 tmpfs at /sys/fs/cgroup has not).
 */
const CGROUP_MOUNTS = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"];

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A writable cgroup root for Slipway's scopes, or undefined (then the fallback is used). */
export async function findCgroupRoot(name = "slipway"): Promise<string | undefined> {
  for (const mount of CGROUP_MOUNTS) {
    const root = join(mount, name);
    if (!(await exists(join(mount, "cgroup.procs")))) continue;
    try {
      await mkdir(root, { recursive: true });
      const probe = join(root, `probe-${randomUUID()}`);
      await mkdir(probe);
      await rmdir(probe);
      return root;
    } catch {
      // Not root, or a read-only hierarchy (a container): try the next, then fall back.
    }
  }
  return undefined;
}

/**
 * @example
 *   const tracker = await createScopeTracker({ mode: "auto" });
 *   const scope = await tracker.create(); // joined at spawn through scopedShell(scope, command)
 *   await terminateScope(scope, pid, 10_000);
 */
export async function createScopeTracker(options: {
  mode: "auto" | "process-group";
  cgroupName?: string;
}): Promise<ScopeTracker> {
  const root = options.mode === "auto" ? await findCgroupRoot(options.cgroupName) : undefined;
  return {
    kind: root === undefined ? "process-group" : "cgroup",
    async create() {
      const token = randomUUID();
      if (root === undefined) return { token, cgroup: undefined };
      const cgroup = join(root, token);
      try {
        await mkdir(cgroup);
        return { token, cgroup };
      } catch {
        return { token, cgroup: undefined };
      }
    },
  };
}

/**
 * The argv for `/bin/sh`: in a cgroup scope, a shell that moves itself into the cgroup and then execs
 * the command's shell (same pid), so nothing the command forks can start outside it. If joining fails
 * the command still runs, tracked by the fallback.
 */
export function scopedShellArgs(scope: InstanceScope, command: string): string[] {
  if (scope.cgroup === undefined) return ["-c", command];
  const join = 'echo $$ > "$0/cgroup.procs" 2>/dev/null; exec /bin/sh -c "$1"';
  return ["-c", join, scope.cgroup, command];
}

async function cgroupProcs(cgroup: string): Promise<number[]> {
  try {
    const text = await readFile(join(cgroup, "cgroup.procs"), "utf8");
    return text.split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Processes whose environment carries the scope's token (zombies have an empty environ). */
async function tokenHolders(token: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const needle = `${SCOPE_VARIABLE}=${token}`;
  const found = await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
      .map(async (name) => {
        try {
          const environ = await readFile(`/proc/${name}/environ`, "latin1");
          return environ.split("\0").includes(needle) ? Number(name) : undefined;
        } catch {
          return undefined;
        }
      }),
  );
  return found.filter((pid): pid is number => pid !== undefined);
}

/**
 * Live members of the scope. `pgid` adds the process group: pass it only when the leader was checked
 * to be ours (same start time), since a dead leader's pgid may since belong to someone else.
 */
export async function scopeMembers(scope: InstanceScope, pgid: number | undefined): Promise<number[]> {
  const members = new Set<number>();
  if (pgid !== undefined) for (const pid of (await groupMembers(pgid)) ?? []) members.add(pid);
  const others =
    scope.cgroup !== undefined
      ? await cgroupProcs(scope.cgroup)
      : scope.token === ""
        ? []
        : await tokenHolders(scope.token);
  for (const pid of others) {
    if (await isProcessRunning(pid, undefined)) members.add(pid);
  }
  return [...members];
}

async function signalScope(scope: InstanceScope, pgid: number | undefined, signal: NodeJS.Signals) {
  if (pgid !== undefined) signalGroup(pgid, signal);
  for (const pid of await scopeMembers(scope, undefined)) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}

async function waitForEmpty(scope: InstanceScope, pgid: number | undefined, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await scopeMembers(scope, pgid)).length === 0) return true;
    if (performance.now() >= deadline) return false;
    await sleep(scope.cgroup === undefined && scope.token !== "" ? SWEEP_POLL_MS : POLL_MS);
  }
}

/**
 * SIGTERM (and SIGCONT) to every member, up to `timeoutMs`, then SIGKILL to every member until none is
 * left. "exited" if SIGTERM was enough, "killed" if SIGKILL was needed.
 */
export async function terminateScope(
  scope: InstanceScope,
  pgid: number | undefined,
  timeoutMs: number,
): Promise<"exited" | "killed"> {
  if ((await scopeMembers(scope, pgid)).length === 0) return "exited";
  await signalScope(scope, pgid, "SIGTERM");
  await signalScope(scope, pgid, "SIGCONT");
  if (await waitForEmpty(scope, pgid, timeoutMs)) return "exited";
  const deadline = performance.now() + AFTER_KILL_MS;
  // Repeated: a member may fork between our read of the list and the kill.
  while (performance.now() < deadline) {
    await signalScope(scope, pgid, "SIGKILL");
    if (await waitForEmpty(scope, pgid, 200)) return "killed";
  }
  throw new Error(`scope ${scope.token} survived SIGKILL for ${AFTER_KILL_MS}ms`);
}

/** Removes the cgroup directory once it is empty; nothing to do in the fallback. */
export async function removeScope(scope: InstanceScope): Promise<void> {
  if (scope.cgroup === undefined) return;
  await rmdir(scope.cgroup).catch(() => undefined);
}
